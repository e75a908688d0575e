//! The console's files, compiled in: one list, so a file is either served or does not exist.

/// One static file the console serves under `/console/`.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The path under `assets/` and under `/console/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $content_type:literal),* $(,)?) => {
        /// Every file of the console (`index.html` is also served at `/`).
        pub const ASSETS: &[Asset] = &[
            $(Asset {
                path: $path,
                content_type: $content_type,
                bytes: include_bytes!(concat!("../assets/", $path)),
            }),*
        ];
    };
}

const JS: &str = "text/javascript; charset=utf-8";

assets! {
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "chart.js" => "text/javascript; charset=utf-8",
    "card_preview.js" => "text/javascript; charset=utf-8",
    "samples.js" => "text/javascript; charset=utf-8",
    "json_editor.js" => "text/javascript; charset=utf-8",
    "compose.js" => "text/javascript; charset=utf-8",
    "audience.js" => "text/javascript; charset=utf-8",
    "recurrence.js" => "text/javascript; charset=utf-8",
    "notifications.js" => "text/javascript; charset=utf-8",
    "detail.js" => "text/javascript; charset=utf-8",
    "installations.js" => "text/javascript; charset=utf-8",
    "schedules.js" => "text/javascript; charset=utf-8",
    "vendor/adaptivecards.min.js" => "text/javascript; charset=utf-8",
    "vendor/adaptivecards.css" => "text/css; charset=utf-8",
    "vendor/adaptivecards.min.js.LICENSE.txt" => "text/plain; charset=utf-8",
    "vendor/LICENSE.adaptivecards" => "text/plain; charset=utf-8",
}

impl Asset {
    /// The asset at `path` under `/console/`.
    #[must_use]
    pub fn find(path: &str) -> Option<&'static Asset> {
        ASSETS.iter().find(|a| a.path == path)
    }

    /// Whether the browser runs it: such files must come from this list alone.
    #[must_use]
    pub fn is_script(&self) -> bool {
        self.content_type == JS
    }
}
