//! Conversation references in a local file, with index tables for the type, team, user,
//! conversation, zone and previous-zone lookups.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationKey, ConversationReference,
    ConversationType, TenantId, TimeZone,
};
use redb::{Database, ReadableTable, TableDefinition};

use super::db::{
    DEFAULT_PAGE, SEP, blocking, cursor_after, display_key, invalid, key_range, open_database,
    prefix_end, resume_after, unavailable,
};
use crate::keys::{index_team, index_user, user_key};
use crate::personal::{fold, person_view};
use crate::references::{CREATE_ONLY_FIELDS, point_read, usable, zone_move};
use crate::{
    ListFilter, Page, PageRequest, ReferenceLister, ReferenceReader, ReferenceWriter, SkipReason,
    SkippedItem, StatusOutcome, StatusUpdate, StoreError, UpsertOutcome,
};

/// Primary: `tenant SEP conversation` -> reference JSON.
const REFERENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("references");
/// Index tables: `index key SEP primary key` -> ().
const BY_TYPE: TableDefinition<&str, ()> = TableDefinition::new("byType");
const BY_TEAM: TableDefinition<&str, ()> = TableDefinition::new("byTeam");
const BY_USER: TableDefinition<&str, ()> = TableDefinition::new("byUser");
const BY_CONVERSATION: TableDefinition<&str, ()> = TableDefinition::new("byConversation");
const BY_ZONE: TableDefinition<&str, ()> = TableDefinition::new("byZone");
/// Sparse: references whose zone changed, by the zone key they left.
const BY_PREVIOUS_ZONE: TableDefinition<&str, ()> = TableDefinition::new("byPreviousZone");

/// The file name under the data directory.
pub const REFERENCES_FILE_NAME: &str = "references.redb";

/// Conversation references in a local file.
#[derive(Clone)]
pub struct EmbeddedReferenceStore {
    db: Arc<Database>,
    path: PathBuf,
    bot_app_id: BotAppId,
}

impl std::fmt::Debug for EmbeddedReferenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedReferenceStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn primary(key: &ConversationKey) -> String {
    format!("{}{SEP}{}", key.tenant_id, key.conversation_id)
}

/// The index entries a reference has, as (table, key) pairs.
fn index_entries(
    reference: &ConversationReference,
) -> Vec<(TableDefinition<'static, &'static str, ()>, String)> {
    let primary = primary(&reference.key());
    let mut entries = vec![
        (
            BY_TYPE,
            format!("{}{SEP}{primary}", reference.conversation_type),
        ),
        (
            BY_CONVERSATION,
            format!("{}{SEP}{primary}", reference.conversation_id),
        ),
        (BY_ZONE, format!("{}{SEP}{primary}", reference.zone_key())),
    ];
    if let Some(moved) = &reference.zone_move {
        entries.push((
            BY_PREVIOUS_ZONE,
            format!("{}{SEP}{primary}", moved.previous_zone_key),
        ));
    }
    if let Some(team) = index_team(reference) {
        entries.push((BY_TEAM, format!("{team}{SEP}{primary}")));
    }
    if let Some(user) = index_user(reference) {
        entries.push((
            BY_USER,
            format!("{}{SEP}{primary}", user_key(&reference.tenant_id, user)),
        ));
    }
    entries
}

/// What an upsert stores: the stored reference with every attribute the incoming one carries
/// replaced, except those only a create may set and the zone move, which the store records. This
/// is the DynamoDB update expression applied to JSON, attribute for attribute, so the two stores
/// cannot disagree.
fn merge(
    stored: &ConversationReference,
    incoming: &ConversationReference,
) -> Result<ConversationReference, StoreError> {
    let (incoming_type, incoming_at) = (incoming.conversation_type, incoming.updated_at);
    let (serde_json::Value::Object(mut merged), serde_json::Value::Object(incoming)) = (
        serde_json::to_value(stored).map_err(invalid)?,
        serde_json::to_value(incoming).map_err(invalid)?,
    ) else {
        return Err(StoreError::InvalidData("reference is not an object".into()));
    };
    for (name, value) in incoming {
        if !CREATE_ONLY_FIELDS.contains(&name.as_str()) {
            merged.insert(name, value);
        }
    }
    // As the DynamoDB upsert: a channel or group chat keeps no client zone.
    if incoming_type != ConversationType::Personal {
        merged.remove("timeZone");
    }
    let mut merged: ConversationReference =
        serde_json::from_value(serde_json::Value::Object(merged)).map_err(invalid)?;
    moved(stored, &mut merged, incoming_at);
    Ok(merged)
}

