//! The one pooled HTTP client deliveries go through, with the SSRF guard in its resolver, so
//! the address that was checked is the address connected to.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use crate::security::ssrf::Guard;

pub type HttpClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// DNS resolution that drops addresses the guard refuses, and fails if none is left.
#[derive(Clone)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| guard.check(addr.ip()).map_err(|why| refusal = Some(why)).is_ok())
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(why)) => {
                    Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, why))
                }
                (true, None) => {
                    Err(std::io::Error::other(format!("{} has no address", name.as_str())))
                }
                (false, _) => Ok(allowed.into_iter()),
            }
        })
    }
}

/// Builds the pooled client: HTTP/1.1, rustls with the webpki roots, guarded resolution.
pub fn build(guard: Arc<Guard>, max_idle_per_host: usize) -> HttpClient {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { guard });
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(max_idle_per_host)
        .build(https)
}

/// A host written as an IP address is never resolved, so the guard checks it here.
pub fn check_literal_host(guard: &Guard, host: &str) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => guard.check(ip),
        Err(_) => Ok(()),
    }
}

/// Reads at most `cap` bytes of a response body; the rest is not waited for.
pub async fn read_capped(mut body: Incoming, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    out.extend_from_slice(&data[..data.len().min(cap - out.len())]);
                }
            }
            _ => break,
        }
    }
    out
}

/// An error and its causes in words, e.g. "client error (Connect): tcp connect error: Connection refused".
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
