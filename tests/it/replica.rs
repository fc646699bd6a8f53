//! Reads from a streaming replica (issue 29, `db::replica`), against a real primary and hot
//! standby of each test's own (`pgpair`): anonymous reads go to the replica, the admin and
//! writers read the primary, nobody reads a page older than the newest write the site knows
//! of (nor does the page cache keep one), and a replica that lags or stops costs readers
//! nothing.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use quire::{accounts::model::Role, config::Settings};
use reqwest::{Method, StatusCode};

use crate::{
    admin::{save_as, write},
    harness::{PostSpec, TestApp, eventually, spawn_app_on},
    pgpair::PgPair,
};

/// The app on the pair's primary, reading from its replica.
async fn spawn(pair: &PgPair, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(
        |db| {
            db.url = pair.primary_url().into();
            db.replica_url = pair.replica_url().into();
        },
        adjust,
    )
    .await
}

async fn readyz(app: &TestApp) -> (StatusCode, String) {
    let res = app.get("/readyz").await;
    (res.status(), res.text().await.unwrap())
}

/// Until `/readyz` says the replica is `state` (`ok`, `lagging`, `unavailable`), answering 200.
async fn replica_is(app: &TestApp, state: &str) {
    let line = format!("replica: {state}");
    eventually(&line, Duration::from_secs(20), || async {
        match readyz(app).await {
            (StatusCode::OK, body) if body.contains(&line) => Ok(()),
            seen => Err(seen),
        }
    })
    .await
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// The value of the metric line starting `name ` (labels included in `name`).
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Requests whose reads went to (the primary, the replica) so far.
async fn reads(app: &TestApp) -> (i64, i64) {
    let body = metrics(app).await;
    let count = |pool: &str| metric(&body, &format!(r#"quire_db_reads_total{{pool="{pool}"}}"#));
    (count("primary") as i64, count("replica") as i64)
}

/// GET `path` as `browser`: 200, its body; and which pool its reads went to.
async fn read(app: &TestApp, browser: &TestApp, path: &str) -> (String, &'static str) {
    let before = reads(app).await;
    let res = browser.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    let body = res.text().await.unwrap();
    let after = reads(app).await;
    let pool = match (after.0 - before.0, after.1 - before.1) {
        (1, 0) => "primary",
        (0, 1) => "replica",
        (0, 0) => "none (the page cache)",
        _ => "both?",
    };
    (body, pool)
}

/// Until `browser`'s read of `path` is served by the replica; its body.
async fn read_from_replica(app: &TestApp, browser: &TestApp, path: &str) -> String {
    eventually(
        "a read served by the replica",
        Duration::from_secs(20),
        || async {
            match read(app, browser, path).await {
                (body, "replica") => Ok(body),
                (_, pool) => Err(pool),
            }
        },
    )
    .await
}

#[tokio::test]
async fn anonymous_reads_go_to_the_replica_and_the_admin_reads_the_primary() {
    let pair = PgPair::start().await;
    let app = spawn(&pair, |s| {
        s.cache.enabled = false;
        s.database.replica_max_lag_ms = 60_000;
    })
    .await;
    let admin = app.signed_in("root", Role::Admin).await;
    let ann = app.author("ann").await;
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "First words",
                ..Default::default()
            },
        )
        .await;
    app.until_jobs_ran().await;
    replica_is(&app, "ok").await;
    let home = read_from_replica(&app, &app, "/").await;
    assert!(home.contains("First words"), "{home}");
    let before = reads(&app).await;
    for path in [
        "/",
        &format!("/posts/{slug}"),
        "/tags",
        "/feed.xml",
        "/api/articles",
    ] {
        assert_eq!(read(&app, &app, path).await.1, "replica", "{path}");
    }
    let after = reads(&app).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (0, 5));

    // A write the site knows nothing of (straight into the primary's database), with replay
    // paused: the replica, within its bound, doesn't have it; the admin sees it at once.
    pair.pause_replay().await;
    sqlx::query("UPDATE posts SET title = 'Second words' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    let (home, pool) = read(&app, &app, "/").await;
    assert_eq!(pool, "replica");
    assert!(
        home.contains("First words") && !home.contains("Second words"),
        "the replica's copy: {home}"
    );
    let list = admin.page("/admin/posts", StatusCode::OK).await;
    assert!(list.contains("Second words"), "the primary's: {}", list.1);
    // Resumed, the replica replays it (the site reads it there meanwhile: it never knew).
    pair.resume_replay().await;
    eventually(
        "the replica's copy with the write",
        Duration::from_secs(20),
        || async {
            match read(&app, &app, "/").await {
                (home, "replica") if home.contains("Second words") => Ok(()),
                (_, pool) => Err(pool),
            }
        },
    )
    .await;

    // An API client with a token reads the primary (its next read sees its own write, with
    // nothing to remember per token), while anonymous readers read the replica.
    let token = crate::api::register(&app, "tess").await;
    read_from_replica(&app, &app, "/api/articles").await;
    let before = reads(&app).await;
    let (status, _) =
        crate::api::call(&app, Method::GET, "/api/articles", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let after = reads(&app).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 0));
}

