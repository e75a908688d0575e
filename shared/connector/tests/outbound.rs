//! The outbound connector against the Teams emulator over real HTTP on 127.0.0.1: routes, every
//! error class, retry paths, Retry-After in both forms, deadlines, the token cache and the
//! trusted-host rule.

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use herald_connector::{
    Activity, Call, ConfigError, Connector, ConnectorConfig, ConnectorError, ConnectorExt,
    ConversationParameters, Deadline, HttpConnector, RetryPolicy, TokenError,
};
use herald_domain::{
    BotAppId, BotId, ChannelId, ConversationId, ServiceUrl, TeamId, TenantId, UserId,
};
use herald_teams_emulator::{EmulatorConfig, Fault, RetryAfter, TeamsEmulator};
use tokio::time::Instant;

/// A fault, the error class it must produce, its status and the service code.
type Case = (
    Fault,
    fn(&ConnectorError) -> bool,
    u16,
    Option<&'static str>,
);

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

    /// The variables a deployment would set, pointing at this emulator.
    fn env(&self) -> HashMap<&'static str, String> {
        let config = self.emulator.config();
        HashMap::from([
            ("MicrosoftAppId", config.app_id.clone()),
            ("MicrosoftAppPassword", config.app_password.clone()),
            ("MicrosoftAppTenantId", config.app_tenant_id.clone()),
            ("HERALD_TOKEN_URL", self.emulator.token_url()),
            ("HERALD_TRUSTED_SERVICE_HOSTS", self.emulator.host_port()),
        ])
    }

    fn config_with(
        &self,
        change: impl FnOnce(&mut HashMap<&'static str, String>),
    ) -> ConnectorConfig {
        let mut env = self.env();
        change(&mut env);
        ConnectorConfig::from_lookup(|name| env.get(name).cloned()).unwrap()
    }

    fn http(&self) -> HttpConnector {
        HttpConnector::new(&self.config_with(|_| {})).unwrap()
    }

    fn call(&self) -> Call<'_> {
        Call::new(&self.service_url, &self.tenant)
    }

    fn bot(&self) -> BotId {
        BotId::for_app(&BotAppId::new(self.emulator.config().app_id.clone()).unwrap())
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

#[tokio::test]
async fn connector_routes_answer_like_teams() {
    let f = Fixture::new().await;
    let connector = f.http();
    let user = f.emulator.add_user(TENANT, "Megan Bowen");
    let user_id = UserId::new(user.id.clone()).unwrap();

    // Create is idempotent for a 1:1 chat: the same `a:` id every time.
    let params = ConversationParameters::personal(&f.bot(), &user_id, &f.tenant);
    let created = connector
        .create_conversation(f.call(), &params)
        .await
        .unwrap();
    assert!(created.id.as_str().starts_with("a:"), "{created:?}");
    let again = connector
        .create_conversation(f.call(), &params)
        .await
        .unwrap();
    assert_eq!(again.id, created.id);

    let sent = connector
        .send_to_conversation(f.call(), &created.id, &hello())
        .await
        .unwrap();
    let reply = connector
        .reply_to_activity(
            f.call(),
            &created.id,
            &sent.id,
            &Activity::message().text("re"),
        )
        .await
        .unwrap();
    assert_ne!(reply.id, sent.id);
    let updated = connector
        .update_activity(
            f.call(),
            &created.id,
            &sent.id,
            &Activity::message().text("edited"),
        )
        .await
        .unwrap();
    assert_eq!(updated.id, sent.id);
    connector
        .delete_activity(f.call(), &created.id, &sent.id)
        .await
        .unwrap();
    let stored = f.emulator.activities(created.id.as_str());
    assert_eq!(stored.len(), 2);
    assert!(stored[0].deleted);
    assert_eq!(stored[0].updates, 1);
    assert_eq!(stored[0].activity["text"], "edited");
    assert_eq!(stored[1].reply_to_id.as_deref(), Some(sent.id.as_str()));
    // The first body carried the toast summary and the feed alert.
    let first = &f.emulator.requests_for(created.id.as_str())[0];
    assert_eq!(
        first.body.as_ref().unwrap()["channelData"]["notification"]["alert"],
        true
    );
    assert_eq!(first.body.as_ref().unwrap()["summary"], "hello");

    let member = connector
        .get_conversation_member(f.call(), &created.id, &user_id)
        .await
        .unwrap();
    assert_eq!(
        member.aad_object_id.as_deref(),
        Some(user.aad_object_id.as_str())
    );
    assert_eq!(member.name.as_deref(), Some("Megan Bowen"));

    // A team of five, paged two at a time.
    let people: Vec<_> = (0..5)
        .map(|i| f.emulator.add_user(TENANT, &format!("User {i}")))
        .collect();
    let ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let team = f.emulator.add_team(TENANT, "Contoso", &ids);
    let ops = f.emulator.add_channel(&team.id, "Ops").unwrap();
    let general = ConversationId::new(team.id.clone()).unwrap();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = connector
            .get_paged_members(f.call(), &general, Some(2), token.as_deref())
            .await
            .unwrap();
        assert!(page.members.len() <= 2);
        seen.extend(page.members.into_iter().map(|m| m.id));
        match page.continuation_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let team_id = TeamId::new(team.id.clone()).unwrap();
    let details = connector
        .get_team_details(f.call(), &team_id)
        .await
        .unwrap();
    assert_eq!(details.name.as_deref(), Some("Contoso"));
    assert_eq!(
        details.aad_group_id.as_deref(),
        Some(team.aad_group_id.as_str())
    );
    let channels = connector
        .get_team_channels(f.call(), &team_id)
        .await
        .unwrap();
    assert_eq!(channels.conversations.len(), 2);
    assert_eq!(channels.conversations[0].id.as_str(), team.id);
    assert_eq!(channels.conversations[0].name, None);
    assert_eq!(channels.conversations[1].id.as_str(), ops);
    assert_eq!(
        channels.conversations[1].display_name(&team_id),
        Some("Ops")
    );

    // A new thread in a channel: the first message travels in the create request.
    let thread = ConversationParameters::channel_thread(
        &f.bot(),
        &ChannelId::new(ops.clone()).unwrap(),
        &f.tenant,
        Activity::message().text("new thread"),
    );
    let created = connector
        .create_conversation(f.call(), &thread)
        .await
        .unwrap();
    let activity_id = created.activity_id.unwrap();
    assert_eq!(
        created.id.as_str(),
        format!("{ops};messageid={activity_id}")
    );
    assert_eq!(
        f.emulator.activities(&ops)[0].activity["text"],
        "new thread"
    );

    // Every connector request carried the emulator-issued bearer token; one token fetch in all.
    assert_eq!(f.emulator.token_fetches(), 1);
    assert!(
        f.emulator
            .requests()
            .iter()
            .filter(|r| r.operation != "token")
            .all(|r| r
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer ")))
    );
}

#[tokio::test]
async fn every_error_class_from_a_real_answer() {
    let f = Fixture::new().await;
    let connector = f.http();
    let cases: Vec<Case> = vec![
        (
            Fault::MessageWritesBlocked,
            |e| matches!(e, ConnectorError::BlockedByUser(_)),
            403,
            Some("MessageWritesBlocked"),
        ),
        (
            Fault::ConversationBlockedByUser,
            |e| matches!(e, ConnectorError::BlockedByUser(_)),
            403,
            Some("ConversationBlockedByUser"),
        ),
        (
            Fault::BotNotInConversationRoster,
            |e| matches!(e, ConnectorError::BotNotInConversation(_)),
            403,
            Some("BotNotInConversationRoster"),
        ),
        (
            Fault::BotDisabledByAdmin,
            |e| matches!(e, ConnectorError::DisabledByAdmin(_)),
            403,
            Some("BotDisabledByAdmin"),
        ),
        (
            Fault::ForbiddenOperation,
            |e| matches!(e, ConnectorError::Forbidden(_)),
            403,
            Some("ForbiddenOperationException"),
        ),
        (
            Fault::FailedToDecrypt,
            |e| matches!(e, ConnectorError::ForeignConversationReference(_)),
            403,
            Some("BadArgument"),
        ),
        (
            Fault::ConversationNotFound,
            |e| matches!(e, ConnectorError::ConversationNotFound(_)),
            404,
            Some("ConversationNotFound"),
        ),
        (
            Fault::ActivityNotFound,
            |e| matches!(e, ConnectorError::ActivityNotFound(_)),
            404,
            Some("ActivityNotFoundInConversation"),
        ),
        (
            Fault::TooLarge,
            |e| matches!(e, ConnectorError::TooLarge(_)),
            413,
            Some("MessageSizeTooBig"),
        ),
        (
            Fault::BadArgument,
            |e| matches!(e, ConnectorError::BadRequest(_)),
            400,
            Some("BadArgument"),
        ),
        (
            Fault::PreconditionFailed,
            |e| matches!(e, ConnectorError::Transient { .. }),
            412,
            Some("PreconditionFailed"),
        ),
        (
            Fault::Status(502),
            |e| matches!(e, ConnectorError::Transient { .. }),
            502,
            None,
        ),
        (
            Fault::Status(503),
            |e| matches!(e, ConnectorError::Transient { .. }),
            503,
            None,
        ),
        (
            Fault::Status(504),
            |e| matches!(e, ConnectorError::Transient { .. }),
            504,
            None,
        ),
        (
            Fault::Status(500),
            |e| matches!(e, ConnectorError::Other(_)),
            500,
            None,
        ),
        (
            Fault::Throttled(RetryAfter::Seconds(3)),
            |e| matches!(e, ConnectorError::Throttled { retry_after: Some(d), .. } if *d == Duration::from_secs(3)),
            429,
            Some("Throttled"),
        ),
        (
            Fault::Throttled(RetryAfter::HttpDate(Duration::from_secs(10))),
            |e| matches!(e, ConnectorError::Throttled { retry_after: Some(d), .. } if *d > Duration::from_secs(7) && *d <= Duration::from_secs(10)),
            429,
            Some("Throttled"),
        ),
        (
            Fault::Throttled(RetryAfter::Absent),
            |e| {
                matches!(
                    e,
                    ConnectorError::Throttled {
                        retry_after: None,
                        ..
                    }
                )
            },
            429,
            Some("Throttled"),
        ),
    ];
    for (fault, expected, status, code) in cases {
        let (_, conversation) = f.personal("Target");
        f.emulator
            .inject_times(conversation.as_str(), fault.clone(), 1);
        let error = connector
            .send_to_conversation(f.call(), &conversation, &hello())
            .await
            .unwrap_err();
        assert!(expected(&error), "{fault:?} gave {error:?}");
        assert_eq!(error.status(), Some(status), "{fault:?}");
        assert_eq!(error.code(), code, "{fault:?}");
        assert_eq!(
            error.is_retryable(),
            matches!(status, 412 | 429 | 502 | 503 | 504),
            "{fault:?}"
        );
        // Nothing was delivered.
        assert!(f.emulator.activities(conversation.as_str()).is_empty());
    }

    // The same classes arise from the emulator's own behaviour, not only from injection.
    let (_, conversation) = f.personal("Real");
    let missing = ConversationId::new("a:1doesnotexist").unwrap();
    let error = connector
        .send_to_conversation(f.call(), &missing, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::ConversationNotFound(_)),
        "{error:?}"
    );
    let huge = Activity::message().text("x".repeat(40 * 1024));
    let error = connector
        .send_to_conversation(f.call(), &conversation, &huge)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::TooLarge(_)), "{error:?}");
    let unknown = herald_connector::ActivityId::new("1").unwrap();
    let error = connector
        .delete_activity(f.call(), &conversation, &unknown)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::ActivityNotFound(_)),
        "{error:?}"
    );
    let group = ConversationParameters {
        is_group: true,
        ..ConversationParameters::personal(&f.bot(), &UserId::new("29:x").unwrap(), &f.tenant)
    };
    let error = connector
        .create_conversation(f.call(), &group)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::BadRequest(_)), "{error:?}");

    // A dropped connection and a timeout are transient, without an HTTP status.
    f.emulator
        .inject_times(conversation.as_str(), Fault::DropConnection, 1);
    let error = connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), None);
    let impatient = HttpConnector::new(
        &f.config_with(|_| {})
            .request_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Delay(Duration::from_secs(2)),
        1,
    );
    let error = impatient
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("Timeout"));
}

