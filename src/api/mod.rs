//! The JSON API at `/api`: RealWorld ("Conduit") spec 2.0.0, with Quire's additions
//! (search, drafts and scheduling, revisions, versions). This module translates
//! RealWorld's words (articles, profiles) into the other modules' use-cases and queries; it
//! owns the JSON shapes and holds no SQL.

pub mod articles;
pub mod auth;
pub mod comments;
pub mod jwt;
pub mod profiles;
pub mod tags;
pub mod users;

use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use crate::{accounts::repo::PublicProfile, error::ApiError, state::AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
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
            .configure(users::routes)
            .configure(profiles::routes)
            .configure(articles::routes)
            .configure(comments::routes)
            .configure(tags::routes)
            .default_service(web::to(|| async {
                Err::<(), _>(ApiError::NotFound("path"))
            })),
    );
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
#[derive(Debug, Serialize)]
pub struct Profile {
    pub username: String,
    pub bio: Option<String>,
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
/// 413), well-formed (else 400) and of the expected shape (else 422 keyed by the field that
/// is wrong, e.g. `{"errors": {"title": ["invalid type: integer `5`, expected a string"]}}`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
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
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let body = body.await.map_err(|e| {
                ApiError::TooLarge(format!("must be at most {} KiB ({e})", limit / 1024))
            })?;
            if body.len() > limit {
                return Err(ApiError::TooLarge(format!(
                    "must be at most {} KiB",
                    limit / 1024
                )));
            }
            let mut de = serde_json::Deserializer::from_slice(&body);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e))?;
            // Trailing bytes after the value: not one JSON document.
            de.end()
                .map_err(|e| ApiError::BadRequest(format!("is not valid JSON: {e}")))?;
            Ok(ApiJson(value))
        })
    }
}

/// A body serde could not read: 400 when it is not JSON at all, else 422 for the field.
fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::BadRequest(format!("is not valid JSON: {inner}"));
    }
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
