//! One contract suite per store, each run against both backends so they cannot drift: the
//! embedded backend on a temporary directory and DynamoDB Local (tables per test).

mod person;
mod reference_listings;
mod references;
mod schedules;
mod support;
mod zone_moves;

/// Runs each `suite::case(&dyn Harness)` once per backend, as `embedded::case` and
/// `dynamodb::case`.
macro_rules! contract {
    ($($suite:ident :: $name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let harness = crate::support::Embedded::new();
                    crate::$suite::$name(&harness).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = crate::support::Dynamo::new();
                    crate::$suite::$name(&harness).await;
                }
            )*
        }
    };
}

contract!(
    references::upsert_creates_then_updates,
    references::absent_fields_keep_stored_values,
    references::stale_activity_does_not_win,
    references::time_zone_override_survives_activities,
    references::concurrent_upserts_of_one_reference,
    references::status_changes_are_ordered,
    references::delete_removes,
    reference_listings::listings_use_filters_and_cursors,
    reference_listings::cursors_are_checked,
    reference_listings::finds_personal_conversation_by_aad_object_id,
    reference_listings::finds_team_channels_by_name,
    reference_listings::team_channels_stay_in_their_tenant,
    reference_listings::finds_references_by_conversation_id,
    reference_listings::lists_recipients_by_effective_zone,
    reference_listings::shared_conversations_list_by_the_zone_set_in_them,
    zone_moves::a_move_records_previous_zone_and_time,
    zone_moves::a_write_that_keeps_the_zone_keeps_the_move,
    zone_moves::lists_references_by_the_zone_they_left,
    references::other_bots_references_are_never_returned,
    references::corrupt_items_are_reported_and_skipped,
    references::invalid_references_are_rejected,
    references::data_survives_reopening,
    reference_listings::lists_five_thousand_each_once,
    person::a_persons_chat_ids_fold_into_one_record,
    person::a_block_through_graphs_chat_id_wins_when_teams_speaks_of_the_chat,
    person::another_bots_chat_with_the_person_is_not_folded,
    schedules::schedules_are_created_once,
    schedules::updates_are_conditional_on_the_version,
    schedules::deletes_leave_no_index_entries,
    schedules::due_schedules_come_earliest_first,
    schedules::due_schedules_page_past_what_was_fired,
    schedules::due_index_follows_every_update,
    schedules::owners_list_their_reminders,
    schedules::listings_page_with_checked_cursors,
    schedules::corrupt_schedules_are_reported_and_skipped,
    schedules::schedules_survive_reopening,
);
