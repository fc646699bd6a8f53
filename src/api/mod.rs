//! The JSON API at `/api`: RealWorld ("Conduit") spec 2.0.0, with Quire's additions
//! (search, drafts and scheduling, revisions, versions). This module translates
//! RealWorld's words (articles, profiles) into the other modules' use-cases and queries; it
//! owns the JSON shapes and holds no SQL.

pub mod articles;
pub mod auth;
pub mod comments;
pub mod jwt;
pub mod openapi;
pub mod profiles;
pub mod tags;
pub mod uploads;
pub mod users;

use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use crate::{
    accounts::repo::PublicProfile,
    error::ApiError,
    extract::{BodyError, announced_length, read_body},
    render::text::strip_xml_forbidden,
    state::AppState,
};

/// The `/api` scope around the routes `routes` registers (the route table's API part):
/// caching, ETags, rate limits, CORS and the API's own error shapes. `origins` are the
/// browser origins allowed to call it (`api.cors_origins`).
pub fn scope<R: FnOnce(&mut web::ServiceConfig)>(
    path: &str,
    origins: &[String],
    routes: R,
) -> impl actix_web::dev::HttpServiceFactory + use<R> {
    web::scope(path)
        .wrap(actix_web::middleware::from_fn(cached))
        .wrap(actix_web::middleware::from_fn(etags))
        .wrap(actix_web::middleware::from_fn(rate_limit))
        .wrap(cors(origins))
        // Outermost: CORS's refusals come out in the API's shape too.
        .wrap(crate::error::api_errors())
        // Actix's own rejections, in the API's shape (the site's configs render pages).
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            let message = match e {
                actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
                other => other.to_string(),
            };
            ApiError::invalid("query", message).into()
        }))
        .app_data(
            web::PathConfig::default().error_handler(|_, _| ApiError::NotFound("path").into()),
        )
        .configure(routes)
        .default_service(web::to(|| async {
            Err::<(), _>(ApiError::NotFound("path"))
        }))
}

/// `GET /api/docs`: the documentation lives at `/api/docs/`.
pub async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/api/docs/"))
        .finish()
}

/// `GET /api/openapi.json`: the document the route table made (`openapi::Document`).
pub async fn openapi_json(doc: web::Data<openapi::Document>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.clone())
}

/// Swagger UI at `/api/docs/`, from the crate's vendored copy, reading `/api/openapi.json`.
pub fn docs() -> utoipa_swagger_ui::SwaggerUi {
    // The document itself is served by `openapi_json` (rate limits, ETags, CORS); the UI
    // only points at it. The validator would call out to swagger.io: off.
    utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").config(
        utoipa_swagger_ui::Config::from("/api/openapi.json")
            .validator_url("none")
            .try_it_out_enabled(true),
    )
}

/// CORS for the configured origins: tokens travel in `Authorization`, so credentials
/// (cookies) are never allowed, and `*` is sent as a wildcard. A preflight is answered by
/// the middleware itself, before any token is asked for.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(3600);
    for origin in origins {
        cors = match origin.as_str() {
            "*" => cors.allow_any_origin().send_wildcard(),
            origin => cors.allowed_origin(origin),
        };
    }
    cors
}

/// Anonymous reads of public things (article lists, articles, their comments, tags,
/// profiles) through the hot-page cache, under the same never-stale rule as the pages:
/// every write bumps the generation (`cache::hot_pages`), a copy is never kept past the next
/// scheduled post, and a call with a token is never cached. Inside CORS and the rate limit,
/// so a cached answer is counted and carries the same headers.
async fn cached(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::{Method, header::HeaderValue};
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let routes = req.app_data::<web::Data<crate::cache::Routes>>();
    let key = match (&state, routes) {
        (Some(_), Some(routes))
            if matches!(*req.method(), Method::GET | Method::HEAD)
                && !req.headers().contains_key(header::AUTHORIZATION) =>
        {
            routes
                .api
                .lookup(req.path(), req.query_string())
                .and_then(|l| Some((l.key?, l.search)))
        }
        _ => None,
    };
    let (Some(state), Some((key, search))) = (state, key) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let mut res = match state.settings.cache.enabled {
        true => crate::cache::through(&state, req, next, &key, search).await?,
        // Made each time, still offered to an edge cache.
        false => crate::cache::edge_only(&state, req, next, search).await?,
    };
    res.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(res)
}

