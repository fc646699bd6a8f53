//! The hot-page cache: public pages for visitors without a session, kept rendered in Redis
//! and shared by every instance.
//!
//! - Only GET and HEAD of the reader pages (home, posts, pages, tags, authors, search,
//!   feed, sitemap) with no other query parameters than theirs, and the JSON API's anonymous
//!   reads of public things (`api::cached`, through `through`). A request with a session cookie
//!   bypasses the cache entirely (`X-Cache: BYPASS`).
//! - Only a 200 without `Set-Cookie` or a private `Cache-Control` (pages for one person
//!   say `private, no-store`) is kept, so nothing about a person is ever stored.
//! - Keys hold a generation that every successful write (any other method) bumps: the next
//!   request, on any instance, makes the page afresh. They hold the site settings' version
//!   too, which changes however the settings do (`settings::live`). A page is kept at most
//!   `cache.ttl_secs`, and never past the next scheduled post's time.
//! - The key is the path and the known parameters, never a header a client controls.
//! - Every cacheable response has a strong `ETag` and
//!   `Cache-Control: public, max-age=0, must-revalidate`; a matching `If-None-Match` is a 304.
//! - Without Redis (or slower than `cache.timeout_ms`) pages are made as if uncached.
//! - Each instance also keeps the hottest pages in memory (`local`), used only while it
//!   is sure to hear every bump.
//! - The same pages are offered to an edge cache in front of Quire, with the keys of what
//!   they show (`edge`), whether or not this cache is enabled.

mod edge;
mod keep;
pub mod key;
mod local;
pub use keep::{Keep, Lookup, Rules};
pub use key::{Key, Keys};
pub use local::Local;

use std::{sync::Arc, time::Duration};

use actix_web::{
    Error as ActixError, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderValue},
    },
    middleware::Next,
    web::{self, Bytes},
};
use sha2::{Digest, Sha256};

use crate::{
    config::{RedisSettings, Settings},
    kv::Kv,
    state::AppState,
};

/// The session cookie's name (app.rs): its presence means "someone, not anyone".
pub const SESSION_COOKIE: &str = "quire_session";

const X_CACHE: &str = "x-cache";

/// Look up the generation, the page and how long it is kept still (ms), in one round trip.
const LOOKUP: &str = r"
local generation = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. generation .. ARGV[2]
return {generation, redis.call('GET', key), redis.call('PTTL', key)}
";

/// Bump the generation and tell every instance: one round trip.
const BUMP: &str = r"
local generation = redis.call('INCR', KEYS[1])
return {generation, redis.call('PUBLISH', ARGV[1], generation)}
";

/// The routes the cache may keep, the site's and the API's (`router` declares them).
pub struct Routes {
    pub site: Rules,
    pub api: Rules,
}

fn has_session_cookie(req: &ServiceRequest) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim_start().starts_with(SESSION_COOKIE) && c.contains('='))
}

/// A kept page: its ETag, content type, what the edge is told about it (the keys of what it
/// shows, empty for none; when the next scheduled post was due as it was made), and body.
pub struct Kept {
    etag: String,
    content_type: String,
    keys: String,
    fresh_until: Option<i64>,
    body: Bytes,
}

/// How a kept page is written in Redis (`Kept::encode`): part of every key, so a build that
/// writes another shape never reads this one.
const FORMAT: &str = "k2";

impl Kept {
    fn size(&self) -> usize {
        self.body.len() + self.etag.len() + self.content_type.len() + self.keys.len()
    }

