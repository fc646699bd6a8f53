//! The media store's contract, run against both backends: a local folder and a real S3
//! server (`s3s-fs`, which checks every signature). Then the store's failures (wrong keys, a
//! bucket that is down) as the app shows them, and `quire media migrate`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use quire::{
    accounts::model::Role,
    config::StorageKind,
    media::{Store, StoreError},
};
use reqwest::StatusCode;

use crate::{
    harness::{S3Server, TestApp, eventually, spawn_app_with},
    uploads::PNG,
};

/// The one contract every store keeps.
async fn contract(store: &Store) {
    let kind = store.kind();
    // Put, get, size.
    store
        .put("a.png", Bytes::from_static(b"first"), "image/png")
        .await
        .unwrap();
    assert_eq!(
        store.get("a.png").await.unwrap().as_deref(),
        Some(&b"first"[..]),
        "{kind:?}"
    );
    assert_eq!(store.size("a.png").await.unwrap(), Some(5), "{kind:?}");
    // Overwrite: the same key, the new bytes.
    store
        .put("a.png", Bytes::from_static(b"second!"), "image/png")
        .await
        .unwrap();
    assert_eq!(
        store.get("a.png").await.unwrap().as_deref(),
        Some(&b"second!"[..])
    );
    assert_eq!(store.size("a.png").await.unwrap(), Some(7));
    // What isn't there.
    assert_eq!(store.get("missing.png").await.unwrap(), None, "{kind:?}");
    assert_eq!(store.size("missing.png").await.unwrap(), None, "{kind:?}");
    // List by prefix.
    for key in ["originals/x.png", "originals/y.jpg", "x-480.webp"] {
        store
            .put(key, Bytes::from_static(b"..."), "image/png")
            .await
            .unwrap();
    }
    let mut originals = store.list("originals/").await.unwrap();
    originals.sort();
    assert_eq!(
        originals,
        vec![
            ("originals/x.png".to_owned(), 3),
            ("originals/y.jpg".to_owned(), 3)
        ],
        "{kind:?}"
    );
    let mut all: Vec<String> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    all.sort();
    assert_eq!(
        all,
        ["a.png", "originals/x.png", "originals/y.jpg", "x-480.webp"]
    );
    // Delete, twice (a key already gone is fine).
    store.delete("a.png").await.unwrap();
    assert_eq!(store.get("a.png").await.unwrap(), None);
    store.delete("a.png").await.unwrap();
    store.delete("never-was.png").await.unwrap();
    // A direct upload: only a bucket has an address to PUT to.
    let url = store
        .presigned_put("incoming/direct", Duration::from_secs(60))
        .await
        .unwrap();
    match kind {
        StorageKind::Local => assert!(url.is_none()),
        StorageKind::S3 => {
            let url = url.expect("a presigned address");
            let res = reqwest::Client::new()
                .put(url.as_str())
                .body(PNG.to_vec())
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.text().await.unwrap());
            assert_eq!(
                store.get("incoming/direct").await.unwrap().as_deref(),
                Some(PNG)
            );
            // Its signature covers the key: another key with the same query is refused.
            let other = url.as_str().replace("incoming/direct", "incoming/other");
            let res = reqwest::Client::new()
                .put(other)
                .body(PNG.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN);
            assert_eq!(store.get("incoming/other").await.unwrap(), None);
        }
    }
}

#[tokio::test]
async fn the_media_store_contract_holds_for_a_local_folder_and_a_real_s3_bucket() {
    let dir = tempfile::tempdir().unwrap();
    contract(&Store::local(dir.path(), "").unwrap()).await;
    let server = S3Server::start().await;
    contract(&Store::s3(&server.settings(), "").unwrap()).await;
    // The S3 objects are really in the bucket.
    assert!(server.bucket_dir().join("originals/x.png").is_file());
}