/// Every successful GET answer carries a strong `ETag`; a matching `If-None-Match` is a
/// 304 without a body. An answer to a call with a token is about that person:
/// `Cache-Control: private, no-cache`; others `public, max-age=0, must-revalidate`, so
/// shared caches revalidate. Both vary by `Authorization`.
async fn etags(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::{Method, StatusCode, header::HeaderValue};
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let personal = req.headers().contains_key(header::AUTHORIZATION);
    let res = next.call(req).await?;
    // The cache (`cached`) answers with its own ETag and 304s.
    if !read || res.status() != StatusCode::OK || res.headers().contains_key(header::ETAG) {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    let tag = crate::cache::etag(&body);
    let fresh = crate::cache::holds(if_none_match.as_ref(), &tag);
    let headers = head.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(match personal {
            true => "private, no-cache",
            false => "public, max-age=0, must-revalidate",
        }),
    );
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
    let res = match fresh {
        true => {
            *head.status_mut() = StatusCode::NOT_MODIFIED;
            head.headers_mut().remove(header::CONTENT_LENGTH);
            head.set_body(actix_web::body::BoxBody::new(()))
        }
        false => head.set_body(actix_web::body::BoxBody::new(body)),
    };
    Ok(actix_web::dev::ServiceResponse::new(req, res))
}

/// Every API call counts against a per-minute allowance shared by all instances (Redis):
/// per account for a call with a valid token (`api.account_requests_per_minute`), else per
/// client address (`api.requests_per_minute`). Login and registration have their own,
/// stricter limits on top. Each answer says where the caller stands in the IETF draft's
/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; over it, 429 with
/// `Retry-After`. Counted on this instance and flushed to Redis ten times a second
/// (`ratelimit::Batched`). Without Redis a new caller is not limited (reading goes on;
/// logins can't).
async fn rate_limit(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let (Some(state), Some(tokens), Some(calls)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<jwt::Tokens>>().cloned(),
        req.app_data::<web::Data<crate::ratelimit::Batched>>()
            .cloned(),
    ) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let api = &state.settings.api;
    // The signature alone picks the allowance (no database read); the handler checks the
    // account itself.
    let account = auth::token(req.request())
        .ok()
        .flatten()
        .and_then(|t| tokens.verify(&t))
        .map(|v| v.user);
    let (name, limit, id) = match account {
        Some(id) => (
            "api:account",
            api.account_requests_per_minute,
            id.0.to_string(),
        ),
        None => {
            let ip = crate::extract::client_ip(req.request());
            let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            ("api:address", api.requests_per_minute, ip)
        }
    };
    let limiter = state.limiter(name, limit, std::time::Duration::from_secs(60));
    let hit = limiter.hit_batched(&calls, &id).await.ok();
    let mut res = match hit {
        Some(hit) if hit.over() => {
            let err = ApiError::TooMany {
                retry_after: hit.reset_secs,
            };
            req.into_response(actix_web::ResponseError::error_response(&err))
        }
        _ => next.call(req).await?.map_into_boxed_body(),
    };
    if let Some(hit) = hit {
        let headers = res.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", hit.limit),
            ("ratelimit-remaining", hit.remaining()),
            ("ratelimit-reset", hit.reset_secs),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    Ok(res)
}

/// RealWorld's timestamps: UTC, milliseconds, `Z` (`2026-01-01T00:00:00.000Z`).
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A person as the API shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub username: String,
    #[schema(required = true)]
    pub bio: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
    pub following: bool,
}