#[tokio::test]
async fn unauthorized_and_token_errors_are_typed() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Auth");

    // No token at all (anonymous mode) against an emulator that requires one: 401.
    let anonymous = HttpConnector::new(&ConnectorConfig::anonymous()).unwrap();
    let error = anonymous
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Unauthorized(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(401));

    let wrong_secret = HttpConnector::new(&f.config_with(|env| {
        env.insert("MicrosoftAppPassword", "wrong".into());
    }))
    .unwrap();
    let error = wrong_secret
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Token(TokenError::Rejected { status: 401, description: Some(d), .. }) if d.contains("AADSTS7000215")),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    // A multi-tenant authority for a single-tenant bot: AADSTS700016, as Azure answers.
    let token_url = f
        .emulator
        .token_url()
        .replace(&f.emulator.config().app_tenant_id, "botframework.com");
    let wrong_tenant = HttpConnector::new(&f.config_with(|env| {
        env.insert("HERALD_TOKEN_URL", token_url);
    }))
    .unwrap();
    let error = wrong_tenant
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Token(TokenError::Rejected { status: 400, description: Some(d), .. }) if d.contains("AADSTS700016")),
        "{error:?}"
    );
    // No connector request ever went out without a token.
    assert!(
        f.emulator
            .requests_for(conversation.as_str())
            .iter()
            .all(|r| r.status == Some(401))
    );
    assert!(f.emulator.activities(conversation.as_str()).is_empty());
}

