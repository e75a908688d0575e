//! The outbox contract, run against the embedded store and DynamoDB Local, and what each backend
//! adds: the embedded change feed, the DynamoDB item layout of installation waits.

// Scenario tests read top to bottom as one story each.
#![allow(clippy::too_many_lines)]

mod deliveries;
mod feed;
mod install_waits;
mod interactions;
mod leftovers;
mod lifecycle;
mod listing;
mod support;

/// Runs each `suite::case(store)` once per backend, as `embedded::case` and `dynamodb::case`.
macro_rules! contract {
    ($($suite:ident :: $name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = herald_store::EmbeddedOutboxStore::open(dir.path()).unwrap();
                    crate::$suite::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = herald_store::DynamoOutboxStore::new(
                        herald_testkit::dynamodb_client(),
                        herald_testkit::unique_name("outbox"),
                    );
                    store.ensure_table().await.unwrap();
                    crate::$suite::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

contract!(
    deliveries::create_is_idempotent,
    deliveries::pages_move_the_cursor_once,
    deliveries::claims_and_outcomes_happen_once,
    deliveries::a_chat_found_at_send_time_is_recorded_with_its_service_url,
    deliveries::concurrent_claims_have_one_winner,
    deliveries::deliveries_list_in_pages,
    deliveries::activity_ids_can_be_replaced,
    deliveries::content_revisions_bump_the_version,
    install_waits::install_begins_only_from_sending,
    install_waits::install_counts_follow_each_resolution,
    install_waits::waits_are_found_by_recipient_and_deadline,
    install_waits::end_install_happens_once,
    lifecycle::counts_agree_after_every_kind_of_outcome,
    lifecycle::outcomes_are_fenced_by_the_claims_lease,
    lifecycle::released_deliveries_wait_for_their_backoff,
    lifecycle::the_sweep_finds_and_wakes_stranded_work,
    lifecycle::the_latest_waiting_deliveries_come_first,
    lifecycle::unexpanded_notifications_are_stranded_work_too,
    interactions::copies_are_indexed_with_the_sent_outcome,
    interactions::read_receipts_mark_exactly_the_copies_they_cover,
    interactions::card_actions_are_recorded_once,
    interactions::interactive_notifications_keep_their_settings_apart,
    interactions::replaced_content_asks_for_one_edit_job,
    interactions::unfinished_edit_jobs_are_stranded_work,
    interactions::follow_ups_come_due_through_their_index,
    listing::notifications_list_newest_first,
);
