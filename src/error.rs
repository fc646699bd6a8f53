//! The one error type of request handlers, and the error pages people see.
//!
//! Use `anyhow` off the request path (start-up, CLI), narrow errors in model code, and
//! `Error` in handlers: `?` converts. Causes are logged with the request id and never shown;
//! the page says what happened in words and gives the id to quote. Every 4xx/5xx response of
//! a page route, including actix's own rejections, is re-rendered by `error_pages` in the
//! site's layout, so there is one look for all of them.

use actix_web::{
    HttpMessage, HttpResponse, ResponseError,
    body::EitherBody,
    dev::ServiceResponse,
    http::{
        StatusCode,
        header::{self, ContentType},
    },
    middleware::{ErrorHandlerResponse, ErrorHandlers},
    web,
};
use askama::Template;

use crate::{
    render::Layout,
    state::AppState,
    telemetry::{Cause, RequestId},
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// The message is shown to the person: say what was wrong with the request.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden")]
    Forbidden,
    /// The thing is no longer in a state where this can be done (a job retried twice); the
    /// message says what happened.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Over a rate limit; the message says when to try again.
    #[error("too many requests: {0}")]
    TooMany(String),
    /// The request body is over a limit; the message says which.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The request body did not arrive within `http.body_timeout_secs`.
    #[error("request body timed out")]
    RequestTimeout,
    /// Too many password hashes at once: come back in a second (503 with Retry-After).
    #[error("busy")]
    Busy,
    /// Redis (sessions, rate limits) is out of reach: pages that need a session answer 503
    /// while anonymous reading goes on.
    #[error("session store unavailable")]
    SessionsUnavailable,
    /// The page needs a logged-in user: off to the login page, then back to this path.
    #[error("login required")]
    LoginRequired(String),
    /// A state-changing form without this session's CSRF token.
    #[error("missing or wrong CSRF token")]
    CsrfRejected,
    /// A WebSocket handshake from a page of another site (its `Origin`): the sockets' CSRF.
    #[error("cross-site WebSocket handshake")]
    CrossSite,
    /// The database (or another backing service) is out of reach: a 503, retried later.
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Error::NotFound,
            // A connection that broke mid-message can surface as a protocol error too.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable
            }
            other => Error::Internal(other.into()),
        }
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        tracing::warn!(error = %e, "redis unavailable");
        Error::SessionsUnavailable
    }
}

impl From<crate::accounts::hasher::HashError> for Error {
    fn from(e: crate::accounts::hasher::HashError) -> Self {
        match e {
            crate::accounts::hasher::HashError::Busy => Error::Busy,
            crate::accounts::hasher::HashError::Other(e) => Error::Internal(e),
        }
    }
}

impl From<actix_session::SessionInsertError> for Error {
    fn from(e: actix_session::SessionInsertError) -> Self {
        Error::Internal(e.into())
    }
}

impl From<askama::Error> for Error {
    fn from(e: askama::Error) -> Self {
        Error::Internal(e.into())
    }
}

/// What an error page says; put in the response's extensions for `error_pages` to render.
#[derive(Debug, Clone)]
pub struct ErrorMessage {
    pub heading: &'static str,
    pub detail: String,
}

impl ErrorMessage {
    /// Words for a status when nothing more specific is known (actix's own rejections).
    fn for_status(status: StatusCode) -> Self {
        let (heading, detail) = match status.as_u16() {
            400 => ("Bad request", "The request could not be understood."),
            403 => ("Forbidden", "You are not allowed to do that."),
            404 => (
                "Page not found",
                "There is nothing at this address. It may have moved, or never existed.",
            ),
            405 => (
                "Method not allowed",
                "This address does not accept that kind of request.",
            ),
            408 => (
                "Request timed out",
                "What you sent took too long to arrive. Please try again.",
            ),
            413 => (
                "Too large",
                "What you sent is larger than this site accepts.",
            ),
            414 | 431 => (
                "Address too long",
                "The address or its headers are too long.",
            ),
            429 => ("Too many requests", "Please wait a little and try again."),
            503 => (
                "Temporarily unavailable",
                "The site can't reach its database right now. Please try again in a moment.",
            ),
            s if s >= 500 => (
                "Something went wrong",
                "An unexpected error happened on our side. It has been logged.",
            ),
            _ => ("Request refused", "The request could not be completed."),
        };
        Self {
            heading,
            detail: detail.to_owned(),
        }
    }
}

