//! Proactive installation end to end: the runner (authenticated exactly as the Lambdas) sends to
//! people by Entra object id; for those without a personal chat it installs the app through the
//! emulator's Graph, whose install makes Teams (the emulator) post the conversationUpdate to the
//! runner's webhook, which stores the chat and resumes the waiting delivery.

mod support;

use std::collections::BTreeMap;

use herald_teams_emulator::{EmulatedUser, EmulatorConfig, GraphFault, RetryAfter, TeamsEmulator};
use serde_json::{Value, json};
use support::{DynamoDbLocal, Runner, authenticated_env};

const TENANT: &str = "00000000-0000-0000-0000-0000000000dd";
const CATALOG_APP: &str = "6f0e8a1c-1b7e-4a5e-9d0b-5b1f3a2c7d11";

struct World {
    emulator: TeamsEmulator,
    runner: Runner,
    _data: tempfile::TempDir,
}

/// The runner on its embedded store, or with `dynamodb` on DynamoDB Local (streams and all).
async fn start(dynamodb: bool) -> World {
    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    emulator.add_catalog_app(CATALOG_APP);
    let data = tempfile::tempdir().unwrap();
    let mut env = authenticated_env(&emulator);
    env.extend([
        ("HERALD_GRAPH_INSTALL", "true".to_owned()),
        ("HERALD_TEAMS_APP_ID", CATALOG_APP.to_owned()),
        ("HERALD_GRAPH_BASE_URL", emulator.graph_base_url()),
        ("HERALD_GRAPH_TOKEN_URL", emulator.graph_token_url()),
    ]);
    let store = DynamoDbLocal::new();
    let mut args = Vec::new();
    if dynamodb {
        env.extend(store.env.iter().cloned());
        args.extend(store.args());
    }
    let runner = Runner::start_with_args(data.path(), &env, &args).await;
    let banner = runner.output().join("\n");
    assert!(
        banner.contains("installs the app through Microsoft Graph"),
        "{banner}"
    );
    let bot_endpoint = format!("{}/api/messages", runner.base);
    emulator.set_bot_endpoint(&bot_endpoint, &emulator.config().app_id);
    World {
        emulator,
        runner,
        _data: data,
    }
}

impl World {
    /// A user who installed the app themselves: Teams' install activity reaches the webhook.
    async fn installed_user(&self, name: &str) -> (EmulatedUser, String) {
        let user = self.emulator.add_user(TENANT, name);
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        self.emulator.mark_installed(&user, CATALOG_APP);
        self.runner
            .install_personally(&self.emulator, TENANT, &user, &chat)
            .await;
        (user, chat)
    }

    async fn notify_users(&self, ids: &[&str], text: &str) -> String {
        self.runner
            .notify(&json!({
                "target": {"kind": "users", "tenantId": TENANT, "aadObjectIds": ids},
                "message": {"text": text},
            }))
            .await
    }

