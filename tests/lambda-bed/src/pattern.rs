//! Event patterns, as EventBridge rules and Lambda's `FilterCriteria` match them
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>): every key of
//! the pattern must match; a leaf is a list of alternatives, each a literal or one of `prefix`,
//! `suffix`, `anything-but`, `exists`, `equals-ignore-case` and `numeric`. An array in the event
//! matches when any of its elements does.

use serde_json::{Map, Value};

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Value);

impl Pattern {
    #[must_use]
    pub fn new(pattern: Value) -> Self {
        Self(pattern)
    }

    #[must_use]
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// Whether `event` matches.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        match &self.0 {
            Value::Object(pattern) => object_matches(pattern, Some(event)),
            _ => false,
        }
    }
}

fn object_matches(pattern: &Map<String, Value>, event: Option<&Value>) -> bool {
    pattern.iter().all(|(key, expected)| {
        let field = event.and_then(|e| e.get(key));
        match expected {
            Value::Object(inner) => object_matches(inner, field),
            Value::Array(alternatives) => alternatives.iter().any(|a| leaf_matches(a, field)),
            _ => false,
        }
    })
}

/// The values an event field offers: its elements when it is an array.
fn values(field: Option<&Value>) -> Vec<&Value> {
    match field {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
        None => Vec::new(),
    }
}

fn leaf_matches(alternative: &Value, field: Option<&Value>) -> bool {
    let Value::Object(rule) = alternative else {
        return values(field).into_iter().any(|v| v == alternative);
    };
    let Some((operator, argument)) = rule.iter().next() else {
        return false;
    };
    match operator.as_str() {
        "exists" => argument.as_bool() == Some(field.is_some()),
        "prefix" => text_test(field, argument, |v, a| v.starts_with(a)),
        "suffix" => text_test(field, argument, |v, a| v.ends_with(a)),
        "equals-ignore-case" => text_test(field, argument, str::eq_ignore_ascii_case),
        "anything-but" => {
            let excluded: Vec<&Value> = match argument {
                Value::Array(items) => items.iter().collect(),
                Value::Object(inner) => {
                    // {"anything-but": {"prefix": "x"}}
                    let nested = Value::Object(inner.clone());
                    return field.is_some() && !leaf_matches(&nested, field);
                }
                other => vec![other],
            };
            let offered = values(field);
            !offered.is_empty() && offered.iter().all(|v| !excluded.contains(v))
        }
        "numeric" => values(field)
            .into_iter()
            .filter_map(Value::as_f64)
            .any(|v| numeric(v, argument)),
        _ => false,
    }
}

fn text_test(field: Option<&Value>, argument: &Value, test: impl Fn(&str, &str) -> bool) -> bool {
    let Some(argument) = argument.as_str() else {
        return false;
    };
    values(field)
        .into_iter()
        .filter_map(Value::as_str)
        .any(|v| test(v, argument))
}

/// `[">", 0, "<=", 5]`: every comparison holds.
fn numeric(value: f64, argument: &Value) -> bool {
    let Some(items) = argument.as_array() else {
        return false;
    };
    items.chunks(2).all(|pair| {
        match (
            pair.first().and_then(Value::as_str),
            pair.get(1).and_then(Value::as_f64),
        ) {
            (Some("="), Some(n)) => (value - n).abs() < f64::EPSILON,
            (Some(">"), Some(n)) => value > n,
            (Some(">="), Some(n)) => value >= n,
            (Some("<"), Some(n)) => value < n,
            (Some("<="), Some(n)) => value <= n,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn literals_nesting_and_arrays() {
        let pattern = Pattern::new(json!({"eventName": ["INSERT", "MODIFY"]}));
        assert!(pattern.matches(&json!({"eventName": "INSERT", "x": 1})));
        assert!(!pattern.matches(&json!({"eventName": "REMOVE"})));
        assert!(!pattern.matches(&json!({"other": "INSERT"})));
        let nested =
            Pattern::new(json!({"detail": {"kind": ["a"]}, "detail-type": ["herald.Notify"]}));
        assert!(
            nested
                .matches(&json!({"detail-type": "herald.Notify", "detail": {"kind": ["b", "a"]}}))
        );
        assert!(!nested.matches(&json!({"detail-type": "herald.Notify", "detail": {"kind": "b"}})));
    }

    #[test]
    fn operators() {
        let event = json!({"source": "com.contoso.billing", "n": 4, "tag": "Red"});
        let m = |p: Value| Pattern::new(p).matches(&event);
        assert!(m(json!({"source": [{"prefix": "com.contoso."}]})));
        assert!(!m(json!({"source": [{"prefix": "herald"}]})));
        assert!(m(json!({"source": [{"suffix": ".billing"}]})));
        assert!(m(json!({"source": [{"anything-but": ["herald"]}]})));
        assert!(!m(
            json!({"source": [{"anything-but": "com.contoso.billing"}]})
        ));
        assert!(m(
            json!({"source": [{"anything-but": {"prefix": "herald"}}]})
        ));
        assert!(m(json!({"n": [{"numeric": [">", 3, "<=", 4]}]})));
        assert!(!m(json!({"n": [{"numeric": [">", 4]}]})));
        assert!(m(
            json!({"missing": [{"exists": false}], "n": [{"exists": true}]})
        ));
        assert!(m(json!({"tag": [{"equals-ignore-case": "red"}]})));
        assert!(!Pattern::new(json!("not an object")).matches(&event));
    }
}
