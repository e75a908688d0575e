//! Graph tokens: one per customer tenant, cached, refreshed once after a 401.

use herald_connector::{Credentials, Deadline, Secret};
use herald_graph::{GraphError, Installation};
use herald_teams_emulator::{EmulatorConfig, GraphFault, TeamsEmulator};

use super::{
    Harness, OTHER_TENANT, TEAMS_APP, TENANT, credentials, graph_config, install_for, installer,
};

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let h = Harness::new().await;
    let first = h.user(TENANT, "Pradeep Gupta");
    let second = h.user(TENANT, "Grady Archie");
    assert_eq!(h.install(&first).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 1);
    // The cached token is revoked: one 401, one new token, then success.
    h.emulator.revoke_tokens();
    assert_eq!(h.install(&second).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 2);
    assert_eq!(h.installer.token_fetches(), 2);
    assert_eq!(h.emulator.count_status(401), 1);

    // A 401 that persists is reported after the one refresh.
    let third = h.user(TENANT, "Miriam Graham");
    h.emulator
        .inject_graph(&third.aad_object_id, GraphFault::Unauthorized);
    let error = h.install(&third).await.unwrap_err();
    assert!(
        matches!(error, GraphError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.count_status(401), 3);
    assert_eq!(h.token_requests().len(), 3);
}

#[tokio::test]
async fn tokens_are_per_tenant_and_cached() {
    let h = Harness::new().await;
    let a1 = h.user(TENANT, "Henrietta Mueller");
    let a2 = h.user(TENANT, "Joni Sherman");
    let b1 = h.user(OTHER_TENANT, "Debra Berger");
    let b2 = h.user(OTHER_TENANT, "Patti Fernandez");
    assert_eq!(h.install(&a1).await, Ok(Installation::Installed));
    assert_eq!(h.install(&b1).await, Ok(Installation::Installed));
    let mut tenants: Vec<String> = h.token_requests().into_iter().map(|(t, _)| t).collect();
    tenants.sort();
    assert_eq!(tenants, [TENANT, OTHER_TENANT]);
    assert_eq!(h.install(&a2).await, Ok(Installation::Installed));
    assert_eq!(h.install(&b2).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 2);
    assert_eq!(h.installer.token_fetches(), 2);
    // Each request carried its own tenant's token (the emulator scopes users by token tenant).
    assert_eq!(h.emulator.count_status(201), 4);
}

#[tokio::test]
async fn a_token_from_the_wrong_tenant_does_not_find_the_user() {
    // A single fixed token URL (no {tenant}) sends every request with the bot's home-tenant token:
    // Graph then looks for the user in the wrong directory.
    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    emulator.add_catalog_app(TEAMS_APP);
    let user = emulator.add_user(OTHER_TENANT, "Megan Bowen");
    let config = graph_config(&emulator, TEAMS_APP).token_url(emulator.token_url());
    let error = install_for(
        &installer(config, credentials(&emulator)),
        &user,
        Deadline::NONE,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, GraphError::UserNotFound { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn token_endpoint_refusal_is_typed() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Irvin Sayers");
    let mut creds = credentials(&h.emulator);
    if let Credentials::App { password, .. } = &mut creds {
        *password = Secret::new("wrong");
    }
    let installer = installer(graph_config(&h.emulator, TEAMS_APP), creds);
    let error = install_for(&installer, &user, Deadline::NONE)
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Token(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 0);
}

#[tokio::test]
async fn anonymous_sends_no_token() {
    let h = Harness::with(EmulatorConfig::default().require_auth(false), TEAMS_APP).await;
    let user = h.user(TENANT, "Megan Bowen");
    let installer = installer(graph_config(&h.emulator, TEAMS_APP), Credentials::Anonymous);
    let result = install_for(&installer, &user, Deadline::NONE).await;
    assert_eq!(result, Ok(Installation::Installed));
    assert!(h.token_requests().is_empty());
    assert!(h.emulator.graph_requests()[0].authorization.is_none());
}
