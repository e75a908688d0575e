//! The whole deployed shape, from `template.yaml`: every function as a [`Function`] of its real
//! binary, the HTTP API over their `HttpApi` routes, the outbox stream mapping, the EventBridge
//! endpoint with the template's rules, the schedules, and the DynamoDB fault proxy every function
//! talks to.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::async_invoke::{AsyncPolicy, LAMBDA_RETRY_DELAYS};
use crate::binaries::function_binaries;
use crate::dynamo_proxy::DynamoProxy;
use crate::environment::lambda_environment;
use crate::error::BedError;
use crate::esm::{StreamMapping, StreamSource};
use crate::eventbridge::{EventBus, Rule};
use crate::function::{Function, FunctionConfig};
use crate::http_api::{Binding, HttpApi, INTEGRATION_TIMEOUT};
use crate::log::BedLog;
use crate::schedule::Schedule;
use crate::template::{FunctionSpec, Refs, Resolver, StreamMappingSpec, load_template};

/// The bed's concurrency for functions without `ReservedConcurrentExecutions`.
pub const DEFAULT_CONCURRENCY: u32 = 4;

/// A test's explicit change to what the template says.
#[derive(Debug, Clone, Default)]
pub struct FunctionOverride {
    pub timeout: Option<Duration>,
    pub concurrency: Option<u32>,
    /// Another binary (the probe, say) in the function's place.
    pub binary: Option<PathBuf>,
    /// Variables added to (or replacing) the function's environment.
    pub environment: BTreeMap<String, String>,
    /// Replaces the function's stream mappings' settings.
    pub stream: Option<StreamMappingSpec>,
}

/// How to start the bed.
#[derive(Debug, Clone)]
pub struct BedConfig {
    /// Values for the template's `!Ref`s: `BotAppId`, `BotTenantId`, the tables
    /// (`ReferencesTable`...), `HeraldBus`... Parameters not given take their `Default`.
    pub refs: Refs,
    /// Variables every function gets on top of the template's, standing in for the
    /// `HERALD_SECRET_ARN` secret (`MicrosoftAppPassword`, `HERALD_API_KEY_SHA256`) and for test
    /// endpoints (`HERALD_TOKEN_URL`, `HERALD_TRUSTED_SERVICE_HOSTS`, `HERALD_OPENID_METADATA_URL`).
    pub secrets: BTreeMap<String, String>,
    /// Per function (logical id).
    pub overrides: BTreeMap<String, FunctionOverride>,
    /// Start only these functions (logical ids); `None` for all.
    pub only: Option<Vec<String>>,
    pub dynamodb_endpoint: String,
    pub region: String,
    pub default_concurrency: u32,
    /// Where the function binaries are; `None` to find (and build) `target/debug/herald-*`.
    pub binaries: Option<PathBuf>,
    /// Where instances' stdout/stderr go; `None` for a fresh temporary directory.
    pub work_dir: Option<PathBuf>,
    /// Fire schedules on their own (`rate(1 minute)`); tests usually fire them by hand.
    pub schedule_ticks: bool,
    /// Waits before asynchronous retries (Lambda's are one and two minutes).
    pub async_retry_delays: Vec<Duration>,
    pub http_addr: SocketAddr,
    pub http_timeout: Duration,
}

impl BedConfig {
    /// Defaults around `refs`: DynamoDB Local from `herald-testkit`, `us-east-1`, no ticks,
    /// Lambda's retry delays, the HTTP API on any free loopback port.
    #[must_use]
    pub fn new(refs: Refs) -> Self {
        Self {
            refs,
            secrets: BTreeMap::new(),
            overrides: BTreeMap::new(),
            only: None,
            dynamodb_endpoint: herald_testkit::dynamodb_endpoint(),
            region: "us-east-1".to_owned(),
            default_concurrency: DEFAULT_CONCURRENCY,
            binaries: None,
            work_dir: None,
            schedule_ticks: false,
            async_retry_delays: LAMBDA_RETRY_DELAYS.to_vec(),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_timeout: INTEGRATION_TIMEOUT,
        }
    }
}

