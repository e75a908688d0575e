//! The console's files: each one served with the security headers, nothing inline that the
//! Content-Security-Policy would have to allow, every reference between them resolving, and the
//! vendored Adaptive Cards renderer exactly as its script fetched it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use herald_console::{ASSETS, Asset, CONTENT_SECURITY_POLICY, router};
use sha2::{Digest, Sha256};
use tower::ServiceExt as _;

/// Files under `assets/` that are not served: the vendoring script's record of what it copied.
const NOT_SERVED: [&str; 2] = ["vendor/SHA256SUMS", "vendor/VERSION"];

fn assets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, base, out);
        } else {
            out.insert(
                path.strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

async fn fetch(path: &str, if_none_match: Option<&str>) -> axum::response::Response {
    let mut request = Request::builder().uri(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let app: Router = router();
    app.oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn text(asset: &Asset) -> &'static str {
    std::str::from_utf8(asset.bytes).unwrap()
}

#[test]
fn every_file_is_served_and_every_served_file_exists() {
    let mut on_disk = BTreeSet::new();
    files_under(&assets_dir(), &assets_dir(), &mut on_disk);
    let served: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
    let expected: BTreeSet<String> = on_disk
        .iter()
        .filter(|p| !NOT_SERVED.contains(&p.as_str()))
        .cloned()
        .collect();
    assert_eq!(served, expected);
    for asset in ASSETS {
        assert_eq!(
            asset.bytes,
            std::fs::read(assets_dir().join(asset.path))
                .unwrap()
                .as_slice(),
            "{} differs from the compiled-in copy",
            asset.path
        );
    }
}

#[test]
fn the_vendored_renderer_is_what_the_script_fetched() {
    let vendor = assets_dir().join("vendor");
    let sums = std::fs::read_to_string(vendor.join("SHA256SUMS")).unwrap();
    let mut checked = 0;
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        let digest = Sha256::digest(std::fs::read(vendor.join(name)).unwrap());
        let hex = digest.iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        assert_eq!(hex, sum, "vendor/{name} was changed after vendoring");
        checked += 1;
    }
    assert_eq!(checked, 5);
    // The licence travels with the code.
    assert!(
        std::fs::read_to_string(vendor.join("LICENSE.adaptivecards"))
            .unwrap()
            .contains("MIT License")
    );
}

#[test]
fn nothing_inline_needs_the_policy_relaxed() {
    let index = text(Asset::find("index.html").unwrap());
    for script in index.split("<script").skip(1) {
        let (open, rest) = script.split_once('>').unwrap();
        assert!(open.contains("src=\"/console/"), "inline script: {open}");
        assert!(rest.starts_with("</script>"), "a script with a body");
    }
    for asset in ASSETS
        .iter()
        .filter(|a| a.content_type.starts_with("text/html"))
    {
        let html = text(asset);
        assert!(
            !html.contains("style="),
            "{}: a style attribute",
            asset.path
        );
        assert!(!html.contains("<style"), "{}: a style element", asset.path);
        assert!(
            !has_handler_attribute(html),
            "{}: an inline event handler",
            asset.path
        );
    }
    // The console's own modules build the page through the DOM, never from markup strings.
    for asset in ASSETS
        .iter()
        .filter(|a| a.is_script() && !a.path.starts_with("vendor/"))
    {
        let js = text(asset);
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute(\"style\"",
            "localStorage.setItem(\"herald.apiKey",
        ] {
            assert!(!js.contains(banned), "{} uses {banned}", asset.path);
        }
    }
}

fn has_handler_attribute(html: &str) -> bool {
    html.split('<').any(|tag| {
        tag.split_whitespace()
            .skip(1)
            .any(|attribute| attribute.starts_with("on") && attribute.contains('='))
    })
}

#[test]
fn every_reference_between_files_resolves() {
    let index = text(Asset::find("index.html").unwrap());
    let mut referenced = 0;
    for part in index.split(['"', '\'']) {
        if let Some(path) = part.strip_prefix("/console/") {
            assert!(Asset::find(path).is_some(), "index.html names {part}");
            referenced += 1;
        }
    }
    assert!(referenced >= 5);
    for asset in ASSETS
        .iter()
        .filter(|a| a.is_script() && !a.path.starts_with("vendor/"))
    {
        for line in text(asset).lines() {
            let Some(from) = line.split(" from \"./").nth(1) else {
                continue;
            };
            let module = from.split('"').next().unwrap();
            assert!(
                Asset::find(module).is_some(),
                "{} imports ./{module}, which is not served",
                asset.path
            );
        }
    }
}

#[tokio::test]
async fn the_page_and_its_assets_carry_the_security_headers() {
    for (path, asset) in [("/", "index.html"), ("/console/index.html", "index.html")]
        .into_iter()
        .chain(ASSETS.iter().map(|a| ("", a.path)))
    {
        let path = if path.is_empty() {
            format!("/console/{asset}")
        } else {
            path.to_owned()
        };
        let response = fetch(&path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            Asset::find(asset).unwrap().content_type
        );
        let tag = headers[header::ETAG].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], Asset::find(asset).unwrap().bytes);
        // A browser that has it gets a 304 without the bytes.
        let again = fetch(&path, Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(
            again.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }
    for missing in [
        "/console/nope.js",
        "/console/../Cargo.toml",
        "/console/vendor/VERSION",
    ] {
        let response = fetch(missing, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }
    // The policy allows nothing inline and no other origin for code.
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive));
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}
