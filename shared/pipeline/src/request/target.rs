//! The `target` of a notify request: who gets the notification, read field by field so each
//! mistake names its field (serde would only say "target").

use std::collections::BTreeSet;

use herald_domain::{AadObjectId, ConversationId, ConversationType, Target, TeamId, TenantId};
use serde_json::Value;

use super::RequestError;

/// More ids than this (in a `conversations` or `users` target) belong in several requests: the
/// notification record, target included, is one DynamoDB item, limited to 400 KB
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html>).
pub const MAX_CONVERSATION_IDS: usize = 1_000;

const TARGET_KINDS: &str = "all, type, tenant, team, teamMembers, person, users, conversations";

/// Reads `target` field by field, so each mistake names its field (serde would only say "target").
pub fn parse_target(value: Option<&Value>) -> Result<Target, RequestError> {
    let invalid = |field: &str, problem: String| RequestError::InvalidTarget {
        field: format!("target{field}"),
        problem,
    };
    let object = match value {
        None => return Err(invalid("", "is required".into())),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(invalid("", "must be an object".into())),
    };
    let string = |name: &str| -> Result<&str, RequestError> {
        match object.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            Some(Value::String(_)) => Err(invalid(&format!(".{name}"), "must not be empty".into())),
            None => Err(invalid(&format!(".{name}"), "is required".into())),
            Some(_) => Err(invalid(&format!(".{name}"), "must be a string".into())),
        }
    };
    // Typed ids reject control characters and absurd lengths; the field is named either way.
    let id = |name: &str| -> Result<String, RequestError> { string(name).map(str::to_owned) };
    let typed =
        |name: &str, e: herald_domain::DomainError| invalid(&format!(".{name}"), e.to_string());
    let tenant_id = |name: &str| -> Result<TenantId, RequestError> {
        TenantId::new(guid_or_as_is(&id(name)?)).map_err(|e| typed(name, e))
    };
    // A team target may name its tenant; without one, expansion looks the team up among the
    // installations and refuses a team id that several tenants' installations name.
    let team_tenant = |name: &str| -> Result<Option<TenantId>, RequestError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => tenant_id(name).map(Some),
        }
    };
    let kind = string("kind").map_err(|e| match e {
        RequestError::InvalidTarget { field, problem } => RequestError::InvalidTarget {
            field,
            problem: format!("{problem} (one of {TARGET_KINDS})"),
        },
        other => other,
    })?;
    let Some(allowed) = fields_of(kind) else {
        return Err(invalid(
            ".kind",
            format!("unknown kind {kind:?} (one of {TARGET_KINDS})"),
        ));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "kind" && !allowed.contains(&k.as_str()))
    {
        return Err(invalid(
            &format!(".{unknown}"),
            format!("unknown field for kind {kind:?}"),
        ));
    }
    Ok(match kind {
        "all" => Target::All,
        "type" => {
            let name = string("type")?;
            Target::Type {
                conversation_type: name.parse::<ConversationType>().map_err(|_| {
                    invalid(
                        ".type",
                        format!("unknown type {name:?} (personal, groupChat or channel)"),
                    )
                })?,
            }
        }
        "tenant" => Target::Tenant {
            tenant_id: TenantId::new(id("tenantId")?).map_err(|e| typed("tenantId", e))?,
        },
        "team" => Target::Team {
            team_id: TeamId::new(id("teamId")?).map_err(|e| typed("teamId", e))?,
            tenant_id: team_tenant("tenantId")?,
            channel: match object.get("channel") {
                None | Some(Value::Null) => "General".to_owned(),
                Some(_) => string("channel")?.trim().to_owned(),
            },
        },
        "teamMembers" => Target::TeamMembers {
            team_id: TeamId::new(id("teamId")?).map_err(|e| typed("teamId", e))?,
            tenant_id: team_tenant("tenantId")?,
        },
        "person" => Target::Person {
            aad_object_id: AadObjectId::new(guid_or_as_is(&id("aadObjectId")?))
                .map_err(|e| typed("aadObjectId", e))?,
            tenant_id: tenant_id("tenantId")?,
        },
        "users" => Target::Users {
            aad_object_ids: parse_ids(object.get("aadObjectIds"), "aadObjectIds", |raw| {
                let guid = lowercase_guid(&raw)
                    .ok_or_else(|| "must be a Microsoft Entra object id (a GUID)".to_owned())?;
                AadObjectId::new(guid).map_err(|e| e.to_string())
            })?,
            tenant_id: tenant_id("tenantId")?,
        },
        _ => Target::Conversations {
            ids: parse_ids(object.get("ids"), "ids", |raw| {
                ConversationId::new(raw).map_err(|e| e.to_string())
            })?,
        },
    })
}

/// The fields a target of `kind` may have besides `kind`; `None` for an unknown kind. A team is
/// looked up among one tenant's installations, so a target naming a team names the tenant too.
fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "all" => &[],
        "type" => &["type"],
        "tenant" => &["tenantId"],
        "team" => &["teamId", "tenantId", "channel"],
        "teamMembers" => &["teamId", "tenantId"],
        "person" => &["aadObjectId", "tenantId"],
        "conversations" => &["ids"],
        "users" => &["aadObjectIds", "tenantId"],
        _ => return None,
    })
}

/// A GUID in Teams' own spelling (lowercase), as activities carry tenant and Entra object ids:
/// ids given in capitals still match the stored installations.
fn lowercase_guid(value: &str) -> Option<String> {
    let value = value.trim();
    let groups: Vec<&str> = value.split('-').collect();
    let shape = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    (shape
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit())))
    .then(|| value.to_ascii_lowercase())
}

fn guid_or_as_is(value: &str) -> String {
    lowercase_guid(value).unwrap_or_else(|| value.to_owned())
}

/// A target's list of ids (`ids`, `aadObjectIds`): non-empty, bounded, each valid, repeats dropped.
fn parse_ids<T: Ord + Clone>(
    value: Option<&Value>,
    name: &str,
    parse: impl Fn(String) -> Result<T, String>,
) -> Result<Vec<T>, RequestError> {
    let invalid = |field: String, problem: String| RequestError::InvalidTarget {
        field: format!("target.{name}{field}"),
        problem,
    };
    let items = match value {
        Some(Value::Array(items)) => items,
        None => return Err(invalid(String::new(), "is required".into())),
        Some(_) => {
            return Err(invalid(String::new(), "must be an array of ids".into()));
        }
    };
    if items.is_empty() {
        return Err(invalid(String::new(), "must not be empty".into()));
    }
    if items.len() > MAX_CONVERSATION_IDS {
        return Err(invalid(
            String::new(),
            format!(
                "has {} ids; at most {MAX_CONVERSATION_IDS} are allowed",
                items.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(raw) = item else {
            return Err(invalid(format!("[{i}]"), "must be a string".into()));
        };
        let id = parse(raw.clone()).map_err(|e| invalid(format!("[{i}]"), e))?;
        // A repeated id would only be deduplicated later; keep the stored target minimal.
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}
