//! What the test crates share: one skip policy for tests that need more than Rust, and one
//! fresh PostgreSQL schema per test.
//!
//! Some tests need PostgreSQL (`DATABASE_URL`), Python with the official Svix, Standard
//! Webhooks and Playwright libraries (`HOOKD_TEST_PYTHON`), or Chromium. `./scripts/test`
//! provides all of them and sets `HOOKD_TEST_ALL=1`: there a missing one fails the test that
//! needs it. Run bare (`cargo test` on a fresh clone), such a test prints what it skipped and
//! why, and passes.
#![allow(dead_code)] // each test crate uses its part

/// `found`, or the skip policy's answer when it is missing.
pub fn needed<T>(found: Option<T>, missing: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    if std::env::var_os("HOOKD_TEST_ALL").is_some() {
        panic!("{missing}, and ./scripts/test (HOOKD_TEST_ALL) runs every test");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`, and a skip
    // that nobody sees would read as a pass.
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {missing}; ./scripts/test runs it");
    None
}

pub fn database_url() -> Option<String> {
    needed(std::env::var("DATABASE_URL").ok(), "DATABASE_URL is not set (PostgreSQL)")
}

/// The Python with the Svix and Standard Webhooks libraries and Playwright.
pub fn python() -> Option<String> {
    needed(
        std::env::var("HOOKD_TEST_PYTHON").ok(),
        "HOOKD_TEST_PYTHON is not set (Python with svix, standardwebhooks and playwright)",
    )
}

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The Python, when Chromium is here too: what the browser tests need.
pub fn browser_python() -> Option<String> {
    let chromium = std::path::Path::new(CHROMIUM).exists().then_some(());
    needed(chromium, "Chromium is not installed at /usr/bin/chromium")?;
    python()
}

/// A schema of its own in `DATABASE_URL`'s database, dropped when this is dropped.
pub struct PgSchema {
    /// The URL that selects the schema (through `search_path`).
    pub url: String,
    base_url: String,
    schema: String,
}

/// A fresh schema, or `None` under the skip policy when `DATABASE_URL` is not set.
pub async fn pg_schema() -> Option<PgSchema> {
    let base_url = database_url()?;
    let schema = hookd::model::ids::new_id("t_").to_lowercase();
    run_sql(&base_url, &format!("CREATE SCHEMA {schema}")).await;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-csearch_path%3D{schema}");
    Some(PgSchema { url, base_url, schema })
}

pub async fn run_sql(url: &str, sql: &str) {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect to DATABASE_URL");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect("run sql");
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // A node of the test may still hold a lock in it: give up after a moment rather than
        // wait for a task that cannot run while this thread waits (a leftover schema is
        // harmless; each test makes its own).
        let sql = format!("SET lock_timeout = '3s'; DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let url = self.base_url.clone();
        // On a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client.batch_execute(&sql).await;
                    }
                });
            }
        })
        .join();
    }
}
