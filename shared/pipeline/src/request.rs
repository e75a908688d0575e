//! `POST /api/notify` bodies: validation, card binding and rendering to an activity.
//!
//! Every producer (the notify API, `herald.Notify` events, the scheduler) parses the same body
//! here, so a request is rejected the same way whichever door it came through, and the activity is
//! rendered once, up front: the sender never discovers a bad card or a 413 per recipient.
//!
//! Errors name the offending field (`target.kind`, `message.card.body[2].type`) and carry a
//! stable code and HTTP status, so the API can answer without knowing the rules.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use herald_connector::{Activity, Attachment};
use herald_domain::{
    AadObjectId, ConversationId, ConversationType, Target, TeamId, TenantId, cards,
};
use herald_store::{NotificationId, NotificationRecord};
use serde_json::{Map, Value, json};
use thiserror::Error;

/// Teams rejects larger messages with 413 MessageSizeTooBig (PROTOCOL 6: about 28 KB); checking
/// the serialized activity here turns a per-recipient failure into one early answer.
pub const MAX_ACTIVITY_BYTES: usize = 28_000;

/// More ids than this (in a `conversations` or `users` target) belong in several requests: the
/// notification record, target included, is one DynamoDB item, limited to 400 KB.
pub const MAX_CONVERSATION_IDS: usize = 1_000;

/// Keys are echoed in logs and hashed into ids; nothing needs more.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

/// Why a request was refused. `code()` is stable for clients; `field()` names where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The body is not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A top-level problem: not an object, an unknown field, a bad idempotency key.
    #[error("{field}: {problem}")]
    InvalidRequest { field: String, problem: String },
    #[error("{field}: {problem}")]
    InvalidTarget { field: String, problem: String },
    #[error("{field}: {problem}")]
    InvalidMessage { field: String, problem: String },
    /// The card is not an Adaptive Card Herald can send.
    #[error("{field}: {problem}")]
    InvalidCard { field: String, problem: String },
    /// `${path}` placeholders of the card that `data` has no value for, all of them at once.
    #[error("{field} has no value for {}", list_placeholders(.paths))]
    MissingPlaceholders { field: String, paths: Vec<String> },
    /// The rendered activity is larger than Teams accepts.
    #[error("{field}: the rendered activity is {bytes} bytes; Teams accepts at most {limit}")]
    MessageTooLarge {
        field: String,
        bytes: usize,
        limit: usize,
    },
}

fn list_placeholders(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("${{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RequestError {
    /// The stable error code clients match on.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "InvalidJson",
            Self::InvalidRequest { .. } => "InvalidRequest",
            Self::InvalidTarget { .. } => "InvalidTarget",
            Self::InvalidMessage { .. } => "InvalidMessage",
            Self::InvalidCard { .. } => "InvalidCard",
            Self::MissingPlaceholders { .. } => "MissingPlaceholders",
            Self::MessageTooLarge { .. } => "MessageTooLarge",
        }
    }

    /// The field at fault, JSON-pointer-ish (`message.card.body[0].type`); empty for the body.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidJson(_) => "",
            Self::InvalidRequest { field, .. }
            | Self::InvalidTarget { field, .. }
            | Self::InvalidMessage { field, .. }
            | Self::InvalidCard { field, .. }
            | Self::MissingPlaceholders { field, .. }
            | Self::MessageTooLarge { field, .. } => field,
        }
    }

    /// 413 for a message Teams would refuse as too large, 400 for everything else.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::MessageTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// A validated notify request, its activity already rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyRequest {
    pub target: Target,
    /// The Bot Framework activity every recipient gets.
    pub activity: Value,
    pub idempotency_key: Option<String>,
}

impl NotifyRequest {
    /// Parses a raw body; malformed JSON is [`RequestError::InvalidJson`].
    pub fn from_slice(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        Self::from_json(&value)
    }

