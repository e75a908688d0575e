//! `GraphInstaller` against the Teams emulator's Graph (real HTTP on 127.0.0.1).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use herald_connector::inbound::{InboundAuthConfig, JwtValidator};
use herald_connector::{AppType, Cloud, Credentials, Deadline, RetryPolicy, Secret};
use herald_domain::{AadObjectId, BotAppId, TenantId};
use herald_graph::{GraphConfig, GraphError, GraphInstaller, Installation, Installer};
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, GraphFault, RetryAfter, TeamsEmulator};
use serde_json::Value;
use tokio::time::Instant;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
const TEAMS_APP: &str = "6c7b2ab8-1f42-4b5e-9e0a-1234567890ab";

struct Harness {
    emulator: TeamsEmulator,
    installer: GraphInstaller,
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}

fn credentials(emulator: &TeamsEmulator) -> Credentials {
    let config = emulator.config();
    Credentials::App {
        app_id: BotAppId::new(&config.app_id).unwrap(),
        password: Secret::new(&config.app_password),
        app_type: AppType::SingleTenant,
        tenant_id: Some(TenantId::new(&config.app_tenant_id).unwrap()),
        cloud: Cloud::Public,
        token_url: None,
    }
}

fn graph_config(emulator: &TeamsEmulator, teams_app_id: &str) -> GraphConfig {
    GraphConfig::new(teams_app_id, Cloud::Public)
        .base_url(emulator.graph_base_url().parse().unwrap())
        .token_url(emulator.graph_token_url())
        .request_timeout(Duration::from_secs(5))
}

impl Harness {
    async fn new() -> Self {
        Self::with(EmulatorConfig::default(), TEAMS_APP).await
    }

    async fn with(config: EmulatorConfig, teams_app_id: &str) -> Self {
        let emulator = TeamsEmulator::start(config).await.unwrap();
        emulator.add_catalog_app(TEAMS_APP);
        let installer = GraphInstaller::new(
            graph_config(&emulator, teams_app_id),
            credentials(&emulator),
            reqwest::Client::new(),
            policy(),
        );
        Self {
            emulator,
            installer,
        }
    }

    fn user(&self, tenant: &str, name: &str) -> EmulatedUser {
        self.emulator.add_user(tenant, name)
    }

    async fn install(&self, user: &EmulatedUser) -> Result<Installation, GraphError> {
        self.install_by(user, Deadline::after(Duration::from_secs(20)))
            .await
    }

    async fn install_by(
        &self,
        user: &EmulatedUser,
        deadline: Deadline,
    ) -> Result<Installation, GraphError> {
        self.installer
            .install_for_user(
                &TenantId::new(&user.tenant_id).unwrap(),
                &AadObjectId::new(&user.aad_object_id).unwrap(),
                deadline,
            )
            .await
    }

    fn graph_ops(&self, operation: &str) -> usize {
        self.emulator
            .graph_requests()
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    fn token_requests(&self) -> Vec<(String, Value)> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.operation == "token")
            .map(|r| (r.tenant.unwrap_or_default(), r.body.unwrap_or_default()))
            .collect()
    }
}

#[tokio::test]
async fn installs_with_201() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Megan Bowen");
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    let installations = h.emulator.installations();
    assert_eq!(installations.len(), 1);
    assert!(installations[0].via_graph);
    assert_eq!(installations[0].teams_app_id, TEAMS_APP);
    assert_eq!(installations[0].user_aad_object_id, user.aad_object_id);
    assert_eq!(h.emulator.install_requests(), 1);
    // One Graph token, from the user's tenant, for the Graph scope.
    let tokens = h.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].0, TENANT);
    assert_eq!(tokens[0].1["scope"], "https://graph.microsoft.com/.default");
    let install = &h.emulator.graph_requests()[0];
    assert!(
        install
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer "))
    );
    assert_eq!(
        install.body.as_ref().unwrap()["teamsApp@odata.bind"],
        format!(
            "{}/appCatalogs/teamsApps/{TEAMS_APP}",
            h.emulator.graph_base_url()
        )
    );
}

