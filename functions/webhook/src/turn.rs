//! One inbound activity on its way through the webhook: the reference it refreshes, the status
//! changes it makes and the lifecycle events they mean, published once the store reflects them.

use std::sync::{Mutex, PoisonError};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_connector::{Activity, ActivityId, Call, Deadline};
use herald_domain::{
    AadObjectId, ConversationId, ConversationKey, ConversationReference, ConversationType,
    ReferenceStatus, UserId, UserInfo,
};
use herald_events::{HeraldEvent, InstallationEvent};
use herald_http::{ApiError, Reply};
use herald_store::{StatusOutcome, StatusUpdate, StoreError, UpsertOutcome};

use crate::activity::{ActivityError, InboundActivity};
use crate::event_type::TeamsEvent;
use crate::{SEND_DEADLINE, Webhook};

/// The `name` of a read receipt event (`read_receipts.rs`).
const READ_RECEIPT: &str = "application/vnd.microsoft.readReceipt";

pub(crate) enum Failure {
    Activity(ActivityError),
    Store(StoreError),
}

impl From<ActivityError> for Failure {
    fn from(e: ActivityError) -> Self {
        Self::Activity(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Failure {
    /// 400 for an activity Herald cannot read; 503 for a store failure, which makes Teams
    /// redeliver (writes are idempotent, so that is safe).
    pub(crate) fn into_error(self, kind: &str) -> ApiError {
        match self {
            Self::Activity(e) => {
                tracing::warn!(error = %e, kind, "rejected activity");
                ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", e.to_string())
            }
            Self::Store(e) => {
                tracing::error!(error = %e, kind, "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "StoreUnavailable",
                    e.to_string(),
                )
            }
        }
    }
}

pub(crate) type Outcome = Result<Reply, Failure>;

/// One activity, with the time it happened (Teams' timestamp, else now), and the lifecycle
/// events it caused, published once the store reflects them.
pub(crate) struct Turn<'a> {
    pub(crate) hook: &'a Webhook,
    pub(crate) activity: &'a InboundActivity,
    pub(crate) now: DateTime<Utc>,
    pub(crate) at: DateTime<Utc>,
    events: Mutex<Vec<HeraldEvent>>,
}

pub(crate) async fn process(hook: &Webhook, activity: &InboundActivity) -> Outcome {
    let now = hook.clock.now();
    let turn = Turn {
        hook,
        activity,
        now,
        at: activity.timestamp_or(now),
        events: Mutex::new(Vec::new()),
    };
    let reply = turn.dispatch().await?;
    let events = turn
        .events
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if !events.is_empty() {
        // The store already holds the change; a redelivery would not republish, so a failure
        // here is reported loudly rather than turned into a retry.
        if let Err(e) = hook.events.publish(&events).await {
            tracing::error!(error = %e, count = events.len(), "publishing lifecycle events failed");
        }
    }
    Ok(reply)
}

impl Turn<'_> {
    async fn dispatch(&self) -> Outcome {
        let turn = self;
        let activity = self.activity;
        let app = &self.hook.config.bot_app_id;
        match activity.kind.as_str() {
            "installationUpdate" => match activity.action.as_deref() {
                Some("add" | "add-upgrade") => turn.install().await,
                Some("remove" | "remove-upgrade") => turn.uninstall().await,
                _ => turn.refresh().await.map(|_| Reply::ok()),
            },
            "conversationUpdate" => {
                let event = activity.channel_data.event_type.as_deref();
                match event.and_then(TeamsEvent::parse) {
                    Some(event @ (TeamsEvent::TeamDeleted | TeamsEvent::TeamHardDeleted)) => {
                        turn.team_status(ReferenceStatus::Uninstalled, event).await
                    }
                    Some(event @ TeamsEvent::TeamArchived) => {
                        turn.team_status(ReferenceStatus::Archived, event).await
                    }
                    Some(event @ (TeamsEvent::TeamRestored | TeamsEvent::TeamUnarchived)) => {
                        turn.team_status(ReferenceStatus::Active, event).await
                    }
                    Some(TeamsEvent::TeamRenamed) => turn.team_renamed().await,
                    Some(event @ TeamsEvent::ChannelDeleted) => {
                        turn.channel_status(ReferenceStatus::Uninstalled, event)
                            .await
                    }
                    Some(event @ TeamsEvent::ChannelRestored) => {
                        turn.channel_status(ReferenceStatus::Active, event).await
                    }
                    // channelCreated / channelRenamed: the upsert records the channel and its name.
                    _ if activity.includes_bot(&activity.members_added, app) => {
                        turn.install().await
                    }
                    _ if activity.includes_bot(&activity.members_removed, app) => {
                        turn.uninstall().await
                    }
                    _ => turn.refresh().await.map(|_| Reply::ok()),
                }
            }
            "message" => turn.message().await,
            "invoke" => turn.invoke().await,
            "event" if activity.name.as_deref() == Some(READ_RECEIPT) => turn.read_receipt().await,
            other => {
                tracing::debug!(kind = other, "ignoring activity type");
                Ok(Reply::ok())
            }
        }
    }

    /// Upserts the reference this activity comes from (every handled activity does).
    pub(crate) async fn refresh(&self) -> Result<(ConversationReference, UpsertOutcome), Failure> {
        let mut reference = self
            .activity
            .reference(&self.hook.config.bot_app_id, self.now)?;
        self.keep_known_names(&mut reference).await?;
        let outcome = self.hook.store.upsert(&reference).await?;
        Ok((reference, outcome))
    }

    /// Teams names things only now and then (channel messages carry bare team and channel ids,
    /// installationUpdate no user name), and the store replaces the user, team and channel whole:
    /// fill in what this activity leaves out from what is stored, rather than erase it.
    pub(crate) async fn keep_known_names(
        &self,
        reference: &mut ConversationReference,
    ) -> Result<(), Failure> {
        let lacks_team = |r: &ConversationReference| {
            r.team
                .as_ref()
                .is_some_and(|t| t.name.is_none() || t.aad_group_id.is_none())
        };
        let lacks = reference
            .user
            .as_ref()
            .is_some_and(|u| u.name.is_none() || u.aad_object_id.is_none())
            || lacks_team(reference)
            || reference.channel.as_ref().is_some_and(|c| c.name.is_none());
        if !lacks {
            return Ok(());
        }
        if let Some(stored) = self.hook.store.get(&reference.key()).await? {
            fill_names(reference, &stored);
        }
        // A channel Herald has not seen yet: its team is known from General (id = team id).
        if lacks_team(reference)
            && let Some(team) = &reference.team
            && team.id.as_str() != reference.conversation_id.as_str()
            && let Ok(general) = ConversationId::new(team.id.as_str())
        {
            let key = ConversationKey::new(reference.tenant_id.clone(), general);
            if let Some(stored) = self.hook.store.get(&key).await? {
                fill_team(reference, &stored);
            }
        }
        Ok(())
    }

    pub(crate) async fn set_status(
        &self,
        reference: &ConversationReference,
        status: ReferenceStatus,
        reason: &str,
    ) -> Result<StatusOutcome, Failure> {
        let update = StatusUpdate {
            status,
            at: self.at,
            reason: Some(reason.to_owned()),
        };
        match self.hook.store.set_status(&reference.key(), &update).await {
            Ok(outcome) => {
                if let StatusOutcome::Applied { previous } = outcome {
                    self.record(reference, previous, status, reason);
                }
                Ok(outcome)
            }
            // Deleted between our upsert and now: nothing left to mark.
            Err(StoreError::NotFound(_)) => Ok(StatusOutcome::Stale),
            Err(e) => Err(e.into()),
        }
    }

    /// Notes the event a status change means to subscribers (installation added, removed,
    /// archived, restored); opt-outs and blocks are not installation events.
    pub(crate) fn record(
        &self,
        reference: &ConversationReference,
        previous: ReferenceStatus,
        status: ReferenceStatus,
        cause: &str,
    ) {
        let event =
            InstallationEvent::for_reference(reference, self.actor(), self.at).with_cause(cause);
        let event = match (previous, status) {
            (p, s) if p == s => return,
            (_, ReferenceStatus::Uninstalled) => HeraldEvent::InstallationRemoved(event),
            (_, ReferenceStatus::Archived) => HeraldEvent::InstallationArchived(event),
            (ReferenceStatus::Archived | ReferenceStatus::Uninstalled, ReferenceStatus::Active)
                if cause != "installed" =>
            {
                HeraldEvent::InstallationRestored(event)
            }
            (ReferenceStatus::Uninstalled, ReferenceStatus::Active) => {
                HeraldEvent::InstallationAdded(event)
            }
            _ => return,
        };
        self.push_event(event);
    }

    /// The conversation the activity came from, without a channel thread's `;messageid=` (a
    /// card in a channel is a thread's root): where Herald's copies are indexed.
    pub(crate) fn thread(&self) -> Result<ConversationId, ActivityError> {
        ConversationId::new(&self.activity.conversation.id)
            .map(|id| id.without_message_id())
            .map_err(|e| ActivityError {
                field: "conversation.id",
                problem: e.to_string(),
            })
    }

    /// Notes an event to publish once the turn's changes are stored.
    pub(crate) fn push_event(&self, event: HeraldEvent) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }

