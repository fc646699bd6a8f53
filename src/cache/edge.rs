//! What an edge cache in front of Quire (Varnish, a CDN) is told about a page (issue 29,
//! item 4). Exactly the responses the page cache keeps (an anonymous GET of a kept route, a
//! 200 without `Set-Cookie` or a private `Cache-Control`) also carry:
//! - `Surrogate-Control: max-age=N, stale-if-error=M`: N is `edge.max_age_secs`, but never
//!   past the next scheduled post (which no write announces; the page cache's own copies
//!   stop there too), and for a search never past `cache.search_ttl_secs` (the search index
//!   may lag behind a purge); M is `edge.stale_if_error_secs`;
//! - the keys header (`edge.keys_header`, `Surrogate-Key` by default, space-separated, as
//!   Fastly and deploy/varnish/default.vcl read it): what the page shows, as its handler
//!   named it through [`Keys`](super::Keys), and `site`.
//!
//! Browsers still get `Cache-Control: public, max-age=0, must-revalidate`; the edge keeps
//! both headers to itself. When something changes, the triggers of migration
//! `20261231000000_record_edge_purges.sql` record the keys it makes stale, under the names
//! [`Key`](super::Key) makes, and the `edge.purge` job (`crate::edge`) sends them.
//!
//! A page whose handler named no key is not offered to the edge at all: no change could purge
//! it, so it is better made each time than kept for a day. Nor is any page while
//! `edge.purge_url` is unset: nothing would ever tell the edge a page changed.

use std::str::FromStr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::Settings;

/// Offer a kept page to the edge: `keys` (the header's value, from `key::named`) and how long it
/// may keep it. `fresh_until`: when the next scheduled post goes live (Unix seconds), if one
/// is waiting; `search`: the page is a search.
pub(super) fn offer(
    headers: &mut HeaderMap,
    settings: &Settings,
    keys: &str,
    search: bool,
    fresh_until: Option<i64>,
) {
    let edge = &settings.edge;
    if !offered(settings) {
        return;
    }
    let (Ok(name), Ok(keys)) = (
        HeaderName::from_str(&edge.keys_header),
        HeaderValue::from_str(keys),
    ) else {
        return;
    };
    if keys.is_empty() {
        return;
    }
    let mut max_age = edge.max_age_secs;
    if search {
        max_age = max_age.min(settings.cache.search_ttl_secs);
    }
    if let Some(until) = fresh_until {
        let left = until.saturating_sub(time::OffsetDateTime::now_utc().unix_timestamp());
        max_age = max_age.min(u64::try_from(left).unwrap_or(0));
    }
    let control = format!(
        "max-age={max_age}, stale-if-error={}",
        edge.stale_if_error_secs
    );
    if let Ok(control) = HeaderValue::from_str(&control) {
        headers.insert(HeaderName::from_static(SURROGATE_CONTROL), control);
        headers.insert(name, keys);
    }
}

/// Whether pages are offered to an edge at all: only when purges can reach it.
pub(super) fn offered(settings: &Settings) -> bool {
    settings.edge.purge_url.is_some()
}

const SURROGATE_CONTROL: &str = "surrogate-control";
