//! The world the pipeline tests run in: DynamoDB Local tables with streams, the Teams emulator,
//! and the outbox stream read with the DynamoDB Streams API and handed to the sender in Lambda's
//! event shape, batch by batch, replaying failed batches as Lambda does.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use chrono::Utc;
use herald_connector::{Connector, ConnectorConfig, teams_connector};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationReference, DeliveryStatus, ReferenceStatus,
    ServiceUrl, SystemClock, TenantId, UserId, UserInfo,
};
use herald_events::EmbeddedEventPublisher;
use herald_pipeline::Sender;
use herald_pipeline::request::NotifyRequest;
use herald_sender::{SenderFunction, lambda_record};
use herald_store::{
    DynamoOutboxStore, DynamoReferenceStore, NotificationId, NotificationStatus, OutboxChange,
    OutboxStore, ReferenceWriter, StoreConfig,
};
use herald_teams_emulator::{EmulatorConfig, EmulatorLimits, TeamsEmulator};
use serde_json::json;

pub(crate) const TENANT: &str = "tenant-e2e";

pub(crate) struct World {
    pub(crate) emulator: TeamsEmulator,
    pub(crate) references: Arc<DynamoReferenceStore>,
    pub(crate) outbox: Arc<DynamoOutboxStore>,
    pub(crate) outbox_table: String,
    pub(crate) events: Arc<EmbeddedEventPublisher>,
    pub(crate) app: BotAppId,
}

impl World {
    pub(crate) async fn new(limits: EmulatorLimits) -> Self {
        let emulator = TeamsEmulator::start(EmulatorConfig::default().limits(limits))
            .await
            .unwrap();
        let app = BotAppId::new(emulator.config().app_id.clone()).unwrap();
        let client = herald_testkit::dynamodb_client();
        let store_config = StoreConfig {
            references_table: herald_testkit::unique_name("references"),
            bot_app_id: app.clone(),
        };
        let references = Arc::new(DynamoReferenceStore::new(client.clone(), &store_config));
        references.ensure_table().await.unwrap();
        let outbox_table = herald_testkit::unique_name("outbox");
        let outbox = Arc::new(DynamoOutboxStore::new(client, &outbox_table));
        outbox.ensure_table().await.unwrap();
        Self {
            emulator,
            references,
            outbox,
            outbox_table,
            events: Arc::new(EmbeddedEventPublisher::default()),
            app,
        }
    }

    pub(crate) fn connector(&self) -> impl Connector + use<> {
        let env = self.emulator.connector_env();
        let config = ConnectorConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
        teams_connector(&config).unwrap()
    }

    pub(crate) fn function(
        &self,
        connector: Arc<dyn Connector>,
        concurrency: usize,
    ) -> SenderFunction {
        let mut sender = Sender::new(
            self.references.clone(),
            self.outbox.clone(),
            connector,
            self.events.clone(),
            Arc::new(SystemClock),
            self.app.clone(),
        );
        sender.lease = chrono::Duration::seconds(2);
        crate::support::sender_function(sender, concurrency)
    }

    /// A user with a personal chat in the emulator and its stored reference.
    pub(crate) async fn user(&self, n: usize, status: ReferenceStatus) -> ConversationReference {
        let user = self.emulator.add_user(TENANT, &format!("User {n}"));
        let chat = self.emulator.add_personal_chat(TENANT, &user.id);
        let reference = self.reference(&chat, Some(&user.id), Some(&user.aad_object_id));
        self.references.upsert(&reference).await.unwrap();
        if status != ReferenceStatus::Active {
            let update = herald_store::StatusUpdate {
                status,
                at: Utc::now(),
                reason: Some("test".into()),
            };
            self.references
                .set_status(&reference.key(), &update)
                .await
                .unwrap();
        }
        reference
    }

    pub(crate) fn reference(
        &self,
        conversation: &str,
        user: Option<&str>,
        aad: Option<&str>,
    ) -> ConversationReference {
        ConversationReference::personal(
            TenantId::new(TENANT).unwrap(),
            ConversationId::new(conversation).unwrap(),
            ServiceUrl::parse(&self.emulator.service_url()).unwrap(),
            &self.app,
            UserInfo {
                id: UserId::new(user.unwrap_or("29:unknown")).unwrap(),
                aad_object_id: aad.map(|a| AadObjectId::new(a).unwrap()),
                name: None,
            },
            Utc::now(),
        )
    }

    pub(crate) async fn notify(&self, text: &str) -> NotificationId {
        self.notify_request(&json!({"target": {"kind": "all"}, "message": {"text": text}}))
            .await
    }

