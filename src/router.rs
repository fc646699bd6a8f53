//! Every route of the site and the API, in one table that reads top to bottom as the site
//! map. Order matters where patterns overlap: actix tries resources in the order they are
//! registered, so a fixed path comes before a pattern that would take it (`/admin/posts/new`
//! before `/admin/posts/{id}`, `/api/articles/feed` before `/api/articles/{slug}`), and
//! `/{slug}` (pages such as About) comes last. What the hot-page cache may keep is said
//! here, beside each route (`keep`), and the JSON API's paths and methods come from each
//! handler's OpenAPI annotation (`Table::api`), so the document and the routes agree.

use actix_web::{
    FromRequest, Handler, Responder, Route,
    http::Method,
    web::{self, ServiceConfig},
};

use crate::{
    accounts, api,
    api::{
        articles, comments as api_comments, profiles, tags as api_tags, uploads as api_uploads,
        users,
    },
    assets,
    cache::{Keep, Routes, Rules},
    comments, export,
    extract::FormLimit,
    graphql, health, import, jobs, media,
    middleware::{LongWork, read, resource},
    newsletter, pages, posts, redirects, search, settings, tags, webhooks,
};

/// Pages kept whole, one per `?page=N`.
const PAGED: Keep = Keep {
    params: &["page"],
    search: false,
};

/// The tag index, in either order.
const TAGS: Keep = Keep {
    params: &["sort"],
    search: false,
};

/// A stylesheet whose address names its version (`?v=`).
const VERSIONED: Keep = Keep {
    params: &["v"],
    search: false,
};

/// Searches, kept for `cache.search_ttl_secs`.
const SEARCH: Keep = Keep {
    params: &["q", "tag", "author", "page"],
    search: true,
};

/// An API read kept whole (no parameters).
const WHOLE: Keep = Keep {
    params: &[],
    search: false,
};

/// The article list: its filters and paging (a `q` makes it a search).
const ARTICLES: Keep = Keep {
    params: &["tag", "author", "favorited", "q", "limit", "offset"],
    search: false,
};

/// GraphQL reads by GET: the operation is the address (anything else, and it is made but
/// not kept).
const GRAPHQL: Keep = Keep {
    params: &["query", "variables", "operationName", "extensions"],
    search: false,
};

