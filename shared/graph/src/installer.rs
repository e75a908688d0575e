//! The HTTP installer: `POST .../installedApps`, and on 409 the installation's chat.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use herald_connector::{Credentials, Deadline, TokenProvider, retry_after_header};
use herald_domain::{AadObjectId, ConversationId, TenantId};
use herald_retry::{GiveUp, RetryPolicy};
use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use crate::{GraphConfig, GraphError, Installation, Installer};

/// At most this many pages of installations are read looking for the app (a user has far fewer
/// apps; this only stops a server that links pages in a circle).
const MAX_PAGES: usize = 100;

/// Installs the app through Microsoft Graph.
pub struct GraphInstaller {
    config: GraphConfig,
    credentials: Credentials,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// One token provider (and so one cached token) per customer tenant, made on first use.
    tokens: Mutex<HashMap<TenantId, TokenProvider>>,
}

impl fmt::Debug for GraphInstaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphInstaller")
            .field("teams_app_id", &self.config.teams_app_id)
            .field("base_url", &self.config.base_url.as_str())
            .field(
                "anonymous",
                &matches!(self.credentials, Credentials::Anonymous),
            )
            .finish_non_exhaustive()
    }
}

/// One answer Graph gave: status, `Retry-After` and body.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct InstalledAppsPage {
    #[serde(default)]
    value: Vec<InstalledApp>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct InstalledApp {
    id: String,
    #[serde(rename = "teamsApp")]
    teams_app: Option<TeamsAppRef>,
}

#[derive(Deserialize)]
struct TeamsAppRef {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Chat {
    id: Option<String>,
}

/// How a 404/400 reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotFound {
    App,
    User,
    /// Neither the app nor the user is named ("Not Found", "Resource ... does not exist").
    Unclear,
}

impl GraphInstaller {
    /// An installer for `config`, authenticating as the bot registration `credentials`
    /// (`Anonymous` sends no token: only for an emulator). `http` is shared with the connector;
    /// it should not follow redirects (a redirect could carry the token elsewhere).
    #[must_use]
    pub fn new(
        config: GraphConfig,
        credentials: Credentials,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            config,
            credentials,
            http,
            retry,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// An installer with its own HTTP client (no redirects) and the default retry policy.
    pub fn from_config(
        config: GraphConfig,
        credentials: Credentials,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self::new(config, credentials, http, RetryPolicy::default()))
    }

    #[must_use]
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// Token requests made so far, all tenants together (for metrics and tests).
    #[must_use]
    pub fn token_fetches(&self) -> u64 {
        self.providers()
            .values()
            .map(TokenProvider::fetch_count)
            .sum()
    }

