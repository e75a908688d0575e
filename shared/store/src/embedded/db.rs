//! What the embedded stores share: opening a `redb` file, error mapping, running redb work off
//! the async runtime, JSON records, and key ranges and cursors over string keys.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use redb::{Database, ReadableTable, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Cursor, Page, SkipReason, SkippedItem, StoreError};

/// Separates the parts of a composite key. Ids never contain control characters (the domain
/// rejects them), so this cannot collide.
pub(super) const SEP: char = '\u{1f}';
/// The character after [`SEP`], to end a prefix range.
const SEP_END: char = '\u{20}';
/// Page size when the caller sets no limit.
pub(super) const DEFAULT_PAGE: usize = 1000;

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidData(e.to_string())
}

/// Opens (or creates) `file_name` under `data_dir`, creating the tables `create_tables` opens,
/// so that readers never find a table missing.
pub(super) fn open_database(
    data_dir: &Path,
    file_name: &str,
    create_tables: impl FnOnce(&WriteTransaction) -> Result<(), redb::TableError>,
) -> Result<Database, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(unavailable)?;
    let db = Database::create(data_dir.join(file_name)).map_err(unavailable)?;
    let txn = db.begin_write().map_err(unavailable)?;
    create_tables(&txn).map_err(unavailable)?;
    txn.commit().map_err(unavailable)?;
    Ok(db)
}

/// Runs blocking database work (redb transactions, fsync on commit) on the blocking pool.
pub(super) async fn blocking<S, T>(
    store: &S,
    work: impl FnOnce(&S) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError>
where
    S: Clone + Send + 'static,
    T: Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(&store))
        .await
        .map_err(unavailable)?
}

/// A JSON record by key, decoded.
pub(super) fn read_json<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    table
        .get(key)
        .map_err(unavailable)?
        .map(|v| serde_json::from_slice(v.value()).map_err(invalid))
        .transpose()
}

/// Stores a record as JSON under `key`.
pub(super) fn write_json<T: Serialize>(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(invalid)?;
    table.insert(key, bytes.as_slice()).map_err(unavailable)?;
    Ok(())
}

/// A composite key as errors and skip reports show it.
pub(super) fn display_key(key: &str) -> String {
    key.replace(SEP, "/")
}

/// The end (exclusive) of the keys that start with `prefix`, a prefix ending in [`SEP`].
pub(super) fn prefix_end(prefix: &str) -> String {
    format!("{}{SEP_END}", &prefix[..prefix.len() - SEP.len_utf8()])
}

/// A cursor that continues `listing` after `key`.
pub(super) fn cursor_after(listing: &str, key: String) -> Cursor {
    Cursor::encode(listing, BTreeMap::from([("k".to_owned(), key)]))
}

/// Where a listing continues: the key a cursor of `listing` carries, which must lie within
/// `prefix` (the keys the listing reads).
pub(super) fn resume_after(
    cursor: Option<&Cursor>,
    listing: &str,
    prefix: &str,
) -> Result<Option<String>, StoreError> {
    cursor
        .map(|c| {
            c.decode(listing)?
                .remove("k")
                .filter(|k| k.starts_with(prefix))
                .ok_or_else(|| StoreError::InvalidCursor("not for this listing".into()))
        })
        .transpose()
}

/// The range of keys after `after` (or from `prefix` on) up to `end`.
pub(super) fn key_range(
    prefix: &str,
    after: Option<String>,
    end: Option<String>,
) -> (Bound<String>, Bound<String>) {
    let start = after.map_or_else(|| Bound::Included(prefix.to_owned()), Bound::Excluded);
    (start, end.map_or(Bound::Unbounded, Bound::Excluded))
}

/// One page of JSON records within `range`, in key order: at most `limit` entries read, those
/// `keep` accepts returned, unreadable ones reported, and a cursor of `listing` if more follow.
pub(super) fn json_page<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    range: &(Bound<String>, Bound<String>),
    limit: usize,
    listing: &str,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T>, StoreError> {
    let range = (
        range.0.as_ref().map(String::as_str),
        range.1.as_ref().map(String::as_str),
    );
    let mut page = Page {
        items: Vec::new(),
        next_cursor: None,
        skipped: Vec::new(),
    };
    let mut last = None;
    for (read, entry) in table.range::<&str>(range).map_err(unavailable)?.enumerate() {
        let (key, value) = entry.map_err(unavailable)?;
        if read == limit {
            page.next_cursor = last.take().map(|k| cursor_after(listing, k));
            break;
        }
        last = Some(key.value().to_owned());
        match serde_json::from_slice::<T>(value.value()) {
            Ok(record) if keep(&record) => page.items.push(record),
            Ok(_) => {}
            Err(e) => page.skipped.push(SkippedItem {
                key: display_key(key.value()),
                reason: SkipReason::Corrupt(e.to_string()),
            }),
        }
    }
    Ok(page)
}