/// Where the function binaries are: the configured directory, or `target/debug` (built when
/// stale) unless every function runs an override binary.
async fn binaries_for(
    config: &BedConfig,
    specs: &BTreeMap<String, FunctionSpec>,
    work_dir: &std::path::Path,
) -> Result<PathBuf, BedError> {
    let needs_build = specs.values().any(|s| {
        config
            .overrides
            .get(&s.logical_id)
            .is_none_or(|o| o.binary.is_none())
    });
    match (&config.binaries, needs_build) {
        (Some(dir), _) => Ok(dir.clone()),
        (None, true) => tokio::task::spawn_blocking(function_binaries)
            .await
            .map_err(|e| BedError::Build(e.to_string()))?,
        (None, false) => Ok(work_dir.to_path_buf()),
    }
}

/// The event sources of the functions, as they are wired up.
#[derive(Default)]
struct Wiring {
    bindings: Vec<Binding>,
    mappings: Vec<StreamMapping>,
    schedules: BTreeMap<String, Vec<Schedule>>,
}

impl Wiring {
    /// Binds `spec`'s routes, starts its stream mappings and schedules, adds its rules.
    fn add(
        &mut self,
        spec: &FunctionSpec,
        function: &Arc<Function>,
        config: &BedConfig,
        resolver: &Resolver<'_>,
        events: &EventBus,
        log: &BedLog,
    ) -> Result<(), BedError> {
        let policy = AsyncPolicy {
            spec: spec.async_config.clone(),
            delays: config.async_retry_delays.clone(),
        };
        self.bindings
            .extend(spec.routes.iter().map(|route| Binding {
                route: route.clone(),
                function: function.clone(),
            }));
        let replaced = config
            .overrides
            .get(&spec.logical_id)
            .and_then(|o| o.stream.clone());
        for stream in &spec.streams {
            let stream = replaced.clone().unwrap_or_else(|| stream.clone());
            let source = StreamSource {
                dynamodb: crate::clients::dynamodb(&config.dynamodb_endpoint),
                streams: crate::clients::streams(&config.dynamodb_endpoint),
                table: resolver.reference(&stream.table)?,
                region: config.region.clone(),
            };
            self.mappings.push(StreamMapping::start(
                function.clone(),
                stream,
                source,
                log.clone(),
            ));
        }
        for rule in &spec.rules {
            events.add_rule(Rule {
                name: rule.name.clone(),
                bus: rule.bus.clone(),
                pattern: rule.pattern.clone(),
                target: function.clone(),
                policy: policy.clone(),
            });
        }
        for schedule in &spec.schedules {
            self.schedules
                .entry(spec.logical_id.clone())
                .or_default()
                .push(Schedule::start(
                    schedule.clone(),
                    function.clone(),
                    policy.clone(),
                    &config.region,
                    log.clone(),
                    config.schedule_ticks,
                ));
        }
        Ok(())
    }
}

/// A running bed. Dropping it stops every part and kills every instance.
pub struct LambdaBed {
    log: BedLog,
    functions: BTreeMap<String, Arc<Function>>,
    specs: BTreeMap<String, FunctionSpec>,
    http: HttpApi,
    events: EventBus,
    proxy: DynamoProxy,
    schedules: BTreeMap<String, Vec<Schedule>>,
    mappings: Vec<StreamMapping>,
    refs: Refs,
    work_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl LambdaBed {
    pub async fn start(config: BedConfig) -> Result<Self, BedError> {
        let template = load_template()?;
        let resolver = Resolver::new(&template, &config.refs);
        let specs: BTreeMap<String, FunctionSpec> = resolver
            .functions()?
            .into_iter()
            .filter(|s| {
                config
                    .only
                    .as_ref()
                    .is_none_or(|only| only.contains(&s.logical_id))
            })
            .map(|s| (s.logical_id.clone(), s))
            .collect();
        let (work_dir, temp) = if let Some(dir) = &config.work_dir {
            (dir.clone(), None)
        } else {
            let temp = tempfile::tempdir().map_err(BedError::Io)?;
            (temp.path().to_path_buf(), Some(temp))
        };
        std::fs::create_dir_all(&work_dir).map_err(BedError::Io)?;
        let binaries = binaries_for(&config, &specs, &work_dir).await?;
        let log = BedLog::new();
        let proxy = DynamoProxy::start(&config.dynamodb_endpoint).await?;
        let events = EventBus::start(&config.region, log.clone()).await?;
        let endpoints = [
            ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), proxy.url()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE".to_owned(), events.url()),
        ];
        let functions: BTreeMap<String, Arc<Function>> = specs
            .values()
            .map(|spec| {
                let overrides = config
                    .overrides
                    .get(&spec.logical_id)
                    .cloned()
                    .unwrap_or_default();
                let mut environment = lambda_environment(spec, &config.region, &binaries);
                environment.extend(config.secrets.clone());
                environment.extend(endpoints.clone());
                environment.extend(overrides.environment);
                let function = Function::new(
                    FunctionConfig {
                        name: spec.logical_id.clone(),
                        binary: overrides
                            .binary
                            .unwrap_or_else(|| binaries.join(&spec.binary)),
                        timeout: overrides.timeout.unwrap_or(spec.timeout),
                        memory_mb: spec.memory_mb,
                        concurrency: overrides
                            .concurrency
                            .or(spec.reserved_concurrency)
                            .unwrap_or(config.default_concurrency),
                        environment,
                        log_dir: work_dir.clone(),
                        region: config.region.clone(),
                    },
                    log.clone(),
                );
                (spec.logical_id.clone(), function)
            })
            .collect();
        let mut wiring = Wiring::default();
        for spec in specs.values() {
            wiring.add(
                spec,
                &functions[&spec.logical_id],
                &config,
                &resolver,
                &events,
                &log,
            )?;
        }
        let http = HttpApi::start(config.http_addr, wiring.bindings, config.http_timeout).await?;
        Ok(Self {
            log,
            functions,
            specs,
            http,
            events,
            proxy,
            schedules: wiring.schedules,
            mappings: wiring.mappings,
            refs: config.refs,
            work_dir,
            _temp: temp,
        })
    }

