//! HTTP endpoints of the consumer: `/metrics`, `/healthz`, `/readyz` and the
//! authenticated control input `/control/workers` that sets W at run time.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::control_auth::ControlAuth;

use crate::metrics::Metrics;
use crate::runtime::health::Health;
use crate::runtime::pool::{OutOfRange, WorkerPool, WorkersState};

/// What the control endpoint drives.
pub trait WorkersApi: Send + Sync + 'static {
    fn state(&self) -> WorkersState;
    fn set_workers(&self, n: usize) -> Result<WorkersState, OutOfRange>;
}

impl WorkersApi for WorkerPool {
    fn state(&self) -> WorkersState {
        WorkerPool::state(self)
    }
    fn set_workers(&self, n: usize) -> Result<WorkersState, OutOfRange> {
        WorkerPool::set_workers(self, n)
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Metrics,
    pub health: Arc<Health>,
    pub workers: Arc<dyn WorkersApi>,
    /// Who may use the control endpoint.
    pub control: Arc<ControlAuth>,
}

/// The router of every endpoint.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(CONTROL_WORKERS_PATH, get(get_workers).put(put_workers))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    info!(addr = ?listener.local_addr().ok(), "HTTP server listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .ready
        .set(i64::from(state.health.ready().is_ok()));
    let body = state.metrics.render();
    let mut response = body.into_response();
    if let Ok(ct) = HeaderValue::from_str(&state.metrics.content_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.health.live() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.health.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn get_workers(State(state): State<AppState>) -> Response {
    axum::Json(state.workers.state()).into_response()
}

/// The control endpoint of the worker count: `GET` answers a
/// [`crate::runtime::pool::WorkersState`], `PUT` takes a [`SetWorkers`] with the caller's
/// bearer token. The operator's autoscaler calls it with these types.
pub const CONTROL_WORKERS_PATH: &str = "/control/workers";

/// The body of `PUT /control/workers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWorkers {
    pub workers: usize,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

async fn put_workers(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if *state.control == ControlAuth::Closed {
        return error(
            StatusCode::FORBIDDEN,
            "the control endpoint is closed (no control authentication configured)",
        );
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let caller = match state.control.check(bearer, now) {
        Ok(caller) => caller,
        Err(refusal) => {
            warn!(%refusal, "control request refused");
            return error(StatusCode::UNAUTHORIZED, &refusal.to_string());
        }
    };
    let request: SetWorkers = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("expected {{\"workers\": N}}: {e}"),
            );
        }
    };
    match state.workers.set_workers(request.workers) {
        Ok(s) => {
            info!(
                workers = s.workers,
                %caller,
                "workers set through the control endpoint"
            );
            axum::Json(s).into_response()
        }
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct FakeWorkers(Mutex<usize>);

    impl WorkersApi for FakeWorkers {
        fn state(&self) -> WorkersState {
            let w = *self.0.lock().unwrap();
            WorkersState {
                workers: w,
                max: 8,
                active: w,
            }
        }
        fn set_workers(&self, n: usize) -> Result<WorkersState, OutOfRange> {
            if n == 0 || n > 8 {
                return Err(OutOfRange {
                    requested: n,
                    max: 8,
                });
            }
            *self.0.lock().unwrap() = n;
            Ok(self.state())
        }
    }

    async fn spawn(token: Option<&str>) -> String {
        let state = AppState {
            metrics: Metrics::new().unwrap(),
            health: Arc::new(Health::new()),
            workers: Arc::new(FakeWorkers(Mutex::new(2))),
            control: Arc::new(token.map_or(ControlAuth::Closed, |t| ControlAuth::Static(t.into()))),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, state, std::future::pending()));
        format!("http://{addr}")
    }

    async fn put(base: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let mut req = reqwest::Client::new()
            .put(format!("{base}/control/workers"))
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    #[tokio::test]
    async fn control_sets_workers_with_the_right_token_only() {
        let base = spawn(Some("s3cret")).await;
        assert_eq!(put(&base, None, r#"{"workers":4}"#).await.0, 401);
        assert_eq!(put(&base, Some("nope"), r#"{"workers":4}"#).await.0, 401);
        assert_eq!(put(&base, Some("s3cret"), r#"{"workers":0}"#).await.0, 422);
        assert_eq!(put(&base, Some("s3cret"), r#"{"workers":9}"#).await.0, 422);
        assert_eq!(put(&base, Some("s3cret"), "garbage").await.0, 422);
        let (status, body) = put(&base, Some("s3cret"), r#"{"workers":4}"#).await;
        assert_eq!(status, 200);
        assert_eq!(body, r#"{"workers":4,"max":8,"active":4}"#);
        let got = reqwest::get(format!("{base}/control/workers"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(got, r#"{"workers":4,"max":8,"active":4}"#);
    }

    #[tokio::test]
    async fn control_is_forbidden_without_a_configured_token() {
        let base = spawn(None).await;
        assert_eq!(
            put(&base, Some("anything"), r#"{"workers":4}"#).await.0,
            403
        );
    }

    #[tokio::test]
    async fn health_metrics_and_readiness_answer() {
        let base = spawn(None).await;
        let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(ready.status().as_u16(), 503);
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("trades_processed_total"));
    }
}
