//! A real browser for the console tests: Debian's Chromium driven headless through its
//! WebDriver (chromedriver, <https://chromedriver.chromium.org/capabilities>), with a fresh
//! profile and download folder per run, and screenshots of each page written under `target/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where the console tests leave their screenshots (`target/tmp/console-screenshots`).
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

fn chromium() -> &'static str {
    // Debian's /usr/bin/chromium is a launcher script; the binary itself starts faster.
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Chromium is not installed: run .ci/install (Debian packages chromium and chromium-driver)")
}

fn chromedriver() -> &'static str {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromedriver is not installed: run .ci/install (Debian package chromium-driver)")
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub downloads: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session, 1366x900 (a
    /// laptop screen).
    pub async fn start() -> Self {
        let port = crate::support::free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1366,900", "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no WebDriver session: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        // Chromium headless downloads only where it is told to.
        client
            .issue_cmd(DownloadBehavior(downloads.path().to_path_buf()))
            .await
            .expect("downloads allowed");
        Self {
            client,
            driver,
            _profile: profile,
            downloads,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The element `css` names, once it is there and shown.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not appear; the page says:\n{}",
                self.text("main").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of `css` satisfies `check`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.text(css).await;
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {what}; it says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    /// Replaces the value of the field `css` with `text`, as typed.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Presses `key` wherever the focus is.
    pub async fn press(&self, key: Key) {
        let key: char = key.into();
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&key.to_string())
            .await
            .unwrap();
    }

    /// Presses `keys` together (a modifier stays down until the last is pressed).
    pub async fn chord(&self, keys: &[Key]) {
        let text: String = keys.iter().map(|k| char::from(*k)).collect();
        self.type_here(&text).await;
    }

    /// Types into whatever has the focus.
    pub async fn type_here(&self, text: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// What `audit.js` finds wrong on the page as it is, in the current theme and in the
    /// other: unlabelled controls and text below WCAG AA contrast.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for _ in 0..2 {
            let found = self.eval(include_str!("audit.js")).await;
            problems.extend(
                found
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_owned)),
            );
            self.eval("document.getElementById('theme-toggle').click(); return null")
                .await;
        }
        problems
    }

    /// The id of the focused element.
    pub async fn focused(&self) -> String {
        self.eval("return document.activeElement ? document.activeElement.id : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Presses Tab until the element with `id` has the focus.
    pub async fn tab_to(&self, id: &str) {
        for _ in 0..80 {
            if self.focused().await == id {
                return;
            }
            self.press(Key::Tab).await;
        }
        panic!("Tab never reached #{id}");
    }

    /// Saves a PNG of the window as `name.png` under [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The files downloaded so far (Chromium's partial `.crdownload` files excluded).
    pub fn downloaded(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.downloads.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e != "crdownload"))
            .collect()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Chromium's `Browser.setDownloadBehavior` through chromedriver's CDP passthrough
/// (`POST /session/{id}/goog/cdp/execute`), so a headless download lands in our folder.
#[derive(Debug)]
struct DownloadBehavior(PathBuf);

impl fantoccini::wd::WebDriverCompatibleCommand for DownloadBehavior {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({
            "cmd": "Browser.setDownloadBehavior",
            "params": {"behavior": "allow", "downloadPath": self.0},
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}