    /// The HTTP API's base URL (`http://127.0.0.1:PORT`; routes start with `/api/`).
    #[must_use]
    pub fn http_url(&self) -> String {
        self.http.url()
    }

    /// The EventBridge endpoint the functions publish to.
    #[must_use]
    pub fn eventbridge_url(&self) -> String {
        self.events.url()
    }

    #[must_use]
    pub fn log(&self) -> &BedLog {
        &self.log
    }

    /// The DynamoDB proxy, to inject throttling and 500s and read its counters.
    #[must_use]
    pub fn dynamodb(&self) -> &DynamoProxy {
        &self.proxy
    }

    /// A function by logical id (`SenderFunction`).
    pub fn function(&self, logical_id: &str) -> Result<&Arc<Function>, BedError> {
        self.functions
            .get(logical_id)
            .ok_or_else(|| BedError::UnknownFunction(logical_id.to_owned()))
    }

    /// What the template (with the overrides) says about a function.
    #[must_use]
    pub fn spec(&self, logical_id: &str) -> Option<&FunctionSpec> {
        self.specs.get(logical_id)
    }

    /// Where instances' stdout/stderr files are.
    #[must_use]
    pub fn work_dir(&self) -> &std::path::Path {
        &self.work_dir
    }

    /// Puts an event on Herald's bus (the `HeraldBus` ref) and returns its id.
    pub fn put_event(
        &self,
        source: &str,
        detail_type: &str,
        detail: &Value,
    ) -> Result<String, BedError> {
        let bus = self
            .refs
            .get("HeraldBus")
            .cloned()
            .unwrap_or_else(|| "default".to_owned());
        self.events.put(&bus, source, detail_type, detail)
    }

    /// The EventBridge endpoint (to put an event on any bus with [`EventBus::put`]).
    #[must_use]
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Fires a function's schedules now (the scheduler's `rate(1 minute)` tick).
    pub fn fire_schedule(&self, logical_id: &str) -> Result<(), BedError> {
        self.schedule_firer(logical_id).map(|fire| fire())
    }

    /// Fires a function's schedules when called, from a task of the caller's (a test's ticker).
    pub fn schedule_firer(
        &self,
        logical_id: &str,
    ) -> Result<impl Fn() + Send + Sync + 'static, BedError> {
        let firers: Vec<_> = self
            .schedules
            .get(logical_id)
            .ok_or_else(|| BedError::UnknownFunction(logical_id.to_owned()))?
            .iter()
            .map(Schedule::firer)
            .collect();
        Ok(move || firers.iter().for_each(|fire| fire()))
    }

    /// Stops the stream mappings and kills every instance.
    pub fn shutdown(&mut self) {
        self.mappings.iter_mut().for_each(StreamMapping::stop);
        self.functions.values().for_each(|f| f.shutdown());
    }
}

impl Drop for LambdaBed {
    fn drop(&mut self) {
        self.shutdown();
    }
}
