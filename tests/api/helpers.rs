//! The test app: the real server on a random loopback port with a fresh SQLite file, and a
//! small JSON client for it.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use std::sync::Arc;

use hookd::app::App;
use hookd::config::{Config, Layers};
use hookd::dispatch::{DispatchHandle, Timing};
use hookd::model::time::TestClock;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(hookd::model::ids::new_id("hookd-test-"));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A configuration for tests: port 0, the given data dir, a known token.
pub fn test_config(dir: &TempDir) -> Config {
    let mut config = Layers::new().resolve().expect("defaults resolve");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.data_dir = dir.0.clone();
    config.admin_token = Some(TOKEN.into());
    // Test receivers listen on loopback; the SSRF test clears this again.
    config.delivery.allowed_networks = vec!["127.0.0.0/8".parse().expect("cidr")];
    config.delivery.retry_schedule = vec![Duration::from_millis(50); 3];
    config.delivery.request_timeout = Duration::from_secs(5);
    config
}

/// Polls `check` every 10 ms until it returns `Some`, for up to 20 s: waiting on an outcome
/// rather than sleeping for a guessed time.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct TestApp {
    pub base: String,
    pub client: Api,
    /// Delivery's clock: [`TestApp::drain`] moves it forward to each retry.
    pub clock: Arc<TestClock>,
    dispatch: DispatchHandle,
    shutdown: CancellationToken,
    _dir: TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with `adjust` applied to the test configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = TempDir::new();
        let mut config = test_config(&dir);
        adjust(&mut config);
        let clock = Arc::new(TestClock::default());
        // The middle of the jitter's range: every retry waits exactly its scheduled delay.
        let timing = Timing { clock: clock.clone(), jitter: Arc::new(|| 0.5) };
        let app = App::build_with(config, timing).await.expect("app builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (shutdown, dispatch) = (CancellationToken::new(), app.dispatch());
        tokio::spawn(app.run(shutdown.clone()));
        let client = Api::new(&base, Some(TOKEN));
        Self { client, base, clock, dispatch, shutdown, _dir: dir }
    }

    /// Runs delivery to the end, as zero2prod runs its worker until the queue is empty: waits
    /// until nothing is due or in flight, moves the clock to the next retry, and again, until
    /// no delivery is pending. Retries scheduled hours ahead happen at once; nothing sleeps.
    pub async fn drain(&self) {
        let rounds = async {
            for _ in 0..1_000 {
                match self.dispatch.settle().await.expect("the store answers") {
                    None => return,
                    Some(due) => {
                        self.clock.advance_to(due);
                        self.dispatch.wake();
                    }
                }
            }
            panic!("deliveries were still pending after 1,000 rounds of retries");
        };
        tokio::time::timeout(Duration::from_secs(30), rounds)
            .await
            .expect("delivery comes to rest within 30 s");
    }

    /// Where this app keeps its SQLite file.
    pub fn data_dir(&self) -> &std::path::Path {
        &self._dir.0
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.client.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.client.call(Method::POST, path, Some(body.to_string())).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.client.call(Method::PUT, path, Some(body.to_string())).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.client.call(Method::PATCH, path, Some(body.to_string())).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.client.call(Method::DELETE, path, None).await
    }

    /// Creates an endpoint in app `app` and returns its id.
    pub async fn create_endpoint(&self, app: &str, body: Value) -> String {
        let (status, ep) = self.post(&format!("/api/v1/app/{app}/endpoint"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        ep["id"].as_str().expect("id").to_owned()
    }

    /// Sends a message and returns its id.
    pub async fn send(&self, app: &str, body: Value) -> String {
        let (status, msg) = self.post(&format!("/api/v1/app/{app}/msg"), body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
        msg["id"].as_str().expect("id").to_owned()
    }

    /// The attempts of a message, oldest first, once delivery has come to rest; at least `n`.
    pub async fn attempts(&self, app: &str, msg: &str, n: usize) -> Vec<Value> {
        self.drain().await;
        let (_, page) = self.get(&format!("/api/v1/app/{app}/attempt/msg/{msg}")).await;
        let mut data = page["data"].as_array().cloned().unwrap_or_default();
        data.reverse();
        assert!(data.len() >= n, "expected at least {n} attempts, found {}: {page}", data.len());
        data
    }

    /// Asserts the message's delivery status towards its first endpoint once delivery has
    /// come to rest.
    pub async fn delivery_becomes(&self, app: &str, msg: &str, status_text: &str) {
        self.drain().await;
        let (_, page) = self.get(&format!("/api/v1/app/{app}/msg/{msg}/endpoint")).await;
        assert_eq!(page["data"][0]["statusText"], status_text, "{page}");
    }

    /// Creates an application and returns its id.
    pub async fn create_app(&self, uid: &str) -> String {
        let (status, app) =
            self.post("/api/v1/app", serde_json::json!({"name": uid, "uid": uid})).await;
        assert_eq!(status, StatusCode::CREATED, "{app}");
        app["id"].as_str().expect("id").to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A JSON client for hookd's API.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let http = Client::builder(TokioExecutor::new()).build_http();
        Self { base: base.to_owned(), token: token.map(str::to_owned), http }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, body, &[]).await
    }

    /// Sends a request with extra headers; the answer's body parsed as JSON (`Null` if empty).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.try_call_with(method, path, body, headers).await.expect("hookd answers")
    }

    /// Like [`Api::call_with`], but a connection failure is an `Err` (the server may be dead).
    pub async fn try_call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), String> {
        let (status, _, bytes) = self.raw(method, path, body, headers).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("non-JSON answer: {bytes:?}"))
        };
        Ok((status, value))
    }

    /// The answer as it came: status, headers and body bytes.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, headers, bytes))
    }
}

