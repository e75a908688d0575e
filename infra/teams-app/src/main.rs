//! `herald-teams-app --app-id <GUID> --out herald.zip [--name Herald] [--developer NAME]
//! [--website https://...] [--version 1.0.0] [--valid-domain HOST]...`
//!
//! Writes the Teams app package for the bot registration `--app-id`.

use std::process::ExitCode;

use herald_teams_app::{AppOptions, package};

const USAGE: &str = "usage: herald-teams-app --app-id <GUID> --out <FILE.zip> [--name NAME] \
[--developer NAME] [--website https://URL] [--version X.Y.Z] [--valid-domain HOST]...";

fn run(args: &[String]) -> Result<String, String> {
    let mut app_id = None;
    let mut out = None;
    let mut settings: Vec<(&str, &str)> = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--app-id" => app_id = Some(value.as_str()),
            "--out" => out = Some(value.as_str()),
            "--name" | "--developer" | "--website" | "--version" | "--valid-domain" => {
                settings.push((flag.as_str(), value.as_str()));
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    let app_id = app_id.ok_or_else(|| format!("--app-id is required\n{USAGE}"))?;
    let out = out.ok_or_else(|| format!("--out is required\n{USAGE}"))?;
    let mut options = AppOptions::new(app_id).map_err(|e| e.to_string())?;
    for (flag, value) in settings {
        match flag {
            "--name" => value.clone_into(&mut options.bot_name),
            "--developer" => value.clone_into(&mut options.developer_name),
            "--website" => value.clone_into(&mut options.website_url),
            "--version" => value.clone_into(&mut options.version),
            _ => options.valid_domains.push(value.to_owned()),
        }
    }
    let zip = package(&options).map_err(|e| e.to_string())?;
    std::fs::write(out, zip).map_err(|e| format!("cannot write {out}: {e}"))?;
    Ok(format!(
        "wrote {out} for bot {}: upload it in Teams (Apps > Manage your apps > Upload an app)",
        options.app_id
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
