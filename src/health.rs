//! The operator's endpoints: `/healthz` (the process answers), `/readyz` (it can serve, and
//! how well) and `/metrics` (Prometheus).

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};

use crate::{error::Error, state::AppState};

/// `GET /metrics`: Prometheus text format, for addresses in `metrics.allow` only.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    hub: web::Data<crate::ws::Hub>,
) -> Result<HttpResponse, Error> {
    let allowed = req
        .peer_addr()
        .is_some_and(|addr| state.settings.metrics.allows(addr.ip()));
    if !allowed {
        return Err(Error::Forbidden);
    }
    // The queue's gauges, read now; without the database, the other metrics still answer.
    match tokio::time::timeout(Duration::from_secs(1), crate::jobs::repo::counts(&state.db)).await {
        Ok(Ok(counts)) => state.metrics.set_jobs(
            &[
                ("queued", counts.queued),
                ("running", counts.running),
                ("failed", counts.failed),
                ("done", counts.done),
            ],
            counts.oldest_due_secs,
        ),
        _ => tracing::debug!("metrics: job counts unread"),
    }
    let events = crate::events::backlog(&state.db, &state.settings.events);
    match tokio::time::timeout(Duration::from_secs(1), events).await {
        Ok(Ok(waiting)) => {
            for (broker, n, oldest) in waiting {
                state.metrics.set_events_waiting(broker.name(), n, oldest);
            }
        }
        _ => tracing::debug!("metrics: events waiting unread"),
    }
    state.metrics.set_websockets(hub.open());
    state.replica.report(&state.metrics);
    let body = state.metrics.render()?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// `GET /healthz`: liveness. Touches nothing, so a slow database never gets us restarted.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body("ok\n")
}

/// `GET /readyz`: readiness, with one line per dependency.
/// - PostgreSQL out of reach: 503 (`status: unavailable`), so a load balancer sends traffic
///   elsewhere.
/// - Redis out of reach: still 200, `status: degraded`. Every instance shares the one Redis,
///   so taking this instance out would not help, and anonymous reading still works here;
///   logging in and forms answer 503 until Redis returns.
/// - The read replica out of reach or lagging: still 200 (`replica: unavailable`,
///   `lagging …`): reads go to the primary meanwhile (`db::replica`).
///
/// Both turn back by themselves when the dependency returns.
pub async fn readyz(
    state: web::Data<AppState>,
    search: web::Data<crate::search::Search>,
) -> HttpResponse {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
    let (database, redis) = tokio::join!(
        // Well inside the request deadline, so the answer is always this body.
        tokio::time::timeout(Duration::from_secs(1), ping),
        state.redis.ping()
    );
    let database = match database {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: database timed out");
            false
        }
    };
    let word = |ok| if ok { "ok" } else { "unavailable" };
    let status = match (database, redis) {
        (true, true) => "ready",
        (true, false) => "degraded",
        (false, _) => "unavailable",
    };
    // What each use of Redis amounts to while it is away: sessions can't be used, pages are
    // made without the cache (degraded, still served).
    let cache = match (state.settings.cache.enabled, redis) {
        (false, _) => "off",
        (true, true) => "ok",
        (true, false) => "degraded",
    };
    // Meilisearch away: still 200, searches are answered by PostgreSQL meanwhile.
    let search = match &search.meili {
        None => "postgres".to_owned(),
        Some(meili) => {
            let waiting = crate::search::outbox::pending(&state.db)
                .await
                .map(|(n, _)| n)
                .unwrap_or_default();
            match meili.healthy().await {
                true => format!("meilisearch ok, {waiting} changes queued"),
                false => format!(
                    "degraded (meilisearch unreachable, answering from postgres; {waiting} \
                     changes queued)"
                ),
            }
        }
    };
    let body = format!(
        "status: {status}\ndatabase: {}\nredis: {}\ncache: {cache}\nsearch: {search}\n\
         replica: {}\n",
        word(database),
        word(redis),
        state.replica.describe()
    );
    let mut res = if database {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.content_type(ContentType::plaintext()).body(body)
}
