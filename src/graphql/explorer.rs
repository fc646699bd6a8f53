//! `GET /graphql/explorer` (issue 30): GraphiQL, to write queries against `/graphql` with
//! the schema's completion and documentation, run them, and watch subscriptions on
//! `/ws/graphql`. Served from the copy vendored in static/vendor/graphiql (nothing is loaded
//! from elsewhere) under the site's Content-Security-Policy unchanged: every script and
//! stylesheet is a file under /static, started by static/js/graphiql.js, none inline.
//!
//! The page sits in the `/graphql` scope (the API's CORS, rate limits and JSON errors); it is
//! a page all the same, `text/html` with the security headers every response gets.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::{assets::Assets, error::Error, site::Site, state::AppState};

/// templates/graphql/explorer.html
#[derive(Template)]
#[template(path = "graphql/explorer.html")]
struct ExplorerPage {
    site: Arc<Site>,
    react_js: String,
    react_dom_js: String,
    graphiql_js: String,
    graphiql_css: String,
    explorer_js: String,
    explorer_css: String,
}

/// `GET /graphql/explorer`: the page; GraphiQL draws itself into it.
pub async fn show(
    state: web::Data<AppState>,
    assets: web::Data<Assets>,
) -> Result<HttpResponse, Error> {
    crate::render::page(ExplorerPage {
        site: state.site(),
        react_js: assets.url("vendor/graphiql/react.production.min.js"),
        react_dom_js: assets.url("vendor/graphiql/react-dom.production.min.js"),
        graphiql_js: assets.url("vendor/graphiql/graphiql.min.js"),
        graphiql_css: assets.url("vendor/graphiql/graphiql.min.css"),
        explorer_js: assets.url("js/graphiql.js"),
        explorer_css: assets.url("css/graphiql.css"),
    })
}
