//! The subset of JSON Schema `openapi.json` uses, to validate real answers and examples against
//! it, and the shape of a JSON value (its field paths) to compare an answer with its example.

use std::collections::BTreeSet;

use serde_json::Value;

pub(super) fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(pointer) => {
            let target = spec
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}"));
            resolve(spec, target)
        }
        None => schema,
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        other => panic!("unknown schema type {other}"),
    }
}

/// The subset of JSON Schema the document uses: $ref, oneOf, const, enum, type, required,
/// properties with additionalProperties false, items. Returns every violation with its path.
pub(super) fn violations(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|o| violations(spec, o, value, at).is_empty())
            .count();
        return if passing == 1 {
            Vec::new()
        } else {
            vec![format!(
                "{at}: matches {passing} of the oneOf schemas: {value}"
            )]
        };
    }
    let mut out = Vec::new();
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        out.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(kind) = schema.get("type") {
        let ok = match kind {
            Value::String(t) => type_matches(t, value),
            Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)),
            _ => panic!("bad type in schema at {at}"),
        };
        if !ok {
            out.push(format!("{at}: {value} is not of type {kind}"));
            return out;
        }
    }
    if let Value::Object(object) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(name.as_str().unwrap()) {
                out.push(format!("{at}: {name} is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => {
                    out.extend(violations(spec, property, item, &format!("{at}.{key}")));
                }
                None if closed => out.push(format!("{at}.{key} is not in the schema")),
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            out.extend(violations(spec, item_schema, item, &format!("{at}[{i}]")));
        }
    }
    out
}

/// The object keys of `value` at every level (arrays by their first element), as paths.
fn shape(value: &Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, item) in object {
                let path = format!("{at}.{key}");
                out.insert(path.clone());
                shape(item, &path, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

pub(super) fn shape_of(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(value, "", &mut out);
    out
}
