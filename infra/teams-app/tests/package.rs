//! The package Teams accepts: manifest.json (the app id everywhere it belongs) and both icons at
//! the root of the zip, at the sizes Teams requires.

use std::io::{Cursor, Read};
use std::process::Command;

use herald_teams_app::{AppOptions, COLOR_ICON, OUTLINE_ICON, PackageError, package};
use serde_json::Value;

const APP_ID: &str = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            (file.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (width, height)
}

fn check_package(zip: &[u8], app_id: &str) -> Value {
    let entries = entries(zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["manifest.json", "color.png", "outline.png"]);
    let manifest: Value = serde_json::from_slice(&entries[0].1).unwrap();
    assert_eq!(manifest["id"], app_id);
    assert_eq!(manifest["bots"][0]["botId"], app_id);
    assert_eq!(manifest["manifestVersion"], "1.17");
    assert_eq!(
        manifest["bots"][0]["scopes"],
        serde_json::json!(["personal", "team", "groupChat"])
    );
    let commands: Vec<&str> = manifest["bots"][0]["commandLists"][0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        ["help", "status", "stop", "start", "timezone", "reminders"]
    );
    // Read receipts in personal chats need this resource-specific consent (manifest 1.12+).
    assert_eq!(
        manifest["authorization"]["permissions"]["resourceSpecific"],
        serde_json::json!([{"name": "ChatMessageReadReceipt.Read.Chat", "type": "Application"}])
    );
    assert_eq!(manifest["webApplicationInfo"]["id"], app_id);
    assert_eq!(manifest["icons"]["color"], "color.png");
    assert_eq!(manifest["icons"]["outline"], "outline.png");
    assert!(!String::from_utf8_lossy(&entries[0].1).contains("{{"));
    assert_eq!(entries[1].1, COLOR_ICON);
    assert_eq!(entries[2].1, OUTLINE_ICON);
    assert_eq!(png_size(&entries[1].1), (192, 192));
    assert_eq!(png_size(&entries[2].1), (32, 32));
    manifest
}

#[test]
fn the_package_holds_the_manifest_for_the_app_id_and_both_icons() {
    let mut options = AppOptions::new(&APP_ID.to_uppercase()).unwrap();
    options.bot_name = "Contoso \"Alerts\"".to_owned();
    options.valid_domains.push("herald.contoso.com".to_owned());
    let manifest = check_package(&package(&options).unwrap(), APP_ID);
    assert_eq!(manifest["name"]["short"], "Contoso \"Alerts\"");
    assert_eq!(
        manifest["validDomains"],
        serde_json::json!(["token.botframework.com", "herald.contoso.com"])
    );
}

type Change = fn(&mut AppOptions);

#[test]
fn refuses_what_teams_would_reject() {
    assert!(matches!(
        AppOptions::new("not-a-guid"),
        Err(PackageError::Invalid { .. })
    ));
    let valid = AppOptions::new(APP_ID).unwrap();
    let cases: [(&str, Change); 4] = [
        ("long name", |o| o.bot_name = "x".repeat(31)),
        ("http website", |o| {
            o.website_url = "http://example.com".into();
        }),
        ("version", |o| o.version = "1.0".into()),
        ("domain with scheme", |o| {
            o.valid_domains.push("https://example.com/x".into());
        }),
    ];
    for (case, change) in cases {
        let mut options = valid.clone();
        change(&mut options);
        assert!(package(&options).is_err(), "{case} was accepted");
    }
}

#[test]
fn the_command_writes_a_ready_to_upload_zip() {
    let dir = std::env::temp_dir().join(format!("herald-teams-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("herald.zip");
    let status = Command::new(env!("CARGO_BIN_EXE_herald-teams-app"))
        .args(["--app-id", APP_ID, "--out"])
        .arg(&out)
        .args(["--version", "1.2.3"])
        .status()
        .unwrap();
    assert!(status.success());
    let manifest = check_package(&std::fs::read(&out).unwrap(), APP_ID);
    assert_eq!(manifest["version"], "1.2.3");

    let refused = Command::new(env!("CARGO_BIN_EXE_herald-teams-app"))
        .args(["--app-id", "nope", "--out"])
        .arg(dir.join("bad.zip"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(!dir.join("bad.zip").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