#[tokio::test]
async fn retry_recovers_from_bursts_and_drops_exactly_once() {
    let f = Fixture::new().await;
    let connector = f.http().retry(fast_retry(5));

    let (_, burst) = f.personal("Burst");
    f.emulator
        .inject_times(burst.as_str(), Fault::Status(503), 2);
    f.emulator
        .inject_times(burst.as_str(), Fault::Status(502), 1);
    connector
        .send_to_conversation(f.call(), &burst, &hello())
        .await
        .unwrap();
    let statuses: Vec<_> = f
        .emulator
        .requests_for(burst.as_str())
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(502), Some(201)]);
    assert_eq!(f.emulator.activities(burst.as_str()).len(), 1);

    let (_, dropped) = f.personal("Dropped");
    f.emulator
        .inject_times(dropped.as_str(), Fault::DropConnection, 1);
    f.emulator
        .inject_times(dropped.as_str(), Fault::PreconditionFailed, 1);
    connector
        .send_to_conversation(f.call(), &dropped, &hello())
        .await
        .unwrap();
    let statuses: Vec<_> = f
        .emulator
        .requests_for(dropped.as_str())
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [None, Some(412), Some(201)]);
    assert_eq!(f.emulator.activities(dropped.as_str()).len(), 1);

    // Final errors return at once: one request.
    let (_, blocked) = f.personal("Blocked");
    f.emulator
        .inject(blocked.as_str(), Fault::MessageWritesBlocked);
    let error = connector
        .send_to_conversation(f.call(), &blocked, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::BlockedByUser(_)));
    assert_eq!(f.emulator.requests_for(blocked.as_str()).len(), 1);

    // Bounded attempts.
    let (_, down) = f.personal("Down");
    f.emulator.inject(down.as_str(), Fault::Status(504));
    let error = f
        .http()
        .retry(fast_retry(3))
        .send_to_conversation(f.call(), &down, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Transient { .. }));
    assert_eq!(f.emulator.requests_for(down.as_str()).len(), 3);

    // A slow answer past the request timeout is retried too.
    let (_, slow) = f.personal("Slow");
    f.emulator
        .inject_times(slow.as_str(), Fault::Delay(Duration::from_secs(2)), 1);
    let impatient = HttpConnector::new(
        &f.config_with(|_| {})
            .request_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    impatient
        .retry(fast_retry(3))
        .send_to_conversation(f.call(), &slow, &hello())
        .await
        .unwrap();
    assert_eq!(f.emulator.requests_for(slow.as_str()).len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_in_both_forms() {
    let f = Fixture::new().await;
    let connector = f.http().retry(fast_retry(3));

    let (_, seconds) = f.personal("Seconds");
    f.emulator.inject_times(
        seconds.as_str(),
        Fault::Throttled(RetryAfter::Seconds(1)),
        1,
    );
    let started = Instant::now();
    connector
        .send_to_conversation(f.call(), &seconds, &hello())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let log = f.emulator.requests_for(seconds.as_str());
    assert_eq!(log.len(), 2);
    assert!(log[1].at - log[0].at >= Duration::from_millis(950));

    // An HTTP-date has whole-second precision: 2 s ahead means a wait in (1 s, 2 s].
    let (_, date) = f.personal("Date");
    f.emulator.inject_times(
        date.as_str(),
        Fault::Throttled(RetryAfter::HttpDate(Duration::from_secs(2))),
        1,
    );
    let started = Instant::now();
    connector
        .send_to_conversation(f.call(), &date, &hello())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.emulator.requests_for(date.as_str()).len(), 2);
    assert_eq!(f.emulator.activities(date.as_str()).len(), 1);
}

#[tokio::test]
async fn the_deadline_is_respected() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Deadline");

    // A Retry-After beyond the deadline: return the 429 now rather than sleep past it.
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Throttled(RetryAfter::Seconds(5)),
        1,
    );
    let connector = f.http().retry(fast_retry(5));
    let started = Instant::now();
    let error = connector
        .send_to_conversation(
            f.call().deadline(Deadline::after(Duration::from_secs(2))),
            &conversation,
            &hello(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Throttled { .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.emulator.requests_for(conversation.as_str()).len(), 1);

    // Backoff that would pass the deadline: same.
    f.emulator.inject(conversation.as_str(), Fault::Status(503));
    let slow_backoff = RetryPolicy {
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(30),
        ..fast_retry(5)
    };
    let connector = f.http().retry(slow_backoff);
    let started = Instant::now();
    let mut errors = 0;
    // Full jitter may pick a short wait; either way no attempt outlives the deadline.
    for _ in 0..3 {
        let result = connector
            .send_to_conversation(
                f.call()
                    .deadline(Deadline::after(Duration::from_millis(500))),
                &conversation,
                &hello(),
            )
            .await;
        errors += usize::from(result.is_err());
    }
    assert_eq!(errors, 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    f.emulator.clear_faults(conversation.as_str());

    // A slow answer is cut at the deadline, not at the (longer) request timeout.
    f.emulator.inject_times(
        conversation.as_str(),
        Fault::Delay(Duration::from_secs(5)),
        1,
    );
    let started = Instant::now();
    let error = f
        .http()
        .send_to_conversation(
            f.call()
                .deadline(Deadline::after(Duration::from_millis(300))),
            &conversation,
            &hello(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient { .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // An already-passed deadline makes no request.
    let before = f.emulator.requests().len();
    let past = Deadline::at(Instant::now());
    let error = f
        .http()
        .send_to_conversation(f.call().deadline(past), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::DeadlineExceeded { .. }),
        "{error:?}"
    );
    assert_eq!(f.emulator.requests().len(), before);
}

#[tokio::test]
async fn a_thousand_concurrent_sends_share_one_token_fetch() {
    let f = Fixture::new().await;
    let connector = f.http();
    let (_, conversation) = f.personal("Many");
    let activity = hello();
    let sends =
        (0..1000).map(|_| connector.send_to_conversation(f.call(), &conversation, &activity));
    let results = join_all(sends).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.emulator.token_fetches(), 1);
    assert_eq!(connector.tokens().fetch_count(), 1);
    assert_eq!(f.emulator.activities(conversation.as_str()).len(), 1000);

    // A failing token endpoint is also asked once by concurrent callers, not once per caller.
    let failing = HttpConnector::new(&f.config_with(|env| {
        env.insert("MicrosoftAppPassword", "wrong".into());
    }))
    .unwrap();
    let results = join_all(
        (0..100).map(|_| failing.send_to_conversation(f.call(), &conversation, &activity)),
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Token(_))))
    );
    assert_eq!(failing.tokens().fetch_count(), 1);
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    // 302 s tokens with the default 300 s margin: due for refresh 2 s after issue, long before
    // the emulator would reject them.
    let f =
        Fixture::start(EmulatorConfig::default().token_lifetime(Duration::from_secs(302))).await;
    let connector = f.http();
    let (_, conversation) = f.personal("Refresh");
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    assert_eq!(f.emulator.token_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    connector
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    assert_eq!(f.emulator.token_fetches(), 2);
    let auth: Vec<_> = f
        .emulator
        .requests_for(conversation.as_str())
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(auth[0], auth[1]);
    assert_ne!(auth[1], auth[2]);
}

#[tokio::test]
async fn the_token_never_goes_to_an_untrusted_host() {
    let f = Fixture::new().await;
    let (_, conversation) = f.personal("Trust");
    // A second local listener standing in for an attacker-supplied serviceUrl.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let foreign =
        ServiceUrl::parse(&format!("http://{}/amer/", listener.local_addr().unwrap())).unwrap();
    let connector = f.http().retry(fast_retry(3));
    let call = Call::new(&foreign, &f.tenant);
    let error = connector
        .send_to_conversation(call, &conversation, &hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::UntrustedServiceUrl { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the untrusted host received a connection"
    );
    // The check comes before the token: nothing was fetched or sent.
    assert!(f.emulator.requests().is_empty());

    // Without the explicit entry even the emulator is untrusted; https Microsoft hosts are
    // trusted, but plain http to them is not (checked without any network access).
    let strict = HttpConnector::new(&f.config_with(|env| {
        env.remove("HERALD_TRUSTED_SERVICE_HOSTS");
    }))
    .unwrap();
    let error = strict
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
    let http_teams = ServiceUrl::parse("http://smba.trafficmanager.net/amer/").unwrap();
    let error = strict
        .send_to_conversation(Call::new(&http_teams, &f.tenant), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
    assert!(f.emulator.requests().is_empty());
    assert_eq!(f.emulator.token_fetches(), 0);
}

#[tokio::test]
async fn anonymous_mode_talks_only_to_loopback_without_a_token() {
    let f = Fixture::start(EmulatorConfig::default().require_auth(false)).await;
    let (_, conversation) = f.personal("Local");
    let anonymous = HttpConnector::new(&ConnectorConfig::from_lookup(|_| None).unwrap()).unwrap();
    assert!(anonymous.tokens().is_anonymous());
    anonymous
        .send_to_conversation(f.call(), &conversation, &hello())
        .await
        .unwrap();
    let log = f.emulator.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].authorization, None);
    let remote = ServiceUrl::parse("https://smba.trafficmanager.net/amer/").unwrap();
    let error = anonymous
        .send_to_conversation(Call::new(&remote, &f.tenant), &conversation, &hello())
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::UntrustedServiceUrl { .. }));
}

#[test]
fn configuration_errors_are_typed() {
    let missing =
        ConnectorConfig::from_lookup(|name| (name == "MicrosoftAppId").then(|| "app".to_owned()));
    assert_eq!(missing, Err(ConfigError::Missing("MicrosoftAppPassword")));
}
