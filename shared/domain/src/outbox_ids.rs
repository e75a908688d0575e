//! Ids Herald mints for its own records: notifications, their deliveries, and schedules. Each is
//! a validated string newtype (like the Teams ids in `ids.rs`), so a delivery id cannot be passed
//! where a notification id is meant, and an id read back from storage or a URL is checked once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{AadObjectId, ConversationId, DomainError, TenantId, UserId};

/// `Display`, `as_str` and a `Deserialize` that validates through `parse`.
macro_rules! validated_id {
    ($name:ident) => {
        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The UUIDv5 namespace of notification ids made from idempotency keys.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6865_7261_6c64_4e6f_7469_6679_4b65_7931);

/// A notification's id: random, or derived from the producer's idempotency key so that the same
/// key always names the same notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NotificationId(String);

validated_id!(NotificationId);

impl NotificationId {
    #[must_use]
    pub fn random() -> Self {
        Self(format!("n-{}", uuid::Uuid::new_v4().simple()))
    }

    /// The id for an idempotency key (a UUIDv5 of it): same key, same notification.
    #[must_use]
    pub fn for_idempotency_key(key: &str) -> Self {
        Self(format!(
            "n-{}",
            uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).simple()
        ))
    }

    /// The id for an idempotency key within a scope (who sent it, through which door): the same
    /// key in two scopes names two notifications. Keys hold no control characters, so the
    /// newline between scope and key keeps every pair apart.
    #[must_use]
    pub fn for_scoped_key(scope: &str, key: &str) -> Self {
        Self::for_idempotency_key(&format!("{scope}\n{key}"))
    }

    /// Parses an id from a URL path.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let ok = value.len() <= 128
            && value.starts_with("n-")
            && value[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok && value.len() > 2 {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::EmptyId {
                kind: "notification id",
            })
        }
    }
}

/// A schedule's id (`s-<uuid>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ScheduleId(String);

validated_id!(ScheduleId);

impl ScheduleId {
    #[must_use]
    pub fn random() -> Self {
        Self(format!("s-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Parses an id from a URL path or a chat command (`cancel reminder s-...`).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        let ok = value.len() > 2
            && value.len() <= 64
            && value.starts_with("s-")
            && value[2..].chars().all(|c| c.is_ascii_alphanumeric());
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::EmptyId {
                kind: "schedule id",
            })
        }
    }
}

/// One recipient of one notification, unique within it: `{tenant}|{conversation}` for a stored
/// conversation, `{tenant}|member:{id}` for a member whose 1:1 chat the sender creates, and
/// `{tenant}|aad:{id}` for a person known only by their Entra object id (installed through Graph).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeliveryId(String);

validated_id!(DeliveryId);

impl DeliveryId {
    #[must_use]
    pub fn for_conversation(tenant: &TenantId, conversation: &ConversationId) -> Self {
        Self(format!("{tenant}|{conversation}"))
    }

    #[must_use]
    pub fn for_member(tenant: &TenantId, member: &UserId) -> Self {
        Self(format!("{tenant}|member:{member}"))
    }

    #[must_use]
    pub fn for_person(tenant: &TenantId, aad: &AadObjectId) -> Self {
        Self(format!("{tenant}|aad:{aad}"))
    }

    /// The tenant the delivery goes to, as written in the id (`{tenant}|...`).
    #[must_use]
    pub fn tenant_part(&self) -> &str {
        self.0.split_once('|').map_or(&self.0, |(tenant, _)| tenant)
    }

    /// Reads an id back (from storage, a stream image or a report): `{tenant}|{rest}`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value.split_once('|') {
            Some((tenant, rest))
                if !tenant.is_empty() && !rest.is_empty() && value.len() <= 1024 =>
            {
                Ok(Self(value.to_owned()))
            }
            _ => Err(DomainError::EmptyId {
                kind: "delivery id",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_what_they_mint_and_refuse_the_rest() {
        let n = NotificationId::for_idempotency_key("k");
        assert_eq!(NotificationId::parse(n.as_str()).unwrap(), n);
        assert_eq!(n, NotificationId::for_idempotency_key("k"));
        let scoped = NotificationId::for_scoped_key("api:a", "k");
        assert_eq!(scoped, NotificationId::for_scoped_key("api:a", "k"));
        assert_ne!(scoped, NotificationId::for_scoped_key("api:b", "k"));
        assert_ne!(scoped, NotificationId::for_scoped_key("event", "k"));
        assert_ne!(scoped, n);
        assert_eq!(NotificationId::parse(scoped.as_str()).unwrap(), scoped);
        assert!(NotificationId::parse("x-1").is_err());
        let s = ScheduleId::random();
        assert_eq!(ScheduleId::parse(&format!(" {s} ")).unwrap(), s);
        assert!(ScheduleId::parse("s-").is_err());
        let tenant = TenantId::new("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let d = DeliveryId::for_member(&tenant, &UserId::new("29:1abc").unwrap());
        assert_eq!(
            d.as_str(),
            "72f988bf-86f1-41af-91ab-2d7cd011db47|member:29:1abc"
        );
        assert_eq!(DeliveryId::parse(d.as_str()).unwrap(), d);
        for bad in ["", "|a", "t|", "no-bar"] {
            assert!(DeliveryId::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DeliveryId>(&json).unwrap(), d);
        assert!(serde_json::from_str::<DeliveryId>("\"nope\"").is_err());
    }
}
