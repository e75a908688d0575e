//! What a caller may reach. A key limited to some tenants (an ISV's customer) sends only to
//! targets inside those tenants, and sees only the notifications, schedules and installations
//! that lie in them; what it may not see answers as if it did not exist.
//!
//! Targets that name no tenant (`all`, `type`, `conversations`) are refused to a limited key:
//! `all` and `type` would cross tenants, and conversation ids are not the caller's to vouch for.
//! Such a key names its tenant (`{"kind": "tenant", "tenantId": ...}`) instead.

use axum::http::StatusCode;
use herald_domain::{Target, TenantId};
use herald_http::{ApiError, Reply};
use herald_store::{NotificationRecord, Page, ScheduleRecord};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::query::page_reply_where;

/// A stored record sent to, or scheduled for, a target.
pub(crate) trait Targeted {
    fn target(&self) -> &Target;
}

impl Targeted for NotificationRecord {
    fn target(&self) -> &Target {
        &self.target
    }
}

impl Targeted for ScheduleRecord {
    fn target(&self) -> &Target {
        &self.target
    }
}

/// The tenant a target lies in, when it names one.
fn target_tenant(target: &Target) -> Option<&TenantId> {
    match target {
        Target::Tenant { tenant_id }
        | Target::Person { tenant_id, .. }
        | Target::Users { tenant_id, .. } => Some(tenant_id),
        Target::Team { tenant_id, .. } | Target::TeamMembers { tenant_id, .. } => {
            tenant_id.as_ref()
        }
        // A follow-up's recipients are found from another notification: Herald's own, not a
        // caller's, and spanning whatever tenants that one reached.
        Target::All
        | Target::Type { .. }
        | Target::Conversations { .. }
        | Target::Unread { .. } => None,
    }
}

fn forbidden_tenant(tenant: &TenantId) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "TenantNotAllowed",
        format!("this API key may not reach tenant {tenant}"),
    )
    .field("target.tenantId")
    .with("tenantId", json!(tenant))
}

impl Caller {
    /// Whether the key reaches `tenant` (tenant ids are GUIDs: compared without case).
    #[must_use]
    pub fn reaches(&self, tenant: &TenantId) -> bool {
        self.tenants.as_deref().is_none_or(|tenants| {
            tenants
                .iter()
                .any(|t| t.as_str().eq_ignore_ascii_case(tenant.as_str()))
        })
    }

    /// `403` unless the key may send to `target`.
    pub(crate) fn allow_target(&self, target: &Target) -> Result<(), ApiError> {
        if self.tenants.is_none() {
            return Ok(());
        }
        match target_tenant(target) {
            Some(tenant) if self.reaches(tenant) => Ok(()),
            Some(tenant) => Err(forbidden_tenant(tenant)),
            None => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "TargetNotAllowed",
                "this API key is limited to some tenants: name one with a target of kind \
                 tenant, person, users, team or teamMembers and its tenantId (all, type and \
                 conversations may cross tenants)",
            )
            .field("target.kind")),
        }
    }

    /// Whether the key may see what was sent to, or is scheduled for, `target`.
    pub(crate) fn may_see(&self, target: &Target) -> bool {
        self.allow_target(target).is_ok()
    }

    /// A listing's answer holding only the records this key may see (a page may then hold fewer
    /// than `limit`; `nextCursor` still says whether more follow).
    pub(crate) fn visible_page<T: Targeted>(
        &self,
        listing: &str,
        page: &Page<T>,
        item: impl Fn(&T) -> Value,
    ) -> Reply {
        page_reply_where(listing, page, |record| self.may_see(record.target()), item)
    }

    /// The tenant an installations listing keeps to: the one asked for (`403` if the key does
    /// not reach it), else a limited key's only tenant; a key limited to several names one.
    pub(crate) fn listing_tenant(
        &self,
        asked: Option<TenantId>,
    ) -> Result<Option<TenantId>, ApiError> {
        match (asked, self.tenants.as_deref()) {
            (asked, None) => Ok(asked),
            (Some(asked), Some(_)) if self.reaches(&asked) => Ok(Some(asked)),
            (Some(asked), Some(_)) => Err(forbidden_tenant(&asked).field("tenantId")),
            (None, Some([only])) => Ok(Some(only.clone())),
            (None, Some(_)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "TenantNotAllowed",
                "this API key reaches several tenants: list one at a time with tenantId",
            )
            .field("tenantId")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use herald_domain::{AadObjectId, ConversationId, ConversationType, TeamId};

    use super::*;

    fn tenant(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    fn limited(tenants: &[&str]) -> Caller {
        Caller {
            key_sha256: "k".into(),
            tenants: Some(tenants.iter().map(|t| tenant(t)).collect::<Vec<_>>().into()),
        }
    }

    #[test]
    fn a_limited_key_reaches_only_its_tenants() {
        let caller = limited(&["aaaa-1", "bbbb-2"]);
        let inside = [
            Target::Tenant {
                tenant_id: tenant("AAAA-1"),
            },
            Target::Person {
                aad_object_id: AadObjectId::new("o").unwrap(),
                tenant_id: tenant("bbbb-2"),
            },
            Target::TeamMembers {
                team_id: TeamId::new("19:t@thread.tacv2").unwrap(),
                tenant_id: Some(tenant("aaaa-1")),
            },
        ];
        for target in &inside {
            assert!(caller.allow_target(target).is_ok(), "{target:?}");
        }
        let outside = caller
            .allow_target(&Target::Users {
                aad_object_ids: vec![AadObjectId::new("o").unwrap()],
                tenant_id: tenant("cccc-3"),
            })
            .unwrap_err();
        assert_eq!(outside.status(), StatusCode::FORBIDDEN);
        assert!(outside.message().contains("cccc-3"), "{outside:?}");
        for crossing in [
            Target::All,
            Target::Type {
                conversation_type: ConversationType::Personal,
            },
            Target::Conversations {
                ids: vec![ConversationId::new("a:1").unwrap()],
            },
            Target::Team {
                team_id: TeamId::new("19:t@thread.tacv2").unwrap(),
                tenant_id: None,
                channel: "General".into(),
            },
        ] {
            assert!(!caller.may_see(&crossing), "{crossing:?}");
        }
        let everyone = Caller {
            key_sha256: "k".into(),
            tenants: None,
        };
        assert!(everyone.may_see(&Target::All));
    }

    #[test]
    fn listings_keep_to_the_keys_tenants() {
        let one = limited(&["aaaa-1"]);
        assert_eq!(one.listing_tenant(None).unwrap(), Some(tenant("aaaa-1")));
        assert_eq!(
            one.listing_tenant(Some(tenant("aaaa-1"))).unwrap(),
            Some(tenant("aaaa-1"))
        );
        assert!(one.listing_tenant(Some(tenant("cccc-3"))).is_err());
        assert!(limited(&["a", "b"]).listing_tenant(None).is_err());
        let everyone = Caller {
            key_sha256: "k".into(),
            tenants: None::<Arc<[TenantId]>>,
        };
        assert_eq!(everyone.listing_tenant(None).unwrap(), None);
    }
}
