//! Static files, compiled into the binary and served under content-hashed URLs.
//!
//! `/static/css/site.3f9a0c1d2e.css` names one exact content, so it is cached for a year
//! (`immutable`). The plain name (`/static/img/cover-1.svg`) is served too, for URLs that
//! live inside posts, with a short lifetime so changes reach readers.

use std::collections::HashMap;

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, CacheControl, CacheDirective},
    web,
};
use sha2::{Digest, Sha256};

use crate::error::Error;

struct File {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! file {
    ($path:literal, $type:literal) => {
        File {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../static/", $path)),
        }
    };
}

const FILES: &[File] = &[
    file!("css/site.css", "text/css; charset=utf-8"),
    file!("css/highlight.css", "text/css; charset=utf-8"),
    file!("js/local-time.js", "text/javascript; charset=utf-8"),
    file!("js/editor.js", "text/javascript; charset=utf-8"),
    file!("js/live-comments.js", "text/javascript; charset=utf-8"),
    file!("js/media.js", "text/javascript; charset=utf-8"),
    // Vendored from npm (static/vendor/morphdom.README), served with its licence.
    file!("vendor/morphdom.min.js", "text/javascript; charset=utf-8"),
    file!("vendor/morphdom.LICENSE", "text/plain; charset=utf-8"),
    // The GraphQL explorer (`graphql::explorer`): GraphiQL and the React it runs on, vendored
    // from npm by scripts/vendor-graphiql.sh (static/vendor/graphiql/README.md).
    file!("css/graphiql.css", "text/css; charset=utf-8"),
    file!("js/graphiql.js", "text/javascript; charset=utf-8"),
    file!(
        "vendor/graphiql/react.production.min.js",
        "text/javascript; charset=utf-8"
    ),
    file!(
        "vendor/graphiql/react-dom.production.min.js",
        "text/javascript; charset=utf-8"
    ),
    file!(
        "vendor/graphiql/graphiql.min.js",
        "text/javascript; charset=utf-8"
    ),
    file!(
        "vendor/graphiql/graphiql.min.css",
        "text/css; charset=utf-8"
    ),
    file!(
        "vendor/graphiql/graphiql.LICENSE",
        "text/plain; charset=utf-8"
    ),
    file!("vendor/graphiql/react.LICENSE", "text/plain; charset=utf-8"),
    file!(
        "vendor/graphiql/react-dom.LICENSE",
        "text/plain; charset=utf-8"
    ),
    file!("img/favicon.svg", "image/svg+xml"),
    file!("img/cover-1.svg", "image/svg+xml"),
    file!("img/cover-2.svg", "image/svg+xml"),
    file!("img/cover-3.svg", "image/svg+xml"),
    file!("img/diagram.svg", "image/svg+xml"),
];

/// What this build's pages refer to: a hash of every asset (and the version). Kept pages
/// are stored under it (`cache::Pages`), so after a deploy no instance serves a page that
/// links a stylesheet it no longer has.
pub fn fingerprint() -> &'static str {
    static FINGERPRINT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut hasher = Sha256::new();
        hasher.update(env!("CARGO_PKG_VERSION"));
        for file in FILES {
            hasher.update(file.path);
            hasher.update(file.bytes);
        }
        hasher
            .finalize()
            .iter()
            .take(5)
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    &FINGERPRINT
}

/// The table of files by URL, built once at start-up.
pub struct Assets {
    by_path: HashMap<String, (&'static File, bool)>,
    hashed: HashMap<&'static str, String>,
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

impl Assets {
    pub fn new() -> Self {
        let mut by_path = HashMap::new();
        let mut hashed = HashMap::new();
        for file in FILES {
            let digest = Sha256::digest(file.bytes);
            let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            let hashed_path = match file.path.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                None => format!("{}.{hash}", file.path),
            };
            by_path.insert(file.path.to_owned(), (file, false));
            by_path.insert(hashed_path.clone(), (file, true));
            hashed.insert(file.path, format!("/static/{hashed_path}"));
        }
        Self { by_path, hashed }
    }

    /// The content-hashed URL of a file, e.g. `url("css/site.css")`.
    pub fn url(&self, path: &str) -> String {
        self.hashed
            .get(path)
            .cloned()
            .unwrap_or_else(|| format!("/static/{path}"))
    }
}

/// `GET /static/{path}`: a file of the table by its plain or hashed name, however deep its
/// folder (`vendor/graphiql/…`); anything else is our 404.
pub async fn serve(
    assets: web::Data<Assets>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (file, immutable) = assets.by_path.get(path.as_str()).ok_or(Error::NotFound)?;
    let etag = format!(
        "\"{}\"",
        &assets.url(file.path).rsplit('/').next().unwrap_or_default()
    );
    let cache = if *immutable {
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ])
    } else {
        CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(3600)])
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(cache)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_TYPE, file.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    Ok(if not_modified {
        res.finish()
    } else {
        res.body(file.bytes)
    })
}

/// `GET /favicon.ico`: where browsers, feed readers and crawlers look for an icon when a
/// page names none (a 404 on every first visit before, issue 27). A redirect to the icon
/// the pages name (the admin's, or the theme's SVG), from the settings in memory: no
/// database read. Kept an hour, not for good, so a new icon in the settings gets through.
pub async fn favicon(state: web::Data<crate::state::AppState>) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, state.site().favicon_url.as_str()))
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_urls_change_with_content_and_keep_the_extension() {
        let assets = Assets::new();
        let url = assets.url("css/site.css");
        assert!(url.starts_with("/static/css/site."), "{url}");
        assert!(url.ends_with(".css"));
        assert_ne!(url, "/static/css/site.css");
        let hashed = url.trim_start_matches("/static/");
        assert!(matches!(assets.by_path.get(hashed), Some((_, true))));
        assert!(matches!(
            assets.by_path.get("css/site.css"),
            Some((_, false))
        ));
    }
}
