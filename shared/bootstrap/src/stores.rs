use std::path::Path;
use std::sync::Arc;

use herald_domain::BotAppId;
use herald_domain::pace::{MemoryPace, TenantPace};
use herald_store::{
    DynamoOutboxStore, DynamoPace, DynamoReferenceStore, DynamoScheduleStore, EmbeddedOutboxStore,
    EmbeddedReferenceStore, EmbeddedScheduleStore, InstallWaits, OutboxStore, ReferenceStore,
    ScheduleStore, StoreConfig, StrandedWork,
};

use crate::{BootstrapError, Lookup};

/// The DynamoDB tables, by name (`HERALD_REFERENCES_TABLE`, `HERALD_OUTBOX_TABLE`,
/// `HERALD_SCHEDULES_TABLE`, `HERALD_PACING_TABLE`). A function is given only the tables it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    pub references: Option<String>,
    pub outbox: Option<String>,
    pub schedules: Option<String>,
    /// The pace every instance shares; without it each process paces alone.
    pub pacing: Option<String>,
}

impl Tables {
    pub fn from_lookup(lookup: &Lookup) -> Self {
        let table = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            references: table("HERALD_REFERENCES_TABLE"),
            outbox: table("HERALD_OUTBOX_TABLE"),
            schedules: table("HERALD_SCHEDULES_TABLE"),
            pacing: table("HERALD_PACING_TABLE"),
        }
    }

    /// Every table named (the tests' tables).
    #[must_use]
    pub fn named(references: &str, outbox: &str, schedules: &str) -> Self {
        Self {
            references: Some(references.to_owned()),
            outbox: Some(outbox.to_owned()),
            schedules: Some(schedules.to_owned()),
            pacing: None,
        }
    }

    /// With the shared pacing table `pacing`.
    #[must_use]
    pub fn with_pacing(mut self, pacing: &str) -> Self {
        self.pacing = Some(pacing.to_owned());
        self
    }
}

/// Where references, the outbox and schedules live: DynamoDB (Lambda, or DynamoDB Local), or
/// embedded files under a data directory (the local runner, tests).
#[derive(Clone)]
pub enum Stores {
    Dynamo {
        client: aws_sdk_dynamodb::Client,
        tables: Tables,
        bot_app_id: BotAppId,
    },
    Embedded {
        references: Arc<EmbeddedReferenceStore>,
        outbox: EmbeddedOutboxStore,
        schedules: Arc<EmbeddedScheduleStore>,
    },
}

impl Stores {
    #[must_use]
    pub fn dynamo(client: aws_sdk_dynamodb::Client, tables: Tables, bot_app_id: BotAppId) -> Self {
        Self::Dynamo {
            client,
            tables,
            bot_app_id,
        }
    }

    /// Opens (creating if missing) the embedded stores under `dir`.
    pub fn embedded(dir: &Path, bot_app_id: BotAppId) -> Result<Self, BootstrapError> {
        Ok(Self::Embedded {
            references: Arc::new(EmbeddedReferenceStore::open(dir, bot_app_id)?),
            outbox: EmbeddedOutboxStore::open(dir)?,
            schedules: Arc::new(EmbeddedScheduleStore::open(dir)?),
        })
    }

