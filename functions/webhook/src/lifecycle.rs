//! Installation lifecycle: installs and uninstalls in every scope, and the team and channel
//! events of `conversationUpdate`, each applied idempotently so a redelivery changes nothing.
//! Source: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events

use herald_domain::{
    ConversationId, ConversationReference, ConversationType, ReferenceStatus, TeamId, TenantId,
};
use herald_http::Reply;
use herald_store::{StatusOutcome, UpsertOutcome};

use crate::activity::ActivityError;
use crate::cards;
use crate::event_type::TeamsEvent;
use crate::turn::{Failure, Outcome, Turn};

impl Turn<'_> {
    /// installationUpdate add, or the bot among membersAdded: the reference is active, and a
    /// new installation (first sighting, or back after an uninstall) gets one welcome message.
    pub(crate) async fn install(&self) -> Outcome {
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
            return Ok(Reply::ok());
        }
        if let Some(team) = &targets[0].0.team {
            self.reactivate_team_channels(&targets[0].0.tenant_id, &team.id, &targets)
                .await?;
        }
        // The selected channel (last) wins over General for the welcome.
        if let Some((reference, _)) = targets.last() {
            let installer = self.installer(reference);
            let card = cards::welcome(&self.hook.config.welcome, reference, installer);
            self.send(reference, &reference.conversation_id, &card)
                .await;
        }
        Ok(Reply::ok())
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
        tenant: &TenantId,
        team: &TeamId,
        targets: &[(ConversationReference, UpsertOutcome)],
    ) -> Result<(), Failure> {
        for channel in self.hook.store.team_channels(tenant, team).await? {
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
    pub(crate) async fn uninstall(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let reason = format!(
            "{} {}",
            self.activity.kind,
            self.activity.action.as_deref().unwrap_or("bot removed")
        );
        match reference.team.as_ref() {
            Some(team) => {
                self.apply_to_team(
                    &reference.tenant_id,
                    &team.id,
                    ReferenceStatus::Uninstalled,
                    &reason,
                )
                .await?;
            }
            None => {
                self.set_status(&reference, ReferenceStatus::Uninstalled, &reason)
                    .await?;
            }
        }
        tracing::info!(conversation = %reference.key(), "installation removed");
        Ok(Reply::ok())
    }

    pub(crate) async fn team_status(&self, status: ReferenceStatus, event: TeamsEvent) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let team = reference
            .team
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or(ActivityError {
                field: "channelData.team",
                problem: format!("missing in {}", event.as_str()),
            })?;
        self.apply_to_team(&reference.tenant_id, &team, status, event.as_str())
            .await?;
        tracing::info!(team = %team, event = event.as_str(), "team lifecycle");
        Ok(Reply::ok())
    }

    /// A change to a whole team reaches the team's channels in the activity's own tenant only: a
    /// team id named by another tenant's activity must not touch this tenant's references.
    async fn apply_to_team(
        &self,
        tenant: &TenantId,
        team: &TeamId,
        status: ReferenceStatus,
        reason: &str,
    ) -> Result<(), Failure> {
        for reference in self.hook.store.team_channels(tenant, team).await? {
            if team_change_applies(&reference, status) {
                self.set_status(&reference, status, reason).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn team_renamed(&self) -> Outcome {
        let (reference, _) = self.refresh().await?;
        let Some(team) = reference.team.clone() else {
            return Ok(Reply::ok());
        };
        let channels = self
            .hook
            .store
            .team_channels(&reference.tenant_id, &team.id)
            .await?;
        for mut channel in channels {
            if channel.conversation_id == reference.conversation_id {
                continue;
            }
            channel.team = Some(team.clone());
            channel.updated_at = self.at;
            channel.last_seen_at = self.now;
            self.hook.store.upsert(&channel).await?;
        }
        Ok(Reply::ok())
    }

    pub(crate) async fn channel_status(
        &self,
        status: ReferenceStatus,
        event: TeamsEvent,
    ) -> Outcome {
        let (reference, _) = self.refresh().await?;
        self.set_status(&reference, status, event.as_str()).await?;
        Ok(Reply::ok())
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
                channel.status_reason.as_deref() != Some(TeamsEvent::ChannelDeleted.as_str())
            }
            ReferenceStatus::Active | ReferenceStatus::Blocked | ReferenceStatus::OptedOut => false,
        },
        ReferenceStatus::Blocked | ReferenceStatus::OptedOut => true,
    }
}
