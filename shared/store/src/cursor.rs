use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// An opaque paging cursor. Callers pass it back unchanged; the store checks that it was issued
/// for the same listing (index) before using it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor received from a client; it is validated when used.
    #[must_use]
    pub fn from_client(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn encode(index: &str, key: BTreeMap<String, String>) -> Self {
        let body = CursorBody {
            index: index.to_owned(),
            key,
        };
        // Serialising a map of strings cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    pub(crate) fn decode(&self, index: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let invalid = |why: &str| StoreError::InvalidCursor(why.to_owned());
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| invalid("not base64url"))?;
        let body: CursorBody =
            serde_json::from_slice(&bytes).map_err(|_| invalid("not a Herald cursor"))?;
        if body.index != index {
            return Err(invalid("issued for a different listing"));
        }
        Ok(body.key)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Serialize, Deserialize)]
struct CursorBody {
    #[serde(rename = "i")]
    index: String,
    #[serde(rename = "k")]
    key: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_cursors() {
        let key = BTreeMap::from([("pk".to_owned(), "t".to_owned())]);
        let cursor = Cursor::encode("byTeam", key.clone());
        assert_eq!(cursor.decode("byTeam").unwrap(), key);
        assert!(matches!(
            cursor.decode("table"),
            Err(StoreError::InvalidCursor(_))
        ));
        for garbage in ["", "%%%", "bm90IGpzb24"] {
            assert!(Cursor::from_client(garbage).decode("table").is_err());
        }
    }
}