    /// Four lines (ETag, content type, keys, the next scheduled post's time or nothing),
    /// then the body.
    fn encode(&self) -> Vec<u8> {
        let fresh_until = self.fresh_until.map(|t| t.to_string()).unwrap_or_default();
        let mut out = Vec::with_capacity(self.body.len() + 256);
        for line in [&self.etag, &self.content_type, &self.keys, &fresh_until] {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(raw: Vec<u8>) -> Option<Self> {
        let raw = Bytes::from(raw);
        let mut lines = Vec::with_capacity(4);
        let mut at = 0;
        for _ in 0..4 {
            let end = at + raw[at..].iter().position(|b| *b == b'\n')?;
            lines.push(std::str::from_utf8(&raw[at..end]).ok()?.to_owned());
            at = end + 1;
        }
        let fresh_until = match lines[3].as_str() {
            "" => None,
            t => Some(t.parse().ok()?),
        };
        Some(Self {
            etag: std::mem::take(&mut lines[0]),
            content_type: std::mem::take(&mut lines[1]),
            keys: std::mem::take(&mut lines[2]),
            fresh_until,
            body: raw.slice(at..),
        })
    }

    /// The response for it: 304 when the client holds this version already. Offered to the
    /// edge as it was when made (`search`: the page is a search).
    fn respond(
        &self,
        settings: &Settings,
        search: bool,
        if_none_match: Option<&HeaderValue>,
        x_cache: &'static str,
    ) -> HttpResponse {
        let fresh = holds(if_none_match, &self.etag);
        let mut res = if fresh {
            HttpResponse::NotModified().finish()
        } else {
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, self.content_type.as_str()))
                .body(self.body.clone())
        };
        let headers = res.headers_mut();
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, etag);
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0, must-revalidate"),
        );
        headers.insert(
            header::HeaderName::from_static(X_CACHE),
            HeaderValue::from_static(x_cache),
        );
        edge::offer(headers, settings, &self.keys, search, self.fresh_until);
        res
    }
}

/// Whether an `If-None-Match` names `etag` (or `*`): the client holds this version.
pub fn holds(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// A strong ETag for `body`: the first 128 bits of its SHA-256.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Which layer a hit came from (`X-Cache-Layer: memory` or `redis`), for operators.
fn with_layer(mut res: HttpResponse, layer: &'static str) -> HttpResponse {
    res.headers_mut().insert(
        header::HeaderName::from_static("x-cache-layer"),
        HeaderValue::from_static(layer),
    );
    res
}

fn mark(mut res: ServiceResponse<BoxBody>, x_cache: &'static str) -> ServiceResponse<BoxBody> {
    res.headers_mut().insert(
        header::HeaderName::from_static(X_CACHE),
        HeaderValue::from_static(x_cache),
    );
    res
}

/// Put in a POST's request extensions by a handler that changed nothing (a GraphQL query
/// sent by POST): no bump after it, so reads by POST don't make every kept page stale.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly;

/// Middleware: serve kept pages, keep new ones, and make every page stale after a write.
pub async fn hot_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let settings = &state.settings.cache;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        // A write: on success, every kept page is stale.
        let res = next.call(req).await?.map_into_boxed_body();
        let wrote = !actix_web::HttpMessage::extensions(res.request()).contains::<ReadOnly>();
        if wrote && settings.enabled && (res.status().is_success() || res.status().is_redirection())
        {
            bump(&state).await;
        }
        return Ok(res);
    }
    let lookup = req
        .app_data::<web::Data<Routes>>()
        .and_then(|routes| routes.site.lookup(req.path(), req.query_string()));
    match lookup {
        // Not a page the cache keeps (admin, forms, assets, the API's own scope…).
        None => Ok(next.call(req).await?.map_into_boxed_body()),
        Some(_) if has_session_cookie(&req) && !settings.enabled => {
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Some(_) if has_session_cookie(&req) => {
            Ok(mark(next.call(req).await?.map_into_boxed_body(), "BYPASS"))
        }
        Some(Lookup { key: None, .. }) if !settings.enabled => {
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Some(Lookup { key: None, .. }) => {
            Ok(mark(next.call(req).await?.map_into_boxed_body(), "MISS"))
        }
        Some(Lookup {
            key: Some(_),
            search,
        }) if !settings.enabled => edge_only(&state, req, next, search).await,
        Some(Lookup {
            key: Some(key),
            search,
        }) => through(&state, req, next, &key, search).await,
    }
}

/// Whether `res` is what the cache keeps (and the edge is offered): a 200 to a GET, without
/// `Set-Cookie` or a `Cache-Control` for one person.
fn keepable(is_get: bool, res: &ServiceResponse<BoxBody>) -> bool {
    is_get
        && res.status() == StatusCode::OK
        && !res.headers().contains_key(header::SET_COOKIE)
        && !res
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("private") || v.contains("no-store"))
}

/// A cacheable request while this cache is off (`cache.enabled = false`): made each time,
/// and still offered to the edge as `through` would.
pub async fn edge_only<B: MessageBody + 'static>(
    state: &AppState,
    req: ServiceRequest,
    next: Next<B>,
    search: bool,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    let is_get = req.method() == Method::GET;
    let mut res = next.call(req).await?.map_into_boxed_body();
    // Not a query more than the page's own when no edge is told (the usual single host).
    if edge::offered(&state.settings)
        && keepable(is_get, &res)
        && let Some(keys) = key::named(res.request())
    {
        let fresh_until = next_scheduled(state).await;
        edge::offer(
            res.headers_mut(),
            &state.settings,
            &keys,
            search,
            fresh_until,
        );
    }
    Ok(res)
}

