//! Acting as the people in the emulated organisation: pressing the buttons of the bot's cards and
//! reading its messages, delivered to the bot endpoint (see [`TeamsEmulator::set_bot_endpoint`])
//! signed as Teams signs them, with the bot's answers recorded.

use serde_json::Value;

use super::TeamsEmulator;
use crate::interact::{Interaction, Place, activity, send};
use crate::world::BotExchange;
use crate::world::EmulatedUser;

impl TeamsEmulator {
    /// `user` does `interaction` on the message `reply_to` of `conversation` (a chat's or a
    /// channel's id): Teams' activity is POSTed to the bot endpoint and the bot's answer
    /// returned (and recorded, see [`Self::bot_exchanges`]).
    ///
    /// # Panics
    /// Without a bot endpoint, or for a conversation the emulator does not hold.
    pub async fn interact(
        &self,
        user: &EmulatedUser,
        conversation: &str,
        reply_to: &str,
        interaction: &Interaction,
    ) -> BotExchange {
        let ((url, bot_app_id), place) = {
            let world = self.world();
            let endpoint = world
                .bot_endpoint
                .clone()
                .expect("set_bot_endpoint before interacting");
            let id = world.canonical(conversation);
            let stored = world
                .conversations
                .get(&id)
                .unwrap_or_else(|| panic!("no conversation {conversation}"));
            let place = Place {
                kind: stored.kind,
                tenant: stored.tenant_id.clone(),
                conversation: id,
                team: stored.team_id.clone(),
            };
            (endpoint, place)
        };
        let activity = activity(
            &self.shared,
            &bot_app_id,
            user,
            &place,
            reply_to,
            interaction,
        );
        send(&self.shared, &url, &bot_app_id, activity).await
    }

    /// `user` presses an `Action.Execute` button with `verb` and `data` on the card of the
    /// message `reply_to`.
    pub async fn press(
        &self,
        user: &EmulatedUser,
        conversation: &str,
        reply_to: &str,
        verb: &str,
        data: Value,
    ) -> BotExchange {
        let press = Interaction::Execute {
            verb: verb.to_owned(),
            data,
            automatic: false,
        };
        self.interact(user, conversation, reply_to, &press).await
    }

    /// `user` has read everything in their personal chat up to the message `last_read`.
    pub async fn read_up_to(
        &self,
        user: &EmulatedUser,
        conversation: &str,
        last_read: &str,
    ) -> BotExchange {
        let read = Interaction::Read {
            last_read_message_id: last_read.to_owned(),
        };
        self.interact(user, conversation, last_read, &read).await
    }

    /// Sends an activity the bot got before once more, as Teams does when an answer was slow
    /// or lost: same id, same content.
    ///
    /// # Panics
    /// Without a bot endpoint.
    pub async fn redeliver(&self, earlier: &BotExchange) -> BotExchange {
        let (url, bot_app_id) = self
            .world()
            .bot_endpoint
            .clone()
            .expect("set_bot_endpoint before interacting");
        send(&self.shared, &url, &bot_app_id, earlier.activity.clone()).await
    }

    /// Every interaction sent to the bot so far, with its answer, oldest first.
    #[must_use]
    pub fn bot_exchanges(&self) -> Vec<BotExchange> {
        self.world().bot_exchanges.clone()
    }
}
