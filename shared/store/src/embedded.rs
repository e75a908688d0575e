//! The embedded store for the local runner and fast tests: one `redb` file under a data
//! directory, so installations survive a restart without any server. Index tables mirror the
//! DynamoDB indexes, so listings read only what they return here too.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::redb_util::unavailable;
use async_trait::async_trait;
use herald_domain::{
    AadObjectId, BotAppId, ConversationId, ConversationKey, ConversationReference, TenantId,
    TimeZone,
};
use redb::{Database, ReadableTable, TableDefinition};

use crate::dynamo::{CREATE_ONLY, best_personal, index_team, index_user, user_key};
use crate::{
    Cursor, ListFilter, Page, PageRequest, ReferenceLister, ReferenceReader, ReferenceWriter,
    SkipReason, SkippedItem, StatusOutcome, StatusUpdate, StoreError, UpsertOutcome,
};

/// Primary: `tenant SEP conversation` -> reference JSON.
const REFERENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("references");
/// Index tables: `index key SEP primary key` -> ().
const BY_TYPE: TableDefinition<&str, ()> = TableDefinition::new("byType");
const BY_TEAM: TableDefinition<&str, ()> = TableDefinition::new("byTeam");
const BY_USER: TableDefinition<&str, ()> = TableDefinition::new("byUser");
const BY_CONVERSATION: TableDefinition<&str, ()> = TableDefinition::new("byConversation");
const BY_ZONE: TableDefinition<&str, ()> = TableDefinition::new("byZone");

/// Ids never contain control characters (the domain rejects them), so this cannot collide.
const SEP: char = '\u{1f}';
/// The character after `SEP`, to end a prefix range.
const SEP_END: char = '\u{20}';
/// Page size when the caller sets no limit.
const DEFAULT_PAGE: usize = 1000;

/// The file name under the data directory.
pub const FILE_NAME: &str = "references.redb";

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
/// replaced, except those only a create may set. This is the DynamoDB update expression applied
/// to JSON, attribute for attribute, so the two stores cannot disagree.
fn merge(
    stored: &ConversationReference,
    incoming: &ConversationReference,
) -> Result<ConversationReference, StoreError> {
    let invalid = |e: serde_json::Error| StoreError::InvalidData(e.to_string());
    let (serde_json::Value::Object(mut merged), serde_json::Value::Object(incoming)) = (
        serde_json::to_value(stored).map_err(invalid)?,
        serde_json::to_value(incoming).map_err(invalid)?,
    ) else {
        return Err(StoreError::InvalidData("reference is not an object".into()));
    };
    for (name, value) in incoming {
        if !CREATE_ONLY.contains(&name.as_str()) {
            merged.insert(name, value);
        }
    }
    serde_json::from_value(serde_json::Value::Object(merged)).map_err(invalid)
}

/// Replaces a reference's index entries.
fn reindex(
    txn: &redb::WriteTransaction,
    old: Option<&ConversationReference>,
    new: &ConversationReference,
) -> Result<(), StoreError> {
    for (index, entry) in old.into_iter().flat_map(index_entries) {
        txn.open_table(index)
            .map_err(unavailable)?
            .remove(entry.as_str())
            .map_err(unavailable)?;
    }
    for (index, entry) in index_entries(new) {
        txn.open_table(index)
            .map_err(unavailable)?
            .insert(entry.as_str(), ())
            .map_err(unavailable)?;
    }
    Ok(())
}

fn encode(reference: &ConversationReference) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(reference).map_err(|e| StoreError::InvalidData(e.to_string()))
}

