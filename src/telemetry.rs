//! Logging: the tracing subscriber, request ids, and one log line per request.

use std::{fmt, time::Instant};

use actix_web::{
    Error as ActixError, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::{
    Level,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{FmtSpan, Writer},
    },
    registry::LookupSpan,
};
use uuid::Uuid;

use crate::config::{LogFormat, LogSettings};

/// Why a request failed, carried to its one log line (`telemetry::log_requests`), which has
/// the request id: each request ends in exactly one line, its cause included.
#[derive(Debug, Clone)]
pub struct Cause {
    pub level: tracing::Level,
    pub message: String,
}

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
        LogFormat::Json => builder.event_format(JsonLine).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// One JSON object per event: `timestamp`, `level`, then the event's fields (`message`
/// among them) at the top level. tracing-subscriber's own JSON layer writes the same shape
/// through serde and `fmt` a token at a time, which was most of a request's cost on
/// `/healthz` (bench/README.md); this writes each field once.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        writer.write_str("{\"timestamp\":\"")?;
        writer.write_str(&timestamp(time::OffsetDateTime::now_utc()))?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_char('"')?;
        let mut fields = JsonFields {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str("}\n")
    }
}

/// `2026-11-26T01:24:51.359124Z`, digit by digit: `write!` with padding cost more than the
/// rest of the line's fixed part.
fn timestamp(t: time::OffsetDateTime) -> String {
    let mut s = String::with_capacity(27);
    let parts = [
        ("", t.year().clamp(0, 9999).unsigned_abs(), 4),
        ("-", u32::from(u8::from(t.month())), 2),
        ("-", u32::from(t.day()), 2),
        ("T", u32::from(t.hour()), 2),
        (":", u32::from(t.minute()), 2),
        (":", u32::from(t.second()), 2),
        (".", t.microsecond(), 6),
    ];
    for (sep, n, width) in parts {
        s.push_str(sep);
        for i in (0..width).rev() {
            s.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
    }
    s.push('Z');
    s
}

/// Writes each field as `,"name":value` after the ones before it.
struct JsonFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.out.write_char(',')?;
                write_json_str(self.out, field.name())?;
                self.out.write_char(':')?;
                value(self.out)
            })();
        }
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| write_json_str(w, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.field(field, |w| match value.is_finite() {
            true => write!(w, "{value}"),
            false => w.write_str("null"),
        });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%display` fields and the message arrive here; `Arguments` debug-print as text.
        let text = format!("{value:?}");
        self.field(field, |w| write_json_str(w, &text));
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped.
fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 | 0x7f => "",
            _ => continue,
        };
        w.write_str(&s[plain..i])?;
        if escape.is_empty() {
            write!(w, "\\u{b:04x}")?;
        } else {
            w.write_str(escape)?;
        }
        plain = i + 1;
    }
    w.write_str(&s[plain..])?;
    w.write_char('"')
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
    let state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned();
    let result = next.call(req).await;
    let seconds = start.elapsed().as_secs_f64();
    let latency_ms = seconds * 1000.0;
    // Fields go to the line as `&str`, not `Display`: formatting each through `fmt` was most
    // of the line's cost (bench/README.md).
    let mut id_buf = Uuid::encode_buffer();
    let request_id: &str = id.0.hyphenated().encode_lower(&mut id_buf);
    let (method, path, client) = (method.as_str(), path.as_str(), client.as_str());
    match result {
        Ok(mut res) => {
            // Found once (it walks the route table), for the line and the metrics.
            let pattern = res.request().match_pattern();
            if let Some(state) = &state {
                state
                    .metrics
                    .answered(pattern.as_deref(), method, res.status(), seconds);
            }
            let status = res.status().as_u16();
            let route = pattern.as_deref().unwrap_or_default();
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
                    tracing::$emit!(
                        request_id, method, path, route, status, latency_ms, client, error,
                        "request"
                    )
                };
            }
            match level {
                Level::ERROR => line!(error),
                Level::WARN => line!(warn),
                _ => line!(info),
            }
            if let Ok(value) = HeaderValue::from_str(request_id) {
                res.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code();
            if let Some(state) = &state {
                state.metrics.answered(None, method, status, seconds);
            }
            let status = status.as_u16();
            tracing::warn!(request_id, method, path, status, latency_ms, client, error = %e, "request");
            Err(e)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines `emit` logs through `JsonLine`, parsed.
    fn lines(emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLine)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_event_is_one_json_object_with_its_fields_at_the_top() {
        let hostile = "quote \" back \\ nl \n cr \r tab \t nul \0 bell \u{7} del \u{7f} é ✓";
        let got = lines(|| {
            let path = hostile;
            tracing::info!(
                path,
                status = 404_u16,
                latency_ms = 1.5,
                ok = true,
                n = -3_i64,
                "request"
            );
            tracing::warn!(error = %hostile, nan = f64::NAN, "went wrong: {}", 42);
        });
        assert_eq!(got.len(), 2, "{got:?}");
        let first = &got[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "request");
        assert_eq!(first["path"], hostile);
        assert_eq!(first["status"], 404);
        assert_eq!(first["latency_ms"], 1.5);
        assert_eq!(first["ok"], true);
        assert_eq!(first["n"], -3);
        let ts = first["timestamp"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok(),
            "{ts}"
        );
        let second = &got[1];
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["message"], "went wrong: 42");
        assert_eq!(second["error"], hostile);
        assert!(second["nan"].is_null());
    }
}
