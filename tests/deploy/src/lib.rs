//! Reading `template.yaml` as CloudFormation does, for the checks in `tests/template/`: the
//! tables against `herald_store::schema`, and the SAM function properties that `sam validate
//! --lint` passes without looking (runtime, handler, architectures, stream and schedule settings).
//!
//! CloudFormation's short tags (`!Ref X`, `!GetAtt X.Attr`, `!Sub "..."`) arrive as tagged YAML
//! values; [`intrinsic`] reads them and their long forms (`{Ref: X}`) alike.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use herald_store::schema::TableSchema;
use serde_norway::{Mapping, Value};

/// The workspace root (this crate lives in `tests/deploy`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    pub root: Value,
}

impl Template {
    /// Parses template text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        if root.get("Resources").and_then(Value::as_mapping).is_none() {
            return Err("the template has no Resources mapping".to_owned());
        }
        Ok(Self { root })
    }

    /// Reads and parses `template.yaml` at the workspace root.
    pub fn load() -> Result<Self, String> {
        let path = workspace_root().join("template.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Every resource, by logical id.
    #[must_use]
    pub fn resources(&self) -> Vec<(&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[must_use]
    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.root.get("Resources")?.get(logical_id)
    }

    /// Resources of one type, by logical id.
    #[must_use]
    pub fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .collect()
    }

    #[must_use]
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.root.get("Parameters")?.get(name)
    }
}

/// An intrinsic function: its name without `!` or `Fn::` (`Ref`, `GetAtt`, `Sub`, ...) and its
/// argument, for both the short tag and the long mapping form.
#[must_use]
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (key, argument) = m.iter().next()?;
            let key = key.as_str()?;
            if key == "Ref" {
                Some(("Ref".to_owned(), argument))
            } else {
                key.strip_prefix("Fn::")
                    .map(|name| (name.to_owned(), argument))
            }
        }
        _ => None,
    }
}

/// `X` for `!Ref X`.
#[must_use]
pub fn ref_target(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, argument) if name == "Ref" => argument.as_str(),
        _ => None,
    }
}

/// `(X, Attr)` for `!GetAtt X.Attr` or `!GetAtt [X, Attr]`.
#[must_use]
pub fn get_att(value: &Value) -> Option<(String, String)> {
    let (name, argument) = intrinsic(value)?;
    if name != "GetAtt" {
        return None;
    }
    match argument {
        Value::String(s) => s.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned())),
        Value::Sequence(items) if items.len() == 2 => {
            Some((items[0].as_str()?.to_owned(), items[1].as_str()?.to_owned()))
        }
        _ => None,
    }
}

/// Every logical id or parameter that a value mentions through `Ref`, `GetAtt` or `${...}` in
/// `Sub`, anywhere inside it.
#[must_use]
pub fn mentions(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_mentions(value, &mut found);
    found
}

fn collect_mentions(value: &Value, found: &mut BTreeSet<String>) {
    if let Some(target) = ref_target(value) {
        found.insert(target.to_owned());
        return;
    }
    if let Some((target, _)) = get_att(value) {
        found.insert(target);
        return;
    }
    if let Some((name, argument)) = intrinsic(value)
        && name == "Sub"
    {
        let text = match argument {
            Value::Sequence(items) => items.first().and_then(Value::as_str),
            other => other.as_str(),
        };
        let mut rest = text.unwrap_or_default();
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            if !name.starts_with("AWS::") && !name.starts_with('!') {
                found.insert(name.split('.').next().unwrap_or(name).to_owned());
            }
            rest = &after[end..];
        }
        if let Value::Sequence(items) = argument {
            for item in items.iter().skip(1) {
                collect_mentions(item, found);
            }
        }
        return;
    }
    match value {
        Value::Sequence(items) => items.iter().for_each(|v| collect_mentions(v, found)),
        Value::Mapping(m) => m.values().for_each(|v| collect_mentions(v, found)),
        Value::Tagged(t) => collect_mentions(&t.value, found),
        _ => {}
    }
}

