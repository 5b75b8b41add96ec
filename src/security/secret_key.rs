//! The keys that seal secrets at rest: configured, or generated once and kept in the data
//! directory beside (not inside) the database, as the admin token is.

use std::path::Path;

use super::sealing::Keyring;

pub const KEY_FILE: &str = "secret-key";

/// The keyring to seal with (unlike the admin token, a generated key is not announced:
/// nobody needs to type it, only to back up its file).
pub fn load_or_generate(configured: Option<&str>, data_dir: &Path) -> Result<Keyring, String> {
    if let Some(text) = configured {
        return Keyring::parse(text).map_err(|e| format!("secret_key: {e}"));
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Keyring::parse(&text).map_err(|e| format!("{}: {e}", path.display()));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    let key = Keyring::generate_key();
    super::files::private_dir(data_dir)
        .and_then(|()| super::token::write_private(&path, &format!("{key}\n")))
        .map_err(|e| format!("cannot store the secret key in {}: {e}", path.display()))?;
    Keyring::parse(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_and_read_back() {
        let dir = std::env::temp_dir().join(format!("hookd-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_generate(None, &dir).expect("generates");
        let again = load_or_generate(None, &dir).expect("reads");
        assert_eq!(first.current_id(), again.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
