use chrono::TimeZone as _;
use herald_domain::cards::OPT_OUT_VERB;

use super::*;

fn card() -> Value {
    json!({
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Hello ${user.name}"},
            {"type": "TextBlock", "text": "${items[1].title} is due"},
        ],
    })
}

fn body(message: Value) -> Value {
    let mut body = json!({"target": {"kind": "all"}});
    body["message"] = message;
    body
}

/// The error `body` gets, asserting its field and code.
fn rejected(body: &Value, code: &str, field: &str) -> RequestError {
    let error = NotifyRequest::from_json(body).expect_err("must be rejected");
    assert_eq!((error.code(), error.field()), (code, field), "{error}");
    assert!(!error.to_string().is_empty());
    error
}

#[test]
fn reads_every_target_kind() {
    let cases = [
        (json!({"kind": "all"}), Target::All),
        (
            json!({"kind": "type", "type": "channel"}),
            Target::Type {
                conversation_type: ConversationType::Channel,
            },
        ),
        (
            json!({"kind": "tenant", "tenantId": "t1"}),
            Target::Tenant {
                tenant_id: TenantId::new("t1").unwrap(),
            },
        ),
        (
            json!({"kind": "team", "teamId": "19:x@thread.tacv2", "channel": "*"}),
            Target::Team {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
                channel: "*".into(),
            },
        ),
        (
            json!({"kind": "team", "teamId": "19:x@thread.tacv2"}),
            Target::Team {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
                channel: "General".into(),
            },
        ),
        (
            json!({"kind": "teamMembers", "teamId": "19:x@thread.tacv2"}),
            Target::TeamMembers {
                team_id: TeamId::new("19:x@thread.tacv2").unwrap(),
            },
        ),
        (
            json!({"kind": "person", "aadObjectId": "aad-1", "tenantId": "t1"}),
            Target::Person {
                aad_object_id: AadObjectId::new("aad-1").unwrap(),
                tenant_id: TenantId::new("t1").unwrap(),
            },
        ),
        (
            // Teams spells GUIDs in lowercase: capitals still match, and repeats go.
            json!({"kind": "users", "tenantId": "0D9A32F0-1C3E-4C9B-9A57-6E1B3A4C5D6E",
                   "aadObjectIds": ["A1B2C3D4-0000-4000-8000-00000000000A",
                                    "a1b2c3d4-0000-4000-8000-00000000000a",
                                    "5b649834-7412-4cce-9e69-176e95a394f5"]}),
            Target::Users {
                aad_object_ids: vec![
                    AadObjectId::new("a1b2c3d4-0000-4000-8000-00000000000a").unwrap(),
                    AadObjectId::new("5b649834-7412-4cce-9e69-176e95a394f5").unwrap(),
                ],
                tenant_id: TenantId::new("0d9a32f0-1c3e-4c9b-9a57-6e1b3a4c5d6e").unwrap(),
            },
        ),
        (
            json!({"kind": "conversations", "ids": ["a:1", "19:g@thread.v2", "a:1"]}),
            Target::Conversations {
                ids: vec![
                    ConversationId::new("a:1").unwrap(),
                    ConversationId::new("19:g@thread.v2").unwrap(),
                ],
            },
        ),
    ];
    for (target, expected) in cases {
        let request =
            NotifyRequest::from_json(&json!({"target": target, "message": {"text": "hi"}}))
                .unwrap();
        assert_eq!(request.target, expected);
        // The stored form reads back as the same target (the sender deserializes it).
        let stored = serde_json::to_value(&request.target).unwrap();
        assert_eq!(serde_json::from_value::<Target>(stored).unwrap(), expected);
    }
}

