//! The emulator's world: users, teams, channels, conversations and the messages in them, the
//! tokens it issued, the rate-limit buckets, injected faults and the request log.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{EmulatorLimits, Fault, GraphFault};

/// A user Teams knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedUser {
    /// `29:...`
    pub id: String,
    pub aad_object_id: String,
    pub name: String,
    pub user_principal_name: String,
    pub tenant_id: String,
}

impl EmulatedUser {
    /// The user as a `ChannelAccount` in connector answers.
    #[must_use]
    pub fn channel_account(&self) -> Value {
        let (given, surname) = self
            .name
            .split_once(' ')
            .unwrap_or((self.name.as_str(), ""));
        json!({
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "givenName": given,
            "surname": surname,
            "email": self.user_principal_name,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": "user",
        })
    }
}

/// A team; its General channel has the team's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedTeam {
    /// `19:...@thread.tacv2`, also the General channel's id.
    pub id: String,
    pub name: String,
    pub aad_group_id: String,
    pub tenant_id: String,
    /// Channel ids in creation order, General first; `None` name = General.
    pub channels: Vec<(String, Option<String>)>,
    pub members: Vec<String>,
}

/// What kind of thread a conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Personal,
    GroupChat,
    Channel,
}

/// A message the bot posted, as the emulator stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredActivity {
    pub id: String,
    pub activity: Value,
    /// The activity this one replies to (thread replies).
    pub reply_to_id: Option<String>,
    /// How many times it was updated.
    pub updates: u32,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub kind: ConversationKind,
    pub tenant_id: String,
    /// User ids (`29:...`).
    pub members: Vec<String>,
    pub team_id: Option<String>,
    pub activities: Vec<StoredActivity>,
}

/// One request the emulator received, logged on arrival and completed when answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Arrival order, from 0.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The Bot Framework operation name (`sendToConversation`...) or `token`.
    pub operation: &'static str,
    /// The conversation (or team) the request addressed, `;messageid=` stripped.
    pub conversation: Option<String>,
    pub tenant: Option<String>,
    /// The raw `Authorization` header, if any.
    pub authorization: Option<String>,
    /// When it arrived (tokio clock, for pacing assertions) and the wall-clock time.
    pub at: Instant,
    pub received_at: SystemTime,
    /// The status answered; `None` when no answer was sent (a dropped-connection fault, or the
    /// client gave up first, e.g. on a slow answer).
    pub status: Option<u16>,
    pub body: Option<Value>,
}

/// An app in the emulated organisation's app catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogApp {
    pub id: String,
    pub external_id: String,
    pub display_name: String,
    /// Installing it installs the emulator's bot (a conversationUpdate goes to the bot endpoint).
    pub bot: bool,
}

/// An app installed in a user's personal scope, as the emulated Graph holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedInstallation {
    /// The installation id (`GET .../installedApps/{id}`).
    pub id: String,
    pub teams_app_id: String,
    pub user_aad_object_id: String,
    pub tenant_id: String,
    /// `true` when installed through `POST .../installedApps`, `false` when marked installed.
    pub via_graph: bool,
    /// What `GET .../installedApps/{id}/chat` answers: `19:{user aad}_{bot app id}@unq.gbl.spaces`
    /// (the connector accepts it as an alias of the user's personal chat with the bot).
    pub chat_id: String,
}

/// The conversationUpdate the emulator POSTed to the bot endpoint after an installation.
#[derive(Debug, Clone, PartialEq)]
pub struct BotDelivery {
    pub url: String,
    pub user_aad_object_id: String,
    /// The personal conversation's `a:` id the activity carried.
    pub conversation_id: String,
    pub activity: Value,
    /// The bot's answer; `None` when the request failed (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl BotDelivery {
    /// Whether the bot accepted the activity (2xx).
    #[must_use]
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// An access token the emulator issued: for which scope and from which tenant's endpoint.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub expires: Instant,
    pub scope: String,
    pub tenant: String,
}

