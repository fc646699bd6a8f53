//! Logging: the tracing subscriber, request ids, and one log line per request.

use std::{fmt, time::Instant};

use actix_web::{
    Error as ActixError, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Level;
use tracing_subscriber::{EnvFilter, fmt::format::FmtSpan};
use uuid::Uuid;

use crate::{
    config::{LogFormat, LogSettings},
    error::Cause,
};

/// Install the global subscriber. `try_init` so tests that start several apps don't panic.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_span_events(FmtSpan::NONE)
        .with_target(false);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A request's id: sent back as `X-Request-Id`, printed on error pages, on every log line.
#[derive(Debug, Clone, Copy)]
pub struct RequestId(Uuid);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware: give the request an id and log one line when it ends (method, path, route
/// pattern, status, latency, request id, and for a failure its cause, at the cause's level).
/// No span wraps the request: tracing's per-request span cost a quarter of the throughput of
/// a request that does no work (bench/README.md), and this line already carries the id.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, ActixError> {
    let id = RequestId(Uuid::now_v7());
    req.extensions_mut().insert(id);
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    // The client as the proxy reports it (X-Forwarded-For / Forwarded): for the log only,
    // never for decisions, since a client can send these headers itself.
    let client = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("-")
        .to_owned();
    let result = next.call(req).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let route = res.request().match_pattern().unwrap_or_default();
            let cause = res
                .response()
                .extensions()
                .get::<Cause>()
                .cloned()
                .or_else(|| res.request().extensions().get::<Cause>().cloned());
            // One line; its level is the cause's (a request that went well is info).
            let (level, error) = cause.map_or((Level::INFO, None), |c| (c.level, Some(c.message)));
            // Recorded only when there is one (tracing skips a `None`).
            let error = error.as_deref();
            macro_rules! line {
                ($emit:ident) => {
                    tracing::$emit!(request_id = %id, %method, %path, %route, status, latency_ms, %client, error, "request")
                };
            }
            match level {
                Level::ERROR => line!(error),
                Level::WARN => line!(warn),
                _ => line!(info),
            }
            if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
                res.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            tracing::warn!(request_id = %id, %method, %path, status, latency_ms, %client, error = %e, "request");
            Err(e)
        }
    }
}
