//! The emulator's world, everything behind its one lock: the organisation (users, teams,
//! conversations, the app catalog and installations), issued tokens, injected faults, the rate
//! limiter and the request log.

mod model;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::config::Latency;
use crate::fault::{Fault, FaultQueue, GraphFault, Injections};
use crate::limits::{EmulatorLimits, RateLimiter};
use crate::log::RequestLog;

pub use model::{
    BotDelivery, BotExchange, ConversationKind, Duplicate, EmulatedInstallation, EmulatedTeam,
    EmulatedUser, StoredActivity,
};
pub(crate) use model::{CatalogApp, Conversation, IssuedToken};

/// Everything behind the emulator's one lock.
#[derive(Debug)]
pub(crate) struct World {
    pub users: HashMap<String, EmulatedUser>,
    pub teams: HashMap<String, EmulatedTeam>,
    pub conversations: HashMap<String, Conversation>,
    /// `(tenant, user id)` -> the 1:1 conversation id, so create conversation is idempotent.
    pub personal: HashMap<(String, String), String>,
    /// Issued access tokens: when they expire, their scope and tenant.
    pub tokens: HashMap<String, IssuedToken>,
    /// Other ids of a conversation (a personal chat's Graph `19:..@unq.gbl.spaces` id) -> its id.
    pub aliases: HashMap<String, String>,
    /// The organisation's app catalog, by Teams app id.
    pub catalog: HashMap<String, CatalogApp>,
    /// Apps installed for users, in installation order.
    pub installed: Vec<EmulatedInstallation>,
    /// `POST .../installedApps` requests received (answered or not).
    pub install_requests: usize,
    pub graph_page_size: usize,
    /// Graph faults by user AAD object id.
    pub graph_faults: Injections<GraphFault>,
    /// Graph faults for every Graph request (after the user's own).
    pub graph_all: FaultQueue<GraphFault>,
    /// Answer "Not Found" rather than the "non existent App definition" message.
    pub graph_terse_not_found: bool,
    /// Where installation events go, and the bot's app id.
    pub bot_endpoint: Option<(String, String)>,
    pub bot_event_delay: Duration,
    pub bot_deliveries: Vec<BotDelivery>,
    /// Card actions and read receipts sent to the bot endpoint, with its answers.
    pub bot_exchanges: Vec<BotExchange>,
    pub token_fetches: usize,
    /// Connector faults by conversation, team, or the member/channel a conversation is created with.
    pub faults: Injections<Fault>,
    /// Faults for every send (write operation), after the conversation's own: outages, bursts.
    pub send_faults: FaultQueue<Fault>,
    /// Faults of the token endpoint.
    pub token_faults: FaultQueue<Fault>,
    pub limiter: RateLimiter,
    /// The delay before each connector answer, from [`crate::EmulatorConfig::latency`].
    pub latency: Option<Latency>,
    pub log: RequestLog,
    pub next_activity_id: u64,
}

