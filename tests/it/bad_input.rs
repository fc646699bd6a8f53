//! Bad input gets a clear 4xx page, never a 500.

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::spawn_app;

#[tokio::test]
async fn malformed_page_numbers_are_400_pages_that_say_why() {
    let app = spawn_app().await;
    for q in ["0", "-3", "abc", "99999999999", "1.5", "", "%FF"] {
        let page = app
            .page(&format!("/?page={q}"), StatusCode::BAD_REQUEST)
            .await;
        assert!(page.contains("page must be a whole number"), "?page={q}");
        for path in ["/tags/x", "/authors/ada"] {
            let status = app.get(&format!("{path}?page={q}")).await.status();
            // Query errors are checked before the tag or author is looked up.
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?page={q}");
        }
    }
}

#[tokio::test]
async fn a_page_past_the_end_is_404_but_an_empty_first_page_is_fine() {
    let app = spawn_app().await;
    app.page("/", StatusCode::OK).await;
    app.page("/?page=1", StatusCode::OK).await;
    app.page("/?page=2", StatusCode::NOT_FOUND).await;
    app.page("/?page=100000", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn odd_paths_are_404_never_500() {
    let app = spawn_app().await;
    let long = "a".repeat(5000);
    for path in [
        "/posts/%FF%FE".to_owned(),
        "/posts/%00".to_owned(),
        "/posts/UPPER".to_owned(),
        "/posts/a--b".to_owned(),
        format!("/posts/{long}"),
        "/authors/%E2%80%AE".to_owned(),
        "/tags/..%2F..%2Fetc".to_owned(),
        format!("/{long}"),
    ] {
        let status = app.get(&path).await.status();
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}",
            &path[..path.len().min(40)]
        );
    }
}

#[tokio::test]
async fn a_huge_request_line_is_refused_with_a_4xx() {
    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let path = "x".repeat(100_000);
    let req = format!("GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(req.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(40)]).to_string();
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
}

#[tokio::test]
async fn non_utf8_bytes_in_the_raw_path_are_refused_cleanly() {
    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /posts/\xff\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(40)]).to_string();
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
}

#[tokio::test]
async fn head_requests_get_the_headers_of_get_without_a_body() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app.posts(ada, 1, &[]).await.remove(0);
    for path in [
        "/".to_owned(),
        format!("/posts/{slug}"),
        "/feed.xml".to_owned(),
        "/healthz".to_owned(),
    ] {
        let res = app.client.head(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.text().await.unwrap().is_empty(), "{path}");
    }
    let missing = app
        .client
        .head(app.url("/posts/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_methods_on_pages_are_refused_with_a_4xx() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let status = app
            .client
            .request(method.clone(), app.url("/"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{method}: {status}");
    }
}

#[tokio::test]
async fn an_internal_error_is_a_500_page_in_the_layout_that_hides_the_cause() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app.posts(ada, 1, &[]).await.remove(0);
    // Break the schema under the app: its query now fails for a reason that is ours, not the
    // reader's.
    sqlx::query("ALTER TABLE users RENAME COLUMN bio TO biography")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.get(&format!("/posts/{slug}")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    let page = scraper::Html::parse_document(&body);
    let h1 = scraper::Selector::parse("h1").unwrap();
    assert_eq!(
        page.select(&h1).next().unwrap().text().collect::<String>(),
        "Something went wrong"
    );
    assert!(body.contains(&request_id), "the page quotes the request id");
    assert!(body.contains("/static/css/site."), "in the site layout");
    assert!(
        !body.contains("bio") && !body.contains("column"),
        "no cause leaks: {body}"
    );
}
