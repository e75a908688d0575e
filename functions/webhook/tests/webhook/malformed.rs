//! Bad input: malformed JSON, oversized bodies, missing fields, and a sweep of truncated and
//! mangled fixtures that must each get an answer (never a panic, never a 5xx).

use herald_domain::ConversationType;
use herald_teams_emulator::identity::TokenKind;
use herald_testkit::http::Response as HttpReply;
use serde_json::{Value, json};

use crate::support::{Harness, Payload, all_fixtures, error_message};

impl Harness {
    fn bearer(&self) -> String {
        format!(
            "Bearer {}",
            self.token(&self.emulator.service_url(), TokenKind::Valid)
        )
    }

    /// Every fixture, filled in for a team with a channel and the personal user.
    fn every_fixture(&self) -> Vec<Payload> {
        let team = self.team("Contoso Ops");
        let channel = self.channel(&team, "Incidents");
        all_fixtures()
            .iter()
            .map(|name| {
                self.activity(name)
                    .team(&team)
                    .channel(&channel, "Incidents")
            })
            .collect()
    }
}

/// Anything but a well-formed 4xx error (or a plain 200) is a failure; returns the status.
fn assert_answered(reply: &HttpReply, what: &str) -> u16 {
    match reply.status {
        200 => {}
        400 | 401 | 413 => {
            let body = reply
                .body
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: no body"));
            assert!(body["error"]["code"].is_string(), "{what}: {body}");
            assert!(body["error"]["message"].is_string(), "{what}: {body}");
        }
        other => panic!("{what}: status {other}: {reply:?}"),
    }
    reply.status
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_why() {
    let h = Harness::new().await;
    let auth = h.bearer();
    for (body, expected) in [
        (&b"{\"type\": \"message\", "[..], "EOF while parsing"),
        (b"not json", "expected ident"),
        (b"", "EOF while parsing"),
        (b"[]", "expected struct InboundActivity"),
        (b"\"message\"", "invalid type: string"),
        (
            b"{\"type\": 7}",
            "invalid type: integer `7`, expected a string",
        ),
        (b"{\"conversation\": \"a:1\"}", "invalid type: string"),
        (b"{\"type\": \"message\"} trailing", "trailing characters"),
        (b"\xff\xfe{}", "expected value"),
    ] {
        let reply = h.handle(Some(&auth), body).await;
        let message = error_message(&reply, 400, "BadRequest");
        assert!(
            message.starts_with("invalid activity JSON: ") && message.contains(expected),
            "{:?}: {message}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(h.all().await.is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let h = Harness::new().await;
    let limit = h.webhook.config.max_body_bytes;
    let mut activity = h.activity("message_personal_local_timezone").json();
    activity["text"] = Value::String("x".repeat(limit));
    let body = serde_json::to_vec(&activity).unwrap();
    assert!(body.len() > limit);
    let reply = h.handle(Some(&h.bearer()), &body).await;
    let message = error_message(&reply, 413, "PayloadTooLarge");
    assert!(message.contains(&limit.to_string()), "{message}");
    // Checked before anything else: no token needed to be told.
    let reply = h.handle(None, &body).await;
    error_message(&reply, 413, "PayloadTooLarge");
    assert!(h.all().await.is_empty());
    assert_eq!(h.bot_writes(), 0);

    // Just under the limit is processed.
    let overhead = body.len() - limit;
    activity["text"] = Value::String(format!("status {}", "x".repeat(limit - overhead - 7)));
    let body = serde_json::to_vec(&activity).unwrap();
    assert!(body.len() <= limit);
    assert_eq!(h.handle(Some(&h.bearer()), &body).await.status, 200);
}

#[tokio::test]
async fn missing_identity_fields_are_400s_naming_the_field() {
    let h = Harness::new().await;
    let install = h.activity("personal_install");
    for (pointer, field) in [
        ("/from/id", "from.id"),
        ("/conversation/id", "conversation.id"),
    ] {
        let activity = install.edited(|a| {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            a.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
        });
        let reply = h.post_json(&activity).await;
        let message = error_message(&reply, 400, "BadRequest");
        assert!(message.contains(field), "{pointer}: {message}");
    }
    // No tenant anywhere.
    let activity = install.edited(|a| {
        a["conversation"]
            .as_object_mut()
            .unwrap()
            .remove("tenantId");
        a["channelData"].as_object_mut().unwrap().remove("tenant");
    });
    let message = error_message(&h.post_json(&activity).await, 400, "BadRequest");
    assert!(message.contains("tenantId"), "{message}");
    let activity = install.edited(|a| a["conversation"]["conversationType"] = json!("meeting"));
    let message = error_message(&h.post_json(&activity).await, 400, "BadRequest");
    assert!(
        message.contains("conversation.conversationType"),
        "{message}"
    );
    assert!(h.all().await.is_empty());
    assert_eq!(h.bot_writes(), 0);
}

/// `conversation.conversationType` is optional in the Bot Framework schema and many Teams
/// activities leave it out: the type is read from the rest of the activity instead.
#[tokio::test]
async fn a_missing_conversation_type_is_inferred_not_refused() {
    let h = Harness::new().await;
    let without_type = |payload: &Payload| {
        payload.edited(|a| {
            a["conversation"]
                .as_object_mut()
                .unwrap()
                .remove("conversationType");
        })
    };
    // Personal: no team, channel or isGroup.
    let reply = h
        .post_json(&without_type(&h.activity("personal_install")))
        .await;
    assert_eq!(reply, HttpReply::ok());
    let personal = h.stored(&h.personal).await;
    assert_eq!(personal.conversation_type, ConversationType::Personal);
    assert_eq!(personal.user.unwrap().id.as_str(), h.user.id);
    h.one_welcome(&h.personal);

    // Group chat: isGroup without a team.
    let group = h.group_chat();
    let install = h.activity("group_install").set("CONVERSATION_ID", &group);
    assert_eq!(h.post_json(&without_type(&install)).await, HttpReply::ok());
    assert_eq!(
        h.stored(&group).await.conversation_type,
        ConversationType::GroupChat
    );

    // Channel: channelData names the team (and a mention, the channel).
    let team = h.team("Contoso Ops");
    let install = h.activity("team_install").team(&team);
    assert_eq!(h.post_json(&without_type(&install)).await, HttpReply::ok());
    let general = h.stored(&team.id).await;
    assert_eq!(general.conversation_type, ConversationType::Channel);
    assert_eq!(general.team.unwrap().id.as_str(), team.id);
    let mention = h
        .activity("message_channel_mention")
        .team(&team)
        .channel(&team.id, "General")
        .text("<at>Herald</at> status");
    assert_eq!(h.post_json(&without_type(&mention)).await, HttpReply::ok());
    assert_eq!(
        h.emulator.activities(&team.id).len(),
        2,
        "welcome and answer"
    );
}

#[tokio::test]
async fn every_truncation_of_every_fixture_is_a_400() {
    let h = Harness::new().await;
    let auth = h.bearer();
    let mut checked = 0;
    for payload in h.every_fixture() {
        let body = payload.bytes();
        let end = body.trim_ascii_end().len();
        for cut in 0..end {
            let reply = h.handle(Some(&auth), &body[..cut]).await;
            assert_eq!(
                reply.status, 400,
                "{} cut at {cut}: {reply:?}",
                payload.fixture
            );
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
    assert!(h.all().await.is_empty());
}

/// Values a field could be mangled into.
fn manglings() -> Vec<Option<Value>> {
    vec![
        None,
        Some(Value::Null),
        Some(json!(0)),
        Some(json!(true)),
        Some(json!("")),
        Some(json!([])),
        Some(json!({})),
        Some(json!("\u{0}\n\u{7f}<at>")),
        Some(Value::String("x".repeat(2_000))),
    ]
}

/// Every field path down to `depth`, objects included.
fn paths(value: &Value, prefix: &str, depth: usize, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{key}");
                out.push(path.clone());
                paths(child, &path, depth - 1, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                paths(child, &path, depth - 1, out);
            }
        }
        _ => {}
    }
}

fn mangle(activity: &Value, path: &str, to: Option<&Value>) -> Value {
    let mut activity = activity.clone();
    let (parent, key) = path.rsplit_once('/').unwrap();
    match (activity.pointer_mut(parent).unwrap(), to) {
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Object(map), Some(to)) => {
            map.insert(key.to_owned(), to.clone());
        }
        (Value::Array(items), None) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        (Value::Array(items), Some(to)) => {
            items[key.parse::<usize>().unwrap()] = to.clone();
        }
        _ => unreachable!(),
    }
    activity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_fields_are_answered_never_a_panic_or_5xx() {
    let h = Harness::new().await;
    let auth = h.bearer();
    let mut statuses = std::collections::BTreeMap::new();
    let fixtures = h.every_fixture();
    let chosen = [
        "personal_install",
        "team_install",
        "message_channel_mention",
        "invoke_adaptive_card_action",
        "message_card_submit",
        "channel_created",
        "team_members_added",
    ];
    for payload in fixtures
        .iter()
        .filter(|p| chosen.contains(&p.fixture.as_str()))
    {
        let activity = payload.json();
        let mut fields = Vec::new();
        paths(&activity, "", 3, &mut fields);
        for path in &fields {
            for to in manglings() {
                let mangled = mangle(&activity, path, to.as_ref());
                let body = serde_json::to_vec(&mangled).unwrap();
                let reply = h.handle(Some(&auth), &body).await;
                let what = format!("{} {path} -> {to:?}", payload.fixture);
                let status = assert_answered(&reply, &what);
                *statuses.entry(status).or_insert(0_usize) += 1;
            }
        }
    }
    // The sweep exercised every answer, not just the parser.
    for status in [200, 400, 401] {
        assert!(
            statuses.get(&status).is_some_and(|n| *n > 10),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn random_bytes_and_bit_flips_are_answered() {
    let h = Harness::new().await;
    let auth = h.bearer();
    // A fixed xorshift sequence: reproducible without a dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let len = (next() % 512) as usize;
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let reply = h.handle(Some(&auth), &body).await;
        assert_answered(&reply, "random bytes");
    }
    let install = h.activity("personal_install").bytes();
    for _ in 0..300 {
        let mut body = install.clone();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % body.len();
            body[at] ^= 1 << (next() % 8);
        }
        let reply = h.handle(Some(&auth), &body).await;
        assert_answered(&reply, &String::from_utf8_lossy(&body));
    }
}
