//! One Graph request as the installer sends it: the customer tenant's app-only token (one
//! cached provider per tenant), the caller's deadline, and the retry policy for throttling and
//! outages.

use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use herald_connector::{Credentials, Deadline, TokenProvider, retry_after_header};
use herald_domain::TenantId;
use herald_retry::GiveUp;
use reqwest::{Method, header};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::GraphInstaller;
use crate::GraphError;

/// One answer Graph gave: status, `Retry-After` and body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) retry_after: Option<Duration>,
    pub(super) body: Vec<u8>,
}

impl GraphInstaller {
    pub(super) fn providers(&self) -> MutexGuard<'_, HashMap<TenantId, TokenProvider>> {
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

    /// Sends one request with the tenant's token, retrying per the policy: 429, 5xx and transport
    /// failures after `Retry-After` or a backoff, a 401 once with a fresh token; never past the
    /// deadline. Any other answer is returned for the caller to read.
    pub(super) async fn call(
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

    /// `GET url` through [`Self::call`].
    pub(super) async fn get(
        &self,
        tenant: &TenantId,
        url: Url,
        deadline: Deadline,
        operation: &'static str,
    ) -> Result<Reply, GraphError> {
        self.call(tenant, Method::GET, url, None, deadline, operation)
            .await
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

/// Graph's `error.code` and `error.message` (or the raw body).
pub(super) fn error_text(body: &[u8]) -> (String, String) {
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
