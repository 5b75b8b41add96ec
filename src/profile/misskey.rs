//! `misskey`: Misskey's user and system webhooks (`UserWebhookDeliverProcessorService.ts`,
//! `SystemWebhookDeliverProcessorService.ts`). The shared secret itself is sent in a header;
//! there is no signature.
//!
//! `profileConfig`: `server` (the instance origin, required), `hookId` (default: the
//! endpoint's uid, else its id), `userId` (user webhooks; the API fills in the application's
//! uid when it is left out), `system` (true for a system webhook, whose body has no `userId`).

use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{Delivery, Profile, config_str};
use crate::model::Endpoint;
use crate::model::ids::fill_random;
use crate::signing::hex;

pub struct Misskey;

/// The envelope, in Misskey's key order (an object literal passed to `JSON.stringify`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    server: &'a str,
    hook_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    event_id: &'a str,
    created_at: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    body: &'a RawValue,
}

/// What `profileConfig` and the endpoint say about this webhook.
struct Settings<'a> {
    /// `https://host[:port]`, as Misskey's `config.url` (a URL origin).
    origin: String,
    /// `host[:port]`, as `X-Misskey-Host`.
    host: String,
    hook_id: &'a str,
    /// `None` for a system webhook.
    user_id: Option<&'a str>,
}

fn settings(endpoint: &Endpoint) -> Result<Settings<'_>, String> {
    let server = config_str(endpoint, "server")?
        .ok_or("the misskey profile needs profileConfig.server, e.g. https://misskey.example")?;
    let (origin, host) = parse_origin(server)?;
    let hook_id =
        config_str(endpoint, "hookId")?.or(endpoint.uid.as_deref()).unwrap_or(endpoint.id.as_str());
    let system = match endpoint.profile_config.get("system") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err("profileConfig.system must be true or false".into()),
    };
    // A missing userId is the API layer's to default; "" keeps the key, as Misskey always has it.
    let user_id = config_str(endpoint, "userId")?.unwrap_or("");
    Ok(Settings { origin, host, hook_id, user_id: (!system).then_some(user_id) })
}

