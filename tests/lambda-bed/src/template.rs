//! What the bed runs, read from `template.yaml` (parsed by `herald-deploy-tests`): each
//! `AWS::Serverless::Function`'s binary, `Timeout`, `MemorySize`, `ReservedConcurrentExecutions`,
//! `Environment.Variables`, `EventInvokeConfig` and events (HTTP API routes, the DynamoDB stream
//! mapping, EventBridge rules, schedules), plus `AWS::Events::Rule` resources targeting a
//! function. `!Ref`s resolve to the values a test supplies, else to the parameter's `Default`.
//! SAM's properties: <https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html>.

use std::collections::BTreeMap;
use std::time::Duration;

use herald_deploy_tests::{Template, get_att, intrinsic, ref_target};
use serde_json::Value as Json;
use serde_norway::Value;

use crate::error::BedError;
use crate::pattern::Pattern;

/// The variable naming the Secrets Manager secret, left out of the bed's environment.
pub const SECRET_VARIABLE: &str = "HERALD_SECRET_ARN";

/// Values for `!Ref`: parameters (`BotAppId`) and resources (`OutboxTable` → the table name).
pub type Refs = BTreeMap<String, String>;

/// An HTTP API route (`Type: HttpApi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// With `{name}` parameters, as in the template.
    pub path: String,
}

/// `StartingPosition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// A DynamoDB stream event source mapping (`Type: DynamoDB`), see
/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html>.
#[derive(Debug, Clone)]
pub struct StreamMappingSpec {
    /// The table's logical id (from `!GetAtt Table.StreamArn`).
    pub table: String,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub parallelization_factor: usize,
    pub report_batch_item_failures: bool,
    pub bisect_on_error: bool,
    /// `None`: retry until the record expires (-1).
    pub max_retries: Option<u32>,
    /// `None`: no limit (-1).
    pub max_record_age: Option<Duration>,
    /// `FilterCriteria.Filters[].Pattern`: a record passes when any matches (none: all pass).
    pub filters: Vec<Pattern>,
    /// The `OnFailure` destination's logical id.
    pub on_failure: Option<String>,
}

/// An EventBridge rule delivering to a function.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub name: String,
    /// The bus's logical id or name, resolved through the refs.
    pub bus: String,
    pub pattern: Pattern,
}

/// A schedule (`Type: Schedule`): `rate(N unit)`.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub expression: String,
    pub period: Duration,
}

/// `EventInvokeConfig` (Lambda's defaults when absent: 2 retries, 6 hours).
#[derive(Debug, Clone)]
pub struct AsyncSpec {
    pub max_retries: u32,
    pub max_event_age: Duration,
    pub on_failure: Option<String>,
}

impl Default for AsyncSpec {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_event_age: Duration::from_secs(6 * 3600),
            on_failure: None,
        }
    }
}

/// One function as the template deploys it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (the cargo binary cargo-lambda packages).
    pub binary: String,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub reserved_concurrency: Option<u32>,
    /// `LoggingConfig.LogFormat` (`JSON` or `Text`).
    pub log_format: Option<String>,
    /// `Environment.Variables`, resolved (without `HERALD_SECRET_ARN`).
    pub environment: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub streams: Vec<StreamMappingSpec>,
    pub rules: Vec<RuleSpec>,
    pub schedules: Vec<ScheduleSpec>,
    pub async_config: AsyncSpec,
}

/// Reads `!Ref`s and the few condition functions the template uses.
pub struct Resolver<'a> {
    template: &'a Template,
    refs: &'a Refs,
}

impl<'a> Resolver<'a> {
    #[must_use]
    pub fn new(template: &'a Template, refs: &'a Refs) -> Self {
        Self { template, refs }
    }

    /// The value of `!Ref name`: the supplied one, else the parameter's default.
    pub fn reference(&self, name: &str) -> Result<String, BedError> {
        if let Some(value) = self.refs.get(name) {
            return Ok(value.clone());
        }
        self.template
            .parameter(name)
            .and_then(|p| p.get("Default"))
            .and_then(scalar)
            .ok_or_else(|| {
                BedError::Template(format!("no value for !Ref {name} (pass it in refs)"))
            })
    }

    /// A scalar, or a `!Ref`, as text.
    pub fn text(&self, value: &Value) -> Result<String, BedError> {
        if let Some(target) = ref_target(value) {
            return self.reference(target);
        }
        scalar(value).ok_or_else(|| BedError::Template(format!("cannot resolve {value:?}")))
    }

    fn number(&self, value: Option<&Value>, what: &str) -> Result<Option<i64>, BedError> {
        value
            .map(|v| {
                self.text(v)?
                    .trim()
                    .parse::<i64>()
                    .map_err(|e| BedError::Template(format!("{what}: {e}")))
            })
            .transpose()
    }

