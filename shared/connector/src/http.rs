//! The plain HTTP layer: one reqwest client (one connection pool for the life of the process),
//! the bearer token, the trusted-host check and error classification. No retries, no pacing.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use herald_domain::ServiceUrl;
use reqwest::{Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::{ConfigError, ConnectorConfig, TrustedHosts, is_loopback};
use crate::connector::{Call, Connector, Operation, Response};
use crate::error::{ConnectorError, ServiceError, parse_retry_after};
use crate::token::TokenProvider;

/// Talks to the Bot Framework connector over HTTPS.
#[derive(Debug, Clone)]
pub struct HttpConnector {
    http: reqwest::Client,
    tokens: TokenProvider,
    trusted: TrustedHosts,
    timeout: Duration,
}

impl HttpConnector {
    /// Builds the shared client and the token provider. Build it once per process (Lambda: in
    /// `main`) so connections and the token survive across invocations.
    pub fn new(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            // A redirect could carry the token to a host nobody checked.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ConfigError::Invalid {
                name: "http client",
                value: String::new(),
                reason: e.to_string(),
            })?;
        Self::with_client(config, http)
    }

    /// Uses an existing client (and its pool), e.g. one shared with other components.
    pub fn with_client(
        config: &ConnectorConfig,
        http: reqwest::Client,
    ) -> Result<Self, ConfigError> {
        let tokens = TokenProvider::new(config, http.clone())?;
        Ok(Self {
            http,
            tokens,
            trusted: config.trusted_hosts.clone(),
            timeout: config.request_timeout,
        })
    }

    #[must_use]
    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// The rule of PROTOCOL 2: a token only to trusted hosts; anonymous mode only to this machine.
    fn check_target(&self, service_url: &ServiceUrl) -> Result<(), ConnectorError> {
        let allowed = if self.tokens.is_anonymous() {
            is_loopback(service_url)
        } else {
            self.trusted.is_trusted(service_url)
        };
        if allowed {
            Ok(())
        } else {
            Err(ConnectorError::UntrustedServiceUrl {
                service_url: service_url.to_string(),
            })
        }
    }

    async fn request<B: Serialize + Sync + ?Sized, T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Option<T>, ConnectorError> {
        self.check_target(call.service_url)?;
        let timeout = match call.deadline.remaining() {
            Some(left) if left.is_zero() => {
                return Err(ConnectorError::DeadlineExceeded {
                    needed: Duration::ZERO,
                });
            }
            Some(left) => left.min(self.timeout),
            None => self.timeout,
        };
        let token = self.tokens.token().await?;
        let mut request = self.http.request(method, url).timeout(timeout);
        if let Some(token) = &token {
            request = request.bearer_auth(token.secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::from_transport(&e))?;
        if !(200..300).contains(&status) {
            if status == 401 {
                // The token may have been revoked or minted for the wrong tenant: fetch anew next time.
                self.tokens.invalidate();
            }
            return Err(ConnectorError::from_response(status, &bytes, retry_after));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ConnectorError::Other(ServiceError {
                status: Some(status),
                code: Some("InvalidResponse".to_owned()),
                message: Some(e.to_string()),
            })
        })
    }

    async fn required<B: Serialize + Sync + ?Sized, T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, ConnectorError> {
        self.request(call, method, url, body).await?.ok_or_else(|| {
            ConnectorError::Other(ServiceError {
                status: None,
                code: Some("InvalidResponse".to_owned()),
                message: Some("empty response body".to_owned()),
            })
        })
    }
}

/// `{serviceUrl}/v3/...` with every segment percent-encoded (conversation ids carry `:`, `@`, `;`).
fn endpoint(service_url: &ServiceUrl, segments: &[&str]) -> Result<Url, ConnectorError> {
    let mut url = service_url.url().clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let Ok(mut path) = url.path_segments_mut() else {
            return Err(ConnectorError::UntrustedServiceUrl {
                service_url: service_url.to_string(),
            });
        };
        path.pop_if_empty().push("v3").extend(segments);
    }
    Ok(url)
}

#[async_trait]
impl Connector for HttpConnector {
    async fn execute(
        &self,
        call: Call<'_>,
        operation: Operation<'_>,
    ) -> Result<Response, ConnectorError> {
        let base = call.service_url;
        let none: Option<&()> = None;
        match operation {
            Operation::CreateConversation(params) => {
                let url = endpoint(base, &["conversations"])?;
                self.required(call, Method::POST, url, Some(params))
                    .await
                    .map(Response::Conversation)
            }
            Operation::SendToConversation(conversation, activity) => {
                let url = endpoint(
                    base,
                    &["conversations", conversation.as_str(), "activities"],
                )?;
                self.required(call, Method::POST, url, Some(activity))
                    .await
                    .map(Response::Resource)
            }
            Operation::ReplyToActivity(conversation, id, activity) => {
                let segments = [
                    "conversations",
                    conversation.as_str(),
                    "activities",
                    id.as_str(),
                ];
                let url = endpoint(base, &segments)?;
                self.required(call, Method::POST, url, Some(activity))
                    .await
                    .map(Response::Resource)
            }
            Operation::UpdateActivity(conversation, id, activity) => {
                let segments = [
                    "conversations",
                    conversation.as_str(),
                    "activities",
                    id.as_str(),
                ];
                let url = endpoint(base, &segments)?;
                self.required(call, Method::PUT, url, Some(activity))
                    .await
                    .map(Response::Resource)
            }
            Operation::DeleteActivity(conversation, id) => {
                let segments = [
                    "conversations",
                    conversation.as_str(),
                    "activities",
                    id.as_str(),
                ];
                let url = endpoint(base, &segments)?;
                self.request::<(), serde_json::Value>(call, Method::DELETE, url, none)
                    .await
                    .map(|_| Response::Empty)
            }
            Operation::GetPagedMembers {
                conversation,
                page_size,
                continuation_token,
            } => {
                let mut url = endpoint(
                    base,
                    &["conversations", conversation.as_str(), "pagedmembers"],
                )?;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(size) = page_size {
                        query.append_pair("pageSize", &size.to_string());
                    }
                    if let Some(token) = continuation_token {
                        query.append_pair("continuationToken", token);
                    }
                }
                if url.query() == Some("") {
                    url.set_query(None);
                }
                self.required(call, Method::GET, url, none)
                    .await
                    .map(Response::Members)
            }
            Operation::GetConversationMember(conversation, member) => {
                let segments = [
                    "conversations",
                    conversation.as_str(),
                    "members",
                    member.as_str(),
                ];
                let url = endpoint(base, &segments)?;
                self.required(call, Method::GET, url, none)
                    .await
                    .map(Response::Member)
            }
            Operation::GetTeamDetails(team) => {
                let url = endpoint(base, &["teams", team.as_str()])?;
                self.required(call, Method::GET, url, none)
                    .await
                    .map(Response::Team)
            }
            Operation::GetTeamChannels(team) => {
                let url = endpoint(base, &["teams", team.as_str(), "conversations"])?;
                self.required(call, Method::GET, url, none)
                    .await
                    .map(Response::Channels)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_service_path_and_encode_ids() {
        let base = ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap();
        let url = endpoint(
            &base,
            &[
                "conversations",
                "19:a@thread.tacv2;messageid=1",
                "activities",
            ],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://smba.trafficmanager.net/amer/v3/conversations/19:a@thread.tacv2;messageid=1/activities"
        );
        let bare = ServiceUrl::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            endpoint(&bare, &["teams", "a/b?c"]).unwrap().as_str(),
            "http://127.0.0.1:9/v3/teams/a%2Fb%3Fc"
        );
    }
}