impl EmbeddedReferenceStore {
    /// Opens (or creates) the store under `data_dir`. `bot_app_id` scopes reads as in DynamoDB.
    pub fn open(data_dir: &Path, bot_app_id: BotAppId) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(unavailable)?;
        let path = data_dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        for table in [BY_TYPE, BY_TEAM, BY_USER, BY_CONVERSATION, BY_ZONE] {
            txn.open_table(table).map_err(unavailable)?;
        }
        txn.open_table(REFERENCES).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self {
            db: Arc::new(db),
            path,
            bot_app_id,
        })
    }

    /// The file holding the data.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        crate::redb_util::blocking(self, work).await
    }

    fn decode(&self, key: &str, bytes: &[u8]) -> Result<ConversationReference, SkippedItem> {
        let skipped = |reason| SkippedItem {
            key: key.replace(SEP, "/"),
            reason,
        };
        let reference: ConversationReference = serde_json::from_slice(bytes)
            .map_err(|e| skipped(SkipReason::Corrupt(e.to_string())))?;
        if reference.bot_app_id != self.bot_app_id {
            return Err(skipped(SkipReason::ForeignBot(
                reference.bot_app_id.into_inner(),
            )));
        }
        Ok(reference)
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
        let end = if prefix.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(format!(
                "{}{SEP_END}",
                &prefix[..prefix.len() - SEP.len_utf8()]
            ))
        };
        let start = match after {
            Some(after) => Bound::Excluded(after.to_owned()),
            None => Bound::Included(prefix.to_owned()),
        };
        let range = (
            start.as_ref().map(String::as_str),
            end.as_ref().map(String::as_str),
        );
        // (position key, primary key) of up to `limit + 1` entries, to know whether more follow.
        let mut keys: Vec<(String, String)> = Vec::with_capacity(limit.min(DEFAULT_PAGE) + 1);
        match index {
            Some(table) => {
                let table = txn.open_table(table).map_err(unavailable)?;
                for entry in table.range::<&str>(range).map_err(unavailable)? {
                    let (key, _) = entry.map_err(unavailable)?;
                    let key = key.value().to_owned();
                    let primary = key[prefix.len()..].to_owned();
                    keys.push((key, primary));
                    if keys.len() > limit {
                        break;
                    }
                }
            }
            None => {
                for entry in references.range::<&str>(range).map_err(unavailable)? {
                    let (key, _) = entry.map_err(unavailable)?;
                    let key = key.value().to_owned();
                    keys.push((key.clone(), key));
                    if keys.len() > limit {
                        break;
                    }
                }
            }
        }
        let more = keys.len() > limit;
        keys.truncate(limit);
        let mut page = Page {
            items: Vec::with_capacity(keys.len()),
            next_cursor: None,
            skipped: Vec::new(),
        };
        if more && let Some((last, _)) = keys.last() {
            page.next_cursor = Some(Cursor::encode(
                cursor_name,
                BTreeMap::from([("k".to_owned(), last.clone())]),
            ));
        }
        for (_, primary) in keys {
            let Some(bytes) = references.get(primary.as_str()).map_err(unavailable)? else {
                continue;
            };
            match self.decode(&primary, bytes.value()) {
                Ok(reference) if filter.matches(&reference) => page.items.push(reference),
                Ok(_) => {}
                Err(skipped) => {
                    tracing::warn!(key = %skipped.key, reason = ?skipped.reason, "skipping stored reference");
                    page.skipped.push(skipped);
                }
            }
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
        self.blocking(move |this| {
            let txn = this.db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(REFERENCES).map_err(unavailable)?;
            let Some(bytes) = table.get(key.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            match this.decode(&key, bytes.value()) {
                Ok(reference) => Ok(Some(reference)),
                Err(SkippedItem {
                    reason: SkipReason::ForeignBot(_),
                    ..
                }) => Ok(None),
                Err(SkippedItem {
                    key,
                    reason: SkipReason::Corrupt(why),
                }) => Err(StoreError::InvalidData(format!("{key}: {why}"))),
            }
        })
        .await
    }

    async fn find_by_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let prefix = format!("{conversation}{SEP}");
        self.blocking(move |this| {
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
        self.blocking(move |this| {
            let page = this.read_page(
                Some(BY_USER),
                &prefix,
                None,
                // A user has one personal conversation per bot; a few after app-id changes.
                DEFAULT_PAGE,
                &ListFilter::all(),
                "byUser",
            )?;
            Ok(best_personal(page.items))
        })
        .await
    }
}

#[async_trait]
impl ReferenceWriter for EmbeddedReferenceStore {
    async fn upsert(&self, reference: &ConversationReference) -> Result<UpsertOutcome, StoreError> {
        reference
            .validate()
            .map_err(|e| StoreError::InvalidData(e.to_string()))?;
        let incoming = reference.clone();
        self.blocking(move |this| {
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
                if existing.is_some() {
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
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            let outcome = {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let Some(bytes) = table
                    .get(key.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value().to_vec())
                else {
                    return Err(StoreError::NotFound(display));
                };
                let mut stored: ConversationReference = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::InvalidData(format!("{display}: {e}")))?;
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
    ) -> Result<(), StoreError> {
        let (key, display) = (primary(key), key.to_string());
        self.blocking(move |this| {
            let txn = this.db.begin_write().map_err(unavailable)?;
            {
                let mut table = txn.open_table(REFERENCES).map_err(unavailable)?;
                let Some(bytes) = table
                    .get(key.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value().to_vec())
                else {
                    return Err(StoreError::NotFound(display));
                };
                let stored: ConversationReference = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::InvalidData(format!("{display}: {e}")))?;
                let mut changed = stored.clone();
                changed.time_zone_override = zone;
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
        self.blocking(move |this| {
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
                    for (index, entry) in index_entries(&stored) {
                        txn.open_table(index)
                            .map_err(unavailable)?
                            .remove(entry.as_str())
                            .map_err(unavailable)?;
                    }
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
        } else if let Some(team) = &filter.team {
            (Some(BY_TEAM), format!("{team}{SEP}"), "byTeam")
        } else if let Some(tenant) = &filter.tenant {
            (None, format!("{tenant}{SEP}"), "tenant")
        } else if let Some(kind) = filter.conversation_type {
            (Some(BY_TYPE), format!("{kind}{SEP}"), "byType")
        } else {
            (None, String::new(), "scan")
        };
        let after = match &page.cursor {
            Some(cursor) => {
                let position = cursor
                    .decode(cursor_name)?
                    .remove("k")
                    .filter(|k| k.starts_with(&prefix))
                    .ok_or_else(|| StoreError::InvalidCursor("not for this listing".into()))?;
                Some(position)
            }
            None => None,
        };
        let limit = page
            .limit
            .map_or(DEFAULT_PAGE, |l| l.clamp(1, 10_000) as usize);
        let filter = filter.clone();
        self.blocking(move |this| {
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
