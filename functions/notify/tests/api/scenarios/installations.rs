//! The installations report: filtered by type, tenant, team and status, with who blocked or
//! uninstalled the bot, when and why.

use std::collections::HashSet;

use herald_domain::{ChannelId, ChannelInfo, ConversationType, ReferenceStatus, TeamId, TeamInfo};
use herald_store::StatusUpdate;
use serde_json::{Value, json};

use super::assert_error;
use crate::{Harness, TENANT, at, base, on_both_backends};

on_both_backends!(installations_filter_and_report_blocked);

async fn installations_filter_and_report_blocked(h: &Harness) {
    let other_tenant = "0c1d2e3f-0000-4000-8000-000000000002";
    let active = h.personal(TENANT, "Megan Bowen");
    let blocked = h.personal(TENANT, "Alex Wilber");
    let uninstalled = h.personal(other_tenant, "Lee Gu");
    let group = base(
        h,
        other_tenant,
        "19:group@thread.v2",
        ConversationType::GroupChat,
    );
    let mut channel = base(
        h,
        TENANT,
        "19:sales@thread.tacv2",
        ConversationType::Channel,
    );
    channel.team = Some(TeamInfo {
        id: TeamId::new("19:sales@thread.tacv2").unwrap(),
        name: Some("Sales".into()),
        aad_group_id: None,
    });
    channel.channel = Some(ChannelInfo {
        id: ChannelId::new("19:sales@thread.tacv2").unwrap(),
        name: None,
    });
    for reference in [&active, &blocked, &uninstalled, &group, &channel] {
        h.references.upsert(reference).await.unwrap();
    }
    let reason = "blocked by the user (HTTP 403 MessageWritesBlocked)";
    h.references
        .set_status(
            &blocked.key(),
            &StatusUpdate {
                status: ReferenceStatus::Blocked,
                at: at(300),
                reason: Some(reason.into()),
            },
        )
        .await
        .unwrap();
    h.references
        .set_status(
            &uninstalled.key(),
            &StatusUpdate {
                status: ReferenceStatus::Uninstalled,
                at: at(400),
                reason: Some("installationUpdate remove".into()),
            },
        )
        .await
        .unwrap();

    let ids = |reply: &crate::HttpReply| -> HashSet<String> {
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["conversationId"].as_str().unwrap().to_owned())
            .collect()
    };
    let set = |refs: &[&herald_domain::ConversationReference]| -> HashSet<String> {
        refs.iter().map(|r| r.conversation_id.to_string()).collect()
    };

    // The blocked report: who, when, and what showed it.
    let report = h
        .call("GET", "/api/installations?status=blocked", None)
        .await;
    assert_eq!(ids(&report), set(&[&blocked]));
    let item = &report.body["items"][0];
    assert_eq!(item["statusReason"], reason);
    assert_eq!(item["statusChangedAt"], json!(at(300)));
    assert_eq!(item["user"]["name"], "Alex Wilber");
    assert_eq!(item["tenantId"], TENANT);
    let gone = h
        .call("GET", "/api/installations?status=uninstalled", None)
        .await;
    assert_eq!(ids(&gone), set(&[&uninstalled]));
    let active_only = h
        .call("GET", "/api/installations?status=active", None)
        .await;
    assert_eq!(ids(&active_only), set(&[&active, &group, &channel]));
    assert_eq!(active_only.body["items"][0]["statusReason"], Value::Null);

    let personal = h
        .call("GET", "/api/installations?type=personal", None)
        .await;
    assert_eq!(ids(&personal), set(&[&active, &blocked, &uninstalled]));
    let tenant = h
        .call(
            "GET",
            &format!("/api/installations?tenantId={other_tenant}"),
            None,
        )
        .await;
    assert_eq!(ids(&tenant), set(&[&uninstalled, &group]));
    let tenant_personal = h
        .call(
            "GET",
            &format!("/api/installations?tenantId={other_tenant}&type=personal&status="),
            None,
        )
        .await;
    assert_eq!(ids(&tenant_personal), set(&[&uninstalled]));
    let team = h
        .call(
            "GET",
            "/api/installations?teamId=19%3Asales%40thread.tacv2",
            None,
        )
        .await;
    assert_eq!(ids(&team), set(&[&channel]));
    assert_eq!(team.body["items"][0]["team"]["name"], "Sales");

    // Everything, one at a time, through the cursors.
    let mut all = HashSet::new();
    let mut url = "/api/installations?limit=1".to_owned();
    for _ in 0..20 {
        let page = h.call("GET", &url, None).await;
        assert!(page.body["items"].as_array().unwrap().len() <= 1);
        all.extend(ids(&page));
        match page.body["nextCursor"].as_str() {
            Some(c) => url = format!("/api/installations?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        all,
        set(&[&active, &blocked, &uninstalled, &group, &channel])
    );

    for (query, field) in [
        ("type=meeting", "type"),
        ("status=gone", "status"),
        ("limit=-1", "limit"),
        ("cursor=%%%", "cursor"),
        ("tenant=x", "tenant"),
    ] {
        let reply = h
            .call("GET", &format!("/api/installations?{query}"), None)
            .await;
        assert_error(&reply, 400, "InvalidParameter", Some(field));
    }
}