    fn table<'a>(
        name: Option<&'a String>,
        variable: &'static str,
    ) -> Result<&'a str, BootstrapError> {
        name.map(String::as_str)
            .ok_or(BootstrapError::Missing(variable))
    }

    pub fn references(&self) -> Result<Arc<dyn ReferenceStore>, BootstrapError> {
        Ok(match self {
            Self::Dynamo {
                client,
                tables,
                bot_app_id,
            } => Arc::new(DynamoReferenceStore::new(
                client.clone(),
                &StoreConfig {
                    references_table: Self::table(
                        tables.references.as_ref(),
                        "HERALD_REFERENCES_TABLE",
                    )?
                    .to_owned(),
                    bot_app_id: bot_app_id.clone(),
                },
            )),
            Self::Embedded { references, .. } => references.clone(),
        })
    }

    pub fn outbox(&self) -> Result<Arc<dyn OutboxStore>, BootstrapError> {
        Ok(match self {
            Self::Dynamo { .. } => Arc::new(self.dynamo_outbox()?),
            Self::Embedded { outbox, .. } => Arc::new(outbox.clone()),
        })
    }

    /// The outbox's installation waits (proactive installation through Graph).
    pub fn install_waits(&self) -> Result<Arc<dyn InstallWaits>, BootstrapError> {
        Ok(match self {
            Self::Dynamo { .. } => Arc::new(self.dynamo_outbox()?),
            Self::Embedded { outbox, .. } => Arc::new(outbox.clone()),
        })
    }

    /// The outbox's stranded work, for the sweep.
    pub fn stranded(&self) -> Result<Arc<dyn StrandedWork>, BootstrapError> {
        Ok(match self {
            Self::Dynamo { .. } => Arc::new(self.dynamo_outbox()?),
            Self::Embedded { outbox, .. } => Arc::new(outbox.clone()),
        })
    }

    pub fn schedules(&self) -> Result<Arc<dyn ScheduleStore>, BootstrapError> {
        Ok(match self {
            Self::Dynamo { client, tables, .. } => Arc::new(DynamoScheduleStore::new(
                client.clone(),
                Self::table(tables.schedules.as_ref(), "HERALD_SCHEDULES_TABLE")?,
            )),
            Self::Embedded { schedules, .. } => schedules.clone(),
        })
    }

    /// The tenant pace the connector draws slots from: shared through the pacing table on
    /// DynamoDB when one is named (every instance then keeps one pace per tenant), else this
    /// process's own. Build it once per process: its memory is the pace.
    #[must_use]
    pub fn pace(&self) -> Arc<dyn TenantPace> {
        match self {
            Self::Dynamo {
                client,
                tables:
                    Tables {
                        pacing: Some(pacing),
                        ..
                    },
                ..
            } => Arc::new(DynamoPace::new(client.clone(), pacing)),
            _ => Arc::new(MemoryPace::new()),
        }
    }

    fn dynamo_outbox(&self) -> Result<DynamoOutboxStore, BootstrapError> {
        match self {
            Self::Dynamo { client, tables, .. } => Ok(DynamoOutboxStore::new(
                client.clone(),
                Self::table(tables.outbox.as_ref(), "HERALD_OUTBOX_TABLE")?,
            )),
            Self::Embedded { .. } => Err(BootstrapError::Missing("HERALD_OUTBOX_TABLE")),
        }
    }

    /// Creates the DynamoDB tables that are named and missing (DynamoDB Local for the local
    /// runner and tests; in AWS the template creates them). Embedded stores exist once opened.
    pub async fn ensure_tables(&self) -> Result<(), BootstrapError> {
        let Self::Dynamo {
            client,
            tables,
            bot_app_id,
        } = self
        else {
            return Ok(());
        };
        if let Some(references) = &tables.references {
            DynamoReferenceStore::new(
                client.clone(),
                &StoreConfig {
                    references_table: references.clone(),
                    bot_app_id: bot_app_id.clone(),
                },
            )
            .ensure_table()
            .await?;
        }
        if let Some(outbox) = &tables.outbox {
            DynamoOutboxStore::new(client.clone(), outbox)
                .ensure_table()
                .await?;
        }
        if let Some(schedules) = &tables.schedules {
            DynamoScheduleStore::new(client.clone(), schedules)
                .ensure_table()
                .await?;
        }
        if let Some(pacing) = &tables.pacing {
            DynamoPace::new(client.clone(), pacing)
                .ensure_table()
                .await?;
        }
        Ok(())
    }

    /// The embedded outbox, whose change feed stands in for the DynamoDB stream locally.
    #[must_use]
    pub fn embedded_outbox(&self) -> Option<&EmbeddedOutboxStore> {
        match self {
            Self::Embedded { outbox, .. } => Some(outbox),
            Self::Dynamo { .. } => None,
        }
    }
}