    /// Validates a body (`{target, message, idempotencyKey?}`) and renders its activity.
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        let object = value
            .as_object()
            .ok_or_else(|| RequestError::InvalidRequest {
                field: String::new(),
                problem: "the body must be a JSON object".into(),
            })?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "target" | "message" | "idempotencyKey"))
        {
            return Err(RequestError::InvalidRequest {
                field: unknown.clone(),
                problem: "unknown field (expected target, message, idempotencyKey)".into(),
            });
        }
        let target = parse_target(object.get("target"))?;
        let message = Message::from_json_at(
            object
                .get("message")
                .ok_or_else(|| RequestError::InvalidMessage {
                    field: "message".into(),
                    problem: "is required".into(),
                })?,
            "message",
        )?;
        let idempotency_key = parse_idempotency_key(object.get("idempotencyKey"))?;
        Ok(Self {
            target,
            activity: message.render()?,
            idempotency_key,
        })
    }

    /// The notification to store: its id comes from the idempotency key when there is one (same
    /// key, same notification), else it is random.
    #[must_use]
    pub fn into_notification(
        self,
        source: &str,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> NotificationRecord {
        let id = self
            .idempotency_key
            .as_deref()
            .map_or_else(NotificationId::random, NotificationId::for_idempotency_key);
        let mut record =
            NotificationRecord::new(id, self.target, self.activity, source, now, retention);
        record.idempotency_key = self.idempotency_key;
        record
    }
}

