//! Expansion: a notification's target becomes one delivery per recipient, a page at a time.
//!
//! Every page is read through a key or an index (never a scan with a predicate, except the
//! `all` target, which is "list everything"), written with [`OutboxStore::append_page`] together
//! with the cursor of the next page, and so resumes wherever a previous attempt stopped.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use herald_connector::{Call, Connector, Deadline};
use herald_domain::{
    AadObjectId, ChannelSelector, Clock, ConversationId, ConversationKey, ConversationReference,
    ConversationType, DeliveryId, DeliveryStatus, ReferenceStatus, Target, TeamId, TenantId,
    UserId,
};
use herald_schedule::Listed;
use herald_store::{
    Cursor, DeliveryRecord, ListFilter, MAX_PAGE, NotificationId, NotificationRecord, OutboxStore,
    PageRequest, ReferenceStore,
};

use crate::PipelineError;
use crate::zone_fire;

/// Prefix of a roster continuation token in the expansion cursor.
const ROSTER: &str = "roster:";

/// Reference lookups a page runs at once. Each recipient of an id list or a roster is one
/// query: one after another, a page of 99 waited 99 round trips (half a second at DynamoDB's
/// few milliseconds each) before its deliveries were written and could start.
const LOOKUPS: usize = 16;

/// What expansion needs.
pub struct Expander {
    pub references: Arc<dyn ReferenceStore>,
    pub outbox: Arc<dyn OutboxStore>,
    /// For `teamMembers`: the team roster.
    pub connector: Arc<dyn Connector>,
    pub clock: Arc<dyn Clock>,
    /// How long delivery records are kept (DynamoDB TTL).
    pub retention: Duration,
    /// Whether a person without a personal conversation gets the app installed through Microsoft
    /// Graph (`HERALD_GRAPH_INSTALL`); without it they are reported unresolved.
    pub proactive_install: bool,
}

/// Where a notification's expansion stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    /// More pages follow.
    More,
    /// Every recipient has a delivery.
    Done,
    /// No such notification.
    Missing,
}

/// One page of recipients and where the next one starts.
pub(crate) struct Recipients {
    pub(crate) deliveries: Vec<DeliveryRecord>,
    pub(crate) next: Option<String>,
}

impl Expander {
    /// Expands pages until done or until `until` passes (a Lambda stops before its timeout).
    pub async fn expand(
        &self,
        id: &NotificationId,
        until: DateTime<Utc>,
    ) -> Result<Expansion, PipelineError> {
        loop {
            let step = self.expand_page(id).await?;
            if step != Expansion::More || self.clock.now() >= until {
                return Ok(step);
            }
        }
    }

    /// Writes the next page of deliveries, if any.
    pub async fn expand_page(&self, id: &NotificationId) -> Result<Expansion, PipelineError> {
        let Some(notification) = self.outbox.get_notification(id).await? else {
            return Ok(Expansion::Missing);
        };
        if notification.expanded {
            return Ok(Expansion::Done);
        }
        let cursor = notification.expansion_cursor.as_deref();
        let page = self.recipients(&notification, cursor).await?;
        let moved = self
            .outbox
            .append_page(id, cursor, page.next.as_deref(), &page.deliveries)
            .await?;
        if !moved {
            tracing::debug!(notification = %id, "another expander wrote this page");
        }
        Ok(if moved && page.next.is_none() {
            Expansion::Done
        } else {
            Expansion::More
        })
    }

