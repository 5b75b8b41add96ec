//! The data directory and the files in it are readable by hookd's user alone: the database
//! holds endpoint secrets and custom header values, the token file the admin token.
//! A directory hookd creates is 0700 and a file 0600; SQLite gives its `-wal` and `-shm` files
//! the database file's mode. An existing directory keeps the mode its owner chose.

use std::path::Path;

/// Creates `dir` (and its parents) as 0700 where it does not exist yet.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` empty as 0600 unless it exists, so whatever is written into it later starts
/// private.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}