impl Error {
    fn message(&self) -> ErrorMessage {
        match self {
            Error::BadRequest(detail) => ErrorMessage {
                heading: "Bad request",
                detail: detail.clone(),
            },
            Error::TooLarge(detail) => ErrorMessage {
                heading: "Too large",
                detail: detail.clone(),
            },
            Error::Conflict(detail) => ErrorMessage {
                heading: "Already changed",
                detail: detail.clone(),
            },
            Error::TooMany(detail) => ErrorMessage {
                heading: "Too many requests",
                detail: detail.clone(),
            },
            Error::Busy => ErrorMessage {
                heading: "Busy",
                detail: "The site is handling many logins right now. Please try again in a \
                         moment."
                    .into(),
            },
            Error::SessionsUnavailable => ErrorMessage {
                heading: "Temporarily unavailable",
                detail: "Logging in and sending forms are unavailable for a moment: the site \
                         can't reach its session store. Reading works as usual; please try \
                         again shortly."
                    .into(),
            },
            Error::CsrfRejected => ErrorMessage {
                heading: "This form has expired",
                detail: "It was sent without this session's security token, so nothing was \
                         changed. Go back, reload the page and try again."
                    .into(),
            },
            Error::CrossSite => ErrorMessage {
                heading: "Refused",
                detail: "Live updates connect only from this site's own pages.".into(),
            },
            other => ErrorMessage::for_status(other.status_code()),
        }
    }

    /// The cause, for the request's log line, at a level that matches who must act: us
    /// (5xx) or the client (4xx). Never shown to the client.
    fn cause(&self) -> Cause {
        match self {
            Error::Internal(e) => Cause {
                level: tracing::Level::ERROR,
                message: format!("{e:#}"),
            },
            Error::Unavailable => Cause {
                level: tracing::Level::WARN,
                message: "database unavailable".into(),
            },
            Error::SessionsUnavailable => Cause {
                level: tracing::Level::WARN,
                message: "redis unavailable".into(),
            },
            other => Cause {
                level: tracing::Level::INFO,
                message: other.to_string(),
            },
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden | Error::CsrfRejected | Error::CrossSite => StatusCode::FORBIDDEN,
            Error::LoginRequired(_) => StatusCode::SEE_OTHER,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::Unavailable | Error::Busy | Error::SessionsUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::LoginRequired(back) = self {
            let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/login?next={next}")))
                .finish();
        }
        let message = self.message();
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Error::Unavailable | Error::SessionsUnavailable => {
                res.insert_header((header::RETRY_AFTER, "5"))
            }
            Error::Busy => res.insert_header((header::RETRY_AFTER, "1")),
            _ => &mut res,
        };
        // Plain text is the fallback if no error_pages middleware is around to render a page.
        let mut res = res
            .content_type(ContentType::plaintext())
            .body(format!("{}\n", message.detail));
        res.extensions_mut().insert(message);
        res.extensions_mut().insert(self.cause());
        res
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: ErrorMessage,
    request_id: Option<String>,
}

/// Re-render every error response of a page route as a page in the site's layout.
pub fn error_pages<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        Ok(ErrorHandlerResponse::Response(render_error_page(res)))
    })
}

