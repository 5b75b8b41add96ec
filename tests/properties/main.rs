//! Property tests: for inputs drawn at random (bounded, so the suite stays fast), the parsers
//! never panic and the pairs that must agree do: time formatting and parsing, ids and their
//! times, the SSRF guard and the IPv4 inside IPv6, signing and verification, durations,
//! templates and payload filters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hookd::model::time::{format_rfc3339, parse_client_time, parse_rfc3339};
use hookd::security::ssrf::non_public_reason;
use proptest::prelude::*;
use serde_json::Value;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// JSON values a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z$.]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z$.]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn times_format_and_parse_back(ms in 0i64..4_102_444_800_000) {
        prop_assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
        prop_assert_eq!(parse_client_time(&format_rfc3339(ms)), Some(ms));
    }

    #[test]
    fn time_parsing_never_panics(text in "\\PC{0,40}") {
        let _ = parse_client_time(&text);
        let _ = parse_rfc3339(&text);
    }

    #[test]
    fn ids_carry_their_time_and_sort_after_the_lowest_of_it(ms in 0i64..100_000) {
        let id = hookd::model::ids::new_id("msg_");
        let made = hookd::model::ids::millis_of(&id).unwrap();
        prop_assert!(hookd::model::ids::lowest_id_at("msg_", made) <= id);
        prop_assert!(hookd::model::ids::lowest_id_at("msg_", made + 1 + ms) > id);
    }

    /// An IPv4 address judged alone, mapped (`::ffff:a`), translated (`::ffff:0:a`) or through
    /// NAT64 (`64:ff9b::a`) gets the same answer: refused or not.
    #[test]
    fn ipv4_inside_ipv6_is_judged_as_the_ipv4(bits in any::<u32>()) {
        let v4 = Ipv4Addr::from(bits);
        let alone = non_public_reason(IpAddr::V4(v4)).is_some();
        let [a, b, c, d] = v4.octets();
        let low = [u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])];
        for carried in [
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, low[0], low[1]),
            Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, low[0], low[1]),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, low[0], low[1]),
            Ipv6Addr::new(0x64, 0xff9b, 1, low[0], u16::from(c), u16::from(d) << 8, 0, 0),
        ] {
            prop_assert_eq!(non_public_reason(IpAddr::V6(carried)).is_some(), alone, "{} as {}", v4, carried);
        }
    }

    #[test]
    fn every_signature_verifies_and_a_changed_body_does_not(
        body in prop::collection::vec(any::<u8>(), 0..256),
        ts in 1_600_000_000i64..2_000_000_000,
        ed25519 in any::<bool>(),
    ) {
        let secret = if ed25519 { hookd::signing::generate_ed25519_secret() } else { hookd::signing::generate_secret() };
        let signature = hookd::signing::standard_signature(&[&secret], "msg_1", ts, &body);
        let headers = vec![
            ("webhook-id".to_owned(), "msg_1".to_owned()),
            ("webhook-timestamp".to_owned(), ts.to_string()),
            ("webhook-signature".to_owned(), signature),
        ];
        let key = hookd::signing::public_key(&secret).unwrap_or(secret);
        prop_assert!(hookd::verify::verify(&key, &headers, &body, ts, Some(300)).is_ok());
        let mut changed = body.clone();
        changed.push(b'!');
        prop_assert!(hookd::verify::verify(&key, &headers, &changed, ts, Some(300)).is_err());
    }

    #[test]
    fn durations_format_and_parse_back(n in 0u64..1_000_000, unit in prop::sample::select(vec!["ms", "s", "m", "h", "d"])) {
        let parsed = hookd::config::parse_duration(&format!("{n}{unit}")).unwrap();
        let per = match unit { "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000, _ => 86_400_000 };
        prop_assert_eq!(parsed.as_millis(), u128::from(n) * per);
    }

    #[test]
    fn config_values_never_panic(value in "\\PC{0,30}") {
        let mut layers = hookd::config::Layers::new();
        layers.add_env(|var| (var == "HOOKD_RETRY_SCHEDULE" || var == "HOOKD_ALLOWED_NETWORKS").then(|| value.clone()));
        let _ = layers.resolve();
        let _ = hookd::config::parse_duration(&value);
    }

    /// A template never panics and never renders past its limit.
    #[test]
    fn templates_stay_within_their_limit(text in "(\\{\\{[a-z.]{0,8}\\}\\}|[a-z {}]){0,40}", payload in json()) {
        if let Ok(template) = hookd::template::Template::parse(&text) {
            let envelope = serde_json::json!({"event": payload}).to_string();
            if let Ok(out) = template.render(envelope.as_bytes(), 4096) {
                prop_assert!(out.len() <= 4096);
            }
        }
    }

    /// Any JSON either is refused as a filter or matches without panicking.
    #[test]
    fn filters_validate_or_match_without_panicking(filter in json(), message in json()) {
        if hookd::model::filter::validate(&filter).is_ok() {
            let _ = hookd::model::filter::matches(&filter, &message);
        }
    }
}
