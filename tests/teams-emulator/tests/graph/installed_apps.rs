//! Installing, listing (paged before the filter), reading one installation and its chat, the app
//! catalog, and the Graph chat id as an alias of the personal chat.

use serde_json::{Value, json};

use crate::support::{APP, Graph, TENANT, error_code};

#[tokio::test]
async fn install_then_conflict_then_list_and_chat() {
    let g = Graph::start().await;
    let (user, token) = g.user("Megan Bowen");
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!((status, body), (201, Value::Null));
    let (status, body) = g.install(&user.aad_object_id, APP, &token).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "Conflict");
    assert_eq!(g.emulator.install_requests(), 2);
    assert_eq!(g.emulator.installations().len(), 1);

    // By UPN too, with the filter and expansion Herald uses.
    let list = g.installed_apps(
        &user.user_principal_name,
        &format!("?$expand=teamsApp&$filter=teamsApp/id eq '{APP}'"),
    );
    let (status, body) = g.get(&list, &token).await;
    assert_eq!(status, 200);
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["teamsApp"]["id"], APP);
    assert_eq!(
        value[0]["teamsApp"]["externalId"],
        g.emulator.config().app_id
    );
    let installation = value[0]["id"].as_str().unwrap();
    assert!(body.get("@odata.nextLink").is_none());

    let installed = |rest: &str| g.installed_apps(&user.aad_object_id, rest);
    let (status, one) = g
        .get(
            &installed(&format!("/{installation}?$expand=teamsApp")),
            &token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], installation);

    let (status, chat) = g
        .get(&installed(&format!("/{installation}/chat")), &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        chat["id"],
        format!(
            "19:{}_{}@unq.gbl.spaces",
            user.aad_object_id,
            g.emulator.config().app_id
        )
    );
    assert_eq!(chat["chatType"], "oneOnOne");

    let (status, body) = g.get(&installed("/nope/chat"), &token).await;
    assert_eq!((status, error_code(&body)), (404, "NotFound"));

    // Every Graph request is logged with its operation, tenant and answer.
    let log = g.emulator.graph_requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].operation, "graph.installApp");
    assert_eq!(log[0].status, Some(201));
    assert_eq!(log[0].tenant.as_deref(), Some(TENANT));
    assert_eq!(log[2].operation, "graph.listInstalledApps");
    assert_eq!(log[4].operation, "graph.getInstalledAppChat");
}

#[tokio::test]
async fn unknown_user_and_app() {
    let g = Graph::start().await;
    let (user, token) = g.user("Adele Vance");
    let (status, body) = g.install("no-such-user", APP, &token).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"]["message"],
        "User Id 'no-such-user' not found."
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let (status, body) = g
        .install(&user.aad_object_id, "not-in-catalog", &token)
        .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("App definition")
    );
    g.emulator.set_graph_terse_not_found(true);
    let (_, body) = g
        .install(&user.aad_object_id, "not-in-catalog", &token)
        .await;
    assert_eq!(body["error"]["message"], "Not Found");

    let (status, body) = g
        .get(&g.url(&format!("/appCatalogs/teamsApps/{APP}")), &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], APP);
    assert_eq!(body["distributionMethod"], "organization");
    let (status, _) = g.get(&g.url("/appCatalogs/teamsApps/nope"), &token).await;
    assert_eq!(status, 404);

    let (status, _, body) = g
        .send(
            reqwest::Method::POST,
            &g.installed_apps(&user.aad_object_id, ""),
            Some(&token),
            Some(json!({"teamsApp": APP})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "BadRequest"));
}

#[tokio::test]
async fn paging_is_before_the_filter() {
    let g = Graph::start().await;
    let (user, token) = g.user("Alex Wilber");
    for i in 0..3 {
        g.emulator
            .add_other_catalog_app(&format!("other-{i}"), &format!("Other {i}"));
        g.emulator.mark_installed(&user, &format!("other-{i}"));
    }
    let ours = g.emulator.mark_installed(&user, APP);
    g.emulator.set_graph_page_size(1);

    let mut url = g.installed_apps(
        &user.aad_object_id,
        &format!("?$expand=teamsApp&$filter=teamsApp/id eq '{APP}'"),
    );
    let mut pages = Vec::new();
    loop {
        let (status, body) = g.get(&url, &token).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["value"].as_array().unwrap().len());
        let Some(next) = body["@odata.nextLink"].as_str() else {
            assert_eq!(body["value"][0]["id"], ours.id);
            break;
        };
        assert!(next.starts_with(&g.emulator.graph_base_url()));
        url = next.to_owned();
    }
    assert_eq!(pages, [0, 0, 0, 1]);

    // Unfiltered, each page holds one installation.
    let (_, body) = g
        .get(&g.installed_apps(&user.aad_object_id, ""), &token)
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert!(body["value"][0].get("teamsApp").is_none());
    let (status, _) = g
        .get(
            &g.installed_apps(&user.aad_object_id, "?$filter=displayName eq 'x'"),
            &token,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_graph_chat_id_is_an_alias_of_the_personal_chat() {
    let g = Graph::start().await;
    let (user, _) = g.user("Johanna Lorenz");
    let installation = g.emulator.mark_installed(&user, APP);
    let personal = g.emulator.add_personal_chat(TENANT, &user.id);
    assert!(personal.starts_with("a:"));
    let token = g.emulator.issue_token();
    for (conversation, text) in [
        (&installation.chat_id, "via graph id"),
        (&personal, "via a: id"),
    ] {
        assert_eq!(g.post_message(conversation, &token, text).await, 201);
    }
    let by_alias = g.emulator.activities(&installation.chat_id);
    let by_id = g.emulator.activities(&personal);
    assert_eq!(by_alias, by_id);
    let texts: Vec<&str> = by_id
        .iter()
        .map(|a| a.activity["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["via graph id", "via a: id"]);
    // Nothing announced for an installation marked as earlier.
    assert!(g.emulator.bot_deliveries().is_empty());
}
