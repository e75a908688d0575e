//! Interactive notifications end to end in the runner (authenticated exactly as the Lambdas): the
//! Teams emulator presses the buttons of Herald's cards and sends read receipts as Teams does,
//! signed; a callback server in the test answers the actions.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, Interaction, TeamsEmulator};
use serde_json::{Value, json};
use support::{Runner, authenticated_env, eventually};

const TENANT: &str = "00000000-0000-0000-0000-0000000000ee";
const SECRET: &str = "a-long-enough-callback-secret";
const CALLBACK_TIMEOUT_MS: u64 = 1000;
const APPROVED: &str = "Approved by Ada Lovelace";

/// One request the callback server got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    action_id: String,
    body: String,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// The caller's system: `/approve` answers a card and asks to update every copy, `/slow` answers
/// after the callback budget, `/fail` answers 500.
async fn callback(
    State(log): State<Log>,
    Path(mode): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    log.lock().unwrap().push(Received {
        signature: header("x-herald-signature"),
        action_id: header("x-herald-action-id"),
        body,
    });
    match mode.as_str() {
        "approve" => (
            StatusCode::OK,
            json!({
                "card": {"type": "AdaptiveCard", "version": "1.4",
                         "body": [{"type": "TextBlock", "text": "You approved expense 42"}]},
                "updateAll": {"text": APPROVED},
            })
            .to_string(),
        ),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(CALLBACK_TIMEOUT_MS * 4)).await;
            (StatusCode::OK, json!({"message": "too late"}).to_string())
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

struct World {
    emulator: TeamsEmulator,
    runner: Runner,
    callbacks: Log,
    callback_base: String,
    _data: tempfile::TempDir,
}

async fn start() -> World {
    let callbacks: Log = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/{mode}", post(callback))
        .with_state(callbacks.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut env = authenticated_env(&emulator);
    env.extend([
        ("HERALD_CALLBACK_HOSTS", "127.0.0.1".to_owned()),
        ("HERALD_CALLBACK_SECRET", SECRET.to_owned()),
        (
            "HERALD_CALLBACK_TIMEOUT_MS",
            CALLBACK_TIMEOUT_MS.to_string(),
        ),
    ]);
    let runner = Runner::start(data.path(), &env).await;
    emulator.set_bot_endpoint(
        &format!("{}/api/messages", runner.base),
        &emulator.config().app_id,
    );
    World {
        emulator,
        runner,
        callbacks,
        callback_base,
        _data: data,
    }
}

fn approval_card() -> Value {
    json!({
        "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "TextBlock", "text": "Expense 42: 120 EUR"}],
        "actions": [{"type": "Action.Execute", "title": "Approve", "verb": "approve",
                     "data": {"expense": 42}}],
    })
}

impl World {
    /// A user who installed the app: Teams' install activity reaches the webhook.
    async fn installed_user(&self, name: &str) -> (EmulatedUser, String) {
        let user = self.emulator.add_user(TENANT, name);
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        self.runner
            .install_personally(&self.emulator, TENANT, &user, &chat)
            .await;
        (user, chat)
    }

    /// Sends the approval card to `users` with the callback `mode`; returns its id when every
    /// copy is sent.
    async fn send_approval(&self, users: &[&EmulatedUser], mode: &str) -> String {
        let ids: Vec<&str> = users.iter().map(|u| u.aad_object_id.as_str()).collect();
        let id = self
            .runner
            .notify(&json!({
                "target": {"kind": "users", "tenantId": TENANT, "aadObjectIds": ids},
                "message": {"card": approval_card(), "summary": "Expense 42"},
                "callback": format!("{}/{mode}", self.callback_base),
                "acknowledgement": {"message": "Thanks, noted."},
            }))
            .await;
        let report = self.runner.wait_done(&id).await;
        assert_eq!(report["counts"]["sent"], users.len(), "{report}");
        id
    }

    /// The id of the last message Herald posted to `chat`.
    fn copy_id(&self, chat: &str) -> String {
        self.emulator.activities(chat).last().unwrap().id.clone()
    }

    async fn report(&self, id: &str) -> Value {
        let (status, body) = self.runner.get(&format!("/api/notifications/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Each delivery's `read`, by recipient.
    async fn read_by_recipient(&self, id: &str) -> Vec<(String, Value)> {
        let (status, body) = self
            .runner
            .get(&format!("/api/notifications/{id}/deliveries?limit=100"))
            .await;
        assert_eq!(status, 200, "{body}");
        let mut read: Vec<(String, Value)> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["recipient"].as_str().unwrap().to_owned(),
                    d["read"].clone(),
                )
            })
            .collect();
        read.sort_by(|a, b| a.0.cmp(&b.0));
        read
    }

    fn published(&self, detail_type: &str) -> usize {
        self.runner
            .output()
            .iter()
            .filter(|l| l.contains("event published") && l.contains(detail_type))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_reaches_the_callback_once_and_updates_every_copy() {
    let world = start().await;
    let (ada, ada_chat) = world.installed_user("Ada Lovelace").await;
    let (bo, bo_chat) = world.installed_user("Bo Birch").await;
    let (cy, cy_chat) = world.installed_user("Cy Cedar").await;
    let id = world.send_approval(&[&ada, &bo, &cy], "approve").await;
    let ada_copy = world.copy_id(&ada_chat);
    // The welcome card and the approval.
    let before: Vec<usize> = [&ada_chat, &bo_chat, &cy_chat]
        .iter()
        .map(|c| world.emulator.activities(c).len())
        .collect();

    let pressed = world
        .emulator
        .press(
            &ada,
            &ada_chat,
            &ada_copy,
            "approve",
            json!({"expense": 42}),
        )
        .await;
    assert_eq!(pressed.status, Some(200), "{pressed:?}");
    let (kind, card) = pressed.invoke_answer().unwrap();
    assert_eq!(kind, "application/vnd.microsoft.card.adaptive");
    assert_eq!(card["body"][0]["text"], "You approved expense 42");

    // The callback got the action, signed over the timestamp and the body.
    let received = world.callbacks.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (t, _) = received[0]
        .signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(','))
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - t.parse::<i64>().unwrap()).abs() < 60);
    assert_eq!(
        received[0].signature,
        herald_webhook::callback::signature(SECRET, t.parse().unwrap(), &received[0].body)
    );
    let action: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(action["notificationId"], id.as_str());
    assert_eq!(action["verb"], "approve");
    assert_eq!(action["data"], json!({"expense": 42}));
    assert_eq!(action["activityId"], ada_copy.as_str());
    assert_eq!(action["by"]["aadObjectId"], ada.aad_object_id.as_str());
    assert_eq!(action["actionId"], received[0].action_id.as_str());

    // Every copy shows the approval, the pressed one too.
    for (chat, before) in [&ada_chat, &bo_chat, &cy_chat].into_iter().zip(before) {
        eventually("every copy updated", Duration::from_secs(30), || async {
            let last = world.emulator.activities(chat).last().cloned().unwrap();
            last.updates >= 1 && last.activity["text"] == APPROVED
        })
        .await;
        assert_eq!(
            world.emulator.activities(chat).len(),
            before,
            "edited, not sent again"
        );
    }

    // Teams delivers the same invoke again: answered, but recorded and published once.
    let again = world.emulator.redeliver(&pressed).await;
    assert_eq!(again.status, Some(200));
    assert!(again.invoke_answer().is_some());
    let report = world.report(&id).await;
    assert_eq!(report["actions"], json!({"approve": 1}), "{report}");
    assert_eq!(world.published("herald.CardAction"), 1);
    let received = world.callbacks.lock().unwrap().clone();
    assert!(
        received
            .iter()
            .all(|r| r.action_id == received[0].action_id)
    );

    // A forged replyToId (Ada's message named in Bo's chat, or an id Herald never sent): no copy
    // is found, so nothing is recorded, called or published.
    let calls = received.len();
    for (user, chat, reply_to) in [(&bo, &bo_chat, ada_copy.as_str()), (&ada, &ada_chat, "42")] {
        let forged = world
            .emulator
            .press(user, chat, reply_to, "approve", json!({"expense": 42}))
            .await;
        assert_eq!(forged.status, Some(200));
        assert_eq!(
            forged.invoke_answer(),
            Some(("application/vnd.microsoft.activity.message", &json!("")))
        );
    }
    assert_eq!(world.callbacks.lock().unwrap().len(), calls);
    assert_eq!(world.report(&id).await["actions"], json!({"approve": 1}));
    assert_eq!(world.published("herald.CardAction"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_or_failing_callback_still_answers_with_the_acknowledgement_in_time() {
    let world = start().await;
    let (ada, ada_chat) = world.installed_user("Ada Lovelace").await;
    for mode in ["slow", "fail"] {
        let id = world.send_approval(&[&ada], mode).await;
        let copy = world.copy_id(&ada_chat);
        let pressed = world
            .emulator
            .press(&ada, &ada_chat, &copy, "approve", json!({}))
            .await;
        assert_eq!(pressed.status, Some(200), "{mode}: {pressed:?}");
        assert_eq!(
            pressed.invoke_answer(),
            Some((
                "application/vnd.microsoft.activity.message",
                &json!("Thanks, noted.")
            )),
            "{mode}"
        );
        // The budget, plus the time to answer; far below the 15 s Teams waits.
        assert!(
            pressed.elapsed < Duration::from_millis(CALLBACK_TIMEOUT_MS + 1500),
            "{mode}: {:?}",
            pressed.elapsed
        );
        // The press counts however the callback fared.
        assert_eq!(world.report(&id).await["actions"], json!({"approve": 1}));
        // A card's automatic refresh without a callback's answer shows the card as it is now;
        // it is neither counted nor published.
        let refresh = Interaction::Execute {
            verb: "approve".to_owned(),
            data: json!({}),
            automatic: true,
        };
        let refreshed = world
            .emulator
            .interact(&ada, &ada_chat, &copy, &refresh)
            .await;
        let (kind, card) = refreshed.invoke_answer().unwrap();
        assert_eq!(kind, "application/vnd.microsoft.card.adaptive", "{mode}");
        assert_eq!(card["body"][0]["text"], "Expense 42: 120 EUR");
        assert_eq!(world.report(&id).await["actions"], json!({"approve": 1}));
    }
    assert_eq!(world.published("herald.CardAction"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_receipts_mark_exactly_the_copies_they_cover() {
    let world = start().await;
    let (ada, ada_chat) = world.installed_user("Ada Lovelace").await;
    let (bo, bo_chat) = world.installed_user("Bo Birch").await;
    let first = world.send_approval(&[&ada, &bo], "approve").await;
    let ada_first = world.copy_id(&ada_chat);
    let second = world.send_approval(&[&ada, &bo], "approve").await;
    let ada_second = world.copy_id(&ada_chat);
    assert_ne!(ada_first, ada_second);

    // Ada read up to the first message only; Bo read nothing; a receipt for an id before any of
    // Herald's messages covers none.
    let receipt = world.emulator.read_up_to(&ada, &ada_chat, &ada_first).await;
    assert_eq!(receipt.status, Some(200), "{receipt:?}");
    let early = world.emulator.read_up_to(&bo, &bo_chat, "1").await;
    assert_eq!(early.status, Some(200));
    let (ada_id, bo_id) = (ada.aad_object_id.clone(), bo.aad_object_id.clone());
    let expected = |ada_read: bool| {
        let mut rows = vec![
            (ada_id.clone(), json!(ada_read)),
            (bo_id.clone(), json!(false)),
        ];
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    assert_eq!(world.read_by_recipient(&first).await, expected(true));
    assert_eq!(world.read_by_recipient(&second).await, expected(false));
    assert_eq!(world.report(&first).await["read"], 1);
    assert_eq!(world.report(&second).await["read"], 0);
    assert_eq!(world.published("herald.NotificationRead"), 1);

    // The same receipt again marks nothing more; a later one covers the second message.
    world.emulator.read_up_to(&ada, &ada_chat, &ada_first).await;
    world
        .emulator
        .interact(
            &ada,
            &ada_chat,
            &ada_second,
            &Interaction::Read {
                last_read_message_id: ada_second.clone(),
            },
        )
        .await;
    assert_eq!(world.read_by_recipient(&second).await, expected(true));
    assert_eq!(world.report(&first).await["read"], 1);
    assert_eq!(world.published("herald.NotificationRead"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_action_submit_is_recorded_and_answered_in_the_chat() {
    let world = start().await;
    let (ada, ada_chat) = world.installed_user("Ada Lovelace").await;
    let id = world.send_approval(&[&ada], "fail").await;
    let copy = world.copy_id(&ada_chat);
    let submit = Interaction::Submit {
        data: json!({"verb": "approve", "comment": "fine by me"}),
    };
    let answered = world
        .emulator
        .interact(&ada, &ada_chat, &copy, &submit)
        .await;
    assert_eq!(answered.status, Some(200), "{answered:?}");
    // Teams has no private answer to a submit: the acknowledgement is a reply in the chat.
    let last = world
        .emulator
        .activities(&ada_chat)
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last.activity["text"], "Thanks, noted.", "{last:?}");
    assert_eq!(world.report(&id).await["actions"], json!({"approve": 1}));
    let received = world.callbacks.lock().unwrap().clone();
    let action: Value = serde_json::from_str(&received.last().unwrap().body).unwrap();
    assert_eq!(action["data"]["comment"], "fine by me");
    assert_eq!(world.published("herald.CardAction"), 1);
}
