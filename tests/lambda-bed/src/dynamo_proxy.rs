//! A fault-injecting HTTP proxy in front of DynamoDB Local: the functions' SDK talks to it (through
//! `AWS_ENDPOINT_URL_DYNAMODB`), and a configurable share of requests, for every operation or
//! some, is answered `ProvisionedThroughputExceededException` (400) or `InternalServerError`
//! (500) as DynamoDB answers them
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html>);
//! the rest are forwarded. Counters tell a test what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::BedError;
use crate::server::{LOOPBACK, Server};

/// Which faults to inject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamoFaults {
    /// Share (0 to 1) of requests answered `ProvisionedThroughputExceededException`.
    pub throttle: f64,
    /// Share (0 to 1) of requests answered `InternalServerError`.
    pub internal_error: f64,
    /// Only these operations (`PutItem`, `TransactWriteItems`...); empty for all.
    pub operations: BTreeSet<String>,
}

/// What the proxy did, per operation and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyCounters {
    pub requests: u64,
    pub forwarded: u64,
    pub throttled: u64,
    pub internal_errors: u64,
    /// Requests per operation.
    pub operations: BTreeMap<String, u64>,
    /// Requests per table (`TableName` of the request; transactions and batches under "") and
    /// operation: what a benchmark costs on each table.
    pub tables: BTreeMap<(String, String), u64>,
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    faults: Mutex<DynamoFaults>,
    counters: Mutex<ProxyCounters>,
}

/// The running proxy; dropping it stops it.
pub struct DynamoProxy {
    proxy: Arc<Proxy>,
    server: Server,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DynamoProxy {
    /// Proxies to `upstream` (DynamoDB Local's URL), injecting no fault until told to.
    pub async fn start(upstream: &str) -> Result<Self, BedError> {
        let proxy = Arc::new(Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            faults: Mutex::new(DynamoFaults::default()),
            counters: Mutex::new(ProxyCounters::default()),
        });
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        let server = Server::bind(LOOPBACK, app, "DynamoDB proxy")
            .await
            .map_err(BedError::Io)?;
        Ok(Self { proxy, server })
    }

    /// The endpoint for `AWS_ENDPOINT_URL_DYNAMODB`.
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Injects these faults from now on (`DynamoFaults::default()` for none).
    pub fn set_faults(&self, faults: DynamoFaults) {
        *lock(&self.proxy.faults) = faults;
    }

    #[must_use]
    pub fn counters(&self) -> ProxyCounters {
        lock(&self.proxy.counters).clone()
    }
}

/// DynamoDB's error answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message})
            .to_string(),
    )
        .into_response()
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit_once('.'))
        .map_or_else(String::new, |(_, op)| op.to_owned());
    let fault = {
        let faults = lock(&proxy.faults);
        let applies = faults.operations.is_empty() || faults.operations.contains(&operation);
        let roll: f64 = rand::random();
        if applies && roll < faults.throttle {
            Some(true)
        } else if applies && roll < faults.throttle + faults.internal_error {
            Some(false)
        } else {
            None
        }
    };
    {
        let mut counters = lock(&proxy.counters);
        counters.requests += 1;
        *counters.operations.entry(operation.clone()).or_default() += 1;
        let table = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["TableName"].as_str().map(str::to_owned))
            .unwrap_or_default();
        *counters
            .tables
            .entry((table, operation.clone()))
            .or_default() += 1;
        match fault {
            Some(true) => counters.throttled += 1,
            Some(false) => counters.internal_errors += 1,
            None => counters.forwarded += 1,
        }
    }
    match fault {
        Some(true) => {
            return error(
                StatusCode::BAD_REQUEST,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            );
        }
        Some(false) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error",
            );
        }
        None => {}
    }
    let url = format!(
        "{}{}",
        proxy.upstream,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = proxy.client.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    out.append(name, value.clone());
                }
            }
            match answer.bytes().await {
                Ok(bytes) => (status, out, bytes).into_response(),
                Err(e) => error(
                    StatusCode::BAD_GATEWAY,
                    "InternalServerError",
                    &e.to_string(),
                ),
            }
        }
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            "InternalServerError",
            &e.to_string(),
        ),
    }
}
