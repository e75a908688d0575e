//! `herald-lambda-bed`: Herald's four functions in the Lambda test bed, as `template.yaml`
//! deploys them, against DynamoDB Local (tables created) — the deployed shape on one machine.
//! Run it as `.ci/with-services cargo run -p herald-lambda-bed`; it prints the HTTP API's base URL
//! and runs until Ctrl-C.
//!
//! The environment fills the template's parameters and the secret: `MicrosoftAppId`
//! (`BotAppId`) and `MicrosoftAppPassword` (both required, as the functions require them),
//! `MicrosoftAppTenantId`, `MicrosoftAppType`,
//! `HERALD_API_KEY` (made up and printed when unset) and any other `HERALD_*` variable
//! (`HERALD_TOKEN_URL`, `HERALD_TRUSTED_SERVICE_HOSTS`, `HERALD_OPENID_METADATA_URL` to point the
//! functions at the Teams emulator). `HERALD_BED_ADDR` sets the HTTP API's address (default
//! 127.0.0.1:3979), `HERALD_TEST_DYNAMODB_ENDPOINT` DynamoDB Local's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use herald_domain::BotAppId;
use herald_lambda_bed::{BedConfig, BedError, HeraldTables, LambdaBed, create_herald_tables};

/// What to do when the bot's settings are missing: the functions refuse to start without them,
/// as they do in Lambda.
const NEEDS_BOT: &str = "MicrosoftAppId and MicrosoftAppPassword (and MicrosoftAppTenantId for a \
SingleTenant bot) are required, as in Lambda; for a local run, start the Teams emulator \
(`cargo run -p herald-teams-emulator`) and export the settings it prints";
const DEFAULT_ADDR: &str = "127.0.0.1:3979";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), BedError> {
    let (Some(app_id), Some(_)) = (env("MicrosoftAppId"), env("MicrosoftAppPassword")) else {
        return Err(BedError::Config(NEEDS_BOT.to_owned()));
    };
    let app =
        BotAppId::new(&app_id).map_err(|e| BedError::Config(format!("MicrosoftAppId: {e}")))?;
    let tables = HeraldTables::unique("herald-bed");
    let endpoint = herald_testkit::dynamodb_endpoint();
    create_herald_tables(&endpoint, &tables, &app).await?;
    let mut refs = BTreeMap::from([
        ("BotAppId".to_owned(), app_id),
        ("HeraldBus".to_owned(), "herald-bed".to_owned()),
    ]);
    for (parameter, variable) in [
        ("BotTenantId", "MicrosoftAppTenantId"),
        ("BotAppType", "MicrosoftAppType"),
    ] {
        if let Some(value) = env(variable) {
            refs.insert(parameter.to_owned(), value);
        }
    }
    tables.add_refs(&mut refs);
    let mut secrets: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, v)| {
            k.starts_with("HERALD_") && !k.starts_with("HERALD_TEST_") && !v.is_empty()
        })
        .collect();
    if let Some(password) = env("MicrosoftAppPassword") {
        secrets.insert("MicrosoftAppPassword".to_owned(), password);
    }
    let generated = (!secrets.contains_key("HERALD_API_KEY")
        && !secrets.contains_key("HERALD_API_KEY_SHA256"))
    .then(|| format!("herald-bed-{}", uuid::Uuid::new_v4().simple()));
    if let Some(key) = &generated {
        secrets.insert("HERALD_API_KEY".to_owned(), key.clone());
    }
    let mut config = BedConfig::new(refs);
    config.secrets = secrets;
    config.dynamodb_endpoint = endpoint;
    config.schedule_ticks = true;
    config.http_addr = env("HERALD_BED_ADDR")
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse::<SocketAddr>()
        .map_err(|e| BedError::Config(format!("HERALD_BED_ADDR: {e}")))?;
    let bed = LambdaBed::start(config).await?;
    println!("herald-lambda-bed: HTTP API at {}", bed.http_url());
    println!(
        "  POST {}/api/messages   (Teams activities)",
        bed.http_url()
    );
    println!("  POST {}/api/notify     (notify API)", bed.http_url());
    if let Some(key) = generated {
        println!("  API key (generated): {key}");
    }
    println!(
        "  tables: {}, {}, {}, {}",
        tables.references, tables.outbox, tables.schedules, tables.pacing
    );
    println!("  EventBridge endpoint: {}", bed.eventbridge_url());
    println!("  function output: {}", bed.work_dir().display());
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-lambda-bed: {e}");
            ExitCode::FAILURE
        }
    }
}
