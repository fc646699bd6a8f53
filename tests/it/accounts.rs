//! Accounts: first-run setup, registration, logging in and out, sessions and CSRF.

use reqwest::{Response, StatusCode};

use crate::harness::{PASSWORD, TestApp, spawn_app, spawn_app_with};

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
    assert_eq!(
        errors.len(),
        4,
        "{errors:?}: the site's title is required too"
    );
    // The form offers the site's title and description, filled with today's.
    assert_eq!(form.attr("#site_title", "value").as_deref(), Some("Quire"));

    let ok = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("username", "Root"),
                ("email", "root@example.com"),
                ("display_name", "The Admin"),
                ("password", PASSWORD),
                ("site_title", "Night Notes"),
                ("site_description", "Written after dark"),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let home = app.other_client().get(app.url("/")).send().await.unwrap();
    let home = home.text().await.unwrap();
    assert!(
        home.contains("<title>Night Notes</title>"),
        "the setup named the site"
    );
    assert!(home.contains("Written after dark"));
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
        !page.contains("class=\"account-name\""),
        "the session is gone from Redis"
    );
}

#[tokio::test]
async fn session_cookies_are_httponly_lax_and_secure_on_https() {
    let app = spawn_app().await;
    // A form page: its CSRF token starts a session (an empty site's /login leads to /setup).
    let res = app.get("/register").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");

    let https =
        spawn_app_with(|s| s.http.base_url = "https://blog.example.com".parse().unwrap()).await;
    let res = https.get("/register").await;
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

/// A login attempt from `ip` (a trusted proxy forwards it), in a browser of its own.
async fn attempt_from(app: &TestApp, ip: &str, login: &str, password: &str) -> Response {
    let browser = TestApp::sharing(app);
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

fn behind_proxy(s: &mut quire::config::Settings) {
    s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
}

#[tokio::test]
async fn the_eleventh_attempt_on_one_account_from_one_address_is_429_but_the_owner_gets_in_elsewhere()
 {
    let app = spawn_app_with(behind_proxy).await;
    app.register("frank").await;
    for _ in 0..10 {
        let res = attempt_from(&app, "10.0.0.1", "frank", "wrong password!!").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The username and the email are one account: the email gets no fresh allowance.
    let blocked = attempt_from(&app, "10.0.0.1", "frank@example.com", PASSWORD).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    assert!(blocked.text().await.unwrap().contains("Too many attempts"));
    // Ten requests from someone else can't lock the owner out: from their own address
    // they log in.
    let owner = attempt_from(&app, "10.0.0.2", "frank", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn guessing_spread_over_addresses_meets_the_slower_account_limit_and_spraying_the_address_limit()
 {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.accounts.account_attempts_per_hour = 12;
        s.accounts.address_attempts = 5;
    })
    .await;
    app.register("frank").await;
    for i in 1..=12 {
        let res = attempt_from(&app, &format!("10.1.0.{i}"), "frank", "wrong password!!").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{i}");
    }
    let res = attempt_from(&app, "10.1.0.99", "frank", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // One address trying many accounts (which need not exist).
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        let res = attempt_from(&app, "10.9.9.9", name, "wrong password!!").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = attempt_from(&app, "10.9.9.9", "someone", "x").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = attempt_from(&app, "10.8.8.8", "someone", "x").await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "another address"
    );
}

/// Each attempt is counted before it is judged: of a burst of simultaneous wrong
/// passwords for one account from one address, no more than the allowance is ever checked
/// (all 60 of them were, before), and the right password sent after the burst is refused
/// (in a burst of 150 it used to get in).
#[tokio::test]
async fn a_burst_of_simultaneous_attempts_gets_no_more_checks_than_the_limit() {
    let app = spawn_app_with(behind_proxy).await;
    app.register("frank").await;
    // Tokens first, so the burst is only the POSTs.
    let mut browsers = Vec::new();
    for _ in 0..150 {
        let browser = TestApp::sharing(&app);
        let token = browser.csrf_token("/login").await;
        browsers.push((browser, token));
    }
    let (last, rest) = browsers.split_last().unwrap();
    let send = |(browser, token): &(TestApp, String), password: &'static str| {
        browser
            .client
            .post(app.url("/login"))
            .header("x-forwarded-for", "10.2.0.1")
            .form(&[
                ("csrf_token", token.as_str()),
                ("login", "frank"),
                ("password", password),
            ])
            .send()
    };
    let burst = rest.iter().map(|b| send(b, "wrong password!!"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let judged = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(judged <= 10, "{judged} attempts were judged: {statuses:?}");
    // Judged means checked (422) or turned away by the busy hasher (503), nothing else.
    assert!(statuses.iter().all(|s| {
        [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::SERVICE_UNAVAILABLE,
        ]
        .contains(s)
    }));
    let right = send(last, PASSWORD).await.unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn registration_is_limited_per_address() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.accounts.registrations_per_hour = 2;
    })
    .await;
    for (i, expected) in [
        StatusCode::SEE_OTHER,
        StatusCode::SEE_OTHER,
        StatusCode::TOO_MANY_REQUESTS,
    ]
    .into_iter()
    .enumerate()
    {
        let browser = TestApp::sharing(&app);
        let token = browser.csrf_token("/register").await;
        let name = format!("newbie{i}");
        let email = format!("{name}@example.com");
        let res = browser
            .client
            .post(app.url("/register"))
            .header("x-forwarded-for", "10.3.0.1")
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", name.as_str()),
                ("email", email.as_str()),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "{i}");
        if expected == StatusCode::TOO_MANY_REQUESTS {
            let body = res.text().await.unwrap();
            assert!(body.contains("newbie2"), "the form keeps what was typed");
        }
    }
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

#[tokio::test]
async fn a_new_site_shows_its_way_in_until_an_admin_exists() {
    let app = spawn_app().await;
    // Nobody has claimed the site: /login and the home page say how to start.
    let login = app.page("/login", StatusCode::OK).await;
    assert!(login.attrs("a", "href").iter().any(|h| h == "/setup"));
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(
        home.attr(".setup-notice a", "href").as_deref(),
        Some("/setup")
    );
    // Someone signed up before the site was claimed: they log in (the page points at
    // /setup), and /admin leads them to /setup too.
    let early = app
        .signed_in("early", quire::accounts::model::Role::Reader)
        .await;
    let admin = early.get("/admin").await;
    assert_eq!(admin.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.headers()["location"], "/setup");
    let page = app.page("/login", StatusCode::OK).await;
    assert!(page.attrs("a", "href").iter().any(|h| h == "/setup"));
    // The site has an admin: no more pointers, and a reader's /admin says who lets them in.
    app.user("owner", quire::accounts::model::Role::Admin).await;
    app.pages().stale().await;
    let home = app.page("/", StatusCode::OK).await;
    assert!(home.attr(".setup-notice a", "href").is_none());
    let page = app.page("/login", StatusCode::OK).await;
    assert!(!page.attrs("a", "href").iter().any(|h| h == "/setup"));
    let refused = early.get("/admin").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let text = refused.text().await.expect("a page");
    assert!(
        text.contains("ask one of the site's administrators"),
        "{text}"
    );
}
