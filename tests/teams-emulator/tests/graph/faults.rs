//! Graph faults injected per user and for every request, used up in order or until cleared.

use axum::http::header;
use herald_teams_emulator::{GraphFault, MISSING_PERMISSION_MESSAGE, RetryAfter};

use crate::support::{APP, Graph, error_code};

#[tokio::test]
async fn graph_faults_per_user_and_global() {
    let g = Graph::start().await;
    let (user, token) = g.user("Diego Siciliani");
    let (other, _) = g.user("Isaiah Langer");

    g.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::MissingPermission, 1);
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!((status, error_code(&body)), (403, "Forbidden"));
    assert_eq!(body["error"]["message"], MISSING_PERMISSION_MESSAGE);

    g.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(3)),
        2,
    );
    for _ in 0..2 {
        let (status, headers, body) = g
            .send(
                reqwest::Method::GET,
                &g.installed_apps(&user.aad_object_id, ""),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 429);
        assert_eq!(headers[header::RETRY_AFTER], "3");
        assert_eq!(error_code(&body), "TooManyRequests");
    }
    // The other user is unaffected; the faults are used up.
    assert_eq!(g.install(&other.aad_object_id, APP, &token).await.0, 201);
    assert_eq!(g.install(&user.aad_object_id, APP, &token).await.0, 201);

    g.emulator.inject_graph_all(GraphFault::Status(503));
    let (status, body) = g.install(&other.aad_object_id, "x", &token).await;
    assert_eq!((status, error_code(&body)), (503, "ServiceUnavailable"));
    let catalog = g.url(&format!("/appCatalogs/teamsApps/{APP}"));
    let (status, _) = g.get(&catalog, &token).await;
    assert_eq!(status, 503);
    g.emulator.clear_graph_faults();
    let (status, _) = g.get(&catalog, &token).await;
    assert_eq!(status, 200);

    g.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::DropConnection, 1);
    let dropped = g
        .http
        .get(g.installed_apps(&user.aad_object_id, ""))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(dropped.is_err());
}
