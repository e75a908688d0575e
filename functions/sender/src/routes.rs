//! EventBridge events that become notifications: `herald.Notify` carries a `POST /api/notify`
//! body as its `detail`; any other event may match a configured route, whose card is bound from
//! the event's `detail`.

use chrono::{DateTime, Duration, Utc};
use herald_pipeline::request::{NotifyRequest, RequestError};
use herald_store::NotificationRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

/// The detail-type whose detail is a notify body.
pub const NOTIFY_DETAIL_TYPE: &str = "herald.Notify";

/// One route (`HERALD_EVENT_ROUTES` is a JSON array of them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventRoute {
    /// The event's `source`, or `*`.
    pub source: String,
    /// The event's `detail-type`, or `*`.
    pub detail_type: String,
    /// A notify target (`{"kind": ...}`).
    pub target: Value,
    /// A notify message; its `data` is the event's `detail`, so `${...}` placeholders bind to it.
    pub message: Value,
}

impl EventRoute {
    fn matches(&self, source: &str, detail_type: &str) -> bool {
        (self.source == "*" || self.source == source)
            && (self.detail_type == "*" || self.detail_type == detail_type)
    }
}

#[derive(Debug, Error)]
pub enum RouteError {
    #[error("HERALD_EVENT_ROUTES is not a JSON array of routes: {0}")]
    InvalidRoutes(String),
    #[error("route {index} has an invalid target: {error}")]
    InvalidRouteTarget { index: usize, error: RequestError },
    #[error("event {detail_type} did not make a valid notification: {error}")]
    InvalidEvent {
        detail_type: String,
        error: RequestError,
    },
}

/// A notification made from an event.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedNotification {
    pub record: NotificationRecord,
    /// The route's position, or `None` for `herald.Notify`.
    pub route: Option<usize>,
}

/// The configured routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Router {
    routes: Vec<EventRoute>,
}

impl Router {
    /// Reads routes from JSON, checking each target up front so a typo fails at start-up.
    pub fn from_json(text: &str) -> Result<Self, RouteError> {
        let routes: Vec<EventRoute> =
            serde_json::from_str(text).map_err(|e| RouteError::InvalidRoutes(e.to_string()))?;
        for (index, route) in routes.iter().enumerate() {
            let probe = json!({"target": route.target, "message": {"text": "probe"}});
            NotifyRequest::from_json(&probe)
                .map_err(|error| RouteError::InvalidRouteTarget { index, error })?;
        }
        Ok(Self { routes })
    }

    /// The notification an event asks for, if any. The event id is the idempotency key (unless
    /// the body has its own), so EventBridge's retries cannot notify twice.
    pub fn route(
        &self,
        event_id: Option<&str>,
        source: &str,
        detail_type: &str,
        detail: &Value,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<Option<RoutedNotification>, RouteError> {
        let (mut body, route) = if detail_type == NOTIFY_DETAIL_TYPE {
            (detail.clone(), None)
        } else if let Some((index, route)) = self
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(source, detail_type))
        {
            let mut message = route.message.clone();
            if let Some(object) = message.as_object_mut() {
                object.insert("data".into(), detail.clone());
            }
            (
                json!({"target": route.target, "message": message}),
                Some(index),
            )
        } else {
            return Ok(None);
        };
        if let (Some(object), Some(id)) = (body.as_object_mut(), event_id)
            && !object.contains_key("idempotencyKey")
        {
            object.insert("idempotencyKey".into(), json!(format!("event:{id}")));
        }
        let request =
            NotifyRequest::from_json(&body).map_err(|error| RouteError::InvalidEvent {
                detail_type: detail_type.to_owned(),
                error,
            })?;
        let source = match route {
            Some(index) => format!("event:route{index}:{detail_type}"),
            None => format!("event:{detail_type}"),
        };
        Ok(Some(RoutedNotification {
            record: request.into_notification(&source, now, retention),
            route,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::Target;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn notify_events_carry_the_body() {
        let router = Router::default();
        let detail = json!({"target": {"kind": "all"}, "message": {"text": "Deploy finished"}});
        let route_event = || {
            router
                .route(
                    Some("e-1"),
                    "ci",
                    NOTIFY_DETAIL_TYPE,
                    &detail,
                    now(),
                    Duration::days(30),
                )
                .unwrap()
                .unwrap()
        };
        let made = route_event();
        assert_eq!(made.record.target, Target::All);
        assert_eq!(made.record.idempotency_key.as_deref(), Some("event:e-1"));
        assert_eq!(made.route, None);
        // The same event again names the same notification.
        let again = route_event();
        assert_eq!(again.record.id, made.record.id);
    }

    #[test]
    fn routes_bind_cards_from_the_detail() {
        let router = Router::from_json(
            r#"[{"source": "aws.codepipeline", "detailType": "CodePipeline Pipeline Execution State Change",
                 "target": {"kind": "team", "teamId": "19:t@thread.tacv2", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "channel": "Deployments"},
                 "message": {"card": {"type": "AdaptiveCard", "version": "1.4",
                   "body": [{"type": "TextBlock", "text": "${pipeline} is ${state}"}]}}}]"#,
        )
        .unwrap();
        let detail = json!({"pipeline": "web", "state": "FAILED"});
        let made = router
            .route(
                Some("e-2"),
                "aws.codepipeline",
                "CodePipeline Pipeline Execution State Change",
                &detail,
                now(),
                Duration::days(30),
            )
            .unwrap()
            .unwrap();
        assert!(made.record.activity.to_string().contains("web is FAILED"));
        assert_eq!(made.route, Some(0));
        assert!(
            router
                .route(None, "aws.ec2", "other", &detail, now(), Duration::days(30))
                .unwrap()
                .is_none()
        );
        let missing = router.route(
            None,
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            &json!({"pipeline": "web"}),
            now(),
            Duration::days(30),
        );
        assert!(matches!(missing, Err(RouteError::InvalidEvent { .. })));
    }

    #[test]
    fn bad_routes_fail_at_start_up() {
        assert!(matches!(
            Router::from_json("{}"),
            Err(RouteError::InvalidRoutes(_))
        ));
        assert!(matches!(
            Router::from_json(
                r#"[{"source":"*","detailType":"*","target":{"kind":"nobody"},"message":{"text":"x"}}]"#
            ),
            Err(RouteError::InvalidRouteTarget { index: 0, .. })
        ));
    }
}