    async fn deliveries(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .runner
            .get(&format!("/api/notifications/{id}/deliveries?limit=100"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// How many copies of `text` each personal chat of `users` received.
    fn copies(&self, users: &[EmulatedUser], text: &str) -> Vec<usize> {
        users
            .iter()
            .map(|u| {
                let chat = self.emulator.add_personal_chat(TENANT, &u.id);
                self.emulator
                    .activities(&chat)
                    .iter()
                    .filter(|a| a.activity["text"] == text)
                    .count()
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_users_twenty_installed_through_graph_each_gets_it_once() {
    fifty_users(start(false).await).await;
}

/// The same on the production store path: DynamoDB Local, the sender fed from the stream.
/// Needs DynamoDB Local: run through `.ci/with-services`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dynamodb_fifty_users_twenty_installed_through_graph() {
    fifty_users(start(true).await).await;
}

async fn fifty_users(world: World) {
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(world.installed_user(&format!("Installed {i}")).await.0);
    }
    for i in 0..20 {
        users.push(world.emulator.add_user(TENANT, &format!("New {i}")));
    }
    assert_eq!(world.runner.installations("").await.len(), 30);
    // Graph throttles the first installs: Herald waits Retry-After and goes on.
    world
        .emulator
        .inject_graph_all_times(GraphFault::Throttled(RetryAfter::Seconds(1)), 3);

    let ids: Vec<&str> = users.iter().map(|u| u.aad_object_id.as_str()).collect();
    let id = world.notify_users(&ids, "Quarterly all-hands at 10").await;
    let report = world.runner.wait_done(&id).await;

    assert_eq!(report["counts"]["sent"], 50, "{report}");
    assert_eq!(report["counts"]["installing"], 0, "{report}");
    assert_eq!(
        world.emulator.install_requests(),
        20 + 3,
        "20 installs, 3 throttled tries"
    );
    let via_graph = world
        .emulator
        .installations()
        .iter()
        .filter(|i| i.via_graph)
        .count();
    assert_eq!(via_graph, 20);
    assert_eq!(
        world.copies(&users, "Quarterly all-hands at 10"),
        vec![1; 50],
        "every user got it exactly once"
    );
    // The new installations are stored: a second notification needs no Graph call at all.
    assert_eq!(world.runner.installations("").await.len(), 50);
    let second = world.notify_users(&ids, "Reminder: all-hands").await;
    let report = world.runner.wait_done(&second).await;
    assert_eq!(report["counts"]["sent"], 50, "{report}");
    assert_eq!(world.emulator.install_requests(), 23);
    assert_eq!(world.copies(&users, "Reminder: all-hands"), vec![1; 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn install_failures_and_an_existing_installation_are_reported() {
    let world = start(false).await;
    let (installed, _) = world.installed_user("Already here").await;
    // Installed earlier (Graph knows) but Herald never stored the chat: 409, then the chat lookup.
    let lost = world.emulator.add_user(TENANT, "Lost Reference");
    world.emulator.mark_installed(&lost, CATALOG_APP);
    let forbidden = world.emulator.add_user(TENANT, "No Consent");
    world
        .emulator
        .inject_graph(&forbidden.aad_object_id, GraphFault::MissingPermission);
    let unknown = uuid::Uuid::new_v4().to_string();

    let id = world
        .notify_users(
            &[
                &installed.aad_object_id,
                &lost.aad_object_id,
                &forbidden.aad_object_id,
                &unknown,
            ],
            "Policy update",
        )
        .await;
    let report = world.runner.wait_done(&id).await;
    let deliveries = world.deliveries(&id).await;
    let by_recipient: BTreeMap<String, (String, String)> = deliveries
        .iter()
        .map(|d| {
            (
                d["recipient"].as_str().unwrap_or_default().to_owned(),
                (
                    d["status"].as_str().unwrap().to_owned(),
                    d["error"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(report["counts"]["sent"], 2, "{report}");
    assert_eq!(by_recipient[&installed.aad_object_id].0, "sent");
    assert_eq!(
        by_recipient[&lost.aad_object_id].0, "sent",
        "{deliveries:?}"
    );
    let (status, error) = &by_recipient[&forbidden.aad_object_id];
    assert_eq!(status, "installForbidden");
    assert!(
        error.contains("TeamsAppInstallation.ReadWriteForUser.All"),
        "{error}"
    );
    assert_eq!(
        by_recipient[&unknown].0, "installUserNotFound",
        "{deliveries:?}"
    );
    assert_eq!(report["counts"]["installForbidden"], 1, "{report}");
    assert_eq!(report["counts"]["installUserNotFound"], 1, "{report}");
    assert_eq!(
        world.copies(&[installed, lost], "Policy update"),
        vec![1, 1]
    );
    // The chat found through Graph is stored for next time.
    assert_eq!(world.runner.installations("").await.len(), 2);
}
