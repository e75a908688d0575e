//! API keys: `Authorization: Bearer <key>` against SHA-256 hashes, compared in constant time.
//!
//! Only hashes are configured (a leaked environment does not leak a usable key), and every
//! configured hash is compared in full whatever matched, so timing says nothing about a key.
//! A key may be limited to some tenants (`<digest>:<tenant> <tenant>`): what it may then reach
//! is [`crate::reach`]'s business.

use std::fmt::Write as _;
use std::sync::Arc;

use herald_domain::TenantId;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::error::ConfigError;

/// The keys the API accepts, as SHA-256 digests, each with the tenants it is limited to.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
    /// Beside `digests`: `None` for a key that reaches every tenant.
    tenants: Vec<Tenants>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

/// Why a request was not authenticated (said in the 401, never which key came close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MissingHeader,
    NotBearer,
    WrongKey,
}

impl AuthFailure {
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingHeader => "the Authorization header is missing",
            Self::NotBearer => "the Authorization header must be \"Bearer <api key>\"",
            Self::WrongKey => "the API key is not valid",
        }
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Reads `HERALD_API_KEY_SHA256` (comma-separated entries: a hex digest, optionally followed
    /// by `:` and the space-separated tenant ids the key is limited to) and `HERALD_API_KEY` (a
    /// plain key reaching every tenant, for local use). At least one key is required: there is
    /// no open mode.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut keys = Self {
            digests: Vec::new(),
            tenants: Vec::new(),
        };
        if let Some(list) = lookup("HERALD_API_KEY_SHA256") {
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (digest, tenants) = parse_entry(entry)?;
                keys.digests.push(digest);
                keys.tenants.push(tenants);
            }
        }
        if let Some(plain) = lookup("HERALD_API_KEY").filter(|k| !k.trim().is_empty()) {
            keys.digests.push(digest(plain.trim()));
            keys.tenants.push(None);
        }
        if keys.digests.is_empty() {
            return Err(ConfigError::NoApiKey);
        }
        Ok(keys)
    }

    /// Keys given in plain text (tests, the local runner), each reaching every tenant.
    #[must_use]
    pub fn from_plain(keys: &[&str]) -> Self {
        Self {
            digests: keys.iter().map(|k| digest(k)).collect(),
            tenants: keys.iter().map(|_| None).collect(),
        }
    }

    /// Adds a plain key limited to `tenants` (tests).
    #[must_use]
    pub fn with_limited(mut self, key: &str, tenants: &[TenantId]) -> Self {
        self.digests.push(digest(key));
        self.tenants.push(Some(tenants.into()));
        self
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), AuthFailure> {
        self.authenticate(authorization).map(|_| ())
    }

    /// Checks an `Authorization` header value and says which key it carried.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthFailure> {
        let header = authorization.ok_or(AuthFailure::MissingHeader)?.trim();
        let (scheme, key) = header.split_once(' ').ok_or(AuthFailure::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
            return Err(AuthFailure::NotBearer);
        }
        let presented = digest(key.trim());
        let matched = self
            .digests
            .iter()
            .fold(Choice::from(0), |acc, d| acc | d.ct_eq(&presented));
        if !bool::from(matched) {
            return Err(AuthFailure::WrongKey);
        }
        // The key is known to match by now: finding which one says nothing about another key.
        let tenants = self
            .digests
            .iter()
            .position(|d| bool::from(d.ct_eq(&presented)))
            .and_then(|i| self.tenants.get(i).cloned().flatten());
        Ok(Caller {
            key_sha256: hex(&presented),
            tenants,
        })
    }
}

/// Who called: one of the configured keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's SHA-256 (hex), as configured: idempotency keys are scoped to it.
    pub key_sha256: String,
    /// The tenants the key is limited to; `None`: every tenant.
    pub tenants: Tenants,
}

/// The tenants a key is limited to; `None`: every tenant.
type Tenants = Option<Arc<[TenantId]>>;