impl From<PublicProfile> for Profile {
    fn from(p: PublicProfile) -> Self {
        Profile {
            username: p.username,
            bio: (!p.bio.is_empty()).then_some(p.bio),
            image: p.avatar_url,
            following: p.following,
        }
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A JSON request body: `application/json` (else 415), at most `api.max_body_bytes` (else
/// 413), well-formed (else 400), without NUL characters (else 422) and of the expected shape
/// (else 422 keyed by the field that is wrong, e.g.
/// `{"errors": {"title": ["invalid type: integer `5`, expected a string"]}}`).
pub struct ApiJson<T>(pub T);

/// A JSON body read by the API's rules (content type, size, well-formed, strings), not yet
/// given a shape: what `ApiJson` and `/graphql` both read.
pub(crate) fn json_value(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<serde_json::Value, ApiError>> + 'static {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json")
                || (v.len() > 5 && v[v.len() - 5..].eq_ignore_ascii_case("+json"))
        });
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(2 << 20, |s| s.settings.api.max_body_bytes);
    let announced = announced_length(req);
    let payload = payload.take();
    async move {
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let too_large = || ApiError::TooLarge(format!("must be at most {} KiB", limit / 1024));
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        // Read up to the limit and no further: a huge body is never held in memory.
        let body = match read_body(payload, limit).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return Err(too_large()),
            Err(BodyError::TimedOut) => return Err(ApiError::RequestTimeout),
            Err(BodyError::Broken(e)) => {
                return Err(ApiError::BadRequest(format!("could not be read: {e}")));
            }
        };
        let mut value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("is not valid JSON: {e}")))?;
        clean_strings(&mut value, "body")?;
        Ok(value)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = json_value(req, payload);
        Box::pin(async move {
            let value = value.await?;
            // Every body the API takes is an object; serde would read a struct from an array.
            if !value.is_object() {
                return Err(ApiError::invalid("body", "must be a JSON object"));
            }
            serde_path_to_error::deserialize(value)
                .map(ApiJson)
                .map_err(|e| json_error(&e))
        })
    }
}

/// For the `{"user": …}`-style wrapper fields: an object, or `null`/absent (`None`). Serde's
/// derived structs also accept an array of their fields in order, which no client means.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::de::{MapAccess, Visitor, value::MapAccessDeserializer};
    struct ObjectOrNull<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for ObjectOrNull<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(ObjectOrNull(std::marker::PhantomData))
}

/// Every string in `value` as the site's forms keep them: a NUL refused (422 for the field
/// that holds it: PostgreSQL can't store one), other characters XML forbids dropped.
fn clean_strings(value: &mut serde_json::Value, field: &str) -> Result<(), ApiError> {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if s.contains('\0') {
                return Err(ApiError::invalid(field, "contains a NUL character"));
            }
            if let std::borrow::Cow::Owned(clean) = strip_xml_forbidden(s) {
                *s = clean;
            }
        }
        Value::Array(items) => {
            for item in items {
                clean_strings(item, field)?;
            }
        }
        Value::Object(fields) => {
            if fields.keys().any(|k| k.contains('\0')) {
                return Err(ApiError::invalid(
                    field,
                    "has a field name with a NUL character",
                ));
            }
            for (key, item) in fields.iter_mut() {
                clean_strings(item, key)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A JSON body of the wrong shape: 422 for the field that is wrong.
fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    // The last named segment: `article.tagList[2]` is about `tagList`.
    let field = e
        .path()
        .iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| "body".into());
    // serde's message without its "at line 1 column 20" tail.
    let message = inner.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    ApiError::invalid(&field, message)
}

/// `limit` (default 20, 1–100) and `offset` (0 or more) of a list.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Paging {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Paging {
    pub const DEFAULT_LIMIT: i64 = 20;
    pub const MAX_LIMIT: i64 = 100;

    pub fn parse(self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if !(0..=1_000_000_000).contains(&offset) {
            return Err(ApiError::invalid("offset", "must be 0 or more"));
        }
        Ok((limit, offset))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.067 +02:00);
        assert_eq!(super::iso(t), "2026-01-02T01:04:05.067Z");
    }
}
