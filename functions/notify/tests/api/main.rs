//! The notify API end to end through its handler: on the embedded stores and on DynamoDB Local,
//! with the Teams emulator behind the connector for updates and retractions.

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

mod drafts;
mod idempotency;
mod openapi;
mod report;
mod revisions;
mod scenarios;
mod schedules;
mod tenant_keys;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use herald_connector::{Activity, Call, Connector as _, ConnectorConfig, HttpConnector};
use herald_domain::{
    BotAppId, ConversationReference, ConversationType, DeliveryId, DeliveryStatus, ManualClock,
    ServiceUrl,
};
use herald_notify::{ApiKeys, Notify, NotifyConfig};
use herald_store::{
    Claim, DeliveryRecord, NotificationId, OutboxStore, Outcome, ReferenceStore, ScheduleStore,
};
use herald_teams_emulator::{EmulatorConfig, TeamsEmulator};
use serde_json::Value;

pub(crate) const KEY: &str = "test-api-key-0123456789";
pub(crate) const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// A key limited to [`TENANT`].
pub(crate) const LIMITED_KEY: &str = "tenant-limited-key";

pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

pub(crate) use herald_testkit::Backend;

/// The API over one store implementation, the emulator and a manual clock.
/// What a route answered (a body-less answer reads as `null`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// One request to a notify API built from `notify`, in process.
pub(crate) async fn request(
    notify: &Arc<Notify>,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> HttpReply {
    request_as(
        notify,
        authorization,
        Some("application/json"),
        method,
        path,
        body,
    )
    .await
}

/// [`request`] with the body's `Content-Type` given (`None`: no header).
pub(crate) async fn request_as(
    notify: &Arc<Notify>,
    authorization: Option<&str>,
    content_type: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> HttpReply {
    let router = herald_notify::router(notify.clone());
    let reply = herald_testkit::http::call_as(
        &router,
        method,
        path,
        authorization,
        content_type,
        body.to_vec(),
    )
    .await;
    HttpReply {
        status: reply.status,
        body: reply.body.unwrap_or_default(),
    }
}

pub(crate) struct Harness {
    pub(crate) notify: Arc<Notify>,
    pub(crate) references: Arc<dyn ReferenceStore>,
    pub(crate) outbox: Arc<dyn OutboxStore>,
    pub(crate) schedules: Arc<dyn ScheduleStore>,
    pub(crate) emulator: TeamsEmulator,
    pub(crate) connector: Arc<HttpConnector>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) app: BotAppId,
    /// The stores behind the API, for capabilities it does not expose (card actions, reads).
    pub(crate) stores: herald_testkit::TestStores,
}

impl Harness {
    pub(crate) async fn new(backend: Backend) -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default())
            .await
            .unwrap();
        let config = emulator.config().clone();
        let env = emulator.connector_env();
        let connector = Arc::new(
            HttpConnector::new(&ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap())
                .unwrap(),
        );
        let app = BotAppId::new(config.app_id.clone()).unwrap();
        let test = herald_testkit::stores(backend, &app).await;
        let references = test.stores.references().unwrap();
        let outbox = test.stores.outbox().unwrap();
        let schedules = test.stores.schedules().unwrap();
        let clock = Arc::new(ManualClock::new(at(0)));
        let notify = Arc::new(Notify {
            references: references.clone(),
            outbox: outbox.clone(),
            edits: test.stores.edit_jobs().unwrap(),
            schedules: schedules.clone(),
            connector: connector.clone(),
            clock: clock.clone(),
            retention: Duration::days(30),
            config: NotifyConfig::with_keys(
                ApiKeys::from_plain(&[KEY, "second-key"]).with_limited(
                    LIMITED_KEY,
                    &[herald_domain::TenantId::new(TENANT).unwrap()],
                ),
            ),
        });
        Self {
            notify,
            references,
            outbox,
            schedules,
            emulator,
            connector,
            clock,
            app,
            stores: test,
        }
    }

    /// An authenticated request; `path` may carry a query string.
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> HttpReply {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        self.raw(Some(&format!("Bearer {KEY}")), method, path, &body)
            .await
    }

    pub(crate) async fn raw(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> HttpReply {
        request(&self.notify, authorization, method, path, body).await
    }

    pub(crate) fn service_url(&self) -> ServiceUrl {
        ServiceUrl::parse(&self.emulator.service_url()).unwrap()
    }

    /// A stored reference to a fresh emulator 1:1 chat.
    pub(crate) fn personal(&self, tenant: &str, name: &str) -> ConversationReference {
        let user = self.emulator.add_user(tenant, name);
        let conversation = self.emulator.add_personal_chat(tenant, &user.id);
        let mut reference = base(self, tenant, &conversation, ConversationType::Personal);
        reference.user = Some(herald_domain::UserInfo {
            id: herald_domain::UserId::new(user.id).unwrap(),
            aad_object_id: Some(herald_domain::AadObjectId::new(user.aad_object_id).unwrap()),
            name: Some(name.to_owned()),
        });
        reference
    }

    /// A notification whose recipients already got `text` in these conversations: the deliveries
    /// are recorded sent with the activity ids the emulator gave, as the sender would leave them.
    pub(crate) async fn delivered(
        &self,
        conversations: &[&ConversationReference],
        text: &str,
    ) -> (NotificationId, Vec<DeliveryRecord>) {
        let reply = self
            .call(
                "POST",
                "/api/notify",
                Some(&serde_json::json!({
                    "target": {"kind": "conversations",
                               "ids": conversations.iter().map(|c| c.conversation_id.as_str()).collect::<Vec<_>>()},
                    "message": {"text": text},
                })),
            )
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        let id = NotificationId::parse(reply.body["notificationId"].as_str().unwrap()).unwrap();
        let deliveries: Vec<DeliveryRecord> = conversations
            .iter()
            .map(|r| delivery(&id, r, DeliveryStatus::Pending))
            .collect();
        assert!(
            self.outbox
                .append_page(&id, None, None, &deliveries)
                .await
                .unwrap()
        );
        for (reference, d) in conversations.iter().zip(&deliveries) {
            let sent = self
                .connector
                .send_to_conversation(
                    Call::for_reference(reference),
                    &reference.conversation_id,
                    &Activity::message().text(text),
                )
                .await
                .unwrap();
            self.record(
                &id,
                &d.delivery_id,
                DeliveryStatus::Sent,
                Some(sent.id.as_str()),
            )
            .await;
        }
        (id, deliveries)
    }

    /// Claims a delivery and records `status`, as the sender does.
    pub(crate) async fn record(
        &self,
        id: &NotificationId,
        delivery: &DeliveryId,
        status: DeliveryStatus,
        activity_id: Option<&str>,
    ) {
        let claim = self
            .outbox
            .claim_delivery(id, delivery, at(1), at(61))
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
        let outcome = Outcome {
            status,
            activity_id: activity_id.map(str::to_owned),
            error: (status != DeliveryStatus::Sent).then(|| format!("{status} by the test")),
            conversation_id: None,
            service_url: None,
            copy: None,
        };
        assert!(
            self.outbox
                .record_outcome(id, delivery, at(61), &outcome, at(2))
                .await
                .unwrap()
        );
    }
}

/// A reference of this harness's bot, at the emulator.
pub(crate) fn base(
    h: &Harness,
    tenant: &str,
    conversation: &str,
    conversation_type: ConversationType,
) -> ConversationReference {
    herald_testkit::reference(
        tenant,
        conversation,
        conversation_type,
        h.service_url(),
        &h.app,
        at(0),
    )
}

pub(crate) fn delivery(
    id: &NotificationId,
    reference: &ConversationReference,
    status: DeliveryStatus,
) -> DeliveryRecord {
    // DynamoDB Local deletes expired items, as DynamoDB does: keep these alive.
    let expires_at = (Utc::now() + Duration::days(30)).timestamp();
    DeliveryRecord::to_conversation(id.clone(), reference, status, at(0), expires_at)
}

/// Runs each scenario on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = crate::Harness::new(crate::Backend::Embedded).await;
                    super::$name(&h).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = crate::Harness::new(crate::Backend::Dynamo).await;
                    super::$name(&h).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
