//! Payload templates in Mastodon's `{{path}}` language, as `Webhooks::PayloadRenderer`
//! (`app/lib/webhooks/payload_renderer.rb`, Mastodon ≥ 4.6) validates and renders them.
//!
//! Mastodon checks a template twice, with two different grammars, and both are reproduced:
//! - on save, a Parslet grammar: `{{` must open a lower-case path (`[a-z_]` names, digit
//!   segments after dots) closed by `}}` — [`Template::parse`];
//! - on render, a case-insensitive regexp replaces what it matches and leaves everything else
//!   verbatim — [`Template::render`]. So `{{Event}}` is refused on save yet renders `null`.
//!
//! Positions in error messages count characters from 0.

use serde_json::Value;

/// The longest template accepted on save, in bytes. Mastodon sets none; hookd bounds it so a
/// template cannot be a means to multiply memory (see [`Template::render`]'s limit too).
pub const MAX_TEMPLATE_LEN: usize = 64 * 1024;

/// A validated template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
}

impl Template {
    /// Parses and validates; `Err` names the position of the first error.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_TEMPLATE_LEN {
            return Err(format!("a template is at most {MAX_TEMPLATE_LEN} bytes long"));
        }
        validate(text)?;
        Ok(Self { text: text.to_owned() })
    }

    /// Renders against the JSON document `envelope`. Mastodon parses the document before
    /// looking at the template, so a body that is not JSON fails even without placeholders.
    ///
    /// Each placeholder may insert the whole document, so the output could be the template's
    /// length times the document's; rendering stops with an error as soon as it passes
    /// `limit` bytes, so memory stays within `limit` plus one inserted value.
    pub fn render(&self, envelope: &[u8], limit: usize) -> Result<String, String> {
        let document: Value = serde_json::from_slice(envelope)
            .map_err(|e| format!("the body to render the template over is not JSON: {e}"))?;
        let too_large = || format!("the rendered template is larger than {limit} bytes");
        let mut out = String::with_capacity(self.text.len().min(limit));
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find("{{") {
            if out.len() > limit {
                return Err(too_large());
            }
            out.push_str(&rest[..start]);
            let candidate = &rest[start..];
            match placeholder_len(candidate.as_bytes()) {
                Some(len) => {
                    out.push_str(&insert(&document, &candidate[2..len - 2])?);
                    rest = &candidate[len..];
                }
                // Like a regexp scan: no match here, so try again one character on (the
                // next `{` may open a placeholder, as in `{{{event}}}`).
                None => {
                    out.push('{');
                    rest = &candidate[1..];
                }
            }
        }
        out.push_str(rest);
        if out.len() > limit {
            return Err(too_large());
        }
        Ok(out)
    }
}

// ---- Validation: Mastodon's `TemplateParser` (Parslet, so PEG: greedy, no backtracking).

/// `text_with_expressions`: text runs that do not start with `{{`, and expressions.
fn validate(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    // Byte steps are safe: `{` is ASCII and never part of a multi-byte character.
    while i < bytes.len() {
        i = if bytes[i..].starts_with(b"{{") { expression_end(text, i)? } else { i + 1 };
    }
    Ok(())
}

/// `expression`: `{{`, zero or more paths, `}}`. Zero paths is why `{{}}` is valid, and
/// several paths back to back (`{{a.1b}}`) are accepted too, as Parslet accepts them.
fn expression_end(text: &str, start: usize) -> Result<usize, String> {
    let bytes = text.as_bytes();
    let mut i = start + 2;
    loop {
        if bytes[i..].starts_with(b"}}") {
            return Ok(i + 2);
        }
        match path_end(bytes, i, lower_name) {
            Some(end) => i = end,
            None => return Err(describe(text, start, i)),
        }
    }
}

