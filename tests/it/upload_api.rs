//! `/api/uploads`: multipart uploads with a token through the site's one door, and direct
//! uploads to a real S3 server (presign, PUT, confirm).

use quire::{config::StorageKind, media::Store};
use reqwest::{Method, StatusCode, multipart};
use serde_json::{Value, json};

use crate::{
    api::{call, register},
    harness::{S3Server, TestApp, spawn_app_with},
    uploads::PNG,
};

async fn open_site(adjust: impl FnOnce(&mut quire::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.accounts.default_role = quire::accounts::model::Role::Author;
        adjust(s);
    })
    .await
}

async fn on_s3(server: &S3Server) -> TestApp {
    let s3 = server.settings();
    open_site(|s| {
        s.uploads.storage = StorageKind::S3;
        s.uploads.s3 = s3;
    })
    .await
}

/// `POST /api/uploads` with `bytes` as the `file` part named `name`.
async fn send(app: &TestApp, token: Option<&str>, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    let mut req = app.client.post(app.url("/api/uploads")).multipart(form);
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn an_author_uploads_an_image_with_a_token_and_polls_its_state() {
    let app = open_site(|_| {}).await;
    let token = register(&app, "ann").await;
    // Control characters can't travel in a header as they are: RFC 5987 encodes them.
    let boundary = "quire-test-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename*=UTF-8''..%2Fdot%07%1B%5B31m.png\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(PNG);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = app
        .client
        .post(app.url("/api/uploads"))
        .header("Authorization", format!("Token {token}"))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let upload = &body["upload"];
    let name = upload["name"].as_str().unwrap().to_owned();
    assert!(name.len() == 68 && name.ends_with(".png"), "{name}");
    assert_eq!(upload["url"], format!("{}/uploads/{name}", app.base));
    assert_eq!(upload["contentType"], "image/png");
    assert_eq!(upload["bytes"], PNG.len());
    assert_eq!(
        (upload["width"].clone(), upload["height"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(upload["alt"], "");
    assert_eq!(upload["state"], "pending");
    assert_eq!(upload["variants"], json!([]));
    // Control characters never reach the library.
    let original: String = sqlx::query_scalar("SELECT original_name FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(original, "dot[31m.png");
    // Polling it.
    let (status, polled) = call(
        &app,
        Method::GET,
        &format!("/api/uploads/{name}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(polled["upload"]["name"], name.as_str());
    // Once processed, its variants are listed: each width in its format and WebP.
    sqlx::query("UPDATE uploads SET state = 'ready', widths = '{480}' WHERE file_name = $1")
        .bind(&name)
        .execute(&app.db)
        .await
        .unwrap();
    let (_, polled) = call(
        &app,
        Method::GET,
        &format!("/api/uploads/{name}"),
        Some(&token),
        None,
    )
    .await;
    let stem = name.trim_end_matches(".png");
    assert_eq!(
        polled["upload"]["variants"],
        json!([
            {"url": format!("{}/uploads/{stem}-480.png", app.base), "width": 480, "type": "image/png"},
            {"url": format!("{}/uploads/{stem}-480.webp", app.base), "width": 480, "type": "image/webp"},
        ])
    );
    // Without a token: 401. Someone else's upload (an author): 403. Unknown: 404.
    let (status, body) = send(&app, None, "dot.png", PNG).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let bob = register(&app, "bob").await;
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/uploads/{name}"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let unknown = format!("/api/uploads/{}.png", "d".repeat(64));
    let (status, _) = call(&app, Method::GET, &unknown, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn too_large_is_413_and_markup_is_422_by_the_bytes() {
    let app = open_site(|s| s.uploads.max_bytes = 2_000).await;
    let token = register(&app, "ann").await;
    let mut big = PNG.to_vec();
    big.resize(5_000, 0);
    let (status, body) = send(&app, Some(&token), "big.png", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["errors"].is_object(), "{body}");
    for (name, bytes) in [
        (
            "x.svg",
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
        ),
        ("x.png", b"<!doctype html><html><script>alert(1)</script>"),
        ("x.png", b""),
    ] {
        let (status, body) = send(&app, Some(&token), name, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let message = body["errors"]["file"][0].as_str().unwrap();
        assert!(!message.is_empty(), "{body}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

async fn presign(app: &TestApp, token: &str, size: usize, kind: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/uploads/presign",
        Some(token),
        Some(json!({"fileName": "big photo.png", "contentType": kind, "size": size})),
    )
    .await
}

async fn confirm(app: &TestApp, token: &str, key: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/uploads/confirm",
        Some(token),
        Some(json!({ "key": key })),
    )
    .await
}

async fn put(url: &str, bytes: &[u8]) {
    let res = reqwest::Client::new()
        .put(url)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_direct_upload_is_presigned_put_to_the_bucket_and_confirmed() {
    let server = S3Server::start().await;
    let app = on_s3(&server).await;
    let token = register(&app, "ann").await;
    let (status, body) = presign(&app, &token, PNG.len(), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["method"], "PUT");
    let key = body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("incoming/"), "{key}");
    assert!(body["expiresAt"].as_str().unwrap().contains('T'));
    let url = body["uploadUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&server.endpoint()), "{url}");

    // Confirming before the file arrived says so.
    let (status, _) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    put(&url, PNG).await;
    // Another account may not confirm it; a key never handed out is unknown.
    let bob = register(&app, "bob").await;
    let (status, _) = confirm(&app, &bob, &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = confirm(&app, &token, "incoming/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let name = body["upload"]["name"].as_str().unwrap();
    assert_eq!(body["upload"]["state"], "pending");
    let original: String = sqlx::query_scalar("SELECT original_name FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(original, "big photo.png");
    // Kept as any upload is, and the incoming object is gone, as is its key.
    assert!(server.bucket_dir().join("originals").join(name).is_file());
    assert!(!server.bucket_dir().join(&key).exists());
    let (status, _) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_direct_upload_is_held_to_the_limits_and_the_type_of_its_bytes() {
    let server = S3Server::start().await;
    let app = on_s3(&server).await;
    let max = app.settings.uploads.max_bytes;
    let token = register(&app, "ann").await;
    // Refused up front: over the limit, a type we don't take.
    let (status, _) = presign(&app, &token, max + 1, "image/png").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = presign(&app, &token, 100, "image/svg+xml").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"]["file"].is_array(), "{body}");

    // More bytes than declared: refused, and the object deleted.
    let (_, body) = presign(&app, &token, PNG.len(), "image/png").await;
    let key = body["key"].as_str().unwrap().to_owned();
    let mut bigger = PNG.to_vec();
    bigger.resize(PNG.len() + 1_000, 0);
    put(body["uploadUrl"].as_str().unwrap(), &bigger).await;
    let (status, body) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(!server.bucket_dir().join(&key).exists());

    // Declared a PNG, sent SVG: the bytes decide; refused, and deleted.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    let (_, body) = presign(&app, &token, svg.len(), "image/png").await;
    let key = body["key"].as_str().unwrap().to_owned();
    put(body["uploadUrl"].as_str().unwrap(), svg).await;
    let (status, body) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"]["file"][0]
            .as_str()
            .unwrap()
            .contains("HTML or SVG")
    );
    assert!(!server.bucket_dir().join(&key).exists());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // An expired key is unknown.
    let (_, body) = presign(&app, &token, PNG.len(), "image/png").await;
    let key = body["key"].as_str().unwrap().to_owned();
    put(body["uploadUrl"].as_str().unwrap(), PNG).await;
    sqlx::query("UPDATE upload_intents SET expires_at = now() - interval '2 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let (status, _) = confirm(&app, &token, &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The hourly chore removes what was never confirmed.
    assert!(server.bucket_dir().join(&key).exists());
    quire::jobs::NewJob::of(&quire::media::direct::PurgeIncoming {})
        .enqueue(&app.db)
        .await
        .unwrap();
    app.until_jobs_ran().await;
    assert!(!server.bucket_dir().join(&key).exists());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_intents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn presigning_needs_s3_storage() {
    let app = open_site(|_| {}).await;
    let token = register(&app, "ann").await;
    let (status, body) = presign(&app, &token, 100, "image/png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"]["storage"][0]
            .as_str()
            .unwrap()
            .starts_with("Presigned uploads need S3 storage"),
        "{body}"
    );
    // The local store has nothing to sign.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(dir.path(), "").unwrap();
    assert!(
        store
            .presigned_put("incoming/x", std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .is_none()
    );
}
