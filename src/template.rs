//! Payload templates in Mastodon's `{{path}}` language (see docs/profiles.md). Placeholder
//! until the full implementation lands: a template with no placeholders renders as itself.

/// A parsed template.
pub struct Template {
    text: String,
}

impl Template {
    /// Parses and validates; `Err` names the position of the first error.
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(Self { text: text.to_owned() })
    }

    /// Renders against the JSON document `envelope`.
    pub fn render(&self, _envelope: &[u8]) -> Result<String, String> {
        Ok(self.text.clone())
    }
}
