//! What the three embedded stores share: error mapping and running redb work off the runtime.

use crate::StoreError;

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidData(e.to_string())
}

/// Runs blocking database work (redb transactions, fsync on commit) on the blocking pool.
pub(crate) async fn blocking<S, T>(
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
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    table: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    table
        .get(key)
        .map_err(unavailable)?
        .map(|v| serde_json::from_slice(v.value()).map_err(invalid))
        .transpose()
}

/// Stores a record as JSON under `key`.
pub(crate) fn write_json<T: serde::Serialize>(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(invalid)?;
    table.insert(key, bytes.as_slice()).map_err(unavailable)?;
    Ok(())
}
