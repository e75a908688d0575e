//! A notification's deliveries, page by page, over its buckets
//! ([`crate::keys::DELIVERY_BUCKETS`]): a page queries every bucket not yet read to the end at
//! once, each for its share of the page (and again, the buckets that had more, while the page
//! has room), so a page costs a round trip or two and reads little more than it returns. The
//! cursor holds where each bucket stands.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use herald_domain::DeliveryStatus;

use super::error::map_sdk_error;
use super::item::{Item, ItemExt, key, s};
use super::outbox::DynamoOutboxStore;
use crate::keys::{DELIVERY_BUCKETS, bucket_partition};
use crate::schema::{DELIVERY_SK_PREFIX, attr};
use crate::{Cursor, DeliveryRecord, NotificationId, Page, PageRequest, StoreError};

/// The listing name in the cursors of `list_deliveries`.
const DELIVERY_LISTING: &str = "deliveries";
/// Rounds of queries one page makes at most: a bucket holding more than its share gets another
/// query while the page has room; a status filter that matches few items may end a page short
/// (its cursor goes on).
const ROUNDS: usize = 4;

/// Where one bucket's listing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    Start,
    /// After the delivery with this sort key.
    After(String),
    Done,
}

/// A cursor names each bucket already started: `{bucket}` → the sort key it stopped after, or
/// empty once it is read to the end (sort keys are never empty).
fn positions(cursor: Option<&Cursor>) -> Result<Vec<Position>, StoreError> {
    let mut positions = vec![Position::Start; DELIVERY_BUCKETS as usize];
    let Some(cursor) = cursor else {
        return Ok(positions);
    };
    for (bucket, after) in cursor.decode(DELIVERY_LISTING)? {
        let slot = bucket
            .parse::<usize>()
            .ok()
            .and_then(|b| positions.get_mut(b))
            .ok_or_else(|| StoreError::InvalidCursor("not a delivery listing's cursor".into()))?;
        *slot = if after.is_empty() {
            Position::Done
        } else {
            Position::After(after)
        };
    }
    Ok(positions)
}

fn cursor_of(positions: &[Position]) -> Option<Cursor> {
    if positions.iter().all(|p| *p == Position::Done) {
        return None;
    }
    let key: BTreeMap<String, String> = positions
        .iter()
        .enumerate()
        .filter_map(|(bucket, position)| match position {
            Position::Start => None,
            Position::After(sk) => Some((bucket.to_string(), sk.clone())),
            Position::Done => Some((bucket.to_string(), String::new())),
        })
        .collect();
    Some(Cursor::encode(DELIVERY_LISTING, key))
}

impl DynamoOutboxStore {
    pub(super) async fn deliveries_page(
        &self,
        notification: &NotificationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let before = positions(page.cursor.as_ref())?;
        let mut positions = before.clone();
        let limit = page.limit.map(|l| l.clamp(1, 1000) as usize);
        let mut taken: Vec<Vec<Item>> = vec![Vec::new(); positions.len()];
        for _ in 0..ROUNDS {
            let open: Vec<usize> = (0..positions.len())
                .filter(|b| positions[*b] != Position::Done)
                .collect();
            let wanted = limit.map(|l| l.saturating_sub(taken.iter().map(Vec::len).sum()));
            if open.is_empty() || wanted == Some(0) {
                break;
            }
            // Each open bucket's share of what the page still wants (DynamoDB's `Limit`).
            let share = wanted.map(|w| w.div_ceil(open.len()));
            let queries = open.iter().map(|&bucket| {
                let pk = bucket_partition(notification.as_str(), bucket as u32);
                let start = match &positions[bucket] {
                    Position::After(sk) => Some(key(&pk, sk)),
                    _ => None,
                };
                self.bucket_query(pk, start, status, share)
            });
            let answers = futures::future::try_join_all(queries).await?;
            for (bucket, (items, last)) in open.into_iter().zip(answers) {
                taken[bucket].extend(items);
                positions[bucket] = last
                    .and_then(|key| key.get_s(attr::SK).map(|sk| Position::After(sk.to_owned())))
                    .unwrap_or(Position::Done);
            }
            if limit.is_none() {
                // Unlimited: one query per bucket (up to 1 MB each), as DynamoDB pages.
                break;
            }
        }
        // The page in bucket order, cut at the limit: a bucket cut short resumes after its last
        // item on the page (or where it stood, when none made it).
        let mut result = Page {
            items: Vec::new(),
            next_cursor: None,
            skipped: Vec::new(),
        };
        let mut room = limit.unwrap_or(usize::MAX);
        for (bucket, items) in taken.into_iter().enumerate() {
            let cut = items.len() > room;
            let kept = &items[..items.len().min(room)];
            room -= kept.len();
            if cut {
                positions[bucket] = kept
                    .last()
                    .and_then(|item| item.get_s(attr::SK))
                    .map_or_else(
                        || before[bucket].clone(),
                        |sk| Position::After(sk.to_owned()),
                    );
            }
            for item in kept.iter().cloned() {
                let key = item.get_s(attr::SK).unwrap_or("?").to_owned();
                match item.decode(key) {
                    Ok(record) => result.items.push(record),
                    Err(skipped) => result.skipped.push(skipped),
                }
            }
        }
        result.next_cursor = cursor_of(&positions);
        Ok(result)
    }

    /// One bucket's items from `start` on, and the key it stopped at if it has more.
    async fn bucket_query(
        &self,
        pk: String,
        start: Option<Item>,
        status: Option<DeliveryStatus>,
        limit: Option<usize>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            // Strongly consistent: an edit lists the copies sent before its revision, and a
            // sender's check after recording a copy relies on the editor seeing it.
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", s(DELIVERY_SK_PREFIX))
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(1000)));
        if let Some(status) = status {
            request = request
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(status.as_str()));
        }
        let output = request.send().await.map_err(map_sdk_error)?;
        let last = output.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((output.items.unwrap_or_default(), last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_holds_where_each_bucket_stands() {
        let mut standing = vec![Position::Start; DELIVERY_BUCKETS as usize];
        standing[0] = Position::Done;
        standing[3] = Position::After("d#t|19:c".into());
        let cursor = cursor_of(&standing).unwrap();
        assert_eq!(positions(Some(&cursor)).unwrap(), standing);
        assert_eq!(positions(None).unwrap()[5], Position::Start);
        assert!(cursor_of(&vec![Position::Done; DELIVERY_BUCKETS as usize]).is_none());
        let foreign = Cursor::encode(
            DELIVERY_LISTING,
            BTreeMap::from([("16".into(), "x".into())]),
        );
        assert!(matches!(
            positions(Some(&foreign)),
            Err(StoreError::InvalidCursor(_))
        ));
        let other = Cursor::encode("schedules", BTreeMap::new());
        assert!(positions(Some(&other)).is_err());
    }
}
