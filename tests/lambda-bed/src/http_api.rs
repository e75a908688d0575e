//! An HTTP API (API Gateway v2) in front of the functions: each real HTTP request on loopback
//! becomes a payload format 2.0 event for the function whose `HttpApi` route matches, and the
//! function's answer becomes the HTTP response
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).
//! API Gateway's own answers: 404 `{"message":"Not Found"}` for no route, 500
//! `{"message":"Internal Server Error"}` for a function error, 503 `{"message":"Service
//! Unavailable"}` after the 29-second integration timeout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::error::BedError;
use crate::function::{ACCOUNT, Function};
use crate::server::Server;
use crate::template::Route;

/// API Gateway's integration timeout for HTTP APIs.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The most a request body may hold (API Gateway's payload limit).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// A route bound to the function that serves it.
#[derive(Clone)]
pub struct Binding {
    pub route: Route,
    pub function: Arc<Function>,
}

struct Api {
    bindings: Vec<Binding>,
    timeout: Duration,
}

/// The running HTTP API; dropping it stops it.
pub struct HttpApi {
    server: Server,
}

impl HttpApi {
    /// Serves `bindings` on `addr` (port 0 for any free port).
    pub async fn start(
        addr: SocketAddr,
        bindings: Vec<Binding>,
        timeout: Duration,
    ) -> Result<Self, BedError> {
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::new(Api { bindings, timeout }));
        let server = Server::bind(addr, app, "HTTP API")
            .await
            .map_err(BedError::Io)?;
        Ok(Self { server })
    }

    /// `http://127.0.0.1:PORT` (the `$default` stage: paths start with `/api/`).
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// The path parameters when `path` fits `template` (`/api/notifications/{id}`).
#[must_use]
pub fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let mut parameters = BTreeMap::new();
    let mut wanted = template.trim_matches('/').split('/');
    let mut given = path.trim_matches('/').split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(parameters),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {
                let name = w.trim_matches(['{', '}']).trim_end_matches('+');
                parameters.insert(name.to_owned(), g.to_owned());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"message": text}))).into_response()
}

async fn handle(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let found = api.bindings.iter().find_map(|b| {
        (b.route.method == method)
            .then(|| match_path(&b.route.path, &path))
            .flatten()
            .map(|parameters| (b, parameters))
    });
    let Some((binding, parameters)) = found else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let event = event(&binding.route, &parts, &parameters, &body, peer);
    let invoked = tokio::time::timeout(api.timeout, binding.function.invoke(&event)).await;
    match invoked {
        Err(_) => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "invocation failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Ok(Ok(invocation)) if invocation.outcome.failed() => {
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Ok(Ok(invocation)) => response(&invocation.body),
    }
}

/// The payload format 2.0 event for one request.
fn event(
    route: &Route,
    parts: &axum::http::request::Parts,
    parameters: &BTreeMap<String, String>,
    body: &Bytes,
    peer: SocketAddr,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == axum::http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut query_parameters: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in url_pairs(&query) {
        query_parameters
            .entry(key)
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let now = SystemTime::now();
    let epoch_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let route_key = format!("{} {}", route.method, route.path);
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "lambdabed",
            "domainName": headers.get("host").cloned().unwrap_or_default(),
            "domainPrefix": "lambdabed",
            "http": {
                "method": route.method,
                "path": parts.uri.path(),
                "protocol": format!("{:?}", parts.version),
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": httpdate_like(now),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": base64,
    });
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = json!(query_parameters);
    }
    if !parameters.is_empty() {
        event["pathParameters"] = json!(parameters);
    }
    event
}

/// `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time`.
fn httpdate_like(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

/// Decoded `key=value` pairs of a query string.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The HTTP response for a function's answer: a `{statusCode, headers, cookies, body,
/// isBase64Encoded}` object, or any other JSON as a 200 `application/json` body (format 2.0's
/// inferred response).
fn response(body: &[u8]) -> Response {
    let answer: Value = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    let Some(status) = answer.get("statusCode").and_then(Value::as_u64) else {
        return (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response();
    };
    let Ok(status) = StatusCode::from_u16(status as u16) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let mut headers = HeaderMap::new();
    let empty = Map::new();
    for (name, value) in answer
        .get("headers")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
    {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(text),
        ) {
            headers.append(name, value);
        }
    }
    for cookie in answer
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::try_from) {
            headers.append(axum::http::header::SET_COOKIE, value);
        }
    }
    let text = answer
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    } else {
        text.as_bytes().to_vec()
    };
    (status, headers, bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates_and_name_their_parameters() {
        assert_eq!(
            match_path("/api/notify", "/api/notify"),
            Some(BTreeMap::new())
        );
        let found = match_path(
            "/api/notifications/{id}/deliveries",
            "/api/notifications/n-1/deliveries",
        );
        assert_eq!(found.unwrap()["id"], "n-1");
        assert_eq!(
            match_path("/api/notifications/{id}", "/api/notifications/"),
            None
        );
        assert_eq!(
            match_path("/api/notifications/{id}", "/api/notifications/a/b"),
            None
        );
        assert_eq!(match_path("/api/notify", "/api/notifyx"), None);
    }
}