    /// The user behind the activity, for event payloads.
    pub(crate) fn actor(&self) -> Option<UserInfo> {
        let from = &self.activity.from;
        Some(UserInfo {
            id: UserId::new(&from.id).ok()?,
            aad_object_id: from
                .aad_object_id
                .as_deref()
                .and_then(|a| AadObjectId::new(a).ok()),
            name: from.name.clone(),
        })
    }

    /// Answers in the conversation (in the thread, for a channel message).
    pub(crate) async fn reply(&self, reference: &ConversationReference, activity: &Activity) {
        let raw = ConversationId::new(&self.activity.conversation.id);
        let thread = self
            .activity
            .id
            .as_deref()
            .and_then(|id| ActivityId::new(id).ok());
        match (reference.conversation_type, raw, thread) {
            (ConversationType::Channel, Ok(conversation), Some(id)) => {
                let call = Call::new(&reference.service_url, &reference.tenant_id)
                    .deadline(Deadline::after(SEND_DEADLINE));
                if let Err(e) = self
                    .hook
                    .connector
                    .reply_to_activity(call, &conversation, &id, activity)
                    .await
                {
                    tracing::warn!(error = %e, conversation = %reference.key(), "reply failed");
                }
            }
            _ => {
                self.send(reference, &reference.conversation_id, activity)
                    .await;
            }
        }
    }