#[test]
fn every_target_error_names_its_field() {
    let text = json!({"text": "hi"});
    let cases = [
        (json!(null), "target"),
        (json!("all"), "target"),
        (json!({}), "target.kind"),
        (json!({"kind": 3}), "target.kind"),
        (json!({"kind": "everyone"}), "target.kind"),
        (json!({"kind": "all", "tenantId": "t"}), "target.tenantId"),
        (json!({"kind": "type"}), "target.type"),
        (json!({"kind": "type", "type": "meeting"}), "target.type"),
        (json!({"kind": "tenant"}), "target.tenantId"),
        (
            json!({"kind": "users", "tenantId": "t"}),
            "target.aadObjectIds",
        ),
        (
            json!({"kind": "users", "tenantId": "t", "aadObjectIds": []}),
            "target.aadObjectIds",
        ),
        (
            json!({"kind": "users", "tenantId": "t",
                   "aadObjectIds": ["5b649834-7412-4cce-9e69-176e95a394f5", ".."]}),
            "target.aadObjectIds[1]",
        ),
        (
            json!({"kind": "users", "aadObjectIds": ["5b649834-7412-4cce-9e69-176e95a394f5"]}),
            "target.tenantId",
        ),
        (
            json!({"kind": "tenant", "tenantId": " "}),
            "target.tenantId",
        ),
        (
            json!({"kind": "tenant", "tenantId": "t\u{7}"}),
            "target.tenantId",
        ),
        (
            json!({"kind": "team", "channel": "General"}),
            "target.teamId",
        ),
        (
            json!({"kind": "team", "teamId": "t", "channel": 5}),
            "target.channel",
        ),
        (json!({"kind": "teamMembers", "teamId": 1}), "target.teamId"),
        (
            json!({"kind": "person", "tenantId": "t"}),
            "target.aadObjectId",
        ),
        (
            json!({"kind": "person", "aadObjectId": "a"}),
            "target.tenantId",
        ),
        (json!({"kind": "conversations"}), "target.ids"),
        (json!({"kind": "conversations", "ids": []}), "target.ids"),
        (json!({"kind": "conversations", "ids": "a:1"}), "target.ids"),
        (
            json!({"kind": "conversations", "ids": ["a:1", ""]}),
            "target.ids[1]",
        ),
        (
            json!({"kind": "conversations", "ids": ["a:1", 7]}),
            "target.ids[1]",
        ),
    ];
    for (target, field) in cases {
        let body = if target.is_null() {
            json!({"message": text})
        } else {
            json!({"target": target, "message": text})
        };
        rejected(&body, "InvalidTarget", field);
    }
    let many: Vec<String> = (0..=MAX_CONVERSATION_IDS)
        .map(|n| format!("a:{n}"))
        .collect();
    rejected(
        &json!({"target": {"kind": "conversations", "ids": many}, "message": text}),
        "InvalidTarget",
        "target.ids",
    );
}

#[test]
fn every_message_error_names_its_field() {
    let cases = [
        (json!("hi"), "InvalidMessage", "message"),
        (json!({}), "InvalidMessage", "message"),
        (json!({"summary": "s"}), "InvalidMessage", "message"),
        (json!({"text": ""}), "InvalidMessage", "message.text"),
        (json!({"text": 1}), "InvalidMessage", "message.text"),
        (
            json!({"text": "t", "summary": 1}),
            "InvalidMessage",
            "message.summary",
        ),
        (
            json!({"text": "t", "alert": "yes"}),
            "InvalidMessage",
            "message.alert",
        ),
        (
            json!({"text": "t", "optOutButton": 1}),
            "InvalidMessage",
            "message.optOutButton",
        ),
        (
            json!({"text": "t", "data": [1]}),
            "InvalidMessage",
            "message.data",
        ),
        (
            json!({"text": "t", "optOutButon": true}),
            "InvalidMessage",
            "message.optOutButon",
        ),
        (json!({"card": []}), "InvalidCard", "message.card"),
        (
            json!({"card": {"version": "1.5"}}),
            "InvalidCard",
            "message.card.type",
        ),
        (
            json!({"card": {"type": "HeroCard", "version": "1.5"}}),
            "InvalidCard",
            "message.card.type",
        ),
        (
            json!({"card": {"type": "AdaptiveCard"}}),
            "InvalidCard",
            "message.card.version",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": 1.5}}),
            "InvalidCard",
            "message.card.version",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "latest"}}),
            "InvalidCard",
            "message.card.version",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5", "body": {}}}),
            "InvalidCard",
            "message.card.body",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5", "body": ["x"]}}),
            "InvalidCard",
            "message.card.body[0]",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5",
                             "body": [{"type": "TextBlock"}, {"text": "no type"}]}}),
            "InvalidCard",
            "message.card.body[1].type",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5", "actions": [{}]}}),
            "InvalidCard",
            "message.card.actions[0].type",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5",
                             "body": [{"type": "TextBlock", "text": "${if(a, b, c)}"}]}}),
            "InvalidCard",
            "message.card.body[0].text",
        ),
        (
            json!({"card": {"type": "AdaptiveCard", "version": "1.5",
                             "body": [{"type": "TextBlock", "text": "${open"}]}}),
            "InvalidCard",
            "message.card.body[0].text",
        ),
    ];
    for (message, code, field) in cases {
        rejected(&body(message), code, field);
    }
}

