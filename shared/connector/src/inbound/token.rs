//! The checks on one token, in the order the connector authentication page lists them: a Bearer
//! header, a JWT signed with RS256 by a published key, the trusted issuer, this bot's app id as
//! audience, a lifetime that covers now (with [`CLOCK_SKEW`]), a key endorsed for the activity's
//! channel, and a `serviceurl` claim naming the activity's `serviceUrl`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use url::Url;

use super::keys::SigningKey;
use super::{AuthError, CLOCK_SKEW, Claims, InboundAuthConfig, clip};

/// Longest Authorization header looked at; real connector tokens are about 1.5 KB.
const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Deserialize)]
struct JoseHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// The claims as the token spells them, read once the signature verified.
#[derive(Deserialize)]
pub(super) struct RawClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    serviceurl: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The token of a `Bearer` Authorization header (scheme compared case-insensitively, RFC 7235).
pub(super) fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let header = header.ok_or(AuthError::MissingHeader)?;
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token".to_owned()));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed(format!(
            "token longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    if token.contains(char::is_whitespace) {
        return Err(AuthError::Malformed(
            "whitespace inside the token".to_owned(),
        ));
    }
    Ok(token)
}

/// The `kid` of an RS256 token, read before any key is fetched so that `alg: none` and other
/// algorithms cost nothing.
pub(super) fn signing_key_id(token: &str) -> Result<String, AuthError> {
    let header = parse_header(token)?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        Some(other) => return Err(AuthError::UnsupportedAlgorithm(clip(other))),
        None => return Err(AuthError::Malformed("header has no alg".to_owned())),
    }
    header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::MissingKeyId)
}

/// The JOSE header, read here rather than by jsonwebtoken so `alg: none` and other algorithms it
/// does not know are reported as such instead of as a parse error.
fn parse_header(token: &str) -> Result<JoseHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "not three dot-separated parts".to_owned(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| AuthError::Malformed(clip(&format!("header: {e}"))))
}

/// The claims of a token whose RS256 signature `key` verifies. jsonwebtoken checks only the
/// signature; [`check_claims`] judges the claims against the injected clock, with a precise
/// reason for each failure.
pub(super) fn verify_signature(token: &str, key: &SigningKey) -> Result<RawClaims, AuthError> {
    let mut signature_only = Validation::new(Algorithm::RS256);
    signature_only.required_spec_claims.clear();
    signature_only.validate_exp = false;
    signature_only.validate_nbf = false;
    signature_only.validate_aud = false;
    jsonwebtoken::decode::<RawClaims>(token, &key.decoding, &signature_only)
        .map(|data| data.claims)
        .map_err(|e| match e.into_kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                AuthError::UnsupportedAlgorithm("RS256 key mismatch".to_owned())
            }
            other => AuthError::Malformed(clip(&format!("{other:?}"))),
        })
}

/// Lifetime at `now`, issuer and audience; the claims of an accepted token.
pub(super) fn check_claims(
    raw: RawClaims,
    key_id: String,
    config: &InboundAuthConfig,
    now: DateTime<Utc>,
) -> Result<Claims, AuthError> {
    let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or(chrono::Duration::zero());

    let exp = raw.exp.ok_or(AuthError::MissingClaim("exp"))?;
    let expires_at = DateTime::from_timestamp(exp, 0)
        .ok_or_else(|| AuthError::Malformed("exp out of range".to_owned()))?;
    if now > expires_at + skew {
        return Err(AuthError::Expired {
            expired_at: expires_at,
            now,
        });
    }
    let not_before = raw
        .nbf
        .map(|nbf| {
            DateTime::from_timestamp(nbf, 0)
                .ok_or_else(|| AuthError::Malformed("nbf out of range".to_owned()))
        })
        .transpose()?;
    if let Some(not_before) = not_before
        && not_before > now + skew
    {
        return Err(AuthError::NotYetValid { not_before, now });
    }

    let issuer = raw.iss.ok_or(AuthError::MissingClaim("iss"))?;
    if !config.issuers.contains(&issuer) {
        return Err(AuthError::WrongIssuer(clip(&issuer)));
    }
    let audience = match raw.aud.ok_or(AuthError::MissingClaim("aud"))? {
        Audience::One(aud) if aud == config.app_id => aud,
        Audience::Many(list) if list.contains(&config.app_id) => config.app_id.clone(),
        Audience::One(aud) => return Err(AuthError::WrongAudience(clip(&aud))),
        Audience::Many(list) => return Err(AuthError::WrongAudience(clip(&list.join(",")))),
    };
    let service_url = raw
        .serviceurl
        .ok_or(AuthError::MissingClaim("serviceurl"))?;
    Ok(Claims {
        issuer,
        audience,
        service_url,
        expires_at,
        not_before,
        key_id,
    })
}

/// The key must be endorsed for the activity's `channelId` when its JWKS entry lists
/// endorsements at all.
pub(super) fn check_endorsement(
    key: &SigningKey,
    key_id: &str,
    channel_id: &str,
) -> Result<(), AuthError> {
    match &key.endorsements {
        Some(endorsements) if !endorsements.iter().any(|e| e == channel_id) => {
            Err(AuthError::NotEndorsed {
                kid: clip(key_id),
                channel_id: clip(channel_id),
            })
        }
        _ => Ok(()),
    }
}

/// The `serviceurl` claim must name the activity's `serviceUrl`, so a token minted for one
/// connector cannot vouch for replies sent elsewhere.
pub(super) fn check_service_url(claim: &str, activity: &str) -> Result<(), AuthError> {
    if same_service_url(claim, activity) {
        Ok(())
    } else {
        Err(AuthError::ServiceUrlMismatch {
            claim: clip(claim),
            activity: clip(activity),
        })
    }
}

/// Service URLs compared after normalising what varies harmlessly: host case, default port and
/// trailing slashes. Unparseable URLs never match.
fn same_service_url(claim: &str, activity: &str) -> bool {
    fn normalise(raw: &str) -> Option<Url> {
        let mut url = Url::parse(raw.trim()).ok()?;
        if !url.has_host() {
            return None;
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Some(url)
    }
    match (normalise(claim), normalise(activity)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_required_and_case_insensitive() {
        assert_eq!(bearer_token(None), Err(AuthError::MissingHeader));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::MissingHeader));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::NotBearer));
        assert_eq!(bearer_token(Some("abc.def.ghi")), Err(AuthError::NotBearer));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(Some("Bearer a b")),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(bearer_token(Some("bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some(" Bearer  a.b.c ")), Ok("a.b.c"));
    }

    #[test]
    fn service_urls_compare_modulo_slash_host_case_and_default_port() {
        let teams = "https://smba.trafficmanager.net/amer/";
        assert!(same_service_url(
            teams,
            "https://smba.trafficmanager.net/amer"
        ));
        assert!(same_service_url(
            teams,
            "https://SMBA.TrafficManager.net/amer/"
        ));
        assert!(same_service_url(
            teams,
            "https://smba.trafficmanager.net:443/amer/"
        ));
        assert!(same_service_url(
            "https://smba.trafficmanager.net",
            "https://smba.trafficmanager.net/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net/emea/"
        ));
        assert!(!same_service_url(
            teams,
            "http://smba.trafficmanager.net/amer/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net.evil/amer/"
        ));
        assert!(!same_service_url(
            teams,
            "https://smba.trafficmanager.net/AMER/"
        ));
        assert!(!same_service_url("", ""));
        assert!(!same_service_url("not a url", "not a url"));
    }
}
