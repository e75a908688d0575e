//! Inbound authentication: every bad token the Bot Framework's rules refuse
//! (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication),
//! a missing header and other schemes get 401 with Herald's JSON error, and change nothing.

use herald_teams_emulator::identity::TokenKind;
use herald_testkit::http::Response as HttpReply;

use crate::support::{Harness, Payload, error_message};

/// Tokens a correct validator refuses.
const REJECTED: [TokenKind; 11] = [
    TokenKind::Expired,
    TokenKind::NotYetValid,
    TokenKind::WrongIssuer,
    TokenKind::WrongAudience,
    TokenKind::UnknownKey,
    TokenKind::UpcomingKey,
    TokenKind::NotEndorsed,
    TokenKind::ServiceUrlMismatch,
    TokenKind::AlgNone,
    TokenKind::Hs256WithPublicKey,
    TokenKind::Malformed,
];

/// Tokens that are fine (the skew allowance, a key without endorsements).
const ACCEPTED: [TokenKind; 4] = [
    TokenKind::Valid,
    TokenKind::ExpiredWithinSkew,
    TokenKind::NotYetValidWithinSkew,
    TokenKind::KeyWithoutEndorsements,
];

async fn assert_rejected(h: &Harness, authorization: Option<&str>, payload: &Payload, what: &str) {
    let reply = h.handle(authorization, &payload.bytes()).await;
    let message = error_message(&reply, 401, "Unauthorized");
    assert!(!message.is_empty(), "{what}");
}

#[tokio::test]
async fn every_bad_token_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    let install = h.activity("personal_install");
    let service_url = h.emulator.service_url();
    for kind in REJECTED {
        let token = h.token(&service_url, kind);
        assert_rejected(
            &h,
            Some(&format!("Bearer {token}")),
            &install,
            &format!("{kind:?}"),
        )
        .await;
    }
    let valid = h.token(&service_url, TokenKind::Valid);
    for (authorization, what) in [
        (None, "no header"),
        (Some(String::new()), "empty header"),
        (Some("Bearer ".to_owned()), "empty bearer"),
        (Some(format!("Basic {valid}")), "Basic scheme"),
        (Some(valid.clone()), "token without scheme"),
        (Some("Bearer not.a.jwt".to_owned()), "garbage"),
    ] {
        assert_rejected(&h, authorization.as_deref(), &install, what).await;
    }
    // A valid token for another serviceUrl is not valid for this activity.
    let elsewhere = h.token("https://smba.trafficmanager.net/emea/", TokenKind::Valid);
    assert_rejected(
        &h,
        Some(&format!("Bearer {elsewhere}")),
        &install,
        "other serviceUrl",
    )
    .await;

    assert!(h.all().await.is_empty(), "nothing stored");
    assert_eq!(h.bot_writes(), 0, "no message sent");
    assert!(h.published().is_empty(), "no event");
}

#[tokio::test]
async fn tokens_within_the_rules_are_accepted() {
    // The positive control: the same request with these tokens does install.
    for kind in ACCEPTED {
        let h = Harness::new().await;
        let token = h.token(&h.emulator.service_url(), kind);
        let reply = h
            .handle(
                Some(&format!("Bearer {token}")),
                &h.activity("personal_install").bytes(),
            )
            .await;
        assert_eq!(reply, HttpReply::ok(), "{kind:?}");
        assert_eq!(h.welcomes(&h.personal).len(), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn a_refused_activity_leaves_an_existing_installation_as_it_was() {
    let h = Harness::new().await;
    let team = h.team("Contoso Ops");
    h.ok(&h.activity("personal_install")).await;
    h.ok(&h.activity("team_install").team(&team)).await;
    let before = h.all().await;
    let writes = h.bot_writes();
    let events = h.published();
    let service_url = h.emulator.service_url();
    let attacks = [
        h.activity("personal_uninstall").at(h.later(60)),
        h.activity("team_deleted").team(&team).at(h.later(60)),
        h.activity("message_personal_local_timezone")
            .text("stop")
            .set("TIMEZONE", "Asia/Tokyo")
            .at(h.later(60)),
        h.activity("invoke_adaptive_card_action").at(h.later(60)),
    ];
    for payload in &attacks {
        for kind in REJECTED {
            let token = h.token(&service_url, kind);
            assert_rejected(
                &h,
                Some(&format!("Bearer {token}")),
                payload,
                &payload.fixture,
            )
            .await;
        }
        assert_rejected(&h, None, payload, &payload.fixture).await;
    }
    assert_eq!(h.all().await, before, "the store is unchanged");
    assert_eq!(h.bot_writes(), writes, "no message sent");
    assert_eq!(h.published(), events, "no event");
}
