//! The deliveries report as people ask for it: read receipts and card actions in the JSON report
//! and the notification's status, and the whole report as a CSV download.

use axum::body::Body;
use axum::http::{Request, header};
use herald_domain::{ConversationId, ConversationType, DeliveryStatus, TenantId};
use herald_store::{
    CardActionRecord, Claim, DeliveryRecord, MAX_PAGE, NotificationId, Outcome, ReadReceipt,
    SentCopy,
};
use serde_json::json;
use tower::ServiceExt as _;

use crate::{Harness, KEY, TENANT, at, base, delivery};

/// Rows in the CSV test: five pages of the report's internal paging (1000 deliveries each).
const ROWS: usize = 5000;

/// `GET` with `Accept: text/csv`: status, headers and body text.
async fn csv(h: &Harness, path: &str) -> (u16, String, String, String) {
    let request = Request::builder()
        .method("GET")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::ACCEPT, "text/csv")
        .body(Body::empty())
        .unwrap();
    let response = herald_notify::router(h.notify.clone())
        .oneshot(request)
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (kind, disposition) = (
        header(header::CONTENT_TYPE),
        header(header::CONTENT_DISPOSITION),
    );
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        kind,
        disposition,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

/// A notification with `rows` deliveries: the first three sent to personal chats (the first read
/// and approved), the fourth sent to a group chat, the rest pending.
async fn big_notification(h: &Harness, rows: usize) -> (NotificationId, Vec<DeliveryRecord>) {
    let reply = h
        .call(
            "POST",
            "/api/notify",
            Some(&json!({"target": {"kind": "all"}, "message": {"text": "Quarterly numbers"}})),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let id = NotificationId::parse(reply.body["notificationId"].as_str().unwrap()).unwrap();
    let deliveries: Vec<DeliveryRecord> = (0..rows)
        .map(|i| {
            let kind = if i == 3 {
                ConversationType::GroupChat
            } else {
                ConversationType::Personal
            };
            let reference = base(h, TENANT, &format!("a:chat-{i:05}"), kind);
            let mut d = delivery(&id, &reference, DeliveryStatus::Pending);
            d.name = Some(if i == 0 {
                "Bowen, Megan \"MB\"".to_owned()
            } else {
                format!("Person {i}")
            });
            d
        })
        .collect();
    let pages: Vec<&[DeliveryRecord]> = deliveries.chunks(MAX_PAGE).collect();
    let mut from: Option<String> = None;
    for (n, page) in pages.iter().enumerate() {
        let to = (n + 1 < pages.len()).then(|| format!("page-{n}"));
        assert!(
            h.outbox
                .append_page(&id, from.as_deref(), to.as_deref(), page)
                .await
                .unwrap()
        );
        from = to;
    }
    for (i, d) in deliveries.iter().take(4).enumerate() {
        let claim = h
            .outbox
            .claim_delivery(&id, &d.delivery_id, at(1), at(61))
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
        let activity_id = format!("17677654883{i:02}");
        let copy = SentCopy::of(
            d,
            d.conversation_id.clone().unwrap(),
            &activity_id,
            0,
            at(2),
        );
        let outcome = Outcome {
            status: DeliveryStatus::Sent,
            activity_id: Some(activity_id),
            error: None,
            conversation_id: None,
            service_url: None,
            copy: Some(Box::new(copy)),
        };
        assert!(
            h.outbox
                .record_outcome(&id, &d.delivery_id, at(61), &outcome, at(2))
                .await
                .unwrap()
        );
    }
    let interactions = h.stores.stores.interactions().unwrap();
    let first = &deliveries[0];
    let tenant = TenantId::new(TENANT).unwrap();
    let chat = ConversationId::new("a:chat-00000").unwrap();
    let read = interactions
        .mark_read(&ReadReceipt::new(&tenant, &chat, "1767765488300", at(5)))
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    let action = CardActionRecord {
        action_id: "f:press-1".to_owned(),
        notification_id: id.clone(),
        delivery_id: first.delivery_id.clone(),
        verb: "approve".to_owned(),
        at: at(6),
        expires_at: first.expires_at,
    };
    assert!(interactions.record_action(&action).await.unwrap());
    (id, deliveries)
}

crate::on_both_backends!(the_report_shows_reads_and_actions);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_report_of_5000_deliveries_downloads_as_csv() {
    let h = Harness::new(crate::Backend::Embedded).await;
    the_whole_report_downloads_as_csv(&h, ROWS).await;
}

/// The same on DynamoDB Local, over two of the report's pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_the_whole_report_downloads_as_csv() {
    let h = Harness::new(crate::Backend::Dynamo).await;
    the_whole_report_downloads_as_csv(&h, 1200).await;
}

async fn the_report_shows_reads_and_actions(h: &Harness) {
    let (id, deliveries) = big_notification(h, 10).await;
    let status = h
        .call("GET", &format!("/api/notifications/{id}"), None)
        .await;
    assert_eq!(status.body["read"], 1, "{status:?}");
    assert_eq!(status.body["actions"], json!({"approve": 1}));
    let sent = h
        .call(
            "GET",
            &format!("/api/notifications/{id}/deliveries?status=sent&limit=10"),
            None,
        )
        .await;
    let items = sent.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for item in items {
        let first = item["deliveryId"] == deliveries[0].delivery_id.as_str();
        let group = item["deliveryId"] == deliveries[3].delivery_id.as_str();
        // Group chats and channels send no read receipts: unknown, not unread.
        let read = if group { json!(null) } else { json!(first) };
        assert_eq!(item["read"], read, "{item}");
        assert_eq!(item["readAt"].is_string(), first, "{item}");
        let actions = if first {
            json!({"approve": 1})
        } else {
            json!({})
        };
        assert_eq!(item["actions"], actions, "{item}");
        assert!(item["sentAt"].is_string(), "{item}");
        assert!(item["name"].is_string(), "{item}");
    }
}

async fn the_whole_report_downloads_as_csv(h: &Harness, rows: usize) {
    let (id, deliveries) = big_notification(h, rows).await;
    let path = format!("/api/notifications/{id}/deliveries");
    let (status, kind, disposition, text) = csv(h, &path).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"herald-{id}-deliveries.csv\"")
    );
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "deliveryId,recipient,name,conversationType,conversation,status,error,sentAt,read,readAt,actions"
    );
    assert_eq!(lines.len(), rows + 1, "a header and every delivery, once");
    let mut ids: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows);
    let row = |d: &DeliveryRecord| {
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{},", d.delivery_id)))
            .unwrap()
    };
    let first = row(&deliveries[0]);
    assert!(
        first.contains(",\"Bowen, Megan \"\"MB\"\"\",personal,a:chat-00000,sent,,"),
        "{first}"
    );
    assert!(first.ends_with(",approve=1"), "{first}");
    assert!(first.contains(",true,"), "{first}");
    assert!(row(&deliveries[1]).contains(",sent,,"));
    assert!(row(&deliveries[1]).contains(",false,,"));
    let group = row(&deliveries[3]);
    assert!(group.contains(",groupChat,"), "{group}");
    // No read receipts in group chats: the read cell is empty, not false.
    assert!(group.ends_with(",,,"), "{group}");
    assert!(row(&deliveries[rows - 1]).contains(",pending,"));

    // A status filter applies to the download too.
    let (_, _, _, sent) = csv(h, &format!("{path}?status=sent")).await;
    assert_eq!(sent.split_terminator("\r\n").count(), 1 + 4);
}
