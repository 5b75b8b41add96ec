//! Resource ids: a prefix naming the kind (`app_`, `ep_`, `msg_`, `atmpt_`) and a ULID-style
//! body (48-bit millisecond time + 80 random bits, Crockford base32), so ids sort by creation
//! time and pagination can use the id itself as its cursor.

use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub const APP: &str = "app_";
pub const ENDPOINT: &str = "ep_";
pub const MESSAGE: &str = "msg_";
pub const ATTEMPT: &str = "atmpt_";

/// A new id with the given prefix.
pub fn new_id(prefix: &str) -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) as u128;
    let mut random = [0u8; 10];
    fill_random(&mut random);
    let mut value: u128 = millis << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
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

/// A random `u64`, for jitter.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_sort_by_time() {
        let a = new_id(MESSAGE);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(MESSAGE);
        assert!(a.starts_with("msg_"));
        assert_eq!(a.len(), 4 + 26);
        assert!(a < b);
    }
}
