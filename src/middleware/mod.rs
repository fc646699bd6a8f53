//! Middleware that every request passes through: a deadline on request bodies, a refusal of
//! NUL bytes in query strings, and `Cache-Control` for pages made for one person; and the
//! two helpers the route table (`router`) registers every route with.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    Error as ActixError, HttpMessage, HttpRequest, Route,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    guard,
    http::header::{self, HeaderValue},
    middleware::{Next, from_fn},
    web::{self, Bytes},
};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::Error;

/// A request body stream that fails with `TimedOut` once its deadline passes: a body sent
/// one byte at a time can't hold a worker forever (actix times out slow headers only).
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body too slow");
            return Poll::Ready(Some(Err(PayloadError::Io(e))));
        }
        Poll::Pending
    }
}

/// The deadlines `deadlines` applies (`http.body_timeout_secs`,
/// `database.query_timeout_secs`), registered as app data by `app.rs`.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub body: Duration,
    pub work: Duration,
}

/// A route's own work deadline, for the few whose answer takes long by nature (the admin's
/// export reads the whole blog before it can answer): registered as the resource's app data
/// (`router`), it replaces `Deadlines::work` for that route.
#[derive(Debug, Clone, Copy)]
pub struct LongWork(pub Duration);

/// Deadlines for every request: its body gets `http.body_timeout_secs` to arrive in full,
/// and the request as a whole that plus `database.query_timeout_secs` to be answered. A
/// database that stops answering mid-query (connections open, no replies) then costs a
/// request a 503 after seconds, instead of holding it, and its worker, indefinitely.
pub async fn deadlines(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, ActixError> {
    let Deadlines {
        body: body_limit,
        work: work_limit,
    } = req.app_data::<Deadlines>().copied().unwrap_or(Deadlines {
        body: Duration::from_secs(30),
        work: Duration::from_secs(10),
    });
    let work_limit = req
        .app_data::<LongWork>()
        .map_or(work_limit, |long| long.0.max(work_limit));
    // A WebSocket's "body" is the socket itself, as long as it is open: its frames have
    // deadlines of their own (`ws::socket`).
    let websocket = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if websocket {
        return tokio::time::timeout(work_limit, next.call(req))
            .await
            .unwrap_or_else(|_| Err(Error::Unavailable.into()))
            .map(ServiceResponse::map_into_left_body);
    }
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let inner = req.take_payload();
    let stream = Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep_until(Instant::now() + body_limit)),
        expired: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(stream),
    });
    let limit = if has_body {
        body_limit + work_limit
    } else {
        work_limit
    };
    let http_req = req.request().clone();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => Ok(res?.map_into_left_body()),
        Err(_) => {
            tracing::warn!(path = http_req.path(), "request timed out: answering 503");
            let res = actix_web::ResponseError::error_response(&Error::Unavailable);
            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
        }
    }
}

/// No query string may smuggle a NUL byte into a handler (PostgreSQL refuses them in text,
/// which would be a 500): 400 before any handler runs.
pub async fn reject_nul_in_query(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, ActixError> {
    let query = req.query_string();
    let has_nul = query.contains("%00")
        || url::form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k.contains('\0') || v.contains('\0'));
    if has_nul {
        let err = Error::BadRequest("the address contains a NUL character".into());
        return Ok(req.error_response(err).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Marks a request whose response shows who is logged in or carries a CSRF token.
#[derive(Debug, Clone, Copy)]
pub struct Personal;

/// Note on `req` that its page is for one person only.
pub fn mark_personal(req: &HttpRequest) {
    req.extensions_mut().insert(Personal);
}

/// Pages that show a logged-in person's name or a CSRF token must never be stored by a
/// shared cache (or the browser's back-forward cache on a shared computer).
pub async fn personal_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, ActixError> {
    let mut res = next.call(req).await?;
    if res.request().extensions().get::<Personal>().is_some() {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    Ok(res)
}

/// Outermost: notes that a request came (`Metrics::request`), so the job runner can make way
/// while they keep coming.
pub async fn in_flight(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>() {
        state.metrics.request();
    }
    next.call(req).await
}

/// A resource at `path`, with the request deadlines (`middleware::deadlines`) around its
/// handlers. Every route is registered through this, so other methods answer 405 and no
/// request outlives its deadline.
pub fn resource(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + use<>>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    web::resource(path).wrap(from_fn(deadlines))
}

/// A route for pages people read: GET, and HEAD (the same response without its body,
/// which actix-http drops for HEAD requests).
pub fn read() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