/// Records on `changed` the move from `stored`'s zone key made `at`, if the key changed.
fn moved(stored: &ConversationReference, changed: &mut ConversationReference, at: DateTime<Utc>) {
    if let Some(change) = zone_move(stored.zone_key(), changed.zone_key(), at) {
        changed.zone_move = Some(change);
    }
}

/// Removes a reference's index entries.
fn unindex(
    txn: &redb::WriteTransaction,
    reference: &ConversationReference,
) -> Result<(), StoreError> {
    for (index, entry) in index_entries(reference) {
        txn.open_table(index)
            .map_err(unavailable)?
            .remove(entry.as_str())
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Replaces a reference's index entries.
fn reindex(
    txn: &redb::WriteTransaction,
    old: Option<&ConversationReference>,
    new: &ConversationReference,
) -> Result<(), StoreError> {
    if let Some(old) = old {
        unindex(txn, old)?;
    }
    for (index, entry) in index_entries(new) {
        txn.open_table(index)
            .map_err(unavailable)?
            .insert(entry.as_str(), ())
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Folds the other records of the person `written` (just stored) is a personal reference of
/// into one (see [`crate::personal`]). Returns whether there were any.
fn fold_person(
    txn: &redb::WriteTransaction,
    table: &mut redb::Table<&'static str, &'static [u8]>,
    written: ConversationReference,
) -> Result<bool, StoreError> {
    let Some(user) = index_user(&written) else {
        return Ok(false);
    };
    let prefix = format!("{}{SEP}", user_key(&written.tenant_id, user));
    let end = prefix_end(&prefix);
    let written_key = primary(&written.key());
    let mut others = Vec::new();
    for entry in txn
        .open_table(BY_USER)
        .map_err(unavailable)?
        .range::<&str>(prefix.as_str()..end.as_str())
        .map_err(unavailable)?
    {
        let entry = entry.map_err(unavailable)?;
        let other = &entry.0.value()[prefix.len()..];
        if other == written_key {
            continue;
        }
        let Some(bytes) = table.get(other).map_err(unavailable)? else {
            continue;
        };
        if let Ok(reference) = serde_json::from_slice::<ConversationReference>(bytes.value())
            && reference.bot_app_id == written.bot_app_id
        {
            others.push(reference);
        }
    }
    if others.is_empty() {
        return Ok(false);
    }
    let mut originals = others.clone();
    originals.push(written.clone());
    let folded = fold(written, others);
    for original in &originals {
        table
            .remove(primary(&original.key()).as_str())
            .map_err(unavailable)?;
        unindex(txn, original)?;
    }
    table
        .insert(
            primary(&folded.kept.key()).as_str(),
            encode(&folded.kept)?.as_slice(),
        )
        .map_err(unavailable)?;
    reindex(txn, None, &folded.kept)?;
    Ok(true)
}

fn encode(reference: &ConversationReference) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(reference).map_err(invalid)
}

/// The reference stored under `key` (`display` names it), for a change: one that is not there
/// is not found, and one that cannot be read cannot be changed.
fn read_stored(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
    display: &str,
) -> Result<ConversationReference, StoreError> {
    let Some(bytes) = table.get(key).map_err(unavailable)? else {
        return Err(StoreError::NotFound(display.to_owned()));
    };
    serde_json::from_slice(bytes.value())
        .map_err(|e| StoreError::InvalidData(format!("{display}: {e}")))
}

/// The first `count` keys of `table` within `range`.
fn first_keys<V: redb::Value + 'static>(
    table: &impl ReadableTable<&'static str, V>,
    range: (Bound<&str>, Bound<&str>),
    count: usize,
) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::with_capacity(count.min(DEFAULT_PAGE + 1));
    for entry in table.range::<&str>(range).map_err(unavailable)? {
        if keys.len() == count {
            break;
        }
        keys.push(entry.map_err(unavailable)?.0.value().to_owned());
    }
    Ok(keys)
}

impl EmbeddedReferenceStore {
    /// Opens (or creates) the store under `data_dir`. `bot_app_id` scopes reads as in DynamoDB.
    pub fn open(data_dir: &Path, bot_app_id: BotAppId) -> Result<Self, StoreError> {
        let db = open_database(data_dir, REFERENCES_FILE_NAME, |txn| {
            for table in [
                BY_TYPE,
                BY_TEAM,
                BY_USER,
                BY_CONVERSATION,
                BY_ZONE,
                BY_PREVIOUS_ZONE,
            ] {
                txn.open_table(table)?;
            }
            txn.open_table(REFERENCES)?;
            Ok(())
        })?;
        Ok(Self {
            db: Arc::new(db),
            path: data_dir.join(REFERENCES_FILE_NAME),
            bot_app_id,
        })
    }

    /// The file holding the data.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decodes a stored reference this bot may use, or says why it is skipped.
    fn decode(&self, key: &str, bytes: &[u8]) -> Result<ConversationReference, SkippedItem> {
        let key = display_key(key);
        let reference = serde_json::from_slice(bytes).map_err(|e| SkippedItem {
            key: key.clone(),
            reason: SkipReason::Corrupt(e.to_string()),
        })?;
        usable(reference, &self.bot_app_id, key)
    }

    /// Reads one page of primary keys from `table` (the primary table or an index) within
    /// `prefix`, after `after`, then the references they point to.
    fn read_page(
        &self,
        index: Option<TableDefinition<'static, &'static str, ()>>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        filter: &ListFilter,
        cursor_name: &str,
    ) -> Result<Page<ConversationReference>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let references = txn.open_table(REFERENCES).map_err(unavailable)?;
        let end = (!prefix.is_empty()).then(|| prefix_end(prefix));
        let range = key_range(prefix, after.map(str::to_owned), end);
        let range = (
            range.0.as_ref().map(String::as_str),
            range.1.as_ref().map(String::as_str),
        );
        // Up to `limit + 1` keys, to know whether more follow.
        let mut keys = match index {
            Some(table) => first_keys(
                &txn.open_table(table).map_err(unavailable)?,
                range,
                limit + 1,
            )?,
            None => first_keys(&references, range, limit + 1)?,
        };
        let more = keys.len() > limit;
        keys.truncate(limit);
        let mut page = Page {
            items: Vec::with_capacity(keys.len()),
            next_cursor: None,
            skipped: Vec::new(),
        };
        if more && let Some(last) = keys.last() {
            page.next_cursor = Some(cursor_after(cursor_name, last.clone()));
        }
        for key in keys {
            // Index keys end in the primary key they point to.
            let primary = if index.is_some() {
                &key[prefix.len()..]
            } else {
                &key[..]
            };
            let Some(bytes) = references.get(primary).map_err(unavailable)? else {
                continue;
            };
            page.add(self.decode(primary, bytes.value()), filter);
        }
        Ok(page)
    }
}

