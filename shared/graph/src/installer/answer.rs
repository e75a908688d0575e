//! Reading Graph's answers: a 2xx body, or the typed error a failed answer means.

use herald_connector::Deadline;
use herald_domain::{AadObjectId, TenantId};
use serde::de::DeserializeOwned;

use super::GraphInstaller;
use super::request::{Reply, error_text};
use crate::GraphError;

/// How a 404/400 reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotFound {
    App,
    User,
    /// Neither the app nor the user is named ("Not Found", "Resource ... does not exist").
    Unclear,
}

impl GraphInstaller {
    /// The body of a 2xx answer read as `T` (`what` names it in errors), or the typed error for
    /// any other answer.
    pub(super) async fn read<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
        reply: &Reply,
        deadline: Deadline,
        what: &str,
    ) -> Result<T, GraphError> {
        if !(200..300).contains(&reply.status) {
            return Err(self.classify(tenant, user, reply, deadline).await);
        }
        serde_json::from_slice(&reply.body)
            .map_err(|e| GraphError::InvalidResponse(format!("{what}: {e}")))
    }

    /// The typed error for a final non-2xx answer. An unclear 404 is settled by asking for the
    /// user's apps: if the user is there, the app is what is missing.
    pub(super) async fn classify(
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
                        .get(tenant, self.list_url(user), deadline, "probeUser")
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
}
