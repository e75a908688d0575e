//! Herald Console: compose, target, schedule and follow notifications in a browser.
//!
//! The console is a set of static files (plain ES modules, a stylesheet, and Microsoft's Adaptive
//! Cards renderer vendored under `assets/vendor`) compiled into the binary and served by
//! [`router`]: `GET /` is the page, `GET /console/{file}` its assets. It holds no data and no
//! secret; every action is a call to the public notify API with the key the user typed, kept in
//! the tab's session storage. The notify function and the local runner both mount it, so one
//! binary still runs everything.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from this origin
//! only, nothing inline, no framing), so injected markup cannot run; the API accepts only JSON with
//! an `Authorization` header, which a cross-site form cannot send, so CSRF is impossible by
//! construction.

mod assets;
mod serve;

pub use assets::{ASSETS, Asset};
pub use serve::{CONTENT_SECURITY_POLICY, router};
