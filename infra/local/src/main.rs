//! Herald's local runner: the webhook, the notify API and the sender in one process, standing in
//! for API Gateway, EventBridge and DynamoDB Streams. It mounts the same handlers the Lambdas run.

mod events;
mod feed;
mod options;
mod stream;
mod tick;

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use herald_bootstrap::{Deps, Lookup, Stores, Tables};
use herald_connector::{ConnectorConfig, Credentials};
use herald_domain::SystemClock;
use herald_events::{EmbeddedEventPublisher, EventsConfig, PublishedEvent};
use herald_http::BodyLimit;
use herald_notify::{JsonBody, Notify};
use herald_pipeline::StrandedSweep;
use herald_scheduler::Scheduler;
use herald_sender::SenderFunction;
use herald_store::EmbeddedOutboxStore;
use herald_webhook::Webhook;
use options::{Options, OptionsError, StoreKind};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most deliveries the sender runs at once locally (HERALD_SENDER_CONCURRENCY overrides
/// it); below it, as many as the tenant rate x Teams' latency need. One process and one file
/// store need fewer than a Lambda fleet's 256.
const LOCAL_SENDER_CONCURRENCY: &str = "64";

struct App {
    webhook: Arc<Webhook>,
    notify: Arc<Notify>,
    sender: Arc<SenderFunction>,
}

/// What feeds the sender: the embedded change feed or the DynamoDB stream.
enum Feed {
    Embedded(EmbeddedOutboxStore),
    Dynamo {
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: String,
    },
}

/// What start-up tells the user.
struct Banner {
    store: String,
    api_key: String,
    key_generated: bool,
    anonymous: bool,
    /// `HERALD_GRAPH_INSTALL`: people without a chat get the app installed through Graph.
    graph_install: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match Options::parse(std::env::args().skip(1), |n| std::env::var(n).ok()) {
        Ok(options) => options,
        Err(OptionsError::Help(usage)) => {
            print!("{usage}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("herald-local: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(options).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn random_key() -> String {
    let bytes: [u8; 24] = rand::random();
    let mut key = String::from("herald-local-");
    for b in bytes {
        let _ = write!(key, "{b:02x}");
    }
    key
}

/// The environment, with the runner's own defaults under it: a notify API key made up for this
/// run when none is set (returned, to show it), the local sender concurrency, and the DynamoDB
/// Local table names (the pacing table too: with `--store dynamodb`, runners sharing one
/// DynamoDB share each tenant's pace).
fn settings() -> (Lookup, Option<String>) {
    let generated = (env("HERALD_API_KEY").is_none() && env("HERALD_API_KEY_SHA256").is_none())
        .then(random_key);
    let key = generated.clone();
    let lookup: Lookup = Arc::new(move |name: &str| {
        env(name).or_else(|| match name {
            "HERALD_API_KEY" => key.clone(),
            "HERALD_SENDER_CONCURRENCY" => Some(LOCAL_SENDER_CONCURRENCY.to_owned()),
            "HERALD_REFERENCES_TABLE" => Some(options::DEFAULT_REFERENCES_TABLE.to_owned()),
            "HERALD_OUTBOX_TABLE" => Some(options::DEFAULT_OUTBOX_TABLE.to_owned()),
            "HERALD_SCHEDULES_TABLE" => Some(options::DEFAULT_SCHEDULES_TABLE.to_owned()),
            "HERALD_PACING_TABLE" => Some(options::DEFAULT_PACING_TABLE.to_owned()),
            _ => None,
        })
    });
    (lookup, generated)
}

/// The stores, what feeds the sender, and a description for the banner.
async fn open_stores(
    kind: &StoreKind,
    settings: &Lookup,
) -> Result<(Stores, Feed, String), BoxError> {
    let app_id = Deps::app_id(settings)?;
    match kind {
        StoreKind::Embedded { data_dir } => {
            let stores = Stores::embedded(data_dir, app_id)?;
            let outbox = stores
                .embedded_outbox()
                .cloned()
                .ok_or("the embedded store has no outbox")?;
            let shown = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.clone());
            Ok((
                stores,
                Feed::Embedded(outbox),
                format!("embedded, in {}", shown.display()),
            ))
        }
        StoreKind::Dynamo { endpoint } => {
            let tables = Tables::from_lookup(settings);
            let (dynamodb, streams) = dynamo_clients(endpoint).await;
            let stores = Stores::dynamo(dynamodb.clone(), tables.clone(), app_id);
            stores.ensure_tables().await.map_err(|e| {
                format!("cannot reach DynamoDB at {endpoint} (is DynamoDB Local running?): {e}")
            })?;
            let [references, outbox, schedules] =
                [tables.references, tables.outbox, tables.schedules].map(Option::unwrap_or_default);
            Ok((
                stores,
                Feed::Dynamo {
                    dynamodb,
                    streams,
                    table: outbox.clone(),
                },
                format!(
                    "DynamoDB at {endpoint}, tables {references}, {outbox} (stream polled), {schedules}"
                ),
            ))
        }
    }
}

async fn run(options: Options) -> Result<(), BoxError> {
    let (settings, generated_key) = settings();
    let anonymous = matches!(
        ConnectorConfig::from_lookup(|name| settings(name))?.credentials,
        Credentials::Anonymous
    );
    options::check_exposure(options.addr, anonymous)?;
    let events = Arc::new(EmbeddedEventPublisher::new(
        &EventsConfig::from_lookup(&*settings)?,
        herald_events::DEFAULT_CAPACITY,
    ));
    tokio::spawn(log_events(events.subscribe()));
    let (stores, feed, description) = open_stores(&options.store, &settings).await?;
    let deps = Deps::new(settings, stores, events, Arc::new(SystemClock))?;
    let app = Arc::new(App {
        webhook: Arc::new(Webhook::from_deps(&deps)?),
        notify: Arc::new(Notify::from_deps(&deps)?),
        sender: Arc::new(SenderFunction::from_deps(&deps)?),
    });
    let scheduler = Scheduler::from_deps(&deps)?;

    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let addr = listener.local_addr()?;

    let (stop_tx, stop) = watch::channel(false);
    let feed_task = spawn_feed(feed, app.sender.clone(), stop.clone());
    let tick_task = tokio::spawn(tick::run(scheduler, stop.clone()));
    let sweep_task = tokio::spawn(tick::sweep_stranded(
        StrandedSweep::new(deps.stores.stranded()?, deps.clock.clone()),
        stop.clone(),
    ));

    print_banner(
        addr,
        &Banner {
            store: description,
            api_key: generated_key
                .clone()
                .or_else(|| env("HERALD_API_KEY"))
                .unwrap_or_else(|| "one whose SHA-256 is in HERALD_API_KEY_SHA256".to_owned()),
            key_generated: generated_key.is_some(),
            anonymous,
            graph_install: app.sender.expander.proactive_install,
        },
    );

    axum::serve(listener, router(&app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("HTTP server stopped; stopping the sender feed");
    let _ = stop_tx.send(true);
    if let Err(e) = feed_task.await {
        tracing::error!(error = %e, "sender feed ended abnormally");
    }
    if let Err(e) = tick_task.await {
        tracing::error!(error = %e, "scheduler ended abnormally");
    }
    if let Err(e) = sweep_task.await {
        tracing::error!(error = %e, "stranded-work sweep ended abnormally");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Feeds the sender from the embedded change feed or the DynamoDB stream until `stop`.
fn spawn_feed(
    feed: Feed,
    sender: Arc<SenderFunction>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    match feed {
        Feed::Embedded(outbox) => tokio::spawn(feed::run(outbox, sender, stop)),
        Feed::Dynamo {
            dynamodb,
            streams,
            table,
        } => tokio::spawn(stream::run(dynamodb, streams, table, sender, stop)),
    }
}

async fn dynamo_clients(
    endpoint: &str,
) -> (aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(
            env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
        ));
    if env("AWS_ACCESS_KEY_ID").is_none() && env("AWS_PROFILE").is_none() {
        // DynamoDB Local accepts any credentials; do not go looking for real ones.
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "herald-local",
        ));
    }
    let config = loader.load().await;
    (
        aws_sdk_dynamodb::Client::new(&config),
        aws_sdk_dynamodbstreams::Client::new(&config),
    )
}

fn print_banner(addr: std::net::SocketAddr, banner: &Banner) {
    let base = format!("http://{addr}");
    println!();
    println!("Herald is running.");
    println!("  listening   {base}");
    println!("  console     {base}/ (Herald Console: sign in with the API key below)");
    println!("  bot         POST {base}/api/messages");
    println!(
        "  notify API  {base}/api/notify, /api/notifications/{{id}}, /api/installations, /api/schedules"
    );
    println!(
        "  events      POST {base}/api/events (an EventBridge event or {{\"Entries\": [...]}})"
    );
    println!("  store       {}", banner.store);
    if banner.key_generated {
        println!(
            "  API key     {} (generated for this run; set HERALD_API_KEY to keep one)",
            banner.api_key
        );
    } else {
        println!("  API key     {} (from the environment)", banner.api_key);
    }
    if banner.anonymous {
        println!(
            "  auth        MicrosoftAppId is not set: activities are accepted without a token and"
        );
        println!(
            "              messages are sent without one, to loopback serviceUrls only (local use)"
        );
    } else {
        println!(
            "  auth        Bot Framework tokens validated and sent as MicrosoftAppId, as in AWS"
        );
    }
    println!("  scheduler   ticks every minute (schedules at {base}/api/schedules)");
    if banner.graph_install {
        println!(
            "  graph       installs the app through Microsoft Graph for people without a chat"
        );
    }
    println!();
    println!("Next steps:");
    println!(
        "  0. open {base}/ and sign in with the API key to compose, send and follow notifications"
    );
    println!("  1. npx @microsoft/m365agentsplayground start -e {base}/api/messages -c msteams");
    println!("     then say hello to the bot in the playground (it installs the app).");
    println!("  2. curl -X POST {base}/api/notify \\");
    println!("       -H \"Authorization: Bearer {}\" \\", banner.api_key);
    println!("       -H 'Content-Type: application/json' \\");
    println!(
        "       -d '{{\"target\": {{\"kind\": \"all\"}}, \"message\": {{\"text\": \"Hello from Herald\"}}}}'"
    );
    println!(
        "  3. curl -H \"Authorization: Bearer {}\" {base}/api/installations",
        banner.api_key
    );
    println!("Ctrl-C stops Herald; installations are kept for the next start.");
    println!();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

async fn log_events(mut events: broadcast::Receiver<PublishedEvent>) {
    loop {
        match events.recv().await {
            Ok(event) => tracing::info!(
                target: "herald_local::events",
                detail_type = event.detail_type,
                detail = %event.detail,
                "event published"
            ),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The webhook's and the notify API's routers side by side, as API Gateway routes to the two
/// Lambdas, and EventBridge's `PutEvents` for the sender.
/// `/api/events` is an API route like the notify API's: the same key, the same JSON body rules.
fn router(app: &Arc<App>) -> Router {
    let events = Router::new()
        .route("/api/events", post(put_events))
        .with_state(app.clone());
    herald_webhook::router(app.webhook.clone())
        .merge(herald_notify::router(app.notify.clone()))
        .merge(herald_notify::with_api_key(events, &app.notify))
}

impl BodyLimit for App {
    fn body_limit(&self) -> usize {
        herald_notify::MAX_BODY_BYTES
    }
}

fn json_reply(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Events stand for Herald's own producers and may target any tenant: a key limited to some
/// tenants may not post them.
async fn put_events(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<herald_notify::Caller>,
    JsonBody(body): JsonBody,
) -> Response {
    if caller.tenants.is_some() {
        return json_reply(
            403,
            &serde_json::json!({"error": {"code": "TargetNotAllowed",
                "message": "this API key is limited to some tenants; events may target any tenant"}}),
        );
    }
    let (status, body) = events::handle(&app.sender, body).await;
    json_reply(status, &body)
}
