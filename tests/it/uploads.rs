//! Image uploads: checked by their bytes, stored by hash, served with long cache lifetimes.

use quire::accounts::model::Role;
use reqwest::{StatusCode, multipart};

use crate::harness::{TestApp, spawn_app, spawn_app_with};

/// A real 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

async fn upload(
    browser: &TestApp,
    name: &str,
    bytes: &[u8],
    token: Option<String>,
) -> reqwest::Response {
    upload_to(browser, "/admin/uploads", name, bytes, token).await
}

async fn upload_to(
    browser: &TestApp,
    path: &str,
    name: &str,
    bytes: &[u8],
    token: Option<String>,
) -> reqwest::Response {
    let token = match token {
        Some(t) => t,
        None => browser.csrf_token("/admin/media").await,
    };
    let form = multipart::Form::new().text("csrf_token", token).part(
        "file",
        multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    browser
        .client
        .post(browser.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_author_uploads_a_png_that_is_served_with_long_cache_headers() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let res = upload(&ann, "../../evil name.png", PNG, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = ann.page(&location, StatusCode::OK).await;
    let snippet = page.attr("#snippet", "value").unwrap();
    let url = snippet
        .split('(')
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    assert!(
        url.starts_with("/uploads/") && url.ends_with(".png"),
        "{url}"
    );
    let served = app.get(&url).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    // What readers get is the image made again from its pixels (no metadata), not the file.
    let served = served.bytes().await.unwrap();
    let decoded = image::load_from_memory_with_format(&served, image::ImageFormat::Png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1, 1));
    // The same bytes again are the same file.
    let again = upload(&ann, "copy.png", PNG, None).await;
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);
}

#[tokio::test]
async fn svg_html_empty_and_renamed_files_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    for (name, bytes, reason) in [
        (
            "x.svg",
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
            "HTML or SVG",
        ),
        ("x.png", &b"<html><body>hi</body></html>"[..], "HTML or SVG"),
        ("x.png", &b""[..], "The file is empty"),
        (
            "x.gif",
            &b"%PDF-1.4 not an image"[..],
            "Only PNG, JPEG, GIF and WebP",
        ),
    ] {
        let res = upload(&ann, name, bytes, None).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let body = res.text().await.unwrap();
        assert!(body.contains(reason), "{name}: {reason}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.uploads.max_bytes = 2048).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let mut big = PNG.to_vec();
    big.resize(200_000, 0);
    let res = upload(&ann, "big.png", &big, None).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Exactly at the limit is fine; one byte more is not (nothing slips through the room
    // the multipart limit leaves for the other fields).
    let mut at_limit = PNG.to_vec();
    at_limit.resize(2048, 0);
    assert_eq!(
        upload(&ann, "ok.png", &at_limit, None).await.status(),
        StatusCode::SEE_OTHER
    );
    at_limit.push(0);
    let res = upload(&ann, "over.png", &at_limit, None).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = res.text().await.unwrap();
    assert!(body.contains("Images can be at most 2 KiB"), "{body}");
}

#[tokio::test]
async fn readers_forgers_and_path_tricks_get_nothing() {
    let app = spawn_app().await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let token = rita.csrf_token("/").await;
    assert_eq!(
        upload(&rita, "x.png", PNG, Some(token)).await.status(),
        StatusCode::FORBIDDEN
    );
    let ann = app.signed_in("ann", Role::Author).await;
    assert_eq!(
        upload(&ann, "x.png", PNG, Some("forged".into()))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    for path in [
        "/uploads/..%2F..%2FCargo.toml",
        "/uploads/Cargo.toml",
        "/uploads/..%2Fconfig%2Fdefault.toml",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_image_pasted_into_the_editor_is_checked_stored_and_answered_as_json() {
    let app = spawn_app_with(|s| s.uploads.max_bytes = 64 * 1024).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let paste = "/admin/uploads/paste";
    let token = ann.csrf_token("/admin/posts/new").await;
    let res = upload_to(&ann, paste, "screenshot.png", PNG, Some(token.clone())).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: serde_json::Value = res.json().await.unwrap();
    let url = answer["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/uploads/") && url.ends_with(".png"),
        "{url}"
    );
    let served = app.get(&url).await;
    assert_eq!(served.status(), StatusCode::OK);
    let served = served.bytes().await.unwrap();
    let decoded = image::load_from_memory_with_format(&served, image::ImageFormat::Png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1, 1));
    // Not an image: the same checks as the upload page, said in JSON for the status line.
    for (name, bytes, reason) in [
        (
            "notes.txt",
            &b"just some text"[..],
            "Only PNG, JPEG, GIF and WebP",
        ),
        (
            "x.png",
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
            "HTML or SVG",
        ),
    ] {
        let res = upload_to(&ann, paste, name, bytes, Some(token.clone())).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let answer: serde_json::Value = res.json().await.unwrap();
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{name}: {error}");
    }
    let big = vec![0u8; 65 * 1024];
    let res = upload_to(&ann, paste, "big.png", &big, Some(token.clone())).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Readers, strangers and forgers get nothing stored.
    let rita = app.signed_in("rita", Role::Reader).await;
    let rita_token = rita.csrf_token("/").await;
    let res = upload_to(&rita, paste, "x.png", PNG, Some(rita_token)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = upload_to(&ann, paste, "x.png", PNG, Some("forged".into())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let stranger = TestApp::sharing(&app);
    let res = upload_to(&stranger, paste, "x.png", PNG, Some("none".into())).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}
