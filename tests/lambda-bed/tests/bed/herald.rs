//! Herald's real function binaries in the bed, as the template deploys them: the webhook and the
//! notify API over the HTTP API, the sender fed by the outbox stream and by EventBridge, the
//! scheduler's tick; Teams is the emulator.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Timelike as _, Utc};
use herald_domain::{BotAppId, DeliveryStatus, Target};
use herald_lambda_bed::scenario::bed_config_for;
use herald_lambda_bed::{DynamoFaults, HeraldTables, LambdaBed, OutcomeKind, create_herald_tables};
use herald_schedule::{Recurrence, ScheduleRule};
use herald_store::{
    DynamoOutboxStore, DynamoScheduleStore, NotificationId, OutboxStore as _, PageRequest,
    ScheduleId, ScheduleRecord, ScheduleStore as _,
};
use herald_teams_emulator::identity::TokenSpec;
use herald_teams_emulator::{EmulatorConfig, Fault, TeamsEmulator};
use serde_json::{Value, json};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_KEY: &str = "bed-api-key";
const WAIT: Duration = Duration::from_secs(60);

struct Deployed {
    bed: LambdaBed,
    emulator: TeamsEmulator,
    tables: HeraldTables,
    /// A user's personal chat with the bot, installed through the webhook.
    chat: String,
}

async fn deploy() -> Deployed {
    let emulator = TeamsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let config = emulator.config().clone();
    let tables = HeraldTables::unique("bed");
    let app = BotAppId::new(&config.app_id).unwrap();
    create_herald_tables(&herald_testkit::dynamodb_endpoint(), &tables, &app)
        .await
        .expect("create tables on DynamoDB Local (is .ci/with-services running it?)");
    let mut bed_config = bed_config_for(&emulator, &tables, API_KEY);
    bed_config.async_retry_delays = vec![Duration::from_millis(200)];
    let bed = LambdaBed::start(bed_config).await.unwrap();
    let user = emulator.add_user(TENANT, "Megan Bowen");
    let chat = emulator.add_personal_chat(TENANT, &user.id);
    let install = json!({
        "type": "installationUpdate", "action": "add",
        "id": "f:1", "timestamp": Utc::now().to_rfc3339(), "channelId": "msteams",
        "serviceUrl": emulator.service_url(),
        "from": {"id": user.id, "aadObjectId": user.aad_object_id},
        "recipient": {"id": format!("28:{}", config.app_id), "name": "Herald"},
        "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": chat},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
    });
    let token = emulator
        .identity()
        .mint(TokenSpec::valid(&emulator.service_url()));
    let answer = reqwest::Client::new()
        .post(format!("{}/api/messages", bed.http_url()))
        .bearer_auth(token)
        .json(&install)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        answer.text().await.unwrap_or_default()
    );
    Deployed {
        bed,
        emulator,
        tables,
        chat,
    }
}

impl Deployed {
    /// Waits until the chat holds a message with `text`.
    async fn delivered(&self, text: &str) {
        self.bed
            .log()
            .wait(WAIT, |_| {
                self.emulator
                    .activities(&self.chat)
                    .iter()
                    .any(|a| a.activity["text"].as_str() == Some(text))
                    .then_some(())
            })
            .await
            .unwrap_or_else(|| {
                panic!(
                    "{text:?} never reached {}: {:#?}\ninvocations: {:#?}\nfiles in {}",
                    self.chat,
                    self.emulator.activities(&self.chat),
                    self.bed.log().invocations(),
                    self.bed.work_dir().display()
                )
            });
    }
}

#[tokio::test]
async fn an_install_a_notify_request_and_a_bus_event_run_through_the_deployed_functions() {
    let deployed = deploy().await;
    let bed = &deployed.bed;
    // The install stored the reference: the webhook welcomed the user.
    let webhook = bed.log().invocations_of("WebhookFunction");
    assert_eq!(webhook.len(), 1);
    assert!(webhook[0].cold && webhook[0].outcome == OutcomeKind::Ok);
    assert!(
        !deployed.emulator.activities(&deployed.chat).is_empty(),
        "no welcome message"
    );

    let answer = reqwest::Client::new()
        .post(format!("{}/api/notify", bed.http_url()))
        .bearer_auth(API_KEY)
        .json(
            &json!({"target": {"kind": "conversations", "ids": [deployed.chat]},
                      "message": {"text": "Hello from the bed"}}),
        )
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    assert!(body["notificationId"].is_string(), "{body}");
    deployed.delivered("Hello from the bed").await;
    assert!(
        bed.log()
            .batches()
            .iter()
            .any(|b| b.function == "SenderFunction"),
        "the sender was fed by the stream mapping"
    );

    bed.put_event(
        "com.contoso.alerts",
        "herald.Notify",
        &json!({"target": {"kind": "conversations", "ids": [deployed.chat]},
                "message": {"text": "From the bus"}}),
    )
    .unwrap();
    deployed.delivered("From the bus").await;
    let events = bed.log().events();
    assert!(
        events
            .iter()
            .any(|e| e.rules == ["SenderFunctionNotifyEvents"])
    );
    // The functions' own events went through the bed's PutEvents endpoint too.
    assert!(
        events.iter().any(|e| e.event["source"] == "herald"),
        "{events:#?}"
    );
    assert!(
        bed.log().failures().is_empty(),
        "{:#?}",
        bed.log().failures()
    );
}