fn parse_entry(entry: &str) -> Result<([u8; 32], Tenants), ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        name: "HERALD_API_KEY_SHA256",
        problem,
    };
    let (hex_digest, tenants) = match entry.split_once(':') {
        Some((digest, tenants)) => (digest.trim(), Some(tenants)),
        None => (entry, None),
    };
    let digest = parse_hex_digest(hex_digest).ok_or_else(|| {
        invalid(format!(
            "an entry starting {:?} is not 64 hexadecimal digits",
            hex_digest.chars().take(8).collect::<String>()
        ))
    })?;
    let Some(tenants) = tenants else {
        return Ok((digest, None));
    };
    let tenants = tenants
        .split_whitespace()
        .map(|t| TenantId::new(t).map_err(|e| invalid(format!("tenant {t:?} of a key: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if tenants.is_empty() {
        return Err(invalid(format!(
            "the entry starting {:?} has a ':' but no tenant after it",
            hex_digest.chars().take(8).collect::<String>()
        )));
    }
    Ok((digest, Some(tenants.into())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf %s herald-test-key | sha256sum`
    const TEST_KEY_SHA256: &str =
        "9e45f2514a69a0b24cda8e7bdc28eb6af18e58ce24cafa0d1fb4adf752ca4a71";

    #[test]
    fn hashed_and_plain_keys_are_accepted_and_nothing_else() {
        let keys = ApiKeys::from_lookup(|n| match n {
            "HERALD_API_KEY_SHA256" => Some(format!(" {TEST_KEY_SHA256} , ")),
            "HERALD_API_KEY" => Some("local-key".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(keys.check(Some("Bearer herald-test-key")), Ok(()));
        assert_eq!(keys.check(Some("bearer local-key")), Ok(()));
        assert_eq!(keys.check(Some("Bearer  local-key ")), Ok(()));
        assert_eq!(keys.check(None), Err(AuthFailure::MissingHeader));
        assert_eq!(keys.check(Some("local-key")), Err(AuthFailure::NotBearer));
        assert_eq!(
            keys.check(Some("Basic local-key")),
            Err(AuthFailure::NotBearer)
        );
        assert_eq!(keys.check(Some("Bearer ")), Err(AuthFailure::NotBearer));
        assert_eq!(
            keys.check(Some("Bearer local-kez")),
            Err(AuthFailure::WrongKey)
        );
        assert_eq!(
            keys.check(Some(&format!("Bearer {TEST_KEY_SHA256}"))),
            Err(AuthFailure::WrongKey)
        );
        // The caller is named by its key's digest, never by the key.
        assert_eq!(
            keys.authenticate(Some("Bearer herald-test-key")),
            Ok(Caller {
                key_sha256: TEST_KEY_SHA256.to_owned(),
                tenants: None,
            })
        );
    }

    #[test]
    fn a_key_may_be_limited_to_tenants() {
        let other = "a".repeat(64);
        let keys = ApiKeys::from_lookup(|n| {
            (n == "HERALD_API_KEY_SHA256").then(|| {
                format!(
                    "{other}, {TEST_KEY_SHA256}: tenant-one  tenant-two ,{}",
                    "b".repeat(64)
                )
            })
        })
        .unwrap();
        let caller = keys.authenticate(Some("Bearer herald-test-key")).unwrap();
        let tenants: Vec<&str> = caller
            .tenants
            .as_deref()
            .unwrap()
            .iter()
            .map(TenantId::as_str)
            .collect();
        assert_eq!(tenants, ["tenant-one", "tenant-two"]);
        let local =
            ApiKeys::from_plain(&["k"]).with_limited("limited", &[TenantId::new("t").unwrap()]);
        assert_eq!(local.authenticate(Some("Bearer k")).unwrap().tenants, None);
        assert_eq!(
            local
                .authenticate(Some("Bearer limited"))
                .unwrap()
                .tenants
                .as_deref(),
            Some(&[TenantId::new("t").unwrap()][..])
        );
        for bad in [
            format!("{TEST_KEY_SHA256}:"),
            format!("{TEST_KEY_SHA256}:  "),
        ] {
            assert!(
                matches!(
                    ApiKeys::from_lookup(|n| (n == "HERALD_API_KEY_SHA256").then(|| bad.clone())),
                    Err(ConfigError::Invalid {
                        name: "HERALD_API_KEY_SHA256",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn no_key_or_a_bad_digest_refuses_to_configure() {
        assert!(matches!(
            ApiKeys::from_lookup(|_| None),
            Err(ConfigError::NoApiKey)
        ));
        assert!(matches!(
            ApiKeys::from_lookup(|n| (n == "HERALD_API_KEY").then(|| "  ".into())),
            Err(ConfigError::NoApiKey)
        ));
        for bad in ["abc", &"g".repeat(64), &"a".repeat(65)] {
            let bad = bad.to_owned();
            assert!(matches!(
                ApiKeys::from_lookup(|n| (n == "HERALD_API_KEY_SHA256").then(|| bad.clone())),
                Err(ConfigError::Invalid {
                    name: "HERALD_API_KEY_SHA256",
                    ..
                })
            ));
        }
    }
}
