//! The template engine: any text is parsed or refused with an error, and a template that
//! parses renders any envelope, JSON or not, within the limit: never more, never a panic.
//! Input: the template, a NUL byte, the envelope.

#![no_main]

use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|b| *b == 0) else { return };
    let (text, envelope) = (&data[..split], &data[split + 1..]);
    let Ok(text) = std::str::from_utf8(text) else { return };
    if let Ok(template) = hookd::template::Template::parse(text) {
        if let Ok(out) = template.render(envelope, LIMIT) {
            assert!(out.len() <= LIMIT, "rendered {} bytes past the limit", out.len());
        }
    }
});