    /// The page of recipients that starts at `cursor`, as deliveries not yet written.
    pub(crate) async fn recipients(
        &self,
        notification: &NotificationRecord,
        cursor: Option<&str>,
    ) -> Result<Recipients, PipelineError> {
        let maker = DeliveryMaker {
            notification,
            now: self.clock.now(),
            expires_at: (self.clock.now() + self.retention).timestamp(),
        };
        match &notification.target {
            Target::All => self.listed(&maker, ListFilter::all(), cursor).await,
            Target::Type { conversation_type } => {
                let filter = ListFilter {
                    conversation_type: Some(*conversation_type),
                    ..ListFilter::default()
                };
                self.listed(&maker, filter, cursor).await
            }
            Target::Tenant { tenant_id } => {
                let filter = ListFilter {
                    tenant: Some(tenant_id.clone()),
                    ..ListFilter::default()
                };
                self.listed(&maker, filter, cursor).await
            }
            Target::Team {
                team_id, tenant_id, ..
            } => {
                let Some(tenant) = self.team_tenant(team_id, tenant_id.as_ref()).await? else {
                    return Ok(one(None));
                };
                let name = match notification.target.channel_selector() {
                    Some(ChannelSelector::All) | None => {
                        let filter = ListFilter {
                            tenant: Some(tenant),
                            team: Some(team_id.clone()),
                            ..ListFilter::default()
                        };
                        return self.listed(&maker, filter, cursor).await;
                    }
                    Some(ChannelSelector::General) => "General",
                    Some(ChannelSelector::Named(name)) => name,
                };
                let channel = self.references.find_channel(&tenant, team_id, name).await?;
                Ok(one(channel.map(|r| maker.for_reference(&r))))
            }
            Target::Person {
                aad_object_id,
                tenant_id,
            } => Ok(one(Some(
                self.person(&maker, tenant_id, aad_object_id).await?,
            ))),
            Target::Users {
                aad_object_ids,
                tenant_id,
            } => {
                let (page, next) = offset_page(aad_object_ids, cursor);
                let lookups = page.iter().map(|aad| self.person(&maker, tenant_id, aad));
                let deliveries = in_order(lookups.collect()).await?;
                Ok(Recipients {
                    deliveries: dedupe(deliveries),
                    next,
                })
            }
            Target::Conversations { ids } => self.conversations(&maker, ids, cursor).await,
            Target::TeamMembers { team_id, tenant_id } => {
                match self.team_tenant(team_id, tenant_id.as_ref()).await? {
                    Some(tenant) => self.roster(&maker, &tenant, team_id, cursor).await,
                    None => Ok(one(None)),
                }
            }
            Target::Unread { notification_id } => {
                self.unread(&maker, notification_id, cursor).await
            }
        }
    }

    /// `unread`: the sent personal copies of another notification no read receipt covered, a
    /// page of its deliveries at a time (the cursor is theirs). Each goes to the stored personal
    /// conversation, so an opted-out or blocked person is skipped like any recipient.
    async fn unread(
        &self,
        maker: &DeliveryMaker<'_>,
        original: &NotificationId,
        cursor: Option<&str>,
    ) -> Result<Recipients, PipelineError> {
        let request = PageRequest {
            cursor: cursor.map(Cursor::from_client),
            limit: Some(MAX_PAGE as u32),
        };
        let page = self
            .outbox
            .list_deliveries(original, Some(DeliveryStatus::Sent), &request)
            .await?;
        let mut deliveries = Vec::new();
        for sent in &page.items {
            let unread =
                sent.conversation_type == ConversationType::Personal && sent.read_at.is_none();
            let Some(conversation) = sent.conversation_id.as_ref().filter(|_| unread) else {
                continue;
            };
            let key = ConversationKey::new(sent.tenant_id.clone(), conversation.clone());
            if let Some(reference) = self.references.get(&key).await? {
                deliveries.push(maker.for_reference(&reference));
            }
        }
        Ok(Recipients {
            deliveries: dedupe(deliveries),
            next: page.next_cursor.map(|c| c.as_str().to_owned()),
        })
    }

