//! `/healthz` (the process answers) and `/readyz` (it can serve: the database answers).

use std::time::Duration;

use actix_web::{HttpResponse, http::header::ContentType, web};

use crate::app::AppState;

/// `GET /healthz`: liveness. Touches nothing, so a slow database never gets us restarted.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body("ok\n")
}

/// `GET /readyz`: readiness. 503 while the database is out of reach, so a load balancer
/// sends traffic elsewhere; it turns 200 again by itself when the database returns.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body("ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            unavailable()
        }
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type(ContentType::plaintext())
        .body("database unavailable\n")
}
