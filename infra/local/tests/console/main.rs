//! Herald Console in a real browser (headless Chromium through WebDriver), against the local
//! runner as a process and the Teams emulator: sign in with the key, compose a card and see
//! Microsoft's renderer draw it, send it to everyone and watch it reach done, open the report and
//! download its CSV, schedule with each recipient's own time and see the fires, pause, resume,
//! edit and delete the schedule, read who uninstalled the bot, retract, send again with the
//! keyboard alone, and update every delivered copy in place. Each page is saved as a PNG under
//! `target/tmp/console-screenshots/`.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines)]

#[path = "../support/mod.rs"]
mod support;

mod browser;

use std::time::Duration;

use browser::Browser;
use fantoccini::key::Key;
use herald_teams_emulator::{EmulatedUser, EmulatorConfig, TeamsEmulator};
use serde_json::{Value, json};
use support::{
    ANONYMOUS_BOT_ID, API_KEY, Runner, eventually, people_with_chats, personal_activity,
    personal_install,
};

const TENANT: &str = "00000000-0000-0000-0000-0000000000cc";

/// Four people who installed the bot; the third then said "stop" (opted out), the fourth
/// uninstalled it.
async fn world(emulator: &TeamsEmulator, runner: &Runner) -> Vec<(EmulatedUser, String)> {
    let people = people_with_chats(
        emulator,
        TENANT,
        &["Megan Bowen", "Alex Wilber", "Lee Gu", "Nestor Wilke"],
    );
    for (user, chat) in &people {
        let install = personal_install(emulator, TENANT, user, chat, ANONYMOUS_BOT_ID);
        assert_eq!(runner.post_activity(&install).await.status(), 200);
    }
    let (lee, lee_chat) = &people[2];
    let mut stop = personal_activity(emulator, "message", TENANT, lee, lee_chat, ANONYMOUS_BOT_ID);
    stop["text"] = json!("stop");
    assert!(runner.post_activity(&stop).await.status().is_success());
    let (nestor, nestor_chat) = &people[3];
    let mut remove = personal_install(emulator, TENANT, nestor, nestor_chat, ANONYMOUS_BOT_ID);
    remove["action"] = json!("remove");
    assert_eq!(runner.post_activity(&remove).await.status(), 200);
    eventually(
        "four installations, one opted out, one uninstalled",
        Duration::from_secs(20),
        || async {
            runner.installations("").await.len() == 4
                && runner.installations("&status=optedOut").await.len() == 1
                && runner.installations("&status=uninstalled").await.len() == 1
        },
    )
    .await;
    people
}

/// What the bot posted into `chat` that mentions `marker` (not the welcome or command replies).
fn posted(
    emulator: &TeamsEmulator,
    chat: &str,
    marker: &str,
) -> Vec<herald_teams_emulator::StoredActivity> {
    emulator
        .activities(chat)
        .into_iter()
        .filter(|a| a.activity.to_string().contains(marker))
        .collect()
}

const ANNOUNCEMENT: &str = "We are moving to the 4th floor";
const INCIDENT: &str = "INC-0193";

/// Every visible control labelled, every text readable (WCAG AA) in both themes.
/// Sets a date field as a person picking a date would (WebDriver's typing into date inputs
/// depends on the browser's locale).
async fn set_date(browser: &Browser, id: &str, date: &str) {
    browser
        .eval(&format!(
            "const e = document.getElementById('{id}'); e.value = '{date}'; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             e.dispatchEvent(new Event('change', {{bubbles: true}})); return e.value"
        ))
        .await;
}

async fn assert_accessible(browser: &Browser, page: &str) {
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "{page}:\n{}", problems.join("\n"));
}

