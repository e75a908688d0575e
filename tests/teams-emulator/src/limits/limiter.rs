//! Enforcement of [`EmulatorLimits`]: sliding windows per conversation, and per tenant a token
//! bucket or a sliding window.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::window::Arrivals;
use super::{EmulatorLimits, TenantModel};

/// Which per-conversation windows a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Write,
    Read,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// Enforcement of [`EmulatorLimits`].
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: EmulatorLimits,
    windows: HashMap<(Class, String, String), Arrivals>,
    tenant_windows: HashMap<String, Arrivals>,
    tenants: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limits: EmulatorLimits) -> Self {
        Self {
            limits,
            windows: HashMap::new(),
            tenant_windows: HashMap::new(),
            tenants: HashMap::new(),
        }
    }

    pub fn limits(&self) -> &EmulatorLimits {
        &self.limits
    }

    /// Admits a request counted at `at` (recording it) or says how long until it would be
    /// admitted. Nothing is recorded for a refused request.
    pub fn admit(
        &mut self,
        class: Class,
        tenant: &str,
        key: &str,
        at: Instant,
    ) -> Result<(), Duration> {
        let windows = match class {
            Class::Write => &self.limits.write,
            Class::Read => &self.limits.read,
        };
        let tolerance = self.limits.tolerance;
        let window_key = (class, tenant.to_owned(), key.to_owned());
        let mut wait = Duration::ZERO;
        let mut refused = false;
        if let Some(arrivals) = self.windows.get(&window_key) {
            for &(limit, period) in windows {
                let span = period.saturating_sub(tolerance);
                if let Some(until) = arrivals.refusal(at, limit, span) {
                    wait = wait.max(until);
                    refused = true;
                }
            }
        }
        let tenant_window = match (self.limits.tenant_rate, self.limits.tenant_model) {
            (Some(rate), TenantModel::SlidingWindow { period }) => {
                let span = period.saturating_sub(tolerance);
                let arrivals = self.tenant_windows.entry(tenant.to_owned()).or_default();
                if let Some(until) = arrivals.refusal(at, rate, span) {
                    wait = wait.max(until);
                    refused = true;
                }
                Some((arrivals, span))
            }
            (Some(rate), TenantModel::TokenBucket) => {
                let capacity = f64::from(self.limits.tenant_burst.unwrap_or(rate));
                let rate = f64::from(rate);
                let bucket = self.tenants.entry(tenant.to_owned()).or_insert(Bucket {
                    tokens: capacity,
                    refreshed: at,
                });
                let elapsed = at.saturating_duration_since(bucket.refreshed).as_secs_f64();
                bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
                bucket.refreshed = bucket.refreshed.max(at);
                if bucket.tokens < 1.0 {
                    wait = wait.max(Duration::from_secs_f64((1.0 - bucket.tokens) / rate));
                    refused = true;
                } else if !refused {
                    bucket.tokens -= 1.0;
                }
                None
            }
            (None, _) => None,
        };
        if refused {
            return Err(wait);
        }
        if let Some((arrivals, span)) = tenant_window {
            arrivals.record(at, span);
        }
        if let Some(longest) = windows.iter().map(|(_, period)| *period).max() {
            self.windows
                .entry(window_key)
                .or_default()
                .record(at, longest);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_lenient_by_the_tolerance_at_the_boundary() {
        let mut limits = EmulatorLimits::teams().tenant_rate(None);
        limits.tolerance = Duration::from_millis(20);
        let mut limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        for _ in 0..7 {
            assert!(limiter.admit(Class::Write, "t", "c", t0).is_ok());
        }
        let wait = limiter.admit(Class::Write, "t", "c", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(980));
        assert!(
            limiter
                .admit(Class::Write, "t", "c", t0 + Duration::from_millis(980))
                .is_ok()
        );
        assert!(limiter.admit(Class::Read, "t", "c", t0).is_ok());
    }

    #[test]
    fn tenant_bucket_refills_at_the_rate() {
        let mut limiter = RateLimiter::new(EmulatorLimits::off().tenant_rate(Some(10)));
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(
                limiter
                    .admit(Class::Write, "t", &format!("c{i}"), t0)
                    .is_ok()
            );
        }
        assert!(limiter.admit(Class::Write, "t", "x", t0).is_err());
        assert!(limiter.admit(Class::Write, "u", "x", t0).is_ok());
        assert!(
            limiter
                .admit(Class::Write, "t", "x", t0 + Duration::from_millis(100))
                .is_ok()
        );
    }

    #[test]
    fn strict_tenant_window_counts_accepted_requests_only() {
        let limits = EmulatorLimits::off().tenant_rate(Some(3)).strict();
        let mut limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        for i in 0..3 {
            assert!(
                limiter
                    .admit(Class::Write, "t", &format!("c{i}"), t0 + ms(i * 10))
                    .is_ok()
            );
        }
        // A bucket would have refilled a token by 400 ms; the window holds three until 1 s.
        assert_eq!(
            limiter.admit(Class::Write, "t", "x", t0 + ms(400)),
            Err(ms(600))
        );
        // The refusal is not counted: at exactly 1 s the oldest accepted left the window.
        assert!(limiter.admit(Class::Write, "t", "x", t0 + ms(1000)).is_ok());
        assert!(
            limiter
                .admit(Class::Write, "t", "x", t0 + ms(1005))
                .is_err()
        );
        assert!(limiter.admit(Class::Write, "u", "x", t0 + ms(1005)).is_ok());
    }

    #[test]
    fn strict_conversation_windows_have_no_tolerance() {
        let mut limiter = RateLimiter::new(EmulatorLimits::teams().tenant_rate(None).strict());
        let t0 = Instant::now();
        for _ in 0..7 {
            assert!(limiter.admit(Class::Write, "t", "c", t0).is_ok());
        }
        let ms = Duration::from_millis;
        assert_eq!(
            limiter.admit(Class::Write, "t", "c", t0 + ms(980)),
            Err(ms(20))
        );
        assert!(limiter.admit(Class::Write, "t", "c", t0 + ms(1000)).is_ok());
    }
}