    /// `!Not`, `!Equals`, `!Ref` and literals: enough for the template's conditions.
    pub fn condition(&self, name: &str) -> Result<bool, BedError> {
        let condition = self
            .template
            .root
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| BedError::Template(format!("no condition {name}")))?;
        self.truth(condition)
    }

    fn truth(&self, value: &Value) -> Result<bool, BedError> {
        let Some((function, argument)) = intrinsic(value) else {
            return Ok(value.as_bool().unwrap_or(false));
        };
        let items = argument.as_sequence();
        match (function.as_str(), items) {
            ("Not", Some(items)) if items.len() == 1 => Ok(!self.truth(&items[0])?),
            ("Equals", Some(items)) if items.len() == 2 => {
                Ok(self.text(&items[0])? == self.text(&items[1])?)
            }
            ("Condition", _) => self.condition(argument.as_str().unwrap_or_default()),
            _ => Err(BedError::Template(format!(
                "unsupported condition {function}"
            ))),
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn seconds(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0))
}

/// The destination's logical id of `DestinationConfig.OnFailure.Destination`.
fn on_failure(properties: &Value) -> Option<String> {
    let destination = properties
        .get("DestinationConfig")?
        .get("OnFailure")?
        .get("Destination")?;
    get_att(destination)
        .map(|(id, _)| id)
        .or_else(|| ref_target(destination).map(str::to_owned))
}

/// `rate(N minute|minutes|hour|hours|day|days)` as a period.
#[must_use]
pub fn rate_period(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.split_once(' ')?;
    let count: u64 = count.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count * unit))
}

fn pattern_from_json_text(text: &str, what: &str) -> Result<Pattern, BedError> {
    let value: Json = serde_json::from_str(text)
        .map_err(|e| BedError::Template(format!("{what}: not a JSON event pattern: {e}")))?;
    Ok(Pattern::new(value))
}

fn yaml_to_json(value: &Value) -> Result<Json, BedError> {
    serde_json::to_value(value).map_err(|e| BedError::Template(e.to_string()))
}

