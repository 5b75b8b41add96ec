//! Where connections enter: the accept loop, with the bounds that keep slow or idle clients
//! from holding the API.
//!
//! `axum::serve` has no timeouts and no connection limit: a client sending one header byte
//! every few seconds holds its connection forever, and a few hundred of them exhaust the
//! open-file limit, after which nobody is served (and nothing is logged). Here:
//! - a connection's request headers must arrive within `header_timeout`, which hyper also
//!   applies to the wait for the next request on a kept-alive connection (so idle ones close);
//! - request bodies must arrive within `body_timeout` ([`super::BodyLimits::read_request`] enforces it);
//! - at most `max_connections` are served at once (never more than half the open-file limit,
//!   the other half being left for deliveries and the database); further clients wait in the
//!   kernel's accept queue, as in mini-redis's `MAX_CONNECTIONS`;
//! - accept errors are logged, and the loop backs off instead of spinning on them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ServerConfig;

/// Serves `router` on `listener` until `shutdown`; then stops accepting, lets requests in
/// progress finish, and returns once every connection has closed or `grace` has passed
/// (the connections left are dropped with the runtime).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ServerConfig,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let max = connection_limit(limits.max_connections, open_file_limit());
    let permits = Arc::new(Semaphore::new(max));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let connections = TaskTracker::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let stream = match stream {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Most often EMFILE: every descriptor in use. Wait for some to close.
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "accepting a connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(super::operational_paths)
            .map_request(super::strip_trailing_slash)
            .map_request(|req: Request<Incoming>| req.map(Body::new));
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait()).await.is_err() {
        let open = connections.len();
        tracing::warn!(connections = open, "shutdown grace over; closing connections still busy");
    }
}

/// The configured limit, lowered to half the open-file limit when that is lower.
fn connection_limit(configured: usize, open_files: Option<usize>) -> usize {
    match open_files.map(|n| (n / 2).max(1)) {
        Some(cap) if cap < configured => {
            tracing::warn!(
                configured,
                open_file_limit = open_files,
                used = cap,
                "server.max_connections lowered to half the open-file limit"
            );
            cap
        }
        _ => configured,
    }
}

/// The soft limit on open files (Linux); `None` where it cannot be read.
fn open_file_limit() -> Option<usize> {
    crate::metrics::open_file_limit().map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_leaves_half_the_open_files() {
        assert_eq!(connection_limit(1024, Some(256)), 128);
        assert_eq!(connection_limit(100, Some(256)), 100);
        assert_eq!(connection_limit(1024, None), 1024);
        assert_eq!(connection_limit(1024, Some(1)), 1);
    }

    #[test]
    fn reads_the_open_file_limit_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|n| n > 0));
        }
    }
}
