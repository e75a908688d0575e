//! Shaping the emulated organisation: users, chats, teams and channels.

use super::TeamsEmulator;
use crate::world::{Conversation, ConversationKind, EmulatedTeam, EmulatedUser, random_token};

impl TeamsEmulator {
    /// Adds a user of `tenant` with fresh `29:` and AAD object ids.
    #[must_use]
    pub fn add_user(&self, tenant: &str, name: &str) -> EmulatedUser {
        let user = EmulatedUser {
            id: format!("29:1{}", random_token(40)),
            aad_object_id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            user_principal_name: format!(
                "{}@{}.example",
                name.to_ascii_lowercase().replace(' ', "."),
                tenant.get(..8).unwrap_or(tenant)
            ),
            tenant_id: tenant.to_owned(),
        };
        self.world().users.insert(user.id.clone(), user.clone());
        user
    }

    /// The bot's 1:1 chat with `user` (the id create conversation would return), made if needed.
    #[must_use]
    pub fn add_personal_chat(&self, tenant: &str, user_id: &str) -> String {
        self.world().personal_chat(tenant, user_id)
    }

    /// A group chat the bot was added to.
    #[must_use]
    pub fn add_group_chat(&self, tenant: &str, members: &[&str]) -> String {
        let id = format!("19:{}@thread.v2", uuid::Uuid::new_v4().simple());
        let conversation =
            Conversation::new(ConversationKind::GroupChat, tenant, owned(members), None);
        self.world().conversations.insert(id.clone(), conversation);
        id
    }

    /// A team with its General channel (same id as the team, no name).
    #[must_use]
    pub fn add_team(&self, tenant: &str, name: &str, members: &[&str]) -> EmulatedTeam {
        let id = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
        let team = EmulatedTeam {
            id: id.clone(),
            name: name.to_owned(),
            aad_group_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.to_owned(),
            channels: vec![(id.clone(), None)],
            members: owned(members),
        };
        let general = Conversation::new(
            ConversationKind::Channel,
            tenant,
            team.members.clone(),
            Some(id.clone()),
        );
        let mut world = self.world();
        world.conversations.insert(id.clone(), general);
        world.teams.insert(id, team.clone());
        team
    }

    /// A named channel in `team_id`; `None` if the team is unknown.
    #[must_use]
    pub fn add_channel(&self, team_id: &str, name: &str) -> Option<String> {
        let id = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
        let mut world = self.world();
        let team = world.teams.get_mut(team_id)?;
        team.channels.push((id.clone(), Some(name.to_owned())));
        let channel = Conversation::new(
            ConversationKind::Channel,
            &team.tenant_id,
            team.members.clone(),
            Some(team_id.to_owned()),
        );
        world.conversations.insert(id.clone(), channel);
        Some(id)
    }

    /// Forgets a conversation (later calls get 404 ConversationNotFound).
    pub fn remove_conversation(&self, id: &str) {
        self.world().conversations.remove(id);
    }
}

fn owned(members: &[&str]) -> Vec<String> {
    members.iter().map(|m| (*m).to_owned()).collect()
}
