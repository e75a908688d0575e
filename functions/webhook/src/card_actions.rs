//! Card actions on a notification's copies: an `Action.Execute` invoke (`adaptiveCard/action`,
//! a refresh too) or an `Action.Submit` message
//! (<https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>).
//!
//! The copy is found by the conversation and the message's id (`replyToId`) among the copies
//! Herald sent, never by ids the card's data carries: a card Herald did not send (or a forged
//! `replyToId`) changes nothing. A press is recorded once by its activity id, however often Teams
//! delivers it, and published as `herald.CardAction`; the notification's callback gets the same
//! JSON and may answer a card or message for the person and an update of every copy. Whatever the
//! callback does, the person gets an answer: its own, else the notification's acknowledgement.

use herald_domain::cards::CardAnswer;
use herald_events::{CardActionEvent, HeraldEvent};
use herald_store::{CardActionRecord, InteractionSettings, Revision, SentCopy, counted_verb};
use serde_json::Value;

use crate::callback::{self, CallbackReply};
use crate::turn::{Failure, Turn};

/// How the action reached Herald.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Press {
    /// An `adaptiveCard/action` invoke.
    Execute,
    /// A message whose `value` is an `Action.Submit`'s data.
    Submit,
}

/// What a person sees when no callback and no acknowledgement answered.
const RECORDED: &str = "Thanks, your answer was recorded.";
/// `value.trigger` of an `adaptiveCard/action` invoke: a press, or a card's automatic refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Manual,
    Automatic,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Automatic => "automatic",
        }
    }
}

/// The verb, data and trigger of an action as Teams delivered it.
struct Action {
    verb: String,
    data: Value,
    trigger: Trigger,
}

fn read_action(value: Option<&Value>, press: Press) -> Action {
    let value = value.cloned().unwrap_or(Value::Null);
    match press {
        Press::Execute => {
            let action = value.get("action");
            let automatic =
                value.get("trigger").and_then(Value::as_str) == Some(Trigger::Automatic.as_str());
            Action {
                verb: action
                    .and_then(|a| a.get("verb"))
                    .and_then(Value::as_str)
                    .unwrap_or("execute")
                    .to_owned(),
                data: action
                    .and_then(|a| a.get("data"))
                    .cloned()
                    .unwrap_or(Value::Null),
                trigger: if automatic {
                    Trigger::Automatic
                } else {
                    Trigger::Manual
                },
            }
        }
        Press::Submit => {
            let mut data = value;
            if let Value::Object(fields) = &mut data {
                // Teams' own messageBack settings, not the card author's data.
                fields.remove("msteams");
            }
            Action {
                verb: data
                    .get("verb")
                    .and_then(Value::as_str)
                    .unwrap_or("submit")
                    .to_owned(),
                data,
                trigger: Trigger::Manual,
            }
        }
    }
}

