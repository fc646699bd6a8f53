//! Rendering askama templates into responses, and the `Layout` every page's `<head>` reads.

use std::sync::Arc;

use actix_web::{HttpResponse, http::header::ContentType};
use askama::Template;
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    error::Error,
    extract::Viewer,
};

/// Site-wide facts every page shows, built once from the settings.
#[derive(Debug)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// `http.base_url` without the trailing slash.
    pub base: String,
    pub per_page: u32,
    pub css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
}

/// What one page puts in `<head>`: title, description, canonical URL, OpenGraph.
pub struct Layout {
    pub site: Arc<Site>,
    pub title: String,
    pub description: String,
    /// Absolute URL of this page.
    pub canonical: String,
    /// OpenGraph type: "website" or "article".
    pub og_type: &'static str,
    pub og_image: Option<String>,
    pub rel_prev: Option<String>,
    pub rel_next: Option<String>,
    /// Error pages and paginated tails are not worth indexing.
    pub noindex: bool,
    /// Who is logged in, for the header; with the token its log-out form needs.
    pub viewer: Option<CurrentUser>,
    pub csrf_token: String,
}

impl Layout {
    /// A page at `path` (starting with `/`). `title` is the page's own; the site name is added.
    pub fn new(site: &Arc<Site>, title: &str, description: &str, path: &str) -> Self {
        let full_title = if title.is_empty() || title == site.title {
            site.title.clone()
        } else {
            format!("{title} · {}", site.title)
        };
        let description = if description.trim().is_empty() {
            site.description.clone()
        } else {
            description.to_owned()
        };
        Self {
            canonical: format!("{}{path}", site.base),
            site: Arc::clone(site),
            title: full_title,
            description,
            og_type: "website",
            og_image: None,
            rel_prev: None,
            rel_next: None,
            noindex: false,
            viewer: None,
            csrf_token: String::new(),
        }
    }

    /// Show who is logged in (and a log-out button) in the header.
    pub fn viewer(mut self, viewer: Viewer, session: &AuthSession) -> Self {
        if viewer.0.is_some() {
            self.csrf_token = session.csrf_token();
        }
        self.viewer = viewer.0;
        self
    }

    pub fn article(mut self, image: Option<&str>) -> Self {
        self.og_type = "article";
        self.og_image = image.map(|i| self.absolute(i));
        self
    }

    /// Previous/next links for a paginated list at `path`.
    pub fn paginated(mut self, path: &str, prev: Option<u32>, next: Option<u32>) -> Self {
        let url = |n: u32| format!("{}{}", self.site.base, page_href(path, n));
        self.rel_prev = prev.map(url);
        self.rel_next = next.map(url);
        self
    }

    pub fn noindex(mut self) -> Self {
        self.noindex = true;
        self
    }

    /// `/x` becomes `{base}/x`; absolute URLs pass through.
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.site.base)
        } else {
            url.to_owned()
        }
    }
}

/// A page for one viewer (forms, the admin): any status, and never stored by a cache.
pub fn personal<T: Template>(
    status: actix_web::http::StatusCode,
    template: T,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(template.render()?))
}

/// 303 See Other: where a successful form submission goes next.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// Render a page template as a 200 HTML response.
pub fn page<T: Template>(template: T) -> Result<HttpResponse, Error> {
    let body = template.render().map_err(|e| Error::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(body))
}

const HUMAN_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[month repr:short] [day padding:none], [year]");

/// "Nov 25, 2026": dates as readers see them (UTC).
pub fn human_date(t: &OffsetDateTime) -> String {
    t.format(HUMAN_DATE).unwrap_or_default()
}

const HUMAN_DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[month repr:short] [day padding:none], [year] [hour]:[minute] UTC");

/// "Nov 25, 2026 14:05 UTC": for the admin, where the hour matters.
pub fn human_date_time(t: &OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(HUMAN_DATE_TIME)
        .unwrap_or_default()
}

/// RFC 3339, for `<time datetime>`, Atom and the sitemap.
pub fn iso_date(t: &OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Previous/next links under a list.
#[derive(Debug)]
pub struct Pager {
    pub number: u32,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new<T>(path: &str, list: &crate::db::Page<T>) -> Self {
        Self {
            number: list.number,
            prev: list.prev().map(|n| page_href(path, n)),
            next: list.next().map(|n| page_href(path, n)),
        }
    }
}

/// The href for page `n` of a list at `path`: page 1 has no query, so it has one URL.
pub fn page_href(path: &str, n: u32) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    if n == 1 {
        path.to_owned()
    } else {
        format!("{path}{sep}page={n}")
    }
}
