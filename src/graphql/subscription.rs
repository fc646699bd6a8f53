//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`) at `/ws/graphql`, fed by
//! the same live fan-out as the post page's socket (`ws::Hub`, `comments::live`), behind the
//! same Origin check and limits as every socket (`ws::socket`).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{Context, Result, Subscription as SubscriptionRoot};
use futures_util::{Stream, StreamExt};

use super::{Caller, Gql, Loaders, QuireSchema, types::Comment};
use crate::{
    comments,
    error::{ApiError, Error},
    posts::{self, model::PostId},
    search::Search,
    slug::Slug,
    state::AppState,
    ws::{
        Event, Hub,
        socket::{self, Relayed},
    },
};

/// The one protocol this socket speaks.
const PROTOCOL: &str = "graphql-transport-ws";

/// Subscriptions one socket may hold at once (each watches a topic of the hub).
const MAX_PER_SOCKET: usize = 20;

/// A socket's running subscriptions: a slot is taken by each and given back when it ends.
#[derive(Default)]
struct Slots(Arc<AtomicUsize>);

/// One subscription's slot, given back when its stream is dropped.
struct Slot(Arc<AtomicUsize>);

impl Slots {
    fn take(&self) -> Option<Slot> {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_PER_SOCKET).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.0.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Subscription;

/// What a socket's subscriptions reach.
struct Live {
    hub: Hub,
    db: sqlx::PgPool,
}

#[SubscriptionRoot]
impl Subscription {
    /// Each comment readers will see on a published post, as it is added (one held for
    /// approval arrives when it is approved). Ends when the post is taken back.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        post_slug: String,
    ) -> Result<impl Stream<Item = Comment> + use<>> {
        let live = ctx.data::<Live>()?;
        let slot = ctx.data::<Slots>()?.take().ok_or_else(|| {
            ApiError::Refused {
                key: "subscriptions",
                message: "are limited to 20 at once on one socket",
            }
            .to_graphql()
        })?;
        let not_found = || ApiError::NotFound("post").to_graphql();
        let slug = Slug::parse(&post_slug).map_err(|_| not_found())?;
        let post = posts::repo::node_by_slug(&live.db, slug.as_str())
            .await
            .map_err(|e| ApiError::from(e).to_graphql())?
            .filter(|n| posts::readable(None, n.author_id, n.status, n.published_at))
            .ok_or_else(not_found)?;
        // Watch first, then read the newest: nothing added in between is missed.
        let watch = live.hub.watch((comments::live::FEED, post.id.0));
        let newest = comments::repo::newest_id(&live.db, post.id)
            .await
            .map_err(|e| ApiError::from(e).to_graphql())?;
        let state = (watch, newest, live.db.clone(), post.id, slot);
        Ok(futures_util::stream::unfold(state, next_comment))
    }
}

type Watching = (crate::ws::Watch, i64, sqlx::PgPool, PostId, Slot);

/// The next comment newer than any sent, as readers see it; `None` ends the subscription.
async fn next_comment(
    (mut watch, mut newest, db, post, slot): Watching,
) -> Option<(Comment, Watching)> {
    loop {
        let event = watch.recv().await.ok()?;
        let Event::Json(text) = &*event else {
            if matches!(&*event, Event::End(_)) {
                return None;
            }
            continue;
        };
        let said: serde_json::Value = serde_json::from_str(text).ok()?;
        let id = said["id"].as_i64().unwrap_or(0);
        if said["type"] != "comment" || id <= newest {
            continue;
        }
        let shown = comments::repo::live(&db, post, comments::repo::Live::These(&[id]))
            .await
            .ok()?;
        if let Some(comment) = shown.into_iter().next() {
            newest = id;
            return Some((Comment(comment), (watch, newest, db, post, slot)));
        }
    }
}

/// `GET /ws/graphql`: the socket, for pages of this site (the Origin check) and clients
/// that say the same Origin, offering `graphql-transport-ws`. Queries sent on it are
/// anonymous; mutations need HTTP and a token.
pub async fn connect(
    state: web::Data<AppState>,
    hub: web::Data<Hub>,
    schema: web::Data<QuireSchema>,
    search: web::Data<Search>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let offered = req
        .headers()
        .get(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == PROTOCOL));
    if !offered {
        return Err(Error::BadRequest(format!(
            "GraphQL subscriptions speak the {PROTOCOL} protocol: offer it in Sec-WebSocket-Protocol."
        )));
    }
    let socket = socket::accept(&req, body, &state, &hub)?;
    let mut data = async_graphql::Data::default();
    data.insert(Live {
        hub: hub.get_ref().clone(),
        db: state.db.clone(),
    });
    data.insert(Gql {
        state: state.get_ref().clone(),
        search: search.into_inner(),
        base: state.settings.http.base().to_owned(),
        client_ip: crate::extract::client_ip(&req),
    });
    data.insert(Caller(None));
    data.insert(Loaders::new(&state.db));
    data.insert(Slots::default());
    let schema = schema.get_ref().clone();
    Ok(socket.relay(PROTOCOL, move |incoming| {
        let protocol = async_graphql::http::WebSocket::new(
            schema,
            incoming,
            async_graphql::http::WebSocketProtocols::GraphQLWS,
        )
        .connection_data(data);
        Box::pin(protocol.map(|message| match message {
            async_graphql::http::WsMessage::Text(text) => Relayed::Text(text),
            async_graphql::http::WsMessage::Close(code, why) => Relayed::Close(code, why),
        }))
    }))
}
