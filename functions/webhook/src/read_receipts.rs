//! Read receipts: with the resource-specific permission `ChatMessageReadReceipt.Read.Chat`, Teams
//! tells the bot when a person has read its messages in their personal chat, with an `event`
//! named `application/vnd.microsoft.readReceipt` whose `value.lastReadMessageId` covers every
//! message up to it
//! (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt>).
//! Channels and group chats send none.

use herald_domain::ConversationType;
use herald_events::{HeraldEvent, ReadEvent};
use herald_http::Reply;
use herald_store::ReadReceipt;
use serde_json::Value;

use crate::activity::ActivityError;
use crate::turn::{Outcome, Turn};

impl Turn<'_> {
    /// Marks the copies the receipt covers read and announces them, in one batch of events.
    pub(crate) async fn read_receipt(&self) -> Outcome {
        let activity = self.activity;
        let Some(interactions) = &self.hook.interactions else {
            return Ok(Reply::ok());
        };
        if activity.conversation_type()? != ConversationType::Personal {
            return Ok(Reply::ok());
        }
        let last_read = activity
            .value
            .as_ref()
            .and_then(|v| v.get("lastReadMessageId"))
            .and_then(Value::as_str)
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| ActivityError {
                field: "value.lastReadMessageId",
                problem: "missing in a read receipt".into(),
            })?;
        let tenant = activity.tenant_id()?;
        let conversation = self.thread()?;
        let read = interactions
            .mark_read(&ReadReceipt::new(
                &tenant,
                &conversation,
                last_read,
                self.at,
            ))
            .await?;
        for copy in read {
            self.push_event(HeraldEvent::NotificationRead(ReadEvent {
                notification_id: copy.notification_id.to_string(),
                delivery_id: copy.delivery_id.to_string(),
                tenant_id: copy.tenant_id,
                conversation_id: copy.conversation_id,
                activity_id: copy.activity_id,
                recipient_aad_object_id: copy.recipient,
                at: self.at,
            }));
        }
        Ok(Reply::ok())
    }
}
