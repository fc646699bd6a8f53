//! Limits and hostile input: long posts and comments are kept, not refused as "expired";
//! each refusal has its own status and says why; `next` never leaves the site; NUL bytes and
//! control characters never reach a page, a feed or the database; sessions end when they
//! should; and the pages made for one person are never cached.

use std::time::{Duration, Instant};

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PASSWORD, PostSpec, TestApp, spawn_app, spawn_app_with};

/// POST the editor form for a new post with `body`.
async fn new_post(browser: &TestApp, title: &str, body: &str, intent: &str) -> reqwest::Response {
    browser
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", title),
                ("body", body),
                ("status", "published"),
                ("intent", intent),
            ],
        )
        .await
}

fn id_from(res: &reqwest::Response) -> i64 {
    res.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/admin/posts/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_post_of_a_whole_mebibyte_saves_previews_diffs_and_restores() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;

    // A 2,500-word article (15,000 characters) used to be refused as an expired form.
    let article = "Words of a long article. ".repeat(600);
    let res = new_post(&ann, "Long read", &article, "save").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Exactly `posts.max_body_bytes` (1 MiB) of Markdown, in two-byte characters, so the
    // form body is three times that once percent-encoded.
    let max = app.settings.posts.max_body_bytes;
    let big = "é".repeat(max / 2);
    assert_eq!(big.len(), max);
    let res = new_post(&ann, "Big", &big, "preview").await;
    assert_eq!(res.status(), StatusCode::OK, "preview");
    assert!(res.text().await.unwrap().contains("éééé"));
    let res = new_post(&ann, "Big", &big, "save").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "save");
    let id = id_from(&res);
    let stored: i32 =
        sqlx::query_scalar("SELECT octet_length(body_markdown) FROM posts WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored as usize, max);

    // Edit it (a second revision), compare the first with it, and restore the first.
    let page = ann
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    let token = page.attr("input[name=csrf_token]", "value").unwrap();
    let version = page.attr("input[name=version]", "value").unwrap();
    let edited = format!("{}x", &big[..max - 2]);
    let res = ann
        .client
        .post(ann.url(&format!("/admin/posts/{id}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", version.as_str()),
            ("title", "Big"),
            ("body", edited.as_str()),
            ("status", "published"),
            ("intent", "save"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let first: i64 = sqlx::query_scalar("SELECT min(id) FROM post_revisions WHERE post_id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    ann.page(
        &format!("/admin/posts/{id}/revisions/{first}"),
        StatusCode::OK,
    )
    .await;
    let res = ann
        .submit(
            &format!("/admin/posts/{id}/revisions/{first}"),
            &format!("/admin/posts/{id}/revisions/{first}/restore"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body: String = sqlx::query_scalar("SELECT body_markdown FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(body == big, "restored");
}

#[tokio::test]
async fn a_post_over_the_limit_is_413_with_the_text_kept_and_the_limit_named() {
    let app = spawn_app_with(|s| s.posts.max_body_bytes = 4096).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let body = format!("{}tail-marker", "a".repeat(4096));
    for intent in ["save", "preview"] {
        let res = new_post(&ann, "Too long", &body, intent).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{intent}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("at most 4 KiB of Markdown"),
            "{intent}: {page}"
        );
        assert!(
            page.contains("tail-marker"),
            "{intent}: the author's text is in the form"
        );
        assert!(
            page.contains("name=\"body\""),
            "{intent}: the editor itself"
        );
    }
    // A body far past anything the editor accepts is refused before it is read in full.
    let huge = "a".repeat(64 * 1024 + 3 * 4096 + 10);
    let res = new_post(&ann, "Huge", &huge, "save").await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("at most 4 KiB of Markdown")
    );
}

#[tokio::test]
async fn a_long_comment_counts_characters_not_bytes() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let slug = app.post(ann, PostSpec::default()).await;
    let reader = app.signed_in("rita", Role::Reader).await;
    let page = format!("/posts/{slug}");
    let action = format!("/posts/{slug}/comments");
    let comment = |body: String| {
        let (reader, page, action) = (&reader, &page, &action);
        async move { reader.submit(page, action, &[("body", &body)]).await }
    };
    // 4,000 "é" are 8,000 bytes, 24,000 once percent-encoded: under the 5,000 characters.
    let res = comment("é".repeat(4000)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // 5,000 four-byte characters still fit the form; 5,001 are refused by the rule.
    let res = comment("😀".repeat(5000)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = comment("😀".repeat(5001)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("at most 5000 characters"), "{body}");
}

#[tokio::test]
async fn only_a_bad_token_is_403_a_bad_field_is_400_other_methods_405() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = id_from(&new_post(&ann, "First", "Text", "save").await);
    let token = ann.csrf_token("/admin/posts/new").await;
    let post = |fields: Vec<(&'static str, String)>| {
        let ann = &ann;
        async move {
            ann.client
                .post(ann.url("/admin/tags/1/merge"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    // No token, a wrong one: 403 "expired".
    for fields in [vec![], vec![("csrf_token", "nope".to_owned())]] {
        let res = post(fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    // A field that doesn't parse: 400, naming it.
    let res = ann
        .client
        .post(ann.url("/admin/users/1/role"))
        .form(&[("csrf_token", token.as_str()), ("role", "emperor")])
        .send()
        .await
        .unwrap();
    assert!(res.status() == StatusCode::BAD_REQUEST || res.status() == StatusCode::FORBIDDEN);
    // The editor's version field, damaged: the form comes back with the text.
    let res = ann
        .client
        .post(ann.url(&format!("/admin/posts/{id}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("version", "not-a-number"),
            ("title", "Kept title"),
            ("body", "Kept body text"),
            ("intent", "save"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("Kept body text"), "{page}");
    // A body that isn't a form at all, with a token header or not: no token was read.
    let res = ann
        .client
        .post(ann.url("/admin/posts"))
        .header("content-type", "application/json")
        .body("{\"title\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Other methods on a page route: 405 in the site's layout, with Allow.
    for (method, path) in [
        (reqwest::Method::PUT, "/login"),
        (reqwest::Method::DELETE, "/admin/posts"),
        (reqwest::Method::PATCH, "/"),
        (reqwest::Method::POST, "/feed.xml"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(res.text().await.unwrap().contains("Method not allowed"));
    }
    assert_eq!(
        app.get("/no-such-page").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_form_field_that_does_not_parse_is_400_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let token = admin.csrf_token("/admin/users").await;
    // A field sent twice can't be one value.
    let res = admin
        .client
        .post(admin.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&login=a&login=b&password=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.unwrap();
    assert!(body.contains("login"), "{body}");
}

#[tokio::test]
async fn next_is_a_path_on_this_site_or_home_and_never_a_500() {
    let app = spawn_app().await;
    app.register("hal").await;
    for (next, expected) in [
        ("/posts/x?a=1", "/posts/x?a=1"),
        ("/\t/evil.example/x", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\nSet-Cookie: a=b", "/"),
        ("/\u{b}/evil.example", "/"),
        ("/\u{c}/evil.example", "/"),
        ("/\u{7f}", "/"),
        ("\\\\evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("/%2F/evil.example", "/"),
        ("/..//evil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        // Typed into the login form's hidden field.
        let browser = TestApp::sharing(&app);
        let res = browser
            .submit(
                "/login",
                "/login",
                &[("login", "hal"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(res.headers()["location"], expected, "{next:?}");
        // And in the query of an already logged-in visit to /login.
        let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let res = browser.get(&format!("/login?next={encoded}")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(res.headers()["location"], expected, "{next:?}");
    }
    // The raw `/%09/` form of the attack, in the login page's query.
    let res = app.get("/login?next=/%09/evil.example/x").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    // A NUL is refused outright, before any handler.
    let stranger = TestApp::sharing(&app);
    assert_eq!(
        stranger.get("/login?next=/%00x").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_nul_byte_in_any_field_is_400_and_never_reaches_the_database() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let slug = app.post(app.author("bob").await, PostSpec::default()).await;
    let anonymous = TestApp::sharing(&app);
    for (browser, form_page, path, field) in [
        (&anonymous, "/login", "/login", "login"),
        (&anonymous, "/login", "/login", "password"),
        (&anonymous, "/register", "/register", "username"),
        (&ann, "/admin/posts/new", "/admin/posts", "title"),
        (&ann, "/admin/posts/new", "/admin/posts", "body"),
        (&ann, "/account", "/account/profile", "display_name"),
        (
            &ann,
            &format!("/posts/{slug}"),
            &format!("/posts/{slug}/comments"),
            "body",
        ),
    ] {
        let res = browser
            .submit(form_page, path, &[(field, "a\0b"), ("title", "T")])
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {field}");
        let body = res.text().await.unwrap();
        assert!(body.contains("NUL"), "{path} {field}: {body}");
    }
    for path in ["/?page=%00", "/admin/posts?q=%00", "/admin/users?q=a%00"] {
        assert_eq!(
            ann.get(path).await.status(),
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
}

#[tokio::test]
async fn control_characters_never_break_the_feed() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    // Through the editor: dropped on the way in.
    let res = new_post(
        &ann,
        "Bell\u{7}and\u{b}tab",
        "Body \u{1b}[31m red \u{1}",
        "save",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let title: String = sqlx::query_scalar("SELECT title FROM posts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(title, "Belland\u{b}tab".replace('\u{b}', ""));
    // Already in the database (saved before this rule, or by a script): dropped on the way out.
    let bob = app.author("bob").await;
    app.post(
        bob,
        PostSpec {
            title: "Old \u{fffe} title",
            body: "Old \u{b} body \u{1b}",
            excerpt: "Ex\u{1}cerpt",
            tags: &["tag\u{c}one"],
            ..Default::default()
        },
    )
    .await;
    let feed = app.get("/feed.xml").await.text().await.unwrap();
    roxmltree::Document::parse(&feed).expect("the feed is well-formed XML");
    assert!(feed.contains("Old  title"), "{feed}");
}

#[tokio::test]
async fn deeply_nested_markdown_is_bounded_and_rendering_never_starves_readers() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let slug = app.post(app.author("bob").await, PostSpec::default()).await;
    let attack = "- ".repeat(8_000) + "x";
    // Sixteen previews at once (the attack of the report), and a reader at the same time.
    let previews = (0..16).map(|_| new_post(&ann, "Nest", &attack, "preview"));
    let reader = async {
        // Time is the point: the previews are under way when the reader comes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let status = app.get(&format!("/posts/{slug}")).await.status();
        (status, start.elapsed())
    };
    let (results, (status, took)) = tokio::join!(futures_util::future::join_all(previews), reader);
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_secs(2), "the reader waited {took:?}");
    let mut rendered = 0;
    for res in results {
        match res.status() {
            StatusCode::OK => {
                let page = res.text().await.unwrap();
                let depth = page.matches("<ul>").count();
                assert!(depth <= 40, "nesting bounded: {depth}");
                rendered += 1;
            }
            // Previews are rate limited per person.
            s => assert_eq!(s, StatusCode::TOO_MANY_REQUESTS),
        }
    }
    assert!(rendered > 0);
}

#[tokio::test]
async fn previews_and_comment_edits_are_rate_limited() {
    let app = spawn_app_with(|s| s.posts.render_ms_per_minute = 100).await;
    let ann = app.signed_in("ann", Role::Author).await;
    // Previews are held by the account's render time (render::budget), not a count: small
    // ones go on, heavy ones run out, and the refusal keeps the text.
    for _ in 0..5 {
        assert_eq!(
            new_post(&ann, "P", "text", "preview").await.status(),
            StatusCode::OK
        );
    }
    let heavy = "```rust\nfn f() { let x = 1; }\n```\n\n".repeat(4000);
    let mut refused = None;
    for _ in 0..40 {
        let res = new_post(&ann, "P", &heavy, "preview").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res.text().await.unwrap());
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
    }
    let page = refused.expect("heavy previews run out of render time");
    assert!(page.contains("your text is kept"), "{page}");
    assert!(page.contains("fn f()"), "the text is in the form");

    let slug = app.post(app.author("bob").await, PostSpec::default()).await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = rita
        .submit(
            &format!("/posts/{slug}"),
            &format!("/posts/{slug}/comments"),
            &[("body", "hi")],
        )
        .await;
    let id = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit("comment-")
        .next()
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for i in 0..6 {
        let res = rita
            .submit(
                &format!("/comments/{id}/edit"),
                &format!("/comments/{id}"),
                &[("body", &format!("edit {i}"))],
            )
            .await;
        statuses.push(res.status());
    }
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    conn.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let start = Instant::now();
    let mut reply = Vec::new();
    // One byte every 200 ms, for up to 20 s: the body deadline (2 s in tests) ends it.
    for _ in 0..100 {
        if conn.write_all(b"a").await.is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                reply.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "cut off after {:?}",
        start.elapsed()
    );
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
}

#[tokio::test]
async fn a_password_change_or_log_out_everywhere_ends_every_other_session() {
    let app = spawn_app().await;
    app.register("ivy").await;
    let laptop = TestApp::sharing(&app);
    assert_eq!(
        laptop.log_in("ivy", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let phone = TestApp::sharing(&app);
    assert_eq!(
        phone.log_in("ivy", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    let new_password = "an entirely new passphrase";
    let res = app
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.viewer_name().await.as_deref(),
        Some("ivy"),
        "this one stays"
    );
    assert_eq!(laptop.viewer_name().await, None, "the others are over");
    assert_eq!(phone.viewer_name().await, None);

    assert_eq!(
        laptop.log_in("ivy", new_password).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = app.page("/account", StatusCode::OK).await;
    assert!(page.contains("Log out everywhere else"));
    let res = app.submit("/account", "/account/sessions", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.viewer_name().await.as_deref(), Some("ivy"));
    assert_eq!(laptop.viewer_name().await, None);
}

#[tokio::test]
async fn pages_with_a_name_or_a_token_are_never_cached() {
    let app = spawn_app().await;
    let slug = app.post(app.author("bob").await, PostSpec::default()).await;
    // Anonymous reading pages carry no token: they may be cached.
    let res = app.get(&format!("/posts/{slug}")).await;
    assert_ne!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("private, no-store".to_owned())
    );
    // A form's token, or a logged-in person's name in the header: never.
    for path in ["/login", "/register"] {
        let res = app.get(path).await;
        assert_eq!(
            res.headers()["cache-control"],
            "private, no-store",
            "{path}"
        );
    }
    let rita = app.signed_in("rita", Role::Reader).await;
    for path in [
        "/".to_owned(),
        format!("/posts/{slug}"),
        "/account".to_owned(),
        "/tags/x".to_owned(),
    ] {
        let res = rita.get(&path).await;
        assert_eq!(
            res.headers()["cache-control"],
            "private, no-store",
            "{path}"
        );
    }
}

/// 200 simultaneous failed logins (no account needed) once took the server from 170 MB to
/// 6.7 GB. Now hashing is bounded and its memory reused: the app (in this process) grows by
/// a bounded amount, and stays there.
#[tokio::test]
async fn a_burst_of_logins_costs_bounded_memory() {
    let app = spawn_app_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let mut browsers = Vec::new();
    for i in 0..200 {
        let browser = TestApp::sharing(&app);
        let token = browser.csrf_token("/login").await;
        browsers.push((browser, token, format!("10.4.{}.{}", i / 200, i % 200)));
    }
    let before = resident_mib();
    for _round in 0..3 {
        let requests = browsers
            .iter()
            .enumerate()
            .map(|(i, (browser, token, ip))| {
                let login = format!("nobody{i}");
                browser
                    .client
                    .post(app.url("/login"))
                    .header("x-forwarded-for", ip.as_str())
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("login", login.as_str()),
                        ("password", "wrong password!!"),
                    ])
                    .send()
            });
        let responses = futures_util::future::join_all(requests).await;
        for res in responses {
            let status = res.unwrap().status();
            assert!(
                status == StatusCode::UNPROCESSABLE_ENTITY
                    || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status}"
            );
        }
    }
    let after = resident_mib();
    println!("resident memory: {before} MiB before, {after} MiB after 3 bursts of 200 logins");
    // Two hashing buffers of 19 MiB plus slack; unbounded, this was gigabytes.
    assert!(after - before < 120, "grew from {before} to {after} MiB");
    // A login that finds the hasher busy is told to come back, not queued.
    let res = TestApp::sharing(&app).log_in("nobody", "x").await;
    assert!(res.status() == StatusCode::UNPROCESSABLE_ENTITY);
}

fn resident_mib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test]
async fn link_forms_may_lead_to_the_configured_providers_only() {
    let app = spawn_app().await;
    let csp = app.get("/").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(!csp.contains("github.com"), "no provider configured: {csp}");
    let with_github = spawn_app_with(|s| {
        s.oauth.github.client_id = "id".into();
        s.oauth.github.client_secret = "secret".to_owned().into();
    })
    .await;
    let csp = with_github.get("/").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.ends_with("form-action 'self' https://github.com"),
        "{csp}"
    );
}

/// Send `head` (and `partial`, a body cut short) on a raw connection; the first bytes of
/// the reply, and how long they took (10 s at most).
async fn raw_reply(app: &TestApp, head: &str, partial: &str) -> (String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let start = Instant::now();
    conn.write_all(format!("{head}{partial}").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    (
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        start.elapsed(),
    )
}

/// Issue 24: a body that stops coming is 408 after `http.body_timeout_secs` (2 s in tests),
/// under /api too (it was 400 there), as our page or our JSON.
#[tokio::test]
async fn a_body_that_never_comes_is_408_for_pages_and_the_api() {
    let app = spawn_app().await;
    for (path, content_type, partial, shape) in [
        (
            "/api/users/login",
            "application/json",
            r#"{"user":"#,
            "application/json",
        ),
        (
            "/login",
            "application/x-www-form-urlencoded",
            "login=ada",
            "text/html",
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: 100\r\n\r\n"
        );
        let (reply, took) = raw_reply(&app, &head, partial).await;
        assert!(reply.starts_with("HTTP/1.1 408"), "{path}: {reply}");
        assert!(
            reply
                .to_lowercase()
                .contains(&format!("content-type: {shape}")),
            "{path}: {reply}"
        );
        assert!(reply.contains("too long"), "{path}: {reply}");
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
            "{path}: after {took:?}"
        );
    }
}

/// Issue 24: a body announced larger than the limit is refused with 413 before any of it
/// is read, instead of holding the connection until the body deadline.
#[tokio::test]
async fn a_body_announced_over_the_limit_is_413_at_once() {
    let app = spawn_app().await;
    for (path, content_type, shape) in [
        ("/api/users/login", "application/json", "application/json"),
        ("/api/users", "application/json", "application/json"),
        ("/login", "application/x-www-form-urlencoded", "text/html"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: 1000000000\r\n\r\n"
        );
        let (reply, took) = raw_reply(&app, &head, "").await;
        assert!(reply.starts_with("HTTP/1.1 413"), "{path}: {reply}");
        assert!(
            reply
                .to_lowercase()
                .contains(&format!("content-type: {shape}")),
            "{path}: {reply}"
        );
        assert!(took < Duration::from_secs(1), "{path}: after {took:?}");
    }
}