#[test]
fn top_level_errors_name_their_field() {
    rejected(&json!([]), "InvalidRequest", "");
    rejected(
        &json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotency": "k"}),
        "InvalidRequest",
        "idempotency",
    );
    for key in [json!(""), json!(5), json!("a\nb"), json!("k".repeat(257))] {
        rejected(
            &json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotencyKey": key}),
            "InvalidRequest",
            "idempotencyKey",
        );
    }
    let error = NotifyRequest::from_slice(b"{\"target\": ").unwrap_err();
    assert_eq!(
        (error.code(), error.field(), error.status()),
        ("InvalidJson", "", 400)
    );
}

#[test]
fn placeholders_bind_from_data() {
    let request = NotifyRequest::from_json(&body(json!({
        "card": {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [
                {"type": "TextBlock", "text": "Hello ${user.name}, ${ user.name }!"},
                {"type": "TextBlock", "text": "${items[1].title} is due", "isVisible": "${show}"},
                {"type": "FactSet", "facts": "${facts}"},
                {"type": "TextBlock", "text": "${count} left, root ${$root.count}, none ${gone}"},
            ],
        },
        "data": {
            "user": {"name": "Megan"},
            "items": [{"title": "one"}, {"title": "Q3 report"}],
            "show": false,
            "count": 3,
            "gone": null,
            "facts": [{"title": "a", "value": "b"}],
        },
    })))
    .unwrap();
    let content = &request.activity["attachments"][0]["content"];
    assert_eq!(content["body"][0]["text"], "Hello Megan, Megan!");
    assert_eq!(content["body"][1]["text"], "Q3 report is due");
    // A string that is one placeholder keeps the value's type.
    assert_eq!(content["body"][1]["isVisible"], json!(false));
    assert_eq!(
        content["body"][2]["facts"],
        json!([{"title": "a", "value": "b"}])
    );
    assert_eq!(content["body"][3]["text"], "3 left, root 3, none ");
    assert_eq!(
        request.activity["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
}

#[test]
fn missing_placeholders_are_one_error_listing_all() {
    let error = rejected(
        &body(json!({
            "card": {
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": [
                    {"type": "TextBlock", "text": "${user.name} ${user.email} ${user.name}"},
                    {"type": "TextBlock", "text": "${items[3].title}"},
                    {"type": "TextBlock", "text": "${user.name.first}"},
                ],
            },
            "data": {"user": {"name": "Megan"}, "items": []},
        })),
        "MissingPlaceholders",
        "message.data",
    );
    assert_eq!(
        error,
        RequestError::MissingPlaceholders {
            field: "message.data".into(),
            paths: vec![
                "user.email".into(),
                "items[3].title".into(),
                "user.name.first".into()
            ],
        }
    );
    assert!(error.to_string().contains("${items[3].title}"), "{error}");
    // Without data every placeholder is missing.
    let error = rejected(
        &body(json!({"card": card()})),
        "MissingPlaceholders",
        "message.data",
    );
    let RequestError::MissingPlaceholders { paths, .. } = error else {
        unreachable!()
    };
    assert_eq!(paths, ["user.name", "items[1].title"]);
}

#[test]
fn text_summary_and_alert_render_as_teams_expects() {
    let request = NotifyRequest::from_json(&body(json!({
        "text": "Deploy done", "summary": "Deploy", "alert": true,
    })))
    .unwrap();
    assert_eq!(
        request.activity,
        json!({
            "type": "message",
            "text": "Deploy done",
            "summary": "Deploy",
            "channelData": {"notification": {"alert": true}},
        })
    );
    let quiet = NotifyRequest::from_json(&body(json!({"text": "t", "alert": false}))).unwrap();
    assert_eq!(quiet.activity, json!({"type": "message", "text": "t"}));
}

#[test]
fn opt_out_button_joins_the_card_or_comes_with_its_own() {
    let data = json!({"user": {"name": "M"}, "items": [{}, {"title": "x"}]});
    let mut with_actions = card();
    with_actions["actions"] =
        json!([{"type": "Action.OpenUrl", "title": "Open", "url": "https://x"}]);
    let request = NotifyRequest::from_json(&body(json!({
        "card": with_actions, "data": data, "optOutButton": true,
    })))
    .unwrap();
    let actions = &request.activity["attachments"][0]["content"]["actions"];
    assert_eq!(actions.as_array().unwrap().len(), 2);
    assert_eq!(actions[1], cards::opt_out_action());
    assert_eq!(actions[1]["data"]["herald"], OPT_OUT_VERB);

    let request = NotifyRequest::from_json(&body(json!({
        "card": card(), "data": data, "optOutButton": true,
    })))
    .unwrap();
    assert_eq!(
        request.activity["attachments"][0]["content"]["actions"],
        json!([cards::opt_out_action()])
    );

    let text_only =
        NotifyRequest::from_json(&body(json!({"text": "hi", "optOutButton": true}))).unwrap();
    assert_eq!(text_only.activity["text"], "hi");
    let attachments = text_only.activity["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["content"]["type"], "AdaptiveCard");
    assert_eq!(
        attachments[0]["content"]["actions"],
        json!([cards::opt_out_action()])
    );
    let plain = NotifyRequest::from_json(&body(json!({"text": "hi"}))).unwrap();
    assert!(plain.activity.get("attachments").is_none());
}

#[test]
fn activities_over_the_teams_limit_are_413() {
    // Just under: the envelope is `{"type":"message","text":"..."}` (28 bytes around the text).
    let fits = "x".repeat(MAX_ACTIVITY_BYTES - 28);
    let request = NotifyRequest::from_json(&body(json!({"text": fits}))).unwrap();
    assert_eq!(
        serde_json::to_vec(&request.activity).unwrap().len(),
        MAX_ACTIVITY_BYTES
    );

    let over = "x".repeat(MAX_ACTIVITY_BYTES - 27);
    let error = rejected(&body(json!({"text": over})), "MessageTooLarge", "message");
    assert_eq!(error.status(), 413);

    // Binding can push a small card over the limit: the rendered size counts.
    let error = rejected(
        &body(json!({
            "card": {"type": "AdaptiveCard", "version": "1.5",
                     "body": [{"type": "TextBlock", "text": "${big}"}]},
            "data": {"big": "y".repeat(MAX_ACTIVITY_BYTES)},
        })),
        "MessageTooLarge",
        "message",
    );
    let RequestError::MessageTooLarge { bytes, limit, .. } = error else {
        unreachable!()
    };
    assert!(bytes > limit && limit == MAX_ACTIVITY_BYTES);
}

#[test]
fn bare_messages_name_fields_relative_to_themselves() {
    let error = Message::from_json(&json!({"card": {"type": "AdaptiveCard"}})).unwrap_err();
    assert_eq!(error.field(), "card.version");
    let error = Message::from_json(&json!({"card": card()}))
        .unwrap()
        .render()
        .unwrap_err();
    assert_eq!(
        (error.code(), error.field()),
        ("MissingPlaceholders", "data")
    );
    let activity = Message::from_json(&json!({"text": "v2"}))
        .unwrap()
        .render()
        .unwrap();
    assert_eq!(activity, json!({"type": "message", "text": "v2"}));
}

#[test]
fn notifications_take_their_id_from_the_idempotency_key() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let keyed =
        json!({"target": {"kind": "all"}, "message": {"text": "t"}, "idempotencyKey": "deploy-42"});
    let a =
        NotifyRequest::from_json(&keyed)
            .unwrap()
            .into_notification("api", now, Duration::days(30));
    let b = NotifyRequest::from_json(&keyed).unwrap().into_notification(
        "event:x",
        now,
        Duration::days(30),
    );
    assert_eq!(a.id, b.id);
    assert_eq!(a.id, NotificationId::for_idempotency_key("deploy-42"));
    assert_eq!(a.idempotency_key.as_deref(), Some("deploy-42"));
    assert_eq!(a.source, "api");
    assert_eq!(a.expires_at, (now + Duration::days(30)).timestamp());
    assert_eq!(a.activity, json!({"type": "message", "text": "t"}));

    let unkeyed = body(json!({"text": "t"}));
    let c = NotifyRequest::from_json(&unkeyed)
        .unwrap()
        .into_notification("api", now, Duration::days(30));
    let d = NotifyRequest::from_json(&unkeyed)
        .unwrap()
        .into_notification("api", now, Duration::days(30));
    assert_ne!(c.id, d.id);
    assert_eq!(c.idempotency_key, None);
}

#[test]
fn paths_parse_strictly() {
    assert_eq!(
        parse_path("items[10].title"),
        Some(vec![
            Segment::Key("items".into()),
            Segment::Index(10),
            Segment::Key("title".into())
        ])
    );
    assert_eq!(parse_path("a[0][1]").map(|p| p.len()), Some(3));
    for bad in [
        "", ".a", "a.", "a..b", "[0]", "a[]", "a[x]", "a b", "f(x)", "a[0",
    ] {
        assert_eq!(parse_path(bad), None, "{bad}");
    }
}