#[tokio::test]
async fn the_scheduler_tick_fires_a_due_schedule() {
    let deployed = deploy().await;
    let now = Utc::now();
    let due = (now - chrono::Duration::minutes(1))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    let record = ScheduleRecord::new(
        ScheduleId::random(),
        ScheduleRule::new(Recurrence::Once {
            at: due.naive_utc(),
        }),
        "UTC".parse().unwrap(),
        Target::All,
        json!({"text": "Scheduled in the bed"}),
        json!({"type": "message", "text": "Scheduled in the bed"}),
        now,
    )
    .with_next_fire(Some(due));
    DynamoScheduleStore::new(
        herald_testkit::dynamodb_client(),
        &deployed.tables.schedules,
    )
    .create_schedule(&record)
    .await
    .unwrap();
    deployed.bed.fire_schedule("SchedulerFunction").unwrap();
    deployed.delivered("Scheduled in the bed").await;
    let ticks = deployed.bed.log().invocations_of("SchedulerFunction");
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0].outcome, OutcomeKind::Ok);
}

/// A copy Teams accepted whose outcome DynamoDB then refused (every `TransactWriteItems` failing
/// while the send was on its way) is sent again by the next attempt, and that second copy is
/// counted: the delivery records the lost attempt and the notification a possible duplicate.
#[tokio::test]
async fn a_copy_whose_outcome_the_store_refused_is_counted_when_sent_again() {
    let deployed = deploy().await;
    let bed = &deployed.bed;
    let text = "Sent while DynamoDB refused transactions";
    // The send waits two seconds in Teams: time to make the outcome's write fail.
    deployed
        .emulator
        .inject_times(&deployed.chat, Fault::Delay(Duration::from_secs(2)), 1);
    let answer = reqwest::Client::new()
        .post(format!("{}/api/notify", bed.http_url()))
        .bearer_auth(API_KEY)
        .json(
            &json!({"target": {"kind": "conversations", "ids": [deployed.chat]},
                       "message": {"text": text}}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = answer.json().await.unwrap();
    let id = NotificationId::parse(body["notificationId"].as_str().unwrap()).unwrap();
    let outbox = DynamoOutboxStore::new(herald_testkit::dynamodb_client(), &deployed.tables.outbox);
    let delivery = |status: DeliveryStatus| {
        let (outbox, id) = (&outbox, &id);
        async move {
            let page = outbox
                .list_deliveries(id, Some(status), &PageRequest::default())
                .await
                .unwrap();
            page.items.into_iter().next()
        }
    };
    let give_up = tokio::time::Instant::now() + WAIT;
    while delivery(DeliveryStatus::Sending).await.is_none() {
        assert!(
            tokio::time::Instant::now() < give_up,
            "the delivery was never claimed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bed.dynamodb().set_faults(DynamoFaults {
        internal_error: 1.0,
        operations: BTreeSet::from(["TransactWriteItems".to_owned()]),
        ..DynamoFaults::default()
    });
    deployed.delivered(text).await;
    // The outcome's write and its SDK retries fail, and the delivery is given back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    bed.dynamodb().set_faults(DynamoFaults::default());
    let sent = loop {
        if let Some(sent) = delivery(DeliveryStatus::Sent).await {
            break sent;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the delivery never ended sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let copies = deployed
        .emulator
        .activities(&deployed.chat)
        .iter()
        .filter(|a| a.activity["text"].as_str() == Some(text))
        .count();
    assert!(
        copies > 1,
        "the refused outcome was not followed by another send"
    );
    assert!(
        sent.lost_attempts as usize >= copies - 1,
        "{copies} copies, {} lost attempts recorded",
        sent.lost_attempts
    );
    let header = outbox.get_notification(&id).await.unwrap().unwrap();
    assert_eq!(header.possible_duplicates, 1);
    assert_eq!(header.count(DeliveryStatus::Sent), 1);
}
