//! Graph's refusals as typed errors: permissions, unknown users, apps missing from the catalog.

use herald_graph::{GraphError, Installation};
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, GraphFault, RetryAfter};

use super::{Harness, TENANT};

#[tokio::test]
async fn missing_permission_is_forbidden() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Diego Siciliani");
    h.emulator
        .inject_graph(&user.aad_object_id, GraphFault::MissingPermission);
    let error = h.install(&user).await.unwrap_err();
    let GraphError::Forbidden { code, message } = &error else {
        panic!("expected Forbidden, got {error:?}");
    };
    assert_eq!(code, "Forbidden");
    assert!(message.contains("TeamsAppInstallation.ReadWriteForUser.All"));
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 1);
}

#[tokio::test]
async fn unknown_user_is_user_not_found() {
    let h = Harness::new().await;
    let ghost = EmulatedUser {
        id: "29:ghost".to_owned(),
        aad_object_id: "99999999-9999-9999-9999-999999999999".to_owned(),
        name: "Ghost".to_owned(),
        user_principal_name: "ghost@example".to_owned(),
        tenant_id: TENANT.to_owned(),
    };
    // The tenant has someone, so its token endpoint answers.
    let _ = h.user(TENANT, "Lee Gu");
    let error = h.install(&ghost).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::UserNotFound { code, .. } if code == "NotFound"),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn app_missing_from_the_catalog() {
    let h = Harness::with(EmulatorConfig::default(), "not-in-catalog").await;
    let user = h.user(TENANT, "Isaiah Langer");
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::AppNotInCatalog { status: 404, message, .. } if message.contains("App definition")),
        "{error:?}"
    );
    // Graph sometimes only says "Not Found": asking for the user's apps settles who is missing.
    h.emulator.set_graph_terse_not_found(true);
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::AppNotInCatalog { status: 404, message, .. } if message == "Not Found"),
        "{error:?}"
    );
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 1);
}

#[tokio::test]
async fn an_unclear_404_whose_probe_is_throttled_stays_retryable() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Isaiah Langer");
    // "Not Found" names neither the user nor the app; the probe that would tell is throttled
    // for longer than the retry policy waits.
    h.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::Status(404), 1);
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(3600)),
        10,
    );
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(error, GraphError::Throttled { .. }),
        "an open question, not a missing user: {error:?}"
    );
    assert!(error.is_retryable());
    h.emulator.clear_graph_faults();
    assert_eq!(h.install(&user).await.unwrap(), Installation::Installed);
}
