//! The plain HTTP layer: one reqwest client (one connection pool for the life of the process),
//! the bearer token, the trusted-host check and error classification. No retries, no pacing.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use herald_domain::{ConversationId, ServiceUrl};
use reqwest::{Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::{ConfigError, ConnectorConfig};
use crate::connector::{Call, Connector, Executed, Operation, Response};
use crate::error::{ConnectorError, ServiceError};
use crate::model::ActivityId;
use crate::token::TokenProvider;
use crate::trust::{TrustedHosts, is_loopback};

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
            .map_err(|e| ConfigError::invalid("http client", "", e.to_string()))?;
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

    /// A token only to trusted hosts (see [`TrustedHosts`]); anonymous mode only to this machine.
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

    /// Sends one request; the raw body of a 2xx answer, or the classified failure.
    async fn send(
        &self,
        call: Call<'_>,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ConnectorError> {
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
            request = request
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(&e))?;
        let status = response.status().as_u16();
        let retry_after = retry_after_header(response.headers());
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
        Ok((status, bytes.to_vec()))
    }
}

/// The `Retry-After` of an answer, in either form, if it has a usable one.
#[must_use]
pub fn retry_after_header(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| herald_retry::parse_retry_after(v, SystemTime::now()))
}

fn invalid_response(status: u16, message: String) -> ConnectorError {
    ConnectorError::Other(ServiceError {
        status: Some(status),
        code: Some("InvalidResponse".to_owned()),
        message: Some(message),
    })
}

fn json<T: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, ConnectorError> {
    serde_json::from_slice(bytes).map_err(|e| invalid_response(status, e.to_string()))
}

fn to_body<T: Serialize>(value: &T) -> Result<Option<Vec<u8>>, ConnectorError> {
    serde_json::to_vec(value).map(Some).map_err(|e| {
        ConnectorError::BadRequest(ServiceError {
            status: None,
            code: Some("Serialization".to_owned()),
            message: Some(e.to_string()),
        })
    })
}

/// Method, URL and body of an operation, as the connector REST API reference defines them
/// (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference>).
fn prepare(
    base: &ServiceUrl,
    operation: &Operation<'_>,
) -> Result<(Method, Url, Option<Vec<u8>>), ConnectorError> {
    let activities = |c: &ConversationId, id: &ActivityId| {
        endpoint(
            base,
            &["conversations", c.as_str(), "activities", id.as_str()],
        )
    };
    Ok(match operation {
        Operation::CreateConversation(params) => (
            Method::POST,
            endpoint(base, &["conversations"])?,
            to_body(params)?,
        ),
        Operation::SendToConversation(c, activity) => (
            Method::POST,
            endpoint(base, &["conversations", c.as_str(), "activities"])?,
            to_body(activity)?,
        ),
        Operation::ReplyToActivity(c, id, activity) => {
            (Method::POST, activities(c, id)?, to_body(activity)?)
        }
        Operation::UpdateActivity(c, id, activity) => {
            (Method::PUT, activities(c, id)?, to_body(activity)?)
        }
        Operation::DeleteActivity(c, id) => (Method::DELETE, activities(c, id)?, None),
        Operation::GetPagedMembers {
            conversation,
            page_size,
            continuation_token,
        } => {
            let mut url = endpoint(
                base,
                &["conversations", conversation.as_str(), "pagedmembers"],
            )?;
            if page_size.is_some() || continuation_token.is_some() {
                let mut query = url.query_pairs_mut();
                if let Some(size) = page_size {
                    query.append_pair("pageSize", &size.to_string());
                }
                if let Some(token) = continuation_token {
                    query.append_pair("continuationToken", token);
                }
            }
            (Method::GET, url, None)
        }
        Operation::GetConversationMember(c, member) => (
            Method::GET,
            endpoint(
                base,
                &["conversations", c.as_str(), "members", member.as_str()],
            )?,
            None,
        ),
        Operation::GetTeamDetails(team) => (
            Method::GET,
            endpoint(base, &["teams", team.as_str()])?,
            None,
        ),
        Operation::GetTeamChannels(team) => (
            Method::GET,
            endpoint(base, &["teams", team.as_str(), "conversations"])?,
            None,
        ),
    })
}

/// Decodes a success body into the operation's response type.
fn decode(
    operation: &Operation<'_>,
    status: u16,
    bytes: &[u8],
) -> Result<Response, ConnectorError> {
    Ok(match operation {
        Operation::CreateConversation(_) => Response::Conversation(json(status, bytes)?),
        Operation::SendToConversation(..)
        | Operation::ReplyToActivity(..)
        | Operation::UpdateActivity(..) => Response::Resource(json(status, bytes)?),
        // Teams answers a delete with an empty body (or `{}`); there is nothing to read.
        Operation::DeleteActivity(..) => Response::Empty,
        Operation::GetPagedMembers { .. } => Response::Members(json(status, bytes)?),
        Operation::GetConversationMember(..) => Response::Member(json(status, bytes)?),
        Operation::GetTeamDetails(_) => Response::Team(json(status, bytes)?),
        Operation::GetTeamChannels(_) => Response::Channels(json(status, bytes)?),
    })
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
    async fn execute(&self, call: Call<'_>, operation: Operation<'_>) -> Executed {
        let (method, url, body) = prepare(call.service_url, &operation)?;
        let (status, bytes) = self.send(call, method, url, body).await?;
        decode(&operation, status, &bytes)
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
        let loopback = ServiceUrl::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            endpoint(&loopback, &["teams", "a/b?c"]).unwrap().as_str(),
            "http://127.0.0.1:9/v3/teams/a%2Fb%3Fc"
        );
    }
}
