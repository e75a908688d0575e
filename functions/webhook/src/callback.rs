//! Callbacks: a card action POSTed, signed, to the URL the notification named, and its answer.
//!
//! The body is the `herald.CardAction` event's detail. The `X-Herald-Signature` header is
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}" with HERALD_CALLBACK_SECRET>`, so a
//! receiver can check that Herald sent it and refuse old or replayed requests (README "Card
//! actions and callbacks"). Only hosts on `HERALD_CALLBACK_HOSTS` are called, redirects are not
//! followed, and the call has a budget that leaves time to answer Teams, which waits about 15
//! seconds for an invoke
//! (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>).

use std::sync::OnceLock;
use std::time::Duration;

use herald_domain::cards::CardAnswer;
use herald_pipeline::request::{CallbackHosts, Message, parse_answer, parse_callback_url};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Herald-Signature";
/// The header that carries the action's id (the same for every redelivery of one press).
pub const ACTION_ID_HEADER: &str = "X-Herald-Action-Id";
/// How old a signed request a receiver should still accept; README and OpenAPI say so too.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// Answers larger than this are not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The callback settings of the webhook.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackConfig {
    /// `HERALD_CALLBACK_HOSTS`.
    pub hosts: CallbackHosts,
    /// `HERALD_CALLBACK_SECRET`: without it no callback is made (people get the
    /// acknowledgement).
    pub secret: Option<String>,
    /// `HERALD_CALLBACK_TIMEOUT_MS` (default 5000).
    pub timeout: Duration,
}

impl std::fmt::Debug for CallbackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackConfig")
            .field("hosts", &self.hosts)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a callback answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallbackReply {
    /// What the person who pressed sees.
    pub answer: Option<CardAnswer>,
    /// The activity every copy gets from now on (`updateAll`, a message as
    /// `PUT /api/notifications/{id}/message` takes it).
    pub update_all: Option<Value>,
}

/// Why a callback gave no usable answer (logged; the person gets the acknowledgement).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no HERALD_CALLBACK_SECRET to sign callbacks with")]
    NoSecret,
    #[error("callback URL refused: {0}")]
    NotAllowed(String),
    #[error("the callback did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the callback answered {0}")]
    Status(u16),
    #[error("the callback's answer is unusable: {0}")]
    InvalidAnswer(String),
    #[error("the callback could not be reached: {0}")]
    Transport(String),
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// One client for every callback: no redirects followed, no proxy from the environment.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

/// POSTs `body` (the action's JSON) to `url`, signed at `timestamp`, and reads its answer within
/// the configured timeout.
pub async fn call(
    config: &CallbackConfig,
    url: &str,
    action_id: &str,
    body: String,
    timestamp: i64,
) -> Result<CallbackReply, CallbackError> {
    let secret = config.secret.as_deref().ok_or(CallbackError::NoSecret)?;
    let parsed = parse_callback_url(url).map_err(CallbackError::NotAllowed)?;
    if !config.hosts.allows(&parsed) {
        return Err(CallbackError::NotAllowed(format!(
            "{} is not in HERALD_CALLBACK_HOSTS",
            parsed.host_str().unwrap_or_default()
        )));
    }
    let request = client()
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(secret, timestamp, &body))
        .header(ACTION_ID_HEADER, action_id)
        .body(body);
    let exchange = async {
        let response = request
            .send()
            .await
            .map_err(|e| CallbackError::Transport(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(CallbackError::Status(status.as_u16()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallbackError::Transport(e.to_string()))?;
        read_reply(&bytes)
    };
    tokio::time::timeout(config.timeout, exchange)
        .await
        .map_err(|_| CallbackError::Timeout(config.timeout))?
}

/// An answer: empty, or `{"card": {...}}` / `{"message": "..."}`, with `updateAll` beside it.
fn read_reply(bytes: &[u8]) -> Result<CallbackReply, CallbackError> {
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(CallbackError::InvalidAnswer(format!(
            "{} bytes; at most {MAX_ANSWER_BYTES} are read",
            bytes.len()
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(CallbackReply::default());
    }
    let invalid = |e: String| CallbackError::InvalidAnswer(e);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(invalid("not a JSON object".into()));
    };
    let update_all = object
        .remove("updateAll")
        .map(|message| {
            Message::from_json_at(&message, "updateAll")
                .and_then(|m| m.render())
                .map_err(|e| invalid(e.to_string()))
        })
        .transpose()?;
    let answer = if object.is_empty() {
        None
    } else {
        Some(parse_answer(&Value::Object(object), "answer").map_err(|e| invalid(e.to_string()))?)
    };
    Ok(CallbackReply { answer, update_all })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_timestamp_and_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let signed = signature("Jefe", 0, "what do ya want for nothing?");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(
            signed,
            format!("t=0,v1={}", hex::encode(mac.finalize().into_bytes()))
        );
        let mut rfc = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        rfc.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(rfc.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(signature("Jefe", 1, "x"), signature("Jefe", 2, "x"));
        assert_ne!(signature("Jefe", 1, "x"), signature("other", 1, "x"));
    }

    #[test]
    fn answers_are_a_card_a_message_or_nothing_with_an_optional_update() {
        assert_eq!(read_reply(b"").unwrap(), CallbackReply::default());
        let reply = read_reply(br#"{"message": "Approved"}"#).unwrap();
        assert_eq!(reply.answer, Some(CardAnswer::Message("Approved".into())));
        let card = json!({"type": "AdaptiveCard", "version": "1.4", "body": []});
        let reply = read_reply(
            json!({"card": card, "updateAll": {"text": "Approved by Megan at 10:42"}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(reply.answer, Some(CardAnswer::Card(card)));
        assert_eq!(
            reply.update_all,
            Some(json!({"type": "message", "text": "Approved by Megan at 10:42"}))
        );
        let only_update = read_reply(br#"{"updateAll": {"text": "Closed"}}"#).unwrap();
        assert_eq!(only_update.answer, None);
        for bad in [
            &b"[]"[..],
            b"not json",
            br#"{"card": {"type": "Nope"}}"#,
            br#"{"message": "a", "card": {}}"#,
            br#"{"updateAll": {}}"#,
            br#"{"mesage": "typo"}"#,
        ] {
            assert!(
                matches!(read_reply(bad), Err(CallbackError::InvalidAnswer(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(read_reply(&vec![b' '; MAX_ANSWER_BYTES + 1]).is_err());
    }
}
