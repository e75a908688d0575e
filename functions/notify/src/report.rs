//! The deliveries report as people ask for it: each delivery's recipient, outcome, read state and
//! actions, as JSON items, or the whole report as CSV (`Accept: text/csv`), streamed page by page
//! (RFC 4180 quoting; cells that a spreadsheet would run as a formula are prefixed with `'`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_domain::{ConversationType, DeliveryStatus};
use herald_store::{DeliveryRecord, NotificationId, PageRequest};
use serde_json::{Value, json};

use crate::Notify;

/// Deliveries read per page while streaming a CSV report.
const CSV_PAGE: u32 = 1000;

/// The CSV report's columns.
const COLUMNS: [&str; 11] = [
    "deliveryId",
    "recipient",
    "name",
    "conversationType",
    "conversation",
    "status",
    "error",
    "sentAt",
    "read",
    "readAt",
    "actions",
];

/// Whether the client asked for CSV.
pub(crate) fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

/// Whether the copy was read: `null` where Teams sends no read receipts (channels, group chats).
fn read(d: &DeliveryRecord) -> Value {
    match d.conversation_type {
        ConversationType::Personal => json!(d.read_at.is_some()),
        _ => Value::Null,
    }
}

/// One delivery in the JSON report.
pub(crate) fn delivery_json(d: &DeliveryRecord) -> Value {
    json!({
        "deliveryId": d.delivery_id,
        "tenantId": d.tenant_id,
        "conversationId": d.conversation_id,
        "conversationType": d.conversation_type,
        "recipient": d.recipient,
        "memberId": d.member_id,
        "name": d.name,
        "status": d.status,
        "attempts": d.attempts,
        "activityId": d.activity_id,
        "error": d.error,
        "installDeadline": d.install_deadline,
        "notBefore": d.not_before,
        "lostAttempts": d.lost_attempts,
        "sentAt": d.sent_at,
        "read": read(d),
        "readAt": d.read_at,
        "actions": d.actions,
        "updatedAt": d.updated_at,
    })
}

/// A CSV cell: quoted when it holds a separator, a quote or a line break; a leading `=`, `+`,
/// `-`, `@` (a formula to a spreadsheet) gets a `'` first.
fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One delivery as a CSV line.
fn csv_line(d: &DeliveryRecord) -> String {
    let recipient = d
        .recipient
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| d.member_id.as_ref().map(ToString::to_string))
        .unwrap_or_default();
    let read = match read(d) {
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        _ => "",
    };
    let actions: Vec<String> = d.actions.iter().map(|(v, n)| format!("{v}={n}")).collect();
    let cells = [
        d.delivery_id.to_string(),
        recipient,
        d.name.clone().unwrap_or_default(),
        d.conversation_type.as_str().to_owned(),
        d.conversation_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        d.status.as_str().to_owned(),
        d.error.clone().unwrap_or_default(),
        d.sent_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        read.to_owned(),
        d.read_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        actions.join(";"),
    ];
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Where the CSV stream stands.
enum Next {
    Header,
    Page(Option<herald_store::Cursor>),
    Done,
}

/// The whole report of `id` (deliveries of `status`, or all) as a streamed CSV download.
pub(crate) fn csv(
    notify: Arc<Notify>,
    id: NotificationId,
    status: Option<DeliveryStatus>,
) -> Response {
    let file = format!("attachment; filename=\"herald-{id}-deliveries.csv\"");
    let stream = futures::stream::unfold(Next::Header, move |at| {
        let (notify, id) = (notify.clone(), id.clone());
        async move {
            let cursor = match at {
                Next::Done => return None,
                Next::Header => {
                    let header = format!("{}\r\n", COLUMNS.join(","));
                    return Some((Ok(Bytes::from(header)), Next::Page(None)));
                }
                Next::Page(cursor) => cursor,
            };
            let request = PageRequest {
                cursor,
                limit: Some(CSV_PAGE),
            };
            match notify.outbox.list_deliveries(&id, status, &request).await {
                Ok(page) => {
                    let chunk: String = page.items.iter().map(csv_line).collect();
                    let next = page.next_cursor.map_or(Next::Done, |c| Next::Page(Some(c)));
                    Some((Ok(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    // The status line is gone already: the download ends short, and says why.
                    tracing::error!(error = %e, notification = %id, "CSV report cut short");
                    Some((Err(std::io::Error::other(e.to_string())), Next::Done))
                }
            }
        }
    });
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn accept_headers_ask_for_csv() {
        let mut headers = HeaderMap::new();
        assert!(!wants_csv(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_csv(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;q=0.5, TEXT/CSV;q=1"),
        );
        assert!(wants_csv(&headers));
    }
}
