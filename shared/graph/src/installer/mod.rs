//! The HTTP installer: `POST .../installedApps`, and on 409 the installation's chat.
//!
//! `request.rs` sends one request with the tenant's token under the retry policy; `answer.rs`
//! reads an answer, and turns a failed one into a typed error.

mod answer;
mod request;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use herald_connector::{Credentials, Deadline, TokenProvider};
use herald_domain::{AadObjectId, ConversationId, TenantId};
use herald_retry::RetryPolicy;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
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

    /// `{base}/{segments...}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
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
            .get(tenant, url, deadline, "getInstalledAppChat")
            .await?;
        // Listed but without a chat yet: an installation still settling.
        if reply.status == 404 {
            return Err(GraphError::InstallationNotFound);
        }
        let chat: Chat = self.read(tenant, user, &reply, deadline, "chat").await?;
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
            let reply = self.get(tenant, url, deadline, "listInstalledApps").await?;
            let page: InstalledAppsPage = self
                .read(tenant, user, &reply, deadline, "installedApps")
                .await?;
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
