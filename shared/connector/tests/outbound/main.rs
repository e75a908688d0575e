//! The outbound connector against the Teams emulator over real HTTP on 127.0.0.1: routes
//! (`routes`), every error class (`errors`), retry paths, Retry-After in both forms and deadlines
//! (`retry`), the token cache (`token`) and the trusted-host rule (`trust`).

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

#[path = "../support/mod.rs"]
mod support;

mod errors;
mod retry;
mod routes;
mod token;
mod trust;

use std::collections::HashMap;
use std::time::Duration;

use herald_connector::{
    Activity, Call, Connector, ConnectorConfig, ConnectorError, HttpConnector, RetryPolicy,
};
use herald_domain::{BotAppId, BotId, ConversationId, ServiceUrl, TenantId, UserId};
use herald_teams_emulator::{EmulatorConfig, TeamsEmulator};

use support::config_from;

const TENANT: &str = "72f988bf-0000-0000-0000-000000000001";

struct Fixture {
    emulator: TeamsEmulator,
    tenant: TenantId,
    service_url: ServiceUrl,
}

impl Fixture {
    async fn start(config: EmulatorConfig) -> Self {
        let emulator = TeamsEmulator::start(config).await.unwrap();
        let service_url = ServiceUrl::parse(&emulator.service_url()).unwrap();
        Self {
            emulator,
            tenant: TenantId::new(TENANT).unwrap(),
            service_url,
        }
    }

    async fn new() -> Self {
        Self::start(EmulatorConfig::default()).await
    }

    /// The emulator's configuration, with `change` made to its variables first.
    fn config_with(
        &self,
        change: impl FnOnce(&mut HashMap<&'static str, String>),
    ) -> ConnectorConfig {
        let mut env = self.emulator.connector_env();
        change(&mut env);
        config_from(&env)
    }

    fn http(&self) -> HttpConnector {
        self.http_with(|_| {})
    }

    /// A connector configured as [`Self::config_with`] says.
    fn http_with(&self, change: impl FnOnce(&mut HashMap<&'static str, String>)) -> HttpConnector {
        HttpConnector::new(&self.config_with(change)).unwrap()
    }

    fn call(&self) -> Call<'_> {
        Call::new(&self.service_url, &self.tenant)
    }

    fn bot(&self) -> BotId {
        BotId::for_app(&BotAppId::new(self.emulator.config().app_id.clone()).unwrap())
    }

    /// What sending [`hello`] to `conversation` through `connector` fails with.
    async fn send_error(
        &self,
        connector: &impl Connector,
        conversation: &ConversationId,
    ) -> ConnectorError {
        connector
            .send_to_conversation(self.call(), conversation, &hello())
            .await
            .expect_err("the send should fail")
    }

    /// A user with a 1:1 chat, returned as (user id, conversation id).
    fn personal(&self, name: &str) -> (UserId, ConversationId) {
        let user = self.emulator.add_user(TENANT, name);
        let conversation = self.emulator.add_personal_chat(TENANT, &user.id);
        (
            UserId::new(user.id).unwrap(),
            ConversationId::new(conversation).unwrap(),
        )
    }
}

fn hello() -> Activity {
    Activity::message()
        .text("hello")
        .summary("hello")
        .alert(true)
}

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}
