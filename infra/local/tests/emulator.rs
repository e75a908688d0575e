//! The runner as a process, driven like Teams would drive it (through the project's Teams
//! emulator, unauthenticated on loopback as Agents Playground does): installs, a message with a
//! time zone, notify-all, an opted-out and a blocked user, then a crash and a restart on the same
//! data directory, and a clean Ctrl-C.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines)]

mod support;

use std::time::Duration;

use chrono::Utc;
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, Fault, TeamsEmulator};
use serde_json::{Value, json};
use support::{
    ANONYMOUS_BOT_ID, API_KEY, Runner, eventually, people_with_chats, personal_activity,
    personal_install,
};

const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
fn install(emulator: &TeamsEmulator, user: &EmulatedUser, chat: &str) -> Value {
    personal_install(emulator, TENANT, user, chat, ANONYMOUS_BOT_ID)
}

fn message(emulator: &TeamsEmulator, user: &EmulatedUser, chat: &str, text: &str) -> Value {
    let mut activity = personal_activity(emulator, "message", TENANT, user, chat, ANONYMOUS_BOT_ID);
    activity["text"] = json!(text);
    activity["textFormat"] = json!("plain");
    activity["entities"] = json!([{"type": "clientInfo", "locale": "en-US", "platform": "Web"}]);
    activity["localTimezone"] = json!("Europe/Berlin");
    activity
}

/// Texts of what the bot posted into a conversation.
fn texts(emulator: &TeamsEmulator, chat: &str) -> Vec<String> {
    emulator
        .activities(chat)
        .iter()
        .map(|a| a.activity.to_string())
        .collect()
}

