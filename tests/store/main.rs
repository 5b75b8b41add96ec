//! The store conformance suite: one story per test, run on SQLite always and on PostgreSQL
//! when `DATABASE_URL` is set (`scripts/test` and CI set it). Each test gets a fresh SQLite
//! file or a fresh PostgreSQL schema.

mod backends;
mod catalog;
mod cluster;
#[path = "../common/mod.rs"]
mod common;
mod console;
mod delivery;
mod messages;
mod ordering;
mod sealing;

/// Declares each story as a test on both backends.
macro_rules! conformance {
    ($($story:path => $name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (store, _dir) = crate::backends::sqlite().await;
                $story(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let Some(db) = crate::backends::postgres().await else { return };
                $story(db.store.clone()).await;
            })*
        }
    };
}

conformance! {
    crate::catalog::applications => applications,
    crate::catalog::event_types => event_types,
    crate::catalog::endpoints => endpoints,
    crate::catalog::upserts => upserts,
    crate::catalog::catalog_changes_reach_the_next_message => catalog_changes_reach_the_next_message,
    crate::messages::accept_fans_out_and_is_idempotent => accept_fans_out_and_is_idempotent,
    crate::messages::list_filters_and_pages => list_filters_and_pages,
    crate::messages::only_endpoint_ignores_filters => only_endpoint_ignores_filters,
    crate::messages::payload_filters_apply_at_fan_out => payload_filters_apply_at_fan_out,
    crate::messages::concurrent_accepts_answer_each_message => concurrent_accepts_answer_each_message,
    crate::messages::app_messages_are_deleted_in_batches => app_messages_are_deleted_in_batches,
    crate::delivery::claim_record_and_retry => claim_record_and_retry,
    crate::delivery::leases_expire_and_stale_outcomes_are_ignored => leases_expire_and_stale_outcomes_are_ignored,
    crate::delivery::leased_on_accept_resend_and_recover => leased_on_accept_resend_and_recover,
    crate::delivery::endpoint_health => endpoint_health,
    crate::delivery::purge_keeps_what_is_pending_or_recent => purge_keeps_what_is_pending_or_recent,
    crate::delivery::outcomes_of_deleted_endpoints_are_dropped => outcomes_of_deleted_endpoints_are_dropped,
    crate::delivery::backlog_and_heartbeat => backlog_and_heartbeat,
    crate::delivery::background_tasks => background_tasks,
    crate::delivery::busy_endpoints_stay_pending_and_are_passed_over => busy_endpoints_stay_pending_and_are_passed_over,
    crate::ordering::a_lane_sends_one_at_a_time_in_order => a_lane_sends_one_at_a_time_in_order,
    crate::ordering::a_holding_endpoint_holds_the_key_until_resent => a_holding_endpoint_holds_the_key_until_resent,
    crate::ordering::a_key_accepted_at_once_has_one_in_front => a_key_accepted_at_once_has_one_in_front,
    crate::console::sessions_expire_and_end => sessions_expire_and_end,
    crate::console::applications_are_searched_by_name_or_uid => applications_are_searched_by_name_or_uid,
    crate::console::overview_counts_the_last_day => overview_counts_the_last_day,
}
