//! Herald's settings as named variables, read through a lookup (the process environment, or a
//! map in tests) so every configuration reads them alike.

use std::time::Duration;

use crate::config::cloud::Cloud;
use crate::config::error::ConfigError;

/// Variables read by name: values trimmed, empty ones unset, and a bad value a
/// [`ConfigError::Invalid`] naming its variable.
pub struct Variables<F>(F);

impl<F: Fn(&str) -> Option<String>> Variables<F> {
    pub fn new(lookup: F) -> Self {
        Self(lookup)
    }

    /// The trimmed value of `name`, `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// `HERALD_CLOUD`: `Public` (the default) or `USGov`, in any case.
    pub fn cloud(&self) -> Result<Cloud, ConfigError> {
        match self.get("HERALD_CLOUD") {
            None => Ok(Cloud::Public),
            Some(v) if v.eq_ignore_ascii_case("Public") => Ok(Cloud::Public),
            Some(v) if v.eq_ignore_ascii_case("USGov") => Ok(Cloud::UsGov),
            Some(v) => Err(ConfigError::invalid(
                "HERALD_CLOUD",
                &v,
                "expected Public or USGov",
            )),
        }
    }

    /// A positive number of milliseconds, `None` when unset.
    pub fn millis(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.get(name)
            .map(|v| match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(ConfigError::invalid(
                    name,
                    &v,
                    "expected a positive number of milliseconds",
                )),
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &'static str, value: &'static str) -> Variables<impl Fn(&str) -> Option<String>> {
        Variables::new(move |n: &str| (n == name).then(|| value.to_owned()))
    }

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        assert_eq!(one("A", "  x ").get("A").as_deref(), Some("x"));
        assert_eq!(one("A", "   ").get("A"), None);
        assert_eq!(one("A", "x").get("B"), None);
    }

    #[test]
    fn cloud_and_millis_name_the_variable_when_invalid() {
        assert_eq!(one("X", "").cloud(), Ok(Cloud::Public));
        assert_eq!(one("HERALD_CLOUD", "usgov").cloud(), Ok(Cloud::UsGov));
        assert!(matches!(
            one("HERALD_CLOUD", "Mars").cloud(),
            Err(ConfigError::Invalid {
                name: "HERALD_CLOUD",
                ..
            })
        ));
        assert_eq!(
            one("T", "250").millis("T"),
            Ok(Some(Duration::from_millis(250)))
        );
        assert_eq!(one("T", "").millis("T"), Ok(None));
        for bad in ["0", "-1", "soon"] {
            assert!(matches!(
                one("T", bad).millis("T"),
                Err(ConfigError::Invalid { name: "T", .. })
            ));
        }
    }
}
