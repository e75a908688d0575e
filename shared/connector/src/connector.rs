//! The `Connector` trait: Bot Framework's connector operations, named as botbuilder names them.
//!
//! Every layer (HTTP, retry, throttle) implements one method, [`Connector::execute`], over an
//! [`Operation`]; the named methods are provided on top of it. A wrapper therefore cannot forget an
//! operation, and retry/throttle see each call's rate class and conversation.

use std::time::Duration;

use async_trait::async_trait;
use herald_domain::{ConversationId, ConversationReference, ServiceUrl, TeamId, TenantId, UserId};
use tokio::time::Instant;

use crate::error::{ConnectorError, ServiceError};
use crate::model::{
    Activity, ActivityId, ChannelAccount, ConversationList, ConversationParameters,
    ConversationResourceResponse, PagedMembersResult, ResourceResponse, TeamDetails,
};

/// When the caller needs an answer by: a Lambda must return inside its own timeout, so no layer
/// waits (for a permit, a retry or a response) past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: waits are bounded only by the retry policy.
    pub const NONE: Self = Self(None);

    #[must_use]
    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    #[must_use]
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now().checked_add(duration))
    }

    #[must_use]
    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    /// Time left from `now` (`None` = unbounded).
    #[must_use]
    pub fn remaining_at(self, now: Instant) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(now))
    }

    #[must_use]
    pub fn remaining(self) -> Option<Duration> {
        self.remaining_at(Instant::now())
    }

    /// Whether something that ends at `at` still finishes in time.
    #[must_use]
    pub fn allows(self, at: Instant) -> bool {
        self.0.is_none_or(|d| at <= d)
    }
}

/// Where a call goes and on whose behalf: the conversation's serviceUrl, its tenant (the unit
/// Teams rate-limits globally) and the caller's deadline.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub service_url: &'a ServiceUrl,
    pub tenant_id: &'a TenantId,
    pub deadline: Deadline,
}

impl<'a> Call<'a> {
    #[must_use]
    pub fn new(service_url: &'a ServiceUrl, tenant_id: &'a TenantId) -> Self {
        Self {
            service_url,
            tenant_id,
            deadline: Deadline::NONE,
        }
    }

    /// The call for a stored reference: its serviceUrl and tenant.
    #[must_use]
    pub fn for_reference(reference: &'a ConversationReference) -> Self {
        Self::new(&reference.service_url, &reference.tenant_id)
    }

    #[must_use]
    pub fn deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }
}

/// One connector request, as data.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    CreateConversation(&'a ConversationParameters),
    SendToConversation(&'a ConversationId, &'a Activity),
    ReplyToActivity(&'a ConversationId, &'a ActivityId, &'a Activity),
    UpdateActivity(&'a ConversationId, &'a ActivityId, &'a Activity),
    DeleteActivity(&'a ConversationId, &'a ActivityId),
    GetPagedMembers {
        conversation: &'a ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<&'a str>,
    },
    GetConversationMember(&'a ConversationId, &'a UserId),
    GetTeamDetails(&'a TeamId),
    GetTeamChannels(&'a TeamId),
}

/// Which row of Teams' rate-limit table an operation counts against (PROTOCOL 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// Send, reply, update, delete, create conversation.
    Write,
    /// Members, team details, team channels.
    Read,
}

impl Operation<'_> {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateConversation(_) => "createConversation",
            Self::SendToConversation(..) => "sendToConversation",
            Self::ReplyToActivity(..) => "replyToActivity",
            Self::UpdateActivity(..) => "updateActivity",
            Self::DeleteActivity(..) => "deleteActivity",
            Self::GetPagedMembers { .. } => "getPagedMembers",
            Self::GetConversationMember(..) => "getConversationMember",
            Self::GetTeamDetails(_) => "getTeamDetails",
            Self::GetTeamChannels(_) => "getTeamChannels",
        }
    }

    #[must_use]
    pub fn rate_class(&self) -> RateClass {
        match self {
            Self::CreateConversation(_)
            | Self::SendToConversation(..)
            | Self::ReplyToActivity(..)
            | Self::UpdateActivity(..)
            | Self::DeleteActivity(..) => RateClass::Write,
            Self::GetPagedMembers { .. }
            | Self::GetConversationMember(..)
            | Self::GetTeamDetails(_)
            | Self::GetTeamChannels(_) => RateClass::Read,
        }
    }

    /// The thread Teams counts this call against. A conversation being created is keyed by its
    /// first member (a 1:1 chat) or its channel (a new thread), which is what it will become.
    #[must_use]
    pub fn rate_key(&self) -> String {
        match self {
            Self::CreateConversation(params) => {
                let channel = params
                    .channel_data
                    .as_ref()
                    .and_then(|d| d.channel.as_ref())
                    .map(|c| c.id.as_str());
                let member = params.members.first().map(|m| m.id.as_str());
                format!("create:{}", channel.or(member).unwrap_or_default())
            }
            Self::SendToConversation(c, _)
            | Self::ReplyToActivity(c, ..)
            | Self::UpdateActivity(c, ..)
            | Self::DeleteActivity(c, _)
            | Self::GetPagedMembers {
                conversation: c, ..
            }
            | Self::GetConversationMember(c, _) => c.without_message_id().into_inner(),
            Self::GetTeamDetails(t) | Self::GetTeamChannels(t) => t.as_str().to_owned(),
        }
    }
}

