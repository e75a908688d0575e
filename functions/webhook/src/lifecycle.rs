//! What each activity changes: the table in the webhook issue, row by row.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use herald_connector::{Activity, ActivityId, Call, Deadline};
use herald_domain::{
    AadObjectId, ConversationId, ConversationKey, ConversationReference, ConversationType,
    ReferenceStatus, TeamId, UserId, UserInfo,
};
use herald_events::{HeraldEvent, InstallationEvent};
use herald_store::{StatusOutcome, StatusUpdate, StoreError, UpsertOutcome};
use serde_json::{Value, json};

use crate::activity::{ActivityError, InboundActivity};
use crate::cards;
use crate::commands::{Command, strip_mentions};
use crate::{HttpReply, SEND_DEADLINE, Webhook, reminders};

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

type Outcome = Result<HttpReply, Failure>;

/// `channelData.eventType` of a deleted channel, also the status reason it leaves.
const CHANNEL_DELETED: &str = "channelDeleted";

/// One activity, with the time it happened (Teams' timestamp, else now), and the lifecycle
/// events it caused, published once the store reflects them.
struct Turn<'a> {
    hook: &'a Webhook,
    activity: &'a InboundActivity,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
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
                _ => turn.refresh().await.map(|_| HttpReply::ok()),
            },
            "conversationUpdate" => {
                let event = activity.channel_data.event_type.as_deref().unwrap_or("");
                match event {
                    "teamDeleted" | "teamHardDeleted" => {
                        turn.team_status(ReferenceStatus::Uninstalled, event).await
                    }
                    "teamArchived" => turn.team_status(ReferenceStatus::Archived, event).await,
                    "teamRestored" | "teamUnarchived" => {
                        turn.team_status(ReferenceStatus::Active, event).await
                    }
                    "teamRenamed" => turn.team_renamed().await,
                    CHANNEL_DELETED => {
                        turn.channel_status(ReferenceStatus::Uninstalled, event)
                            .await
                    }
                    "channelRestored" => turn.channel_status(ReferenceStatus::Active, event).await,
                    // channelCreated / channelRenamed: the upsert records the channel and its name.
                    _ if activity.includes_bot(&activity.members_added, app) => {
                        turn.install().await
                    }
                    _ if activity.includes_bot(&activity.members_removed, app) => {
                        turn.uninstall().await
                    }
                    _ => turn.refresh().await.map(|_| HttpReply::ok()),
                }
            }
            "message" => turn.message().await,
            "invoke" => turn.invoke().await,
            other => {
                tracing::debug!(kind = other, "ignoring activity type");
                Ok(HttpReply::ok())
            }
        }
    }

    /// Upserts the reference this activity comes from (every handled activity does).
    async fn refresh(&self) -> Result<(ConversationReference, UpsertOutcome), Failure> {
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
    async fn keep_known_names(&self, reference: &mut ConversationReference) -> Result<(), Failure> {
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

    async fn set_status(
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
    fn record(
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
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }

    /// The user behind the activity, for event payloads.
    fn actor(&self) -> Option<UserInfo> {
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

    /// installationUpdate add, or the bot among membersAdded: the reference is active, and a
    /// new installation (first sighting, or back after an uninstall) gets one welcome message.
    async fn install(&self) -> Outcome {
        let (reference, outcome) = self.refresh().await?;
        // Deliveries waiting for this person's installation (made through Graph) go ahead now.
        // A failure here must not fail the install (Teams would redeliver it, and the welcome be
        // lost): the scheduler's sweep finds the stored conversation when the wait times out.
        if let Some(waits) = &self.hook.install_waits
            && let Err(e) = herald_pipeline::resume_installed(
                waits.as_ref(),
                &reference,
                self.hook.clock.as_ref(),
            )
            .await
        {
            tracing::warn!(error = %e, conversation = %reference.key(), "cannot resume deliveries waiting for this installation");
        }
        let mut targets = vec![(reference, outcome)];
        // A team install names the channel the user picked; General is recorded too.
        if let Some(mut selected) = self.selected_channel(&targets[0].0)? {
            self.keep_known_names(&mut selected).await?;
            let outcome = self.hook.store.upsert(&selected).await?;
            targets.push((selected, outcome));
        }
        // One installation, one welcome: the activity's own reference (the chat, or the team's
        // General channel, which every team activity names) decides whether it is new, so that
        // of two activities announcing one team install only one welcomes, whichever channel
        // each of them names.
        let mut new_here = false;
        for (i, (reference, outcome)) in targets.iter().enumerate() {
            let new_installation = match outcome {
                UpsertOutcome::Created => {
                    self.record(
                        reference,
                        ReferenceStatus::Uninstalled,
                        ReferenceStatus::Active,
                        "installed",
                    );
                    true
                }
                UpsertOutcome::Updated | UpsertOutcome::Stale => self.reinstall(reference).await?,
            };
            if new_installation {
                tracing::info!(conversation = %reference.key(), kind = %reference.conversation_type, "installation added");
                new_here |= i == 0;
            }
        }
        if !new_here {
            return Ok(HttpReply::ok());
        }
        if let Some(team) = &targets[0].0.team {
            self.reactivate_team_channels(&team.id, &targets).await?;
        }
        // The selected channel (last) wins over General for the welcome.
        if let Some((reference, _)) = targets.last() {
            let installer = self.installer(reference);
            let card = cards::welcome(&self.hook.config.welcome, reference, installer);
            self.send(reference, &reference.conversation_id, &card)
                .await;
        }
        Ok(HttpReply::ok())
    }

    /// An install activity for a reference Herald already has: whether it makes it active again
    /// (a new installation). Already active: nothing to do. An opt-out outlives installs and app
    /// upgrades (the user says start), and an upgrade undoes neither a block nor an archived team.
    async fn reinstall(&self, reference: &ConversationReference) -> Result<bool, Failure> {
        let Some(stored) = self.hook.store.get(&reference.key()).await? else {
            return Ok(false);
        };
        let upgrade = self.activity.action.as_deref() == Some("add-upgrade");
        match stored.status {
            ReferenceStatus::Active | ReferenceStatus::OptedOut => return Ok(false),
            ReferenceStatus::Blocked | ReferenceStatus::Archived if upgrade => return Ok(false),
            ReferenceStatus::Blocked | ReferenceStatus::Uninstalled | ReferenceStatus::Archived => {
            }
        }
        Ok(matches!(
            self.set_status(reference, ReferenceStatus::Active, "installed")
                .await?,
            StatusOutcome::Applied { previous } if previous != ReferenceStatus::Active
        ))
    }

    /// Installed in a team again: the team's other channels Herald knew (the uninstall marked them
    /// uninstalled) can be posted to again, except channels that were deleted.
    async fn reactivate_team_channels(
        &self,
        team: &TeamId,
        targets: &[(ConversationReference, UpsertOutcome)],
    ) -> Result<(), Failure> {
        for channel in self.hook.store.team_channels(team).await? {
            let done = targets
                .iter()
                .any(|(t, _)| t.conversation_id == channel.conversation_id);
            if !done && team_change_applies(&channel, ReferenceStatus::Active) {
                self.set_status(&channel, ReferenceStatus::Active, "installed")
                    .await?;
            }
        }
        Ok(())
    }

    fn selected_channel(
        &self,
        general: &ConversationReference,
    ) -> Result<Option<ConversationReference>, Failure> {
        let Some(selected) = self
            .activity
            .channel_data
            .settings
            .as_ref()
            .and_then(|s| s.selected_channel.as_ref())
        else {
            return Ok(None);
        };
        if general.conversation_type != ConversationType::Channel
            || selected.id == general.conversation_id.as_str()
        {
            return Ok(None);
        }
        let invalid = |e: herald_domain::DomainError| ActivityError {
            field: "channelData.settings.selectedChannel.id",
            problem: e.to_string(),
        };
        let mut reference = general.clone();
        reference.conversation_id = ConversationId::new(&selected.id).map_err(invalid)?;
        reference.channel = Some(herald_domain::ChannelInfo {
            id: herald_domain::ChannelId::new(&selected.id).map_err(invalid)?,
            name: selected.name.clone(),
        });
        Ok(Some(reference))
    }

    /// Who installed the bot, when Teams says and it is not the recipient themself.
    fn installer(&self, reference: &ConversationReference) -> Option<&str> {
        let from = &self.activity.from;
        let is_self = reference
            .user
            .as_ref()
            .is_some_and(|u| u.id.as_str() == from.id);
        if is_self {
            None
        } else {
            from.name.as_deref().filter(|n| !n.is_empty())
        }
    }

    /// installationUpdate remove, or the bot among membersRemoved. In a team, every channel
    /// reference of the team goes with it.
    async fn uninstall(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let reason = format!(
            "{} {}",
            self.activity.kind,
            self.activity.action.as_deref().unwrap_or("bot removed")
        );
        match reference.team.as_ref() {
            Some(team) => {
                self.apply_to_team(&team.id, ReferenceStatus::Uninstalled, &reason)
                    .await?;
            }
            None => {
                self.set_status(&reference, ReferenceStatus::Uninstalled, &reason)
                    .await?;
            }
        }
        tracing::info!(conversation = %reference.key(), "installation removed");
        Ok(HttpReply::ok())
    }

    async fn team_status(&self, status: ReferenceStatus, event: &str) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let team = reference
            .team
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or(ActivityError {
                field: "channelData.team",
                problem: format!("missing in {event}"),
            })?;
        self.apply_to_team(&team, status, event).await?;
        tracing::info!(team = %team, event, "team lifecycle");
        Ok(HttpReply::ok())
    }

    async fn apply_to_team(
        &self,
        team: &TeamId,
        status: ReferenceStatus,
        reason: &str,
    ) -> Result<(), Failure> {
        for reference in self.hook.store.team_channels(team).await? {
            if team_change_applies(&reference, status) {
                self.set_status(&reference, status, reason).await?;
            }
        }
        Ok(())
    }

    async fn team_renamed(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let Some(team) = reference.team.clone() else {
            return Ok(HttpReply::ok());
        };
        for mut channel in self.hook.store.team_channels(&team.id).await? {
            if channel.conversation_id == reference.conversation_id {
                continue;
            }
            channel.team = Some(team.clone());
            channel.updated_at = self.at;
            channel.last_seen_at = self.now;
            self.hook.store.upsert(&channel).await?;
        }
        Ok(HttpReply::ok())
    }

    async fn channel_status(&self, status: ReferenceStatus, event: &str) -> Outcome {
        let (reference, _) = self.refresh().await?;
        self.set_status(&reference, status, event).await?;
        Ok(HttpReply::ok())
    }

    async fn message(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let activity = self.activity;
        if card_verb(activity.value.as_ref()) == Some(cards::OPT_OUT_VERB) {
            let reply = self.opt_out(&reference).await?;
            self.reply(&reference, &cards::reply(reply)).await;
            return Ok(HttpReply::ok());
        }
        let text = activity.text.as_deref().unwrap_or_default();
        let mentioned = text.contains("<at>");
        let command = Command::parse(text);
        // In group chats and channels Herald only answers when spoken to.
        if reference.conversation_type != ConversationType::Personal && !mentioned {
            return Ok(HttpReply::ok());
        }
        let bot = &self.hook.config.welcome.bot_name;
        let reply = match command {
            Command::Help => cards::help(bot),
            Command::Unknown(text) if text.is_empty() => cards::help(bot),
            Command::Unknown(_) => cards::reply(format!(
                "Sorry, I didn't get \"{}\". Type **help** to see what I understand.",
                strip_mentions(self.activity.text.as_deref().unwrap_or_default())
            )),
            Command::Stop => cards::reply(self.opt_out(&reference).await?),
            Command::Start => {
                self.set_status(&reference, ReferenceStatus::Active, "user said start")
                    .await?;
                cards::reply("Notifications are on again here. Type **stop** to turn them off.")
            }
            Command::Status => cards::reply(self.status_text(&reference).await?),
            Command::SetTimeZone(zone) => {
                self.hook
                    .store
                    .set_time_zone_override(&reference.key(), Some(zone))
                    .await?;
                let local = self.now.with_timezone(&zone.tz()).format("%H:%M");
                cards::reply(format!(
                    "Got it: your reminders now follow {zone} (it's {local} there). \
                     Type **timezone auto** to follow Teams again."
                ))
            }
            Command::AutoTimeZone => {
                self.hook
                    .store
                    .set_time_zone_override(&reference.key(), None)
                    .await?;
                let zone = reference
                    .time_zone
                    .map_or_else(|| "not known yet".to_owned(), |z| z.to_string());
                cards::reply(format!(
                    "OK, your time zone follows what Teams reports again ({zone})."
                ))
            }
            Command::UnknownTimeZone(name) => cards::reply(format!(
                "I don't know the time zone \"{name}\". Use an IANA name such as \
                 Europe/London, America/New_York or Asia/Kolkata."
            )),
            Command::Reminder(Ok(command)) => cards::reply(
                reminders::answer(
                    self.hook,
                    &reference,
                    activity.id.as_deref(),
                    self.now,
                    command,
                )
                .await?,
            ),
            Command::Reminder(Err(e)) => cards::reply(e.to_string()),
        };
        self.reply(&reference, &reply).await;
        Ok(HttpReply::ok())
    }

    async fn opt_out(&self, reference: &ConversationReference) -> Result<String, Failure> {
        let who = self.activity.from.name.as_deref().unwrap_or("a user");
        self.set_status(
            reference,
            ReferenceStatus::OptedOut,
            &format!("opted out by {who}"),
        )
        .await?;
        Ok(match reference.conversation_type {
            ConversationType::Personal => {
                "You're unsubscribed: I won't send you notifications any more. \
                 Type **start** to turn them back on."
            }
            _ => {
                "Notifications to this conversation are off. Mention me with **start** to \
                 turn them back on."
            }
        }
        .to_owned())
    }

    async fn status_text(&self, reference: &ConversationReference) -> Result<String, Failure> {
        let stored = self.hook.store.get(&reference.key()).await?;
        let stored = stored.as_ref().unwrap_or(reference);
        let state = if stored.is_sendable() { "on" } else { "off" };
        let zone = match (stored.time_zone_override, stored.time_zone) {
            (Some(zone), _) => format!("{zone} (set by you)"),
            (None, Some(zone)) => format!("{zone} (reported by Teams)"),
            (None, None) => "not known yet".to_owned(),
        };
        Ok(format!(
            "Notifications here are **{state}**. Time zone: {zone}."
        ))
    }

    /// Adaptive Card `Action.Execute` (`adaptiveCard/action`) gets a proper invoke response.
    async fn invoke(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let value = self.activity.value.as_ref();
        let verb = value
            .and_then(|v| v.get("action"))
            .and_then(|a| a.get("verb"))
            .and_then(Value::as_str)
            .or_else(|| card_verb(value));
        if self.activity.name.as_deref() == Some("adaptiveCard/action")
            && verb == Some(cards::OPT_OUT_VERB)
        {
            let text = self.opt_out(&reference).await?;
            return Ok(HttpReply::json(
                200,
                json!({
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": text,
                }),
            ));
        }
        Ok(HttpReply::json(
            200,
            json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": ""}),
        ))
    }

    /// Answers in the conversation (in the thread, for a channel message).
    async fn reply(&self, reference: &ConversationReference, activity: &Activity) {
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
    async fn send(
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

/// Whether a change to a whole team applies to one of its channels: an opt-out survives
/// archiving, a deleted channel stays deleted when its team comes back, and an uninstalled one
/// keeps the reason it was uninstalled for.
fn team_change_applies(channel: &ConversationReference, status: ReferenceStatus) -> bool {
    match status {
        ReferenceStatus::Uninstalled => channel.status != ReferenceStatus::Uninstalled,
        ReferenceStatus::Archived => channel.status == ReferenceStatus::Active,
        ReferenceStatus::Active => match channel.status {
            ReferenceStatus::Archived => true,
            ReferenceStatus::Uninstalled => {
                channel.status_reason.as_deref() != Some(CHANNEL_DELETED)
            }
            ReferenceStatus::Active | ReferenceStatus::Blocked | ReferenceStatus::OptedOut => false,
        },
        ReferenceStatus::Blocked | ReferenceStatus::OptedOut => true,
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

/// The `herald` verb of an `Action.Submit` payload.
fn card_verb(value: Option<&Value>) -> Option<&str> {
    value.and_then(|v| v.get("herald")).and_then(Value::as_str)
}