/// `(origin, host)` of an instance URL as WHATWG `URL#origin` and `URL#host` give them:
/// scheme and host lower-cased, a default port dropped. Paths are refused, since Misskey's
/// `server` is always a bare origin.
fn parse_origin(url: &str) -> Result<(String, String), String> {
    let bad = || {
        format!("profileConfig.server must be an origin like https://misskey.example, not {url:?}")
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let forbidden =
        |c: char| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace() || c.is_control();
    if authority.contains(forbidden) {
        return Err(bad());
    }
    // An IPv6 literal keeps its colons inside brackets.
    let colon = match authority.rfind(']') {
        Some(end) => authority[end..].find(':').map(|i| end + i),
        None => authority.rfind(':'),
    };
    let (host, port) = match colon {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => (authority, ""),
    };
    let port: Option<u16> = match port {
        "" => None,
        p if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().map_err(|_| bad())?),
        _ => return Err(bad()),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let host = match port.filter(|&p| p != default_port) {
        Some(p) => format!("{}:{p}", host.to_ascii_lowercase()),
        None => host.to_ascii_lowercase(),
    };
    Ok((format!("{scheme}://{host}"), host))
}

/// Misskey draws a fresh `randomUUID()` per event and webhook when it enqueues, and keeps it
/// across retries. hookd renders each attempt anew, so it derives the id from (message,
/// endpoint) instead: the same on every retry, different per endpoint, formatted as a v4 UUID.
fn event_id(message_id: &str, endpoint_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(message_id)
        .chain_update([0u8]) // so ("ab","c") and ("a","bc") differ
        .chain_update(endpoint_id)
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl Profile for Misskey {
    fn name(&self) -> &'static str {
        "misskey"
    }

    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
        let (message, endpoint) = (delivery.message, delivery.endpoint);
        let s = settings(endpoint)?;
        // The payload goes in byte for byte; parsing only checks that it is one JSON value.
        let body: &RawValue = serde_json::from_str(&message.payload)
            .map_err(|e| format!("the payload is not valid JSON: {e}"))?;
        let event_id = event_id(&message.id, &endpoint.id);
        let envelope = Body {
            server: &s.origin,
            hook_id: s.hook_id,
            user_id: s.user_id,
            event_id: &event_id,
            created_at: message.created_at,
            kind: &message.event_type,
            body,
        };
        serde_json::to_vec(&envelope).map_err(|e| format!("cannot serialise the envelope: {e}"))
    }

    fn headers(&self, delivery: &Delivery<'_>, _body: &[u8]) -> Vec<(String, String)> {
        let endpoint = delivery.endpoint;
        let mut headers = vec![("User-Agent".to_owned(), "Misskey-Hooks".to_owned())];
        // `envelope` runs first and fails on bad settings, so this branch is always taken
        // when a request is actually sent.
        if let Ok(s) = settings(endpoint) {
            headers.push(("X-Misskey-Host".into(), s.host));
            headers.push(("X-Misskey-Hook-Id".into(), s.hook_id.to_owned()));
        }
        // Sent even when empty, as Misskey does.
        headers.push(("X-Misskey-Hook-Secret".into(), endpoint.secret.clone()));
        headers
    }

    /// `misc/status-error.ts`: a client error is final unless it is 429.
    fn is_final_status(&self, status: u16) -> bool {
        (400..500).contains(&status) && status != 429
    }

    fn generate_secret(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(16);
        while out.len() < 16 {
            let mut bytes = [0u8; 32];
            fill_random(&mut bytes);
            // Bytes ≥ 248 are dropped so each of the 62 characters is equally likely.
            let fair = bytes.iter().filter(|&&b| b < 248).map(|&b| ALPHABET[usize::from(b % 62)]);
            out.extend(fair.map(char::from).take(16 - out.len()));
        }
        out
    }

    /// Misskey takes any string up to 1024 characters, empty included. Control characters
    /// are refused on top, since the secret travels verbatim in a header.
    fn validate_secret(&self, secret: &str) -> Result<(), String> {
        if secret.chars().count() > 1024 {
            Err("the secret must be at most 1024 characters".into())
        } else if secret.chars().any(char::is_control) {
            Err("the secret must not contain control characters (it is sent in a header)".into())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{base, endpoint, header, message};
    use super::super::{Delivery, render};
    use super::*;
    use serde_json::json;

    const USER: &str = r#"{"user":{"id":"9v","name":null,"username":"alice","host":null,"avatarUrl":"https://mk.example/identicon/9v","avatarBlurhash":null,"avatarDecorations":[],"isBot":false,"isCat":false,"emojis":{},"onlineStatus":"unknown","badgeRoles":[]}}"#;
    const CREATED: i64 = 1_704_164_645_678;

    fn user_endpoint(server: &str, secret: &str) -> Endpoint {
        let config =
            json!({"server": server, "hookId": "9x0a1b2c3d4e5f6g", "userId": "9w0a1b2c3d4e5f6g"});
        endpoint("misskey", config, secret)
    }

    fn send(ep: &Endpoint, event: &str, payload: &str) -> super::super::Rendered {
        let msg = message(event, payload, CREATED);
        render(&Delivery { message: &msg, endpoint: ep, now_ms: CREATED }, base(), &[], usize::MAX)
            .unwrap()
    }

    #[test]
    fn k_hdr_1() {
        let sent = send(&user_endpoint("https://mk.example", "s3cr3t"), "followed", USER);
        let h = &sent.headers;
        assert_eq!(header(h, "User-Agent"), "Misskey-Hooks");
        assert_eq!(header(h, "X-Misskey-Host"), "mk.example");
        assert_eq!(header(h, "X-Misskey-Hook-Id"), "9x0a1b2c3d4e5f6g");
        assert_eq!(header(h, "X-Misskey-Hook-Secret"), "s3cr3t");
        assert_eq!(header(h, "Content-Type"), "application/json");
        assert_eq!(h.len(), 5, "no signature or other headers: {h:?}");
        let sent = send(&user_endpoint("https://mk.example:3000", "s3cr3t"), "followed", USER);
        assert_eq!(header(&sent.headers, "X-Misskey-Host"), "mk.example:3000");
        assert!(sent.body.starts_with(br#"{"server":"https://mk.example:3000","#));
    }

    #[test]
    fn k_hdr_2_empty_secret_still_sent() {
        let sent = send(&user_endpoint("https://mk.example", ""), "followed", USER);
        assert_eq!(header(&sent.headers, "X-Misskey-Hook-Secret"), "");
        assert!(Misskey.validate_secret("").is_ok());
    }

    /// The vector's bytes, with its random `eventId` replaced by hookd's derived one.
    #[test]
    fn k_body_1_exact_bytes() {
        let sent = send(&user_endpoint("https://mk.example", "s3cr3t"), "followed", USER);
        let vector = format!(
            r#"{{"server":"https://mk.example","hookId":"9x0a1b2c3d4e5f6g","userId":"9w0a1b2c3d4e5f6g","eventId":"3b241101-e2bb-4255-8caf-4136c566a962","createdAt":1704164645678,"type":"followed","body":{USER}}}"#
        );
        let expected =
            vector.replace("3b241101-e2bb-4255-8caf-4136c566a962", &event_id("msg_1", "ep_1"));
        assert_eq!(String::from_utf8(sent.body).unwrap(), expected);
    }

    #[test]
    fn k_body_2_system_webhook() {
        let config = json!({"server": "https://mk.example", "hookId": "9s", "system": true});
        let ep = endpoint("misskey", config, "");
        let id = event_id("msg_1", "ep_1");
        let sent = send(&ep, "inactiveModeratorsInvitationOnlyChanged", "{}");
        let expected = format!(
            r#"{{"server":"https://mk.example","hookId":"9s","eventId":"{id}","createdAt":1704164645678,"type":"inactiveModeratorsInvitationOnlyChanged","body":{{}}}}"#
        );
        assert_eq!(String::from_utf8(sent.body).unwrap(), expected);
        let lite = r#"{"id":"9v","username":"alice"}"#;
        let sent = send(&ep, "userCreated", lite);
        assert!(String::from_utf8(sent.body).unwrap().ends_with(&format!(r#""body":{lite}}}"#)));
    }

    #[test]
    fn payload_bytes_kept_as_sent() {
        let sent =
            send(&user_endpoint("https://mk.example", ""), "note", r#" {"a": 1.50, "b":"<é>"} "#);
        assert!(sent.body.ends_with(r#""body":{"a": 1.50, "b":"<é>"}}"#.as_bytes()));
    }

    #[test]
    fn k_retry_classification() {
        for (status, is_final) in
            [(404, true), (400, true), (410, true), (429, false), (500, false)]
        {
            assert_eq!(Misskey.is_final_status(status), is_final, "{status}");
        }
        assert!(!Misskey.is_final_status(302) && !Misskey.is_final_status(503));
    }

    #[test]
    fn event_id_is_stable_v4_and_per_endpoint() {
        let id = event_id("msg_1", "ep_1");
        assert_eq!(id, event_id("msg_1", "ep_1"));
        assert_ne!(id, event_id("msg_1", "ep_2"));
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn hook_id_falls_back_to_uid_then_id() {
        let mut ep = endpoint("misskey", json!({"server": "https://mk.example"}), "");
        assert_eq!(settings(&ep).unwrap().hook_id, "ep_1");
        ep.uid = Some("my-hook".into());
        assert_eq!(settings(&ep).unwrap().hook_id, "my-hook");
        assert_eq!(settings(&ep).unwrap().user_id, Some(""));
    }

    #[test]
    fn origins_normalised_like_whatwg_url() {
        let o = |u: &str| parse_origin(u).map(|(origin, host)| format!("{origin} {host}"));
        assert_eq!(o("HTTPS://MK.Example:443/").unwrap(), "https://mk.example mk.example");
        assert_eq!(o("http://mk.example:8080").unwrap(), "http://mk.example:8080 mk.example:8080");
        assert_eq!(o("https://[::1]:3000").unwrap(), "https://[::1]:3000 [::1]:3000");
        for bad in
            ["mk.example", "ftp://mk.example", "https://mk.example/path", "https://", "https://a:b"]
        {
            assert!(o(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_settings_fail_the_envelope() {
        let msg = message("note", "{}", CREATED);
        for config in
            [json!({}), json!({"server": "nope"}), json!({"server": "https://a", "userId": 5})]
        {
            let ep = endpoint("misskey", config, "");
            let err = Misskey.envelope(&Delivery { message: &msg, endpoint: &ep, now_ms: 0 });
            assert!(err.unwrap_err().contains("profileConfig."));
        }
    }

    #[test]
    fn secrets() {
        let s = Misskey.generate_secret();
        assert!(s.len() == 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s, Misskey.generate_secret());
        assert!(Misskey.validate_secret(&"x".repeat(1024)).is_ok());
        assert!(Misskey.validate_secret(&"x".repeat(1025)).is_err());
        assert!(Misskey.validate_secret("a\r\nb").is_err());
    }
}