#[derive(Debug)]
pub(crate) struct GraphInjection {
    pub fault: GraphFault,
    pub remaining: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct Injection {
    pub fault: Fault,
    /// `None` = every request until cleared.
    pub remaining: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Write,
    Read,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// Enforcement of [`EmulatorLimits`]: sliding windows per conversation, a token bucket per tenant.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: EmulatorLimits,
    windows: HashMap<(Class, String, String), VecDeque<Instant>>,
    tenants: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limits: EmulatorLimits) -> Self {
        Self {
            limits,
            windows: HashMap::new(),
            tenants: HashMap::new(),
        }
    }

    /// Admits a request (recording it) or says how long until it would be admitted.
    pub fn admit(
        &mut self,
        class: Class,
        tenant: &str,
        key: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let windows = match class {
            Class::Write => &self.limits.write,
            Class::Read => &self.limits.read,
        };
        let tolerance = self.limits.tolerance;
        let bucket_key = (class, tenant.to_owned(), key.to_owned());
        let mut wait = Duration::ZERO;
        if let Some(arrivals) = self.windows.get(&bucket_key) {
            for &(limit, period) in windows {
                let span = period.saturating_sub(tolerance);
                let counted: Vec<&Instant> = arrivals
                    .iter()
                    .rev()
                    .take_while(|a| now.saturating_duration_since(**a) < span)
                    .collect();
                if limit > 0 && counted.len() >= limit as usize {
                    let oldest = *counted[limit as usize - 1];
                    wait = wait.max((oldest + span).saturating_duration_since(now));
                }
            }
        }
        if let Some(rate) = self.limits.tenant_rate {
            let capacity = f64::from(self.limits.tenant_burst.unwrap_or(rate));
            let rate = f64::from(rate);
            let bucket = self.tenants.entry(tenant.to_owned()).or_insert(Bucket {
                tokens: capacity,
                refreshed: now,
            });
            let elapsed = now
                .saturating_duration_since(bucket.refreshed)
                .as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
            bucket.refreshed = now;
            if bucket.tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - bucket.tokens) / rate));
            } else if wait.is_zero() {
                bucket.tokens -= 1.0;
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        let keep = windows.iter().map(|(l, _)| *l as usize).max().unwrap_or(0);
        if keep > 0 {
            let arrivals = self.windows.entry(bucket_key).or_default();
            arrivals.push_back(now);
            while arrivals.len() > keep {
                arrivals.pop_front();
            }
        }
        Ok(())
    }
}

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
    /// Graph faults by user AAD object id, or [`GRAPH_ANY_USER`] for every Graph request.
    pub graph_faults: HashMap<String, Vec<GraphInjection>>,
    /// Answer "Not Found" rather than the "non existent App definition" message.
    pub graph_terse_not_found: bool,
    /// Where installation events go, and the bot's app id.
    pub bot_endpoint: Option<(String, String)>,
    pub bot_event_delay: Duration,
    pub bot_deliveries: Vec<BotDelivery>,
    pub token_fetches: usize,
    pub faults: HashMap<String, Vec<Injection>>,
    pub limiter: RateLimiter,
    pub log: Vec<RequestRecord>,
    pub next_seq: u64,
    pub next_activity_id: u64,
}

