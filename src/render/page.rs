//! Rendering askama templates into responses, and the `Layout` every page's `<head>` reads.

use std::sync::Arc;

use actix_web::{HttpResponse, http::header::ContentType};
use askama::Template;
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

use crate::{authz::Menu, error::Error, site::Site};

/// What one page puts in `<head>`: title, description, canonical URL, OpenGraph.
pub struct Layout {
    pub site: Arc<Site>,
    pub title: String,
    pub description: String,
    /// Absolute URL of this page.
    pub canonical: String,
    /// This page's path (`/admin/posts`): what the admin navigation marks as current.
    pub path: String,
    /// OpenGraph type: "website" or "article".
    pub og_type: &'static str,
    pub og_image: Option<String>,
    /// The shared image's pixels, when known (an upload's 1200×630 social card).
    pub og_image_size: Option<(u32, u32)>,
    pub rel_prev: Option<String>,
    pub rel_next: Option<String>,
    /// Error pages and paginated tails are not worth indexing.
    pub noindex: bool,
    /// Who is logged in, for the header; `None` for anonymous readers.
    pub header: Option<Header>,
    /// An admin screen: it uses the width of the screen (tables, the editor); the reading
    /// site keeps its measure.
    pub wide: bool,
}

/// A heading of the admin navigation and its links.
pub struct AdminGroup {
    pub label: &'static str,
    pub links: Vec<AdminLink>,
}

pub struct AdminLink {
    pub href: &'static str,
    pub label: &'static str,
    /// This page is this link's (shown with `aria-current="page"`).
    pub current: bool,
}

