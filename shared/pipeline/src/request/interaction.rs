//! The parts of a notify request about answers: the `callback` card actions are POSTed to, the
//! `acknowledgement` a person sees when no callback answered, and the `followUp` for those who
//! have not read it after a while.

use chrono::Duration;
use herald_domain::cards::CardAnswer;
use serde_json::Value;
use url::{Host, Url};

use super::RequestError;
use super::card::validate_card;
use super::message::Message;

/// Longer URLs are a mistake (and end up in every settings item).
const MAX_CALLBACK_LEN: usize = 2048;
/// A short message answers in a line or two.
const MAX_ACKNOWLEDGEMENT_CHARS: usize = 1000;
/// The shortest and longest wait before a follow-up: shorter would chase people who are simply
/// reading; longer outlives the shortest retention of deliveries.
pub const MIN_FOLLOW_UP: Duration = Duration::minutes(1);
pub const MAX_FOLLOW_UP: Duration = Duration::days(7);

/// A follow-up as requested: after how long, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpRequest {
    pub if_unread_after: String,
    pub after: Duration,
    pub activity: Value,
}

fn invalid(field: &str, problem: impl Into<String>) -> RequestError {
    RequestError::InvalidRequest {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A callback URL Herald may POST to: HTTPS, or HTTP to this machine only (local use); no
/// credentials in it. Whether its host is allowed is [`CallbackHosts`]' decision.
pub fn parse_callback_url(raw: &str) -> Result<Url, String> {
    if raw.len() > MAX_CALLBACK_LEN {
        return Err(format!("is longer than {MAX_CALLBACK_LEN} characters"));
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("must be HTTPS (HTTP only to this machine, for local use)".into()),
        other => return Err(format!("must be HTTPS, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.host().is_none() {
        return Err("has no host".into());
    }
    Ok(url)
}

pub(super) fn parse_callback(value: Option<&Value>) -> Result<Option<String>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => parse_callback_url(raw)
            .map(|url| Some(url.to_string()))
            .map_err(|problem| invalid("callback", problem)),
        Some(_) => Err(invalid("callback", "must be a URL string")),
    }
}

/// A card or a short message, as `acknowledgement` and a callback's answer spell them:
/// `{"card": {...}}` or `{"message": "..."}`.
pub fn parse_answer(value: &Value, field: &str) -> Result<CardAnswer, RequestError> {
    let Value::Object(object) = value else {
        return Err(invalid(
            field,
            "must be {\"card\": {...}} or {\"message\": \"...\"}",
        ));
    };
    match (object.get("card"), object.get("message"), object.len()) {
        (Some(card), None, 1) => {
            validate_card(card, &format!("{field}.card"))?;
            Ok(CardAnswer::Card(card.clone()))
        }
        (None, Some(Value::String(text)), 1)
            if !text.trim().is_empty() && text.chars().count() <= MAX_ACKNOWLEDGEMENT_CHARS =>
        {
            Ok(CardAnswer::Message(text.clone()))
        }
        (None, Some(_), 1) => Err(invalid(
            &format!("{field}.message"),
            format!("must be text of 1 to {MAX_ACKNOWLEDGEMENT_CHARS} characters"),
        )),
        _ => Err(invalid(
            field,
            "must hold exactly one of card (an Adaptive Card) or message (text)",
        )),
    }
}

pub(super) fn parse_acknowledgement(
    value: Option<&Value>,
) -> Result<Option<CardAnswer>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_answer(value, "acknowledgement").map(Some),
    }
}

pub(super) fn parse_follow_up(
    value: Option<&Value>,
) -> Result<Option<FollowUpRequest>, RequestError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(invalid("followUp", "must be an object")),
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "ifUnreadAfter" | "message"))
    {
        return Err(invalid(
            &format!("followUp.{unknown}"),
            "unknown field (expected ifUnreadAfter, message)",
        ));
    }
    let raw = match object.get("ifUnreadAfter") {
        Some(Value::String(raw)) => raw,
        Some(_) => return Err(invalid("followUp.ifUnreadAfter", "must be a string")),
        None => {
            return Err(invalid(
                "followUp.ifUnreadAfter",
                "is required (e.g. \"PT4H\")",
            ));
        }
    };
    let after = parse_iso_duration(raw)
        .filter(|d| (MIN_FOLLOW_UP..=MAX_FOLLOW_UP).contains(d))
        .ok_or_else(|| {
            invalid(
                "followUp.ifUnreadAfter",
                format!("{raw:?} is not an ISO 8601 duration from PT1M to P7D (such as \"PT4H\")"),
            )
        })?;
    let message = object
        .get("message")
        .ok_or_else(|| RequestError::InvalidMessage {
            field: "followUp.message".into(),
            problem: "is required".into(),
        })?;
    let activity = Message::from_json_at(message, "followUp.message")?.render()?;
    Ok(Some(FollowUpRequest {
        if_unread_after: raw.clone(),
        after,
        activity,
    }))
}

/// An ISO 8601 duration of days, hours, minutes and seconds (`P1D`, `PT4H`, `PT1H30M`), the
/// subset a follow-up needs; `None` for anything else.
#[must_use]
pub fn parse_iso_duration(raw: &str) -> Option<Duration> {
    let rest = raw.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = Duration::zero();
    let mut parts = 0;
    let mut read = |text: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        let mut allowed = units;
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let at = allowed.iter().position(|(unit, _)| *unit == c)?;
            let value: i64 = number.parse().ok().filter(|v| *v <= 100_000)?;
            total += Duration::seconds(value * allowed[at].1);
            allowed = &allowed[at + 1..];
            number.clear();
            parts += 1;
        }
        number.is_empty().then_some(())
    };
    read(days, &[('D', 86_400)])?;
    if let Some(time) = time {
        read(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    (parts > 0).then_some(total)
}

/// The hosts callbacks may go to (`HERALD_CALLBACK_HOSTS`: comma-separated `host`, `host:port`
/// or `*.domain` entries). Nothing else is ever called: a notify API key does not let its holder
/// make Herald POST anywhere it likes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackHosts(Vec<String>);

impl CallbackHosts {
    /// Reads the comma-separated list; empty entries are ignored.
    #[must_use]
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `url` (already a valid callback URL) may be called.
    #[must_use]
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        let with_port = url
            .port_or_known_default()
            .map(|port| format!("{host}:{port}"));
        self.0.iter().any(|entry| {
            if let Some(domain) = entry.strip_prefix("*.") {
                return host.ends_with(&format!(".{domain}"));
            }
            *entry == host || with_port.as_deref() == Some(entry.as_str())
        })
    }

    /// Checks a request's callback against the list, naming the field.
    pub fn check(&self, callback: Option<&str>) -> Result<(), RequestError> {
        let Some(raw) = callback else {
            return Ok(());
        };
        let url = parse_callback_url(raw).map_err(|problem| invalid("callback", problem))?;
        if self.allows(&url) {
            Ok(())
        } else {
            Err(invalid(
                "callback",
                format!(
                    "host {} is not in HERALD_CALLBACK_HOSTS",
                    url.host_str().unwrap_or_default()
                ),
            ))
        }
    }
}
