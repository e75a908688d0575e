//! Graph tokens: scoped (a connector token does not open Graph, nor a Graph token the
//! connector), issued per tenant, and refused once revoked.

use serde_json::{Value, json};

use crate::support::{APP, Graph, OTHER_TENANT, TENANT, error_code};

#[tokio::test]
async fn graph_tokens_are_scoped_and_per_tenant() {
    let g = Graph::start().await;
    let user = g.emulator.add_user(TENANT, "Lee Gu");
    let other = g.emulator.add_user(OTHER_TENANT, "Debra Berger");

    // No token, and a connector token, are refused with Graph's 401.
    let (status, _, body) = g
        .send(
            reqwest::Method::POST,
            &g.installed_apps(&user.aad_object_id, ""),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );
    let connector_token = g.emulator.issue_token();
    let (status, body) = g.install(&user.aad_object_id, APP, &connector_token).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );

    // The token endpoint issues Graph tokens from the user's tenant, not from unknown ones.
    let token_url = |tenant: &str| g.emulator.graph_token_url().replace("{tenant}", tenant);
    let form = |scope: &str| {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", g.emulator.config().app_id.clone()),
            ("client_secret", g.emulator.config().app_password.clone()),
            ("scope", scope.to_owned()),
        ]
    };
    let request_token =
        |tenant: &str, scope: &str| g.http.post(token_url(tenant)).form(&form(scope)).send();
    let graph_scope = g.emulator.config().graph_scope.clone();
    let response = request_token(OTHER_TENANT, &graph_scope).await.unwrap();
    assert_eq!(response.status(), 200);
    let other_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = request_token("33333333-3333-3333-3333-333333333333", &graph_scope)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Connector tokens still come only from the bot's tenant.
    let response = request_token(OTHER_TENANT, &g.emulator.config().scope)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A token reaches its own tenant's users only.
    assert_eq!(
        g.install(&other.aad_object_id, APP, &other_token).await.0,
        201
    );
    assert_eq!(
        g.install(&user.aad_object_id, APP, &other_token).await.0,
        404
    );

    // A Graph token does not open the connector routes.
    let chat = g.emulator.add_personal_chat(TENANT, &user.id);
    assert_eq!(g.post_message(&chat, &other_token, "hi").await, 401);

    // Revoked tokens are refused.
    g.emulator.revoke_tokens();
    assert_eq!(
        g.install(&other.aad_object_id, APP, &other_token).await.0,
        401
    );
}
