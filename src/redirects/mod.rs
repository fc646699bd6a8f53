//! Redirects (issue 26): old addresses that keep working, answered where the site would
//! otherwise say 404. Made by hand (`admin`), by importers (`repo::upsert_many`) and by the
//! database whenever a post's or page's address changes (the `posts_address_changed`
//! trigger). Every door goes through `model::NewRedirect` for the fields' form and through
//! `repo` for loops and chains.

pub mod admin;
pub mod model;
pub mod repo;

use actix_web::{
    Error as ActixError, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderValue},
    },
    middleware::Next,
    web,
};
use sqlx::PgConnection;

use crate::{input::Problems, state::AppState};
use model::{Field, NewRedirect, RedirectId};

/// Write `new` (as redirect `id` when editing one): its `to` followed through the stored
/// redirects to where it ends, refused when that comes back to its `from` (a loop) or when
/// another redirect has that `from` already.
pub async fn save(
    conn: &mut PgConnection,
    id: Option<RedirectId>,
    mut new: NewRedirect,
) -> sqlx::Result<Result<RedirectId, Problems<Field>>> {
    let mut problems = Problems::default();
    match repo::resolve(&mut *conn, &new.from, &new.to, id).await? {
        None => problems.add(
            Field::To,
            format!(
                "{} leads back to {}: that would be a loop",
                new.to, new.from
            ),
        ),
        Some(end) => new.to = end,
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    if new.to == new.from {
        problems.add(Field::To, "a redirect can't lead to its own address");
        return Ok(Err(problems));
    }
    match repo::write(conn, id, &new).await? {
        Some(id) => Ok(Ok(id)),
        None => {
            problems.add(
                Field::From,
                format!("there is a redirect from {} already", new.from),
            );
            Ok(Err(problems))
        }
    }
}

/// Middleware: a GET or HEAD the site answers 404 gets the stored redirect for its address
/// instead, if there is one (one indexed lookup, which counts the hit, and only on that
/// path). The home page answers `/?p=N` and `/?page_id=N` (WordPress's addresses) with 200,
/// so those two look first. The JSON API's own 404s stay JSON. Sits inside the page cache,
/// which keeps only 200s: no kept page hides a redirect, and no redirect is kept.
pub async fn serve(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    let reads = req.method() == Method::GET || req.method() == Method::HEAD;
    let path = req.path();
    if !reads || path == "/api" || path.starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if path == "/"
        && model::names_old_post(req.query_string())
        && let Some(state) = &state
        && let Some(found) = answer(state, req.path(), req.query_string()).await
    {
        return Ok(req.into_response(found));
    }
    let (path, query) = (req.path().to_owned(), req.query_string().to_owned());
    let res = next.call(req).await?.map_into_boxed_body();
    if res.status() != StatusCode::NOT_FOUND {
        return Ok(res);
    }
    let Some(state) = state else {
        return Ok(res);
    };
    match answer(&state, &path, &query).await {
        Some(mut found) => {
            // What the 404's making said about the session (a renewed cookie) still holds.
            for cookie in res.headers().get_all(header::SET_COOKIE) {
                found
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            Ok(res.into_response(found))
        }
        None => Ok(res),
    }
}

/// The redirect stored for `path?query`, as a response; `None` if there is none (or the
/// database can't say: the 404 stands).
async fn answer(state: &AppState, path: &str, query: &str) -> Option<HttpResponse> {
    let keys = model::request_keys(path, query)?;
    let (to, permanent) = repo::hit(&state.db, &keys)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "redirect lookup failed"))
        .ok()??;
    let location = HeaderValue::from_str(&model::location(&to)?).ok()?;
    let (mut res, cache) = match permanent {
        true => (HttpResponse::MovedPermanently(), "public, max-age=86400"),
        false => (HttpResponse::Found(), "no-cache"),
    };
    Some(
        res.insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish(),
    )
}
