//! Herald's four tables on DynamoDB Local, created as `herald-bootstrap` creates them (the
//! schema the template mirrors), and the `!Ref` values naming them.

use herald_bootstrap::{Stores, Tables};
use herald_domain::BotAppId;

use crate::error::BedError;
use crate::template::Refs;

/// The table names of one bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeraldTables {
    pub references: String,
    pub outbox: String,
    pub schedules: String,
    pub pacing: String,
}

impl HeraldTables {
    /// Fresh names with a prefix (`herald-<uuid>-references`, ...).
    #[must_use]
    pub fn unique(prefix: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            references: format!("{prefix}-{id}-references"),
            outbox: format!("{prefix}-{id}-outbox"),
            schedules: format!("{prefix}-{id}-schedules"),
            pacing: format!("{prefix}-{id}-pacing"),
        }
    }

    /// Adds `ReferencesTable`, `OutboxTable`, `SchedulesTable` and `PacingTable` to `refs`.
    pub fn add_refs(&self, refs: &mut Refs) {
        refs.insert("ReferencesTable".into(), self.references.clone());
        refs.insert("OutboxTable".into(), self.outbox.clone());
        refs.insert("SchedulesTable".into(), self.schedules.clone());
        refs.insert("PacingTable".into(), self.pacing.clone());
    }
}

/// Creates the tables (with the outbox's stream) on DynamoDB Local at `endpoint`.
pub async fn create_herald_tables(
    endpoint: &str,
    tables: &HeraldTables,
    app: &BotAppId,
) -> Result<(), BedError> {
    Stores::dynamo(
        crate::clients::dynamodb(endpoint),
        Tables::named(&tables.references, &tables.outbox, &tables.schedules)
            .with_pacing(&tables.pacing),
        app.clone(),
    )
    .ensure_tables()
    .await
    .map_err(|e| BedError::Dynamo(e.to_string()))
}