    /// Sends without failing the request: the store change is what Teams must not redeliver.
    pub(crate) async fn send(
        &self,
        reference: &ConversationReference,
        conversation: &ConversationId,
        activity: &Activity,
    ) {
        let call = Call::new(&reference.service_url, &reference.tenant_id)
            .deadline(Deadline::after(SEND_DEADLINE));
        if let Err(e) = self
            .hook
            .connector
            .send_to_conversation(call, conversation, activity)
            .await
        {
            tracing::warn!(error = %e, conversation = %reference.key(), "send failed");
        }
    }
}

fn fill_names(reference: &mut ConversationReference, stored: &ConversationReference) {
    if let (Some(user), Some(known)) = (&mut reference.user, &stored.user)
        && user.id == known.id
    {
        user.name = user.name.take().or_else(|| known.name.clone());
        user.aad_object_id = user
            .aad_object_id
            .take()
            .or_else(|| known.aad_object_id.clone());
    }
    if let (Some(channel), Some(known)) = (&mut reference.channel, &stored.channel)
        && channel.id == known.id
    {
        channel.name = channel.name.take().or_else(|| known.name.clone());
    }
    fill_team(reference, stored);
}

fn fill_team(reference: &mut ConversationReference, stored: &ConversationReference) {
    if let (Some(team), Some(known)) = (&mut reference.team, &stored.team)
        && team.id == known.id
    {
        team.name = team.name.take().or_else(|| known.name.clone());
        team.aad_group_id = team
            .aad_group_id
            .take()
            .or_else(|| known.aad_group_id.clone());
    }
}