#[tokio::test]
async fn a_writer_reads_their_write_and_the_cache_never_keeps_the_replicas_older_page() {
    let pair = PgPair::start().await;
    // A bound far off: only the newest write keeps readers off the replica here.
    let app = spawn(&pair, |s| s.database.replica_max_lag_ms = 60_000).await;
    let author = app.signed_in("ann", Role::Author).await;
    let id = write(&author, "Field notes", "Old words.", "published").await;
    app.until_jobs_ran().await;
    replica_is(&app, "ok").await;
    let path = "/posts/field-notes";
    // An anonymous reader's copy comes from the replica once it has the post, and the page
    // cache keeps it.
    let reader = TestApp::sharing(&app);
    eventually("the old page, kept", Duration::from_secs(20), || async {
        let res = reader.get(path).await;
        let hit = res.headers().get("x-cache").is_some_and(|v| v == "HIT");
        match res.text().await.unwrap() {
            body if hit && body.contains("Old words.") => Ok(()),
            body => Err((hit, body)),
        }
    })
    .await;

    pair.pause_replay().await;
    let res = save_as(&author, id, "published", "Field notes", "New words.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let before = reads(&app).await;
    // The author reads what they saved…
    let (mine, pool) = read(&app, &author, path).await;
    assert!(mine.contains("New words."), "{mine}");
    assert_eq!(pool, "primary");
    // …and so does anyone: the replica hasn't replayed the newest write, so the page is
    // made from the primary, and that is the page the cache keeps.
    let res = reader.get(path).await;
    assert_eq!(res.headers()["x-cache"], "MISS");
    let body = res.text().await.unwrap();
    assert!(body.contains("New words."), "{body}");
    let res = reader.get(path).await;
    assert_eq!(res.headers()["x-cache"], "HIT");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("New words.") && !body.contains("Old words."),
        "{body}"
    );
    let after = reads(&app).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (2, 0));
    // The replica really has only the old words meanwhile.
    let on_replica: String = sqlx::query_scalar("SELECT body_markdown FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut replica_db(&pair, &app).await)
        .await
        .unwrap();
    assert_eq!(on_replica, "Old words.");

    // Once it has replayed the write, the author's reads go back to it.
    pair.resume_replay().await;
    let mine = read_from_replica(&app, &author, path).await;
    assert!(mine.contains("New words."), "{mine}");
}

/// A connection to the test's own database on the replica.
async fn replica_db(pair: &PgPair, app: &TestApp) -> sqlx::PgConnection {
    use secrecy::ExposeSecret;
    use sqlx::Connection;
    let name = app
        .settings
        .database
        .url
        .expose_secret()
        .parse::<url::Url>()
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let url = pair
        .replica_url()
        .replace("/postgres?", &format!("/{name}?"));
    sqlx::PgConnection::connect(&url).await.unwrap()
}

#[tokio::test]
async fn a_replica_past_its_lag_bound_is_skipped_until_it_catches_up() {
    let pair = PgPair::start().await;
    let app = spawn(&pair, |s| {
        s.cache.enabled = false;
        s.database.replica_max_lag_ms = 500;
    })
    .await;
    let ann = app.author("ann").await;
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Steady",
                ..Default::default()
            },
        )
        .await;
    app.until_jobs_ran().await;
    replica_is(&app, "ok").await;
    read_from_replica(&app, &app, "/").await;

    // Replay stops, and the primary moves on by a write the site doesn't note: only the
    // bound can tell readers to go elsewhere.
    pair.pause_replay().await;
    sqlx::query("UPDATE posts SET title = 'Moved on' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    replica_is(&app, "lagging").await;
    let (home, pool) = read(&app, &app, "/").await;
    assert_eq!(pool, "primary");
    assert!(home.contains("Moved on"), "{home}");
    let body = metrics(&app).await;
    assert!(metric(&body, "quire_replica_lag_seconds") > 0.5, "{body}");
    assert!(metric(&body, "quire_replica_lag_bytes") > 0.0, "{body}");
    assert_eq!(metric(&body, "quire_replica_up"), 1.0);

    pair.resume_replay().await;
    replica_is(&app, "ok").await;
    let home = read_from_replica(&app, &app, "/").await;
    assert!(home.contains("Moved on"), "{home}");
}

#[tokio::test]
async fn a_stopped_replica_costs_readers_nothing_and_is_read_again_once_back() {
    let pair = PgPair::start().await;
    let app = spawn(&pair, |s| s.cache.enabled = false).await;
    let ann = app.author("ann").await;
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Still here",
                ..Default::default()
            },
        )
        .await;
    app.until_jobs_ran().await;
    replica_is(&app, "ok").await;
    read_from_replica(&app, &app, "/").await;

    // Readers keep coming while the replica dies and comes back.
    let reading = Arc::new(AtomicBool::new(true));
    let readers = {
        let reading = reading.clone();
        let browser = TestApp::sharing(&app);
        let post = format!("/posts/{slug}");
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while reading.load(Ordering::SeqCst) {
                for path in ["/", post.as_str(), "/api/articles"] {
                    seen.push((path.to_owned(), browser.get(path).await.status()));
                }
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    pair.stop_replica().await;
    replica_is(&app, "unavailable").await;
    let body = metrics(&app).await;
    assert_eq!(metric(&body, "quire_replica_up"), 0.0, "{body}");
    // Meanwhile every read goes to the primary.
    let before = reads(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = reads(&app).await;
    assert!(
        after.0 > before.0 && after.1 == before.1,
        "{before:?} then {after:?}"
    );

    pair.start_replica().await;
    replica_is(&app, "ok").await;
    eventually(
        "reads on the replica again",
        Duration::from_secs(20),
        || async {
            let now = reads(&app).await;
            if now.1 > after.1 { Ok(()) } else { Err(now) }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    reading.store(false, Ordering::SeqCst);
    let seen = readers.await.unwrap();
    let failed: Vec<_> = seen
        .iter()
        .filter(|(_, status)| *status != StatusCode::OK)
        .collect();
    assert!(
        seen.len() > 30 && failed.is_empty(),
        "{} reads, failed: {failed:?}",
        seen.len()
    );
}
