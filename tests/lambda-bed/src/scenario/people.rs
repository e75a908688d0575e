//! The people of a run: users of the emulator's tenants, each with a personal chat, who install
//! the app through the webhook as Teams announces it, with an `installationUpdate` activity
//! signed by Bot Framework
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events>).

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt as _;
use herald_teams_emulator::identity::TokenSpec;
use serde_json::{Value, json};

use super::{Deployment, ScenarioError};

/// Zones that share one UTC offset all year (Central European Time, the EU's daylight saving
/// rules): a schedule at one wall-clock time fires in all of them at the same minute, one
/// notification per zone. Each person's Teams client reports one of them (`localTimezone`).
pub const ZONES: [&str; 4] = [
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Rome",
    "Europe/Madrid",
];

/// How often an install the webhook did not answer 2xx is posted again (Teams redelivers).
const INSTALL_ATTEMPTS: u32 = 5;

/// One person with the app installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub tenant: String,
    /// Their personal chat with the bot.
    pub chat: String,
    pub zone: &'static str,
}

/// `count` tenant ids (GUIDs, as Microsoft Entra tenant ids are).
#[must_use]
pub fn tenant_ids(count: usize) -> Vec<String> {
    (1..=count)
        .map(|n| format!("c4a05000-0000-4000-8000-{n:012x}"))
        .collect()
}

impl Deployment {
    /// Adds `per_tenant` users with personal chats to each of `tenants` tenants in the emulator and
    /// installs the app for each of them through the webhook, `concurrency` at a time.
    pub async fn install(
        &self,
        tenants: usize,
        per_tenant: usize,
        concurrency: usize,
    ) -> Result<Vec<Person>, ScenarioError> {
        let mut people = Vec::with_capacity(tenants * per_tenant);
        let mut activities = Vec::with_capacity(tenants * per_tenant);
        for (t, tenant) in tenant_ids(tenants).iter().enumerate() {
            for n in 0..per_tenant {
                let user = self.emulator.add_user(tenant, &format!("Person {t}-{n}"));
                let chat = self.emulator.add_personal_chat(tenant, &user.id);
                let zone = ZONES[(t + n) % ZONES.len()];
                activities.push(json!({
                    "type": "installationUpdate", "action": "add",
                    "id": format!("f:{}", uuid::Uuid::new_v4().simple()),
                    "timestamp": Utc::now().to_rfc3339(), "localTimezone": zone,
                    "channelId": "msteams", "serviceUrl": self.emulator.service_url(),
                    "from": {"id": user.id, "aadObjectId": user.aad_object_id, "name": user.name},
                    "recipient": {"id": format!("28:{}", self.emulator.config().app_id), "name": "Herald"},
                    "conversation": {"conversationType": "personal", "tenantId": tenant, "id": chat},
                    "channelData": {"tenant": {"id": tenant}},
                    "locale": "en-US",
                }));
                people.push(Person {
                    tenant: tenant.clone(),
                    chat,
                    zone,
                });
            }
        }
        let token = self
            .emulator
            .identity()
            .mint(TokenSpec::valid(&self.emulator.service_url()));
        let answers: Vec<Result<(), ScenarioError>> = futures::stream::iter(&activities)
            .map(|activity| self.post_activity(activity, &token))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        answers.into_iter().collect::<Result<(), _>>()?;
        Ok(people)
    }

    /// Posts one activity to `/api/messages` as Bot Framework does, again while it is refused.
    async fn post_activity(&self, activity: &Value, token: &str) -> Result<(), ScenarioError> {
        let url = format!("{}/api/messages", self.bed.http_url());
        let mut last = (0, String::new());
        for attempt in 0..INSTALL_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let answer = self
                .http
                .post(&url)
                .bearer_auth(token)
                .json(activity)
                .send()
                .await?;
            let status = answer.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(());
            }
            last = (status, answer.text().await.unwrap_or_default());
        }
        Err(ScenarioError::Api {
            what: "POST /api/messages (installationUpdate)".to_owned(),
            status: last.0,
            body: last.1,
        })
    }
}