/// How long the admin's export may take to write before its download starts (the whole
/// blog, uploads included; bench/README.md has the figures).
const EXPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The site's pages and forms, in order.
fn site(t: &mut Table) {
    // Operators.
    t.read("/healthz", health::healthz);
    t.read("/readyz", health::readyz);
    t.read("/metrics", health::metrics);
    t.read("/static/{path:.+}", assets::serve);

    // Readers.
    t.read("/", posts::pages::index).keep(PAGED);
    t.read("/posts/{slug}", posts::pages::show).keep(PAGED);
    t.post(
        "/posts/{slug}/{action:favorite|unfavorite}",
        posts::pages::set_favorite,
    );
    t.post("/posts/{slug}/comments", comments::pages::create);
    t.read("/tags", tags::pages::index).keep(TAGS);
    t.read("/tags/{slug}", tags::pages::show).keep(PAGED);
    t.read("/tags/{slug}/feed.xml", posts::feeds::tag_feed)
        .keep(PAGED);
    t.read("/tags/{slug}/accent.css", tags::pages::accent_css)
        .keep(VERSIONED);
    t.read("/authors/{username}", accounts::pages::author)
        .keep(PAGED);
    t.read("/authors/{username}/feed.xml", posts::feeds::author_feed)
        .keep(PAGED);
    t.post(
        "/authors/{username}/{action:follow|unfollow}",
        accounts::pages::set_following,
    );
    t.read("/following", posts::pages::following);
    t.read("/search", search::pages::search).keep(SEARCH);
    t.read("/feed.xml", posts::feeds::feed).keep(PAGED);
    t.read("/feed.xsl", posts::feeds::feed_style).keep(PAGED);
    t.read("/sitemap.xml", posts::feeds::sitemap).keep(PAGED);
    t.read("/robots.txt", posts::feeds::robots);
    t.read("/favicon.ico", assets::favicon);
    t.read("/theme.css", settings::admin::theme_css);
    t.read("/uploads/{name}", media::serve);
    t.socket("/ws/posts/{id}/comments", comments::live::connect);
    t.socket("/ws/posts/{id}/editor", posts::live::connect);
    t.socket("/ws/graphql", graphql::subscription::connect);

    // Comments (their authors and moderators).
    t.read("/comments/{id}/edit", comments::pages::edit);
    t.post("/comments/{id}", comments::pages::update);
    t.post("/comments/{id}/hide", comments::pages::hide);
    t.post("/comments/{id}/unhide", comments::pages::unhide);
    t.both(
        "/comments/{id}/delete",
        comments::pages::confirm_delete,
        comments::pages::delete,
    );
    t.post("/comments/{id}/approve", comments::pages::approve);
    t.both(
        "/unsubscribe/comments/{token}",
        comments::notify::confirm,
        comments::notify::unsubscribe,
    );

    // The newsletter.
    t.both(
        "/subscribe",
        newsletter::pages::form,
        newsletter::pages::subscribe,
    );
    t.both(
        "/subscribe/confirm/{token}",
        newsletter::pages::confirm_form,
        newsletter::pages::confirm,
    );
    t.both(
        "/unsubscribe/{token}",
        newsletter::pages::unsubscribe_form,
        newsletter::pages::unsubscribe,
    );

    // Accounts.
    t.both(
        "/setup",
        accounts::pages::setup_form,
        accounts::pages::setup,
    );
    t.both(
        "/register",
        accounts::pages::register_form,
        accounts::pages::register,
    );
    t.both(
        "/login",
        accounts::pages::login_form,
        accounts::pages::log_in,
    );
    t.post("/logout", accounts::pages::log_out);
    t.both(
        "/verify/{token}",
        accounts::verify::open,
        accounts::verify::confirm,
    );
    t.both(
        "/password/forgot",
        accounts::reset::pages::forgot_form,
        accounts::reset::pages::forgot,
    );
    t.both(
        "/password/reset/{token}",
        accounts::reset::pages::reset_form,
        accounts::reset::pages::reset,
    );
    t.read("/auth/{provider}", accounts::oauth::start);
    t.read("/auth/{provider}/callback", accounts::oauth::callback);
    t.read("/account", accounts::profile::show);
    t.post("/account/profile", accounts::profile::update_profile);
    t.post("/account/password", accounts::profile::change_password);
    t.post("/account/sessions", accounts::profile::log_out_elsewhere);
    t.post("/account/verify", accounts::profile::send_verification);
    t.post(
        "/account/notifications",
        accounts::profile::set_notifications,
    );
    t.post("/account/newsletter", newsletter::pages::account);
    t.post("/account/delete", accounts::profile::delete);
    t.post(
        "/account/connections/{provider}",
        accounts::oauth::start_link,
    );
    t.post(
        "/account/connections/{provider}/unlink",
        accounts::oauth::unlink,
    );

    // The admin: posts and pages.
    t.read("/admin", posts::admin::dashboard);
    t.both(
        "/admin/demo/remove",
        posts::admin::confirm_remove_demo,
        posts::admin::remove_demo,
    );
    t.both("/admin/posts", posts::admin::index, posts::editor::create)
        .data(FormLimit::Editor);
    t.read("/admin/posts/new", posts::editor::new);
    t.post("/admin/preview", posts::assist::preview)
        .data(FormLimit::Editor);
    t.post("/admin/posts/autosave", posts::assist::autosave_new)
        .data(FormLimit::Editor);
    t.read("/admin/posts/trash", posts::admin::trash);
    t.post("/admin/posts/bulk", posts::admin::bulk);
    t.post("/admin/posts/{id}/autosave", posts::assist::autosave)
        .data(FormLimit::Editor);
    t.post("/admin/posts/{id}/autosave/discard", posts::assist::discard);
    t.read("/admin/posts/{id}/edit", posts::editor::edit);
    t.post("/admin/posts/{id}", posts::editor::update)
        .data(FormLimit::Editor);
    t.both(
        "/admin/posts/{id}/delete",
        posts::admin::confirm_delete,
        posts::admin::delete,
    );
    t.post("/admin/posts/{id}/restore", posts::admin::restore);
    t.read("/admin/posts/{id}/revisions", posts::revisions::index);
    t.read("/admin/posts/{id}/revisions/{rev}", posts::revisions::show);
    t.post(
        "/admin/posts/{id}/revisions/{rev}/restore",
        posts::revisions::restore,
    );
    t.read("/admin/pages", pages::admin::index);
    t.read("/admin/pages/new", posts::editor::new_page);

    // The admin: everything else.
    t.both("/admin/tags", tags::admin::index, tags::admin::create);
    t.read("/admin/tags/new", tags::admin::new);
    t.read("/admin/tags/{id}/edit", tags::admin::edit);
    t.post("/admin/tags/{id}", tags::admin::update);
    t.both(
        "/admin/tags/{id}/merge",
        tags::admin::confirm_merge,
        tags::admin::merge,
    );
    t.both(
        "/admin/tags/{id}/delete",
        tags::admin::confirm_delete,
        tags::admin::delete,
    );
    t.read("/admin/comments", comments::admin::index);
    t.post("/admin/comments/bulk", comments::admin::bulk);
    t.both("/admin/media", media::admin::index, media::admin::upload);
    t.read("/admin/media.json", media::admin::json);
    t.both(
        "/admin/media/{id}",
        media::admin::show,
        media::admin::update,
    );
    t.both(
        "/admin/media/{id}/delete",
        media::admin::confirm_delete,
        media::admin::delete,
    );
    // The library's old address: its page moved; the editor's script still posts here.
    t.both(
        "/admin/uploads",
        media::admin::redirect_old,
        media::admin::upload,
    );
    t.post("/admin/uploads/paste", media::admin::paste);
    t.read("/admin/users", accounts::admin::index);
    t.post("/admin/users/{id}/role", accounts::admin::change_role);
    t.both(
        "/admin/users/{id}/disable",
        accounts::admin::confirm_disable,
        accounts::admin::disable,
    );
    t.post("/admin/users/{id}/enable", accounts::admin::enable);
    t.post("/admin/users/{id}/reset-link", accounts::admin::reset_link);
    t.read("/admin/subscribers", newsletter::admin::index);
    t.read("/admin/subscribers/export.csv", newsletter::admin::export);
    t.both(
        "/admin/settings",
        settings::admin::edit,
        settings::admin::update,
    );
    t.both(
        "/admin/navigation",
        settings::navigation::edit,
        settings::navigation::update,
    );
    t.both(
        "/admin/webhooks",
        webhooks::admin::index,
        webhooks::admin::create,
    );
    t.read("/admin/webhooks/{id}", webhooks::admin::show);
    t.post("/admin/webhooks/{id}/test", webhooks::admin::test);
    t.both(
        "/admin/webhooks/{id}/delete",
        webhooks::admin::confirm_delete,
        webhooks::admin::delete,
    );
    t.both(
        "/admin/redirects",
        redirects::admin::index,
        redirects::admin::create,
    );
    t.read("/admin/redirects/{id}/edit", redirects::admin::edit);
    t.post("/admin/redirects/{id}", redirects::admin::update);
    t.both(
        "/admin/redirects/{id}/delete",
        redirects::admin::confirm_delete,
        redirects::admin::delete,
    );
    t.read("/admin/export", export::admin::index);
    t.post("/admin/export/archive", export::admin::archive)
        .work(EXPORT_DEADLINE);
    t.post("/admin/export/wxr", export::admin::wxr)
        .work(EXPORT_DEADLINE);
    t.both("/admin/import", import::admin::index, import::admin::create);
    t.read("/admin/import/{id}", import::admin::show);
    t.post("/admin/import/{id}/run", import::admin::start);
    t.read("/admin/jobs", jobs::admin::index);
    t.post("/admin/jobs/{id}/retry", jobs::admin::retry);
    t.both(
        "/admin/jobs/{id}/discard",
        jobs::admin::confirm_discard,
        jobs::admin::discard,
    );
}

