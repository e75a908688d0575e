//! A person marked blocked (a send failed with 403 ConversationBlockedByUser) who writes to Herald
//! in their personal chat has evidently unblocked it: the reference is active again. An opt-out
//! is the person's own choice and stays until they say start.

use herald_domain::{ConversationType, ReferenceStatus};
use herald_store::StatusUpdate;

use crate::support::Harness;

impl Harness {
    /// Marks a stored conversation as the sender does when Teams refuses a send.
    async fn mark(&self, conversation: &str, status: ReferenceStatus, reason: &str) {
        let update = StatusUpdate {
            status,
            at: self.later(60),
            reason: Some(reason.to_owned()),
        };
        self.webhook
            .store
            .set_status(&Self::key(conversation), &update)
            .await
            .unwrap();
    }
}

const BLOCKED_BY_USER: &str = "ConversationBlockedByUser";

#[tokio::test]
async fn a_blocked_person_who_writes_is_active_again_and_answered() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.mark(&h.personal, ReferenceStatus::Blocked, BLOCKED_BY_USER)
        .await;
    let events = h.published().len();

    let hello = h
        .activity("message_personal_local_timezone")
        .text("help")
        .at(h.later(60));
    h.ok(&hello).await;
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::Active);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("unblocked: the person wrote to the bot")
    );
    assert!(stored.is_sendable());
    assert!(
        h.last_text(&h.personal)
            .starts_with("Here's what Herald understands:")
    );
    // A block was never an installation event; its end is none either.
    assert_eq!(h.published().len(), events);

    // Teams redelivers the message: nothing more changes.
    h.ok(&hello).await;
    assert_eq!(
        h.stored(&h.personal).await.status_changed_at,
        stored.status_changed_at
    );
}

#[tokio::test]
async fn a_card_submit_from_a_blocked_person_unblocks_before_the_opt_out() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.mark(&h.personal, ReferenceStatus::Blocked, BLOCKED_BY_USER)
        .await;
    h.ok(&h.activity("message_card_submit").at(h.later(60)))
        .await;
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::OptedOut);
}

#[tokio::test]
async fn an_opted_out_person_who_writes_stays_opted_out() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    h.mark(
        &h.personal,
        ReferenceStatus::OptedOut,
        "opted out by Megan Bowen",
    )
    .await;
    h.ok(&h
        .activity("message_personal_local_timezone")
        .text("hello")
        .at(h.later(60)))
        .await;
    let stored = h.stored(&h.personal).await;
    assert_eq!(stored.status, ReferenceStatus::OptedOut);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("opted out by Megan Bowen")
    );
}

#[tokio::test]
async fn a_message_older_than_the_block_does_not_undo_it() {
    let h = Harness::new().await;
    h.ok(&h.activity("personal_install")).await;
    let written = h.later(10);
    h.mark(&h.personal, ReferenceStatus::Blocked, BLOCKED_BY_USER)
        .await;
    // Delivered late: written before the send that found the chat blocked.
    h.ok(&h
        .activity("message_personal_local_timezone")
        .text("hello")
        .at(written))
        .await;
    assert_eq!(h.stored(&h.personal).await.status, ReferenceStatus::Blocked);
}

#[tokio::test]
async fn only_a_personal_chat_is_unblocked_by_a_message() {
    let h = Harness::new().await;
    let group = h.group_chat();
    h.ok(&h.activity("group_install").set("CONVERSATION_ID", &group))
        .await;
    assert_eq!(
        h.stored(&group).await.conversation_type,
        ConversationType::GroupChat
    );
    h.mark(&group, ReferenceStatus::Blocked, BLOCKED_BY_USER)
        .await;
    h.ok(&h
        .activity("message_group_mention")
        .set("CONVERSATION_ID", &group)
        .text("<at>Herald</at> status")
        .at(h.later(60)))
        .await;
    assert_eq!(h.stored(&group).await.status, ReferenceStatus::Blocked);
}