    async fn listed(
        &self,
        maker: &DeliveryMaker<'_>,
        mut filter: ListFilter,
        cursor: Option<&str>,
    ) -> Result<Recipients, PipelineError> {
        // A recipient-local schedule's fire reads one zone through the zone index; one that
        // recorded its instant then reads who left the zone (`zone_fire`).
        let zone = maker.notification.zone_filter.as_deref();
        let fire = maker.notification.zone_fire.filter(|_| zone.is_some());
        let (listed, cursor) = match fire {
            Some(_) => zone_fire::phase(cursor),
            None => (Listed::InZone, cursor),
        };
        let index = match listed {
            Listed::InZone => &mut filter.zone,
            Listed::LeftZone => &mut filter.previous_zone,
        };
        *index = zone.map(str::to_owned);
        let request = PageRequest {
            cursor: cursor.map(Cursor::from_client),
            limit: Some(MAX_PAGE as u32),
        };
        let page = self.references.list(&filter, &request).await?;
        let reached = |r: &&ConversationReference| match (fire, zone) {
            (Some(fire), Some(zone)) => zone_fire::reaches(&fire, zone, listed, r),
            _ => true,
        };
        let next = page.next_cursor.as_ref().map(Cursor::as_str);
        Ok(Recipients {
            deliveries: dedupe(
                page.items
                    .iter()
                    .filter(reached)
                    .map(|r| maker.for_reference(r)),
            ),
            next: match fire {
                Some(_) => zone_fire::next(listed, next),
                None => next.map(str::to_owned),
            },
        })
    }

    /// One person's 1:1 delivery: their stored personal conversation, else an installation
    /// through Graph when enabled, else reported unresolved.
    async fn person(
        &self,
        maker: &DeliveryMaker<'_>,
        tenant: &TenantId,
        aad: &AadObjectId,
    ) -> Result<DeliveryRecord, PipelineError> {
        Ok(match self.references.find_personal(tenant, aad).await? {
            Some(reference) => maker.for_reference(&reference),
            None if self.proactive_install => maker.to_install(tenant, aad),
            None => maker.unresolved(tenant, aad),
        })
    }

    /// The stored personal conversation of a roster member, if the member has an AAD id.
    async fn stored_personal(
        &self,
        tenant: &TenantId,
        aad: Option<&AadObjectId>,
    ) -> Result<Option<ConversationReference>, herald_store::StoreError> {
        match aad {
            Some(aad) => self.references.find_personal(tenant, aad).await,
            None => Ok(None),
        }
    }

    /// `conversations`: the listed ids, a page of them at a time (the cursor is an offset).
    async fn conversations(
        &self,
        maker: &DeliveryMaker<'_>,
        ids: &[ConversationId],
        cursor: Option<&str>,
    ) -> Result<Recipients, PipelineError> {
        let (page, next) = offset_page(ids, cursor);
        let lookups = page
            .iter()
            .map(|id| self.references.find_by_conversation(id));
        let found = in_order(lookups.collect()).await?;
        let mut deliveries = Vec::with_capacity(found.len());
        for (id, reference) in page.iter().zip(found) {
            if let Some(reference) = reference {
                deliveries.push(maker.for_reference(&reference));
            } else {
                tracing::warn!(conversation = %id, "conversation not stored; skipped");
            }
        }
        Ok(Recipients {
            deliveries: dedupe(deliveries),
            next,
        })
    }