/// Last: pages (About, Contact) at `/{slug}`, which must shadow none of the routes above.
fn pages_last(t: &mut Table) {
    t.read("/{slug}", pages::show).keep(PAGED);
}

/// GraphQL under `/graphql`, in a scope with the API's limits, CORS and caching.
fn graphql(t: &mut Table) {
    t.read("", graphql::http::get).keep(GRAPHQL);
    t.post("", graphql::http::post);
    t.read("/explorer", graphql::explorer::show);
}

/// The JSON API under `/api`, RealWorld's routes and Quire's: each at the path and method
/// its handler's `#[utoipa::path]` annotation names (the `__path_` type utoipa makes beside
/// each handler), which is also what the OpenAPI document says.
fn api(t: &mut Table) {
    t.read("/openapi.json", api::openapi_json);
    t.read("/docs", api::docs_redirect);
    t.api::<users::__path_register, _, _>(users::register);
    t.api::<users::__path_log_in, _, _>(users::log_in);
    t.api::<users::__path_current, _, _>(users::current);
    t.api::<users::__path_update, _, _>(users::update);
    t.api::<profiles::__path_show, _, _>(profiles::show)
        .keep(WHOLE);
    t.api::<profiles::__path_follow, _, _>(profiles::follow);
    t.api::<profiles::__path_unfollow, _, _>(profiles::unfollow);
    t.api::<articles::__path_feed, _, _>(articles::feed);
    t.api::<articles::__path_index, _, _>(articles::index)
        .keep(ARTICLES);
    t.api::<articles::__path_create, _, _>(articles::create);
    t.api::<articles::__path_show, _, _>(articles::show)
        .keep(WHOLE);
    t.api::<articles::__path_update, _, _>(articles::update);
    t.api::<articles::__path_delete, _, _>(articles::delete);
    t.api::<articles::__path_favorite, _, _>(articles::favorite);
    t.api::<articles::__path_unfavorite, _, _>(articles::unfavorite);
    t.api::<articles::__path_revisions, _, _>(articles::revisions);
    t.api::<api_comments::__path_index, _, _>(api_comments::index)
        .keep(WHOLE);
    t.api::<api_comments::__path_create, _, _>(api_comments::create);
    t.api::<api_comments::__path_delete, _, _>(api_comments::delete);
    t.api::<api_tags::__path_index, _, _>(api_tags::index)
        .keep(WHOLE);
    // Uploads: the fixed paths before `/uploads/{name}`.
    t.api::<api_uploads::__path_create, _, _>(api_uploads::create);
    t.api::<api_uploads::__path_presign, _, _>(api_uploads::presign);
    t.api::<api_uploads::__path_confirm, _, _>(api_uploads::confirm);
    t.api::<api_uploads::__path_show, _, _>(api_uploads::show);
}