/// The JSON API shapes its own errors; operator endpoints answer plain text for probes.
fn is_api(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/graphql"
        || path.starts_with("/graphql/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// `e` as the answer to `req`, for a middleware outside `error_pages` (and outside the API's
/// own error handling): our page, or under `/api` our JSON, as a handler's error would be.
pub fn respond_outside(
    req: actix_web::HttpRequest,
    e: Error,
) -> ServiceResponse<EitherBody<actix_web::body::BoxBody>> {
    if is_api(req.path()) {
        return ServiceResponse::new(req, ApiError::from(e).error_response()).map_into_left_body();
    }
    render_error_page(ServiceResponse::new(req, e.error_response()))
}

fn render_error_page<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let path = res.request().path();
    let is_api = is_api(path);
    let Some(state) = res.request().app_data::<web::Data<AppState>>().cloned() else {
        return res.map_into_left_body();
    };
    if is_api {
        return res.map_into_left_body();
    }
    let status = res.status();
    let ours = res.response().extensions().get::<ErrorMessage>().cloned();
    // A page a handler rendered on purpose (a form shown again with its errors), or the JSON
    // a handler answers the editor's script with, stays as is.
    let on_purpose = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
    if ours.is_none() && on_purpose {
        return res.map_into_left_body();
    }
    let message = ours.unwrap_or_else(|| ErrorMessage::for_status(status));
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    let page = ErrorPage {
        layout: Layout::new(&state.site(), message.heading, &message.detail, path).noindex(),
        status: status.as_u16(),
        message,
        request_id,
    };
    let Ok(body) = page.render() else {
        return res.map_into_left_body();
    };
    with_body(res, |new| new.content_type(ContentType::html()).body(body))
}

/// `res` with a new body made by `body`, keeping its status and what it said beyond its
/// body (Allow, Retry-After, the request id) and the cause for the request's log line.
fn with_body<B>(
    res: ServiceResponse<B>,
    body: impl FnOnce(&mut actix_web::HttpResponseBuilder) -> HttpResponse,
) -> ServiceResponse<EitherBody<B>> {
    let (req, old) = res.into_parts();
    if let Some(cause) = old.extensions().get::<Cause>().cloned() {
        req.extensions_mut().insert(cause);
    }
    let mut new = HttpResponse::build(old.status());
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    ServiceResponse::new(req, body(&mut new)).map_into_right_body()
}

/// The JSON API's one error type: every `/api` failure answers RealWorld's
/// `{"errors": {"<field or resource>": ["<message>"]}}` with the right status, never HTML.
/// Causes are logged like `Error`'s, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: missing or bad credentials (`token`: "is missing", "is invalid").
    #[error("unauthorized: {key} {message}")]
    Unauthorized {
        key: &'static str,
        message: &'static str,
    },
    /// 403, keyed by the resource the role may not touch.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 403 for a reason the caller can act on, said under `key`.
    #[error("refused: {key} {message}")]
    Refused {
        key: &'static str,
        message: &'static str,
    },
    /// 404, keyed by the resource.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409: the field's value belongs to someone else already.
    #[error("taken: {0}")]
    Taken(&'static str),
    /// 409 with the article as it is now: someone saved since the version sent.
    #[error("version conflict")]
    Stale(Box<serde_json::Value>),
    /// 422: what is wrong with each field.
    #[error("invalid: {0:?}")]
    Invalid(FieldErrors),
    /// 400: a body that is not JSON (the message says where it broke).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 413.
    #[error("too large: {0}")]
    TooLarge(String),
    /// 408: the body did not arrive within `http.body_timeout_secs`.
    #[error("request body timed out")]
    RequestTimeout,
    /// 415: a body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`.
    #[error("rate limited")]
    TooMany { retry_after: u64 },
    /// 503 with `Retry-After`: the database, Redis or the password hasher is busy or away.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// Field → messages, in a stable order.
pub type FieldErrors = std::collections::BTreeMap<String, Vec<String>>;

impl ApiError {
    pub fn token_missing() -> Self {
        ApiError::Unauthorized {
            key: "token",
            message: "is missing",
        }
    }

    pub fn token_invalid() -> Self {
        ApiError::Unauthorized {
            key: "token",
            message: "is invalid",
        }
    }

    /// 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldErrors::from([(
            field.to_owned(),
            vec![message.into()],
        )]))
    }

    fn body(&self) -> serde_json::Value {
        let one = |key: &str, message: &str| serde_json::json!({ "errors": { key: [message] } });
        match self {
            ApiError::Unauthorized { key, message } => one(key, message),
            ApiError::Forbidden(resource) => one(resource, "forbidden"),
            ApiError::Refused { key, message } => one(key, message),
            ApiError::NotFound(resource) => one(resource, "not found"),
            ApiError::Taken(field) => one(field, "has already been taken"),
            ApiError::Stale(current) => serde_json::json!({
                "errors": { "article": ["was changed by someone else since your version"] },
                "article": current,
            }),
            ApiError::Invalid(fields) => serde_json::json!({ "errors": fields }),
            ApiError::BadRequest(message) | ApiError::TooLarge(message) => one("body", message),
            ApiError::RequestTimeout => one("body", "took too long to arrive"),
            ApiError::UnsupportedMediaType => one("body", "must be sent as application/json"),
            ApiError::TooMany { .. } => one("request", "too many requests, try again later"),
            ApiError::Unavailable(what) => one(what, "is unavailable, try again shortly"),
            ApiError::Internal(_) => one("server", "an unexpected error happened; it was logged"),
        }
    }

    fn cause(&self) -> Cause {
        let (level, message) = match self {
            ApiError::Internal(e) => (tracing::Level::ERROR, format!("{e:#}")),
            ApiError::Unavailable(what) => (tracing::Level::WARN, format!("{what} unavailable")),
            other => (tracing::Level::INFO, other.to_string()),
        };
        Cause { level, message }
    }
}