    /// `teamMembers`: the team roster, one connector page at a time; members with a stored
    /// personal conversation use it, the others get one created by the sender.
    async fn roster(
        &self,
        maker: &DeliveryMaker<'_>,
        tenant: &TenantId,
        team: &TeamId,
        cursor: Option<&str>,
    ) -> Result<Recipients, PipelineError> {
        let channels = self.references.team_channels(tenant, team).await?;
        let Some(general) = channels
            .iter()
            .find(|r| r.conversation_id.as_str() == team.as_str())
            .or(channels.first())
        else {
            tracing::warn!(team = %team, "team not installed; nobody to send to");
            return Ok(Recipients {
                deliveries: Vec::new(),
                next: None,
            });
        };
        let token = cursor
            .and_then(|c| c.strip_prefix(ROSTER))
            .filter(|t| !t.is_empty());
        let roster_conversation =
            ConversationId::new(team.as_str()).map_err(|e| PipelineError::InvalidNotification {
                id: maker.notification.id.to_string(),
                problem: e.to_string(),
            })?;
        let call = Call::for_reference(general)
            .deadline(Deadline::after(std::time::Duration::from_secs(30)));
        let page = self
            .connector
            .get_paged_members(call, &roster_conversation, Some(MAX_PAGE as u32), token)
            .await?;
        let aads: Vec<Option<AadObjectId>> = page
            .members
            .iter()
            .map(|m| {
                m.aad_object_id
                    .as_deref()
                    .and_then(|a| AadObjectId::new(a).ok())
            })
            .collect();
        let lookups = aads
            .iter()
            .map(|aad| self.stored_personal(&general.tenant_id, aad.as_ref()));
        let found = in_order(lookups.collect()).await?;
        let mut deliveries = Vec::with_capacity(found.len());
        for ((member, aad), stored) in page.members.iter().zip(aads).zip(found) {
            deliveries.push(match (stored, UserId::new(&member.id)) {
                (Some(reference), _) => maker.for_reference(&reference),
                (None, Ok(member_id)) => maker.for_member(general, member_id, aad),
                (None, Err(_)) => continue,
            });
        }
        Ok(Recipients {
            deliveries: dedupe(deliveries),
            next: page
                .continuation_token
                .filter(|t| !t.is_empty())
                .map(|t| format!("{ROSTER}{t}")),
        })
    }

    /// The tenant a team target's channels are looked up in: the target's own, or for a target
    /// that names none, the one tenant whose installations hold the team. A team id that
    /// installations of several tenants name is ambiguous: nobody gets the notification rather
    /// than the wrong tenant (the caller should name the tenant).
    async fn team_tenant(
        &self,
        team: &TeamId,
        named: Option<&TenantId>,
    ) -> Result<Option<TenantId>, PipelineError> {
        if let Some(tenant) = named {
            return Ok(Some(tenant.clone()));
        }
        let filter = ListFilter {
            team: Some(team.clone()),
            ..ListFilter::default()
        };
        let mut tenants = BTreeSet::new();
        let mut request = PageRequest::default();
        loop {
            let page = self.references.list(&filter, &request).await?;
            tenants.extend(page.items.into_iter().map(|r| r.tenant_id));
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        if tenants.len() == 1 {
            Ok(tenants.pop_first())
        } else {
            tracing::warn!(team = %team, tenants = tenants.len(), "team target without tenantId does not name one tenant's team; nobody to send to");
            Ok(None)
        }
    }
}

/// Runs `lookups` [`LOOKUPS`] at a time, their results in the lookups' order. They come
/// collected: a lazy iterator's closure held across the awaits fails the compiler's
/// higher-ranked lifetime check where axum requires the handler's future to be `Send`.
async fn in_order<R, E>(lookups: Vec<impl Future<Output = Result<R, E>>>) -> Result<Vec<R>, E> {
    futures::stream::iter(lookups)
        .buffered(LOOKUPS)
        .try_collect()
        .await
}

/// A page of a target's own id list; the cursor is the offset of the next page.
fn offset_page<'a, T>(ids: &'a [T], cursor: Option<&str>) -> (&'a [T], Option<String>) {
    let start = cursor
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(ids.len());
    let end = (start + MAX_PAGE).min(ids.len());
    (
        ids.get(start..end).unwrap_or_default(),
        (end < ids.len()).then(|| end.to_string()),
    )
}

fn one(delivery: Option<DeliveryRecord>) -> Recipients {
    Recipients {
        deliveries: delivery.into_iter().collect(),
        next: None,
    }
}