impl Turn<'_> {
    /// Handles an action on one of Herald's copies and returns what the person sees; `None` if
    /// the card is not one Herald sent (the caller answers as before).
    pub(crate) async fn card_action(&self, press: Press) -> Result<Option<CardAnswer>, Failure> {
        let Some(interactions) = &self.hook.interactions else {
            return Ok(None);
        };
        let activity = self.activity;
        let Some(reply_to) = activity.reply_to_id.as_deref().filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let tenant = activity.tenant_id()?;
        let conversation = self.thread()?;
        let Some(copy) = interactions
            .find_copy(&tenant, &conversation, reply_to)
            .await?
        else {
            tracing::info!(%conversation, reply_to, "an action on a card Herald did not send here; ignored");
            return Ok(None);
        };
        let Some(by) = self.actor() else {
            return Ok(None);
        };
        let action = read_action(activity.value.as_ref(), press);
        let event = CardActionEvent {
            action_id: self.action_id(reply_to),
            notification_id: copy.notification_id.to_string(),
            delivery_id: copy.delivery_id.to_string(),
            tenant_id: tenant,
            conversation_id: conversation,
            conversation_type: copy.conversation_type,
            activity_id: copy.activity_id.clone(),
            verb: action.verb,
            data: action.data,
            trigger: action.trigger.as_str().to_owned(),
            by,
            at: self.at,
        };
        let manual = action.trigger == Trigger::Manual;
        // A redelivered press is answered again but changes nothing again.
        let first = manual && self.record_press(&copy, &event).await?;
        let settings = interactions.settings(&copy.notification_id).await?;
        let reply = match settings.as_ref().and_then(|s| s.callback.as_deref()) {
            Some(url) => self.call_back(url, &event).await,
            None => None,
        };
        if first && let Some(update) = reply.as_ref().and_then(|r| r.update_all.as_ref()) {
            interactions
                .revise_content(
                    &copy.notification_id,
                    &Revision::Update(update.clone()),
                    self.now,
                    None,
                )
                .await?;
            tracing::info!(notification = %copy.notification_id, "every copy is being updated");
        }
        let answer = reply
            .and_then(|r| r.answer)
            .or_else(|| fallback(settings.as_ref(), manual));
        Ok(Some(answer.unwrap_or_else(|| {
            CardAnswer::Message(if manual { RECORDED } else { "" }.to_owned())
        })))
    }

    /// Records a press once; only the first delivery of it is published. Returns whether this
    /// was the first.
    async fn record_press(
        &self,
        copy: &SentCopy,
        event: &CardActionEvent,
    ) -> Result<bool, Failure> {
        let Some(interactions) = &self.hook.interactions else {
            return Ok(false);
        };
        let record = CardActionRecord {
            action_id: event.action_id.clone(),
            notification_id: copy.notification_id.clone(),
            delivery_id: copy.delivery_id.clone(),
            verb: counted_verb(&event.verb),
            at: self.now,
            expires_at: copy.expires_at,
        };
        let first = interactions.record_action(&record).await?;
        if first {
            self.push_event(HeraldEvent::CardAction(event.clone()));
        } else {
            tracing::info!(action = %event.action_id, "a card action delivered again; recorded once");
        }
        Ok(first)
    }

    /// The callback's answer, or `None` (logged) when it failed, was slow or answered nothing
    /// usable.
    async fn call_back(&self, url: &str, event: &CardActionEvent) -> Option<CallbackReply> {
        let body = match HeraldEvent::CardAction(event.clone()).detail() {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a card action");
                return None;
            }
        };
        // The receiver compares the signature's time with its own clock: real time, whatever
        // clock Herald runs on.
        let timestamp = chrono::Utc::now().timestamp();
        let config = &self.hook.config.callbacks;
        match callback::call(config, url, &event.action_id, body, timestamp).await {
            Ok(reply) => Some(reply),
            Err(e) => {
                tracing::warn!(error = %e, notification = %event.notification_id, "callback failed; answering with the acknowledgement");
                None
            }
        }
    }

    /// The id of the activity that carried the action (what stays the same when Teams delivers
    /// it again); Teams always sends one, but an activity without it still gets a stable key.
    fn action_id(&self, reply_to: &str) -> String {
        let activity = self.activity;
        activity.id.clone().unwrap_or_else(|| {
            format!(
                "{}|{reply_to}|{}|{}",
                activity.conversation.id,
                activity.from.id,
                activity.timestamp.as_deref().unwrap_or_default()
            )
        })
    }
}

/// The answer when no callback gave one: the acknowledgement for a press, the current card for a
/// refresh.
fn fallback(settings: Option<&InteractionSettings>, manual: bool) -> Option<CardAnswer> {
    let settings = settings?;
    if manual {
        settings.acknowledgement.clone()
    } else {
        settings.card.clone().map(CardAnswer::Card)
    }
}

/// What a submit answers in the conversation: the card or message as a reply. Teams has no
/// private answer to an `Action.Submit`, so in a channel or group chat everyone sees it.
pub(crate) fn submit_reply(answer: &CardAnswer) -> herald_connector::Activity {
    match answer {
        CardAnswer::Card(card) => herald_connector::Activity::message()
            .attachment(herald_connector::Attachment::adaptive_card(card.clone())),
        CardAnswer::Message(text) => crate::cards::reply(text.clone()),
    }
}
