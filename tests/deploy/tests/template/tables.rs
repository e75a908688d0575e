//! The tables against `herald_store::schema`, and proof that drift from it is reported.

use std::collections::BTreeSet;

use herald_deploy_tests::table_mismatches;
use serde_norway::Value;

use super::{OUTBOX, REFERENCES, SCHEMAS, template};

#[test]
fn tables_match_the_store_schema() {
    let template = template();
    for schema in SCHEMAS {
        let table = template
            .resource(schema.logical_name)
            .unwrap_or_else(|| panic!("template.yaml has no {}", schema.logical_name));
        let problems = table_mismatches(&schema, table);
        assert!(problems.is_empty(), "{problems:#?}");
    }
    let declared: BTreeSet<&str> = template
        .of_type("AWS::DynamoDB::Table")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let known: BTreeSet<&str> = SCHEMAS.iter().map(|s| s.logical_name).collect();
    assert_eq!(declared, known, "a table without a schema in herald-store");
}

#[test]
fn drift_from_the_schema_is_reported() {
    let template = template();
    let outbox = template.resource("OutboxTable").unwrap().clone();
    let references = template.resource("ReferencesTable").unwrap().clone();
    let edit = |table: &Value, yaml_path: &[&str], value: Value| {
        let mut table = table.clone();
        let mut at = &mut table;
        for step in &yaml_path[..yaml_path.len() - 1] {
            at = match step.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*step],
            };
        }
        at[*yaml_path.last().unwrap()] = value;
        table
    };
    let cases = [
        (
            OUTBOX,
            edit(
                &outbox,
                &["Properties", "StreamSpecification", "StreamViewType"],
                "NEW_AND_OLD_IMAGES".into(),
            ),
        ),
        (
            OUTBOX,
            edit(
                &outbox,
                &["Properties", "TimeToLiveSpecification", "AttributeName"],
                "ttl".into(),
            ),
        ),
        (
            OUTBOX,
            edit(
                &outbox,
                &["Properties", "BillingMode"],
                "PROVISIONED".into(),
            ),
        ),
        (
            REFERENCES,
            edit(
                &references,
                &[
                    "Properties",
                    "GlobalSecondaryIndexes",
                    "0",
                    "Projection",
                    "ProjectionType",
                ],
                "KEYS_ONLY".into(),
            ),
        ),
        (
            REFERENCES,
            edit(
                &references,
                &[
                    "Properties",
                    "GlobalSecondaryIndexes",
                    "1",
                    "KeySchema",
                    "0",
                    "AttributeName",
                ],
                "userKey".into(),
            ),
        ),
        (
            REFERENCES,
            edit(
                &references,
                &["Properties", "KeySchema", "1", "KeyType"],
                "HASH".into(),
            ),
        ),
        (OUTBOX, references.clone()),
        (REFERENCES, outbox.clone()),
    ];
    for (i, (schema, table)) in cases.iter().enumerate() {
        assert!(
            !table_mismatches(schema, table).is_empty(),
            "case {i} went unnoticed"
        );
    }
}
