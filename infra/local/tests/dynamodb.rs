//! `--store dynamodb`: the production store path against DynamoDB Local, the sender fed from the
//! outbox table's stream (read with the DynamoDB Streams API, as Lambda's event source mapping
//! reads it). Needs DynamoDB Local: run through `.ci/with-services`.

mod support;

use std::time::Duration;

use chrono::Utc;
use herald_teams_emulator::{EmulatorConfig, Fault, TeamsEmulator};
use serde_json::json;
use support::{Runner, eventually};

const TENANT: &str = "00000000-0000-0000-0000-0000000000bb";

fn endpoint() -> String {
    std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_and_stream_deliver() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().require_auth(false))
        .await
        .unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let references = format!("references-{suffix}");
    let outbox = format!("outbox-{suffix}");
    let schedules = format!("schedules-{suffix}");
    let env = [
        ("HERALD_REFERENCES_TABLE", references.as_str()),
        ("HERALD_OUTBOX_TABLE", outbox.as_str()),
        ("HERALD_SCHEDULES_TABLE", schedules.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let endpoint = endpoint();
    let args = [
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        endpoint.as_str(),
    ];
    let unused = tempfile::tempdir().unwrap();
    let runner = Runner::start_with_args(unused.path(), &env, &args).await;
    let banner = runner.output().join("\n");
    assert!(
        banner.contains(&format!("DynamoDB at {endpoint}")),
        "{banner}"
    );

    let mut chats = Vec::new();
    for name in ["Dana", "Eli", "Fay"] {
        let user = emulator.add_user(TENANT, name);
        let chat = emulator.add_personal_chat(TENANT, &user.id);
        let activity = json!({
            "type": "installationUpdate",
            "action": "add",
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": Utc::now().to_rfc3339(),
            "channelId": "msteams",
            "serviceUrl": emulator.service_url(),
            "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad_object_id},
            "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": chat},
            "recipient": {"id": "28:00000000-0000-0000-0000-00000000110c"},
            "channelData": {"tenant": {"id": TENANT}},
        });
        assert!(runner.post_activity(&activity).await.status().is_success());
        chats.push(chat);
    }
    for chat in &chats {
        assert_eq!(emulator.activities(chat).len(), 1, "one welcome in {chat}");
    }
    emulator.inject(&chats[2], Fault::MessageWritesBlocked);

    // The first stream record lands on an empty shard: the poller must keep asking until the
    // TRIM_HORIZON iterator opens.
    let (status, accepted) = runner
        .post(
            "/api/notify",
            &json!({"target": {"kind": "all"}, "message": {"text": "Stream says hello"}}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let report = runner
        .wait_done(accepted["notificationId"].as_str().unwrap())
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
    let (_, accepted) = runner
        .post(
            "/api/notify",
            &json!({"target": {"kind": "all"}, "message": {"text": "Second"}}),
        )
        .await;
    let report = runner
        .wait_done(accepted["notificationId"].as_str().unwrap())
        .await;
    assert_eq!(report["counts"]["sent"], 2, "{report}");
    assert_eq!(report["counts"]["skippedBlocked"], 1, "{report}");
    assert!(runner.interrupt().0);
}