/// An EventBridge schedule expression: `rate(1 minute)`, `rate(5 minutes)` (singular unit for
/// 1, plural otherwise, as EventBridge insists) or `cron(...)` with six fields.
#[must_use]
pub fn is_schedule_expression(expression: &str) -> bool {
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let mut parts = inner.split(' ');
        let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if count.starts_with('0') {
            return false;
        }
        let Ok(count) = count.parse::<u32>() else {
            return false;
        };
        let singular = matches!(unit, "minute" | "hour" | "day");
        let plural = matches!(unit, "minutes" | "hours" | "days");
        return (singular || plural) && singular == (count == 1);
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let fields: Vec<&str> = inner.split(' ').collect();
        // Minutes, hours, day-of-month, month, day-of-week, year; one of the two day fields
        // must be `?`.
        return fields.len() == 6
            && fields.iter().all(|f| {
                !f.is_empty()
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ",-*/?LW#".contains(c))
            })
            && (fields[2] == "?") != (fields[4] == "?");
    }
    false
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// `[(name, key type)]` of a `KeySchema` list.
fn key_schema(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .map(|k| {
                    (
                        text(k.get("AttributeName")).unwrap_or_default().to_owned(),
                        text(k.get("KeyType")).unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn keys(hash: &str, range: &str) -> Vec<(String, String)> {
    vec![
        (hash.to_owned(), "HASH".to_owned()),
        (range.to_owned(), "RANGE".to_owned()),
    ]
}

/// How a table's global secondary indexes disagree with the schema's.
fn index_mismatches(schema: &TableSchema, properties: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let name = schema.logical_name;
    let indexes: Vec<&Value> = properties
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let names: BTreeSet<&str> = indexes
        .iter()
        .filter_map(|i| text(i.get("IndexName")))
        .collect();
    let expected_names: BTreeSet<&str> = schema.indexes.iter().map(|i| i.name).collect();
    if names != expected_names || indexes.len() != schema.indexes.len() {
        problems.push(format!(
            "{name}: indexes {names:?}, the schema's are {expected_names:?}"
        ));
    }
    for index in schema.indexes {
        let Some(declared) = indexes
            .iter()
            .find(|i| text(i.get("IndexName")) == Some(index.name))
        else {
            continue;
        };
        let declared_keys = key_schema(declared.get("KeySchema"));
        if declared_keys != keys(index.hash_key, index.range_key) {
            problems.push(format!(
                "{name}.{}: KeySchema {declared_keys:?}, the schema says ({}, {})",
                index.name, index.hash_key, index.range_key
            ));
        }
        if text(
            declared
                .get("Projection")
                .and_then(|p| p.get("ProjectionType")),
        ) != Some("ALL")
        {
            problems.push(format!("{name}.{}: projection is not ALL", index.name));
        }
    }
    problems
}

/// How a table resource disagrees with the schema the code creates tables from; empty when it
/// matches (keys, key attributes all strings, indexes with every attribute projected, stream
/// view, TTL attribute, on-demand billing, point-in-time recovery).
#[must_use]
pub fn table_mismatches(schema: &TableSchema, table: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let name = schema.logical_name;
    if text(table.get("Type")) != Some("AWS::DynamoDB::Table") {
        problems.push(format!("{name} is not an AWS::DynamoDB::Table"));
        return problems;
    }
    let empty = Value::Mapping(Mapping::new());
    let properties = table.get("Properties").unwrap_or(&empty);
    if text(properties.get("BillingMode")) != Some("PAY_PER_REQUEST") {
        problems.push(format!("{name}: BillingMode is not PAY_PER_REQUEST"));
    }
    if properties
        .get("PointInTimeRecoverySpecification")
        .and_then(|p| p.get("PointInTimeRecoveryEnabled"))
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push(format!("{name}: point-in-time recovery is not enabled"));
    }
    let table_keys = key_schema(properties.get("KeySchema"));
    if table_keys != keys(schema.hash_key, schema.range_key) {
        problems.push(format!(
            "{name}: KeySchema {table_keys:?}, the schema says ({}, {})",
            schema.hash_key, schema.range_key
        ));
    }
    let definitions: BTreeSet<(String, String)> = properties
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .map(|d| {
                    (
                        text(d.get("AttributeName")).unwrap_or_default().to_owned(),
                        text(d.get("AttributeType")).unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: BTreeSet<(String, String)> = schema
        .key_attributes()
        .into_iter()
        .map(|a| (a.to_owned(), "S".to_owned()))
        .collect();
    if definitions != expected {
        problems.push(format!(
            "{name}: AttributeDefinitions {definitions:?}, the schema's key attributes are {expected:?}"
        ));
    }
    problems.extend(index_mismatches(schema, properties));
    let view = properties
        .get("StreamSpecification")
        .map(|s| text(s.get("StreamViewType")).unwrap_or("(no view type)"));
    if view != schema.stream {
        problems.push(format!(
            "{name}: stream {view:?}, the schema says {:?}",
            schema.stream
        ));
    }
    let ttl = properties.get("TimeToLiveSpecification").map(|t| {
        (
            text(t.get("AttributeName")).unwrap_or_default(),
            t.get("Enabled").and_then(Value::as_bool) == Some(true),
        )
    });
    if ttl != schema.ttl_attribute.map(|a| (a, true)) {
        problems.push(format!(
            "{name}: TTL {ttl:?}, the schema says {:?} (enabled)",
            schema.ttl_attribute
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_expressions() {
        for ok in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(2 days)",
            "cron(0 9 ? * MON-FRI *)",
            "cron(*/5 * * * ? *)",
        ] {
            assert!(is_schedule_expression(ok), "{ok} rejected");
        }
        for bad in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(0 minutes)",
            "rate(01 minute)",
            "rate(1 second)",
            "rate(1  minute)",
            "rate 1 minute",
            "cron(0 9 * * *)",
            "cron(0 9 * * MON *)",
            "cron(0 9 ? * ? *)",
            "every minute",
        ] {
            assert!(!is_schedule_expression(bad), "{bad} accepted");
        }
    }

    #[test]
    fn intrinsics_in_short_and_long_form() {
        let value: Value = serde_norway::from_str(
            r#"
            a: !Ref Table
            b: {Ref: Table}
            c: !GetAtt Table.StreamArn
            d: {"Fn::GetAtt": [Queue, Arn]}
            e: !Sub "${Table.Arn}/index/*"
            f: !Sub ["${X}-${AWS::Region}", {X: !Ref Bus}]
            "#,
        )
        .unwrap();
        assert_eq!(ref_target(&value["a"]), Some("Table"));
        assert_eq!(ref_target(&value["b"]), Some("Table"));
        assert_eq!(
            get_att(&value["c"]),
            Some(("Table".to_owned(), "StreamArn".to_owned()))
        );
        assert_eq!(
            get_att(&value["d"]),
            Some(("Queue".to_owned(), "Arn".to_owned()))
        );
        assert_eq!(
            mentions(&value),
            ["Bus", "Queue", "Table", "X"]
                .into_iter()
                .map(String::from)
                .collect()
        );
    }
}