impl Resolver<'_> {
    fn stream(&self, properties: &Value) -> Result<StreamMappingSpec, BedError> {
        let table = properties
            .get("Stream")
            .and_then(get_att)
            .map(|(id, _)| id)
            .ok_or_else(|| BedError::Template("Stream is not !GetAtt Table.StreamArn".into()))?;
        let number = |name: &str| self.number(properties.get(name), name);
        let flag = |name: &str| properties.get(name).and_then(Value::as_bool) == Some(true);
        let filters = properties
            .get("FilterCriteria")
            .and_then(|f| f.get("Filters"))
            .and_then(Value::as_sequence)
            .map(|filters| {
                filters
                    .iter()
                    .filter_map(|f| f.get("Pattern").and_then(Value::as_str))
                    .map(|p| pattern_from_json_text(p, "FilterCriteria"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(StreamMappingSpec {
            table,
            starting_position: match properties.get("StartingPosition").and_then(Value::as_str) {
                Some("LATEST") => StartingPosition::Latest,
                _ => StartingPosition::TrimHorizon,
            },
            batch_size: number("BatchSize")?.map_or(100, |n| n.max(1) as usize),
            batching_window: number("MaximumBatchingWindowInSeconds")?
                .map_or(Duration::ZERO, seconds),
            parallelization_factor: number("ParallelizationFactor")?
                .map_or(1, |n| n.max(1) as usize),
            report_batch_item_failures: properties
                .get("FunctionResponseTypes")
                .and_then(Value::as_sequence)
                .is_some_and(|t| {
                    t.iter()
                        .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
                }),
            bisect_on_error: flag("BisectBatchOnFunctionError"),
            max_retries: number("MaximumRetryAttempts")?
                .filter(|n| *n >= 0)
                .map(|n| n as u32),
            max_record_age: number("MaximumRecordAgeInSeconds")?
                .filter(|n| *n >= 0)
                .map(seconds),
            filters,
            on_failure: on_failure(properties),
        })
    }

    fn events(
        &self,
        logical_id: &str,
        events: &Value,
        spec: &mut FunctionSpec,
    ) -> Result<(), BedError> {
        let Some(events) = events.as_mapping() else {
            return Ok(());
        };
        for (name, event) in events {
            let name = name.as_str().unwrap_or_default().to_owned();
            let empty = Value::Null;
            let properties = event.get("Properties").unwrap_or(&empty);
            match event.get("Type").and_then(Value::as_str) {
                Some("HttpApi") => spec.routes.push(Route {
                    method: self
                        .text(properties.get("Method").unwrap_or(&empty))?
                        .to_uppercase(),
                    path: self.text(properties.get("Path").unwrap_or(&empty))?,
                }),
                Some("DynamoDB") => spec.streams.push(self.stream(properties)?),
                Some("EventBridgeRule") => spec.rules.push(RuleSpec {
                    name: format!("{logical_id}{name}"),
                    bus: properties
                        .get("EventBusName")
                        .map(|b| self.text(b))
                        .transpose()?
                        .unwrap_or_else(|| "default".to_owned()),
                    pattern: Pattern::new(yaml_to_json(
                        properties.get("Pattern").unwrap_or(&empty),
                    )?),
                }),
                Some("Schedule") => {
                    let expression = self.text(properties.get("Schedule").unwrap_or(&empty))?;
                    let period = rate_period(&expression).ok_or_else(|| {
                        BedError::Template(format!(
                            "{logical_id}.{name}: only rate() schedules run in the bed"
                        ))
                    })?;
                    spec.schedules.push(ScheduleSpec {
                        name,
                        expression,
                        period,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn function(&self, logical_id: &str, resource: &Value) -> Result<FunctionSpec, BedError> {
        let empty = Value::Null;
        let properties = resource.get("Properties").unwrap_or(&empty);
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                BedError::Template(format!("{logical_id}: no Metadata.BuildProperties.Binary"))
            })?
            .to_owned();
        let mut environment = BTreeMap::new();
        if let Some(variables) = properties
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
        {
            for (name, value) in variables {
                let name = name.as_str().unwrap_or_default().to_owned();
                // The bed does not read the secret: its keys are passed as variables.
                if name != SECRET_VARIABLE {
                    environment.insert(name, self.text(value)?);
                }
            }
        }
        let invoke = properties.get("EventInvokeConfig");
        let defaults = AsyncSpec::default();
        let mut spec = FunctionSpec {
            logical_id: logical_id.to_owned(),
            binary,
            timeout: seconds(
                self.number(properties.get("Timeout"), "Timeout")?
                    .unwrap_or(3),
            ),
            memory_mb: self
                .number(properties.get("MemorySize"), "MemorySize")?
                .unwrap_or(128) as u32,
            reserved_concurrency: self
                .number(
                    properties.get("ReservedConcurrentExecutions"),
                    "ReservedConcurrentExecutions",
                )?
                .map(|n| n.max(0) as u32),
            log_format: properties
                .get("LoggingConfig")
                .and_then(|l| l.get("LogFormat"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            environment,
            routes: Vec::new(),
            streams: Vec::new(),
            rules: Vec::new(),
            schedules: Vec::new(),
            async_config: AsyncSpec {
                max_retries: self
                    .number(
                        invoke.and_then(|i| i.get("MaximumRetryAttempts")),
                        "MaximumRetryAttempts",
                    )?
                    .map_or(defaults.max_retries, |n| n as u32),
                max_event_age: self
                    .number(
                        invoke.and_then(|i| i.get("MaximumEventAgeInSeconds")),
                        "MaximumEventAgeInSeconds",
                    )?
                    .map_or(defaults.max_event_age, seconds),
                on_failure: invoke.and_then(on_failure),
            },
        };
        if let Some(events) = properties.get("Events") {
            self.events(logical_id, events, &mut spec)?;
        }
        Ok(spec)
    }

    /// Every `AWS::Serverless::Function`, with the `AWS::Events::Rule`s (whose condition holds)
    /// that target it added to its rules.
    pub fn functions(&self) -> Result<Vec<FunctionSpec>, BedError> {
        let mut functions = self
            .template
            .of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, resource)| self.function(id, resource))
            .collect::<Result<Vec<_>, _>>()?;
        for (name, rule) in self.template.of_type("AWS::Events::Rule") {
            if let Some(condition) = rule.get("Condition").and_then(Value::as_str)
                && !self.condition(condition)?
            {
                continue;
            }
            let empty = Value::Null;
            let properties = rule.get("Properties").unwrap_or(&empty);
            let pattern = match properties.get("EventPattern") {
                Some(Value::Mapping(_)) => Pattern::new(yaml_to_json(&properties["EventPattern"])?),
                Some(other) => pattern_from_json_text(&self.text(other)?, name)?,
                None => continue,
            };
            let bus = properties
                .get("EventBusName")
                .map(|b| self.text(b))
                .transpose()?
                .unwrap_or_else(|| "default".to_owned());
            let targets = properties.get("Targets").and_then(Value::as_sequence);
            for target in targets.into_iter().flatten() {
                let Some((function, _)) = target.get("Arn").and_then(get_att) else {
                    continue;
                };
                if let Some(spec) = functions.iter_mut().find(|f| f.logical_id == function) {
                    spec.rules.push(RuleSpec {
                        name: name.to_owned(),
                        bus: bus.clone(),
                        pattern: pattern.clone(),
                    });
                }
            }
        }
        Ok(functions)
    }
}

/// Reads the workspace's `template.yaml`.
pub fn load_template() -> Result<Template, BedError> {
    Template::load().map_err(BedError::Template)
}
