//! `mastodon`: Mastodon's admin webhooks (`Webhooks::DeliveryWorker`, `app/lib/request.rb`).
//! The body is signed with HMAC-SHA256 in `X-Hub-Signature`, over the exact bytes sent (so
//! after any template).
//!
//! `profileConfig`: `domain` (the instance's `WEB_DOMAIN`, shown in the `User-Agent`).

use serde_json::{Map, Value};

use super::{Delivery, Profile, config_str};
use crate::model::Endpoint;
use crate::model::ids::fill_random;
use crate::model::time::{format_http_date, format_rfc3339};
use crate::signing::{hex, hmac_sha256, sha256_base64};

pub struct Mastodon;

/// The `User-Agent` names this Mastodon and http.rb release.
const USER_AGENT_PREFIX: &str = "Mastodon/4.6.0 (http.rb/5.3.1; +https://";

/// Mastodon's `Webhook::SECRET_LENGTH_MIN`.
const SECRET_LENGTH_MIN: usize = 12;

/// What ActiveSupport's `to_json` (Mastodon ≥ 4.6) escapes beyond plain JSON. Mastodon loads
/// the Rails 8.1 defaults, where `escape_js_separators_in_json` is off, so U+2028 and U+2029
/// stay raw (seed-contracts.md §2.2); they would go here otherwise.
const ESCAPES: [(char, &str); 3] = [('<', "\\u003c"), ('>', "\\u003e"), ('&', "\\u0026")];

/// `profileConfig.domain`, or `localhost` when unset: the endpoint URL is the receiver's
/// address, not the sender's, so it is no better a guess.
fn domain(endpoint: &Endpoint) -> Result<&str, String> {
    let domain = config_str(endpoint, "domain")?.unwrap_or("localhost");
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '/' | '(' | ')' | ';');
    if domain.is_empty() || domain.contains(bad) {
        return Err(format!("profileConfig.domain must be a host name, not {domain:?}"));
    }
    Ok(domain)
}

/// Compact JSON with ActiveSupport's extra escapes. Rails applies them with a `gsub` over the
/// whole generated text, which is safe because these characters only occur inside strings.
fn to_active_support_json(value: &Value) -> Result<String, String> {
    let mut json = serde_json::to_string(value).map_err(|e| e.to_string())?;
    for (from, to) in ESCAPES {
        if json.contains(from) {
            json = json.replace(from, to);
        }
    }
    Ok(json)
}

