//! Idempotency keys: validated, scoped to whoever sent them, and bound to the body they came
//! with, as Stripe's API and the IETF `Idempotency-Key` draft have it: the same key from the same
//! caller names one notification, and the same key with a different body is a conflict rather
//! than a silent success (<https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/>).

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::RequestError;

/// Keys are echoed in logs and hashed into ids; nothing needs more.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

pub(super) fn parse_idempotency_key(value: Option<&Value>) -> Result<Option<String>, RequestError> {
    let invalid = |problem: &str| RequestError::InvalidRequest {
        field: "idempotencyKey".into(),
        problem: problem.into(),
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key)) if key.trim().is_empty() => Err(invalid("must not be empty")),
        Some(Value::String(key)) if key.len() > MAX_IDEMPOTENCY_KEY_LEN => Err(invalid(&format!(
            "is {} bytes; at most {MAX_IDEMPOTENCY_KEY_LEN} are allowed",
            key.len()
        ))),
        Some(Value::String(key)) if key.chars().any(char::is_control) => {
            Err(invalid("must not contain control characters"))
        }
        Some(Value::String(key)) => Ok(Some(key.clone())),
        Some(_) => Err(invalid("must be a string")),
    }
}

/// Where a key is unique: the kind of producer (`api`, `event`, `schedule`: the `source` up to
/// its first `:`), and for the API the caller (its API key's SHA-256).
pub(super) fn scope(source: &str, caller: Option<&str>) -> String {
    let kind = source.split(':').next().unwrap_or(source);
    match caller {
        Some(caller) => format!("{kind}:{caller}"),
        None => kind.to_owned(),
    }
}

/// SHA-256 (hex) of the body in canonical form: object keys sorted, no insignificant space, so
/// the same request written another way hashes the same.
#[must_use]
pub fn body_hash(body: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    Sha256::digest(canonical.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_same_body_written_another_way_hashes_the_same() {
        let a: Value = serde_json::from_str(
            r#"{"target": {"kind": "tenant", "tenantId": "t"}, "message": {"text": "hi", "data": {"b": [1, {"y": 2, "x": 1}], "a": null}}}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"message":{"data":{"a":null,"b":[1,{"x":1,"y":2}]},"text":"hi"},"target":{"tenantId":"t","kind":"tenant"}}"#,
        )
        .unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_eq!(body_hash(&a).len(), 64);
        for different in [
            json!({"target": {"kind": "tenant", "tenantId": "t"}, "message": {"text": "hi!"}}),
            json!({"target": {"kind": "all"}, "message": {"text": "hi", "data": {"a": null, "b": [1, {"x": 1, "y": 2}]}}}),
            json!({"target": {"kind": "tenant", "tenantId": "t"}, "message": {"text": "hi", "data": {"a": null, "b": [{"x": 1, "y": 2}, 1]}}}),
        ] {
            assert_ne!(body_hash(&a), body_hash(&different), "{different}");
        }
        // Keys and strings that only look alike once quoted stay apart.
        assert_ne!(
            body_hash(&json!({"a,b": 1})),
            body_hash(&json!({"a": 1, "b": 1}))
        );
    }

    #[test]
    fn scopes_are_the_producer_kind_and_the_caller() {
        assert_eq!(scope("api", Some("9e45")), "api:9e45");
        assert_eq!(scope("api", None), "api");
        assert_eq!(scope("event:route0:InvoiceOverdue", None), "event");
        assert_eq!(scope("event:herald.Notify", None), "event");
        assert_eq!(scope("schedule:s-1", None), "schedule");
    }
}
