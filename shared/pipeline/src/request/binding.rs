//! `${path}` placeholders in a card, bound to the request's `data` the way Adaptive Card
//! templating binds them, for the subset a notification needs: data paths only, no expressions or
//! functions. See <https://learn.microsoft.com/adaptive-cards/templating/language>.

use std::fmt::Write as _;

use serde_json::Value;

use super::RequestError;

/// Replaces `${path}` in every string of `card` with the value at `path` in `data`. A string that
/// is exactly one placeholder takes the value with its JSON type (so `"${count}"` can bind a
/// number or a whole array), as Adaptive Card templating does. Fields are named under
/// `card_field`; the placeholders `data` has no value for are one error at `data_field`.
pub(super) fn bind_card(
    card: &Value,
    data: &Value,
    card_field: &str,
    data_field: &str,
) -> Result<Value, RequestError> {
    let mut missing = Vec::new();
    let bound = bind_value(card, data, card_field, &mut missing)?;
    if missing.is_empty() {
        Ok(bound)
    } else {
        Err(RequestError::MissingPlaceholders {
            field: data_field.to_owned(),
            paths: missing,
        })
    }
}

fn bind_value(
    value: &Value,
    data: &Value,
    field: &str,
    missing: &mut Vec<String>,
) -> Result<Value, RequestError> {
    Ok(match value {
        Value::String(s) => bind_string(s, data, field, missing)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| bind_value(v, data, &format!("{field}[{i}]"), missing))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        bind_value(v, data, &format!("{field}.{k}"), missing)?,
                    ))
                })
                .collect::<Result<_, RequestError>>()?,
        ),
        other => other.clone(),
    })
}

fn bind_string(
    s: &str,
    data: &Value,
    field: &str,
    missing: &mut Vec<String>,
) -> Result<Value, RequestError> {
    if !s.contains("${") {
        return Ok(Value::String(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut only: Option<Value> = None;
    let mut pieces = 0;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(RequestError::InvalidCard {
                field: field.to_owned(),
                problem: "a \"${\" placeholder is not closed with \"}\"".into(),
            });
        };
        let expression = after[..end].trim();
        let Some(path) = parse_path(expression) else {
            return Err(RequestError::InvalidCard {
                field: field.to_owned(),
                problem: format!(
                    "${{{expression}}} is not a data path (use names, dots and [index], e.g. ${{items[0].title}})"
                ),
            });
        };
        match resolve(data, &path) {
            Some(value) => {
                only = Some(value.clone());
                append_text(&mut out, value);
            }
            None => {
                if !missing.iter().any(|m| m == expression) {
                    missing.push(expression.to_owned());
                }
            }
        }
        pieces += 1;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let whole = pieces == 1 && s.starts_with("${") && s.find('}') == Some(s.len() - 1);
    Ok(match only {
        Some(value) if whole => value,
        _ => Value::String(out),
    })
}

fn append_text(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[derive(Debug, PartialEq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// `user.name`, `items[0].title`: names (no spaces, dots or brackets) and array indices.
pub(super) fn parse_path(expression: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut chars = expression.char_indices().peekable();
    let mut expect_name = true;
    while let Some(&(i, c)) = chars.peek() {
        match c {
            '.' if !expect_name && !segments.is_empty() => {
                chars.next();
                expect_name = true;
            }
            '[' if !segments.is_empty() && !expect_name => {
                chars.next();
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some((_, d)) if d.is_ascii_digit() => digits.push(d),
                        Some((_, ']')) if !digits.is_empty() => break,
                        _ => return None,
                    }
                }
                segments.push(Segment::Index(digits.parse().ok()?));
            }
            _ if expect_name => {
                let start = i;
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    if c.is_whitespace()
                        || c == ']'
                        || c == '('
                        || c == ')'
                        || c == '\''
                        || c == '"'
                    {
                        return None;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                if end == start {
                    return None;
                }
                segments.push(Segment::Key(expression[start..end].to_owned()));
                expect_name = false;
            }
            _ => return None,
        }
    }
    // `$root` is the templating language's name for the data itself.
    if segments.first() == Some(&Segment::Key("$root".to_owned())) && segments.len() > 1 {
        segments.remove(0);
    }
    (!segments.is_empty() && !expect_name).then_some(segments)
}

fn resolve<'a>(data: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(data, |value, segment| match segment {
        Segment::Key(key) => value.as_object()?.get(key),
        Segment::Index(i) => value.as_array()?.get(*i),
    })
}
