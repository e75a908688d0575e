//! Herald deployed on the bed with the Teams emulator as Teams: fresh tables on DynamoDB Local, the
//! template's functions with the emulator's token endpoint, identity and service URL, one event
//! route (`EventRoutes` and `RouteEventPattern`, as a deployment sets those parameters), and an
//! HTTP client for the bed's HTTP API.

use std::collections::BTreeMap;
use std::time::Duration;

use herald_domain::BotAppId;
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};
use reqwest::Method;
use serde_json::{Value, json};

use super::ScenarioError;
use crate::{BedConfig, HeraldTables, LambdaBed, create_herald_tables};

/// The notify API key every request carries.
pub const API_KEY: &str = "scenario-api-key";
/// The event the route turns into a notification.
pub const ROUTE_SOURCE: &str = "com.contoso.billing";
pub const ROUTE_DETAIL_TYPE: &str = "InvoiceOverdue";

/// How often a request the HTTP API answered with a 5xx (a function failed: a DynamoDB fault
/// outlasted the SDK's retries, an instance was killed) is sent again.
const API_ATTEMPTS: u32 = 8;

/// Herald on the bed, the emulator it talks to, and the run's tag (in every message text, so
/// one run's messages are told from another's).
pub struct Deployment {
    pub bed: LambdaBed,
    pub emulator: TeamsEmulator,
    pub tables: HeraldTables,
    pub tag: String,
    /// The route's tenant (its recipients get the routed event's message).
    pub route_tenant: String,
    pub(super) http: reqwest::Client,
}

/// Fires the scheduler's tick while it lives.
pub struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Deployment {
    /// Starts the emulator enforcing Teams' limits at `tenant_rate` requests per second per tenant
    /// and the bed with every function of the template, its `TenantRate` the same; the event route
    /// targets the last of `tenants`.
    pub async fn start(tenant_rate: u32, tenants: &[String]) -> Result<Self, ScenarioError> {
        let limits = EmulatorLimits::teams().tenant_rate(Some(tenant_rate));
        let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(limits))
            .await
            .map_err(ScenarioError::Emulator)?;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let tables = HeraldTables::unique("scenario");
        let app = BotAppId::new(&emulator.config().app_id)
            .map_err(|e| crate::BedError::Config(format!("the emulator's app id: {e}")))?;
        create_herald_tables(&herald_testkit::dynamodb_endpoint(), &tables, &app).await?;
        let route_tenant = tenants.last().cloned().unwrap_or_default();
        let routes = json!([{
            "source": ROUTE_SOURCE,
            "detailType": ROUTE_DETAIL_TYPE,
            "target": {"kind": "tenant", "tenantId": route_tenant},
            "message": {"text": Self::route_text_for(&tag)},
        }]);
        let mut bed_config = bed_config_for(&emulator, &tables, API_KEY);
        bed_config
            .refs
            .insert("EventRoutes".to_owned(), routes.to_string());
        bed_config.refs.insert(
            "RouteEventPattern".to_owned(),
            json!({"source": [ROUTE_SOURCE]}).to_string(),
        );
        bed_config
            .refs
            .insert("TenantRate".to_owned(), tenant_rate.to_string());
        // The instances' output stays in this directory for a look afterwards when asked for.
        bed_config.work_dir = std::env::var_os("SCENARIO_LOGS").map(Into::into);
        // Lambda waits a minute and two before retrying a failed asynchronous invocation; the
        // run cannot, and what matters is that the retries happen.
        bed_config.async_retry_delays = vec![Duration::from_millis(500), Duration::from_secs(1)];
        let bed = LambdaBed::start(bed_config).await?;
        Ok(Self {
            bed,
            emulator,
            tables,
            tag,
            route_tenant,
            http: reqwest::Client::new(),
        })
    }

    /// The text of the routed event's message.
    #[must_use]
    pub fn route_text(&self) -> String {
        Self::route_text_for(&self.tag)
    }

    fn route_text_for(tag: &str) -> String {
        format!("An invoice is overdue ({tag})")
    }

    /// One request to the HTTP API: the status and the JSON body (`Null` when there is none).
    pub async fn api_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ScenarioError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.bed.http_url()))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = request.send().await?;
        let status = answer.status().as_u16();
        let text = answer.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A request that is safe to repeat (a read, or a write with an idempotency key), repeated
    /// while the HTTP API answers 5xx. Any other answer is returned.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ScenarioError> {
        let mut last = None;
        for attempt in 0..API_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            match self.api_once(method.clone(), path, body).await {
                Ok((status, body)) if status < 500 => return Ok((status, body)),
                Ok((status, body)) => last = Some((status, body.to_string())),
                Err(e) => last = Some((0, e.to_string())),
            }
        }
        let (status, body) = last.unwrap_or_default();
        Err(ScenarioError::Api {
            what: format!("{method} {path}"),
            status,
            body,
        })
    }

    /// A request that must succeed (2xx): its JSON body.
    pub async fn api_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ScenarioError> {
        let (status, answer) = self.api(method.clone(), path, body).await?;
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(ScenarioError::Api {
                what: format!("{method} {path}"),
                status,
                body: answer.to_string(),
            })
        }
    }

    /// Fires the scheduler's tick every `period` (when the last one has finished) until the
    /// returned [`Ticker`] is dropped.
    pub fn tick_every(&self, period: Duration) -> Result<Ticker, ScenarioError> {
        let scheduler = self.bed.function(SCHEDULER)?.clone();
        let fire = self.bed.schedule_firer(SCHEDULER)?;
        Ok(Ticker(tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if scheduler.running().is_empty() {
                    fire();
                }
            }
        })))
    }
}

/// The bed's configuration for Herald with `emulator` as Teams: the bot's identity and a fresh bus
/// as the template's parameters, `tables`, the app password and `api_key` as the secret's keys,
/// and the emulator's token endpoint, service host and OpenID metadata.
#[must_use]
pub fn bed_config_for(emulator: &TeamsEmulator, tables: &HeraldTables, api_key: &str) -> BedConfig {
    let config = emulator.config();
    let mut refs = BTreeMap::from([
        ("BotAppId".to_owned(), config.app_id.clone()),
        ("BotTenantId".to_owned(), config.app_tenant_id.clone()),
        (
            "HeraldBus".to_owned(),
            herald_testkit::unique_name("herald-bus"),
        ),
    ]);
    tables.add_refs(&mut refs);
    let mut bed_config = BedConfig::new(refs);
    bed_config.secrets = BTreeMap::from([
        (
            "MicrosoftAppPassword".to_owned(),
            config.app_password.clone(),
        ),
        ("HERALD_API_KEY".to_owned(), api_key.to_owned()),
        ("HERALD_TOKEN_URL".to_owned(), emulator.token_url()),
        (
            "HERALD_TRUSTED_SERVICE_HOSTS".to_owned(),
            emulator.host_port(),
        ),
        (
            "HERALD_OPENID_METADATA_URL".to_owned(),
            emulator.openid_metadata_url(),
        ),
    ]);
    bed_config
}

/// The functions' logical ids in the template.
pub const SENDER: &str = "SenderFunction";
pub const SCHEDULER: &str = "SchedulerFunction";