/// The same error as GraphQL shows it (`/graphql`): an entry of `errors` whose message says
/// what went wrong, with `extensions.code` for programs (`UNAUTHENTICATED`, `FORBIDDEN`,
/// `NOT_FOUND`, `CONFLICT`, `BAD_USER_INPUT`, `RATE_LIMITED`, `UNAVAILABLE`, `BAD_REQUEST`,
/// `INTERNAL`), `fields` for invalid input (as the API's 422 body), `current` for a version
/// conflict (the post as it is now), `retryAfter` in seconds. Causes are logged as the
/// API logs them, never sent.
impl ApiError {
    pub fn to_graphql(&self) -> async_graphql::Error {
        use async_graphql::ErrorExtensions;
        let cause = self.cause();
        match cause.level {
            tracing::Level::ERROR => tracing::error!(cause = %cause.message, "graphql"),
            tracing::Level::WARN => tracing::warn!(cause = %cause.message, "graphql"),
            _ => tracing::debug!(cause = %cause.message, "graphql"),
        }
        let code = match self {
            ApiError::Unauthorized { .. } => "UNAUTHENTICATED",
            ApiError::Forbidden(_) | ApiError::Refused { .. } => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Taken(_) | ApiError::Stale(_) => "CONFLICT",
            ApiError::Invalid(_) => "BAD_USER_INPUT",
            ApiError::TooMany { .. } => "RATE_LIMITED",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
            ApiError::BadRequest(_)
            | ApiError::TooLarge(_)
            | ApiError::RequestTimeout
            | ApiError::UnsupportedMediaType => "BAD_REQUEST",
        };
        let mut body = self.body();
        if let ApiError::Stale(_) = self {
            // The API's word for a post is RealWorld's "article".
            body["errors"] =
                serde_json::json!({"post": ["was changed by someone else since your version"]});
        }
        // "title can't be blank; body is too long": each field's messages, as one sentence.
        let message = body["errors"]
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .flat_map(|(field, messages)| {
                        let messages = messages.as_array().cloned().unwrap_or_default();
                        messages
                            .into_iter()
                            .map(move |m| format!("{field} {}", m.as_str().unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", code);
            e.set("status", self.status_code().as_u16());
            match self {
                ApiError::Invalid(_) | ApiError::Taken(_) => {
                    if let Ok(fields) = async_graphql::Value::from_json(body["errors"].clone()) {
                        e.set("fields", fields);
                    }
                }
                ApiError::Stale(current) => {
                    if let Ok(current) = async_graphql::Value::from_json((**current).clone()) {
                        e.set("current", current);
                    }
                }
                ApiError::TooMany { retry_after } => e.set("retryAfter", *retry_after),
                _ => {}
            }
        })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Error::from(e).into()
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        tracing::warn!(error = %e, "redis unavailable");
        ApiError::Unavailable("redis")
    }
}

/// The site's errors, met on a path the API shares with the pages (use-cases, extractors).
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => ApiError::NotFound("resource"),
            Error::BadRequest(message) => ApiError::BadRequest(message),
            Error::Forbidden | Error::CsrfRejected | Error::CrossSite => {
                ApiError::Forbidden("resource")
            }
            Error::TooLarge(message) => ApiError::TooLarge(message),
            // No API path meets one yet (admin-only); its message still reaches the client.
            Error::Conflict(message) => ApiError::BadRequest(message),
            Error::TooMany(_) => ApiError::TooMany { retry_after: 60 },
            Error::RequestTimeout => ApiError::RequestTimeout,
            Error::Busy => ApiError::Unavailable("server"),
            Error::SessionsUnavailable => ApiError::Unavailable("redis"),
            Error::LoginRequired(_) => ApiError::token_missing(),
            Error::Unavailable => ApiError::Unavailable("database"),
            Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::accounts::hasher::HashError> for ApiError {
    fn from(e: crate::accounts::hasher::HashError) -> Self {
        Error::from(e).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Taken(_) | ApiError::Stale(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::TooMany { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::Unauthorized { .. } => {
                res.insert_header((header::WWW_AUTHENTICATE, "Token"));
            }
            _ => {}
        }
        let mut res = res.json(self.body());
        res.extensions_mut().insert(self.cause());
        res
    }
}

/// Under `/api`, reshape any error response that is not already our JSON (actix's own
/// 404s, 405s and rejections) into the API's error shape.
pub fn api_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let message = ErrorMessage::for_status(status);
        let body = serde_json::json!({
            "errors": { "request": [message.detail.trim_end_matches('.').to_lowercase()] }
        });
        Ok(ErrorHandlerResponse::Response(with_body(res, |new| {
            new.json(body)
        })))
    })
}
