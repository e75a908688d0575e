//! The load, from Herald's three producers: a broadcast through the notify API, a schedule fired
//! at each recipient's own wall-clock time (one notification per zone), and an event on Herald's
//! bus that an event route turns into a notification for one tenant. Then the wait until every
//! notification they made is `done`.

use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound as _, Utc};
use herald_domain::NotificationId;
use reqwest::Method;
use serde_json::{Value, json};

use super::deployment::{ROUTE_DETAIL_TYPE, ROUTE_SOURCE};
use super::{Deployment, Person, ScenarioError, ZONES};

/// A notification the load made and who should receive it.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `broadcast`, `schedule Europe/Berlin`, `route`.
    pub label: String,
    pub id: NotificationId,
    pub text: String,
    /// Indexes into the people of the run.
    pub recipients: Vec<usize>,
}

/// Everything the load made.
#[derive(Debug, Clone)]
pub struct Load {
    pub notifications: Vec<Expected>,
    /// When the schedule came due and the broadcast and the event were posted.
    pub started: tokio::time::Instant,
}

impl Load {
    /// Posts the schedule, waits for the minute it fires at, then posts the broadcast and the
    /// event, so that all three go out together; names the notifications they make.
    pub async fn post(deployment: &Deployment, people: &[Person]) -> Result<Self, ScenarioError> {
        let tag = &deployment.tag;
        let everyone: Vec<usize> = (0..people.len()).collect();
        let (mut notifications, fire) = schedule(deployment, people).await?;
        let wait = (fire - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let started = tokio::time::Instant::now();

        let text = format!("Broadcast ({tag})");
        let body = json!({"target": {"kind": "all"}, "message": {"text": text},
                          "idempotencyKey": format!("broadcast-{tag}")});
        let answer = deployment
            .api_ok(Method::POST, "/api/notify", Some(&body))
            .await?;
        notifications.push(Expected {
            label: "broadcast".to_owned(),
            id: notification_id(&answer, "notificationId")?,
            text,
            recipients: everyone,
        });

        let event = deployment.bed.put_event(
            ROUTE_SOURCE,
            ROUTE_DETAIL_TYPE,
            &json!({"invoice": format!("INV-{tag}")}),
        )?;
        // The sender makes the event's notification under the key `event:{id}`, scoped to
        // events (see HERALD_EVENT_ROUTES).
        notifications.push(Expected {
            label: "route".to_owned(),
            id: NotificationId::for_scoped_key("event", &format!("event:{event}")),
            text: deployment.route_text(),
            recipients: (0..people.len())
                .filter(|i| people[*i].tenant == deployment.route_tenant)
                .collect(),
        });
        Ok(Self {
            notifications,
            started,
        })
    }

    /// Waits until every notification is `done`: an error naming where each stands otherwise.
    pub async fn drain(
        &self,
        deployment: &Deployment,
        timeout: Duration,
    ) -> Result<(), ScenarioError> {
        let started = Instant::now();
        loop {
            let mut standing = Vec::new();
            for expected in &self.notifications {
                let path = format!("/api/notifications/{}", expected.id);
                let (status, body) = deployment.api(Method::GET, &path, None).await?;
                let state = match status {
                    200 => body["status"].as_str().unwrap_or("?").to_owned(),
                    404 => "not created yet".to_owned(),
                    other => format!("HTTP {other}"),
                };
                if state != "done" {
                    standing.push(format!("{}: {state} {}", expected.label, body["counts"]));
                }
            }
            if standing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(ScenarioError::Stalled(format!(
                    "not done after {timeout:?}: {}",
                    standing.join("; ")
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The recipient-local schedule, once at the next whole minute at least ten seconds away in
/// Central European Time: every zone of [`ZONES`] reaches it at the same instant, and the scheduler
/// makes one notification per zone, named after the schedule, the instant and the zone. Returns
/// them and the instant.
async fn schedule(
    deployment: &Deployment,
    people: &[Person],
) -> Result<(Vec<Expected>, DateTime<Utc>), ScenarioError> {
    let zone = chrono_tz::Europe::Berlin;
    let local = (Utc::now() + chrono::Duration::seconds(70)).with_timezone(&zone);
    let at = local
        .duration_trunc(chrono::Duration::minutes(1))
        .map_err(|e| ScenarioError::Stalled(format!("cannot round {local} to a minute: {e}")))?;
    let text = format!("Scheduled ({})", deployment.tag);
    let body = json!({
        "target": {"kind": "all"},
        "message": {"text": text},
        "recurrence": {"kind": "once", "at": at.format("%Y-%m-%dT%H:%M").to_string()},
        "timeZone": "recipient",
    });
    // Posted once: a schedule has no idempotency key, and DynamoDB faults start after it.
    let (status, answer) = deployment
        .api_once(Method::POST, "/api/schedules", Some(&body))
        .await?;
    if !(200..300).contains(&status) {
        return Err(ScenarioError::Api {
            what: "POST /api/schedules".to_owned(),
            status,
            body: answer.to_string(),
        });
    }
    let schedule = answer["id"].as_str().unwrap_or_default().to_owned();
    let fire: DateTime<Utc> = at.with_timezone(&Utc);
    let expected = ZONES
        .iter()
        .map(|zone| Expected {
            label: format!("schedule {zone}"),
            id: NotificationId::for_idempotency_key(&format!(
                "schedule:{schedule}:{}:{zone}",
                fire.to_rfc3339()
            )),
            text: text.clone(),
            recipients: (0..people.len())
                .filter(|i| people[*i].zone == *zone)
                .collect(),
        })
        .collect();
    Ok((expected, fire))
}

fn notification_id(answer: &Value, field: &str) -> Result<NotificationId, ScenarioError> {
    answer[field]
        .as_str()
        .and_then(|id| NotificationId::parse(id).ok())
        .ok_or_else(|| ScenarioError::Api {
            what: "POST /api/notify".to_owned(),
            status: 202,
            body: answer.to_string(),
        })
}
