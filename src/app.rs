//! Wiring: [`App::build`] opens the store, binds the listener and assembles the parts;
//! [`App::run`] serves until the shutdown token is cancelled.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::{Config, ServerConfig};
use crate::dispatch::{DispatchHandle, Dispatcher, Timing};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::operational;
use crate::security::{secret_key, token};
use crate::store::{self, Store};
use crate::tasks::TaskRunner;
use crate::ui;

/// A built, bound, not yet running hookd.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    dispatch: DispatchHandle,
    tasks: TaskRunner,
    admin_token: String,
    server: ServerConfig,
    /// How long in-flight work may take to finish after shutdown begins.
    grace: Duration,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, String> {
        Self::build_with(config, Timing::system()).await
    }

    /// Like [`App::build`], with delivery's clock and jitter given (tests pass a clock they
    /// can move forward).
    pub async fn build_with(config: Config, timing: Timing) -> Result<Self, String> {
        let metrics = Metrics::new();
        let keys = secret_key::load_or_generate(config.secret_key.as_deref(), &config.data_dir)?;
        let store = store::open(
            config.database_url.as_deref(),
            &config.data_dir,
            Arc::new(keys),
            metrics.clone(),
        )
        .await?;
        reseal(store.as_ref()).await?;
        let (admin_token, generated) =
            token::load_or_generate(config.admin_token.as_deref(), &config.data_dir)?;
        let (events, reported) = operational::Events::channel();
        let clock = timing.clock.clone();
        let (dispatcher, dispatch) =
            Dispatcher::new(store.clone(), &config, timing, metrics.clone(), events.clone());
        let ingest = Arc::new(Ingest::new(store.clone(), dispatch.clone(), metrics.clone()));
        let tasks =
            TaskRunner::new(store.clone(), ingest.clone(), clock, config.delivery.replay_rate);
        operational::ensure_app(store.as_ref()).await?;
        tokio::spawn(operational::run(store.clone(), ingest.clone(), reported));
        let body =
            api::BodyLimits { max_size: config.max_body_size, timeout: config.server.body_timeout };
        let admin: Arc<str> = admin_token.as_str().into();
        let rotation_grace_ms = config.delivery.rotation_grace.as_millis() as i64;
        let console = ui::UiState {
            store: store.clone(),
            ingest: ingest.clone(),
            admin_token: admin.clone(),
            rotation_grace_ms,
            body,
            frame_ancestors: config.console.frame_ancestors.clone().into(),
            events: events.clone(),
        };
        let metrics_access = api::MetricsAccess {
            token: config.metrics.token.as_deref().map(Into::into),
            public: config.metrics.public,
        };
        let state = ApiState::new(api::Shared {
            store: store.clone(),
            ingest,
            admin_token: admin,
            rotation_grace_ms,
            metrics: metrics.clone(),
            metrics_access,
            health: Arc::default(),
            events,
        });
        let router = api::router(state, body)
            .merge(ui::router(console))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(metrics, api::observe::observe));
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            format!("cannot listen on {} (listen / HOOKD_LISTEN): {e}", config.listen)
        })?;
        if generated {
            announce_token(&config);
        }
        let (server, grace) = (config.server.clone(), config.shutdown_grace);
        Ok(Self {
            listener,
            router,
            store,
            dispatcher,
            dispatch,
            tasks,
            admin_token,
            server,
            grace,
        })
    }

    /// The port actually bound (useful when `listen` asked for port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The dispatcher's handle: to wake it, or to wait until delivery has come to rest.
    pub fn dispatch(&self) -> DispatchHandle {
        self.dispatch.clone()
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Serves and delivers until `shutdown` is cancelled, then gives in-flight API requests
    /// and deliveries the grace period to finish (see [`Dispatcher::run`]).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), String> {
        let (listener, router, grace) = (self.listener, self.router, self.grace);
        let server = api::serve(listener, router, &self.server, shutdown.clone(), grace);
        tokio::join!(
            server,
            self.dispatcher.run(shutdown.clone(), grace),
            self.tasks.run(shutdown)
        );
        Ok(())
    }
}

/// A path no route takes: hookd's JSON error under `/api/`, the console's page elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        api::not_found().await.into_response()
    } else {
        ui::not_found().await
    }
}

/// Says where the new token is, never the token itself: a terminal's scrollback and a
/// service's log outlive the moment.
fn announce_token(config: &Config) {
    let file = config.data_dir.join("admin-token");
    eprintln!(
        "hookd: generated an admin token and saved it in {} (readable by this user only).\n\
         hookd: sign in at http://{}/ with it, or use the CLI from this directory: hookd app list",
        file.display(),
        config.listen
    );
}

/// Seals, with the current key, whatever an older key sealed (or what was stored before
/// secrets were sealed). A value sealed with a key this node lacks stops the start here,
/// with the key's id, rather than failing each delivery later.
async fn reseal(store: &dyn Store) -> Result<(), String> {
    match store.reseal_secrets().await {
        Ok(0) => Ok(()),
        Ok(n) => {
            tracing::info!(
                endpoints = n,
                "sealed endpoint secrets and headers with the current key"
            );
            Ok(())
        }
        Err(e) => Err(format!("cannot open the endpoint secrets: {e}")),
    }
}
