//! The HTTP plumbing every route shares: the state behind the routers, the loopback server (hyper
//! directly, so a fault can close a connection without answering) and reading a request for the
//! handlers and the log.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::config::EmulatorConfig;
use crate::identity::Identity;
use crate::log::RequestRecord;
use crate::world::World;

/// What every route handler reaches: the configuration and the world behind its lock.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) world: Mutex<World>,
    pub(crate) identity: Identity,
    /// The emulator's own client, for installation events sent to the bot endpoint.
    pub(crate) http: reqwest::Client,
    /// `http://127.0.0.1:PORT`, for absolute URLs in answers (Graph's `@odata.nextLink`).
    pub(crate) base: String,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The serviceUrl of every conversation, like `https://smba.trafficmanager.net/amer/`.
    pub(crate) fn service_url(&self) -> String {
        let path = self.config.service_path.trim_matches('/');
        if path.is_empty() {
            format!("{}/", self.base)
        } else {
            format!("{}/{path}/", self.base)
        }
    }
}

/// Marks a response the connection loop must replace by closing the connection.
#[derive(Clone, Copy)]
struct DropConnection;

/// A response that [`serve`] turns into a closed connection without any answer.
pub(crate) fn dropped_connection() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Serves `router` on `listener` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                        let router = router.clone();
                        async move {
                            let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                            if response.extensions().get::<DropConnection>().is_some() {
                                // hyper closes the connection without writing anything.
                                return Err(DroppedByFault);
                            }
                            Ok(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A request as received: when, what it carried, its body raw and as JSON.
pub(crate) struct Received {
    /// Arrival, on the tokio clock (for pacing) and the wall clock.
    pub at: Instant,
    pub wall_clock: SystemTime,
    pub method: Method,
    pub uri: Uri,
    pub authorization: Option<String>,
    pub raw: Bytes,
    /// The body as JSON, or as a JSON string when it is not JSON; `None` when empty.
    pub body: Option<Value>,
    /// The body was larger than the limit and was not read (`raw` is empty).
    pub too_large: bool,
}

impl Received {
    /// Reads `request`, its body up to `max_body_bytes`.
    pub async fn read(request: Request, max_body_bytes: usize) -> Self {
        let at = Instant::now();
        let wall_clock = SystemTime::now();
        let (parts, raw) = request.into_parts();
        let (raw, too_large) = match axum::body::to_bytes(raw, max_body_bytes).await {
            Ok(raw) => (raw, false),
            Err(_) => (Bytes::new(), true),
        };
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = (!raw.is_empty()).then(|| {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        });
        Self {
            at,
            wall_clock,
            method: parts.method,
            uri: parts.uri,
            authorization,
            raw,
            body,
            too_large,
        }
    }

    /// The log entry of this request, not answered yet.
    pub fn record(&self, operation: &'static str, conversation: Option<String>) -> RequestRecord {
        RequestRecord {
            seq: 0,
            method: self.method.to_string(),
            path: self.uri.path().to_owned(),
            query: self.uri.query().map(str::to_owned),
            operation,
            conversation,
            tenant: None,
            authorization: self.authorization.clone(),
            at: self.at,
            received_at: self.wall_clock,
            status: None,
            answered_at: None,
            body: self.body.clone(),
        }
    }
}

/// A route's operation: what a request asks for, parsed from its path, and how it is answered.
pub(crate) trait Operation: Send + 'static {
    fn dispatch(
        self,
        shared: Arc<Shared>,
        request: Request,
    ) -> impl Future<Output = Response> + Send;
}

type Answering = std::pin::Pin<Box<dyn Future<Output = Response> + Send>>;

/// The handler of a route whose path parameters `P` make the operation.
pub(crate) fn handler<P, O>(
    op: fn(P) -> O,
) -> impl Fn(State<Arc<Shared>>, Path<P>, Request) -> Answering + Clone + Send + Sync + 'static
where
    P: DeserializeOwned + Send + 'static,
    O: Operation,
{
    move |State(shared): State<Arc<Shared>>, Path(params): Path<P>, request: Request| {
        Box::pin(op(params).dispatch(shared, request))
    }
}
