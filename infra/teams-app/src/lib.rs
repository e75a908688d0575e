//! Herald's Microsoft Teams app package: `manifest.json` rendered from
//! `manifest.template.json` for one bot registration, and the two icons, zipped as Teams'
//! "Upload a custom app" and the Teams admin center expect (files at the root of the zip).

use std::io::{Cursor, Write};

use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;
use zip::write::SimpleFileOptions;

/// The manifest with `{{APP_ID}}`-style placeholders.
pub const MANIFEST_TEMPLATE: &str = include_str!("../manifest.template.json");
/// 192x192 colour icon (drawn by `icons/make_icons.py`).
pub const COLOR_ICON: &[u8] = include_bytes!("../icons/color.png");
/// 32x32 white-on-transparent outline icon.
pub const OUTLINE_ICON: &[u8] = include_bytes!("../icons/outline.png");

#[derive(Debug, Error)]
pub enum PackageError {
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("the manifest template is broken: {0}")]
    Template(String),
    #[error("cannot write the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot write the zip: {0}")]
    Io(#[from] std::io::Error),
}

/// What varies between deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOptions {
    /// The Azure Bot's Microsoft App ID; also the Teams app id.
    pub app_id: Uuid,
    /// Short name shown in Teams (at most 30 characters).
    pub bot_name: String,
    pub developer_name: String,
    /// https URL used for the developer's website, privacy and terms links.
    pub website_url: String,
    /// The package version, `major.minor.patch`; raise it for every upload of a changed package.
    pub version: String,
    /// Extra domains for `validDomains` (host names, no scheme).
    pub valid_domains: Vec<String>,
}

impl AppOptions {
    /// Defaults for everything but the app id, which must be a GUID.
    pub fn new(app_id: &str) -> Result<Self, PackageError> {
        let app_id = Uuid::try_parse(app_id.trim()).map_err(|e| PackageError::Invalid {
            name: "app id",
            problem: format!("{app_id:?} is not a GUID: {e}"),
        })?;
        Ok(Self {
            app_id,
            bot_name: "Herald".to_owned(),
            developer_name: "Herald".to_owned(),
            website_url: "https://github.com/herald-teams/herald".to_owned(),
            version: "1.0.0".to_owned(),
            valid_domains: Vec::new(),
        })
    }

    fn validate(&self) -> Result<(), PackageError> {
        let invalid = |name, problem: String| Err(PackageError::Invalid { name, problem });
        let name_length = self.bot_name.chars().count();
        if self.bot_name.trim().is_empty() || name_length > 30 {
            return invalid(
                "name",
                format!("{:?} must have 1 to 30 characters", self.bot_name),
            );
        }
        if self.developer_name.trim().is_empty() || self.developer_name.chars().count() > 32 {
            return invalid(
                "developer",
                format!("{:?} must have 1 to 32 characters", self.developer_name),
            );
        }
        if !self.website_url.starts_with("https://") || self.website_url.len() <= "https://".len() {
            return invalid(
                "website",
                format!("{:?} is not an https URL", self.website_url),
            );
        }
        let parts: Vec<&str> = self.version.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid(
                "version",
                format!("{:?} is not major.minor.patch", self.version),
            );
        }
        for domain in &self.valid_domains {
            let ok = !domain.is_empty()
                && domain.len() <= 2048
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'));
            if !ok {
                return invalid(
                    "valid domain",
                    format!("{domain:?} is not a host name (no scheme, no path)"),
                );
            }
        }
        Ok(())
    }
}

/// Renders `manifest.json`.
pub fn manifest(options: &AppOptions) -> Result<Value, PackageError> {
    options.validate()?;
    // Each value is inserted JSON-escaped, so a quote in a name cannot break the document.
    let escaped = |s: &str| {
        let quoted = Value::String(s.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    let text = MANIFEST_TEMPLATE
        .replace("{{APP_ID}}", &options.app_id.hyphenated().to_string())
        .replace("{{BOT_NAME}}", &escaped(&options.bot_name))
        .replace("{{DEVELOPER_NAME}}", &escaped(&options.developer_name))
        .replace("{{WEBSITE_URL}}", &escaped(&options.website_url))
        .replace("{{VERSION}}", &options.version);
    if let Some(at) = text.find("{{") {
        let end = text[at..].find("}}").map_or(text.len(), |e| at + e + 2);
        return Err(PackageError::Template(format!(
            "unknown placeholder {}",
            &text[at..end]
        )));
    }
    let mut manifest: Value =
        serde_json::from_str(&text).map_err(|e| PackageError::Template(e.to_string()))?;
    let domains = manifest
        .get_mut("validDomains")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| PackageError::Template("validDomains is not a list".to_owned()))?;
    for domain in &options.valid_domains {
        let domain = Value::String(domain.clone());
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(manifest)
}

/// The zip to upload: `manifest.json`, `color.png`, `outline.png`.
pub fn package(options: &AppOptions) -> Result<Vec<u8>, PackageError> {
    let manifest = serde_json::to_vec_pretty(&manifest(options)?)
        .map_err(|e| PackageError::Template(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let file_options =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [
        ("manifest.json", manifest.as_slice()),
        ("color.png", COLOR_ICON),
        ("outline.png", OUTLINE_ICON),
    ] {
        zip.start_file(name, file_options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}
