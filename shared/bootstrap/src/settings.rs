use std::sync::Arc;

use crate::BootstrapError;

/// Reads one setting: the environment, with the keys of the `HERALD_SECRET_ARN` secret over it
/// in Lambda (see `herald-settings`).
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How long notifications and deliveries are kept when `HERALD_DELIVERY_TTL_DAYS` is not set.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;

/// `HERALD_DELIVERY_TTL_DAYS` (1 to 3650, default 30): how long notifications, deliveries and
/// their DynamoDB items (TTL) are kept. Read once, here, for every function.
pub fn retention(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<chrono::Duration, BootstrapError> {
    const NAME: &str = "HERALD_DELIVERY_TTL_DAYS";
    let Some(raw) = lookup(NAME).filter(|v| !v.trim().is_empty()) else {
        return Ok(chrono::Duration::days(DEFAULT_RETENTION_DAYS));
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|days| (1..=3650).contains(days))
        .map(chrono::Duration::days)
        .ok_or_else(|| BootstrapError::Invalid {
            name: NAME,
            problem: format!("{raw:?} is not a whole number from 1 to 3650"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_reads_and_names_bad_values() {
        assert_eq!(retention(&|_| None).unwrap(), chrono::Duration::days(30));
        let seven = |n: &str| (n == "HERALD_DELIVERY_TTL_DAYS").then(|| "7".to_owned());
        assert_eq!(retention(&seven).unwrap(), chrono::Duration::days(7));
        for bad in ["0", "3651", "many", "-1"] {
            let lookup = |n: &str| (n == "HERALD_DELIVERY_TTL_DAYS").then(|| bad.to_owned());
            assert!(matches!(
                retention(&lookup),
                Err(BootstrapError::Invalid {
                    name: "HERALD_DELIVERY_TTL_DAYS",
                    ..
                })
            ));
        }
    }
}
