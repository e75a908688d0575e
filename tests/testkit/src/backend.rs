//! The store backends every suite runs on, built through the same bootstrap the functions use.

use herald_bootstrap::{Stores, Tables};
use herald_domain::BotAppId;

use crate::{dynamodb_client, unique_name};

/// DynamoDB Local (fresh tables per call) or embedded files (a fresh directory per call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Dynamo,
}

impl Backend {
    pub const ALL: [Self; 2] = [Self::Embedded, Self::Dynamo];
}

/// A backend's stores, and the directory that holds the embedded ones while they are used.
pub struct TestStores {
    pub stores: Stores,
    pub dir: tempfile::TempDir,
}

/// Fresh stores of `backend` for `app`: unique tables on DynamoDB Local (created), or an empty
/// data directory.
pub async fn stores(backend: Backend, app: &BotAppId) -> TestStores {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let stores = match backend {
        Backend::Embedded => {
            Stores::embedded(dir.path(), app.clone()).expect("open the embedded stores")
        }
        Backend::Dynamo => {
            let stores = Stores::dynamo(
                dynamodb_client(),
                Tables::named(
                    &unique_name("references"),
                    &unique_name("outbox"),
                    &unique_name("schedules"),
                ),
                app.clone(),
            );
            stores
                .ensure_tables()
                .await
                .expect("create tables on DynamoDB Local (is .ci/with-services running it?)");
            stores
        }
    };
    TestStores { stores, dir }
}
