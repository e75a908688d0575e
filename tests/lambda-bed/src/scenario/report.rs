//! What a run came to: each notification as Herald reports it (`GET /api/notifications/{id}` and
//! its deliveries) set against what the emulator received, the faults injected, and the problems
//! found. Its `Display` is the run's one summary line.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use herald_domain::DeliveryStatus;
use reqwest::Method;
use serde_json::Value;

use super::{Deployment, Expected, FaultTally, Load, Person, ScenarioError};

/// Deliveries read per page.
const PAGE: u32 = 1000;

/// One notification of the run.
#[derive(Debug, Clone, Default)]
pub struct NotificationReport {
    pub label: String,
    pub id: String,
    /// `done`, `sending`... (`missing` when it was never made).
    pub status: String,
    /// The header's counts by status.
    pub counts: BTreeMap<String, i64>,
    /// The deliveries' statuses, tallied.
    pub statuses: BTreeMap<String, i64>,
    pub deliveries: usize,
    pub expected: usize,
    /// Deliveries Herald reports sent again after a lost attempt (`possibleDuplicates`).
    pub possible_duplicates: i64,
    /// Extra copies of its message the emulator holds.
    pub duplicates: usize,
    /// Recipients whose chat never got its message.
    pub lost: usize,
    pub problems: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub notifications: Vec<NotificationReport>,
    pub faults: FaultTally,
    /// From the moment the load was posted until every notification was done.
    pub duration: Duration,
    pub install_time: Duration,
    pub people: usize,
    /// Sends of the load's messages Teams accepted (duplicates included), and the time from the
    /// load's start to the last of them.
    pub accepted_sends: usize,
    pub sending_window: Duration,
    /// The emulator's enforced ceiling over every tenant, in sends per second.
    pub ceiling: f64,
    /// The tenant with the most accepted sends (the route's adds its own to the broadcast's
    /// and the schedule's), how many, and the time from the load's start to its last: the other
    /// tenants finish earlier, so the whole run cannot keep every tenant at its rate throughout.
    pub busiest_tenant: Sends,
    /// The emulator's enforced rate per tenant.
    pub tenant_rate: f64,
    /// Duplicated messages in the emulator that are none of the load's (a welcome sent twice).
    pub other_duplicates: usize,
    /// Why the run stopped waiting, if not every notification got done.
    pub stalled: Option<String>,
}

impl Report {
    pub(super) async fn read(
        deployment: &Deployment,
        load: &Load,
        people: &[Person],
        faults: FaultTally,
        duration: Duration,
        install_time: Duration,
    ) -> Result<Self, ScenarioError> {
        let mut notifications = Vec::new();
        for expected in &load.notifications {
            notifications.push(read_notification(deployment, expected, people).await?);
        }
        let texts: Vec<&str> = load.notifications.iter().map(|n| n.text.as_str()).collect();
        let other_duplicates = deployment
            .emulator
            .duplicates()
            .iter()
            .filter(|d| !texts.contains(&d.content["text"].as_str().unwrap_or_default()))
            .map(|d| d.copies - 1)
            .sum();
        let (all, busiest_tenant) = sends_since(deployment, load);
        Ok(Self {
            notifications,
            faults,
            duration,
            install_time,
            people: people.len(),
            accepted_sends: all.count,
            sending_window: all.window,
            ceiling: 0.0,
            busiest_tenant,
            tenant_rate: 0.0,
            other_duplicates,
            stalled: None,
        })
    }