/// What the wiring registers: the routes (per HTTP worker), and what is made once from them
/// (the cache's rules, the API document).
pub struct Router {
    origins: Vec<String>,
}

impl Router {
    /// `origins`: the browser origins the API allows (`api.cors_origins`).
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    /// The cache's rules and the API's document, made once at start.
    pub fn made(&self) -> anyhow::Result<(Routes, api::openapi::Document)> {
        let (mut site_table, mut api_table) = (Table::default(), Table::default());
        site(&mut site_table);
        api(&mut api_table);
        let mut site_rules = Rules::default();
        for entry in &site_table.entries {
            site_rules.add(entry.path, entry.keep);
        }
        // In the order `register` follows: the API's scope, then the pages.
        site_rules.add_prefix("/api");
        site_rules.add_prefix("/graphql");
        let mut last = Table::default();
        pages_last(&mut last);
        for entry in &last.entries {
            site_rules.add(entry.path, entry.keep);
        }
        let mut api_rules = Rules::default();
        for entry in &api_table.entries {
            api_rules.add(&format!("/api{}", entry.path_owned()), entry.keep);
        }
        let mut graphql_table = Table::default();
        graphql(&mut graphql_table);
        for entry in &graphql_table.entries {
            api_rules.add(&format!("/graphql{}", entry.path_owned()), entry.keep);
        }
        let document = api::openapi::Document::new(api_table.paths)?;
        Ok((
            Routes {
                site: site_rules,
                api: api_rules,
            },
            document,
        ))
    }

    /// Every route, in order: the site's, the API's scope, then the pages at `/{slug}`.
    pub fn register(&self, cfg: &mut ServiceConfig) {
        let mut site_table = Table::default();
        site(&mut site_table);
        site_table.register(cfg);
        // Before the /api scope, which would take its paths.
        cfg.service(api::docs());
        let mut api_table = Table::default();
        api(&mut api_table);
        cfg.service(api::scope("/api", &self.origins, move |cfg| {
            api_table.register(cfg)
        }));
        let mut graphql_table = Table::default();
        graphql(&mut graphql_table);
        cfg.service(api::scope("/graphql", &self.origins, move |cfg| {
            graphql_table.register(cfg)
        }));
        let mut last = Table::default();
        pages_last(&mut last);
        last.register(cfg);
    }
}

