//! The harness every webhook test runs on: the webhook with the DynamoDB store on DynamoDB Local
//! (a fresh table per test), the real HTTP connector and JWT validator against the Teams emulator,
//! the embedded event publisher and a manual clock; plus the Teams payload fixtures.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_connector::inbound::{InboundAuthConfig, JwtValidator};
use herald_connector::{ConnectorConfig, HttpConnector};
use herald_domain::{
    BotAppId, Clock as _, ConversationId, ConversationKey, ConversationReference, ManualClock,
    TenantId, TimeZone,
};
use herald_events::{EmbeddedEventPublisher, EventKind, EventPublisher, HeraldEvent};
use herald_store::{
    DynamoReferenceStore, DynamoScheduleStore, ListFilter, PageRequest, StoreConfig,
};
use herald_teams_emulator::identity::{TokenKind, TokenSpec};
use herald_teams_emulator::{EmulatedTeam, EmulatedUser, EmulatorConfig, TeamsEmulator};
use herald_testkit::http::Response as HttpReply;
use herald_webhook::{InboundAuth, Webhook, WebhookConfig};
use serde_json::Value;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const BOT_NAME: &str = "Herald";
pub const USER_NAME: &str = "Megan Bowen";
/// The zone the fixtures' Teams client reports unless a test says otherwise.
pub const CLIENT_ZONE: &str = "America/Los_Angeles";

/// When the tests' world starts: a Teams-like timestamp with sub-millisecond digits.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 15, 4, 5).unwrap() + Duration::nanoseconds(123_456_700)
}

/// Teams' timestamp format: UTC with 7 fractional digits.
pub fn teams_timestamp(at: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        at.format("%Y-%m-%dT%H:%M:%S"),
        at.timestamp_subsec_nanos() / 100
    )
}

/// Where the DynamoDB store, the emulator and the webhook's event publisher come from.
pub enum Events {
    Embedded,
    Custom(Arc<dyn EventPublisher>),
}

