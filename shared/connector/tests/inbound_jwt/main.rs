//! Inbound JWT validation against a real HTTP identity server (the emulator's) on 127.0.0.1.
//!
//! Every rejection asserts the exact [`AuthError`] variant, so a check that silently stops
//! working fails here. `claims` checks what a token says, `keys` the signing-key cache, and
//! `forgery` what an attacker might send.

mod claims;
mod forgery;
mod keys;

use std::sync::Arc;

use chrono::Utc;
use herald_connector::inbound::{AuthError, Claims, InboundAuthConfig, JwtValidator};
use herald_domain::{Clock as _, ManualClock};
use herald_teams_emulator::identity::{
    Identity, OPENID_METADATA_PATH, TEAMS_CHANNEL_ID, TokenKind, TokenSpec,
};

const APP_ID: &str = "5e3c1a7b-8d2f-4c61-9b0e-2a7f6d4c8e19";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";

/// Serves `identity.router()` on 127.0.0.1:0 and returns its metadata URL.
async fn serve(identity: &Identity) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = identity.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}{OPENID_METADATA_PATH}")
}

struct Harness {
    identity: Identity,
    clock: Arc<ManualClock>,
    validator: Arc<JwtValidator>,
}

impl Harness {
    async fn new() -> Self {
        let identity = Identity::new(APP_ID);
        let url = serve(&identity).await;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let validator =
            JwtValidator::new(InboundAuthConfig::new(APP_ID).with_openid_metadata_url(url))
                .unwrap()
                .with_clock(clock.clone());
        Self {
            identity,
            clock,
            validator: Arc::new(validator),
        }
    }

    /// A token of `kind`, minted at the validator's current time.
    fn mint(&self, kind: TokenKind) -> String {
        self.identity
            .mint(TokenSpec::new(SERVICE_URL, kind).issued_at(self.clock.now()))
    }

    /// Validates `token` as the webhook would for a Teams activity from `SERVICE_URL`.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        self.validator
            .validate(
                Some(&format!("Bearer {token}")),
                TEAMS_CHANNEL_ID,
                SERVICE_URL,
            )
            .await
    }

    async fn check_kind(&self, kind: TokenKind) -> Result<Claims, AuthError> {
        self.check(&self.mint(kind)).await
    }

    fn fetches(&self) -> (usize, usize) {
        (
            self.identity.metadata_fetches(),
            self.identity.jwks_fetches(),
        )
    }
}
