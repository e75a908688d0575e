//! Card pieces every Herald message shares.

use serde_json::{Value, json};

/// `data.herald` of the opt-out button. The webhook recognises it from an `Action.Submit`
/// message or an `Action.Execute` invoke, whichever card sent it.
pub const OPT_OUT_VERB: &str = "herald.optOut";

/// The opt-out button: an `Action.Submit` that Teams also delivers as the text "stop", so it
/// works in every scope and with every client.
#[must_use]
pub fn opt_out_action() -> Value {
    json!({
        "type": "Action.Submit",
        "title": "Stop these notifications",
        "data": {
            "herald": OPT_OUT_VERB,
            "msteams": {"type": "messageBack", "text": "stop", "displayText": "stop"},
        },
    })
}