#[tokio::test]
async fn a_wrong_secret_is_denied_and_a_bucket_that_is_down_is_unavailable_quickly() {
    let mut server = S3Server::start().await;
    let mut wrong = server.settings();
    wrong.secret_access_key = "not-the-secret".to_owned().into();
    let store = Store::s3(&wrong, "").unwrap();
    let put = store
        .put("a.png", Bytes::from_static(b"x"), "image/png")
        .await;
    assert!(matches!(put, Err(StoreError::Denied(_))), "{put:?}");
    let get = store.get("a.png").await;
    assert!(matches!(get, Err(StoreError::Denied(_))), "{get:?}");

    let store = Store::s3(&server.settings(), "").unwrap();
    server.stop();
    let started = Instant::now();
    let put = store
        .put("a.png", Bytes::from_static(b"x"), "image/png")
        .await;
    assert!(matches!(put, Err(StoreError::Unavailable(_))), "{put:?}");
    let get = store.get("a.png").await;
    assert!(matches!(get, Err(StoreError::Unavailable(_))), "{get:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// The app with its media in `server`'s bucket.
async fn app_on(server: &S3Server) -> TestApp {
    let s3 = server.settings();
    spawn_app_with(|s| {
        s.uploads.storage = StorageKind::S3;
        s.uploads.s3 = s3;
    })
    .await
}

async fn upload(browser: &TestApp, bytes: &[u8]) -> reqwest::Response {
    let token = browser.csrf_token("/admin/media").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("dot.png"),
        );
    browser
        .client
        .post(browser.url("/admin/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_s3_storage_uploads_land_in_the_bucket_and_are_served_from_it() {
    let server = S3Server::start().await;
    let app = app_on(&server).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let res = upload(&ann, PNG).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let name: String = sqlx::query_scalar("SELECT file_name FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let original = server.bucket_dir().join("originals").join(&name);
    assert_eq!(std::fs::read(&original).unwrap(), PNG);

    // What readers get is read from the bucket (here put there directly).
    let store = Store::s3(&server.settings(), "").unwrap();
    store
        .put(&name, Bytes::from_static(PNG), "image/png")
        .await
        .unwrap();
    let res = app.get(&format!("/uploads/{name}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    let again = app
        .client
        .get(app.url(&format!("/uploads/{name}")))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // Originals are never served, and what isn't in the bucket is 404.
    let missing = format!("{}.png", "b".repeat(64));
    assert_eq!(
        app.get(&format!("/uploads/{missing}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn with_the_bucket_down_an_upload_is_a_readable_503_and_nothing_is_half_recorded() {
    let mut server = S3Server::start().await;
    let app = app_on(&server).await;
    let ann = app.signed_in("ann", Role::Author).await;
    server.stop();
    let started = Instant::now();
    let res = upload(&ann, PNG).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("<h1"), "{body}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'media.process'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn a_media_job_whose_store_is_down_is_retried_not_failed() {
    let mut server = S3Server::start().await;
    let app = app_on(&server).await;
    let ann = app.user("ann", Role::Author).await;
    // An upload received while the bucket was up, processed while it is down: the job's
    // read of the original fails as `Unavailable`, which is worth another try.
    server.stop();
    let name = format!("{}.png", "c".repeat(64));
    quire::media::repo::insert(
        &app.db,
        &quire::media::repo::NewUpload {
            file_name: &name,
            content_type: "image/png",
            bytes: 70,
            uploader: ann,
            original_name: "dot.png",
            width: 1,
            height: 1,
        },
    )
    .await
    .unwrap();
    quire::media::job::Process::queue(&app.db, &name)
        .await
        .unwrap();
    let (state, attempts): (String, i32) = eventually(
        "media.process to be tried and queued again",
        Duration::from_secs(20),
        || async {
            let row: (String, i32) = sqlx::query_as(
                "SELECT state::text, attempts FROM jobs WHERE kind = 'media.process'",
            )
            .fetch_one(&app.db)
            .await
            .unwrap();
            if row.1 > 0 && row.0 != "running" {
                Ok(row)
            } else {
                Err(row)
            }
        },
    )
    .await;
    assert_eq!(state, "queued", "attempts {attempts}");
    let upload_state: String = sqlx::query_scalar("SELECT state FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(upload_state, "pending");
}

/// `quire media migrate` against this app's database, its local folder and `server`.
fn migrate(app: &TestApp, server: &S3Server, to: &str) -> std::process::Output {
    let s3 = server.settings();
    app.quire_command()
        .args(["media", "migrate", "--to", to])
        .env("QUIRE__UPLOADS__DIR", &app.settings.uploads.dir)
        .env("QUIRE__UPLOADS__S3__BUCKET", &s3.bucket)
        .env("QUIRE__UPLOADS__S3__ENDPOINT", &s3.endpoint)
        .env("QUIRE__UPLOADS__S3__PATH_STYLE", "true")
        .env("QUIRE__UPLOADS__S3__ACCESS_KEY_ID", &s3.access_key_id)
        .env(
            "QUIRE__UPLOADS__S3__SECRET_ACCESS_KEY",
            crate::harness::S3_SECRET_KEY,
        )
        .env("QUIRE__UPLOADS__S3__TIMEOUT_SECS", "3")
        .output()
        .unwrap()
}

#[tokio::test]
async fn media_migrate_copies_the_local_library_into_the_bucket_and_resumes() {
    let mut server = S3Server::start().await;
    let app = spawn_app_with(|_| {}).await;
    let local = Store::local(&app.settings.uploads.dir, "").unwrap();
    let keys = [
        format!("{}.png", "a".repeat(64)),
        format!("{}-480.webp", "a".repeat(64)),
        format!("originals/{}.png", "a".repeat(64)),
        format!("{}.jpg", "e".repeat(64)),
    ];
    for (i, key) in keys.iter().enumerate() {
        local
            .put(key, Bytes::from(vec![i as u8; 1000 + i]), "image/png")
            .await
            .unwrap();
    }
    // One of them is in the bucket already (a run that stopped half-way).
    let bucket = Store::s3(&server.settings(), "").unwrap();
    bucket
        .put(&keys[0], Bytes::from(vec![0u8; 1000]), "image/png")
        .await
        .unwrap();

    let out = migrate(&app, &server, "s3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("copied 3 files"), "{stdout}");
    assert!(stdout.contains("1 already there"), "{stdout}");
    assert!(stdout.contains("uploads.storage = \"s3\""), "{stdout}");
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            bucket.get(key).await.unwrap().unwrap().len(),
            1000 + i,
            "{key}"
        );
    }
    // Again: nothing left to copy.
    let out = migrate(&app, &server, "s3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("copied 0 files"), "{stdout}");
    assert!(stdout.contains("4 already there"), "{stdout}");

    // And back, into an empty folder.
    std::fs::remove_dir_all(&app.settings.uploads.dir).unwrap();
    let out = migrate(&app, &server, "local");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("copied 4 files"), "{stdout}");
    assert_eq!(
        std::fs::read(app.settings.uploads.dir.join(&keys[2])).unwrap(),
        vec![2u8; 1002]
    );

    // The bucket down: a clear message and a failing exit, nothing claimed.
    local
        .put("fresh.png", Bytes::from_static(b"new"), "image/png")
        .await
        .unwrap();
    server.stop();
    let out = migrate(&app, &server, "s3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unavailable"), "{stderr}");
    assert!(stderr.contains("Run the same command again"), "{stderr}");
}