fn find<'a>(items: &'a [Value], chat: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["conversationId"] == chat)
        .unwrap_or_else(|| panic!("{chat} not in {items:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_notifies_and_survives_a_restart() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().require_auth(false))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let runner = Runner::start(data.path(), &[]).await;
    let banner = runner.output().join("\n");
    assert!(
        banner.contains(&format!("listening   {}", runner.base)),
        "{banner}"
    );
    assert!(banner.contains("MicrosoftAppId is not set"), "{banner}");
    assert!(
        banner.contains(&data.path().display().to_string()),
        "{banner}"
    );

    let users = people_with_chats(&emulator, TENANT, &["Alice", "Bob", "Carol"]);
    let [(alice, alice_chat), (bob, bob_chat), (carol, carol_chat)] = &users[..] else {
        unreachable!()
    };

    // Install: one welcome each, even when Teams redelivers the install.
    for (user, chat) in &users {
        let activity = install(&emulator, user, chat);
        for _ in 0..2 {
            let response = runner.post_activity(&activity).await;
            assert!(response.status().is_success(), "{}", response.status());
        }
    }
    for (_, chat) in &users {
        eventually("the welcome", Duration::from_secs(10), || async {
            !emulator.activities(chat).is_empty()
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (_, chat) in &users {
        assert_eq!(
            emulator.activities(chat).len(),
            1,
            "{:?}",
            texts(&emulator, chat)
        );
    }

    // An activity from elsewhere than loopback is refused without MicrosoftAppId.
    let mut foreign = install(&emulator, alice, alice_chat);
    foreign["serviceUrl"] = json!("https://smba.trafficmanager.net/amer/");
    assert_eq!(runner.post_activity(&foreign).await.status(), 401);

    // A message carrying the user's time zone; Bob opts out.
    let response = runner
        .post_activity(&message(&emulator, alice, alice_chat, "hello"))
        .await;
    assert!(response.status().is_success());
    let response = runner
        .post_activity(&message(&emulator, bob, bob_chat, "stop"))
        .await;
    assert!(response.status().is_success());
    let installed = runner.installations("").await;
    assert_eq!(installed.len(), 3, "{installed:?}");
    assert_eq!(find(&installed, alice_chat)["timeZone"], "Europe/Berlin");
    assert_eq!(find(&installed, bob_chat)["status"], "optedOut");

    // Carol blocked the bot; Teams tells on the next send.
    emulator.inject(carol_chat, Fault::MessageWritesBlocked);
    let before: Vec<usize> = users
        .iter()
        .map(|(_, chat)| emulator.activities(chat).len())
        .collect();
    let report = runner
        .notify_and_wait(&json!({
            "target": {"kind": "all"},
            "message": {"text": "Maintenance tonight at 22:00"},
        }))
        .await;
    assert_eq!(report["counts"]["sent"], 1, "{report}");
    assert_eq!(report["counts"]["blocked"], 1, "{report}");
    assert_eq!(report["counts"]["skippedOptedOut"], 1, "{report}");

    let after: Vec<usize> = users
        .iter()
        .map(|(_, chat)| emulator.activities(chat).len())
        .collect();
    assert_eq!(after[0], before[0] + 1, "Alice gets it once");
    assert_eq!(after[1], before[1], "Bob opted out");
    assert_eq!(after[2], before[2], "Carol blocked the bot");
    let last = emulator
        .activities(alice_chat)
        .last()
        .unwrap()
        .activity
        .clone();
    assert!(last.to_string().contains("Maintenance tonight"), "{last}");

    let blocked = runner.installations("&status=blocked").await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["conversationId"], carol_chat.as_str());
    assert_eq!(carol.id, blocked[0]["user"]["id"].as_str().unwrap());

    // A crash, then a restart on the same data: everything is still there and still works.
    runner.kill();
    let runner = Runner::start(data.path(), &[]).await;
    let installed = runner.installations("").await;
    assert_eq!(installed.len(), 3, "{installed:?}");
    assert_eq!(find(&installed, alice_chat)["status"], "active");
    assert_eq!(find(&installed, alice_chat)["timeZone"], "Europe/Berlin");
    assert_eq!(find(&installed, bob_chat)["status"], "optedOut");
    assert_eq!(find(&installed, carol_chat)["status"], "blocked");
    runner
        .notify_and_wait(
            &json!({"target": {"kind": "all"}, "message": {"text": "After the restart"}}),
        )
        .await;
    assert_eq!(emulator.activities(alice_chat).len(), after[0] + 1);
    assert_eq!(emulator.activities(bob_chat).len(), after[1]);

    // Ctrl-C stops it cleanly: the server drains, the feed stops, exit status 0.
    let (clean, output) = runner.interrupt();
    assert!(clean, "exit status after Ctrl-C:\n{}", output.join("\n"));
    assert!(output.iter().any(|l| l.contains("stopped")), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_api_needs_the_key_and_events_route() {
    let data = tempfile::tempdir().unwrap();
    let routes = json!([{
        "source": "contoso.billing",
        "detailType": "InvoiceOverdue",
        "target": {"kind": "all"},
        "message": {"text": "Invoice ${invoice} is overdue"},
    }])
    .to_string();
    let runner = Runner::start(data.path(), &[("HERALD_EVENT_ROUTES", routes)]).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/api/notify", runner.base))
        .json(&json!({"target": {"kind": "all"}, "message": {"text": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .post(format!("{}/api/notify", runner.base))
        .bearer_auth("wrong")
        .json(&json!({"target": {"kind": "all"}, "message": {"text": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // /api/events is an API route like the others: no key, no event.
    let event_body = json!({"Entries": [{"Source": "contoso.billing",
        "DetailType": "InvoiceOverdue", "Detail": "{\"invoice\": \"INV-6\"}"}]});
    let response = http
        .post(format!("{}/api/events", runner.base))
        .json(&event_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // What a web page may post across origins without a preflight is refused, key or not.
    for (path, body) in [
        ("/api/events", event_body.to_string()),
        (
            "/api/notify",
            json!({"target": {"kind": "all"}, "message": {"text": "x"}}).to_string(),
        ),
    ] {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let response = http
                .post(format!("{}{path}", runner.base))
                .bearer_auth(API_KEY)
                .header("content-type", content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 415, "{path} as {content_type}");
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["error"]["code"], "UnsupportedMediaType", "{answer}");
        }
    }

    // PutEvents shape: a routed entry becomes a notification, a malformed one fails alone.
    let (status, body) = runner
        .post(
            "/api/events",
            &json!({"Entries": [
                {"Source": "contoso.billing", "DetailType": "InvoiceOverdue", "Detail": "{\"invoice\": \"INV-7\"}"},
                {"Source": "contoso.billing", "DetailType": "InvoiceOverdue", "Detail": "not json"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["FailedEntryCount"], 1, "{body}");
    let id = body["Entries"][0]["NotificationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = runner.wait_done(&id).await;
    assert_eq!(report["source"], "event:route0:InvoiceOverdue", "{report}");

    // One EventBridge event as a rule target receives it; the same event id is one notification.
    let event = json!({
        "version": "0", "id": "evt-1", "source": "contoso.billing",
        "detail-type": "InvoiceOverdue", "account": "1", "region": "local",
        "time": "2026-01-01T00:00:00Z", "resources": [], "detail": {"invoice": "INV-8"},
    });
    let (status, first) = runner.post("/api/events", &event).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["routed"], true, "{first}");
    let (_, second) = runner.post("/api/events", &event).await;
    assert_eq!(first["notificationId"], second["notificationId"]);
    // The same event id with another detail is no retry: refused, not silently dropped.
    let mut changed = event.clone();
    changed["detail"] = json!({"invoice": "INV-9"});
    let (status, refused) = runner.post("/api/events", &changed).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(
        refused["error"]["code"], "IdempotencyKeyReused",
        "{refused}"
    );
    let mut unrouted = event.clone();
    unrouted["source"] = json!("someone.else");
    let (status, body) = runner.post("/api/events", &unrouted).await;
    assert_eq!((status, &body["routed"]), (200, &json!(false)), "{body}");
    let (status, _) = runner.post("/api/events", &json!({"nonsense": true})).await;
    assert_eq!(status, 400);
    assert!(runner.interrupt().0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minute_tick_fires_schedules() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().require_auth(false))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let runner = Runner::start(data.path(), &[]).await;
    let user = emulator.add_user(TENANT, "Gus");
    let chat = emulator.add_personal_chat(TENANT, &user.id);
    let response = runner
        .post_activity(&install(&emulator, &user, &chat))
        .await;
    assert!(response.status().is_success());
    assert_eq!(emulator.activities(&chat).len(), 1, "the welcome");

    // Once, at the next whole minute (UTC): the runner's own tick must fire it.
    let next = Utc::now() + chrono::Duration::minutes(1);
    let at = next.format("%Y-%m-%dT%H:%M").to_string();
    let (status, created) = runner
        .post(
            "/api/schedules",
            &json!({
                "target": {"kind": "all"},
                "message": {"text": "Stand-up in 5 minutes"},
                "recurrence": {"kind": "once", "at": at},
                "timeZone": "UTC",
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    eventually(
        "the scheduled message",
        Duration::from_secs(100),
        || async { emulator.activities(&chat).len() >= 2 },
    )
    .await;
    let activities = emulator.activities(&chat);
    assert!(
        activities[1]
            .activity
            .to_string()
            .contains("Stand-up in 5 minutes"),
        "{:?}",
        activities[1].activity
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(emulator.activities(&chat).len(), 2, "fired once");
    assert!(runner.interrupt().0);
}