async fn assert_no_policy_violation(browser: &Browser) {
    let count = browser
        .eval("return document.body.dataset.cspViolations")
        .await;
    assert_eq!(
        count,
        json!("0"),
        "the Content-Security-Policy blocked something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_composes_sends_reports_schedules_and_retracts() {
    let emulator = TeamsEmulator::start(EmulatorConfig::default().require_auth(false))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let runner = Runner::start(data.path(), &[]).await;
    let people = world(&emulator, &runner).await;
    let browser = Browser::start().await;

    // Sign in: the key goes to session storage, never into the URL.
    browser.goto(&format!("{}/", runner.base)).await;
    browser.wait_for("#api-key").await;
    browser.screenshot("sign-in").await;
    assert_accessible(&browser, "sign-in").await;
    browser.type_into("#api-key", "not-the-key").await;
    browser.click("#sign-in").await;
    browser
        .wait_text("#sign-in-error", "a refusal", |t| t.contains("not valid"))
        .await;
    browser.type_into("#api-key", API_KEY).await;
    browser.click("#sign-in").await;
    browser
        .wait_for("body[data-page='compose'] #kind-card")
        .await;
    let url = browser.client.current_url().await.unwrap();
    assert!(!url.as_str().contains(API_KEY), "{url}");
    assert_eq!(
        browser
            .eval("return sessionStorage.getItem('herald.apiKey')")
            .await,
        json!(API_KEY)
    );
    assert_eq!(
        browser
            .eval("return localStorage.getItem('herald.apiKey')")
            .await,
        json!(null)
    );

    // Compose a card from a sample: Microsoft's renderer draws it with the data bound by Herald.
    browser.click("#sample-announcement").await;
    browser.wait_for("#preview .ac-adaptiveCard").await;
    browser
        .wait_text("#preview", "the bound title", |t| t.contains(ANNOUNCEMENT))
        .await;
    browser
        .wait_text("#size-text", "the size", |t| t.contains("KB of 28 KB"))
        .await;
    browser
        .wait_text("#audience-recipients", "the audience", |t| t == "2")
        .await;
    let estimate = browser.text("#audience-estimate").await;
    assert!(
        estimate.contains("1 opted out") && estimate.contains("1 uninstalled"),
        "{estimate}"
    );
    browser.click("#preview-dark").await;
    browser
        .wait_for("#preview .bubble.theme-dark .ac-adaptiveCard")
        .await;
    browser.screenshot("compose").await;
    assert_accessible(&browser, "compose").await;
    browser.click("#preview-light").await;
    // A syntax error is shown at its line and column.
    let editor = browser.wait_for("#card-json").await;
    editor.send_keys("}").await.unwrap();
    browser
        .wait_text("#card-json-problems", "the error's place", |t| {
            t.contains("Line ")
        })
        .await;
    browser.click("#sample-announcement").await;
    browser
        .wait_text("#card-json-problems", "no error", str::is_empty)
        .await;
    assert_no_policy_violation(&browser).await;

    // Send to everyone and watch the progress reach done.
    browser.click("#submit").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_text("#notification-status", "done", |t| t == "done")
        .await;
    let url = browser.client.current_url().await.unwrap();
    let notification = url
        .fragment()
        .unwrap()
        .trim_start_matches("/notifications/")
        .to_owned();
    assert!(notification.starts_with("n-"), "{url}");
    for (_, chat) in &people[..2] {
        assert_eq!(posted(&emulator, chat, ANNOUNCEMENT).len(), 1, "{chat}");
    }
    assert!(
        posted(&emulator, &people[2].1, ANNOUNCEMENT).is_empty(),
        "the opted-out person got it"
    );
    browser
        .wait_text("#deliveries-table", "every recipient", |t| {
            t.contains("skippedOptedOut")
                && t.contains("skippedUninstalled")
                && t.matches("sent").count() >= 2
        })
        .await;
    browser.screenshot("notification").await;
    assert_accessible(&browser, "notification").await;

    // The report as CSV: one row per recipient.
    browser.click("#export-csv").await;
    eventually("the CSV download", Duration::from_secs(20), || async {
        !browser.downloaded().is_empty()
    })
    .await;
    let csv = std::fs::read_to_string(&browser.downloaded()[0]).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(rows[0].contains("status"), "{csv}");
    assert_eq!(
        rows.iter().filter(|r| r.contains(",sent,")).count(),
        2,
        "{csv}"
    );

    // The list shows it done, with its progress bar.
    browser
        .goto(&format!("{}/#/notifications", runner.base))
        .await;
    browser
        .wait_text("#notifications-table", "the notification", |t| {
            t.contains("done") && t.contains("Sent 2")
        })
        .await;
    browser.screenshot("notifications").await;
    assert_accessible(&browser, "notifications").await;

    // Schedule at each recipient's own time; the preview shows the next fires as someone in
    // Tokyo would get them.
    browser.goto(&format!("{}/#/compose", runner.base)).await;
    browser
        .type_into("#message-text", "Time sheets are due today.")
        .await;
    browser.click("#when-schedule").await;
    browser.click("#zone-recipient").await;
    browser.type_into("#preview-zone", "Asia/Tokyo").await;
    let fires = browser
        .wait_text("#fires", "five fires in Tokyo", |t| {
            t.contains("Next fires (Asia/Tokyo)") && t.matches("UTC").count() == 5
        })
        .await;
    assert!(fires.contains("09:00 Asia/Tokyo"), "{fires}");
    assert!(fires.contains("00:00 UTC"), "{fires}");
    browser.screenshot("schedule").await;
    assert_accessible(&browser, "schedule").await;
    set_date(&browser, "recurrence-end", "2030-12-31").await;
    browser.click("#submit").await;
    browser
        .wait_text("#schedules-table", "the schedule", |t| {
            t.contains("daily at 09:00 (each recipient's time)")
        })
        .await;
    browser.click("#schedules-table .show-fires").await;
    browser.wait_for("#schedules-table .fire-list li").await;
    browser.screenshot("schedules").await;
    assert_accessible(&browser, "schedules").await;
    let (_, schedules) = runner.get("/api/schedules").await;
    assert_eq!(schedules["items"][0]["timeZone"], "recipient");
    assert_eq!(schedules["items"][0]["endDate"], "2030-12-31");

    // Pause, resume, and edit: each a PATCH of the version read.
    browser.click("#schedules-table .pause-resume").await;
    browser
        .wait_text("#schedules-table", "paused", |t| {
            t.contains("paused") && t.contains("Resume")
        })
        .await;
    assert_eq!(
        runner.get("/api/schedules").await.1["items"][0]["paused"],
        true
    );
    browser.click("#schedules-table .pause-resume").await;
    browser
        .wait_text("#schedules-table", "resumed", |t| {
            !t.contains("paused") && t.contains("Pause")
        })
        .await;
    browser.click("#schedules-table .edit").await;
    browser
        .wait_text(
            "body[data-page='schedules'] #fires",
            "the stored rule's fires",
            |t| t.contains("Next fires"),
        )
        .await;
    browser
        .click("#recurrence-kind option[value='monthly']")
        .await;
    browser
        .type_into("#message-text", "Time sheets are due this month.")
        .await;
    // Emptying the last day clears it.
    set_date(&browser, "recurrence-end", "").await;
    browser.click("#submit").await;
    browser
        .wait_text("#schedules-table", "the edited schedule", |t| {
            t.contains("monthly on day 1 at 09:00 (each recipient's time)")
        })
        .await;
    let (_, schedules) = runner.get("/api/schedules").await;
    let edited = &schedules["items"][0];
    assert_eq!(edited["message"]["text"], "Time sheets are due this month.");
    assert_eq!(edited["recurrence"]["kind"], "monthly");
    assert_eq!(edited["paused"], false);
    assert_eq!(edited["endDate"], Value::Null, "{edited}");
    browser.click("#schedules-table .delete").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_text("#schedules", "no schedule", |t| t == "No schedule yet.")
        .await;
    assert_eq!(runner.get("/api/schedules").await.1["items"], json!([]));

    // Installations, and the report of who uninstalled the bot, when and why.
    browser
        .goto(&format!("{}/#/installations", runner.base))
        .await;
    browser
        .wait_text("#installations-table", "four installations", |t| {
            t.contains("Megan Bowen") && t.contains("Lee Gu") && t.contains("Nestor Wilke")
        })
        .await;
    browser.screenshot("installations").await;
    assert_accessible(&browser, "installations").await;
    browser.click("#report-uninstalled").await;
    let report = browser
        .wait_text("#installations-table", "who uninstalled", |t| {
            t.contains("Nestor Wilke") && !t.contains("Megan Bowen")
        })
        .await;
    assert!(
        report.contains("Why") && report.contains("uninstalled"),
        "{report}"
    );

    // Retract, after a confirmation: the copies disappear from Teams.
    browser
        .goto(&format!("{}/#/notifications/{notification}", runner.base))
        .await;
    browser.click("#retract").await;
    browser.click("#confirm-no").await;
    assert_eq!(browser.text("#edit-outcome").await, "");
    browser.click("#retract").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_text("#edit-outcome", "the retraction", |t| {
            t.contains("Retracted 2 copies")
        })
        .await;
    for (_, chat) in &people[..2] {
        let copies = posted(&emulator, chat, ANNOUNCEMENT);
        assert!(copies.len() == 1 && copies[0].deleted, "{chat}: {copies:?}");
    }
    assert_no_policy_violation(&browser).await;

    // Keyboard only: sign in, load a sample, send, confirm.
    browser.eval("sessionStorage.clear(); return null").await;
    browser.goto(&format!("{}/", runner.base)).await;
    browser.wait_for("#api-key").await;
    assert_eq!(browser.focused().await, "api-key");
    browser.type_here(API_KEY).await;
    browser.press(Key::Enter).await;
    browser
        .wait_for("body[data-page='compose'] #kind-card")
        .await;
    browser.tab_to("kind-text").await;
    browser.press(Key::Right).await;
    assert_eq!(browser.focused().await, "kind-card");
    browser.tab_to("sample-incident").await;
    let outline = browser
        .eval("return getComputedStyle(document.activeElement).outlineStyle")
        .await;
    assert_ne!(outline, json!("none"), "the focus is not visible");
    browser.press(Key::Enter).await;
    browser.wait_for("#preview .ac-adaptiveCard").await;
    browser
        .wait_text("#preview", "the incident", |t| t.contains(INCIDENT))
        .await;
    browser.tab_to("submit").await;
    browser.press(Key::Enter).await;
    browser.wait_for("#confirm-yes").await;
    assert_eq!(browser.focused().await, "confirm-no");
    browser.chord(&[Key::Shift, Key::Tab]).await;
    assert_eq!(browser.focused().await, "confirm-yes");
    browser.press(Key::Enter).await;
    browser
        .wait_text("#notification-status", "done", |t| t == "done")
        .await;
    for (_, chat) in &people[..2] {
        assert_eq!(posted(&emulator, chat, INCIDENT).len(), 1, "{chat}");
    }

    // The incident moves on: every delivered copy is updated in place.
    browser.click("#update").await;
    browser
        .wait_for("body[data-page='notifications'] #sample-incident")
        .await;
    browser.click("#sample-incident").await;
    let resolved = json!({"id": INCIDENT, "status": "Resolved", "summary": "Mail flows again.",
        "impact": "None", "nextUpdate": "none"});
    browser.type_into("#card-data", &resolved.to_string()).await;
    browser
        .wait_text("#preview", "the resolved incident", |t| {
            t.contains("Resolved")
        })
        .await;
    browser.click("#submit").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_for("body[data-page='notifications'] #retract")
        .await;
    let said = browser
        .eval("return document.getElementById('status').textContent")
        .await;
    assert!(
        said.as_str().unwrap().starts_with("Updated 2 copies"),
        "{said}"
    );
    for (_, chat) in &people[..2] {
        let copies = posted(&emulator, chat, INCIDENT);
        assert!(
            copies.len() == 1
                && copies[0].updates == 1
                && copies[0].activity.to_string().contains("Mail flows again."),
            "{chat}: {copies:?}"
        );
    }
    assert_no_policy_violation(&browser).await;
    browser.close().await;
}