#[tokio::test]
async fn conflict_finds_the_chat_across_pages() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Adele Vance");
    h.emulator.set_graph_page_size(1);
    for (id, name) in [
        ("other-1", "Polls"),
        ("other-2", "Tasks"),
        ("other-3", "Wiki"),
    ] {
        h.emulator.add_other_catalog_app(id, name);
        h.emulator.mark_installed(&user, id);
    }
    let ours = h.emulator.mark_installed(&user, TEAMS_APP);
    h.emulator.mark_installed(&user, "other-4");

    let result = h.install(&user).await.unwrap();
    let Installation::AlreadyInstalled { chat_id } = result else {
        panic!("expected the existing chat, got {result:?}");
    };
    assert_eq!(chat_id.as_str(), ours.chat_id);
    assert_eq!(
        chat_id.as_str(),
        format!(
            "19:{}_{}@unq.gbl.spaces",
            user.aad_object_id,
            h.emulator.config().app_id
        )
    );
    // Four pages of one installation each, the filter leaving the first three empty.
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 4);
    assert_eq!(h.graph_ops("graph.getInstalledAppChat"), 1);
    assert!(h.emulator.count_status(409) == 1);
}

#[tokio::test]
async fn conflict_without_installation_is_typed() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Alex Wilber");
    h.emulator.mark_installed(&user, "some-other-app");
    // A 409 while the listing does not (yet) show the app, as during a concurrent installation.
    h.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::Status(409), 1);
    let error = h.install(&user).await.unwrap_err();
    assert_eq!(error, GraphError::InstallationNotFound);
    assert!(error.is_retryable(), "its conversationUpdate is on the way");
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 1);
}

#[tokio::test]
async fn missing_permission_is_forbidden() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Diego Siciliani");
    h.emulator
        .inject_graph(&user.aad_object_id, GraphFault::MissingPermission);
    let error = h.install(&user).await.unwrap_err();
    let GraphError::Forbidden { code, message } = &error else {
        panic!("expected Forbidden, got {error:?}");
    };
    assert_eq!(code, "Forbidden");
    assert!(message.contains("TeamsAppInstallation.ReadWriteForUser.All"));
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 1);
}

#[tokio::test]
async fn unknown_user_is_user_not_found() {
    let h = Harness::new().await;
    let ghost = EmulatedUser {
        id: "29:ghost".to_owned(),
        aad_object_id: "99999999-9999-9999-9999-999999999999".to_owned(),
        name: "Ghost".to_owned(),
        user_principal_name: "ghost@example".to_owned(),
        tenant_id: TENANT.to_owned(),
    };
    // The tenant has someone, so its token endpoint answers.
    let _ = h.user(TENANT, "Lee Gu");
    let error = h.install(&ghost).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::UserNotFound { code, .. } if code == "NotFound"),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn app_missing_from_the_catalog() {
    let h = Harness::with(EmulatorConfig::default(), "not-in-catalog").await;
    let user = h.user(TENANT, "Isaiah Langer");
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::AppNotInCatalog { status: 404, message, .. } if message.contains("App definition")),
        "{error:?}"
    );
    // Graph sometimes only says "Not Found": asking for the user's apps settles who is missing.
    h.emulator.set_graph_terse_not_found(true);
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(&error, GraphError::AppNotInCatalog { status: 404, message, .. } if message == "Not Found"),
        "{error:?}"
    );
    assert_eq!(h.graph_ops("graph.listInstalledApps"), 1);
}

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Johanna Lorenz");
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(1)),
        1,
    );
    let started = Instant::now();
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    assert!(started.elapsed() >= Duration::from_secs(1));
    let installs: Vec<_> = h
        .emulator
        .graph_requests()
        .into_iter()
        .filter(|r| r.operation == "graph.installApp")
        .collect();
    assert_eq!(installs.len(), 2);
    assert_eq!(installs[0].status, Some(429));
    assert_eq!(installs[1].status, Some(201));
    assert!(installs[1].at.duration_since(installs[0].at) >= Duration::from_secs(1));
}

