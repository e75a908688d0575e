//! A minimal EventBridge: the `PutEvents` action (AWS JSON 1.1, `X-Amz-Target:
//! AWSEvents.PutEvents`, <https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html>)
//! that the functions' SDK calls through `AWS_ENDPOINT_URL_EVENTBRIDGE`, recording every event and
//! delivering those that match a rule on their bus to the rule's function as an asynchronous
//! invocation. Tests put events with [`EventBus::put`].

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::async_invoke::{AsyncPolicy, invoke_async};
use crate::error::BedError;
use crate::function::{ACCOUNT, Function};
use crate::log::{BedLog, EventRecord};
use crate::pattern::Pattern;
use crate::server::{LOOPBACK, Server};

/// A rule and the function it targets.
#[derive(Clone)]
pub struct Rule {
    pub name: String,
    /// The bus name the rule is on.
    pub bus: String,
    pub pattern: Pattern,
    pub target: Arc<Function>,
    pub policy: AsyncPolicy,
}

struct Bus {
    rules: Mutex<Vec<Rule>>,
    region: String,
    log: BedLog,
}

/// The running endpoint; dropping it stops it.
pub struct EventBus {
    bus: Arc<Bus>,
    server: Server,
}

impl EventBus {
    /// Starts the endpoint with no rule (see [`EventBus::add_rule`]).
    pub async fn start(region: &str, log: BedLog) -> Result<Self, BedError> {
        let bus = Arc::new(Bus {
            rules: Mutex::new(Vec::new()),
            region: region.to_owned(),
            log,
        });
        let app = Router::new().fallback(handle).with_state(bus.clone());
        let server = Server::bind(LOOPBACK, app, "EventBridge endpoint")
            .await
            .map_err(BedError::Io)?;
        Ok(Self { bus, server })
    }

    /// Delivers events matching `rule` to its target from now on.
    pub fn add_rule(&self, rule: Rule) {
        self.bus
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(rule);
    }

    /// The endpoint for `AWS_ENDPOINT_URL_EVENTBRIDGE`.
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Puts one event on `bus` as a `PutEvents` entry would; returns its id.
    pub fn put(
        &self,
        bus: &str,
        source: &str,
        detail_type: &str,
        detail: &Value,
    ) -> Result<String, BedError> {
        self.bus
            .put(&json!({
                "EventBusName": bus,
                "Source": source,
                "DetailType": detail_type,
                "Detail": detail.to_string(),
            }))
            .map_err(|(code, message)| BedError::Event(format!("{code}: {message}")))
    }
}

/// `arn:aws:events:<region>:<account>:event-bus/<name>` or a bare name, as a name.
fn bus_name(given: Option<&str>) -> String {
    let given = given.filter(|b| !b.is_empty()).unwrap_or("default");
    given
        .rsplit_once("event-bus/")
        .map_or(given, |(_, name)| name)
        .to_owned()
}

impl Bus {
    /// Records and routes one entry; `Err((code, message))` for an invalid one.
    fn put(&self, entry: &Value) -> Result<String, (String, String)> {
        let text = |name: &str| entry.get(name).and_then(Value::as_str);
        let invalid = |m: &str| Err(("InvalidArgument".to_owned(), m.to_owned()));
        let (Some(source), Some(detail_type), Some(detail)) =
            (text("Source"), text("DetailType"), text("Detail"))
        else {
            return invalid("Source, DetailType and Detail are required");
        };
        let Ok(detail) = serde_json::from_str::<Value>(detail) else {
            return Err((
                "MalformedDetail".to_owned(),
                "Detail is malformed.".to_owned(),
            ));
        };
        let bus = bus_name(text("EventBusName"));
        let id = uuid::Uuid::new_v4().to_string();
        let time = text("Time").map_or_else(
            || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            str::to_owned,
        );
        let event = json!({
            "version": "0",
            "id": id,
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": time,
            "region": self.region,
            "resources": entry.get("Resources").cloned().unwrap_or_else(|| json!([])),
            "detail": detail,
        });
        let matched: Vec<Rule> = self
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|r| r.bus == bus && r.pattern.matches(&event))
            .cloned()
            .collect();
        self.log.event(EventRecord {
            bus,
            event: event.clone(),
            rules: matched.iter().map(|r| r.name.clone()).collect(),
        });
        for rule in matched {
            invoke_async(rule.target, event.clone(), rule.policy, self.log.clone());
        }
        Ok(id)
    }
}

async fn handle(State(bus): State<Arc<Bus>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let reply = |status: StatusCode, body: Value| {
        (
            status,
            [("content-type", "application/x-amz-json-1.1")],
            body.to_string(),
        )
            .into_response()
    };
    if target != "AWSEvents.PutEvents" {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"__type": "UnknownOperationException", "message": format!("the bed serves PutEvents only, not {target:?}")}),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"__type": "SerializationException", "message": "the body is not JSON"}),
        );
    };
    let entries = request
        .get("Entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut failed = 0;
    let answers: Vec<Value> = entries
        .iter()
        .map(|entry| match bus.put(entry) {
            Ok(id) => json!({"EventId": id}),
            Err((code, message)) => {
                failed += 1;
                json!({"ErrorCode": code, "ErrorMessage": message})
            }
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({"FailedEntryCount": failed, "Entries": answers}),
    )
}