/// A `hookd serve` process of the built binary, for tests that kill it.
pub struct Process {
    pub child: std::process::Child,
    pub api: Api,
    /// Its standard error, unless the test asked for a log of its own: removed on drop.
    temp_log: Option<std::path::PathBuf>,
}

impl Process {
    pub async fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
        Self::start_command(cmd, data_dir, env, None).await
    }

    /// Like [`Process::start`], with its log (standard error) written to `log`.
    pub async fn start_logging(
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Self {
        let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
        Self::start_command(cmd, data_dir, env, Some(log)).await
    }

    /// SIGTERM, then waits up to `within` for the exit.
    pub async fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success(), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for hookd") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "hookd did not exit within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts hookd under an open-file limit of `files` (`ulimit -n`, through `sh`).
    pub async fn start_with_file_limit(
        data_dir: &std::path::Path,
        files: u32,
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = std::process::Command::new("sh");
        let script = format!("ulimit -n {files} && exec \"$0\" \"$@\"");
        cmd.arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_hookd"));
        Self::start_command(cmd, data_dir, env, None).await
    }

    /// Starts hookd on a port it picks itself (port 0) and reads that port from its log:
    /// a port picked here and passed in could be taken by another test's server meanwhile,
    /// whose health check would then answer for this one.
    async fn start_command(
        mut cmd: std::process::Command,
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let temp_log = log.is_none().then(|| {
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("hookd-test-{}-{n}.log", std::process::id()))
        });
        let log = log.map_or_else(|| temp_log.clone().expect("a log"), |l| l.to_path_buf());
        cmd.arg("serve")
            .env("HOOKD_LISTEN", "127.0.0.1:0")
            .env("HOOKD_DATA_DIR", data_dir)
            .env("HOOKD_ADMIN_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start hookd");
        // Owned by `Process` at once, so its Drop reaps the child even if start-up fails.
        let mut process =
            Self { child, api: Api::new("http://127.0.0.1:0", Some(TOKEN)), temp_log };
        for _ in 0..400 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) =
                text.lines().find(|l| l.contains("hookd is serving")).and_then(port_in)
            {
                process.api = Api::new(&format!("http://127.0.0.1:{port}"), Some(TOKEN));
                let health = process.api.try_call_with(Method::GET, "/api/v1/health", None, &[]);
                if let Ok((StatusCode::NO_CONTENT, _)) = health.await {
                    return process;
                }
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("hookd exited at start ({status}):\n{text}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("hookd did not become healthy:\n{text}");
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = &self.temp_log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// The port in hookd's "hookd is serving" line, as text (`port=N`) or JSON (`"port":N`).
fn port_in(line: &str) -> Option<u16> {
    let at = ["port=", "\"port\":"].iter().find_map(|m| Some(line.find(m)? + m.len()))?;
    let digits: String = line[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