#[async_trait]
impl ReferenceReader for EmbeddedReferenceStore {
    async fn get(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let key = primary(key);
        blocking(self, move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(REFERENCES).map_err(unavailable)?;
            let Some(bytes) = table.get(key.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            point_read(this.decode(&key, bytes.value()))
        })
        .await
    }

    async fn find_by_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let prefix = format!("{conversation}{SEP}");
        blocking(self, move |this| {
            let page = this.read_page(
                Some(BY_CONVERSATION),
                &prefix,
                None,
                DEFAULT_PAGE,
                &ListFilter::all(),
                "byConversation",
            )?;
            Ok(page.items.into_iter().next())
        })
        .await
    }

    async fn find_personal(
        &self,
        tenant: &TenantId,
        user: &AadObjectId,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let prefix = format!("{}{SEP}", user_key(tenant, user));
        blocking(self, move |this| {
            let page = this.read_page(
                Some(BY_USER),
                &prefix,
                None,
                // A user has one personal conversation per bot; a few after app-id changes.
                DEFAULT_PAGE,
                &ListFilter::all(),
                "byUser",
            )?;
            Ok(person_view(page.items))
        })
        .await
    }
}

#[async_trait]
impl ReferenceWriter for EmbeddedReferenceStore {
    async fn upsert(&self, reference: &ConversationReference) -> Result<UpsertOutcome, StoreError> {
        reference.validate().map_err(invalid)?;
        let mut incoming = reference.clone();
        // The store records zone moves; a caller's is not taken (as `ZONE_MOVE_FIELDS` on
        // DynamoDB).
        incoming.zone_move = None;
        // As the DynamoDB upsert: a channel or group chat keeps no client zone.
        if incoming.conversation_type != ConversationType::Personal {
            incoming.time_zone = None;
        }
        blocking(self, move |this| {
            let key = primary(&incoming.key());
            let txn = this.db.begin_write().map_err(unavailable)?;
            let outcome = {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let existing = table
                    .get(key.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value().to_vec());
                // An unreadable stored item is replaced, as on DynamoDB.
                let stored = existing
                    .as_deref()
                    .and_then(|bytes| serde_json::from_slice::<ConversationReference>(bytes).ok());
                if let Some(stored) = &stored {
                    let newer_stored = stored.updated_at.timestamp_millis()
                        > incoming.updated_at.timestamp_millis();
                    if newer_stored && stored.bot_app_id == incoming.bot_app_id {
                        return Ok(UpsertOutcome::Stale);
                    }
                }
                let merged = stored
                    .as_ref()
                    .map_or_else(|| Ok(incoming.clone()), |s| merge(s, &incoming))?;
                table
                    .insert(key.as_str(), encode(&merged)?.as_slice())
                    .map_err(unavailable)?;
                reindex(&txn, stored.as_ref(), &merged)?;
                let folded = fold_person(&txn, &mut table, merged)?;
                if existing.is_some() || folded {
                    UpsertOutcome::Updated
                } else {
                    UpsertOutcome::Created
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(outcome)
        })
        .await
    }

    async fn set_status(
        &self,
        key: &ConversationKey,
        update: &StatusUpdate,
    ) -> Result<StatusOutcome, StoreError> {
        let (key, display, update) = (primary(key), key.to_string(), update.clone());
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let outcome = {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let mut stored = read_stored(&table, &key, &display)?;
                if stored.status_changed_at.timestamp_millis() > update.at.timestamp_millis() {
                    return Ok(StatusOutcome::Stale);
                }
                let previous = stored.status;
                stored.status = update.status;
                stored.status_changed_at = update.at;
                stored.status_reason = update.reason;
                table
                    .insert(key.as_str(), encode(&stored)?.as_slice())
                    .map_err(unavailable)?;
                StatusOutcome::Applied { previous }
            };
            txn.commit().map_err(unavailable)?;
            Ok(outcome)
        })
        .await
    }

