//! A schedule's zone setting (`timeZone`): one IANA zone for everyone, or each recipient's own
//! stored zone.

use std::fmt;
use std::str::FromStr;

use herald_domain::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::recurrence::RuleError;

/// The API's `timeZone`: one IANA zone for everyone, or each recipient's own stored zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleZone {
    Fixed(TimeZone),
    Recipient,
}

impl ScheduleZone {
    /// Validates the API's `timeZone` value; errors name `timeZone`.
    pub fn from_json(value: &Value) -> Result<Self, RuleError> {
        match value {
            Value::String(s) => s.parse(),
            Value::Null => Err(RuleError::Missing { field: "timeZone" }),
            _ => Err(RuleError::WrongType {
                field: "timeZone",
                expected: "an IANA zone name or \"recipient\"",
            }),
        }
    }
}

impl FromStr for ScheduleZone {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("recipient") {
            return Ok(Self::Recipient);
        }
        s.parse()
            .map(Self::Fixed)
            .map_err(|source| RuleError::TimeZone {
                field: "timeZone",
                source,
            })
    }
}

impl fmt::Display for ScheduleZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(zone) => zone.fmt(f),
            Self::Recipient => f.write_str("recipient"),
        }
    }
}

impl Serialize for ScheduleZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScheduleZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A stored zone setting (a schedule record's `timeZone`); `None` when it no longer reads (a zone
/// the time-zone database has since dropped).
#[must_use]
pub fn schedule_zone(stored: &str) -> Option<ScheduleZone> {
    stored.parse().ok()
}