/// `path`: a name, then `.name` or `.digits` while they match. `is_name` is `[a-z_]` for
/// the parser and `[a-zA-Z_]` for the (case-insensitive) regexp.
fn path_end(bytes: &[u8], start: usize, is_name: fn(u8) -> bool) -> Option<usize> {
    let mut i = run_end(bytes, start, is_name);
    if i == start {
        return None;
    }
    while bytes.get(i) == Some(&b'.') {
        let name = run_end(bytes, i + 1, is_name);
        let end = if name > i + 1 { name } else { run_end(bytes, i + 1, |b| b.is_ascii_digit()) };
        if end == i + 1 {
            break; // A dot without a segment is not part of the path.
        }
        i = end;
    }
    Some(i)
}

fn lower_name(b: u8) -> bool {
    b.is_ascii_lowercase() || b == b'_'
}

fn any_case_name(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn run_end(bytes: &[u8], start: usize, accept: fn(u8) -> bool) -> usize {
    start + bytes.get(start..).map_or(0, |rest| rest.iter().take_while(|&&b| accept(b)).count())
}

/// The error for a placeholder opened at byte `start` that cannot go on at byte `at`.
fn describe(text: &str, start: usize, at: usize) -> String {
    let open = text[..start].chars().count();
    let rest = &text[at..];
    let Some(found) = rest.chars().next().filter(|_| rest.contains("}}")) else {
        return format!("unclosed placeholder at position {open}: expected \"}}}}\"");
    };
    let hint = if found.is_whitespace() {
        "spaces are not allowed inside {{ }}"
    } else if found.is_ascii_uppercase() {
        "names must be lower-case"
    } else if found == '.' {
        "a dot must be followed by a name or a number"
    } else {
        "expected a lower-case name, a dot or \"}}\""
    };
    let pos = open + text[start..at].chars().count();
    format!(
        "invalid placeholder at position {open}: unexpected {found:?} at position {pos}; {hint}"
    )
}

// ---- Rendering: Mastodon's `EXPRESSION_REGEXP` and `DocumentTraverser`.

/// The length of the placeholder at the start of `bytes` (which starts with `{{`), if the
/// regexp `\{\{[a-z_]+(\.([a-z_]+|[0-9]+))*\}\}`, case-insensitive, matches there. Taking
/// each run whole is enough: a shorter run would be followed by a letter or digit, never
/// by the `.` or `}}` the regexp needs, so backtracking could not find another match.
fn placeholder_len(bytes: &[u8]) -> Option<usize> {
    let end = path_end(bytes, 2, any_case_name)?;
    bytes[end..].starts_with(b"}}").then_some(end + 2)
}

/// `DocumentTraverser#get`: the value at `path` as JSON (`JSON.generate`), a string without
/// its quotes so it can sit inside a quoted template string.
fn insert(document: &Value, path: &str) -> Result<String, String> {
    let found = lookup(document, path).map_err(|why| {
        format!("cannot render {{{{{path}}}}}: {why} (Mastodon raises TypeError)")
    })?;
    let json = match found {
        None => return Ok("null".to_owned()),
        Some(value) => serde_json::to_string(value).map_err(|e| e.to_string())?,
    };
    Ok(match found {
        Some(Value::String(_)) => json[1..json.len() - 1].to_owned(),
        _ => json,
    })
}

/// Ruby's `Hash#dig` over the path: digit segments become integers (an array index, or a
/// hash key that JSON never has), a nil on the way ends the walk with nil, and digging into
/// anything else that is not a container raises.
fn lookup<'a>(document: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let mut current = document;
    for segment in path.split('.') {
        let is_index = segment.bytes().all(|b| b.is_ascii_digit());
        let next = match current {
            Value::Null => return Ok(None),
            Value::Object(_) if is_index => None,
            Value::Object(map) => map.get(segment),
            Value::Array(items) if is_index => {
                // Ruby's `Array#dig` takes a C long; a larger index raises RangeError.
                let index: i64 =
                    segment.parse().map_err(|_| format!("index {segment} too large"))?;
                usize::try_from(index).ok().and_then(|i| items.get(i))
            }
            Value::Array(_) => return Err(format!("cannot look up {segment:?} in an array")),
            other => return Err(format!("cannot look up {segment:?} in {}", kind(other))),
        };
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current).filter(|v| !v.is_null()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document of seed-contracts.md §5 "M-TPL (derived)".
    const DOC: &str = r#"{"event":"account.approved","created_at":"2024-01-01T00:00:00.000Z","object":{"id":"123","username":"foofoobarbar","confirmed":true,"role":null,"locale":"en","account":{"display_name":"Foo\"","note":"<p>a\nb</p>","followers_count":42},"ips":[{"ip":"10.0.0.1","used_at":"2024-01-01T00:00:00.000Z"}]}}"#;

    /// One row: whether Mastodon accepts the template on save, and what it renders to.
    fn row(template: &str, valid: bool, rendered: &str) {
        assert_eq!(validate(template).is_ok(), valid, "validity of {template}");
        let t = Template { text: template.to_owned() };
        assert_eq!(
            t.render(DOC.as_bytes(), usize::MAX).unwrap(),
            rendered,
            "rendering of {template}"
        );
    }

    #[test]
    fn tpl_boolean_inside_string() {
        row(r#"{"c":"{{object.confirmed}}"}"#, true, r#"{"c":"true"}"#);
    }

    #[test]
    fn tpl_boolean_bare() {
        row(r#"{"c":{{object.confirmed}}}"#, true, r#"{"c":true}"#);
    }

    #[test]
    fn tpl_number_bare() {
        row(r#"{"n":{{object.account.followers_count}}}"#, true, r#"{"n":42}"#);
    }

    #[test]
    fn tpl_missing_null_out_of_range_and_index_on_hash_render_null() {
        for t in ["{{object.missing}}", "{{object.role}}", "{{object.ips.5}}", "{{object.0}}"] {
            row(t, true, "null");
        }
    }

    #[test]
    fn tpl_array_index() {
        row("{{object.ips.0.ip}}", true, "10.0.0.1");
    }

    #[test]
    fn tpl_array_as_compact_json() {
        row("{{object.ips}}", true, r#"[{"ip":"10.0.0.1","used_at":"2024-01-01T00:00:00.000Z"}]"#);
    }

    #[test]
    fn tpl_object_as_compact_json_in_order() {
        let expected = r#"{"display_name":"Foo\"","note":"<p>a\nb</p>","followers_count":42}"#;
        row("{{object.account}}", true, expected);
    }

    #[test]
    fn tpl_string_stays_escaped_html_raw() {
        row("{{object.account.note}}", true, r"<p>a\nb</p>");
    }

    #[test]
    fn tpl_id_string() {
        row("{{object.id}}", true, "123");
    }

    #[test]
    fn tpl_top_level_key() {
        row("{{created_at}}", true, "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn tpl_several_placeholders_in_text() {
        row("a {{event}} b {{object.username}} c", true, "a account.approved b foofoobarbar c");
    }

    #[test]
    fn tpl_spaces_invalid_and_left_unchanged() {
        row("{{ event }}", false, "{{ event }}");
    }

    #[test]
    fn tpl_upper_case_invalid_but_renders_null() {
        row("{{Event}}", false, "null");
    }

    #[test]
    fn tpl_single_closing_brace_invalid_and_unchanged() {
        row("{{event}", false, "{{event}");
    }

    #[test]
    fn tpl_empty_placeholder_valid_and_unchanged() {
        row("{{}}", true, "{{}}");
    }

    #[test]
    fn tpl_descending_into_array_or_string_fails() {
        for template in ["{{object.ips.ip}}", "{{event.foo}}"] {
            assert!(validate(template).is_ok());
            let err =
                Template::parse(template).unwrap().render(DOC.as_bytes(), usize::MAX).unwrap_err();
            assert!(err.contains("TypeError") && err.contains(&template[2..]), "{err}");
        }
    }

    /// `spec/lib/webhooks/payload_renderer_spec.rb`.
    #[test]
    fn upstream_spec() {
        row("foo={{event}}", true, "foo=account.approved");
        row("foo={{object.username}}", true, "foo=foofoobarbar");
        row("foo={{object.account.display_name}}", true, r#"foo=Foo\""#);
    }

    /// `spec/models/webhook_spec.rb`: `{{account }` is invalid.
    #[test]
    fn upstream_model_spec() {
        assert!(Template::parse("{{account }").is_err());
    }

    #[test]
    fn errors_name_positions() {
        let err = Template::parse(r#"{"a":"x", "b":{{event"#).unwrap_err();
        assert_eq!(err, r#"unclosed placeholder at position 14: expected "}}""#);
        let err = Template::parse("é {{ event }}").unwrap_err();
        assert!(err.starts_with("invalid placeholder at position 2: unexpected ' ' at position 4"));
        assert!(Template::parse("{{Event}}").unwrap_err().contains("lower-case"));
        assert!(Template::parse("{{a.}}").unwrap_err().contains("position 3"));
    }

    #[test]
    fn parser_and_regexp_corners() {
        // Parslet takes paths back to back; the regexp does not, so it stays verbatim.
        row("{{a.1b}}", true, "{{a.1b}}");
        // The regexp scan retries one character on; the parser refuses the stray `{{`.
        row("{{{event}}}", false, "{account.approved}");
        row(
            "}}{{object.ips.0}}{",
            true,
            r#"}}{"ip":"10.0.0.1","used_at":"2024-01-01T00:00:00.000Z"}{"#,
        );
        row("", true, "");
        assert!(Template::parse("{{object.ips.0.x}}").is_ok());
        assert!(Template::parse("{{a}}{{").is_err());
    }

    #[test]
    fn digging_into_scalars_and_huge_indexes() {
        let t = Template::parse("{{object.confirmed.x}}").unwrap();
        assert!(t.render(DOC.as_bytes(), usize::MAX).unwrap_err().contains("a boolean"));
        let t = Template::parse("{{object.role.x}}").unwrap();
        assert_eq!(t.render(DOC.as_bytes(), usize::MAX).unwrap(), "null");
        let t = Template::parse("{{object.ips.99999999999999999999}}").unwrap();
        assert!(t.render(DOC.as_bytes(), usize::MAX).is_err());
    }

    /// Hardening defect 2: 2,000 placeholders over a 100 KB value once rendered 200 MB.
    #[test]
    fn rendering_stops_at_the_limit() {
        let doc = format!(r#"{{"a":"{}"}}"#, "x".repeat(100_000));
        let t = Template::parse(&"{{a}}".repeat(2_000)).unwrap();
        let err = t.render(doc.as_bytes(), 1 << 20).unwrap_err();
        assert_eq!(err, "the rendered template is larger than 1048576 bytes");
        let exact = Template::parse("{{a}}{{a}}").unwrap();
        assert!(exact.render(doc.as_bytes(), 200_000).is_ok(), "output of exactly the limit");
        assert!(exact.render(doc.as_bytes(), 199_999).is_err());
        let tail = Template::parse(&format!("{{{{a}}}}{}", "y".repeat(10))).unwrap();
        assert!(tail.render(doc.as_bytes(), 100_005).is_err(), "text after the last placeholder");
    }

    #[test]
    fn templates_are_bounded_on_save() {
        assert!(Template::parse(&"x".repeat(MAX_TEMPLATE_LEN)).is_ok());
        let err = Template::parse(&"x".repeat(MAX_TEMPLATE_LEN + 1)).unwrap_err();
        assert!(err.contains("at most 65536 bytes"), "{err}");
    }

    #[test]
    fn body_must_be_json() {
        assert!(Template::parse("x").unwrap().render(b"not json", usize::MAX).is_err());
    }
}
