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

/// Which row of Teams' per-thread rate-limit table an operation counts against
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// Send, reply, update, delete, create conversation.
    Write,
    /// Members, team details, team channels.
    Read,
}

impl Operation<'_> {
    /// Whether repeating the operation could do it twice: a second POST of a message (or of a
    /// new conversation) is a second message, while an update or delete lands the same way again.
    #[must_use]
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Self::CreateConversation(_) | Self::SendToConversation(..) | Self::ReplyToActivity(..)
        )
    }

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

/// What [`Connector::execute`] answers: one layer's result, handed up the stack.
pub type Executed = Result<Response, ConnectorError>;

/// The value an operation answers with, taken out of [`Response`]; `None` for another variant.
trait FromResponse: Sized {
    fn from_response(response: Response) -> Option<Self>;
}

macro_rules! from_response {
    ($($variant:ident => $type:ty),* $(,)?) => {$(
        impl FromResponse for $type {
            fn from_response(response: Response) -> Option<Self> {
                match response {
                    Response::$variant(value) => Some(value),
                    _ => None,
                }
            }
        }
    )*};
}

from_response! {
    Conversation => ConversationResourceResponse,
    Resource => ResourceResponse,
    Members => PagedMembersResult,
    Member => ChannelAccount,
    Team => TeamDetails,
    Channels => ConversationList,
}

impl FromResponse for () {
    fn from_response(response: Response) -> Option<Self> {
        matches!(response, Response::Empty).then_some(())
    }
}

/// Runs `operation` and takes its answer out of the [`Response`]: the named methods' one body.
async fn run<T: FromResponse>(
    connector: &(impl Connector + ?Sized),
    call: Call<'_>,
    operation: Operation<'_>,
) -> Result<T, ConnectorError> {
    let name = operation.name();
    T::from_response(connector.execute(call, operation).await?).ok_or_else(|| mismatch(name))
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
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed;

    /// `POST /v3/conversations`. For a 1:1 chat, create once and store the returned id.
    async fn create_conversation(
        &self,
        call: Call<'_>,
        parameters: &ConversationParameters,
    ) -> Result<ConversationResourceResponse, ConnectorError> {
        run(self, call, Operation::CreateConversation(parameters)).await
    }

    /// `POST /v3/conversations/{id}/activities`; keep the returned id to update or delete later.
    async fn send_to_conversation(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        run(
            self,
            call,
            Operation::SendToConversation(conversation, activity),
        )
        .await
    }

    /// `POST /v3/conversations/{id}/activities/{activityId}`: a reply in that thread.
    async fn reply_to_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        let operation = Operation::ReplyToActivity(conversation, activity_id, activity);
        run(self, call, operation).await
    }

    /// `PUT /v3/conversations/{id}/activities/{activityId}`.
    async fn update_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
        activity: &Activity,
    ) -> Result<ResourceResponse, ConnectorError> {
        let operation = Operation::UpdateActivity(conversation, activity_id, activity);
        run(self, call, operation).await
    }

    /// `DELETE /v3/conversations/{id}/activities/{activityId}`.
    async fn delete_activity(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        activity_id: &ActivityId,
    ) -> Result<(), ConnectorError> {
        run(
            self,
            call,
            Operation::DeleteActivity(conversation, activity_id),
        )
        .await
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
        run(self, call, operation).await
    }

    /// `GET /v3/conversations/{id}/members/{memberId}`.
    async fn get_conversation_member(
        &self,
        call: Call<'_>,
        conversation: &ConversationId,
        member: &UserId,
    ) -> Result<ChannelAccount, ConnectorError> {
        run(
            self,
            call,
            Operation::GetConversationMember(conversation, member),
        )
        .await
    }

    /// `GET /v3/teams/{teamId}`.
    async fn get_team_details(
        &self,
        call: Call<'_>,
        team: &TeamId,
    ) -> Result<TeamDetails, ConnectorError> {
        run(self, call, Operation::GetTeamDetails(team)).await
    }

    /// `GET /v3/teams/{teamId}/conversations`: the team's channels (General unnamed, id = team id).
    async fn get_team_channels(
        &self,
        call: Call<'_>,
        team: &TeamId,
    ) -> Result<ConversationList, ConnectorError> {
        run(self, call, Operation::GetTeamChannels(team)).await
    }
}

#[async_trait]
impl<C: Connector + ?Sized> Connector for std::sync::Arc<C> {
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        (**self).execute(call, operation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every operation with an empty response.
    struct AlwaysEmpty;

    #[async_trait]
    impl Connector for AlwaysEmpty {
        async fn execute(&self, _call: Call<'_>, _operation: Operation<'_>) -> Executed {
            Ok(Response::Empty)
        }
    }

    #[tokio::test]
    async fn a_response_of_another_operation_is_a_typed_error() {
        let service_url = ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap();
        let tenant = TenantId::new("t").unwrap();
        let call = Call::new(&service_url, &tenant);
        let conversation = ConversationId::new("a:1").unwrap();
        let id = ActivityId::new("1").unwrap();
        AlwaysEmpty
            .delete_activity(call, &conversation, &id)
            .await
            .unwrap();
        let error = AlwaysEmpty
            .send_to_conversation(call, &conversation, &Activity::message())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("ResponseMismatch"));
        assert!(
            error
                .message()
                .is_some_and(|m| m.contains("sendToConversation")),
            "{error}"
        );
    }
}