impl Profile for Mastodon {
    fn name(&self) -> &'static str {
        "mastodon"
    }

    /// `REST::Admin::WebhookEventSerializer`: `event`, `created_at`, `object`, re-serialised
    /// as Mastodon does (compact, key order kept).
    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
        // Checked here so a bad setting fails the delivery with a message.
        domain(delivery.endpoint)?;
        let message = delivery.message;
        let object: Value = serde_json::from_str(&message.payload)
            .map_err(|e| format!("the payload is not valid JSON: {e}"))?;
        let mut event = Map::new();
        event.insert("event".into(), Value::String(message.event_type.clone()));
        event.insert("created_at".into(), Value::String(format_rfc3339(message.created_at)));
        event.insert("object".into(), object);
        Ok(to_active_support_json(&Value::Object(event))?.into_bytes())
    }

    fn headers(&self, delivery: &Delivery<'_>, body: &[u8]) -> Vec<(String, String)> {
        let secret = delivery.endpoint.secret.as_bytes();
        // `envelope` has already refused a bad domain; the fallback is never sent.
        let domain = domain(delivery.endpoint).unwrap_or("localhost");
        vec![
            ("User-Agent".into(), format!("{USER_AGENT_PREFIX}{domain}/)")),
            ("Date".into(), format_http_date(delivery.now_ms)),
            ("Digest".into(), format!("SHA-256={}", sha256_base64(body))),
            ("X-Hub-Signature".into(), format!("sha256={}", hex(&hmac_sha256(secret, &[body])))),
        ]
    }

    /// `JsonLdHelper#response_error_unsalvageable?`: 4xx except 401, 408 and 429; and 501.
    fn is_final_status(&self, status: u16) -> bool {
        status == 501 || ((400..500).contains(&status) && !matches!(status, 401 | 408 | 429))
    }

    /// `SecureRandom.hex(20)`, as Mastodon fills a blank secret.
    fn generate_secret(&self) -> String {
        let mut key = [0u8; 20];
        fill_random(&mut key);
        hex(&key)
    }

    /// `validates :secret, presence: true, length: { minimum: 12 }`.
    fn validate_secret(&self, secret: &str) -> Result<(), String> {
        if secret.trim().is_empty() || secret.chars().count() < SECRET_LENGTH_MIN {
            Err(format!("the secret must be at least {SECRET_LENGTH_MIN} characters"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{base, endpoint, header, message};
    use super::super::{Rendered, render};
    use super::*;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef01234567";
    /// 2024-01-02T03:04:05.678Z
    const CREATED: i64 = 1_704_164_645_678;
    const SIG_1_BODY: &str = r#"{"event":"report.created","created_at":"2024-01-02T03:04:05.678Z","object":{"id":"42"}}"#;

    fn send(template: Option<&str>, secret: &str, payload: &str) -> Rendered {
        let mut ep = endpoint("mastodon", json!({"domain": "example.com"}), secret);
        ep.template = template.map(str::to_owned);
        let msg = message("report.created", payload, CREATED);
        render(&Delivery { message: &msg, endpoint: &ep, now_ms: CREATED }, base(), &[], usize::MAX)
            .unwrap()
    }

    fn own_headers(secret: &str, body: &str) -> Vec<(String, String)> {
        let ep = endpoint("mastodon", json!({}), secret);
        let msg = message("report.created", "{}", CREATED);
        Mastodon
            .headers(&Delivery { message: &msg, endpoint: &ep, now_ms: CREATED }, body.as_bytes())
    }

    #[test]
    fn m_sig_1() {
        let sent = send(None, SECRET, r#"{"id":"42"}"#);
        assert_eq!(sent.body, SIG_1_BODY.as_bytes());
        assert_eq!(sent.body.len(), 87);
        let h = &sent.headers;
        assert_eq!(
            header(h, "X-Hub-Signature"),
            "sha256=cff8caadad3ab360309a4f08d7cc4a58d64e68a1fa7eda19cc405a0cff2d1690"
        );
        assert_eq!(header(h, "Digest"), "SHA-256=QBCwzMBDi+78h6JrXx7Oqvoch5hZRK9NJkb5G1NHiwk=");
        assert_eq!(header(h, "Content-Type"), "application/json");
        assert_eq!(header(h, "Date"), "Tue, 02 Jan 2024 03:04:05 GMT");
        assert_eq!(
            header(h, "User-Agent"),
            "Mastodon/4.6.0 (http.rb/5.3.1; +https://example.com/)"
        );
    }

    #[test]
    fn m_sig_2_signature_over_rendered_template() {
        let sent = send(Some(r#"{"hello":"{{event}}"}"#), SECRET, r#"{"id":"42"}"#);
        assert_eq!(sent.body, br#"{"hello":"report.created"}"#);
        assert_eq!(
            header(&sent.headers, "X-Hub-Signature"),
            "sha256=1334a562bddfbce5b30062df0744886a3c18fb431cf7d86df8b17803da6ea475"
        );
        assert_eq!(
            header(&sent.headers, "Digest"),
            "SHA-256=1v/s8hMDV09+j14AEv75+BdtEqZnueKW73eI9wAYcUA="
        );
    }

    #[test]
    fn m_sig_3() {
        let h = own_headers("secret", "body");
        assert_eq!(
            header(&h, "X-Hub-Signature"),
            "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355"
        );
        assert_eq!(header(&h, "Digest"), "SHA-256=Iw2DWNyOiJC0xY3utikS7i8gNXrpKlzIYbmOaP4xrLU=");
    }

    #[test]
    fn m_sig_4_empty_body() {
        let h = own_headers(SECRET, "");
        assert_eq!(
            header(&h, "X-Hub-Signature"),
            "sha256=9291fe1ecfed2fc4240c580d362212b6e9ce8d0f943a0e81e5140f673368a7a7"
        );
        assert_eq!(header(&h, "Digest"), "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        // Without a domain setting the User-Agent names localhost.
        assert!(header(&h, "User-Agent").ends_with("+https://localhost/)"));
    }

    #[test]
    fn m_json_1_active_support_escaping() {
        let payload = r#"{"id":"1","content":"<p>a & b</p>","z":"\u2028","a":[1.5,null]}"#;
        let sent = send(None, SECRET, payload);
        let expected = concat!(
            r#"{"event":"report.created","created_at":"2024-01-02T03:04:05.678Z","#,
            r#""object":{"id":"1","content":"\u003cp\u003ea \u0026 b\u003c/p\u003e","#,
            "\"z\":\"\u{2028}\",\"a\":[1.5,null]}}"
        );
        assert_eq!(String::from_utf8(sent.body).unwrap(), expected);
    }

    #[test]
    fn m_retry_classification() {
        let drop = [400, 403, 404, 410, 422, 501];
        let retry = [401, 408, 429, 500, 502, 503, 301, 302, 307];
        assert!(drop.iter().all(|&s| Mastodon.is_final_status(s)));
        assert!(retry.iter().all(|&s| !Mastodon.is_final_status(s)));
    }

    #[test]
    fn secrets() {
        let s = Mastodon.generate_secret();
        assert!(
            s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(Mastodon.validate_secret(&s).is_ok());
        assert!(Mastodon.validate_secret("123456789012").is_ok());
        assert!(Mastodon.validate_secret("12345678901").is_err());
        assert!(Mastodon.validate_secret(&" ".repeat(20)).is_err());
    }

    #[test]
    fn bad_domain_or_payload_fails_the_envelope() {
        let msg = message("report.created", "{}", CREATED);
        let ep = endpoint("mastodon", json!({"domain": "a b"}), SECRET);
        assert!(Mastodon.envelope(&Delivery { message: &msg, endpoint: &ep, now_ms: 0 }).is_err());
        let msg = message("report.created", "{", CREATED);
        let ep = endpoint("mastodon", json!({}), SECRET);
        assert!(Mastodon.envelope(&Delivery { message: &msg, endpoint: &ep, now_ms: 0 }).is_err());
    }
}
