//! `strapi`: Strapi 5's webhook runner (`@strapi/core src/services/webhook-runner.ts`). No
//! signature and no secret; receivers authenticate with custom headers.
//!
//! The body is `JSON.stringify({event, createdAt, ...info})`, so it is written here with
//! JavaScript's rules: integer-like keys first, later values replacing earlier ones in place,
//! numbers as `Number#toString` prints them. `createdAt` is the message's time, not the send
//! time as in Strapi, so every retry sends the same bytes.
//!
//! Strapi tries once; hookd retries every failure (no status is final): a documented
//! difference.

use std::fmt::Write;

use serde_json::{Map, Number, Value};

use super::{Delivery, HeaderLayers, Profile};
use crate::model::time::format_rfc3339;

pub struct Strapi;

impl Profile for Strapi {
    fn name(&self) -> &'static str {
        "strapi"
    }

    /// Strapi's "Trigger" button sends this event.
    fn test_event_type(&self) -> &'static str {
        "trigger-test"
    }

    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
        let message = delivery.message;
        let info: Value = serde_json::from_str(&message.payload)
            .map_err(|e| format!("the payload is not valid JSON: {e}"))?;
        let mut body = Map::new();
        body.insert("event".into(), Value::String(message.event_type.clone()));
        body.insert("createdAt".into(), Value::String(format_rfc3339(message.created_at)));
        match info {
            // `insert` keeps an existing key's position and takes the new value, as a spread.
            Value::Object(fields) => {
                for (key, value) in fields {
                    body.insert(key, value);
                }
            }
            Value::Null => {} // `{...null}` adds nothing.
            _ => return Err("the strapi profile needs a JSON object payload".into()),
        }
        let mut out = String::new();
        write_js(&Value::Object(body), &mut out)?;
        Ok(out.into_bytes())
    }

    /// The last two keys of Strapi's header object; they win over the same spelling.
    fn headers(&self, delivery: &Delivery<'_>, _body: &[u8]) -> Vec<(String, String)> {
        vec![
            ("X-Strapi-Event".into(), delivery.message.event_type.clone()),
            ("Content-Type".into(), "application/json".into()),
        ]
    }

    /// `{...defaultHeaders, ...webhook.headers, 'X-Strapi-Event', 'Content-Type'}` (later keys
    /// replace only the exact same spelling), then `new Headers(object)`, which lower-cases
    /// names and joins values whose names differ only by case with ", ". hookd's base layer
    /// acts like fetch's own defaults: it fills in only names still absent.
    fn merge_headers(&self, layers: HeaderLayers<'_>) -> Vec<(String, String)> {
        let mut object: Vec<(String, String)> = Vec::new();
        let all = layers.server.iter().cloned().chain(layers.endpoint.iter().cloned());
        for (name, value) in all.chain(layers.profile) {
            match object.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => object.push((name, value)),
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in object {
            // Headers normalises values by trimming HTTP whitespace.
            let value = value.trim_matches([' ', '\t', '\r', '\n']);
            let name = name.to_ascii_lowercase();
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => {
                    slot.1.push_str(", ");
                    slot.1.push_str(value);
                }
                None => headers.push((name, value.to_owned())),
            }
        }
        let absent = |name: &String| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut merged: Vec<_> = layers.base.into_iter().filter(|(n, _)| absent(n)).collect();
        merged.extend(headers);
        merged
    }

    /// Strapi has no secret; any value is kept as it is and none is made.
    fn generate_secret(&self) -> String {
        String::new()
    }

    fn validate_secret(&self, _secret: &str) -> Result<(), String> {
        Ok(())
    }
}