    /// Stores the notification a `POST /api/notify` with `body` makes.
    pub(crate) async fn notify_request(&self, body: &serde_json::Value) -> NotificationId {
        let record = NotifyRequest::from_json(body).unwrap().into_notification(
            "api",
            Utc::now(),
            chrono::Duration::days(30),
        );
        let id = record.id.clone();
        assert_eq!(
            self.outbox.create_notification(&record).await.unwrap(),
            None
        );
        id
    }
}

/// Runs `id`'s expansion when the stream brings its header, until the stream has brought
/// `count` delivery records; returns them, as Lambda would batch them.
pub(crate) async fn expanded_deliveries(
    world: &World,
    id: &NotificationId,
    stream: &mut StreamReader,
    count: usize,
) -> Vec<aws_lambda_events::dynamodb::EventRecord> {
    let expander_only = world.function(Arc::new(world.connector()), 1);
    let mut deliveries = Vec::new();
    while deliveries.len() < count {
        for record in stream.next_batch().await.records {
            match OutboxChange::from_stream_record(&record) {
                Some(OutboxChange::Notification(_)) => {
                    expander_only
                        .run(&OutboxChange::Notification(id.clone()), None)
                        .await;
                }
                Some(OutboxChange::Delivery(..)) => deliveries.push(record),
                _ => {}
            }
        }
    }
    deliveries
}

/// A Lambda event of `records`.
pub(crate) fn event_of(records: Vec<aws_lambda_events::dynamodb::EventRecord>) -> DynamoDbEvent {
    let mut event: DynamoDbEvent = serde_json::from_value(json!({"Records": []})).unwrap();
    event.records = records;
    event
}

/// Reads the outbox table's stream from the start, like Lambda's event source mapping.
pub(crate) struct StreamReader {
    pub(crate) client: aws_sdk_dynamodbstreams::Client,
    pub(crate) iterators: Vec<Option<String>>,
}

impl StreamReader {
    pub(crate) async fn open(table: &str) -> Self {
        let dynamodb = herald_testkit::dynamodb_client();
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let arn = described
            .table()
            .unwrap()
            .latest_stream_arn()
            .unwrap()
            .to_owned();
        let client = herald_testkit::dynamodb_streams_client();
        let stream = client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap();
        let mut iterators = Vec::new();
        for shard in stream.stream_description().unwrap().shards() {
            let iterator = client
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap();
            iterators.push(iterator.shard_iterator().map(str::to_owned));
        }
        Self { client, iterators }
    }

    /// The next records of every shard, as one Lambda event (empty when nothing is new).
    pub(crate) async fn next_batch(&mut self) -> DynamoDbEvent {
        let mut records = Vec::new();
        for slot in &mut self.iterators {
            let Some(iterator) = slot.clone() else {
                continue;
            };
            let output = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(100)
                .send()
                .await
                .unwrap();
            *slot = output.next_shard_iterator().map(str::to_owned);
            for record in output.records() {
                records.push(lambda_record(record, "us-east-1").unwrap());
            }
        }
        serde_json::from_value(json!({"Records": records})).unwrap()
    }
}

/// Runs the sender over the stream until the notification is done, replaying a batch from its
/// lowest failed record as Lambda does (after a pause, so leases can expire).
pub(crate) async fn drain(
    world: &World,
    function: &SenderFunction,
    id: &NotificationId,
    stream: &mut StreamReader,
) {
    let started = std::time::Instant::now();
    let mut retry: Option<DynamoDbEvent> = None;
    loop {
        let batch = match retry.take() {
            Some(batch) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                batch
            }
            None => stream.next_batch().await,
        };
        let deadline = Utc::now() + chrono::Duration::seconds(60);
        let response = function.handle_stream(batch.clone(), Some(deadline)).await;
        if let Some(lowest) = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .min_by_key(|s| s.parse::<u128>().unwrap_or(u128::MAX))
        {
            let mut replay = batch;
            let lowest: u128 = lowest.parse().unwrap();
            replay.records.retain(|r| {
                r.change
                    .sequence_number
                    .as_deref()
                    .and_then(|s| s.parse::<u128>().ok())
                    >= Some(lowest)
            });
            retry = Some(replay);
            continue;
        }
        let header = world.outbox.get_notification(id).await.unwrap().unwrap();
        if header.status() == NotificationStatus::Done {
            return;
        }
        // The scheduler's sweep, which wakes what a dead sender or a backoff left behind.
        herald_pipeline::StrandedSweep::new(world.outbox.clone(), Arc::new(SystemClock))
            .sweep()
            .await
            .unwrap();
        if started.elapsed() >= Duration::from_secs(120) {
            let pending = world
                .outbox
                .list_deliveries(
                    id,
                    Some(DeliveryStatus::Pending),
                    &herald_store::PageRequest::default(),
                )
                .await
                .unwrap();
            panic!(
                "pipeline did not finish: {header:?}; pending: {:#?}",
                pending.items
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
