//! Runs the Teams emulator for manual testing: seeds one tenant (a user with a 1:1 chat, a team
//! with a channel), prints the connector settings that point Herald at it, serves until Ctrl-C.
//!
//! `TEAMS_EMULATOR_PORT` (default: any free port), `TEAMS_EMULATOR_LIMITS` = `off` (default),
//! `teams` (Teams' published limits, 50/s per tenant) or `strict` (the same, counted at arrival
//! without tolerance, the tenant rate as a sliding window of one second).

use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};

const TENANT: &str = "00000000-0000-0000-0000-0000000000e1";
/// Herald's app in the emulated organisation's catalog.
const TEAMS_APP_ID: &str = "00000000-0000-0000-0000-00000000a990";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::var("TEAMS_EMULATOR_PORT") {
        Ok(value) => value
            .trim()
            .parse::<u16>()
            .map_err(|e| format!("TEAMS_EMULATOR_PORT={value:?}: {e}"))?,
        Err(_) => 0,
    };
    let limits = match std::env::var("TEAMS_EMULATOR_LIMITS")
        .as_deref()
        .map(str::trim)
    {
        Err(_) | Ok("off") => EmulatorLimits::off(),
        Ok("teams") => EmulatorLimits::teams(),
        Ok("strict") => EmulatorLimits::teams().strict(),
        Ok(other) => {
            return Err(
                format!("TEAMS_EMULATOR_LIMITS={other:?}: expected off, teams or strict").into(),
            );
        }
    };
    let config = EmulatorConfig {
        port,
        limits,
        ..EmulatorConfig::default()
    };
    let emulator = TeamsEmulator::start(config).await?;
    let user = emulator.add_user(TENANT, "Megan Bowen");
    emulator.add_catalog_app(TEAMS_APP_ID);
    let chat = emulator.add_personal_chat(TENANT, &user.id);
    let team = emulator.add_team(TENANT, "Contoso", &[&user.id]);
    let channel = emulator
        .add_channel(&team.id, "Announcements")
        .ok_or("the team just added is missing")?;
    let app = emulator.config();
    println!("Teams emulator on {}", emulator.login_host());
    println!("  serviceUrl         {}", emulator.service_url());
    println!("  OpenID metadata    {}", emulator.openid_metadata_url());
    println!("  tenant             {TENANT}");
    println!("  user               {} ({})", user.id, user.aad_object_id);
    println!("  1:1 chat           {chat}");
    println!("  team / General     {}", team.id);
    println!("  channel            {channel}");
    println!("Connector settings:");
    println!("  MicrosoftAppId={}", app.app_id);
    println!("  MicrosoftAppPassword={}", app.app_password);
    println!("  MicrosoftAppTenantId={}", app.app_tenant_id);
    println!("  HERALD_TOKEN_URL={}", emulator.token_url());
    println!("  HERALD_TRUSTED_SERVICE_HOSTS={}", emulator.host_port());
    println!("Graph settings (add the app with HERALD_TEAMS_APP_ID={TEAMS_APP_ID}):");
    println!("  HERALD_GRAPH_BASE_URL={}", emulator.graph_base_url());
    println!("  HERALD_GRAPH_TOKEN_URL={}", emulator.graph_token_url());
    tokio::signal::ctrl_c().await?;
    println!("{} requests served", emulator.requests().len());
    Ok(())
}
