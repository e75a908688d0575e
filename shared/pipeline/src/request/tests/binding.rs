//! `${...}` placeholders bound from `data`, and the paths they may name.

use serde_json::json;

use super::*;
use crate::request::binding::{Segment, parse_path};

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
