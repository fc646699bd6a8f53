//! Logging: the tracing subscriber, request ids, and one log line per request.

use std::{fmt, time::Instant};

use actix_web::{
    Error as ActixError, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Instrument;
use tracing_subscriber::{EnvFilter, fmt::format::FmtSpan};
use uuid::Uuid;

use crate::config::{LogFormat, LogSettings};

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
            .with_current_span(true)
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

/// Middleware: give the request an id, run it inside a span, and log one line when it ends
/// (method, path, route pattern, status, latency, request id).
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
    let span = tracing::info_span!("request", request_id = %id);
    let result = next.call(req).instrument(span).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    // The request line carries the id itself, so it reads alone in either format.
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let route = res.request().match_pattern().unwrap_or_default();
            tracing::info!(request_id = %id, %method, %path, %route, status, latency_ms, %client, "request");
            if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
                res.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            tracing::info!(request_id = %id, %method, %path, status, latency_ms, %client, "request");
            Err(e)
        }
    }
}