/// `JSON.stringify` of a value JavaScript parsed from JSON.
fn write_js(value: &Value, out: &mut String) -> Result<(), String> {
    match value {
        Value::Null | Value::Bool(_) => out.push_str(&value.to_string()),
        Value::Number(n) => out.push_str(&js_number(n)),
        Value::String(s) => out.push_str(&serde_json::to_string(s).map_err(|e| e.to_string())?),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in js_key_order(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).map_err(|e| e.to_string())?);
                out.push(':');
                write_js(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript's own-property order: array-index keys ascending, then the rest as inserted.
fn js_key_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indexed: Vec<(u32, (&String, &Value))> = Vec::new();
    let mut named = Vec::new();
    for entry in map {
        match array_index(entry.0) {
            Some(i) => indexed.push((i, entry)),
            None => named.push(entry),
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, entry)| entry).chain(named).collect()
}

/// An array index: the canonical decimal form of an integer in 0 ..= 2³² − 2.
fn array_index(key: &str) -> Option<u32> {
    let n: u32 = key.parse().ok()?;
    (n != u32::MAX && n.to_string() == key).then_some(n)
}

/// `Number#toString()`. Integers that fit i64/u64 print as they are (JavaScript would round
/// those above 2⁵³); floats use the shortest round-trip digits, laid out as ECMAScript's
/// `Number::toString` does (`100`, `0.000001`, `1e-7`, `1e+21`).
fn js_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let x = n.as_f64().unwrap_or(0.0);
    if x == 0.0 {
        return "0".into(); // Also -0, as JavaScript prints it.
    }
    // `{:e}` gives the shortest digits that round-trip: "1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let point = exp.parse::<i32>().unwrap_or(0) + 1; // digits before the decimal point
    let mut out = String::from(if x < 0.0 { "-" } else { "" });
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.push_str(&"0".repeat((point - k) as usize));
    } else if 0 < point && point <= 21 {
        let (int, frac) = digits.split_at(point as usize);
        let _ = write!(out, "{int}.{frac}");
    } else if -6 < point && point <= 0 {
        let _ = write!(out, "0.{}{digits}", "0".repeat(-point as usize));
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let _ = write!(
            out,
            "{first}{dot}{rest}e{}{}",
            if point > 0 { "+" } else { "-" },
            (point - 1).abs()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{base, endpoint, message};
    use super::super::{Delivery, Rendered, render};
    use super::*;
    use serde_json::json;

    /// 2024-01-02T03:04:05.678Z
    const CREATED: i64 = 1_704_164_645_678;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn send(event: &str, payload: &str, server: &[(&str, &str)], own: &[(&str, &str)]) -> Rendered {
        let mut ep = endpoint("strapi", json!({}), "");
        ep.headers = own.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let msg = message(event, payload, CREATED);
        render(
            &Delivery { message: &msg, endpoint: &ep, now_ms: CREATED },
            base(),
            &pairs(server),
            usize::MAX,
        )
        .unwrap()
    }

    fn body(event: &str, payload: &str) -> String {
        String::from_utf8(send(event, payload, &[], &[]).body).unwrap()
    }

    #[test]
    fn s_hdr_1() {
        let server = [("Authorization", "Bearer A"), ("X-Env", "prod")];
        let sent = send("entry.create", "{}", &server, &[("Authorization", "Bearer B")]);
        let expected = [
            ("User-Agent", "hookd/test"),
            ("authorization", "Bearer B"),
            ("x-env", "prod"),
            ("x-strapi-event", "entry.create"),
            ("content-type", "application/json"),
        ];
        assert_eq!(sent.headers, pairs(&expected));
    }

    #[test]
    fn s_hdr_2_same_spelling_overridden_other_case_joined() {
        let sent = send("entry.create", "{}", &[], &[("Content-Type", "text/plain")]);
        assert!(sent.headers.contains(&("content-type".into(), "application/json".into())));
        let sent = send("entry.create", "{}", &[], &[("content-type", "text/plain")]);
        let joined = ("content-type".to_string(), "text/plain, application/json".to_string());
        assert!(sent.headers.contains(&joined), "{:?}", sent.headers);
        let sent = send("entry.create", "{}", &[("X-Strapi-Event", "forged")], &[]);
        assert!(sent.headers.contains(&("x-strapi-event".into(), "entry.create".into())));
        assert_eq!(sent.headers.iter().filter(|(n, _)| n == "x-strapi-event").count(), 1);
    }

    #[test]
    fn custom_user_agent_replaces_hookds() {
        let sent = send("entry.create", "{}", &[], &[("user-agent", "mine")]);
        let agents: Vec<_> =
            sent.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("user-agent")).collect();
        assert_eq!(agents, [&("user-agent".to_string(), "mine".to_string())]);
    }

    #[test]
    fn s_body_1_trigger() {
        let expected = r#"{"event":"trigger-test","createdAt":"2024-01-02T03:04:05.678Z"}"#;
        assert_eq!(body("trigger-test", "{}"), expected);
        assert_eq!(body("trigger-test", "null"), expected);
    }

    #[test]
    fn s_body_2_entry() {
        let info =
            r#"{"model":"article","uid":"api::article.article","entry":{"id":1,"title":"<a>"}}"#;
        let expected = r#"{"event":"entry.publish","createdAt":"2024-01-02T03:04:05.678Z","model":"article","uid":"api::article.article","entry":{"id":1,"title":"<a>"}}"#;
        assert_eq!(body("entry.publish", info), expected);
    }

    #[test]
    fn s_body_3_media() {
        let info = r#"{"media":{"id":7,"name":"a.png","size":12.5}}"#;
        let expected = r#"{"event":"media.create","createdAt":"2024-01-02T03:04:05.678Z","media":{"id":7,"name":"a.png","size":12.5}}"#;
        assert_eq!(body("media.create", info), expected);
    }

    #[test]
    fn s_body_4_release_failure() {
        let expected = r#"{"event":"releases.publish","createdAt":"2024-01-02T03:04:05.678Z","isPublished":false,"error":{}}"#;
        assert_eq!(body("releases.publish", r#"{"isPublished":false,"error":{}}"#), expected);
    }

    #[test]
    fn s_body_5_review_stage() {
        let info = r#"{"model":"article","uid":"api::article.article","entity":{"id":1,"documentId":"d1","locale":"en","status":"draft"},"workflow":{"id":1,"stages":{"from":{"id":1,"name":"To do"},"to":{"id":2,"name":"Done"}}}}"#;
        let expected = format!(
            r#"{{"event":"review-workflows.updateEntryStage","createdAt":"2024-01-02T03:04:05.678Z",{}"#,
            &info[1..]
        );
        assert_eq!(body("review-workflows.updateEntryStage", info), expected);
    }

    #[test]
    fn spread_overrides_in_place_and_orders_like_javascript() {
        let info = r#"{"b":1,"createdAt":"mine","10":2,"2":3,"02":4,"event":"x"}"#;
        let expected = r#"{"2":3,"10":2,"event":"x","createdAt":"mine","b":1,"02":4}"#;
        assert_eq!(body("entry.create", info), expected);
        assert!(send_err("[1]") && send_err("\"s\"") && send_err("{"));
    }

    fn send_err(payload: &str) -> bool {
        let ep = endpoint("strapi", json!({}), "");
        let msg = message("entry.create", payload, CREATED);
        Strapi.envelope(&Delivery { message: &msg, endpoint: &ep, now_ms: 0 }).is_err()
    }

    #[test]
    fn numbers_print_like_javascript() {
        let n = |s: &str| js_number(&serde_json::from_str::<Number>(s).unwrap());
        let cases = [
            ("100.0", "100"),
            ("1.5", "1.5"),
            ("-0.0", "0"),
            ("1e21", "1e+21"),
            ("1.25e21", "1.25e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("-2.5e-7", "-2.5e-7"),
            ("123.456", "123.456"),
            ("42", "42"),
            ("-7", "-7"),
        ];
        for (input, js) in cases {
            assert_eq!(n(input), js, "{input}");
        }
    }

    #[test]
    fn s_retry_every_failure_retried() {
        assert!([400, 404, 410, 429, 500, 501].iter().all(|&s| !Strapi.is_final_status(s)));
    }

    #[test]
    fn no_secrets() {
        assert_eq!(Strapi.generate_secret(), "");
        assert!(Strapi.validate_secret("").is_ok() && Strapi.validate_secret("anything").is_ok());
    }
}
