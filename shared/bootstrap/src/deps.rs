use std::sync::{Arc, OnceLock};

use herald_connector::{
    Connector, ConnectorConfig, Credentials, InFlight, PaceMeter, teams_connector_paced,
};
use herald_domain::{BotAppId, Clock, SystemClock};
use herald_events::{EventBridgePublisher, EventPublisher, EventsConfig};
use herald_settings::Settings;

use crate::{BootstrapError, Lookup, Stores, Tables, retention};

/// The app id references are stored under when `MicrosoftAppId` is unset (the local runner's
/// unauthenticated mode; a Lambda refuses to start without one).
pub const LOCAL_APP_ID: &str = "00000000-0000-0000-0000-00000000110c";

/// Where Herald's own events go.
enum Events {
    /// Built on first use from `HERALD_EVENT_BUS` / `HERALD_EVENT_SOURCE`.
    EventBridge(aws_sdk_eventbridge::Client),
    Given(Arc<dyn EventPublisher>),
}

/// What every function is built from.
pub struct Deps {
    lookup: Lookup,
    /// The bot this deployment is (`MicrosoftAppId`).
    pub bot_app_id: BotAppId,
    pub stores: Stores,
    pub clock: Arc<dyn Clock>,
    /// `HERALD_DELIVERY_TTL_DAYS`, read once.
    pub retention: chrono::Duration,
    events: Events,
    connector: OnceLock<Built>,
}

/// The connector, and its throttle's meter when the connector was built here (a test's own
/// connector has none).
type Built = (Arc<dyn Connector>, Option<Arc<PaceMeter>>);

impl Deps {
    /// A Lambda function's: the environment with the `HERALD_SECRET_ARN` secret over it, the
    /// DynamoDB tables it names, EventBridge, the system clock. `MicrosoftAppId` is required.
    pub async fn lambda() -> Result<Self, BootstrapError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let settings = Arc::new(Settings::load(&aws).await?);
        let lookup: Lookup = Arc::new(move |name| settings.get(name));
        let bot_app_id =
            configured_app_id(&lookup)?.ok_or(BootstrapError::Missing("MicrosoftAppId"))?;
        let stores = Stores::dynamo(
            aws_sdk_dynamodb::Client::new(&aws),
            Tables::from_lookup(&lookup),
            bot_app_id.clone(),
        );
        Ok(Self {
            retention: retention(&*lookup)?,
            lookup,
            bot_app_id,
            stores,
            clock: Arc::new(SystemClock),
            events: Events::EventBridge(aws_sdk_eventbridge::Client::new(&aws)),
            connector: OnceLock::new(),
        })
    }

    /// Assembled from parts: the local runner's and the tests'. The bot is `MicrosoftAppId`, or
    /// [`LOCAL_APP_ID`] when it is unset (see [`Deps::app_id`]).
    pub fn new(
        lookup: Lookup,
        stores: Stores,
        events: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BootstrapError> {
        Ok(Self {
            bot_app_id: Self::app_id(&lookup)?,
            retention: retention(&*lookup)?,
            lookup,
            stores,
            clock,
            events: Events::Given(events),
            connector: OnceLock::new(),
        })
    }

    /// The bot of a local run: `MicrosoftAppId`, else [`LOCAL_APP_ID`].
    pub fn app_id(lookup: &Lookup) -> Result<BotAppId, BootstrapError> {
        match configured_app_id(lookup)? {
            Some(app) => Ok(app),
            None => BotAppId::new(LOCAL_APP_ID).map_err(|e| BootstrapError::Invalid {
                name: "MicrosoftAppId",
                problem: e.to_string(),
            }),
        }
    }

    /// Uses this connector instead of the one the settings describe (tests pace or observe it).
    #[must_use]
    pub fn with_connector(self, connector: Arc<dyn Connector>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set((connector, None));
        Self {
            connector: cell,
            ..self
        }
    }

    /// One setting (the secret's value over the environment's).
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The settings as the crates' `from_lookup` constructors read them.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + Copy + '_ {
        |name| self.setting(name)
    }

    pub fn connector_config(&self) -> Result<ConnectorConfig, BootstrapError> {
        Ok(ConnectorConfig::from_lookup(self.lookup())?)
    }

    /// No `MicrosoftAppId`: activities come without tokens and messages go without one, to
    /// loopback only (Bot Framework's local convention; only [`Deps::new`] can yield it).
    pub fn anonymous(&self) -> Result<bool, BootstrapError> {
        Ok(matches!(
            self.connector_config()?.credentials,
            Credentials::Anonymous
        ))
    }

    /// The connector stack every function sends with (HTTP, Teams' throttle, retries), built
    /// once per process so that all sends share one token cache. Its tenant pace is the one
    /// every instance shares when `HERALD_PACING_TABLE` names a DynamoDB table, else this
    /// process's ([`Stores::pace`]). It waits on the system clock whatever [`Deps::clock`] is:
    /// Teams counts real time.
    pub fn connector(&self) -> Result<Arc<dyn Connector>, BootstrapError> {
        Ok(self.built_connector()?.0.clone())
    }

    fn built_connector(&self) -> Result<&Built, BootstrapError> {
        if let Some(built) = self.connector.get() {
            return Ok(built);
        }
        let stack = teams_connector_paced(
            &self.connector_config()?,
            self.stores.pace(),
            Arc::new(SystemClock),
        )?;
        let meter = stack.inner().meter();
        let connector: Arc<dyn Connector> = Arc::new(stack);
        Ok(self.connector.get_or_init(|| (connector, Some(meter))))
    }

    /// How many sends to keep in flight, at most `max`: what the connector's throttle says
    /// the active tenants need (rate x latency), or `max` for a connector given by a test.
    pub fn in_flight(&self, max: usize) -> Result<InFlight, BootstrapError> {
        Ok(match &self.built_connector()?.1 {
            Some(meter) => InFlight::adaptive(meter.clone(), max),
            None => InFlight::fixed(max),
        })
    }

    /// Where Herald publishes its events (`herald.InstallationAdded`, delivery outcomes, ...).
    pub fn events(&self) -> Result<Arc<dyn EventPublisher>, BootstrapError> {
        Ok(match &self.events {
            Events::EventBridge(client) => Arc::new(EventBridgePublisher::new(
                client.clone(),
                EventsConfig::from_lookup(self.lookup())?,
            )),
            Events::Given(events) => events.clone(),
        })
    }
}