/// The signed-in part of a page's header: the name, the menu `authz` allows, and the CSRF
/// token the header's log-out form (and the page's own forms) carry. Built by the
/// extractors (`extract::Visitor`, `extract::header`): the renderer never sees a session.
#[derive(Debug, Clone)]
pub struct Header {
    pub display_name: String,
    pub menu: Menu,
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
            path: path.to_owned(),
            site: Arc::clone(site),
            title: full_title,
            description,
            og_type: "website",
            og_image: None,
            og_image_size: None,
            rel_prev: None,
            rel_next: None,
            noindex: false,
            header: None,
            wide: path == "/admin" || path.starts_with("/admin/"),
        }
    }

    /// Show who is logged in (and a log-out button) in the header.
    pub fn header(mut self, header: Option<Header>) -> Self {
        self.header = header;
        self
    }

    /// The CSRF token for the page's forms (empty for anonymous readers, who have none).
    pub fn csrf_token(&self) -> &str {
        self.header.as_ref().map_or("", |h| h.csrf_token.as_str())
    }

    /// What the navigation offers (nothing for anonymous readers).
    /// Offer the newsletter's sign-up (the site sends email).
    pub fn newsletter(&self) -> bool {
        self.site.newsletter
    }

    pub fn menu(&self) -> Menu {
        self.header.as_ref().map(|h| h.menu).unwrap_or_default()
    }

    /// The admin navigation this viewer's menu allows, in groups, with the link for this
    /// page marked (the longest link that is this path or a folder of it).
    pub fn admin_nav(&self) -> Vec<AdminGroup> {
        let menu = self.menu();
        let pick = |links: &[(&'static str, &'static str, bool)]| -> Vec<AdminLink> {
            links
                .iter()
                .filter(|(_, _, shown)| *shown)
                .map(|&(href, label, _)| AdminLink {
                    href,
                    label,
                    current: false,
                })
                .collect()
        };
        let mut groups = vec![
            AdminGroup {
                label: "Content",
                links: pick(&[
                    ("/admin", "Dashboard", true),
                    ("/admin/posts", "Posts", true),
                    ("/admin/posts/new", "New post", true),
                    ("/admin/pages", "Pages", menu.editor_tools),
                    ("/admin/tags", "Tags", menu.editor_tools),
                    ("/admin/media", "Media", true),
                    ("/admin/comments", "Comments", menu.editor_tools),
                    ("/admin/posts/trash", "Trash", menu.editor_tools),
                ]),
            },
            AdminGroup {
                label: "People",
                links: pick(&[
                    ("/admin/users", "Users", menu.users),
                    ("/admin/subscribers", "Subscribers", menu.subscribers),
                ]),
            },
            AdminGroup {
                label: "Site",
                links: pick(&[
                    ("/admin/settings", "Settings", menu.settings),
                    ("/admin/navigation", "Navigation", menu.settings),
                    ("/admin/redirects", "Redirects", menu.redirects),
                    ("/admin/webhooks", "Webhooks", menu.webhooks),
                    ("/admin/import", "Import", menu.import),
                    ("/admin/export", "Export", menu.export),
                    ("/admin/jobs", "Jobs", menu.jobs),
                ]),
            },
        ];
        groups.retain(|g| !g.links.is_empty());
        let is_current = |href: &str| {
            self.path == href
                || (href != "/admin"
                    && self
                        .path
                        .strip_prefix(href)
                        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?')))
        };
        let best = groups
            .iter()
            .flat_map(|g| g.links.iter())
            .filter(|l| is_current(l.href))
            .map(|l| l.href.len())
            .max();
        for link in groups.iter_mut().flat_map(|g| g.links.iter_mut()) {
            link.current = Some(link.href.len()) == best && is_current(link.href);
        }
        groups
    }

    /// The label of the admin link marked current ("Posts"), for the collapsed menu's summary.
    pub fn admin_current(&self) -> &'static str {
        self.admin_nav()
            .iter()
            .flat_map(|g| g.links.iter())
            .find(|l| l.current)
            .map_or("Menu", |l| l.label)
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
    let mut res = page_with_status(status, template)?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

/// A form page over a rate limit: `personal` with 429 and `Retry-After`.
pub fn too_many<T: Template>(template: T, seconds: u64) -> Result<HttpResponse, Error> {
    let mut res = personal(actix_web::http::StatusCode::TOO_MANY_REQUESTS, template)?;
    res.headers_mut()
        .insert(actix_web::http::header::RETRY_AFTER, seconds.into());
    Ok(res)
}

/// "3 minutes", "1 minute": how long to wait, rounded up.
pub fn in_minutes(seconds: u64) -> String {
    let minutes = seconds.div_ceil(60);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

/// 303 See Other: where a successful form submission goes next. A location that can't be
/// a header value (it never should: see `safe_next`) goes home rather than failing.
pub fn see_other(location: &str) -> HttpResponse {
    use actix_web::http::header::{HeaderValue, LOCATION};
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    HttpResponse::SeeOther()
        .insert_header((LOCATION, value))
        .finish()
}

/// Where to send someone after a login (a `next` parameter): a path on this site, or `/`.
///
/// Browsers are lenient with a `Location`: they drop tabs and newlines, read `\` as `/`,
/// and treat `//host` as another site. So only printable ASCII is accepted (no spaces, no
/// backslashes, no control characters, raw or percent-encoded), and the path, once its dot
/// segments and percent-encoded slashes are resolved, must not start with `//`.
pub fn safe_next(next: &str) -> String {
    local_path(next).unwrap_or_else(|| "/".to_owned())
}

fn local_path(next: &str) -> Option<String> {
    if next.len() > 2048 || !next.starts_with('/') {
        return None;
    }
    if !next.bytes().all(|b| b.is_ascii_graphic()) || next.contains('\\') {
        return None;
    }
    let decoded: Vec<u8> = url::form_urlencoded::parse(format!("x={next}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    // What the path could turn into if something along the way decodes it once more.
    let suspicious = |b: &u8| b.is_ascii_control() || *b == b'\\' || *b == b' ';
    if decoded.iter().any(suspicious) {
        return None;
    }
    let base = url::Url::parse("http://quire.invalid/").ok()?;
    let resolved = base.join(next).ok()?;
    if resolved.host_str() != Some("quire.invalid") || resolved.path().starts_with("//") {
        return None;
    }
    let decoded_path = String::from_utf8_lossy(&decoded);
    let decoded_path = decoded_path.split(['?', '#']).next().unwrap_or_default();
    let again = base.join(decoded_path).ok()?;
    if again.host_str() != Some("quire.invalid") || again.path().starts_with("//") {
        return None;
    }
    Some(resolved[url::Position::BeforePath..].to_owned())
}

/// Render a page template as a 200 HTML response.
pub fn page<T: Template>(template: T) -> Result<HttpResponse, Error> {
    page_with_status(actix_web::http::StatusCode::OK, template)
}

/// Render a page template as an HTML response with `status`.
pub fn page_with_status<T: Template>(
    status: actix_web::http::StatusCode,
    template: T,
) -> Result<HttpResponse, Error> {
    let body = template.render()?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(body))
}

const HUMAN_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[month repr:short] [day padding:none], [year]");

/// The site's timezone for displayed dates (a setting). Process-wide, because dates are
/// formatted deep in models' template methods that see no request; `settings::live` sets it
/// whenever it holds newer settings, so it follows them on every instance.
static DISPLAY_ZONE: std::sync::RwLock<Option<jiff::tz::TimeZone>> = std::sync::RwLock::new(None);

/// Show dates in the zone named `name` from now on (an unknown name: UTC).
pub fn set_display_zone(name: &str) {
    let zone = jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC);
    *DISPLAY_ZONE.write().unwrap_or_else(|e| e.into_inner()) = Some(zone);
}

/// `t` in the display zone, and the zone's abbreviation then ("CET", "UTC").
fn in_display_zone(t: &OffsetDateTime) -> (OffsetDateTime, String) {
    let guard = DISPLAY_ZONE.read().unwrap_or_else(|e| e.into_inner());
    let Some(zone) = guard.as_ref() else {
        return (t.to_offset(time::UtcOffset::UTC), "UTC".to_owned());
    };
    let Ok(at) = jiff::Timestamp::from_second(t.unix_timestamp()) else {
        return (t.to_offset(time::UtcOffset::UTC), "UTC".to_owned());
    };
    let info = zone.to_offset_info(at);
    let offset = time::UtcOffset::from_whole_seconds(info.offset().seconds())
        .unwrap_or(time::UtcOffset::UTC);
    (t.to_offset(offset), info.abbreviation().to_owned())
}

/// "Nov 25, 2026": dates as readers see them, in the site's timezone.
pub fn human_date(t: &OffsetDateTime) -> String {
    in_display_zone(t).0.format(HUMAN_DATE).unwrap_or_default()
}

const HUMAN_DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[month repr:short] [day padding:none], [year] [hour]:[minute]");

/// "Nov 25, 2026 14:05 CET": for the admin, where the hour matters; in the site's timezone,
/// named.
pub fn human_date_time(t: &OffsetDateTime) -> String {
    let (local, zone) = in_display_zone(t);
    let when = local.format(HUMAN_DATE_TIME).unwrap_or_default();
    format!("{when} {zone}")
}

/// RFC 3339, for `<time datetime>`, Atom and the sitemap.
pub fn iso_date(t: &OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_keeps_local_paths_with_their_queries() {
        assert_eq!(safe_next("/posts/x"), "/posts/x");
        assert_eq!(
            safe_next("/admin/posts?status=draft&q=a%20b"),
            "/admin/posts?status=draft&q=a%20b"
        );
        assert_eq!(safe_next("/tags/caf%C3%A9"), "/tags/caf%C3%A9");
        assert_eq!(safe_next("/a/../b"), "/b");
    }

    #[test]
    fn next_never_leaves_the_site() {
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example/x",
            "/%09/evil.example/x",
            "/%0a/x",
            "/%0d%0aSet-Cookie:x=y",
            "/\u{b}x",
            "/%0b/evil.example",
            "/%0c/evil.example",
            "/%00",
            "/\0",
            "/%7f",
            "/\u{7f}",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/..//evil.example",
            "/.//evil.example",
            "/x/../..//evil.example",
            "/ /evil.example",
            "javascript:alert(1)",
            "/é",
            "/\r\nLocation: https://evil.example",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn a_location_that_cant_be_a_header_goes_home() {
        let res = see_other("/\nx");
        assert_eq!(
            res.headers().get("location").map(|v| v.as_bytes()),
            Some(&b"/"[..])
        );
    }
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