impl World {
    pub fn new(limits: EmulatorLimits) -> Self {
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
            graph_faults: HashMap::new(),
            graph_terse_not_found: false,
            bot_endpoint: None,
            bot_event_delay: Duration::from_millis(20),
            bot_deliveries: Vec::new(),
            token_fetches: 0,
            faults: HashMap::new(),
            limiter: RateLimiter::new(limits),
            log: Vec::new(),
            next_seq: 0,
            next_activity_id: epoch_ms,
        }
    }

    /// Logs a request on arrival; returns its `seq` for [`Self::answered`].
    pub fn arrived(&mut self, mut record: RequestRecord) -> u64 {
        record.seq = self.next_seq;
        self.next_seq += 1;
        let seq = record.seq;
        self.log.push(record);
        seq
    }

    /// Completes the log entry `seq` with what was answered.
    pub fn answered(&mut self, seq: u64, status: Option<u16>, tenant: Option<String>) {
        if let Some(record) = self.log.iter_mut().rev().find(|r| r.seq == seq) {
            record.status = status;
            if tenant.is_some() {
                record.tenant = tenant;
            }
        }
    }

    /// Teams' activity ids look like millisecond timestamps; these increase and never repeat.
    pub fn activity_id(&mut self) -> String {
        self.next_activity_id += 1;
        self.next_activity_id.to_string()
    }

    /// The next injected fault for `key`, consuming one use of it.
    pub fn take_fault(&mut self, key: &str) -> Option<Fault> {
        let list = self.faults.get_mut(key)?;
        let injection = list.first_mut()?;
        let fault = injection.fault.clone();
        if let Some(remaining) = &mut injection.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                list.remove(0);
            }
        }
        if list.is_empty() {
            self.faults.remove(key);
        }
        Some(fault)
    }

    /// The next injected Graph fault for `key`, consuming one use of it.
    pub fn take_graph_fault(&mut self, key: &str) -> Option<GraphFault> {
        let list = self.graph_faults.get_mut(key)?;
        let injection = list.first_mut()?;
        let fault = injection.fault.clone();
        if let Some(remaining) = &mut injection.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                list.remove(0);
            }
        }
        if list.is_empty() {
            self.graph_faults.remove(key);
        }
        Some(fault)
    }

    /// The id a conversation is stored under: `;messageid=` stripped, aliases resolved.
    pub fn canonical(&self, id: &str) -> String {
        let base = crate::server::strip_message_id(id);
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

    pub fn personal_chat(&mut self, tenant: &str, user: &str) -> String {
        if let Some(id) = self.personal.get(&(tenant.to_owned(), user.to_owned())) {
            return id.clone();
        }
        let id = format!("a:1{}", random_token(48));
        self.conversations.insert(
            id.clone(),
            Conversation {
                kind: ConversationKind::Personal,
                tenant_id: tenant.to_owned(),
                members: vec![user.to_owned()],
                team_id: None,
                activities: Vec::new(),
            },
        );
        self.personal
            .insert((tenant.to_owned(), user.to_owned()), id.clone());
        id
    }
}

/// Key of Graph faults that apply to every Graph request.
pub(crate) const GRAPH_ANY_USER: &str = "*";

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
    fn windows_are_lenient_by_the_tolerance_at_the_boundary() {
        let mut limits = EmulatorLimits::teams().tenant_rate(None);
        limits.tolerance = Duration::from_millis(20);
        let mut limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        for _ in 0..7 {
            assert!(limiter.admit(Class::Write, "t", "c", t0).is_ok());
        }
        let wait = limiter.admit(Class::Write, "t", "c", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(980));
        assert!(
            limiter
                .admit(Class::Write, "t", "c", t0 + Duration::from_millis(980))
                .is_ok()
        );
        assert!(limiter.admit(Class::Read, "t", "c", t0).is_ok());
    }

    #[test]
    fn tenant_bucket_refills_at_the_rate() {
        let mut limiter = RateLimiter::new(EmulatorLimits::off().tenant_rate(Some(10)));
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(
                limiter
                    .admit(Class::Write, "t", &format!("c{i}"), t0)
                    .is_ok()
            );
        }
        assert!(limiter.admit(Class::Write, "t", "x", t0).is_err());
        assert!(limiter.admit(Class::Write, "u", "x", t0).is_ok());
        assert!(
            limiter
                .admit(Class::Write, "t", "x", t0 + Duration::from_millis(100))
                .is_ok()
        );
    }
}
