use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// An IANA time zone from the tz database (`chrono-tz`), as Teams reports it in `localTimezone`.
///
/// Never a fixed offset: reminders must follow daylight-saving changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    #[must_use]
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl From<chrono_tz::Tz> for TimeZone {
    fn from(tz: chrono_tz::Tz) -> Self {
        Self(tz)
    }
}

impl FromStr for TimeZone {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| DomainError::InvalidTimeZone(s.to_owned()))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iana_names_and_rejects_others() {
        let tz: TimeZone = "America/Los_Angeles".parse().unwrap();
        assert_eq!(tz.name(), "America/Los_Angeles");
        assert_eq!(
            "Mars/Olympus".parse::<TimeZone>(),
            Err(DomainError::InvalidTimeZone("Mars/Olympus".into()))
        );
        assert!("".parse::<TimeZone>().is_err());
        assert!(serde_json::from_str::<TimeZone>("\"Asia/Kathmandu\"").is_ok());
        assert!(serde_json::from_str::<TimeZone>("\"GMT+5\"").is_err());
    }
}