impl World {
    pub fn new(limits: EmulatorLimits, latency: Option<Latency>) -> Self {
        let epoch_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1_700_000_000_000, |d| d.as_millis() as u64);
        Self {
            users: HashMap::new(),
            teams: HashMap::new(),
            conversations: HashMap::new(),
            personal: HashMap::new(),
            tokens: HashMap::new(),
            aliases: HashMap::new(),
            catalog: HashMap::new(),
            installed: Vec::new(),
            install_requests: 0,
            graph_page_size: 20,
            graph_faults: Injections::default(),
            graph_all: FaultQueue::default(),
            graph_terse_not_found: false,
            bot_endpoint: None,
            bot_event_delay: Duration::from_millis(20),
            bot_deliveries: Vec::new(),
            bot_exchanges: Vec::new(),
            token_fetches: 0,
            faults: Injections::default(),
            send_faults: FaultQueue::default(),
            token_faults: FaultQueue::default(),
            limiter: RateLimiter::new(limits),
            latency,
            log: RequestLog::default(),
            next_activity_id: epoch_ms,
        }
    }

    /// Teams' activity ids look like millisecond timestamps; these increase and never repeat.
    pub fn activity_id(&mut self) -> String {
        self.next_activity_id += 1;
        self.next_activity_id.to_string()
    }

    /// The next connector fault for a request addressed to `key`: the key's own first, then for
    /// a send the faults of every send.
    pub fn take_fault(&mut self, key: Option<&str>, send: bool) -> Option<Fault> {
        key.and_then(|k| self.faults.take(k))
            .or_else(|| send.then(|| self.send_faults.take()).flatten())
    }

    /// Records a fresh access token for `scope` from `tenant`'s endpoint.
    pub fn issue_token(&mut self, scope: &str, tenant: &str, expires: Instant) -> String {
        let token = random_token(64);
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                expires,
                scope: scope.to_owned(),
                tenant: tenant.to_owned(),
            },
        );
        token
    }

    /// The id a conversation is stored under: `;messageid=` stripped, aliases resolved.
    pub fn canonical(&self, id: &str) -> String {
        let base = strip_message_id(id);
        self.aliases
            .get(base)
            .cloned()
            .unwrap_or_else(|| base.to_owned())
    }

    /// The bot app id installation events and Graph chat ids name.
    pub fn bot_app_id<'a>(&'a self, default: &'a str) -> &'a str {
        self.bot_endpoint
            .as_ref()
            .map_or(default, |(_, app)| app.as_str())
    }

    /// Records `app` as installed for `user`. For an app with a bot (`bot_app_id`), the Graph
    /// chat id becomes an alias of the user's personal chat with the bot, whose `a:` id is
    /// returned with the installation.
    pub fn install(
        &mut self,
        user: &EmulatedUser,
        app: &str,
        via_graph: bool,
        bot_app_id: Option<&str>,
    ) -> (EmulatedInstallation, Option<String>) {
        let chat_id = graph_chat_id(&user.aad_object_id, bot_app_id.unwrap_or(app));
        let installation = EmulatedInstallation {
            id: random_token(43),
            teams_app_id: app.to_owned(),
            user_aad_object_id: user.aad_object_id.clone(),
            tenant_id: user.tenant_id.clone(),
            via_graph,
            chat_id: chat_id.clone(),
        };
        self.installed.push(installation.clone());
        let chat = bot_app_id.map(|_| {
            let chat = self.personal_chat(&user.tenant_id, &user.id);
            self.aliases.insert(chat_id, chat.clone());
            chat
        });
        (installation, chat)
    }

    /// Every activity content posted more than once in a conversation, by conversation id.
    pub fn duplicates(&self) -> Vec<Duplicate> {
        let mut duplicates: Vec<Duplicate> = self
            .conversations
            .iter()
            .flat_map(|(id, conversation)| {
                conversation
                    .contents()
                    .into_iter()
                    .filter(|(_, copies)| *copies > 1)
                    .map(|(content, copies)| Duplicate {
                        conversation: id.clone(),
                        content,
                        copies,
                    })
            })
            .collect();
        duplicates.sort_by(|a, b| a.conversation.cmp(&b.conversation));
        duplicates
    }

    pub fn personal_chat(&mut self, tenant: &str, user: &str) -> String {
        if let Some(id) = self.personal.get(&(tenant.to_owned(), user.to_owned())) {
            return id.clone();
        }
        let id = format!("a:1{}", random_token(48));
        let conversation = Conversation::new(
            ConversationKind::Personal,
            tenant,
            vec![user.to_owned()],
            None,
        );
        self.conversations.insert(id.clone(), conversation);
        self.personal
            .insert((tenant.to_owned(), user.to_owned()), id.clone());
        id
    }
}

/// A conversation id without the `;messageid=` suffix that addresses a channel thread.
pub(crate) fn strip_message_id(id: &str) -> &str {
    match id.find(";messageid=") {
        Some(at) if at > 0 => &id[..at],
        _ => id,
    }
}

/// The id Graph gives the bot's personal chat with a user.
#[must_use]
pub(crate) fn graph_chat_id(user_aad_object_id: &str, bot_app_id: &str) -> String {
    format!("19:{user_aad_object_id}_{bot_app_id}@unq.gbl.spaces")
}

/// Random characters of the kind Teams uses in opaque ids.
pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_alias_the_personal_chat() {
        let mut world = World::new(EmulatorLimits::off(), None);
        let user = EmulatedUser {
            id: "29:1user".to_owned(),
            aad_object_id: "aad-1".to_owned(),
            name: "Megan Bowen".to_owned(),
            user_principal_name: "megan@example".to_owned(),
            tenant_id: "t".to_owned(),
        };
        let (installation, chat) = world.install(&user, "app", false, Some("bot"));
        let chat = chat.unwrap();
        assert_eq!(installation.chat_id, "19:aad-1_bot@unq.gbl.spaces");
        assert_eq!(world.canonical(&installation.chat_id), chat);
        assert_eq!(
            world.canonical(&format!("{};messageid=1", installation.chat_id)),
            chat
        );
        assert_eq!(world.canonical(&chat), chat);
        // Without a bot there is no chat to alias.
        let (other, none) = world.install(&user, "polls", false, None);
        assert_eq!(none, None);
        assert_eq!(world.canonical(&other.chat_id), other.chat_id);
    }
}