fn configured_app_id(lookup: &Lookup) -> Result<Option<BotAppId>, BootstrapError> {
    lookup("MicrosoftAppId")
        .filter(|v| !v.trim().is_empty())
        .map(|id| {
            BotAppId::new(id.trim()).map_err(|e| BootstrapError::Invalid {
                name: "MicrosoftAppId",
                problem: e.to_string(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use herald_events::EmbeddedEventPublisher;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Lookup {
        let settings = Settings::from_pairs(pairs);
        Arc::new(move |name| settings.get(name))
    }

    /// A local run's dependencies: no settings, the embedded store in `dir`.
    fn local(dir: &tempfile::TempDir) -> Deps {
        let settings = lookup(&[]);
        let app = Deps::app_id(&settings).unwrap();
        Deps::new(
            settings,
            Stores::embedded(dir.path(), app).unwrap(),
            Arc::new(EmbeddedEventPublisher::default()),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    #[test]
    fn a_local_run_without_an_app_id_is_anonymous_under_the_local_id() {
        assert_eq!(Deps::app_id(&lookup(&[])).unwrap().as_str(), LOCAL_APP_ID);
        let dir = tempfile::tempdir().unwrap();
        let deps = local(&dir);
        assert!(deps.anonymous().unwrap());
        assert!(deps.connector().is_ok());
        assert_eq!(deps.retention, chrono::Duration::days(30));
    }

    #[test]
    fn the_pace_is_shared_through_the_pacing_table_when_one_is_named() {
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .build(),
        );
        let app = BotAppId::new(LOCAL_APP_ID).unwrap();
        let shared = Stores::dynamo(
            client.clone(),
            Tables::default().with_pacing("pacing"),
            app.clone(),
        );
        // The shared pace keeps the conversations' windows too; one process's does not.
        assert!(shared.pace().threads().is_some());
        assert!(
            Stores::dynamo(client, Tables::default(), app)
                .pace()
                .threads()
                .is_none()
        );
    }

    #[tokio::test]
    async fn sends_in_flight_follow_the_built_connector_or_stay_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let deps = local(&dir);
        // Nothing sent yet: a tenant at 50/s over the lookahead, well under the bound.
        let adaptive = deps.in_flight(256).unwrap();
        let per_tenant = adaptive.per_tenant();
        assert!((2..256).contains(&per_tenant), "{per_tenant}");
        let given = deps.connector().unwrap();
        let fixed = deps.with_connector(given).in_flight(256).unwrap();
        assert_eq!(fixed.per_tenant(), 256);
    }

    #[test]
    fn parts_a_function_needs_are_named_when_missing() {
        let settings = lookup(&[("MicrosoftAppId", "3e0c1ae8-0000-4000-8000-00000000abcd")]);
        let app = Deps::app_id(&settings).unwrap();
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .build(),
        );
        let deps = Deps::new(
            settings,
            Stores::dynamo(client, Tables::default(), app),
            Arc::new(EmbeddedEventPublisher::default()),
            Arc::new(SystemClock),
        )
        .unwrap();
        // No password: the scheduler never asks for a connector, the sender does.
        assert!(matches!(
            deps.connector(),
            Err(BootstrapError::Connector(_))
        ));
        for (result, variable) in [
            (
                deps.stores.references().map(|_| ()),
                "HERALD_REFERENCES_TABLE",
            ),
            (deps.stores.outbox().map(|_| ()), "HERALD_OUTBOX_TABLE"),
            (
                deps.stores.schedules().map(|_| ()),
                "HERALD_SCHEDULES_TABLE",
            ),
        ] {
            assert!(
                matches!(result, Err(BootstrapError::Missing(v)) if v == variable),
                "{variable}"
            );
        }
    }
}