    async fn set_time_zone_override(
        &self,
        key: &ConversationKey,
        zone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (key, display) = (primary(key), key.to_string());
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let stored = read_stored(&table, &key, &display)?;
                let mut changed = stored.clone();
                changed.time_zone_override = zone;
                moved(&stored, &mut changed, at);
                table
                    .insert(key.as_str(), encode(&changed)?.as_slice())
                    .map_err(unavailable)?;
                reindex(&txn, Some(&stored), &changed)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete(&self, key: &ConversationKey) -> Result<bool, StoreError> {
        let key = primary(key);
        blocking(self, move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let existed = {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let removed = table
                    .remove(key.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value().to_vec());
                if let Some(stored) = removed
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<ConversationReference>(b).ok())
                {
                    unindex(&txn, &stored)?;
                }
                removed.is_some()
            };
            txn.commit().map_err(unavailable)?;
            Ok(existed)
        })
        .await
    }
}

#[async_trait]
impl ReferenceLister for EmbeddedReferenceStore {
    async fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<ConversationReference>, StoreError> {
        let (index, prefix, cursor_name) = if let Some(zone) = &filter.zone {
            (Some(BY_ZONE), format!("{zone}{SEP}"), "byZone")
        } else if let Some(zone) = &filter.previous_zone {
            (
                Some(BY_PREVIOUS_ZONE),
                format!("{zone}{SEP}"),
                "byPreviousZone",
            )
        } else if let Some(team) = &filter.team {
            (Some(BY_TEAM), format!("{team}{SEP}"), "byTeam")
        } else if let Some(tenant) = &filter.tenant {
            (None, format!("{tenant}{SEP}"), "tenant")
        } else if let Some(kind) = filter.conversation_type {
            (Some(BY_TYPE), format!("{kind}{SEP}"), "byType")
        } else {
            (None, String::new(), "scan")
        };
        let after = resume_after(page.cursor.as_ref(), cursor_name, &prefix)?;
        let limit = page
            .limit
            .map_or(DEFAULT_PAGE, |l| l.clamp(1, 10_000) as usize);
        let filter = filter.clone();
        blocking(self, move |this| {
            this.read_page(
                index,
                &prefix,
                after.as_deref(),
                limit,
                &filter,
                cursor_name,
            )
        })
        .await
    }
}