    /// Everything that is not as it must be: a notification not done, counts that disagree with
    /// the deliveries, a delivery not final or not sent, a lost message, a duplicate Herald does
    /// not count.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.stalled.iter().cloned().collect();
        for n in &self.notifications {
            problems.extend(n.problems.iter().map(|p| format!("{}: {p}", n.label)));
        }
        if self.other_duplicates > 0 {
            problems.push(format!(
                "{} duplicated messages that are not the load's",
                self.other_duplicates
            ));
        }
        problems
    }

    /// Deliveries over every notification.
    #[must_use]
    pub fn deliveries(&self) -> usize {
        self.notifications.iter().map(|n| n.deliveries).sum()
    }

    /// The deliveries' final statuses over every notification.
    #[must_use]
    pub fn statuses(&self) -> BTreeMap<String, i64> {
        let mut total = BTreeMap::new();
        for n in &self.notifications {
            for (status, count) in &n.statuses {
                *total.entry(status.clone()).or_default() += count;
            }
        }
        total
    }

    /// Accepted sends per second over the sending window.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        Sends {
            count: self.accepted_sends,
            window: self.sending_window,
        }
        .rate()
    }

    /// The share of the emulator's ceiling over every tenant the run's throughput reached, in
    /// percent.
    #[must_use]
    pub fn share_of_ceiling(&self) -> f64 {
        percent(self.throughput(), self.ceiling)
    }

    /// The share of its tenant's rate the busiest tenant's sends reached, in percent.
    #[must_use]
    pub fn busiest_tenant_share(&self) -> f64 {
        percent(self.busiest_tenant.rate(), self.tenant_rate)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statuses = self.statuses();
        let sent = statuses
            .get(DeliveryStatus::Sent.as_str())
            .copied()
            .unwrap_or(0);
        let finals: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let lost: usize = self.notifications.iter().map(|n| n.lost).sum();
        let duplicates: usize = self.notifications.iter().map(|n| n.duplicates).sum();
        let reported: i64 = self
            .notifications
            .iter()
            .map(|n| n.possible_duplicates)
            .sum();
        let compare = match duplicates.cmp(&usize::try_from(reported).unwrap_or(0)) {
            std::cmp::Ordering::Equal => "equal",
            std::cmp::Ordering::Less => {
                "fewer than reported: some resends after a lost attempt \
                                         replaced a send that never reached Teams"
            }
            std::cmp::Ordering::Greater => "MORE than reported",
        };
        let throughput = self.throughput();
        write!(
            f,
            "{} people, {} notifications, {} deliveries, {sent} sent; final statuses [{}]; \
             lost {lost}; duplicates: emulator {duplicates} vs reported {reported} \
             (possibleDuplicates; {compare}); faults: {}; {:.1} s from the load to every \
             notification done (installs {:.1} s); {} sends accepted in {:.1} s: {:.1}/s, {:.0}% \
             of the emulator's {:.0}/s ceiling (busiest tenant {} in {:.1} s: {:.1}/s, {:.0}% of \
             its {:.0}/s); {} problems",
            self.people,
            self.notifications.len(),
            self.deliveries(),
            finals.join(", "),
            self.faults,
            self.duration.as_secs_f64(),
            self.install_time.as_secs_f64(),
            self.accepted_sends,
            self.sending_window.as_secs_f64(),
            throughput,
            self.share_of_ceiling(),
            self.ceiling,
            self.busiest_tenant.count,
            self.busiest_tenant.window.as_secs_f64(),
            self.busiest_tenant.rate(),
            self.busiest_tenant_share(),
            self.tenant_rate,
            self.problems().len(),
        )
    }
}

/// Reads one notification and its deliveries through the HTTP API and checks them against the
/// emulator.
async fn read_notification(
    deployment: &Deployment,
    expected: &Expected,
    people: &[Person],
) -> Result<NotificationReport, ScenarioError> {
    let mut report = NotificationReport {
        label: expected.label.clone(),
        id: expected.id.to_string(),
        expected: expected.recipients.len(),
        ..NotificationReport::default()
    };
    let path = format!("/api/notifications/{}", expected.id);
    let (status, header) = deployment.api(Method::GET, &path, None).await?;
    if status == 404 {
        "missing".clone_into(&mut report.status);
        report.problems.push("never made".to_owned());
        return Ok(report);
    }
    report.status = header["status"].as_str().unwrap_or("?").to_owned();
    report.possible_duplicates = header["possibleDuplicates"].as_i64().unwrap_or(0);
    if let Some(counts) = header["counts"].as_object() {
        report.counts = counts
            .iter()
            .map(|(s, n)| (s.clone(), n.as_i64().unwrap_or(0)))
            .collect();
    }
    let deliveries = deliveries(deployment, &path).await?;
    report.deliveries = deliveries.len();
    check(&mut report, expected, people, &deliveries, deployment);
    Ok(report)
}

/// Every delivery of a notification, page by page.
async fn deliveries(deployment: &Deployment, path: &str) -> Result<Vec<Value>, ScenarioError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut page = format!("{path}/deliveries?limit={PAGE}");
        if let Some(cursor) = &cursor {
            page.push_str("&cursor=");
            page.push_str(
                &url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>(),
            );
        }
        let body = deployment.api_ok(Method::GET, &page, None).await?;
        all.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(all),
        }
    }
}