/// A page must not name a recipient twice (a transaction cannot write one item twice).
fn dedupe(deliveries: impl IntoIterator<Item = DeliveryRecord>) -> Vec<DeliveryRecord> {
    let mut seen = HashSet::new();
    deliveries
        .into_iter()
        .filter(|d| seen.insert(d.delivery_id.clone()))
        .collect()
}

/// A delivery's status for a stored conversation: pending if it may be sent to, else skipped
/// with the reason.
pub(crate) fn status_for_reference(status: ReferenceStatus) -> DeliveryStatus {
    match status {
        ReferenceStatus::Active => DeliveryStatus::Pending,
        ReferenceStatus::OptedOut => DeliveryStatus::SkippedOptedOut,
        ReferenceStatus::Uninstalled => DeliveryStatus::SkippedUninstalled,
        ReferenceStatus::Archived => DeliveryStatus::SkippedArchived,
        ReferenceStatus::Blocked => DeliveryStatus::SkippedBlocked,
    }
}

/// Who a stored conversation is, for reports: the person, or the team's channel.
fn display_name(reference: &ConversationReference) -> Option<String> {
    match reference.conversation_type {
        ConversationType::Personal => reference.user.as_ref().and_then(|u| u.name.clone()),
        ConversationType::Channel => {
            let team = reference.team.as_ref()?;
            let channel = reference
                .channel
                .as_ref()
                .and_then(|c| c.display_name(&team.id));
            match (team.name.as_deref(), channel) {
                (Some(team), Some(channel)) => Some(format!("{team} / {channel}")),
                (team, channel) => team.or(channel).map(str::to_owned),
            }
        }
        ConversationType::GroupChat => None,
    }
}

/// Builds delivery records for one notification.
struct DeliveryMaker<'a> {
    notification: &'a NotificationRecord,
    now: DateTime<Utc>,
    expires_at: i64,
}

impl DeliveryMaker<'_> {
    fn base(&self, tenant: &TenantId, delivery_id: DeliveryId) -> DeliveryRecord {
        DeliveryRecord::new(
            self.notification.id.clone(),
            delivery_id,
            tenant.clone(),
            self.now,
            self.expires_at,
        )
    }

    /// A stored conversation: pending if it may be sent to, else skipped with the reason.
    fn for_reference(&self, reference: &ConversationReference) -> DeliveryRecord {
        let mut d = DeliveryRecord::to_conversation(
            self.notification.id.clone(),
            reference,
            status_for_reference(reference.status),
            self.now,
            self.expires_at,
        );
        d.recipient = reference
            .user
            .as_ref()
            .and_then(|u| u.aad_object_id.clone());
        d.name = display_name(reference);
        d
    }

    /// A team member with no stored 1:1 chat: the sender creates one in the team's tenant.
    fn for_member(
        &self,
        team: &ConversationReference,
        member: UserId,
        aad: Option<AadObjectId>,
    ) -> DeliveryRecord {
        let mut d = self.base(
            &team.tenant_id,
            DeliveryId::for_member(&team.tenant_id, &member),
        );
        d.service_url = Some(team.service_url.clone());
        d.member_id = Some(member);
        d.recipient = aad;
        d
    }

    /// A person Herald has no conversation with: the sender installs the app for them through
    /// Graph and sends once the installation's conversationUpdate has stored the conversation.
    fn to_install(&self, tenant: &TenantId, aad: &AadObjectId) -> DeliveryRecord {
        let mut d = self.base(tenant, DeliveryId::for_person(tenant, aad));
        d.recipient = Some(aad.clone());
        d
    }

    /// A person Herald has no conversation with and may not install for: reported, not guessed.
    fn unresolved(&self, tenant: &TenantId, aad: &AadObjectId) -> DeliveryRecord {
        let mut d = self.to_install(tenant, aad);
        d.status = DeliveryStatus::Unresolved;
        d.error = Some(
            "no personal conversation with this person, and proactive installation \
             (HERALD_GRAPH_INSTALL) is off"
                .to_owned(),
        );
        d
    }
}
