//! How a PostgreSQL row reads one column; the mapping to the domain is `store::rows`, shared
//! with SQLite.

use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::util::internal;
use crate::store::StoreResult;
use crate::store::rows::Columns;

use crate::model::Endpoint;
use crate::security::sealing::Keyring;
pub(super) use crate::store::rows::{
    app, attempt, delivery_state, event_type, message, session, task,
};

/// An endpoint's mapper needs the keys that open its sealed columns.
pub(super) fn endpoint(
    keys: &Keyring,
) -> impl Fn(&Row) -> StoreResult<Endpoint> + Send + Sync + '_ {
    move |row| crate::store::rows::endpoint(row, keys)
}

impl Columns for Row {
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(internal)
    }

    /// Widens whatever integer type the column has: the schema uses SMALLINT for states,
    /// INTEGER for versions and status codes, BIGINT for times.
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        let Some(i) = self.columns().iter().position(|c| c.name() == col) else {
            return Err(internal(format!("no column {col}")));
        };
        match *self.columns()[i].type_() {
            Type::INT2 => self.try_get::<_, Option<i16>>(i).map(|v| v.map(i64::from)),
            Type::INT4 => self.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from)),
            _ => self.try_get(i),
        }
        .map_err(internal)
    }

    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.try_get(col).map_err(internal)
    }
}