fn parse_idempotency_key(value: Option<&Value>) -> Result<Option<String>, RequestError> {
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

const TARGET_KINDS: &str = "all, type, tenant, team, teamMembers, person, users, conversations";

/// Reads `target` field by field, so each mistake names its field (serde would only say "target").
fn parse_target(value: Option<&Value>) -> Result<Target, RequestError> {
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
    let kind = string("kind").map_err(|e| match e {
        RequestError::InvalidTarget { field, problem } => RequestError::InvalidTarget {
            field,
            problem: format!("{problem} (one of {TARGET_KINDS})"),
        },
        other => other,
    })?;
    let allowed: &[&str] = match kind {
        "all" => &[],
        "type" => &["type"],
        "tenant" => &["tenantId"],
        "team" => &["teamId", "channel"],
        "teamMembers" => &["teamId"],
        "person" => &["aadObjectId", "tenantId"],
        "conversations" => &["ids"],
        "users" => &["aadObjectIds", "tenantId"],
        other => {
            return Err(invalid(
                ".kind",
                format!("unknown kind {other:?} (one of {TARGET_KINDS})"),
            ));
        }
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
            channel: match object.get("channel") {
                None | Some(Value::Null) => "General".to_owned(),
                Some(_) => string("channel")?.trim().to_owned(),
            },
        },
        "teamMembers" => Target::TeamMembers {
            team_id: TeamId::new(id("teamId")?).map_err(|e| typed("teamId", e))?,
        },
        "person" => Target::Person {
            aad_object_id: AadObjectId::new(guid_or_as_is(&id("aadObjectId")?))
                .map_err(|e| typed("aadObjectId", e))?,
            tenant_id: TenantId::new(guid_or_as_is(&id("tenantId")?))
                .map_err(|e| typed("tenantId", e))?,
        },
        "users" => Target::Users {
            aad_object_ids: parse_ids(object.get("aadObjectIds"), "aadObjectIds", |raw| {
                let guid = lowercase_guid(&raw)
                    .ok_or_else(|| "must be a Microsoft Entra object id (a GUID)".to_owned())?;
                AadObjectId::new(guid).map_err(|e| e.to_string())
            })?,
            tenant_id: TenantId::new(guid_or_as_is(&id("tenantId")?))
                .map_err(|e| typed("tenantId", e))?,
        },
        _ => Target::Conversations {
            ids: parse_ids(object.get("ids"), "ids", |raw| {
                ConversationId::new(raw).map_err(|e| e.to_string())
            })?,
        },
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

/// The `message` of a notify request (also the body of `PUT /api/notifications/{id}/message`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: Option<String>,
    /// A validated Adaptive Card, placeholders not yet bound.
    pub card: Option<Value>,
    /// Values for the card's `${path}` placeholders.
    pub data: Option<Value>,
    /// Toast / activity-feed preview text.
    pub summary: Option<String>,
    /// Raise an activity-feed alert (`channelData.notification.alert`).
    pub alert: bool,
    /// Add Herald's "Stop these notifications" button.
    pub opt_out_button: bool,
    /// Where this message sits in the body (`message`, or empty for a bare message), for errors.
    prefix: String,
}

const MESSAGE_FIELDS: [&str; 6] = ["text", "card", "data", "summary", "alert", "optOutButton"];

impl Message {
    /// Parses a bare message object; fields are named relative to it (`card.body`).
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        Self::from_json_at(value, "")
    }

    /// Parses a message found at `prefix` (`message`), naming fields under it.
    pub fn from_json_at(value: &Value, prefix: &str) -> Result<Self, RequestError> {
        let at = |name: &str| join(prefix, name);
        let invalid = |field: String, problem: &str| RequestError::InvalidMessage {
            field,
            problem: problem.into(),
        };
        let Value::Object(object) = value else {
            return Err(invalid(prefix.to_owned(), "must be an object"));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !MESSAGE_FIELDS.contains(&k.as_str()))
        {
            return Err(RequestError::InvalidMessage {
                field: at(unknown),
                problem: format!(
                    "unknown field (expected one of {})",
                    MESSAGE_FIELDS.join(", ")
                ),
            });
        }
        let text = match object.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(invalid(at("text"), "must not be empty"));
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid(at("text"), "must be a string")),
        };
        let summary = match object.get("summary") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid(at("summary"), "must be a string")),
        };
        let flag = |name: &str| match object.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(at(name), "must be true or false")),
        };
        let alert = flag("alert")?;
        let opt_out_button = flag("optOutButton")?;
        let data = match object.get("data") {
            None | Some(Value::Null) => None,
            Some(data @ Value::Object(_)) => Some(data.clone()),
            Some(_) => return Err(invalid(at("data"), "must be an object")),
        };
        let card = match object.get("card") {
            None | Some(Value::Null) => None,
            Some(card) => {
                validate_card(card, &at("card"))?;
                Some(card.clone())
            }
        };
        if text.is_none() && card.is_none() {
            return Err(invalid(prefix.to_owned(), "needs text or a card"));
        }
        Ok(Self {
            text,
            card,
            data,
            summary,
            alert,
            opt_out_button,
            prefix: prefix.to_owned(),
        })
    }

    /// The activity JSON every recipient gets: text, the bound card (with the opt-out button if
    /// asked), summary and alert; refused if larger than Teams accepts.
    pub fn render(&self) -> Result<Value, RequestError> {
        let mut activity = Activity::message();
        if let Some(text) = &self.text {
            activity = activity.text(text.clone());
        }
        if let Some(summary) = &self.summary {
            activity = activity.summary(summary.clone());
        }
        if self.alert {
            activity = activity.alert(true);
        }
        let card = match &self.card {
            Some(card) => {
                let empty = Value::Object(Map::new());
                let data = self.data.as_ref().unwrap_or(&empty);
                let mut bound =
                    bind_card(card, data, &join(&self.prefix, "card")).map_err(|e| match e {
                        BindError::Missing(paths) => RequestError::MissingPlaceholders {
                            field: join(&self.prefix, "data"),
                            paths,
                        },
                        BindError::Invalid { field, problem } => {
                            RequestError::InvalidCard { field, problem }
                        }
                    })?;
                if self.opt_out_button {
                    add_opt_out(&mut bound);
                }
                Some(bound)
            }
            // A text message carries the button on a small card of its own.
            None if self.opt_out_button => Some(json!({
                "type": "AdaptiveCard",
                "version": OPT_OUT_CARD_VERSION,
                "body": [],
                "actions": [cards::opt_out_action()],
            })),
            None => None,
        };
        if let Some(card) = card {
            activity = activity.attachment(Attachment::adaptive_card(card));
        }
        let json = serde_json::to_value(&activity).map_err(|e| RequestError::InvalidMessage {
            field: self.prefix.clone(),
            problem: format!("cannot be rendered: {e}"),
        })?;
        let bytes = serde_json::to_vec(&json).map_or(usize::MAX, |b| b.len());
        if bytes > MAX_ACTIVITY_BYTES {
            return Err(RequestError::MessageTooLarge {
                field: self.prefix.clone(),
                bytes,
                limit: MAX_ACTIVITY_BYTES,
            });
        }
        Ok(json)
    }
}

