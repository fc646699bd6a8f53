//! GraphQL at `/graphql` (issue 30): one query for a page's whole data (a post, its author,
//! tags and comments) instead of several REST calls. A front door like the JSON API: it
//! reads through the same repositories and visibility rules and changes things through the
//! same use-cases (`mutation`), with the API's token, rate limits, CORS and body limits.
//!
//! - `types`: the object types and Relay-style connections; `query`, `mutation`: the roots;
//!   `loaders`: one statement per field for a whole page of posts (no N+1).
//! - `http`: the endpoint (GET and POST, batches, automatic persisted queries, the limits
//!   checked before anything runs); `subscription`: `commentAdded`
//!   over `graphql-transport-ws` at `/ws/graphql`; `explorer`: GraphiQL at
//!   `/graphql/explorer`, served from our own copy.
//!
//! Built with async-graphql 7.2 (the newest stable; 8.0 is a release candidate), without
//! its actix integration: that one's subscriptions need actix actors, and our handler
//! reads requests with the API's own limits.

pub mod explorer;
pub mod http;
mod loaders;
mod mutation;
mod query;
pub mod subscription;
mod types;

use std::{net::IpAddr, sync::Arc};

use async_graphql::Schema;

use crate::{accounts::model::CurrentUser, config::GraphqlSettings, state::AppState};

pub use loaders::Loaders;
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

/// The schema: built once per process (`app.rs`), shared by every worker.
pub type QuireSchema = Schema<Query, Mutation, Subscription>;

/// The schema with `settings`' limits.
pub fn schema(settings: &GraphqlSettings) -> QuireSchema {
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .extension(Coded)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity);
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema's SDL (`schema.graphql` at the repository's root is this, checked by a test).
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}

/// What every resolver of one request reaches.
pub struct Gql {
    pub state: AppState,
    pub search: Arc<crate::search::Search>,
    /// `http.base_url` without its trailing slash, for absolute links.
    pub base: String,
    /// For the search allowance, counted per address as the site's search is.
    pub client_ip: Option<IpAddr>,
}

/// Who is asking: the account of a valid API token, or no one.
pub struct Caller(pub Option<CurrentUser>);

impl Caller {
    pub fn user(&self) -> Option<&CurrentUser> {
        self.0.as_ref()
    }
}

/// Every error a resolver returns leaves with an `extensions.code`: ours carry one
/// (`ApiError::to_graphql`); async-graphql's own argument errors ("Failed to parse
/// \"Int\"") become `BAD_USER_INPUT`; anything else is a failure we did not map, logged and
/// sent as `INTERNAL` without its message (which could name a table or a server).
struct Coded;

impl async_graphql::extensions::ExtensionFactory for Coded {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(Coded)
    }
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for Coded {
    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        code_errors(&mut response);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        stream: futures_util::stream::BoxStream<'s, async_graphql::Response>,
        next: async_graphql::extensions::NextSubscribe<'_>,
    ) -> futures_util::stream::BoxStream<'s, async_graphql::Response> {
        use futures_util::StreamExt;
        next.run(ctx, stream)
            .map(|mut response| {
                code_errors(&mut response);
                response
            })
            .boxed()
    }
}

fn code_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let coded = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        // Without a path it is the document's fault (syntax, validation): GraphQL says so.
        if coded || error.path.is_empty() {
            continue;
        }
        let code = if error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value")
        {
            "BAD_USER_INPUT"
        } else {
            tracing::error!(message = %error.message, "graphql: an error without a code");
            error.message = "an unexpected error happened; it was logged".into();
            "INTERNAL"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}
