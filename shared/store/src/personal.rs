//! One personal record per person (tenant, Entra object id, bot).
//!
//! Teams names a bot's 1:1 chat with a user by the connector's id (`a:...`) in every activity,
//! while Microsoft Graph names the same chat `19:...@unq.gbl.spaces`
//! (<https://learn.microsoft.com/graph/api/userscopeteamsappinstallation-get-chat>). Stored under
//! both ids, one person would be two recipients: two copies of every broadcast, and a `stop`
//! typed in one chat that the other ignores. So whenever a personal reference is written, the
//! person's other records (found through the user index) are folded into one: the connector's
//! id is kept, and an opt-out or a block of that person wins over any record that is merely
//! active.

use herald_domain::{ConversationId, ConversationReference, ReferenceStatus};

/// Whether `id` is the connector's id of a personal chat, the one Teams speaks of in activities
/// (<https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages>).
pub(crate) fn is_connector_id(id: &ConversationId) -> bool {
    id.as_str().starts_with("a:")
}

/// A status that is the person's own decision about the bot, not the installation's state.
fn is_persons_choice(status: ReferenceStatus) -> bool {
    matches!(status, ReferenceStatus::OptedOut | ReferenceStatus::Blocked)
}

/// A person's records folded into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Folded {
    /// The one record to keep (under its own key).
    pub kept: ConversationReference,
    /// The records to remove, as they were read.
    pub removed: Vec<ConversationReference>,
}

/// Folds `others` (the same person's other records of the same bot) into `written`, the record
/// just stored. The record kept is `written` when its id is the connector's (or no other's is),
/// else the other with the connector's id most recently updated.
pub(crate) fn fold(written: ConversationReference, others: Vec<ConversationReference>) -> Folded {
    let mut records = others;
    let keep_written =
        is_connector_id(&written.conversation_id) || !records.iter().any(is_connector_record);
    let kept = if keep_written {
        written
    } else {
        let best = records
            .iter()
            .enumerate()
            .filter(|(_, r)| is_connector_record(r))
            .max_by_key(|(_, r)| r.updated_at)
            .map_or(0, |(i, _)| i);
        let best = records.swap_remove(best);
        records.push(written);
        best
    };
    merge_into(kept, records)
}

fn is_connector_record(reference: &ConversationReference) -> bool {
    is_connector_id(&reference.conversation_id)
}

/// What reading a person's records shows before they are folded on the next write: the record
/// with the connector's id (else the most recently updated), with the others folded in.
pub(crate) fn person_view(
    mut candidates: Vec<ConversationReference>,
) -> Option<ConversationReference> {
    let first = candidates
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| (is_connector_record(r), r.updated_at))
        .map(|(i, _)| i)?;
    let first = candidates.swap_remove(first);
    Some(merge_into(first, candidates).kept)
}

/// `kept` with what only the others know filled in, the earliest installation, the latest
/// sighting, and the status that wins: the person's latest opt-out or block if any record has
/// one, else the latest status change of all.
fn merge_into(mut kept: ConversationReference, others: Vec<ConversationReference>) -> Folded {
    let winner = std::iter::once(&kept)
        .chain(&others)
        .max_by_key(|r| (is_persons_choice(r.status), r.status_changed_at))
        .filter(|r| r.conversation_id != kept.conversation_id)
        .map(|r| (r.status, r.status_reason.clone(), r.status_changed_at));
    if let Some((status, reason, at)) = winner {
        kept.status = status;
        kept.status_reason = reason;
        kept.status_changed_at = at;
    }
    for other in &others {
        kept.installed_at = kept.installed_at.min(other.installed_at);
        kept.last_seen_at = kept.last_seen_at.max(other.last_seen_at);
        kept.locale = kept.locale.take().or_else(|| other.locale.clone());
        kept.time_zone = kept.time_zone.or(other.time_zone);
        kept.time_zone_override = kept.time_zone_override.or(other.time_zone_override);
        if let (Some(user), Some(known)) = (&mut kept.user, &other.user) {
            user.name = user.name.take().or_else(|| known.name.clone());
        }
    }
    Folded {
        kept,
        removed: others,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone as _, Utc};

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn record(id: &str, minutes: i64) -> ConversationReference {
        herald_testkit::person(id, at(minutes))
    }

    const GRAPH: &str = "19:aad-1_app@unq.gbl.spaces";

    #[test]
    fn the_connector_id_is_kept_whichever_was_written() {
        let folded = fold(record(GRAPH, 5), vec![record("a:1", 0)]);
        assert_eq!(folded.kept.conversation_id.as_str(), "a:1");
        assert_eq!(folded.removed.len(), 1);
        assert_eq!(folded.removed[0].conversation_id.as_str(), GRAPH);

        let folded = fold(record("a:1", 5), vec![record(GRAPH, 0)]);
        assert_eq!(folded.kept.conversation_id.as_str(), "a:1");
        assert_eq!(folded.kept.installed_at, at(0), "the earliest installation");
        assert_eq!(folded.kept.last_seen_at, at(5));
    }

    #[test]
    fn an_opt_out_or_block_wins_over_a_later_active_record() {
        let mut opted_out = record("a:1", 0);
        opted_out.status = ReferenceStatus::OptedOut;
        opted_out.status_reason = Some("opted out by Megan".into());
        let active = record(GRAPH, 30);
        let folded = fold(active.clone(), vec![opted_out.clone()]);
        assert_eq!(folded.kept.conversation_id.as_str(), "a:1");
        assert_eq!(folded.kept.status, ReferenceStatus::OptedOut);
        assert_eq!(folded.kept.status_changed_at, at(0));

        let mut blocked = record(GRAPH, 0);
        blocked.status = ReferenceStatus::Blocked;
        blocked.status_reason = Some("403".into());
        let folded = fold(record("a:1", 30), vec![blocked]);
        assert_eq!(folded.kept.status, ReferenceStatus::Blocked);
        assert_eq!(folded.kept.status_reason.as_deref(), Some("403"));

        // Without a person's choice, the latest status change is the truth.
        let mut uninstalled = record("a:1", 0);
        uninstalled.status = ReferenceStatus::Uninstalled;
        let folded = fold(record(GRAPH, 30), vec![uninstalled]);
        assert_eq!(folded.kept.status, ReferenceStatus::Active);
        assert_eq!(folded.kept.status_changed_at, at(30));
    }

    #[test]
    fn what_only_an_alias_knows_is_kept() {
        let mut alias = record(GRAPH, 0);
        alias.time_zone_override = Some("Asia/Tokyo".parse().unwrap());
        alias.locale = Some("ja-JP".into());
        let folded = fold(record("a:1", 5), vec![alias]);
        assert_eq!(
            folded
                .kept
                .time_zone_override
                .map(herald_domain::TimeZone::name),
            Some("Asia/Tokyo")
        );
        assert_eq!(folded.kept.locale.as_deref(), Some("ja-JP"));
    }

    #[test]
    fn the_view_prefers_the_connector_id() {
        let mut alias = record(GRAPH, 30);
        alias.status = ReferenceStatus::OptedOut;
        let view = person_view(vec![alias, record("a:1", 0)]).unwrap();
        assert_eq!(view.conversation_id.as_str(), "a:1");
        assert_eq!(view.status, ReferenceStatus::OptedOut);
        assert_eq!(person_view(Vec::new()), None);
        let only = person_view(vec![record(GRAPH, 0)]).unwrap();
        assert_eq!(only.conversation_id.as_str(), GRAPH);
    }
}
