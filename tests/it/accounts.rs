//! Accounts: first-run setup, registration, logging in and out, sessions and CSRF.

use reqwest::StatusCode;

use crate::harness::{PASSWORD, spawn_app, spawn_app_with};

async fn role_of(app: &crate::harness::TestApp, username: &str) -> String {
    sqlx::query_scalar("SELECT role::text FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_first_visitor_creates_the_admin_and_then_setup_is_gone() {
    let app = spawn_app().await;
    let form = app.page("/setup", reqwest::StatusCode::OK).await;
    // Every input has a label.
    for id in form.attrs("form input:not([type=hidden])", "id") {
        assert_eq!(
            form.attrs(&format!("label[for={id}]"), "for").len(),
            1,
            "{id} has no label"
        );
    }
    let bad = app
        .submit(
            "/setup",
            "/setup",
            &[("username", "x"), ("email", "nope"), ("password", "short")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = scraper::Html::parse_document(&bad.text().await.unwrap());
    let errors: Vec<String> = page
        .select(&scraper::Selector::parse(".field-error").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");

    let ok = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("username", "Root"),
                ("email", "root@example.com"),
                ("display_name", "The Admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.viewer_name().await.as_deref(), Some("The Admin"));
    assert_eq!(role_of(&app, "root").await, "admin");

    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
    let other = app.other_client();
    let again = other.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registering_logs_in_with_the_default_role_and_refuses_duplicates() {
    let app = spawn_app().await;
    let res = app.register("newbie").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.viewer_name().await.as_deref(), Some("newbie"));
    assert_eq!(role_of(&app, "newbie").await, "reader");

    let other =
        spawn_app_with(|s| s.accounts.default_role = quire::accounts::model::Role::Author).await;
    other.register("writer").await;
    assert_eq!(role_of(&other, "writer").await, "author");

    // A second browser tries the same name and email: the form comes back with the input kept.
    let app2 = crate::harness::TestApp::sharing(&app);
    let dup = app2
        .submit(
            "/register",
            "/register",
            &[
                ("username", "NEWBIE"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(dup.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = dup.text().await.unwrap();
    assert!(body.contains("is taken"), "{body}");
    assert!(body.contains(r#"value="x@example.com""#), "input kept");
    assert!(!body.contains(PASSWORD), "passwords are never echoed");
}

#[tokio::test]
async fn weak_passwords_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for (password, reason) in [
        ("short", "at least 10"),
        ("password123", "most common"),
        ("myname-is-carol-ok", "contain the username"),
    ] {
        let res = app
            .submit(
                "/register",
                "/register",
                &[
                    ("username", "carol"),
                    ("email", "c@example.com"),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert!(res.text().await.unwrap().contains(reason), "{password}");
    }
}

#[tokio::test]
async fn login_failures_never_tell_whether_the_account_exists() {
    let app = spawn_app().await;
    app.register("dana").await;
    let fresh = crate::harness::TestApp::sharing(&app);
    let wrong_password = fresh.log_in("dana", "not the password at all").await;
    let no_account = fresh.log_in("nobody", "not the password at all").await;
    assert_eq!(wrong_password.status(), no_account.status());
    assert_eq!(wrong_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (a, b) = (
        wrong_password.text().await.unwrap(),
        no_account.text().await.unwrap(),
    );
    assert!(
        a.contains("Incorrect username or password.")
            && b.contains("Incorrect username or password.")
    );

    let ok = fresh.log_in("DANA@example.com", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(fresh.viewer_name().await.as_deref(), Some("dana"));
}

#[tokio::test]
async fn login_renews_the_session_id_and_logout_destroys_it() {
    let app = spawn_app().await;
    app.register("erin").await;
    let browser = crate::harness::TestApp::sharing(&app);
    browser.csrf_token("/login").await; // an anonymous session exists now
    let before = browser.session_cookie().unwrap();
    browser.log_in("erin", PASSWORD).await;
    let after = browser.session_cookie().unwrap();
    assert_ne!(before, after, "the session id changes at login");

    let res = browser.submit("/", "/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.viewer_name().await, None);
    // The old cookie, replayed by someone who stole it, is worth nothing now.
    let thief = app.other_client();
    let page = thief
        .get(app.url("/"))
        .header("cookie", format!("quire_session={after}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("class=\"viewer\""),
        "the session is gone from Redis"
    );
}

#[tokio::test]
async fn session_cookies_are_httponly_lax_and_secure_on_https() {
    let app = spawn_app().await;
    let res = app.get("/login").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");

    let https =
        spawn_app_with(|s| s.http.base_url = "https://blog.example.com".parse().unwrap()).await;
    let res = https.get("/login").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_post_without_this_sessions_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let form = [
        ("username", "mallory"),
        ("email", "m@example.com"),
        ("password", PASSWORD),
    ];
    let no_token = app
        .client
        .post(app.url("/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    // A token from another session (an attacker's own) is just as useless.
    let attacker = crate::harness::TestApp::sharing(&app);
    let their_token = attacker.csrf_token("/register").await;
    app.csrf_token("/register").await;
    let mut forged = vec![("csrf_token", their_token.as_str())];
    forged.extend_from_slice(&form);
    let res = app
        .client
        .post(app.url("/register"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("This form has expired"));
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
    let logout = app.client.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_eleventh_failed_login_in_the_window_is_429_per_address_and_per_account() {
    let app =
        spawn_app_with(|s| s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    app.register("frank").await;
    let attempt = |ip: &'static str, login: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let browser = crate::harness::TestApp::sharing(app);
            let token = browser.csrf_token("/login").await;
            browser
                .client
                .post(app.url("/login"))
                .header("x-forwarded-for", ip)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("login", login),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Per account: ten wrong passwords from ten addresses; the eleventh try is refused even
    // with the right password.
    let ips = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.8",
        "10.0.0.9",
        "10.0.0.10",
    ];
    for ip in ips {
        let res = attempt(ip, "frank", "wrong password!!").await;
        let status = res.status();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ip}: {}",
            res.text().await.unwrap()
        );
    }
    let blocked = attempt("10.0.0.11", "frank", PASSWORD).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    assert!(
        blocked
            .text()
            .await
            .unwrap()
            .contains("Too many failed attempts")
    );

    // Per address: ten unknown accounts from one address, then anyone from there is refused.
    let names = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10"];
    for name in names {
        assert_eq!(
            attempt("10.9.9.9", name, "wrong password!!").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        attempt("10.9.9.9", "someone", "x").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another address is unaffected.
    assert_eq!(
        attempt("10.8.8.8", "someone", "x").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn a_disabled_account_is_logged_out_at_once_and_cannot_log_in() {
    let app = spawn_app().await;
    app.register("gina").await;
    assert_eq!(app.viewer_name().await.as_deref(), Some("gina"));
    sqlx::query("UPDATE users SET disabled_at = now() WHERE username = 'gina'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.viewer_name().await, None);
    let res = app.log_in("gina", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("disabled"));
}

#[tokio::test]
async fn after_login_the_user_returns_to_a_local_page_only() {
    let app = spawn_app().await;
    app.register("hal").await;
    for (next, expected) in [
        ("/posts/x", "/posts/x"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
    ] {
        let browser = crate::harness::TestApp::sharing(&app);
        let res = browser
            .submit(
                "/login",
                "/login",
                &[("login", "hal"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(res.headers()["location"], expected, "{next}");
    }
}