#[tokio::test]
async fn outages_are_retried_then_reported_retryable() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Lynne Robbins");
    h.emulator
        .inject_graph_all_times(GraphFault::Status(503), 2);
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    assert_eq!(h.emulator.install_requests(), 3);

    let other = h.user(TENANT, "Nestor Wilke");
    h.emulator
        .inject_graph(&other.aad_object_id, GraphFault::Status(504));
    let error = h.install(&other).await.unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Unavailable {
                status: Some(504),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    // The policy's four attempts, no more.
    assert_eq!(h.emulator.install_requests(), 3 + 4);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let h = Harness::new().await;
    let first = h.user(TENANT, "Pradeep Gupta");
    let second = h.user(TENANT, "Grady Archie");
    assert_eq!(h.install(&first).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 1);
    // The cached token is revoked: one 401, one new token, then success.
    h.emulator.revoke_tokens();
    assert_eq!(h.install(&second).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 2);
    assert_eq!(h.installer.token_fetches(), 2);
    assert_eq!(h.emulator.count_status(401), 1);

    // A 401 that persists is reported after the one refresh.
    let third = h.user(TENANT, "Miriam Graham");
    h.emulator
        .inject_graph(&third.aad_object_id, GraphFault::Unauthorized);
    let error = h.install(&third).await.unwrap_err();
    assert!(
        matches!(error, GraphError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.count_status(401), 3);
    assert_eq!(h.token_requests().len(), 3);
}

#[tokio::test]
async fn tokens_are_per_tenant_and_cached() {
    let h = Harness::new().await;
    let a1 = h.user(TENANT, "Henrietta Mueller");
    let a2 = h.user(TENANT, "Joni Sherman");
    let b1 = h.user(OTHER_TENANT, "Debra Berger");
    let b2 = h.user(OTHER_TENANT, "Patti Fernandez");
    assert_eq!(h.install(&a1).await, Ok(Installation::Installed));
    assert_eq!(h.install(&b1).await, Ok(Installation::Installed));
    let mut tenants: Vec<String> = h.token_requests().into_iter().map(|(t, _)| t).collect();
    tenants.sort();
    assert_eq!(tenants, [TENANT, OTHER_TENANT]);
    assert_eq!(h.install(&a2).await, Ok(Installation::Installed));
    assert_eq!(h.install(&b2).await, Ok(Installation::Installed));
    assert_eq!(h.token_requests().len(), 2);
    assert_eq!(h.installer.token_fetches(), 2);
    // Each request carried its own tenant's token (the emulator scopes users by token tenant).
    assert_eq!(h.emulator.count_status(201), 4);
}

#[tokio::test]
async fn a_token_from_the_wrong_tenant_does_not_find_the_user() {
    // A single fixed token URL (no {tenant}) sends every request with the bot's home-tenant token:
    // Graph then looks for the user in the wrong directory.
    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    emulator.add_catalog_app(TEAMS_APP);
    let user = emulator.add_user(OTHER_TENANT, "Megan Bowen");
    let config = graph_config(&emulator, TEAMS_APP).token_url(emulator.token_url());
    let installer = GraphInstaller::new(
        config,
        credentials(&emulator),
        reqwest::Client::new(),
        policy(),
    );
    let error = installer
        .install_for_user(
            &TenantId::new(OTHER_TENANT).unwrap(),
            &AadObjectId::new(&user.aad_object_id).unwrap(),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, GraphError::UserNotFound { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_deadline_bounds_waits_and_requests() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Emily Braun");
    // A Retry-After that ends after the deadline is returned at once, retryable.
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(5)),
        1,
    );
    let started = Instant::now();
    let error = h
        .install_by(&user, Deadline::after(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        error,
        GraphError::Throttled {
            retry_after: Some(Duration::from_secs(5))
        }
    );
    assert!(error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 1);

    // A slow answer is cut at the deadline.
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Delay(Duration::from_secs(3)),
        1,
    );
    let started = Instant::now();
    let error = h
        .install_by(&user, Deadline::after(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error, GraphError::DeadlineExceeded);
    assert!(error.is_retryable());

    // A deadline already passed sends nothing.
    let before = h.emulator.install_requests();
    let error = h
        .install_by(&user, Deadline::at(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(error, GraphError::DeadlineExceeded);
    assert_eq!(h.emulator.install_requests(), before);
}

#[tokio::test]
async fn token_endpoint_refusal_is_typed() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Irvin Sayers");
    let mut creds = credentials(&h.emulator);
    if let Credentials::App { password, .. } = &mut creds {
        *password = Secret::new("wrong");
    }
    let installer = GraphInstaller::new(
        graph_config(&h.emulator, TEAMS_APP),
        creds,
        reqwest::Client::new(),
        policy(),
    );
    let error = installer
        .install_for_user(
            &TenantId::new(TENANT).unwrap(),
            &AadObjectId::new(&user.aad_object_id).unwrap(),
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Token(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(h.emulator.install_requests(), 0);
}

#[tokio::test]
async fn anonymous_sends_no_token() {
    let h = Harness::with(EmulatorConfig::default().require_auth(false), TEAMS_APP).await;
    let user = h.user(TENANT, "Megan Bowen");
    let installer = GraphInstaller::new(
        graph_config(&h.emulator, TEAMS_APP),
        Credentials::Anonymous,
        reqwest::Client::new(),
        policy(),
    );
    let result = installer
        .install_for_user(
            &TenantId::new(TENANT).unwrap(),
            &AadObjectId::new(&user.aad_object_id).unwrap(),
            Deadline::NONE,
        )
        .await;
    assert_eq!(result, Ok(Installation::Installed));
    assert!(h.token_requests().is_empty());
    assert!(h.emulator.graph_requests()[0].authorization.is_none());
}

/// A bot endpoint that checks the inbound token as the webhook does and records activities.
#[derive(Clone)]
struct Bot {
    validator: Arc<JwtValidator>,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn bot_messages(State(bot): State<Bot>, headers: HeaderMap, body: String) -> StatusCode {
    let Ok(activity) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let channel = activity["channelId"].as_str().unwrap_or_default();
    let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
    if bot
        .validator
        .validate(authorization, channel, service_url)
        .await
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    bot.received.lock().unwrap().push(activity);
    StatusCode::OK
}

#[tokio::test]
async fn installation_is_announced_to_the_bot_with_a_valid_token() {
    let h = Harness::new().await;
    let bot_app_id = h.emulator.config().app_id.clone();
    let validator = JwtValidator::new(
        InboundAuthConfig::new(&bot_app_id)
            .with_openid_metadata_url(h.emulator.openid_metadata_url()),
    )
    .unwrap();
    let bot = Bot {
        validator: Arc::new(validator),
        received: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/messages", post(bot_messages))
        .with_state(bot.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    h.emulator
        .set_bot_endpoint(&format!("http://{addr}/api/messages"), &bot_app_id);

    let user = h.user(TENANT, "Megan Bowen");
    assert_eq!(h.install(&user).await, Ok(Installation::Installed));
    let deliveries = h
        .emulator
        .wait_for_bot_deliveries(1, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].delivered(), "{:?}", deliveries[0]);
    let received = bot.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let activity = &received[0];
    assert_eq!(activity["type"], "conversationUpdate");
    assert_eq!(
        activity["membersAdded"][0]["id"],
        format!("28:{bot_app_id}")
    );
    assert_eq!(activity["from"]["aadObjectId"], user.aad_object_id);
    assert_eq!(activity["conversation"]["conversationType"], "personal");
    assert_eq!(activity["conversation"]["tenantId"], TENANT);

    // Installing again is a 409 whose chat is the same conversation the event named.
    let again = h.install(&user).await.unwrap();
    let Installation::AlreadyInstalled { chat_id } = again else {
        panic!("expected AlreadyInstalled, got {again:?}");
    };
    assert!(chat_id.as_str().starts_with("19:"));
    assert_eq!(h.emulator.bot_deliveries().len(), 1);
}

#[tokio::test]
async fn an_unclear_404_whose_probe_is_throttled_stays_retryable() {
    let h = Harness::new().await;
    let user = h.user(TENANT, "Isaiah Langer");
    // "Not Found" names neither the user nor the app; the probe that would tell is throttled
    // for longer than the retry policy waits.
    h.emulator
        .inject_graph_times(&user.aad_object_id, GraphFault::Status(404), 1);
    h.emulator.inject_graph_times(
        &user.aad_object_id,
        GraphFault::Throttled(RetryAfter::Seconds(3600)),
        10,
    );
    let error = h.install(&user).await.unwrap_err();
    assert!(
        matches!(error, GraphError::Throttled { .. }),
        "an open question, not a missing user: {error:?}"
    );
    assert!(error.is_retryable());
    h.emulator.clear_graph_faults();
    assert_eq!(h.install(&user).await.unwrap(), Installation::Installed);
}
