//! Records the suites of several crates build alike.

use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, ConversationType, ServiceUrl,
    TenantId, UserId, UserInfo,
};

/// A `kind` conversation of bot `app` first seen `at`, in the locale Teams reports (`en-US`), as
/// the webhook stores it; the parts only some conversations have (user, team, channel, zones)
/// are the test's to set.
#[must_use]
pub fn reference(
    tenant: &str,
    conversation: &str,
    kind: ConversationType,
    service_url: ServiceUrl,
    app: &BotAppId,
    at: DateTime<Utc>,
) -> ConversationReference {
    ConversationReference {
        locale: Some("en-US".into()),
        ..ConversationReference::new(
            TenantId::new(tenant).expect("a valid tenant id"),
            ConversationId::new(conversation).expect("a valid conversation id"),
            kind,
            service_url,
            app,
            at,
        )
    }
}

/// Person `aad-1`'s (user `29:1`) personal chat `conversation` with bot `app` in tenant `t`,
/// first seen `at`: the one person the unit tests of personal records need.
#[must_use]
pub fn person(conversation: &str, at: DateTime<Utc>) -> ConversationReference {
    ConversationReference::personal(
        TenantId::new("t").expect("a valid tenant id"),
        ConversationId::new(conversation).expect("a valid conversation id"),
        ServiceUrl::parse("https://smba.trafficmanager.net/amer/").expect("a valid serviceUrl"),
        &BotAppId::new("app").expect("a valid app id"),
        UserInfo {
            id: UserId::new("29:1").expect("a valid user id"),
            aad_object_id: Some(AadObjectId::new("aad-1").expect("a valid AAD id")),
            name: None,
        },
        at,
    )
}
