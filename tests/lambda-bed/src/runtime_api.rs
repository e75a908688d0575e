//! The Lambda Runtime API one instance talks to
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>): `GET .../invocation/next`
//! long-polls for the next event, `POST .../invocation/{id}/response` and `.../error` end it,
//! `POST .../init/error` reports a failed start. Every instance gets its own server on its own
//! loopback address, so the bed knows which process is speaking.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::server::Server;

/// What an invocation handed to the runtime came to.
#[derive(Debug)]
pub enum Answer {
    /// `POST /invocation/{id}/response`: the body as posted.
    Response(Bytes),
    /// `POST /invocation/{id}/error`: `{errorType, errorMessage}` as posted.
    Error(Value),
}

/// An event waiting for the runtime's next `GET /next`.
pub struct Pending {
    pub request_id: String,
    pub payload: Bytes,
    pub function_arn: String,
    /// The function's timeout: the deadline is set when the runtime takes the event.
    pub timeout: Duration,
    /// Told when the runtime took the event.
    pub taken: oneshot::Sender<()>,
    pub answer: oneshot::Sender<Answer>,
}

/// The state the instance's server shares with the instance.
pub struct RuntimeState {
    pending: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    current: Mutex<Option<(String, oneshot::Sender<Answer>)>>,
    /// Set by `POST /init/error`.
    pub init_error: watch::Sender<Option<Value>>,
}

/// The handle the instance keeps: where the server listens and how to queue events.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    pub queue: mpsc::UnboundedSender<Pending>,
    pub state: Arc<RuntimeState>,
    _server: Server,
}

/// The next loopback address: 127.77.x.y, different for every instance of this process.
fn next_loopback() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % (254 * 254);
    Ipv4Addr::new(127, 77, (n / 254 + 1) as u8, (n % 254 + 1) as u8)
}

impl RuntimeApi {
    /// Binds a fresh loopback address (port chosen by the system) and serves the API there.
    pub async fn start() -> std::io::Result<Self> {
        let listener = match tokio::net::TcpListener::bind((next_loopback(), 0)).await {
            Ok(listener) => listener,
            // Hosts that route only 127.0.0.1: the port alone tells instances apart.
            Err(_) => tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?,
        };
        let addr = listener.local_addr()?;
        let (queue, pending) = mpsc::unbounded_channel();
        let state = Arc::new(RuntimeState {
            pending: tokio::sync::Mutex::new(pending),
            current: Mutex::new(None),
            init_error: watch::channel(None).0,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        Ok(Self {
            addr,
            queue,
            state,
            _server: Server::serve(listener, app, "runtime API")?,
        })
    }
}

fn epoch_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

async fn next(State(state): State<Arc<RuntimeState>>) -> Response {
    let pending = state.pending.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now() + pending.timeout;
    *state.current.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((pending.request_id.clone(), pending.answer));
    let _ = pending.taken.send(());
    let trace = format!(
        "Root=1-{:08x}-{};Sampled=0",
        epoch_millis(SystemTime::now()) / 1000,
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    );
    (
        StatusCode::OK,
        [
            ("lambda-runtime-aws-request-id", pending.request_id),
            (
                "lambda-runtime-deadline-ms",
                epoch_millis(deadline).to_string(),
            ),
            ("lambda-runtime-invoked-function-arn", pending.function_arn),
            ("lambda-runtime-trace-id", trace),
            ("content-type", "application/json".to_owned()),
        ],
        pending.payload,
    )
        .into_response()
}

/// Ends the current invocation if `id` names it.
fn answer(state: &RuntimeState, id: &str, answer: Answer) -> Response {
    let mut current = state.current.lock().unwrap_or_else(PoisonError::into_inner);
    match current.take() {
        Some((current_id, sender)) if current_id == id => {
            let _ = sender.send(answer);
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        other => {
            *current = other;
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"errorType": "InvalidRequestID",
                                  "errorMessage": format!("no invocation {id} is running")})),
            )
                .into_response()
        }
    }
}

async fn response(
    State(state): State<Arc<RuntimeState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer(&state, &id, Answer::Response(body))
}

/// The error body as posted, with the `Lambda-Runtime-Function-Error-Type` header when the
/// body does not name a type.
fn error_body(headers: &HeaderMap, body: &[u8]) -> Value {
    let mut value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| json!({"errorMessage": String::from_utf8_lossy(body)}));
    if value.get("errorType").is_none()
        && let (Some(object), Some(kind)) = (
            value.as_object_mut(),
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok()),
        )
    {
        object.insert("errorType".to_owned(), Value::String(kind.to_owned()));
    }
    value
}

async fn error(
    State(state): State<Arc<RuntimeState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&state, &id, Answer::Error(error_body(&headers, &body)))
}

async fn init_error(
    State(state): State<Arc<RuntimeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state
        .init_error
        .send_replace(Some(error_body(&headers, &body)));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}