/// Sets a notification's deliveries against its header and the emulator.
fn check(
    report: &mut NotificationReport,
    expected: &Expected,
    people: &[Person],
    deliveries: &[Value],
    deployment: &Deployment,
) {
    let mut by_chat: HashMap<&str, &Value> = HashMap::new();
    for delivery in deliveries {
        let status = delivery["status"].as_str().unwrap_or("?").to_owned();
        *report.statuses.entry(status).or_default() += 1;
        if let Some(chat) = delivery["conversationId"].as_str() {
            by_chat.insert(chat, delivery);
        }
    }
    if report.status != "done" {
        report.problems.push(format!("status {}", report.status));
    }
    for status in DeliveryStatus::ALL {
        let name = status.as_str();
        let counted = report.counts.get(name).copied().unwrap_or(0);
        let found = report.statuses.get(name).copied().unwrap_or(0);
        if counted != found {
            report.problems.push(format!(
                "the header counts {counted} {name}, the deliveries say {found}"
            ));
        }
    }
    if let Some((status, n)) = report
        .statuses
        .iter()
        .find(|(s, _)| s.as_str() != DeliveryStatus::Sent.as_str())
    {
        report
            .problems
            .push(format!("{n} deliveries ended {status}"));
    }
    if deliveries.len() != expected.recipients.len() {
        report.problems.push(format!(
            "{} deliveries for {} recipients",
            deliveries.len(),
            expected.recipients.len()
        ));
    }
    let (mut uncounted, mut duplicated) = (0, 0);
    for person in expected.recipients.iter().map(|i| &people[*i]) {
        let copies = deployment
            .emulator
            .activities(&person.chat)
            .iter()
            .filter(|a| a.activity["text"].as_str() == Some(expected.text.as_str()))
            .count();
        if copies == 0 {
            report.lost += 1;
            continue;
        }
        report.duplicates += copies - 1;
        duplicated += usize::from(copies > 1);
        let lost_attempts = by_chat
            .get(person.chat.as_str())
            .and_then(|d| d["lostAttempts"].as_u64())
            .unwrap_or(0);
        if copies > 1 && lost_attempts == 0 {
            uncounted += 1;
        }
    }
    if report.lost > 0 {
        report
            .problems
            .push(format!("{} recipients never got the message", report.lost));
    }
    if uncounted > 0 {
        report.problems.push(format!(
            "{uncounted} chats got the message more than once from a delivery with no lost attempt"
        ));
    }
    // `possibleDuplicates` counts deliveries (one sent three times is one), as does `duplicated`.
    if i64::try_from(duplicated).unwrap_or(i64::MAX) > report.possible_duplicates {
        report.problems.push(format!(
            "{duplicated} deliveries reached their chat more than once ({} extra copies), \
             Herald reports {} possible duplicates",
            report.duplicates, report.possible_duplicates
        ));
    }
}

/// Sends Teams accepted and the time from the load's start to the last of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sends {
    pub count: usize,
    pub window: Duration,
}

impl Sends {
    /// Sends per second over the window.
    #[must_use]
    pub fn rate(&self) -> f64 {
        let window = self.window.as_secs_f64();
        if window > 0.0 {
            self.count as f64 / window
        } else {
            0.0
        }
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// Sends of the load's messages Teams accepted since the load started: all of them, and the
/// busiest tenant's.
fn sends_since(deployment: &Deployment, load: &Load) -> (Sends, Sends) {
    let texts: Vec<&str> = load.notifications.iter().map(|n| n.text.as_str()).collect();
    let accepted: Vec<(Option<String>, tokio::time::Instant)> = deployment
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.at >= load.started && r.status.is_some_and(|s| (200..300).contains(&s)))
        .filter(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["text"].as_str())
                .is_some_and(|t| texts.contains(&t))
        })
        .map(|r| (r.tenant, r.at))
        .collect();
    let sends = |at: &mut dyn Iterator<Item = tokio::time::Instant>| {
        let (count, last) = at.fold(
            (0, None),
            |(n, last): (usize, Option<tokio::time::Instant>), at| {
                (n + 1, Some(last.map_or(at, |l| l.max(at))))
            },
        );
        Sends {
            count,
            window: last.map_or(Duration::ZERO, |last| last - load.started),
        }
    };
    let all = sends(&mut accepted.iter().map(|(_, at)| *at));
    let mut by_tenant: BTreeMap<&str, Vec<tokio::time::Instant>> = BTreeMap::new();
    for (tenant, at) in &accepted {
        by_tenant
            .entry(tenant.as_deref().unwrap_or_default())
            .or_default()
            .push(*at);
    }
    let busiest = by_tenant
        .values()
        .map(|at| sends(&mut at.iter().copied()))
        .max_by_key(|s| s.count)
        .unwrap_or_default();
    (all, busiest)
}
