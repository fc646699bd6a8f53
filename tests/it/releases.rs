//! Migrations are safe under rolling deploys: the previous release's binary serves the
//! newest schema (README, "Migrations and rolling deploys"). During a deploy the new
//! release's migrations run while the old instances still serve, and an old instance may
//! restart before its turn comes.
//!
//! `scripts/test.sh` builds the previous release (the newest `v*` tag below HEAD) into
//! `target/previous/` and names it in `QUIRE_PREVIOUS_BIN`, with its checkout (for its
//! `config/`) in `QUIRE_PREVIOUS_DIR`.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use quire::posts::model::PostStatus;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::harness::{PostSpec, spawn_app};

#[tokio::test]
async fn the_previous_release_serves_the_newest_schema() {
    let (Some(binary), Some(dir)) = (
        std::env::var_os("QUIRE_PREVIOUS_BIN"),
        std::env::var_os("QUIRE_PREVIOUS_DIR"),
    ) else {
        panic!(
            "QUIRE_PREVIOUS_BIN is not set: run the tests with `bash scripts/test.sh`, which \
             builds the previous release (the newest v* tag) first"
        );
    };
    // This release made the schema and the content.
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Written by the new release",
                body: "Rolling *deploys* keep the lights on.",
                tags: &["operations"],
                ..Default::default()
            },
        )
        .await;
    app.post(
        ada,
        PostSpec {
            title: "A draft nobody sees",
            status: PostStatus::Draft,
            ..Default::default()
        },
    )
    .await;

    // The previous release starts on it (migrating: nothing it knows is missing) and serves.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let settings = &app.settings;
    let log = std::env::temp_dir().join(format!("{}-previous.log", settings.redis.key_prefix));
    let mut old = Command::new(&binary)
        .arg("serve")
        .current_dir(&dir)
        .env("QUIRE_ENV", "test")
        .env("DATABASE_URL", settings.database.url.expose_secret())
        .env("REDIS_URL", settings.redis.url.expose_secret())
        .env("QUIRE__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .env("QUIRE__UPLOADS__DIR", &settings.uploads.dir)
        .env("PORT", port.to_string())
        .env("BASE_URL", &base)
        .stdout(std::fs::File::create(&log).expect("a log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("the previous release starts");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..400 {
        let answer = http.get(format!("{base}/readyz")).send().await;
        if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        let _ = old.kill();
        let _ = old.wait();
        panic!(
            "the previous release did not start on the newest schema:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    let reads = [
        ("/".to_owned(), "Written by the new release"),
        (format!("/posts/{slug}"), "keep the lights on"),
        ("/tags/operations".to_owned(), "Written by the new release"),
        ("/authors/ada".to_owned(), "Written by the new release"),
        ("/search?q=deploys".to_owned(), "Written by the new release"),
        ("/feed.xml".to_owned(), "Written by the new release"),
        ("/sitemap.xml".to_owned(), &slug),
        ("/api/articles".to_owned(), "Written by the new release"),
        (format!("/api/articles/{slug}"), "keep the lights on"),
        ("/api/tags".to_owned(), "operations"),
    ];
    let mut failed = Vec::new();
    for (path, expected) in &reads {
        match http.get(format!("{base}{path}")).send().await {
            Ok(res) => {
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                if status != StatusCode::OK || !body.contains(*expected) {
                    failed.push(format!("{path}: {status}, {expected:?} missing"));
                }
                assert!(
                    !body.contains("A draft nobody sees"),
                    "{path} shows a draft"
                );
            }
            Err(e) => failed.push(format!("{path}: {e}")),
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &old.id().to_string()])
        .status();
    let _ = tokio::task::spawn_blocking(move || old.wait()).await;
    assert!(
        failed.is_empty(),
        "the previous release's reads: {failed:#?}"
    );
}
