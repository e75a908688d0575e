//! `channelData.eventType` of a `conversationUpdate`: the team and channel events Teams announces
//! (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events).
//! Matched without regard to case: Microsoft's own samples spell `teamrestored`.

/// The team and channel events Herald acts on; anything else is a plain refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TeamsEvent {
    ChannelCreated,
    ChannelDeleted,
    ChannelRenamed,
    ChannelRestored,
    TeamArchived,
    TeamDeleted,
    TeamHardDeleted,
    TeamRenamed,
    TeamRestored,
    TeamUnarchived,
}

impl TeamsEvent {
    const ALL: [Self; 10] = [
        Self::ChannelCreated,
        Self::ChannelDeleted,
        Self::ChannelRenamed,
        Self::ChannelRestored,
        Self::TeamArchived,
        Self::TeamDeleted,
        Self::TeamHardDeleted,
        Self::TeamRenamed,
        Self::TeamRestored,
        Self::TeamUnarchived,
    ];

    /// The event an `eventType` names, in any spelling of case; `None` for events Herald does not
    /// act on (`teamMemberAdded`, `channelShared`, ones added later).
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        Self::ALL
            .into_iter()
            .find(|event| event.as_str().eq_ignore_ascii_case(raw))
    }

    /// The documented spelling, also the status reason and event cause the change records.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ChannelCreated => "channelCreated",
            Self::ChannelDeleted => "channelDeleted",
            Self::ChannelRenamed => "channelRenamed",
            Self::ChannelRestored => "channelRestored",
            Self::TeamArchived => "teamArchived",
            Self::TeamDeleted => "teamDeleted",
            Self::TeamHardDeleted => "teamHardDeleted",
            Self::TeamRenamed => "teamRenamed",
            Self::TeamRestored => "teamRestored",
            Self::TeamUnarchived => "teamUnarchived",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_match_in_any_case_and_keep_their_documented_spelling() {
        for event in TeamsEvent::ALL {
            assert_eq!(TeamsEvent::parse(event.as_str()), Some(event));
            assert_eq!(
                TeamsEvent::parse(&event.as_str().to_ascii_lowercase()),
                Some(event)
            );
            assert_eq!(
                TeamsEvent::parse(&event.as_str().to_ascii_uppercase()),
                Some(event)
            );
        }
        assert_eq!(
            TeamsEvent::parse("teamrestored"),
            Some(TeamsEvent::TeamRestored)
        );
        assert_eq!(
            TeamsEvent::parse(" teamArchived "),
            Some(TeamsEvent::TeamArchived)
        );
        assert_eq!(TeamsEvent::parse("teamMemberAdded"), None);
        assert_eq!(TeamsEvent::parse(""), None);
    }
}