/// A cacheable request under `key`: the kept copy (memory, then Redis) if there is one, else
/// made, and kept (never past the next scheduled post) if it is a public 200: for
/// `cache.ttl_secs`, or `cache.search_ttl_secs` for a search. The JSON API's anonymous reads
/// come through here too (`api::cached`).
pub async fn through<B: MessageBody + 'static>(
    state: &AppState,
    req: ServiceRequest,
    next: Next<B>,
    key: &str,
    search: bool,
) -> Result<ServiceResponse<BoxBody>, ActixError> {
    let ttl = match search {
        true => state.settings.cache.search_ttl_secs,
        false => state.settings.cache.ttl_secs,
    };
    // Every page shows the site settings: a page made under an older version is never read.
    let key = &format!("{key}#s{}", state.site_version());
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    // This instance's own copies, when the wiring keeps some.
    let local = req.app_data::<web::Data<Local>>().cloned();
    if let Some(kept) = local.as_ref().and_then(|l| l.get(key)) {
        let res = kept.respond(&state.settings, search, if_none_match.as_ref(), "HIT");
        let res = with_layer(res, "memory");
        return Ok(req.into_response(res));
    }
    let settings = &state.settings.cache;
    let pages = Pages::of(state);
    let timeout = Duration::from_millis(settings.timeout_ms);
    let script = redis::Script::new(LOOKUP);
    let mut invocation = script.key(&pages.generation_key);
    invocation.arg(&pages.prefix).arg(format!(":{key}"));
    let found: Option<(String, Option<Vec<u8>>, i64)> =
        state.redis.script_within(timeout, &invocation).await.ok();
    let is_get = req.method() == Method::GET;
    // The generation the page was looked up under, when the lookup found none.
    let generation = match found {
        Some((generation, Some(raw), kept_ms)) => {
            if let Some(kept) = Kept::decode(raw) {
                let res = kept.respond(&state.settings, search, if_none_match.as_ref(), "HIT");
                let res = with_layer(res, "redis");
                // No longer than Redis keeps it: not past the next scheduled post.
                let left = Duration::from_millis(kept_ms.max(0).unsigned_abs());
                if let (Ok(generation), Some(local)) = (generation.parse(), &local) {
                    local.put(key, generation, left, Arc::new(kept));
                }
                return Ok(req.into_response(res));
            }
            None
        }
        Some((generation, None, _)) => Some(generation),
        None => None,
    };
    let res = next.call(req).await?.map_into_boxed_body();
    if !keepable(is_get, &res) {
        return Ok(mark(res, "MISS"));
    }
    let keys = key::named(res.request()).unwrap_or_default();
    let fresh_until = next_scheduled(state).await;
    let (http_req, response) = res.into_parts();
    let made_with = response.headers().clone();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/html; charset=utf-8")
        .to_owned();
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("reading a page"))?;
    let kept = Kept {
        etag: etag(&body),
        content_type,
        keys,
        fresh_until,
        body,
    };
    // Stored only under the generation it was looked up with: a write since then bumped
    // it, and this copy is never read.
    if let Some(generation) = generation {
        let until_next = fresh_until.map(|t| {
            let left = t.saturating_sub(time::OffsetDateTime::now_utc().unix_timestamp());
            u64::try_from(left).unwrap_or(0)
        });
        let ttl = until_next.map_or(ttl, |s| s.min(ttl));
        if ttl > 0 {
            let set = redis::cmd("SET")
                .arg(format!("{}{generation}:{key}", pages.prefix))
                .arg(kept.encode())
                .arg("EX")
                .arg(ttl)
                .clone();
            let _ = state.redis.cmd::<()>(&set).await;
        }
    }
    let mut res = kept.respond(&state.settings, search, if_none_match.as_ref(), "MISS");
    // The page's own other headers (X-Search-Backend) go with it this once; what is kept
    // is the body, its type and its ETag.
    for (name, value) in made_with.iter() {
        if !res.headers().contains_key(name) {
            res.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(http_req, res))
}

/// When the next scheduled post appears (Unix seconds): pages kept past it would miss it.
async fn next_scheduled(state: &AppState) -> Option<i64> {
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT ceil(EXTRACT(EPOCH FROM min(published_at)))::float8
           FROM posts
          WHERE status <> 'draft' AND deleted_at IS NULL AND published_at > now()",
    )
    .fetch_one(&state.db)
    .await
    .ok()
    .flatten();
    secs.map(|s| s as i64)
}

