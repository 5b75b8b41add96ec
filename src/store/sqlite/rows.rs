//! How a SQLite row reads one column; the mapping to the domain is `store::rows`, shared
//! with PostgreSQL.

use rusqlite::Row;

use super::util::internal;
use crate::model::Endpoint;
use crate::security::sealing::Keyring;
use crate::store::StoreResult;
use crate::store::rows::Columns;

impl Columns for Row<'_> {
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col).map_err(internal)
    }

    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col).map_err(internal)
    }

    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.get(col).map_err(internal)
    }
}

// `store::rows`' mappers, for SQLite's rows: a row borrows its statement, so a mapper passed
// to a query must accept a row of any lifetime, which a generic function cannot.
macro_rules! mappers {
    ($($name:ident -> $t:ty),* $(,)?) => {$(
        pub(super) fn $name(row: &Row) -> StoreResult<$t> {
            crate::store::rows::$name(row)
        }
    )*};
}

/// An endpoint's mapper needs the keys that open its sealed columns.
pub(super) fn endpoint(keys: &Keyring) -> impl Fn(&Row) -> StoreResult<Endpoint> + '_ {
    move |row| crate::store::rows::endpoint(row, keys)
}

mappers! {
    app -> crate::model::Application,
    event_type -> crate::model::EventType,
    message -> crate::model::Message,
    attempt -> crate::model::Attempt,
    delivery_state -> crate::model::DeliveryState,
    session -> crate::model::Session,
    task -> crate::model::task::BackgroundTask,
}
