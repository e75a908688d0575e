//! Every connector operation against the emulator, answered as Teams answers it.

use herald_connector::{Activity, Connector, ConversationParameters};
use herald_domain::{ChannelId, ConversationId, TeamId, UserId};

use super::{Fixture, TENANT, hello};

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
