//! Health checks, metrics, and riding out a database outage.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{DbProxy, eventually, spawn_app, spawn_app_behind, spawn_app_with};

#[tokio::test]
async fn healthz_and_readyz_answer_ok_when_all_is_well() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.text().await.unwrap(),
        "status: ready\ndatabase: ok\nredis: ok\ncache: ok\nsearch: postgres\nreplica: off\n"
    );
}

#[tokio::test]
async fn a_database_outage_answers_503_and_the_site_recovers_by_itself() {
    let proxy = DbProxy::start().await;
    let app = spawn_app_behind(&proxy).await;
    let ada = app.author("ada").await;
    app.posts(ada, 1, &[]).await;
    assert_eq!(app.get("/").await.status(), StatusCode::OK);

    proxy.cut();
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "alive, just not ready"
    );
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // A page kept by the cache is still served; one that has to be made is a 503.
    let kept = app.get("/").await;
    assert_eq!(kept.status(), StatusCode::OK);
    assert_eq!(kept.headers()["x-cache"], "HIT");
    let res = app.get("/authors/ada").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "5");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Temporarily unavailable"),
        "a friendly page: {body}"
    );

    proxy.restore();
    eventually(
        "/readyz and a page to recover",
        Duration::from_secs(15),
        || async {
            let ready = app.get("/readyz").await.status();
            let home = app.get("/authors/ada").await.status();
            if (ready, home) == (StatusCode::OK, StatusCode::OK) {
                Ok(())
            } else {
                Err((ready, home))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_show_the_pool() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app.posts(ada, 1, &[]).await.remove(0);
    // Made, then served from the page cache (which answers before any route runs): both
    // counted under the route.
    let first = app.get(&format!("/posts/{slug}")).await;
    assert_eq!(first.headers()["x-cache"], "MISS");
    let second = app.get(&format!("/posts/{slug}")).await;
    assert_eq!(second.headers()["x-cache"], "HIT");
    app.get("/posts/does-not-exist").await;
    app.get("/some/random/path").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let has = |needle: &str| body.lines().any(|l| l.contains(needle));
    assert!(
        has(r#"quire_http_requests_total{endpoint="/posts/{slug}",method="GET",status="200"} 2"#),
        "{body}"
    );
    assert!(has(
        r#"quire_http_requests_total{endpoint="/posts/{slug}",method="GET",status="404"} 1"#
    ));
    assert!(
        has(r#"endpoint="unmatched""#),
        "unknown paths fold into one label"
    );
    assert!(has("quire_http_requests_duration_seconds_bucket"));
    assert!(has(r#"quire_db_pool_connections{state="idle"}"#));
    assert!(has("quire_db_pool_max_connections 5"));
    assert!(
        !body.contains("/posts/does-not-exist"),
        "raw paths never become labels"
    );
}

#[tokio::test]
async fn metrics_are_refused_to_addresses_not_allowed() {
    let app = spawn_app_with(|s| s.metrics.allow = vec!["10.0.0.0/8".parse().unwrap()]).await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::FORBIDDEN);
}
