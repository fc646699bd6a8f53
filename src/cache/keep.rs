//! Which routes the hot-page cache may keep, as the route table (`router`) declares them
//! beside each route. A request is looked up as actix routes it: the first registered
//! pattern that matches its path decides, so a fixed path registered before a pattern
//! (`/admin` before `/{slug}`) is never taken for it.

use actix_web::dev::ResourceDef;

/// A route whose anonymous reads may be kept: the query parameters that make a different
/// page (any other parameter, `?utm_source=…`, and the page is made but not kept), and
/// whether it is a search (kept for `cache.search_ttl_secs`).
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub params: &'static [&'static str],
    pub search: bool,
}

/// A kept route's answer to a request: its key (path and known parameters, sorted; `None`
/// when the request has other parameters) and whether it is a search.
#[derive(Debug, PartialEq, Eq)]
pub struct Lookup {
    pub key: Option<String>,
    pub search: bool,
}

/// The routes of one part of the app (the site, or the API under its scope), in the order
/// they are registered, each with what the cache may keep of its reads.
#[derive(Default)]
pub struct Rules {
    routes: Vec<(ResourceDef, Option<Keep>)>,
}

impl Rules {
    /// A route at `pattern` (actix's syntax), kept as `keep` says.
    pub fn add(&mut self, pattern: &str, keep: Option<Keep>) {
        self.routes.push((ResourceDef::new(pattern), keep));
    }

    /// Everything under `prefix` (a scope of its own, such as `/api`): never kept here.
    pub fn add_prefix(&mut self, prefix: &str) {
        self.routes.push((ResourceDef::prefix(prefix), None));
    }

    /// How the cache treats a read of `path?query`: `None` for what it never keeps.
    pub fn lookup(&self, path: &str, query: &str) -> Option<Lookup> {
        let keep = self
            .routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .and_then(|(_, keep)| *keep)?;
        let mut known: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !keep.params.contains(&name.as_ref()) {
                return Some(Lookup {
                    key: None,
                    search: keep.search,
                });
            }
            known.push((name.into_owned(), value.into_owned()));
        }
        known.sort();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(known)
            .finish();
        Some(Lookup {
            key: Some(format!("{path}?{query}")),
            search: keep.search,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGED: Keep = Keep {
        params: &["page"],
        search: false,
    };

    #[test]
    fn the_first_matching_route_decides_and_unknown_parameters_are_not_kept() {
        let mut rules = Rules::default();
        rules.add("/admin", None);
        rules.add("/posts/{slug}", Some(PAGED));
        rules.add_prefix("/api");
        rules.add("/{slug}", Some(PAGED));
        assert_eq!(rules.lookup("/admin", ""), None);
        assert_eq!(rules.lookup("/api", ""), None);
        assert_eq!(rules.lookup("/posts/", ""), None);
        assert_eq!(
            rules.lookup("/posts/hello", "page=2").and_then(|l| l.key),
            Some("/posts/hello?page=2".into())
        );
        assert_eq!(
            rules.lookup("/about", "utm_source=x"),
            Some(Lookup {
                key: None,
                search: false
            })
        );
        assert_eq!(rules.lookup("/about/more", ""), None);
    }
}
