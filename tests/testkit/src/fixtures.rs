//! Records the suites of several crates build alike.

use chrono::{DateTime, Utc};
use herald_domain::{
    BotAppId, ConversationId, ConversationReference, ConversationType, ServiceUrl, TenantId,
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
