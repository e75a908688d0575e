//! Reading `message` and rendering its activity: fields, text, summary, alert, the size limit.

use serde_json::json;

use super::*;

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
