//! With `MicrosoftAppId` set, the runner authenticates exactly as the Lambdas: inbound activities
//! need a valid Bot Framework token (here signed by the Teams emulator's OpenID keys), and the
//! connector fetches its own token for every send (the emulator requires one).

mod support;

use herald_teams_emulator::identity::TokenSpec;
use herald_teams_emulator::{EmulatorConfig, TeamsEmulator};
use serde_json::json;
use support::{Runner, authenticated_env, personal_install};

const TENANT: &str = "00000000-0000-0000-0000-0000000000cc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_id_set_means_tokens_both_ways() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let runner = Runner::start(data.path(), &authenticated_env(&emulator)).await;
    let banner = runner.output().join("\n");
    assert!(
        banner.contains("Bot Framework tokens validated"),
        "{banner}"
    );

    let user = emulator.add_user(TENANT, "Hana");
    let chat = emulator.add_personal_chat(TENANT, &user.id);
    let service_url = emulator.service_url();
    let bot_id = format!("28:{}", emulator.config().app_id);
    let activity = personal_install(&emulator, TENANT, &user, &chat, &bot_id);
    let http = reqwest::Client::new();
    let post = |token: Option<String>| {
        let mut request = http
            .post(format!("{}/api/messages", runner.base))
            .json(&activity);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    // No token, or a token for another app: refused, nothing stored, nothing sent.
    assert_eq!(post(None).await.unwrap().status(), 401);
    let foreign = emulator
        .identity()
        .mint(TokenSpec::valid(&service_url).audience("someone-else"));
    assert_eq!(post(Some(foreign)).await.unwrap().status(), 401);
    assert!(runner.installations("").await.is_empty());
    assert!(emulator.activities(&chat).is_empty());

    // A valid token: installed, and the welcome goes out with the connector's own token.
    let token = emulator.identity().mint(TokenSpec::valid(&service_url));
    let response = post(Some(token)).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(emulator.activities(&chat).len(), 1, "the welcome");
    assert!(emulator.token_fetches() >= 1);

    let report = runner
        .notify_and_wait(
            &json!({"target": {"kind": "all"}, "message": {"text": "Signed and sent"}}),
        )
        .await;
    assert_eq!(report["counts"]["sent"], 1, "{report}");
    assert_eq!(emulator.activities(&chat).len(), 2);
    assert_eq!(emulator.count_status(401), 0, "every send carried a token");
    assert!(runner.interrupt().0);
}