/// What an operation returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Conversation(ConversationResourceResponse),
    Resource(ResourceResponse),
    Empty,
    Members(PagedMembersResult),
    Member(ChannelAccount),
    Team(TeamDetails),
    Channels(ConversationList),
}

fn mismatch(op: &str) -> ConnectorError {
    ConnectorError::Other(ServiceError {
        status: None,
        code: Some("ResponseMismatch".to_owned()),
        message: Some(format!(
            "a layer answered {op} with another operation's response"
        )),
    })
}

/// The Bot Framework connector. Implement `execute`; call the named methods.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Performs one operation.
    async fn execute(
        &self,
        call: Call<'_>,
        operation: Operation<'_>,
    ) -> Result<Response, ConnectorError>;

    /// `POST /v3/conversations`. For a 1:1 chat, create once and store the returned id.
    async fn create_conversation(
        &self,
        call: Call<'_>,
        parameters: &ConversationParameters,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        match self
            .execute(call, Operation::CreateConversation(parameters))
            .await?
        {
            Response::Conversation(r) => Ok(r),
            _ => Err(mismatch("createConversation")),
        }
    }

    /// `POST /v3/conversations/{id}/activities`; keep the returned id to update or delete later.
    async fn send_to_conversation(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        match self
            .execute(call, Operation::SendToConversation(conversation, activity))
            .await?
        {
            Response::Resource(r) => Ok(r),
            _ => Err(mismatch("sendToConversation")),
        }
    }

    /// `POST /v3/conversations/{id}/activities/{activityId}`: a reply in that thread.
    async fn reply_to_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        match self
            .execute(
                call,
                Operation::ReplyToActivity(conversation, activity_id, activity),
            )
            .await?
        {
            Response::Resource(r) => Ok(r),
            _ => Err(mismatch("replyToActivity")),
        }
    }

    /// `PUT /v3/conversations/{id}/activities/{activityId}`.
    async fn update_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        match self
            .execute(
                call,
                Operation::UpdateActivity(conversation, activity_id, activity),
            )
            .await?
        {
            Response::Resource(r) => Ok(r),
            _ => Err(mismatch("updateActivity")),
        }
    }

    /// `DELETE /v3/conversations/{id}/activities/{activityId}`.
    async fn delete_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
    ) -> Result<(), ConnectorError> {
        match self
            .execute(call, Operation::DeleteActivity(conversation, activity_id))
            .await?
        {
            Response::Empty => Ok(()),
            _ => Err(mismatch("deleteActivity")),
        }
    }

    /// `GET /v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=`.
    async fn get_paged_members(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<PagedMembersResult, ConnectorError> {
        let operation = Operation::GetPagedMembers {
            conversation,
            page_size,
            continuation_token,
        };
        match self.execute(call, operation).await? {
            Response::Members(r) => Ok(r),
            _ => Err(mismatch("getPagedMembers")),
        }
    }

    /// `GET /v3/conversations/{id}/members/{memberId}`.
    async fn get_conversation_member(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        member: &UserId,
    ) -> Result<ChannelAccount, ConnectorError> {
        match self
            .execute(call, Operation::GetConversationMember(conversation, member))
            .await?
        {
            Response::Member(r) => Ok(r),
            _ => Err(mismatch("getConversationMember")),
        }
    }

    /// `GET /v3/teams/{teamId}`.
    async fn get_team_details(
        &self,
        call: Call<'_>,
        team: &TeamId,
    ) -> Result<TeamDetails, ConnectorError> {
        match self.execute(call, Operation::GetTeamDetails(team)).await? {
            Response::Team(r) => Ok(r),
            _ => Err(mismatch("getTeamDetails")),
        }
    }

    /// `GET /v3/teams/{teamId}/conversations`: the team's channels (General unnamed, id = team id).
    async fn get_team_channels(
        &self,
        call: Call<'_>,
        team: &TeamId,
    ) -> Result<ConversationList, ConnectorError> {
        match self.execute(call, Operation::GetTeamChannels(team)).await? {
            Response::Channels(r) => Ok(r),
            _ => Err(mismatch("getTeamChannels")),
        }
    }
}

#[async_trait]
impl<C: Connector + ?Sized> Connector for std::sync::Arc<C> {
    async fn execute(
        &self,
        call: Call<'_>,
        operation: Operation<'_>,
    ) -> Result<Response, ConnectorError> {
        (**self).execute(call, operation).await
    }
}