/// One path of the table: its routes (one per method), the form size it takes, and what
/// the cache may keep of its reads.
struct Entry {
    path: &'static str,
    /// An API path comes from its annotation at run time.
    owned: Option<String>,
    routes: Vec<Route>,
    limit: Option<FormLimit>,
    keep: Option<Keep>,
    work: Option<LongWork>,
}

impl Entry {
    fn path_owned(&self) -> &str {
        self.owned.as_deref().unwrap_or(self.path)
    }

    /// What the cache may keep of this path's reads.
    fn keep(&mut self, keep: Keep) -> &mut Self {
        self.keep = Some(keep);
        self
    }

    /// A longer deadline for this path's work than other requests get.
    fn work(&mut self, deadline: std::time::Duration) -> &mut Self {
        self.work = Some(LongWork(deadline));
        self
    }

    /// The form size this path's forms may send (`extract::CsrfForm`).
    fn data(&mut self, limit: FormLimit) -> &mut Self {
        self.limit = Some(limit);
        self
    }
}

/// The table being written: paths in order, the methods of one path gathered on one
/// resource (so any other method is 405), and the API's document alongside.
#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    paths: api::openapi::Paths,
}

impl Table {
    fn entry(&mut self, path: &'static str, owned: Option<String>) -> &mut Entry {
        let at = self
            .entries
            .iter()
            .position(|e| e.path == path && e.owned == owned);
        let at = match at {
            Some(at) => at,
            None => {
                self.entries.push(Entry {
                    path,
                    owned,
                    routes: Vec::new(),
                    limit: None,
                    keep: None,
                    work: None,
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[at]
    }

    fn add(&mut self, path: &'static str, route: Route) -> &mut Entry {
        let entry = self.entry(path, None);
        entry.routes.push(route);
        entry
    }

    /// A page people read: GET and HEAD.
    fn read<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Entry
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, read().to(handler))
    }

    /// A form's POST.
    fn post<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Entry
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, web::post().to(handler))
    }

    /// A form (GET shows it, POST sends it).
    fn both<F, A, G, B>(&mut self, path: &'static str, show: F, send: G) -> &mut Entry
    where
        F: Handler<A>,
        A: FromRequest + 'static,
        F::Output: Responder + 'static,
        G: Handler<B>,
        B: FromRequest + 'static,
        G::Output: Responder + 'static,
    {
        self.read(path, show);
        self.post(path, send)
    }

    /// A WebSocket's handshake (GET only).
    fn socket<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Entry
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, web::get().to(handler))
    }

    /// An API operation at the path and methods of its annotation `P`, in the document too.
    fn api<P, F, Args>(&mut self, handler: F) -> &mut Entry
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.paths.add::<P>();
        let path = P::path();
        let methods = P::methods();
        let entry = self.entry("", Some(path));
        for method in methods {
            use utoipa::openapi::path::HttpMethod as Http;
            let method = match method {
                Http::Get => Method::GET,
                Http::Post => Method::POST,
                Http::Put => Method::PUT,
                Http::Delete => Method::DELETE,
                Http::Options => Method::OPTIONS,
                Http::Head => Method::HEAD,
                Http::Patch => Method::PATCH,
                Http::Trace => Method::TRACE,
            };
            entry.routes.push(web::method(method).to(handler.clone()));
        }
        entry
    }

    fn register(self, cfg: &mut ServiceConfig) {
        for entry in self.entries {
            let path = entry.path_owned().to_owned();
            let mut at = resource(&path);
            if let Some(limit) = entry.limit {
                at = at.app_data(limit);
            }
            if let Some(work) = entry.work {
                at = at.app_data(work);
            }
            for route in entry.routes {
                at = at.route(route);
            }
            cfg.service(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page's slug can't take an address the app answers itself: every first segment of
    /// the table is one `pages::RESERVED` refuses (those with a dot can't be slugs at all).
    #[test]
    fn every_first_segment_of_the_table_is_reserved_for_the_app() {
        let mut t = Table::default();
        site(&mut t);
        let firsts = t
            .entries
            .iter()
            .filter_map(|e| e.path.split('/').nth(1))
            .filter(|s| !s.is_empty() && !s.starts_with('{') && !s.contains('.'))
            .chain(["api"]);
        for first in firsts {
            assert!(pages::RESERVED.contains(&first), "/{first} is not reserved");
        }
    }
}
