//! The callback, acknowledgement and follow-up of a notification people answer.

use herald_domain::cards::CardAnswer;
use serde_json::json;

use super::*;

fn with(field: &str, value: Value) -> Value {
    let mut request = body(json!({"text": "Approve the release?"}));
    request[field] = value;
    request
}

#[test]
fn callbacks_are_https_or_loopback_http_without_credentials() {
    for good in [
        "https://hooks.contoso.com/herald",
        "http://127.0.0.1:8080/cb",
        "http://localhost/cb",
        "http://[::1]:9000/",
    ] {
        let request = NotifyRequest::from_json(&with("callback", json!(good))).unwrap();
        assert!(request.callback.is_some(), "{good}");
    }
    for bad in [
        json!("http://hooks.contoso.com/herald"),
        json!("ftp://127.0.0.1/x"),
        json!("https://user:secret@hooks.contoso.com/"),
        json!("not a url"),
        json!(42),
        json!(format!("https://x.example/{}", "a".repeat(2100))),
    ] {
        rejected(&with("callback", bad), "InvalidRequest", "callback");
    }
}

#[test]
fn callback_hosts_allow_exactly_what_they_list() {
    let hosts = CallbackHosts::parse(" hooks.contoso.com, api.fabrikam.com:8443 ,*.tailspin.io,,");
    let allowed = |url: &str| hosts.allows(&parse_callback_url(url).unwrap());
    assert!(allowed("https://hooks.contoso.com/a"));
    assert!(allowed("https://HOOKS.contoso.com:9999/a"));
    assert!(allowed("https://api.fabrikam.com:8443/a"));
    assert!(!allowed("https://api.fabrikam.com/a"));
    assert!(allowed("https://eu.tailspin.io/a"));
    assert!(!allowed("https://tailspin.io/a"));
    assert!(!allowed("https://evil-contoso.com/a"));
    assert!(!allowed("http://127.0.0.1:8080/a"));
    assert!(hosts.check(None).is_ok());
    let error = hosts.check(Some("https://evil.example/")).unwrap_err();
    assert_eq!(
        (error.code(), error.field()),
        ("InvalidRequest", "callback")
    );
    assert!(error.to_string().contains("HERALD_CALLBACK_HOSTS"));
    let local = CallbackHosts::parse("127.0.0.1,localhost");
    assert!(local.check(Some("http://127.0.0.1:9/cb")).is_ok());
    assert!(CallbackHosts::default().is_empty());
}

#[test]
fn acknowledgements_are_a_card_or_a_message() {
    let request =
        NotifyRequest::from_json(&with("acknowledgement", json!({"message": "Thanks!"}))).unwrap();
    assert_eq!(
        request.acknowledgement,
        Some(CardAnswer::Message("Thanks!".into()))
    );
    let request =
        NotifyRequest::from_json(&with("acknowledgement", json!({"card": card()}))).unwrap();
    assert_eq!(request.acknowledgement, Some(CardAnswer::Card(card())));
    for (bad, field) in [
        (json!({"card": card(), "message": "x"}), "acknowledgement"),
        (json!({"message": "  "}), "acknowledgement.message"),
        (
            json!({"message": "x".repeat(1001)}),
            "acknowledgement.message",
        ),
        (json!("Thanks"), "acknowledgement"),
        (json!({}), "acknowledgement"),
    ] {
        rejected(&with("acknowledgement", bad), "InvalidRequest", field);
    }
    rejected(
        &with("acknowledgement", json!({"card": {"type": "Nope"}})),
        "InvalidCard",
        "acknowledgement.card.type",
    );
}

#[test]
fn follow_ups_are_due_after_their_duration() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let request = NotifyRequest::from_json(&with(
        "followUp",
        json!({"ifUnreadAfter": "PT4H", "message": {"text": "Did you see this?"}}),
    ))
    .unwrap();
    let record = request.into_notification("api", now, Duration::days(30));
    let follow_up = record.follow_up.unwrap();
    assert_eq!(follow_up.due_at, now + Duration::hours(4));
    assert_eq!(follow_up.if_unread_after, "PT4H");
    assert_eq!(follow_up.activity["text"], "Did you see this?");
    for (bad, field) in [
        (
            json!({"ifUnreadAfter": "PT30S", "message": {"text": "x"}}),
            "followUp.ifUnreadAfter",
        ),
        (
            json!({"ifUnreadAfter": "P8D", "message": {"text": "x"}}),
            "followUp.ifUnreadAfter",
        ),
        (
            json!({"ifUnreadAfter": "4 hours", "message": {"text": "x"}}),
            "followUp.ifUnreadAfter",
        ),
        (json!({"message": {"text": "x"}}), "followUp.ifUnreadAfter"),
        (
            json!({"ifUnreadAfter": "PT4H", "message": {"text": "x"}, "to": 1}),
            "followUp.to",
        ),
        (json!("PT4H"), "followUp"),
    ] {
        rejected(&with("followUp", bad), "InvalidRequest", field);
    }
    rejected(
        &with("followUp", json!({"ifUnreadAfter": "PT4H"})),
        "InvalidMessage",
        "followUp.message",
    );
    rejected(
        &with("followUp", json!({"ifUnreadAfter": "PT4H", "message": {}})),
        "InvalidMessage",
        "followUp.message",
    );
}

#[test]
fn iso_durations_of_days_hours_minutes_and_seconds() {
    let cases = [
        ("PT4H", Some(Duration::hours(4))),
        ("P1D", Some(Duration::days(1))),
        ("P1DT2H", Some(Duration::hours(26))),
        ("PT1H30M", Some(Duration::minutes(90))),
        ("PT90S", Some(Duration::seconds(90))),
        ("PT", None),
        ("P", None),
        ("PT4", None),
        ("PT30M1H", None),
        ("P1H", None),
        ("T4H", None),
        ("PT-4H", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_iso_duration(raw), expected, "{raw}");
    }
}

#[test]
fn refreshes_name_at_most_sixty_users() {
    let mut refreshed = card();
    let ids: Vec<String> = (0..60).map(|n| format!("29:user-{n}")).collect();
    refreshed["refresh"] = json!({"action": {"type": "Action.Execute", "verb": "status"},
                                  "userIds": ids});
    assert!(NotifyRequest::from_json(&body(json!({"card": refreshed.clone(), "data": {"user": {"name": "M"}, "items": [{}, {"title": "x"}]}}))).is_ok());
    refreshed["refresh"]["userIds"]
        .as_array_mut()
        .unwrap()
        .push(json!("29:one-too-many"));
    rejected(
        &body(
            json!({"card": refreshed, "data": {"user": {"name": "M"}, "items": [{}, {"title": "x"}]}}),
        ),
        "InvalidCard",
        "message.card.refresh.userIds",
    );
    assert!(check_card(&json!({"type": "AdaptiveCard", "version": "1.4", "refresh": 5})).is_err());
}