/// After a write request: its position was noted already (`db::replica::after_writes`, which
/// runs inside this middleware), so this is the bump alone.
async fn bump(state: &AppState) {
    Pages::of(state).stale().await;
}

/// What changes the site outside a request (background jobs, the command line) uses to make
/// kept pages stale.
#[derive(Clone)]
pub struct Pages {
    redis: Kv,
    /// Told of each write before the bump (`noting`), so no instance refills a page from a
    /// read replica that has not replayed it (`db::replica`).
    writes: Option<crate::db::replica::Writes>,
    /// Every key of the cache starts with this: `{prefix}{generation}:{path}?{query}`. It
    /// holds the format of a kept page (`FORMAT`) and the build's asset fingerprint: pages of
    /// another build may be written otherwise, or link other assets. The
    /// generation is shared by every build, so a write stales them all.
    prefix: String,
    generation_key: String,
    /// Where each new generation is published (see `local`).
    pub channel: String,
}

impl Pages {
    /// The handle that makes kept pages stale.
    pub fn of(state: &AppState) -> Self {
        Self::new(&state.redis, &state.settings.redis)
    }

    pub fn new(redis: &Kv, settings: &RedisSettings) -> Self {
        let shared = format!("{}page:", settings.key_prefix);
        Self {
            redis: redis.clone(),
            writes: None,
            generation_key: format!("{shared}gen"),
            channel: format!("{shared}gen:changes"),
            prefix: format!("{shared}{FORMAT}.{}:", crate::assets::fingerprint()),
        }
    }

    /// The same handle, noting each write with `writes` before its bump: what a job or a
    /// command that writes outside a request uses (a request's writes are noted by
    /// `db::replica::after_writes`, before the bump `hot_pages` makes).
    pub fn noting(self, writes: crate::db::replica::Writes) -> Self {
        Self {
            writes: Some(writes),
            ..self
        }
    }

    /// What notes writes (`noting`), for other jobs that have pages made afresh.
    pub fn writes(&self) -> Option<&crate::db::replica::Writes> {
        self.writes.as_ref()
    }

    /// Every kept page is stale from now on, on every instance. Without Redis, the bump
    /// waits for it: no page is read from Redis until it is done (see `Kv::defer`).
    /// Returns once every instance listening has heard of it (or `local::ACK_WAIT` passed).
    pub async fn stale(&self) {
        if let Some(writes) = &self.writes {
            writes.note().await;
        }
        let script = redis::Script::new(BUMP);
        let mut bump = script.key(&self.generation_key);
        bump.arg(&self.channel);
        let (generation, listeners): (u64, u64) = match self.redis.script(&bump).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::debug!(error = %e, "cached pages made stale once Redis returns");
                // The same bump, published too, so every instance's copies go stale.
                let bump = redis::cmd("EVAL")
                    .arg(BUMP)
                    .arg(1)
                    .arg(&self.generation_key)
                    .arg(&self.channel)
                    .clone();
                self.redis.defer(bump);
                return;
            }
        };
        if listeners == 0 {
            return;
        }
        let acks = local::ack_key(&self.generation_key, generation);
        if !self
            .redis
            .acknowledged(&acks, listeners, local::ACK_WAIT)
            .await
        {
            tracing::warn!(
                generation,
                listeners,
                "not every instance acknowledged a cache bump"
            );
        }
    }

    /// The generation key, for `Local::listen`.
    pub fn generation_key(&self) -> &str {
        &self.generation_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_page_reads_back_as_written() {
        for (keys, fresh_until) in [("post-1 site", Some(1_800_000_000)), ("", None)] {
            let kept = Kept {
                etag: "\"e\"".into(),
                content_type: "text/html; charset=utf-8".into(),
                keys: keys.into(),
                fresh_until,
                body: Bytes::from_static(b"<p>one\ntwo</p>\n"),
            };
            let back = Kept::decode(kept.encode()).expect("decodes");
            assert_eq!(
                (back.etag, back.content_type, back.keys, back.fresh_until),
                (kept.etag, kept.content_type, kept.keys, kept.fresh_until)
            );
            assert_eq!(back.body, kept.body);
        }
        assert!(Kept::decode(b"\"e\"\ntext/html\n<p>".to_vec()).is_none());
    }
}
