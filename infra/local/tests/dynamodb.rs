//! `--store dynamodb`: the production store path against DynamoDB Local, the sender fed from the
//! outbox table's stream (read with the DynamoDB Streams API, as Lambda's event source mapping
//! reads it). Needs DynamoDB Local: run through `.ci/with-services`.

mod support;

use std::time::Duration;

use herald_teams_emulator::{EmulatorConfig, Fault, TeamsEmulator};
use serde_json::json;
use support::{ANONYMOUS_BOT_ID, DynamoDbLocal, Runner, eventually, personal_install};

const TENANT: &str = "00000000-0000-0000-0000-0000000000bb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_and_stream_deliver() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().require_auth(false))
        .await
        .unwrap();
    let store = DynamoDbLocal::new();
    let unused = tempfile::tempdir().unwrap();
    let runner = Runner::start_with_args(unused.path(), &store.env, &store.args()).await;
    let banner = runner.output().join("\n");
    assert!(
        banner.contains(&format!("DynamoDB at {}", store.endpoint)),
        "{banner}"
    );

    let mut chats = Vec::new();
    for name in ["Dana", "Eli", "Fay"] {
        let user = emulator.add_user(TENANT, name);
        let chat = emulator.add_personal_chat(TENANT, &user.id);
        let activity = personal_install(&emulator, TENANT, &user, &chat, ANONYMOUS_BOT_ID);
        assert!(runner.post_activity(&activity).await.status().is_success());
        chats.push(chat);
    }
    for chat in &chats {
        assert_eq!(emulator.activities(chat).len(), 1, "one welcome in {chat}");
    }
    emulator.inject(&chats[2], Fault::MessageWritesBlocked);

    // The first stream record lands on an empty shard: the poller must keep asking until the
    // TRIM_HORIZON iterator opens.
    let report = runner
        .notify_and_wait(
            &json!({"target": {"kind": "all"}, "message": {"text": "Stream says hello"}}),
        )
        .await;
    assert_eq!(report["counts"]["sent"], 2, "{report}");
    assert_eq!(report["counts"]["blocked"], 1, "{report}");
    for chat in &chats[..2] {
        let activities = emulator.activities(chat);
        assert_eq!(activities.len(), 2, "welcome and notification in {chat}");
        assert!(
            activities[1]
                .activity
                .to_string()
                .contains("Stream says hello")
        );
    }
    eventually("the blocked status", Duration::from_secs(10), || async {
        runner.installations("&status=blocked").await.len() == 1
    })
    .await;

    // A second notification goes through the already-open iterators.
    let report = runner
        .notify_and_wait(&json!({"target": {"kind": "all"}, "message": {"text": "Second"}}))
        .await;
    assert_eq!(report["counts"]["sent"], 2, "{report}");
    assert_eq!(report["counts"]["skippedBlocked"], 1, "{report}");
    assert!(runner.interrupt().0);
}
