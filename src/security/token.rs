//! The API's bearer token: configured, or generated once and kept in the data directory.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::model::ids::fill_random;

const TOKEN_FILE: &str = "admin-token";

/// The token to require, and whether it was generated just now (so it is announced once).
pub fn load_or_generate(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<(String, bool), String> {
    if let Some(token) = configured {
        return Ok((token.to_owned(), false));
    }
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim().to_owned();
        if !token.is_empty() {
            return Ok((token, false));
        }
    }
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    // No dots: Svix's client libraries read a `.region` suffix off a token.
    let token = format!("hookd_{}", URL_SAFE_NO_PAD.encode(bytes));
    super::files::private_dir(data_dir)
        .and_then(|()| write_private(&path, &token))
        .map_err(|e| format!("cannot store the admin token in {}: {e}", path.display()))?;
    Ok((token, true))
}

/// Writes `text` to a new file readable by its owner alone, and syncs it.
#[cfg(unix)]
pub(super) fn write_private(path: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
pub(super) fn write_private(path: &Path, token: &str) -> std::io::Result<()> {
    std::fs::write(path, token)
}

/// Compares in time independent of where the first difference is.
pub fn matches(expected: &str, given: &str) -> bool {
    same_bytes(expected.as_bytes(), given.as_bytes())
}

/// [`matches`] for bytes (signatures, decoded keys).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
