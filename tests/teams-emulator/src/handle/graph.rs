//! Steering the emulated Graph from a test: the app catalog, installations, faults, paging, the
//! bot endpoint installations are announced to, and Graph tokens.

use std::time::Duration;

use tokio::time::Instant;

use super::TeamsEmulator;
use crate::fault::GraphFault;
use crate::log::RequestRecord;
use crate::world::{BotDelivery, CatalogApp, EmulatedInstallation, EmulatedUser};

/// The emulated Graph's controls.
impl TeamsEmulator {
    /// `http://127.0.0.1:PORT/v1.0`: stands in for `https://graph.microsoft.com/v1.0`.
    #[must_use]
    pub fn graph_base_url(&self) -> String {
        format!("{}/v1.0", self.login_host())
    }

    /// The token endpoint for Graph tokens, `{tenant}` to be replaced by the user's tenant
    /// (`HERALD_GRAPH_TOKEN_URL`). It issues tokens for [`crate::EmulatorConfig::graph_scope`] from
    /// the bot's tenant and every tenant the emulator has users in.
    #[must_use]
    pub fn graph_token_url(&self) -> String {
        format!("{}/{{tenant}}/oauth2/v2.0/token", self.login_host())
    }

    /// Adds Herald's app (its bot is the emulator's bot) to the organisation's app catalog.
    pub fn add_catalog_app(&self, teams_app_id: &str) {
        let app = CatalogApp {
            id: teams_app_id.to_owned(),
            external_id: self.config().app_id.clone(),
            display_name: "Herald".to_owned(),
            bot: true,
        };
        self.world().catalog.insert(app.id.clone(), app);
    }

    /// Adds another app, without a bot: installing it announces nothing.
    pub fn add_other_catalog_app(&self, teams_app_id: &str, display_name: &str) {
        let app = CatalogApp {
            id: teams_app_id.to_owned(),
            external_id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            bot: false,
        };
        self.world().catalog.insert(app.id.clone(), app);
    }

    /// Marks `teams_app_id` installed for `user` earlier, without any event (an app not in the
    /// catalog is added to it as an app without a bot). For an app with a bot, the user's personal
    /// chat with the bot exists and answers to the installation's Graph chat id too.
    #[allow(clippy::must_use_candidate)] // callers often only need the side effect
    pub fn mark_installed(&self, user: &EmulatedUser, teams_app_id: &str) -> EmulatedInstallation {
        let mut world = self.world();
        let app = world
            .catalog
            .entry(teams_app_id.to_owned())
            .or_insert_with(|| CatalogApp {
                id: teams_app_id.to_owned(),
                external_id: uuid::Uuid::new_v4().to_string(),
                display_name: teams_app_id.to_owned(),
                bot: false,
            })
            .clone();
        let bot_app_id = app
            .bot
            .then(|| world.bot_app_id(&self.config().app_id).to_owned());
        world
            .install(user, teams_app_id, false, bot_app_id.as_deref())
            .0
    }

    /// Every installation, marked ones included, in order.
    #[must_use]
    pub fn installations(&self) -> Vec<EmulatedInstallation> {
        self.world().installed.clone()
    }

    /// How many `POST .../installedApps` requests arrived (whatever they were answered).
    #[must_use]
    pub fn install_requests(&self) -> usize {
        self.world().install_requests
    }

    /// The Graph requests received so far (operations `graph.*`), in arrival order.
    #[must_use]
    pub fn graph_requests(&self) -> Vec<RequestRecord> {
        self.world()
            .log
            .records
            .iter()
            .filter(|r| r.operation.starts_with("graph."))
            .cloned()
            .collect()
    }

    /// Installations per page of `GET .../installedApps` (default 20); filters apply per page.
    pub fn set_graph_page_size(&self, size: usize) {
        self.world().graph_page_size = size.max(1);
    }

    /// An app missing from the catalog is answered 404 "Not Found" instead of Graph's verbose
    /// "non existent App definition" message (Graph answers both ways).
    pub fn set_graph_terse_not_found(&self, terse: bool) {
        self.world().graph_terse_not_found = terse;
    }

    /// Answers every Graph request for the user (AAD object id) with `fault`, until cleared.
    pub fn inject_graph(&self, user_aad_object_id: &str, fault: GraphFault) {
        self.world()
            .graph_faults
            .push(user_aad_object_id, fault, None);
    }

    /// Answers the next `times` Graph requests for the user (AAD object id) with `fault`.
    pub fn inject_graph_times(&self, user_aad_object_id: &str, fault: GraphFault, times: u32) {
        if times > 0 {
            self.world()
                .graph_faults
                .push(user_aad_object_id, fault, Some(times));
        }
    }

    /// Answers every Graph request (any user) with `fault`, until cleared; per-user faults first.
    pub fn inject_graph_all(&self, fault: GraphFault) {
        self.world().graph_all.push(fault, None);
    }

    /// Answers the next `times` Graph requests (any user) with `fault`.
    pub fn inject_graph_all_times(&self, fault: GraphFault, times: u32) {
        if times > 0 {
            self.world().graph_all.push(fault, Some(times));
        }
    }

    /// Clears every Graph fault, per user and global.
    pub fn clear_graph_faults(&self) {
        let mut world = self.world();
        world.graph_faults.clear_all();
        world.graph_all.clear();
    }

    /// Where installations are announced: after each 201 for an app with a bot, the emulator
    /// POSTs `url` the personal-install conversationUpdate, with a bearer token minted by
    /// [`Self::identity`] for `bot_app_id` (its `aud`) and [`Self::service_url`]. Graph chat ids
    /// then name `bot_app_id`.
    pub fn set_bot_endpoint(&self, url: &str, bot_app_id: &str) {
        self.world().bot_endpoint = Some((url.to_owned(), bot_app_id.to_owned()));
    }

    /// How long after answering 201 the installation event is sent (default 20 ms).
    pub fn set_bot_event_delay(&self, delay: Duration) {
        self.world().bot_event_delay = delay;
    }

    /// The installation events sent to the bot endpoint, with the bot's answers.
    #[must_use]
    pub fn bot_deliveries(&self) -> Vec<BotDelivery> {
        self.world().bot_deliveries.clone()
    }

    /// Waits until at least `count` installation events were sent (answered or failed), or
    /// `timeout` passed; returns those sent so far.
    pub async fn wait_for_bot_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<BotDelivery> {
        let until = Instant::now() + timeout;
        loop {
            let deliveries = self.bot_deliveries();
            if deliveries.len() >= count || Instant::now() >= until {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A valid Graph token from `tenant`'s endpoint, for tests that skip the token endpoint.
    #[must_use]
    pub fn issue_graph_token(&self, tenant: &str) -> String {
        let config = self.config();
        let expires = Instant::now() + config.token_lifetime;
        self.world()
            .issue_token(&config.graph_scope, tenant, expires)
    }

    /// Forgets every issued token (connector and Graph): the next request with one gets a 401,
    /// as after a revocation.
    pub fn revoke_tokens(&self) {
        self.world().tokens.clear();
    }
}