    fn providers(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, TokenProvider>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's token provider, made on first use.
    fn tokens_for(&self, tenant: &TenantId) -> Result<TokenProvider, GraphError> {
        if let Some(provider) = self.providers().get(tenant) {
            return Ok(provider.clone());
        }
        let provider = match &self.credentials {
            Credentials::Anonymous => TokenProvider::anonymous(self.http.clone()),
            Credentials::App {
                app_id, password, ..
            } => TokenProvider::client_credentials(
                self.http.clone(),
                self.config.token_url_for(tenant)?,
                app_id.as_str(),
                password.clone(),
                self.config.scope(),
                self.config.token_refresh_margin,
                self.config.request_timeout,
            ),
        };
        // Two first calls may race; the first provider stored wins, so there is one cache.
        Ok(self
            .providers()
            .entry(tenant.clone())
            .or_insert(provider)
            .clone())
    }

    /// `{base}/{segments...}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends one request with the tenant's token, retrying per the policy: 429, 5xx and transport
    /// failures after `Retry-After` or a backoff, a 401 once with a fresh token; never past the
    /// deadline. Any other answer is returned for the caller to read.
    async fn call(
        &self,
        tenant: &TenantId,
        method: Method,
        url: Url,
        body: Option<&Value>,
        deadline: Deadline,
        operation: &'static str,
    ) -> Result<Reply, GraphError> {
        let tokens = self.tokens_for(tenant)?;
        let mut attempts = self.retry.attempts(deadline.instant());
        let mut refreshed = false;
        loop {
            let error = match self
                .attempt(&tokens, method.clone(), &url, body, deadline)
                .await
            {
                Ok(reply) if reply.status == 401 && !refreshed && !tokens.is_anonymous() => {
                    // Revoked or rotated: one more try with a fresh token.
                    tracing::info!(operation, tenant = %tenant, "Graph answered 401; refreshing the token");
                    tokens.invalidate();
                    refreshed = true;
                    continue;
                }
                Ok(reply) if reply.status == 401 => {
                    let (code, message) = error_text(&reply.body);
                    return Err(GraphError::Unauthorized { code, message });
                }
                Ok(reply) if reply.status == 429 => GraphError::Throttled {
                    retry_after: reply.retry_after,
                },
                Ok(reply) if reply.status >= 500 => GraphError::Unavailable {
                    status: Some(reply.status),
                    retry_after: reply.retry_after,
                    message: error_text(&reply.body).1,
                },
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            };
            if !error.is_retryable() || matches!(error, GraphError::DeadlineExceeded) {
                return Err(error);
            }
            match attempts.retry(error.retry_after()) {
                Ok(pause) => {
                    tracing::debug!(operation, tenant = %tenant, attempt = pause.failed_attempt, wait = ?pause.wait, error = %error, "retrying Graph call");
                    pause.await;
                }
                Err(reason @ GiveUp::PastDeadline { .. }) => {
                    tracing::info!(operation, tenant = %tenant, %reason, error = %error, "Graph call failed; no time left to retry");
                    return Err(error);
                }
                Err(reason) => {
                    tracing::warn!(operation, tenant = %tenant, %reason, error = %error, "Graph call failed; not retrying");
                    return Err(error);
                }
            }
        }
    }

    /// One request: token, send, read the answer.
    async fn attempt(
        &self,
        tokens: &TokenProvider,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        deadline: Deadline,
    ) -> Result<Reply, GraphError> {
        let left = |deadline: Deadline| match deadline.remaining() {
            Some(left) if left.is_zero() => Err(GraphError::DeadlineExceeded),
            other => Ok(other),
        };
        let token = match left(deadline)? {
            Some(left) => tokio::time::timeout(left, tokens.token())
                .await
                .map_err(|_| GraphError::DeadlineExceeded)??,
            None => tokens.token().await?,
        };
        let timeout = left(deadline)?.map_or(self.config.request_timeout, |left| {
            left.min(self.config.request_timeout)
        });
        let mut request = self
            .http
            .request(method, url.clone())
            .timeout(timeout)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &token {
            request = request.bearer_auth(token.secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |e: &reqwest::Error| {
            if e.is_timeout() && deadline.remaining().is_some_and(|l| l.is_zero()) {
                GraphError::DeadlineExceeded
            } else {
                GraphError::Unavailable {
                    status: None,
                    retry_after: None,
                    message: e.to_string(),
                }
            }
        };
        let response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let retry_after = retry_after_header(response.headers());
        let body = response.bytes().await.map_err(|e| transport(&e))?.to_vec();
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// After a 409: the installation of the app among the user's, then its chat.
    async fn installed_chat(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        deadline: Deadline,
    ) -> Result<ConversationId, GraphError> {
        let app_id = &self.config.teams_app_id;
        let installation = self
            .find_installation(tenant, user, deadline)
            .await?
            .ok_or(GraphError::InstallationNotFound)?;
        let url = self.url(&[
            "users",
            user.as_str(),
            "teamwork",
            "installedApps",
            &installation,
            "chat",
        ]);
        let reply = self
            .call(
                tenant,
                Method::GET,
                url,
                None,
                deadline,
                "getInstalledAppChat",
            )
            .await?;
        // Listed but without a chat yet: an installation still settling.
        if reply.status == 404 {
            return Err(GraphError::InstallationNotFound);
        }
        if !(200..300).contains(&reply.status) {
            return Err(self.classify(tenant, user, &reply, deadline).await);
        }
        let chat: Chat = serde_json::from_slice(&reply.body)
            .map_err(|e| GraphError::InvalidResponse(format!("chat: {e}")))?;
        let id = chat
            .id
            .ok_or_else(|| GraphError::InvalidResponse("chat without an id".to_owned()))?;
        let chat_id = ConversationId::new(id)
            .map_err(|e| GraphError::InvalidResponse(format!("chat id: {e}")))?;
        tracing::info!(tenant = %tenant, user = %user, teams_app = %app_id, chat = %chat_id, "app already installed; chat found");
        Ok(chat_id)
    }

    /// The id of the user's installation of the app, following `@odata.nextLink` (a filtered
    /// page may be empty and still link to more).
    async fn find_installation(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        deadline: Deadline,
    ) -> Result<Option<String>, GraphError> {
        let mut url = self.list_url(user);
        for _ in 0..MAX_PAGES {
            let reply = self
                .call(
                    tenant,
                    Method::GET,
                    url,
                    None,
                    deadline,
                    "listInstalledApps",
                )
                .await?;
            if !(200..300).contains(&reply.status) {
                return Err(self.classify(tenant, user, &reply, deadline).await);
            }
            let page: InstalledAppsPage = serde_json::from_slice(&reply.body)
                .map_err(|e| GraphError::InvalidResponse(format!("installedApps: {e}")))?;
            let found = page.value.into_iter().find(|app| {
                app.teams_app
                    .as_ref()
                    .and_then(|t| t.id.as_deref())
                    .is_some_and(|id| id.eq_ignore_ascii_case(&self.config.teams_app_id))
            });
            if let Some(app) = found {
                return Ok(Some(app.id));
            }
            let Some(next) = page.next_link else {
                return Ok(None);
            };
            url = self.next_page(&next)?;
        }
        Err(GraphError::InvalidResponse(format!(
            "installedApps: more than {MAX_PAGES} pages"
        )))
    }

    /// `GET users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '{app}'`.
    fn list_url(&self, user: &AadObjectId) -> Url {
        let mut url = self.url(&["users", user.as_str(), "teamwork", "installedApps"]);
        // OData string literals double their quotes.
        let literal = self.config.teams_app_id.replace('\'', "''");
        url.query_pairs_mut()
            .append_pair("$expand", "teamsApp")
            .append_pair("$filter", &format!("teamsApp/id eq '{literal}'"));
        url
    }

    /// A `@odata.nextLink`, which must stay on the Graph origin (it will carry the token).
    fn next_page(&self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link)
            .map_err(|e| GraphError::InvalidResponse(format!("@odata.nextLink: {e}")))?;
        if url.origin() != self.config.base_url.origin() {
            return Err(GraphError::InvalidResponse(format!(
                "@odata.nextLink leaves Graph: {}",
                url.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// The typed error for a final non-2xx answer. An unclear 404 is settled by asking for the
    /// user's apps: if the user is there, the app is what is missing.
    async fn classify(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        reply: &Reply,
        deadline: Deadline,
    ) -> GraphError {
        let (code, message) = error_text(&reply.body);
        match reply.status {
            403 => GraphError::Forbidden { code, message },
            // A malformed request is not an unknown user.
            400 if read_not_found(&message) == NotFound::Unclear => GraphError::Rejected {
                status: 400,
                code,
                message,
            },
            404 | 400 => match read_not_found(&message) {
                NotFound::App => GraphError::AppNotInCatalog {
                    status: reply.status,
                    code,
                    message,
                },
                NotFound::User => GraphError::UserNotFound { code, message },
                NotFound::Unclear => {
                    let probe = self
                        .call(
                            tenant,
                            Method::GET,
                            self.list_url(user),
                            None,
                            deadline,
                            "probeUser",
                        )
                        .await;
                    // Only a definite answer settles it; a throttled or failed probe leaves the
                    // question open, to be asked again later.
                    match probe {
                        Ok(r) if (200..300).contains(&r.status) => GraphError::AppNotInCatalog {
                            status: reply.status,
                            code,
                            message,
                        },
                        Ok(r) if r.status == 404 => GraphError::UserNotFound { code, message },
                        Ok(r) if r.status == 403 => GraphError::Forbidden { code, message },
                        Ok(r) => GraphError::Unavailable {
                            status: Some(r.status),
                            retry_after: r.retry_after,
                            message: format!(
                                "a {} answer left open whether the user or the app is missing \
                                 ({message})",
                                r.status
                            ),
                        },
                        Err(e) if e.is_retryable() => e,
                        Err(_) => GraphError::UserNotFound { code, message },
                    }
                }
            },
            status => GraphError::Rejected {
                status,
                code,
                message,
            },
        }
    }
}

/// Graph's `error.code` and `error.message` (or the raw body).
fn error_text(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
    {
        Some(detail) => (
            detail.code.unwrap_or_default(),
            detail.message.unwrap_or_default(),
        ),
        None => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(512).collect(),
        ),
    }
}

/// Whether a 404/400 message is about the app (its definition, the catalog, "app" as a word),
/// about the user, or neither.
fn read_not_found(message: &str) -> NotFound {
    let lower = message.to_ascii_lowercase();
    let about_app = ["app definition", "teamsapp", "app catalog", "appcatalog"]
        .iter()
        .any(|p| lower.contains(p))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == "app");
    if about_app {
        NotFound::App
    } else if lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word == "user")
    {
        NotFound::User
    } else {
        NotFound::Unclear
    }
}

#[async_trait]
impl Installer for GraphInstaller {
    async fn install_for_user(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        deadline: Deadline,
    ) -> Result<Installation, GraphError> {
        let app_id = &self.config.teams_app_id;
        let url = self.url(&["users", user.as_str(), "teamwork", "installedApps"]);
        let bind = self.url(&["appCatalogs", "teamsApps", app_id]);
        let body = json!({ "teamsApp@odata.bind": bind.as_str() });
        let started = Instant::now();
        let reply = self
            .call(tenant, Method::POST, url, Some(&body), deadline, "installApp")
            .await
            .inspect_err(|e| {
                tracing::warn!(tenant = %tenant, user = %user, teams_app = %app_id, error = %e, "installing the app failed");
            })?;
        let outcome = match StatusCode::from_u16(reply.status) {
            Ok(status) if status.is_success() => {
                tracing::info!(tenant = %tenant, user = %user, teams_app = %app_id, elapsed = ?started.elapsed(), "app installed for the user");
                Ok(Installation::Installed)
            }
            Ok(StatusCode::CONFLICT) => self
                .installed_chat(tenant, user, deadline)
                .await
                .map(|chat_id| Installation::AlreadyInstalled { chat_id }),
            _ => Err(self.classify(tenant, user, &reply, deadline).await),
        };
        if let Err(error) = &outcome {
            tracing::warn!(tenant = %tenant, user = %user, teams_app = %app_id, status = reply.status, error = %error, retryable = error.is_retryable(), "installing the app failed");
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_messages() {
        let read = |m: &str| read_not_found(m);
        assert_eq!(
            read("User is trying to create a team entitlement for a non existent App definition"),
            NotFound::App
        );
        assert_eq!(read("The app was not found in the catalog."), NotFound::App);
        assert_eq!(read("teamsApp 'x' not found"), NotFound::App);
        assert_eq!(read("Not found in appCatalogs"), NotFound::App);
        assert_eq!(read("User Id 'abc' not found."), NotFound::User);
        assert_eq!(read("Not Found"), NotFound::Unclear);
        assert_eq!(
            read(
                "Resource 'x' does not exist or one of its queried reference-property objects are not present."
            ),
            NotFound::Unclear
        );
        // "app" only as a word: "application" and "happened" are not about the catalog.
        assert_eq!(read("Application error happened"), NotFound::Unclear);
        assert_eq!(read_not_found("Invalid id"), NotFound::Unclear);
    }

    #[test]
    fn error_bodies() {
        let body = br#"{"error":{"code":"Forbidden","message":"Missing role","innerError":{}}}"#;
        assert_eq!(
            error_text(body),
            ("Forbidden".to_owned(), "Missing role".to_owned())
        );
        assert_eq!(error_text(b"oops"), (String::new(), "oops".to_owned()));
    }

    #[test]
    fn urls_are_encoded() {
        let config = GraphConfig::new("app 'x'/y", herald_connector::Cloud::Public);
        let installer = GraphInstaller::new(
            config,
            Credentials::Anonymous,
            reqwest::Client::new(),
            RetryPolicy::default(),
        );
        let user = AadObjectId::new("a/b?c").unwrap();
        assert_eq!(
            installer.list_url(&user).as_str(),
            "https://graph.microsoft.com/v1.0/users/a%2Fb%3Fc/teamwork/installedApps?%24expand=teamsApp&%24filter=teamsApp%2Fid+eq+%27app+%27%27x%27%27%2Fy%27"
        );
        assert_eq!(
            installer
                .url(&["appCatalogs", "teamsApps", "app 'x'/y"])
                .as_str(),
            "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/app%20'x'%2Fy"
        );
        assert!(
            installer
                .next_page("https://evil.example/v1.0/users")
                .is_err()
        );
        assert!(
            installer
                .next_page("https://graph.microsoft.com/v1.0/users/x?$skiptoken=2")
                .is_ok()
        );
    }
}
