//! The dashboard's figures and the endpoints that need attention.

use deadpool_postgres::GenericClient;

use super::rows;
use super::util::{Cached, internal};
use crate::model::ids::{ATTEMPT, MESSAGE, lowest_id_at};
use crate::model::{Endpoint, Overview};
use crate::store::{StoreResult, columns};

/// Each count walks an index over just what it counts: ids carry their creation time, so
/// "since" is a range of the primary key; failed and pending rows have partial indexes.
pub(super) async fn overview(c: &impl GenericClient, since: i64) -> StoreResult<Overview> {
    let (first_message, first_attempt) =
        (lowest_id_at(MESSAGE, since), lowest_id_at(ATTEMPT, since));
    let row = c
        .row(
            "SELECT (SELECT count(*) FROM messages WHERE id >= $1),
                    (SELECT count(*) FROM attempts WHERE id >= $2 AND status = 0),
                    (SELECT count(*) FROM deliveries WHERE state = 2 AND updated_at >= $3),
                    (SELECT count(*) FROM deliveries WHERE state = 1)
                  + (SELECT count(*) FROM deliveries WHERE state = 3)",
            &[&first_message, &first_attempt, &since],
        )
        .await
        .map_err(internal)?;
    let get = |i: usize| row.try_get::<_, i64>(i).map(|n| n as u64).map_err(internal);
    Ok(Overview { messages: get(0)?, succeeded: get(1)?, failed: get(2)?, pending: get(3)? })
}

pub(super) async fn unhealthy_endpoints(
    c: &impl GenericClient,
    limit: usize,
) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {} FROM endpoints WHERE disabled OR failing_since IS NOT NULL
         ORDER BY failing_since IS NULL, failing_since, id LIMIT $1",
        columns::ENDPOINT
    );
    let found = c.rows(&sql, &[&(limit as i64)]).await.map_err(internal)?;
    found.iter().map(rows::endpoint).collect::<Result<_, _>>().map_err(internal)
}
