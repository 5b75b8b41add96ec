//! A browser-like client for the console (cookies, forms, the CSRF token in each page), and
//! the runner of the real-browser tests in tests/ui.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One page as a browser receives it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).expect("the page has a form") + marker.len();
        let len = self.html[start..].find('"').expect("closing quote");
        self.html[start..start + len].to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A session's worth of requests, sent from the console's own origin unless told otherwise.
pub struct Console {
    pub base: String,
    pub cookie: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Console {
    pub fn new(base: &str) -> Self {
        let http = Client::builder(TokioExecutor::new()).build_http();
        Self { base: base.to_owned(), cookie: None, http }
    }

    /// Signs in with `token` and keeps the session cookie.
    pub async fn signed_in(base: &str, token: &str) -> Self {
        let mut console = Self::new(base);
        let page = console.post("/sign-in", &[("token", token)], &[]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        let set = page.header("set-cookie");
        let pair = set.split(';').next().expect("cookie pair");
        console.cookie = Some(pair.to_owned());
        console
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Posts a form; `headers` replace the same-origin ones a browser would send.
    pub async fn post(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.send(Method::POST, path, Some(body), headers).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Page {
        let host = self.base.trim_start_matches("http://").to_owned();
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if body.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            if headers.is_empty() {
                req = req.header("origin", format!("http://{host}"));
            }
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
        let resp = self.http.request(req).await.expect("hookd answers");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Page { status, headers, html: String::from_utf8_lossy(&bytes).into_owned() }
    }
}

pub use crate::common::{CHROMIUM, browser_python};

/// Runs a Playwright script of tests/ui with `env`; panics with its output unless it prints
/// `OK` last.
pub async fn run_browser_script(python: &str, script: &str, env: &[(&str, &str)]) {
    let path = format!("{}/tests/ui/{script}", env!("CARGO_MANIFEST_DIR"));
    let shots = format!("{}/target/ui-screenshots", env!("CARGO_MANIFEST_DIR"));
    let mut command = tokio::process::Command::new(python);
    command.arg(path).env("HOOKD_CHROMIUM", CHROMIUM).env("HOOKD_SCREENSHOTS", shots);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().await.expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail = |s: &str| {
        s.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect::<String>()
    };
    assert!(
        output.status.success() && stdout.trim_end().ends_with("OK"),
        "{script} failed\nstdout:\n{}\nstderr:\n{}",
        tail(&stdout),
        tail(&stderr)
    );
}
