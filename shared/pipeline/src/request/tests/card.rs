//! The opt-out button on the message's card, or on a card of its own.

use herald_domain::cards::{self, OPT_OUT_VERB};
use serde_json::json;

use super::*;

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
