//! Resource ids: a prefix naming the kind (`app_`, `ep_`, `msg_`, `atmpt_`) and a ULID-style
//! body (48-bit millisecond time + 80 random bits, Crockford base32), so ids sort by creation
//! time and pagination can use the id itself as its cursor.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub const APP: &str = "app_";
pub const ENDPOINT: &str = "ep_";
pub const MESSAGE: &str = "msg_";
pub const ATTEMPT: &str = "atmpt_";
pub const TASK: &str = "qtask_";

/// The operational webhooks' application (see `crate::operational`): the lowest id there is,
/// never generated, and left out of every list of applications.
pub const RESERVED_APP: &str = "app_00000000000000000000000000";

/// The last id body handed out, so ids made in the same millisecond still sort in the order
/// they were made (the random part is incremented instead of redrawn, as in monotonic ULIDs).
static LAST: Mutex<u128> = Mutex::new(0);

/// A new id with the given prefix.
///
/// The random part is drawn once per millisecond, not once per id: under load many ids share
/// a millisecond, and a draw is a system call (three of them per message, before).
pub fn new_id(prefix: &str) -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let value = {
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = if millis <= *last >> 80 {
            *last + 1
        } else {
            let mut random = [0u8; 16];
            fill_random(&mut random[6..]);
            (millis << 80) | (u128::from_be_bytes(random) & ((1 << 80) - 1))
        };
        *last
    };
    encode(prefix, value)
}

/// The smallest id with this prefix that could have been made at `millis`: every id made
/// before then sorts below it. Lets time ranges be read off the primary key.
pub fn lowest_id_at(prefix: &str, millis: i64) -> String {
    encode(prefix, (millis.max(0) as u128) << 80)
}

/// The creation time (ms) an id carries, if it is one of hookd's ids.
pub fn millis_of(id: &str) -> Option<i64> {
    let body = id.rsplit('_').next()?;
    let time = body.get(..10)?;
    let mut value: i64 = 0;
    for c in time.bytes() {
        value = value * 32 + CROCKFORD.iter().position(|&d| d == c)? as i64;
    }
    Some(value)
}

fn encode(prefix: &str, value: u128) -> String {
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for i in (0..26).rev() {
        out.push(CROCKFORD[((value >> (5 * i)) & 0x1f) as usize] as char);
    }
    out
}

/// Fills `buf` from the operating system's generator. Ids and secrets depend on it, so a
/// failing generator is not something to paper over.
pub fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random generator failed");
}

/// A random number in [0, 1), for jitter.
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(MESSAGE)).collect();
        assert!(ids[0].starts_with("msg_"));
        assert_eq!(ids[0].len(), 4 + 26);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!(lowest_id_at(MESSAGE, now - 10_000) < ids[0]);
        assert!(lowest_id_at(MESSAGE, now + 10_000) > ids[999]);
        assert_eq!(millis_of(&lowest_id_at(MESSAGE, 1_704_164_645_678)), Some(1_704_164_645_678));
        assert!(millis_of(&ids[0]).is_some_and(|t| (t - now).abs() < 10_000));
    }
}