pub struct Harness {
    pub emulator: TeamsEmulator,
    pub webhook: Arc<Webhook>,
    router: axum::Router,
    pub events: Arc<EmbeddedEventPublisher>,
    pub clock: Arc<ManualClock>,
    pub app_id: String,
    /// A user with a personal chat with the bot.
    pub user: EmulatedUser,
    /// That personal chat's conversation id (`a:...`).
    pub personal: String,
    next_id: AtomicU64,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_events(Events::Embedded).await
    }

    pub async fn with_events(events: Events) -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        let config = emulator.config().clone();
        let app_id = config.app_id.clone();
        let bot_app_id = BotAppId::new(&app_id).unwrap();

        let store = DynamoReferenceStore::new(
            herald_testkit::dynamodb_client(),
            &StoreConfig {
                references_table: herald_testkit::unique_name("webhook"),
                bot_app_id: bot_app_id.clone(),
            },
        );
        store.ensure_table().await.unwrap();
        let schedules = DynamoScheduleStore::new(
            herald_testkit::dynamodb_client(),
            herald_testkit::unique_name("reminders"),
        );
        schedules.ensure_table().await.unwrap();

        let env = HashMap::from([
            ("MicrosoftAppId", config.app_id.clone()),
            ("MicrosoftAppPassword", config.app_password.clone()),
            ("MicrosoftAppTenantId", config.app_tenant_id.clone()),
            ("HERALD_TOKEN_URL", emulator.token_url()),
            ("HERALD_TRUSTED_SERVICE_HOSTS", emulator.host_port()),
        ]);
        let connector =
            HttpConnector::new(&ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap())
                .unwrap();
        let validator = JwtValidator::new(
            InboundAuthConfig::new(&app_id)
                .with_openid_metadata_url(emulator.openid_metadata_url()),
        )
        .unwrap();

        let embedded = Arc::new(EmbeddedEventPublisher::default());
        let publisher: Arc<dyn EventPublisher> = match events {
            Events::Embedded => embedded.clone(),
            Events::Custom(publisher) => publisher,
        };
        let clock = Arc::new(ManualClock::new(t0()));
        let webhook = Arc::new(Webhook {
            store: Arc::new(store),
            schedules: Arc::new(schedules),
            connector: Arc::new(connector),
            auth: InboundAuth::BotFramework(validator),
            events: publisher,
            clock: clock.clone(),
            config: WebhookConfig::with_app(bot_app_id, |_| None).unwrap(),
            install_waits: None,
            interactions: None,
        });
        let user = emulator.add_user(TENANT, USER_NAME);
        let personal = emulator.add_personal_chat(TENANT, &user.id);
        Self {
            emulator,
            router: herald_webhook::router(webhook.clone()),
            webhook,
            events: embedded,
            clock,
            app_id,
            user,
            personal,
            next_id: AtomicU64::new(1_762_095_845_000),
        }
    }

    /// `POST /api/messages` through the webhook's router, with this `Authorization` header.
    pub async fn handle(&self, authorization: Option<&str>, body: &[u8]) -> HttpReply {
        herald_testkit::http::call(
            &self.router,
            "POST",
            "/api/messages",
            authorization,
            body.to_vec(),
        )
        .await
    }

    pub fn bot_id(&self) -> String {
        format!("28:{}", self.app_id)
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the clock on and returns the new now.
    pub fn later(&self, seconds: i64) -> DateTime<Utc> {
        self.clock.advance(Duration::seconds(seconds));
        self.clock.now()
    }

    /// Another user of the tenant, with a personal chat: (user, conversation id).
    pub fn another_user(&self, name: &str) -> (EmulatedUser, String) {
        let user = self.emulator.add_user(TENANT, name);
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        (user, chat)
    }

    pub fn team(&self, name: &str) -> EmulatedTeam {
        self.emulator.add_team(TENANT, name, &[&self.user.id])
    }

    pub fn channel(&self, team: &EmulatedTeam, name: &str) -> String {
        self.emulator.add_channel(&team.id, name).unwrap()
    }

    pub fn group_chat(&self) -> String {
        self.emulator.add_group_chat(TENANT, &[&self.user.id])
    }

    /// `team_install` of `team` with `channel` selected (where the installer chose to post).
    pub fn team_install(&self, team: &EmulatedTeam, channel: &str) -> Payload {
        self.activity("team_install")
            .team(team)
            .set("SELECTED_CHANNEL_ID", channel)
    }

    /// A fixture with every common placeholder filled for the personal user at the clock's now.
    pub fn activity(&self, fixture: &str) -> Payload {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
        let mut payload = Payload {
            fixture: fixture.to_owned(),
            template: load(fixture),
            vars: HashMap::new(),
        };
        payload = payload
            .set("SERVICE_URL", self.emulator.service_url())
            .set("BOT_ID", self.bot_id())
            .set("BOT_NAME", BOT_NAME)
            .set("TENANT", TENANT)
            .set("USER_ID", &self.user.id)
            .set("USER_AAD", &self.user.aad_object_id)
            .set("USER_NAME", &self.user.name)
            .set("CONVERSATION_ID", &self.personal)
            .set("ACTIVITY_ID", id)
            .set("TIMEZONE", CLIENT_ZONE)
            .set("TEXT", "help")
            .set("VERB", "herald.optOut")
            .set("REPLY_TO_ID", "1:1Ge3hKxH0Ofs2jLz7VPTmDf3DlyCwLw")
            .at(self.clock.now());
        payload
    }

    /// A payload as Microsoft publishes it (`fixtures/published/`), with only the emulator's
    /// serviceUrl and the bot's id filled in where the fixture asks for them.
    pub fn as_published(&self, fixture: &str) -> Payload {
        Payload {
            fixture: fixture.to_owned(),
            template: load(&format!("published/{fixture}")),
            vars: HashMap::new(),
        }
        .set("SERVICE_URL", self.emulator.service_url())
        .set("BOT_ID", self.bot_id())
    }

    /// Posts with a valid token for the payload's serviceUrl.
    pub async fn post(&self, payload: &Payload) -> HttpReply {
        let body = payload.bytes();
        let service_url = payload.json()["serviceUrl"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let token = self.token(&service_url, TokenKind::Valid);
        self.handle(Some(&format!("Bearer {token}")), &body).await
    }

    /// Posts and asserts the plain 200 Teams expects.
    pub async fn ok(&self, payload: &Payload) {
        let reply = self.post(payload).await;
        assert_eq!(reply, HttpReply::ok(), "{}", payload.fixture);
    }

    pub fn token(&self, service_url: &str, kind: TokenKind) -> String {
        self.emulator
            .identity()
            .mint(TokenSpec::new(service_url, kind))
    }

    pub fn key(conversation: &str) -> ConversationKey {
        ConversationKey::new(
            TenantId::new(TENANT).unwrap(),
            ConversationId::new(conversation).unwrap(),
        )
    }

    pub async fn get(&self, conversation: &str) -> Option<ConversationReference> {
        self.webhook
            .store
            .get(&Self::key(conversation))
            .await
            .unwrap()
    }

    pub async fn stored(&self, conversation: &str) -> ConversationReference {
        self.get(conversation)
            .await
            .unwrap_or_else(|| panic!("nothing stored for {conversation}"))
    }

    /// Every stored reference, sorted by conversation id.
    pub async fn all(&self) -> Vec<ConversationReference> {
        let mut all = Vec::new();
        let mut request = PageRequest::default();
        loop {
            let page = self
                .webhook
                .store
                .list(&ListFilter::all(), &request)
                .await
                .unwrap();
            assert!(page.skipped.is_empty(), "{:?}", page.skipped);
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        all.sort_by(|a, b| a.conversation_id.as_str().cmp(b.conversation_id.as_str()));
        all
    }

    /// The activities the bot posted to `conversation` with sendToConversation.
    pub fn sent(&self, conversation: &str) -> Vec<Value> {
        let requests = self
            .emulator
            .requests_for(conversation)
            .into_iter()
            .filter(|r| r.operation == "sendToConversation")
            .collect::<Vec<_>>();
        let stored = self.emulator.activities(conversation);
        assert!(
            requests.iter().all(|r| r.status == Some(201)),
            "{requests:?}"
        );
        let posted: Vec<Value> = stored
            .iter()
            .filter(|a| a.reply_to_id.is_none())
            .map(|a| a.activity.clone())
            .collect();
        assert_eq!(requests.len(), posted.len(), "requests vs stored messages");
        posted
    }

    /// The welcome cards posted to `conversation`.
    pub fn welcomes(&self, conversation: &str) -> Vec<Value> {
        self.sent(conversation)
            .into_iter()
            .filter(|a| a["summary"].as_str() == Some("Welcome to Herald"))
            .collect()
    }

    /// Asserts exactly one welcome card in `conversation` and returns its text and action.
    pub fn one_welcome(&self, conversation: &str) -> WelcomeCard {
        let welcomes = self.welcomes(conversation);
        assert_eq!(
            welcomes.len(),
            1,
            "welcomes in {conversation}: {welcomes:#?}"
        );
        WelcomeCard::read(&welcomes[0])
    }

    /// Every message the bot sent anywhere (send, reply, create).
    pub fn bot_writes(&self) -> usize {
        self.emulator
            .requests()
            .iter()
            .filter(|r| {
                matches!(
                    r.operation,
                    "sendToConversation" | "replyToActivity" | "createConversation"
                )
            })
            .count()
    }

    /// The text of the last plain message the bot posted to `conversation` (sent or replied).
    pub fn last_text(&self, conversation: &str) -> String {
        self.emulator
            .activities(conversation)
            .last()
            .and_then(|a| a.activity["text"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no text message in {conversation}"))
    }

    /// Installation events published so far: (kind, conversation id).
    pub fn published(&self) -> Vec<(EventKind, String)> {
        self.events
            .recent()
            .into_iter()
            .map(|e| {
                let kind = e.event.kind();
                (
                    kind,
                    installation(&e.event).conversation_id.as_str().to_owned(),
                )
            })
            .collect()
    }

    pub fn published_events(&self) -> Vec<HeraldEvent> {
        self.events.recent().into_iter().map(|e| e.event).collect()
    }
}

pub fn installation(event: &HeraldEvent) -> &herald_events::InstallationEvent {
    match event {
        HeraldEvent::InstallationAdded(i)
        | HeraldEvent::InstallationRemoved(i)
        | HeraldEvent::InstallationArchived(i)
        | HeraldEvent::InstallationRestored(i) => i,
        other => panic!("not an installation event: {other:?}"),
    }
}

/// Sorted, for comparing events whose order across references does not matter.
pub fn sorted(mut events: Vec<(EventKind, String)>) -> Vec<(EventKind, String)> {
    events.sort_by(|a, b| (a.0.detail_type(), &a.1).cmp(&(b.0.detail_type(), &b.1)));
    events
}

pub fn ev(kind: EventKind, conversation: &str) -> (EventKind, String) {
    (kind, conversation.to_owned())
}

pub fn zone(name: &str) -> TimeZone {
    name.parse().unwrap()
}

/// The readable parts of a welcome card.
#[derive(Debug)]
pub struct WelcomeCard {
    pub text: String,
    pub actions: Vec<Value>,
}

impl WelcomeCard {
    fn read(activity: &Value) -> Self {
        let attachment = &activity["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        let text = card["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            text,
            actions: card["actions"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// The card offers the opt-out button the webhook understands.
    pub fn assert_opt_out(&self) {
        assert!(
            self.actions
                .iter()
                .any(|a| a["type"] == "Action.Submit" && a["data"]["herald"] == "herald.optOut"),
            "{:#?}",
            self.actions
        );
        assert!(self.text.contains("**stop**"), "{}", self.text);
        assert!(self.text.contains("**help**"), "{}", self.text);
    }
}

/// A fixture from tests/fixtures with its `${NAME}` placeholders.
#[derive(Debug, Clone)]
pub struct Payload {
    pub fixture: String,
    template: String,
    vars: HashMap<String, String>,
}

pub fn load(fixture: &str) -> String {
    let path = format!("{}/{fixture}.json", fixtures_dir());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Teams-shaped fixtures; payloads as Microsoft publishes them are under `published/`.
pub fn fixtures_dir() -> String {
    format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture, by name.
pub fn all_fixtures() -> Vec<String> {
    json_files(&fixtures_dir())
}

/// The names of the `.json` files in `dir`, sorted.
pub fn json_files(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

impl Payload {
    #[must_use]
    pub fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// The activity's `timestamp` (and `localTimestamp` in the client's zone).
    #[must_use]
    pub fn at(self, at: DateTime<Utc>) -> Self {
        let zone: TimeZone = self
            .vars
            .get("TIMEZONE")
            .and_then(|z| z.parse().ok())
            .unwrap_or_else(|| zone(CLIENT_ZONE));
        let local = at
            .with_timezone(&zone.tz())
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z");
        self.set("TIMESTAMP", teams_timestamp(at))
            .set("LOCAL_TIMESTAMP", local.to_string())
    }

    /// The team (`TEAM_ID`, `TEAM_NAME`, `TEAM_AAD`), its General channel selected by default.
    #[must_use]
    pub fn team(self, team: &EmulatedTeam) -> Self {
        self.set("TEAM_ID", &team.id)
            .set("TEAM_NAME", &team.name)
            .set("TEAM_AAD", &team.aad_group_id)
            .set("SELECTED_CHANNEL_ID", &team.id)
    }

    #[must_use]
    pub fn channel(self, id: &str, name: &str) -> Self {
        self.set("CHANNEL_ID", id).set("CHANNEL_NAME", name)
    }

    #[must_use]
    pub fn text(self, text: &str) -> Self {
        self.set("TEXT", text)
    }

    /// The filled-in text.
    pub fn render(&self) -> String {
        let mut out = self.template.clone();
        for (name, value) in &self.vars {
            let escaped = serde_json::to_string(value).unwrap();
            out = out.replace(&format!("${{{name}}}"), &escaped[1..escaped.len() - 1]);
        }
        assert!(
            !out.contains("${"),
            "{}: unfilled placeholder in {out}",
            self.fixture
        );
        out
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.render()).unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.render().into_bytes()
    }

    /// The payload's JSON after `change` edits it (fields removed or retyped).
    pub fn edited(&self, change: impl FnOnce(&mut Value)) -> Value {
        let mut json = self.json();
        change(&mut json);
        json
    }
}

impl Harness {
    pub async fn post_json(&self, activity: &Value) -> HttpReply {
        let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
        let token = self.token(service_url, TokenKind::Valid);
        self.handle(
            Some(&format!("Bearer {token}")),
            &serde_json::to_vec(activity).unwrap(),
        )
        .await
    }
}

/// Asserts Herald's error shape and returns the message.
pub fn error_message(reply: &HttpReply, status: u16, code: &str) -> String {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.body.as_ref().expect("an error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}
