//! Query strings: decoded once, every bad value answered with 400 naming its parameter.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::http::StatusCode;
use herald_store::{Cursor, Page, PageRequest};
use serde_json::{Value, json};

use herald_http::{ApiError, Reply};

use crate::error::invalid as invalid_field;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` accepted: a page must fit an API Gateway answer (6 MB) with room to spare.
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default)]
pub(crate) struct Query(BTreeMap<String, String>);

fn invalid(name: &str, message: String) -> ApiError {
    invalid_field("InvalidParameter", name, message)
}

impl Query {
    pub(crate) fn parse(raw: &str) -> Result<Self, ApiError> {
        let mut params = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            if params.insert(name.to_string(), value.to_string()).is_some() {
                return Err(invalid(&name, format!("{name} is given more than once")));
            }
        }
        Ok(Self(params))
    }

    /// Refuses parameters the route does not know, so a misspelt filter is not silently ignored.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(invalid(
                unknown,
                format!(
                    "unknown parameter {unknown} (expected {})",
                    known.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// The value of `name`, if given and not empty (`?status=` means no filter).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn value<T: FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    invalid(
                        name,
                        format!("{name}={v:?} is not valid: expected {expected}"),
                    )
                })
            })
            .transpose()
    }

    /// A number from 1 to `max` named `name`, `default` when it is not given.
    pub(crate) fn bounded(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        let number = self
            .value::<u32>(name, &format!("a number from 1 to {max}"))?
            .unwrap_or(default);
        if !(1..=max).contains(&number) {
            return Err(invalid(
                name,
                format!("{name}={number} is not valid: expected a number from 1 to {max}"),
            ));
        }
        Ok(number)
    }

    /// A listing that takes `cursor` and `limit` and nothing else.
    pub(crate) fn page_only(&self) -> Result<PageRequest, ApiError> {
        self.only(&["cursor", "limit"])?;
        self.page()
    }

    /// `cursor` and `limit`.
    pub(crate) fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.bounded("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
        Ok(PageRequest {
            cursor: self.get("cursor").map(Cursor::from_client),
            limit: Some(limit),
        })
    }
}

/// A listing's answer, `{items, nextCursor}`; items the store could not read are logged, not
/// shown, so one corrupt item does not hide the rest.
pub(crate) fn page_reply<T>(listing: &str, page: &Page<T>, item: impl Fn(&T) -> Value) -> Reply {
    page_reply_where(listing, page, |_| true, item)
}

/// [`page_reply`] keeping only the items `keep` accepts (those a tenant-limited key may see);
/// the cursor still follows the whole page, so a page may come back short or empty.
pub(crate) fn page_reply_where<T>(
    listing: &str,
    page: &Page<T>,
    keep: impl Fn(&T) -> bool,
    item: impl Fn(&T) -> Value,
) -> Reply {
    if !page.skipped.is_empty() {
        tracing::warn!(
            skipped = page.skipped.len(),
            listing,
            "a listing skipped unreadable items"
        );
    }
    let items: Vec<Value> = page.items.iter().filter(|i| keep(i)).map(item).collect();
    Reply::json(
        StatusCode::OK,
        json!({"items": items, "nextCursor": page.next_cursor}),
    )
}