/// Every Teams client renders 1.4; the button card needs nothing newer.
const OPT_OUT_CARD_VERSION: &str = "1.4";

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn add_opt_out(card: &mut Value) {
    if let Value::Object(card) = card {
        let actions = card
            .entry("actions")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(actions) = actions {
            actions.push(cards::opt_out_action());
        }
    }
}

/// The structural rules Teams enforces on an Adaptive Card attachment, checked here so the
/// mistake is named before anything is stored.
fn validate_card(card: &Value, field: &str) -> Result<(), RequestError> {
    let invalid = |field: String, problem: String| RequestError::InvalidCard { field, problem };
    let Value::Object(object) = card else {
        return Err(invalid(
            field.to_owned(),
            "must be an Adaptive Card object".into(),
        ));
    };
    match object.get("type") {
        Some(Value::String(t)) if t == "AdaptiveCard" => {}
        Some(Value::String(t)) => {
            return Err(invalid(
                format!("{field}.type"),
                format!("must be \"AdaptiveCard\", not {t:?}"),
            ));
        }
        _ => {
            return Err(invalid(
                format!("{field}.type"),
                "must be \"AdaptiveCard\"".into(),
            ));
        }
    }
    match object.get("version") {
        Some(Value::String(v)) if is_version(v) => {}
        Some(Value::String(v)) => {
            return Err(invalid(
                format!("{field}.version"),
                format!("{v:?} is not a version such as \"1.5\""),
            ));
        }
        None => {
            return Err(invalid(
                format!("{field}.version"),
                "is required (for example \"1.5\")".into(),
            ));
        }
        Some(_) => {
            return Err(invalid(
                format!("{field}.version"),
                "must be a string such as \"1.5\"".into(),
            ));
        }
    }
    for list in ["body", "actions"] {
        match object.get(list) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let typed = item
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.trim().is_empty());
                    if !item.is_object() {
                        return Err(invalid(
                            format!("{field}.{list}[{i}]"),
                            "must be an object".into(),
                        ));
                    }
                    if !typed {
                        return Err(invalid(
                            format!("{field}.{list}[{i}].type"),
                            "is required (an element or action type)".into(),
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(invalid(
                    format!("{field}.{list}"),
                    "must be an array".into(),
                ));
            }
        }
    }
    Ok(())
}

fn is_version(v: &str) -> bool {
    let mut parts = v.split('.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

enum BindError {
    /// Every path with no value, in order of first use.
    Missing(Vec<String>),
    Invalid {
        field: String,
        problem: String,
    },
}

/// Replaces `${path}` in every string of `card` with the value at `path` in `data`. A string that
/// is exactly one placeholder takes the value with its JSON type (so `"${count}"` can bind a
/// number or a whole array), as Adaptive Card templating does.
fn bind_card(card: &Value, data: &Value, field: &str) -> Result<Value, BindError> {
    let mut missing = Vec::new();
    let bound = bind_value(card, data, field, &mut missing)?;
    if missing.is_empty() {
        Ok(bound)
    } else {
        Err(BindError::Missing(missing))
    }
}

fn bind_value(
    value: &Value,
    data: &Value,
    field: &str,
    missing: &mut Vec<String>,
) -> Result<Value, BindError> {
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
                .collect::<Result<_, BindError>>()?,
        ),
        other => other.clone(),
    })
}

fn bind_string(
    s: &str,
    data: &Value,
    field: &str,
    missing: &mut Vec<String>,
) -> Result<Value, BindError> {
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
            return Err(BindError::Invalid {
                field: field.to_owned(),
                problem: "a \"${\" placeholder is not closed with \"}\"".into(),
            });
        };
        let expression = after[..end].trim();
        let Some(path) = parse_path(expression) else {
            return Err(BindError::Invalid {
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
enum Segment {
    Key(String),
    Index(usize),
}

/// `user.name`, `items[0].title`: names (no spaces, dots or brackets) and array indices.
fn parse_path(expression: &str) -> Option<Vec<Segment>> {
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

#[cfg(test)]
mod tests;
