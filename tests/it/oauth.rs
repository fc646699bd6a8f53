//! Log in with GitHub and Google, end to end over real HTTP: the app redirects to the local
//! provider (tests/it/oauth_provider.rs), the provider redirects back with a code, the app
//! exchanges it with its PKCE verifier, reads the user and logs them in. Plus every way that
//! can fail, and linking and unlinking from /account.

use quire::accounts::model::Role;
use reqwest::{Response, StatusCode};

use crate::{
    harness::{Page, TestApp, spawn_app, spawn_app_with},
    oauth_provider::{Endpoint, Fault, Person, TestProvider},
};

const OCTO: Person = Person {
    id: "4242",
    login: "Octo-Cat",
    name: "Octo Cat",
    email: "octo@example.com",
    verified: true,
};

const JANE: Person = Person {
    id: "109876543210987654321",
    login: "",
    name: "Jane Doe",
    email: "jane.doe@example.com",
    verified: true,
};

async fn setup() -> (TestApp, TestProvider) {
    let provider = TestProvider::start().await;
    let app = spawn_app_with(|s| provider.configure(s)).await;
    (app, provider)
}

fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// From the app's redirect out (`first`), through the provider, back to the app's callback;
/// the callback's own response is returned.
async fn through_provider(browser: &TestApp, provider: &TestProvider, first: Response) -> Response {
    assert_eq!(
        first.status(),
        StatusCode::SEE_OTHER,
        "redirect to provider"
    );
    let out = location(&first);
    assert!(
        out.starts_with(&format!("{}/authorize?", provider.base)),
        "{out}"
    );
    let at_provider = browser.client.get(&out).send().await.unwrap();
    assert_eq!(at_provider.status(), StatusCode::FOUND, "provider approves");
    let back = location(&at_provider);
    assert!(back.starts_with(&browser.url("/auth/")), "{back}");
    browser.client.get(&back).send().await.unwrap()
}

/// Click "Continue with …" on the login page and go through the whole flow.
async fn log_in_with(browser: &TestApp, provider: &TestProvider, slug: &str) -> Response {
    let first = browser.get(&format!("/auth/{slug}")).await;
    through_provider(browser, provider, first).await
}

/// Users and identities in the database: what a refused login must leave unchanged.
async fn counts(app: &TestApp) -> (i64, i64) {
    sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities)")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn page_of(res: Response, expected: StatusCode) -> Page {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, expected, "{body}");
    Page(scraper::Html::parse_document(&body), body)
}

#[tokio::test]
async fn a_new_github_user_gets_an_account_and_is_logged_in() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    let login = app.page("/login?next=/about-us", StatusCode::OK).await;
    assert_eq!(
        login.texts(".provider-buttons a"),
        ["Continue with GitHub", "Continue with Google"]
    );
    assert_eq!(
        login.attr(".provider-buttons a", "href").as_deref(),
        Some("/auth/github?next=%2Fabout-us")
    );

    let first = app.get("/auth/github?next=/about-us").await;
    let out = url::Url::parse(&location(&first)).unwrap();
    let q: std::collections::HashMap<_, _> = out.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], app.url("/auth/github/callback"));
    assert_eq!(q["scope"], "read:user user:email");
    assert!(q["state"].len() >= 16);
    let done = through_provider(&app, &provider, first).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/about-us");

    assert_eq!(app.viewer_name().await.as_deref(), Some("Octo Cat"));
    let (username, email, role, has_password, avatar): (String, String, String, bool, String) =
        sqlx::query_as(
            "SELECT username, email, role::text, password_hash IS NOT NULL, avatar_url FROM users",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        (
            username.as_str(),
            email.as_str(),
            role.as_str(),
            has_password
        ),
        ("octo-cat", "octo@example.com", "reader", false)
    );
    assert_eq!(avatar, "https://avatars.example.com/u/4242");
    let identity: (String, String, String) =
        sqlx::query_as("SELECT provider, provider_user_id, provider_login FROM identities")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        identity,
        ("github".into(), "4242".into(), "Octo-Cat".into())
    );
    assert_eq!(
        provider.events(),
        [
            "authorize scope=read:user user:email",
            "token pkce-ok",
            "github user",
            "github emails"
        ]
    );
}

#[tokio::test]
async fn a_new_google_user_is_read_from_userinfo() {
    let (app, provider) = setup().await;
    provider.approve_as(JANE);
    let done = log_in_with(&app, &provider, "google").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/");
    assert_eq!(app.viewer_name().await.as_deref(), Some("Jane Doe"));
    let username: String = sqlx::query_scalar("SELECT username FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(username, "jane-doe", "made from the email's local part");
    assert_eq!(
        provider.events(),
        [
            "authorize scope=openid email profile",
            "token pkce-ok",
            "google userinfo"
        ]
    );
}

#[tokio::test]
async fn new_accounts_get_the_configured_role_and_a_free_username() {
    let provider = TestProvider::start().await;
    let app = spawn_app_with(|s| {
        provider.configure(s);
        s.accounts.default_role = Role::Author;
    })
    .await;
    app.user("octo-cat", Role::Reader).await; // the name is taken; the email differs
    provider.approve_as(OCTO);
    let done = log_in_with(&app, &provider, "github").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let role = crate::accounts_role(&app, "octo-cat-2").await;
    assert_eq!(role, "author");
}

#[tokio::test]
async fn a_returning_user_logs_into_the_same_account() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    log_in_with(&app, &provider, "github").await;
    let before = counts(&app).await;
    // Renamed at GitHub since: the stable id still finds them.
    provider.approve_as(Person {
        login: "octo-renamed",
        ..OCTO
    });
    let again = TestApp::sharing(&app);
    let done = log_in_with(&again, &provider, "github").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.viewer_name().await.as_deref(), Some("Octo Cat"));
    assert_eq!(counts(&app).await, before);
    let login: String = sqlx::query_scalar("SELECT provider_login FROM identities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(login, "octo-renamed");
}

#[tokio::test]
async fn a_verified_email_links_to_the_existing_account_without_a_password() {
    let (app, provider) = setup().await;
    let ada = app.user("ada", Role::Author).await;
    // Her address is known to be hers and she has no password (as for an account another
    // provider created).
    sqlx::query("UPDATE users SET email_verified = true, password_hash = NULL WHERE id = $1")
        .bind(ada.0)
        .execute(&app.db)
        .await
        .unwrap();
    provider.approve_as(Person {
        email: "ADA@example.com",
        ..OCTO
    });
    let done = log_in_with(&app, &provider, "github").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.viewer_name().await.as_deref(), Some("Ada Display"));
    let owner: i64 = sqlx::query_scalar("SELECT user_id FROM identities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owner, ada.0);
    assert_eq!(counts(&app).await, (1, 1));
}

#[tokio::test]
async fn an_unverified_email_never_links_and_creates_nothing() {
    let (app, provider) = setup().await;
    app.user("ada", Role::Admin).await;
    for email in ["ada@example.com", "someone-new@example.com"] {
        provider.approve_as(Person {
            email,
            verified: false,
            ..OCTO
        });
        let browser = TestApp::sharing(&app);
        let done = log_in_with(&browser, &provider, "github").await;
        let page = page_of(done, StatusCode::FORBIDDEN).await;
        assert_eq!(page.text("h1"), "GitHub has not verified your email");
        assert_eq!(browser.viewer_name().await, None);
        assert_eq!(counts(&app).await, (1, 0), "{email}");
    }
}

#[tokio::test]
async fn a_wrong_missing_or_replayed_state_is_403_and_creates_nothing() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);

    // No login started in this browser at all.
    let res = app.get("/auth/github/callback?code=abc&state=xyz").await;
    let page = page_of(res, StatusCode::FORBIDDEN).await;
    assert_eq!(page.text("h1"), "This sign-in could not be verified");
    assert_eq!(
        page.attr(".actions a.button", "href").as_deref(),
        Some("/auth/github")
    );

    // Started here, but the state coming back is not ours, or is missing.
    for tamper in ["state=forged", ""] {
        let first = app.get("/auth/github").await;
        let at_provider = app.client.get(location(&first)).send().await.unwrap();
        let back = location(&at_provider);
        let (path, query) = back.split_once('?').unwrap();
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with("state="))
            .chain((!tamper.is_empty()).then_some(tamper))
            .collect();
        let res = app
            .client
            .get(format!("{path}?{}", kept.join("&")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{tamper:?}");
    }

    // A victim's browser handed an attacker's callback URL (login CSRF): not its session.
    let attacker = TestApp::sharing(&app);
    let first = attacker.get("/auth/github").await;
    let at_provider = attacker.client.get(location(&first)).send().await.unwrap();
    let victim = TestApp::sharing(&app);
    let res = victim
        .client
        .get(location(&at_provider))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(victim.viewer_name().await, None);
    assert_eq!(counts(&app).await, (0, 0));

    // A finished login can't be replayed: its state was used up.
    let browser = TestApp::sharing(&app);
    let first = browser.get("/auth/github").await;
    let at_provider = browser.client.get(location(&first)).send().await.unwrap();
    let callback = location(&at_provider);
    let done = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let replay = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_user_who_cancels_at_the_provider_sees_why_and_can_retry() {
    let (app, provider) = setup().await;
    provider.fail_with(Fault::Deny);
    let first = app.get("/auth/github?next=/tags/rust").await;
    let done = through_provider(&app, &provider, first).await;
    let page = page_of(done, StatusCode::FORBIDDEN).await;
    assert_eq!(page.text("h1"), "Sign-in cancelled");
    assert!(page.text("main").contains("You did not allow"));
    assert_eq!(
        page.attr(".actions a.button", "href").as_deref(),
        Some("/auth/github?next=%2Ftags%2Frust")
    );
    assert_eq!(counts(&app).await, (0, 0));
}

#[tokio::test]
async fn provider_failures_and_timeouts_are_502_with_a_retry_link() {
    let (app, provider) = setup().await;
    for (fault, says) in [
        (
            Fault::Fails(Endpoint::Token),
            "sent a response we could not read",
        ),
        (Fault::Hangs(Endpoint::Token), "did not answer in time"),
        (Fault::RejectsCode, "refused the sign-in (invalid_grant)"),
        (
            Fault::Fails(Endpoint::User),
            "answered with HTTP status 502",
        ),
        (Fault::Hangs(Endpoint::User), "did not answer in time"),
        (
            Fault::Fails(Endpoint::Emails),
            "answered with HTTP status 500",
        ),
    ] {
        provider.approve_as(OCTO);
        provider.fail_with(fault);
        let browser = TestApp::sharing(&app);
        let started = std::time::Instant::now();
        let done = log_in_with(&browser, &provider, "github").await;
        let page = page_of(done, StatusCode::BAD_GATEWAY).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{fault:?}: the app gave up after oauth.timeout_secs"
        );
        assert_eq!(page.text("h1"), "GitHub sign-in failed", "{fault:?}");
        assert!(page.text("main").contains(says), "{fault:?}: {}", page.1);
        assert_eq!(
            page.attr(".actions a.button", "href").as_deref(),
            Some("/auth/github"),
            "{fault:?}"
        );
        assert_eq!(browser.viewer_name().await, None);
        assert_eq!(counts(&app).await, (0, 0), "{fault:?}");
    }
    // The provider reporting an error in the redirect is its failure too.
    let res = app.get("/auth/google").await;
    let state = url::Url::parse(&location(&res))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = app
        .get(&format!(
            "/auth/google/callback?error=temporarily_unavailable&state={state}"
        ))
        .await;
    let page = page_of(res, StatusCode::BAD_GATEWAY).await;
    assert!(page.text("main").contains("temporarily_unavailable"));
}

#[tokio::test]
async fn a_disabled_account_cannot_log_in_with_a_provider() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    log_in_with(&TestApp::sharing(&app), &provider, "github").await;
    sqlx::query("UPDATE users SET disabled_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    let done = log_in_with(&app, &provider, "github").await;
    let page = page_of(done, StatusCode::FORBIDDEN).await;
    assert_eq!(page.text("h1"), "This account has been disabled");
    assert!(page.attr(".actions a.button", "href").is_none(), "no retry");
    assert_eq!(app.viewer_name().await, None);

    // A disabled account isn't linked by email either.
    provider.approve_as(JANE);
    app.user("jane", Role::Reader).await;
    sqlx::query("UPDATE users SET email = 'jane.doe@example.com', disabled_at = now() WHERE username = 'jane'")
        .execute(&app.db)
        .await
        .unwrap();
    let done = log_in_with(&app, &provider, "google").await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    assert_eq!(counts(&app).await, (2, 1));
}

#[tokio::test]
async fn disabled_providers_show_no_button_and_their_routes_are_404() {
    let app = spawn_app().await;
    let login = app.page("/login", StatusCode::OK).await;
    assert!(login.texts(".provider-buttons a").is_empty());
    assert!(!login.contains("Continue with"));
    for path in [
        "/auth/github",
        "/auth/google/callback?code=x&state=y",
        "/auth/myspace",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // Only Google configured: only its button.
    let provider = TestProvider::start().await;
    let app = spawn_app_with(|s| {
        provider.configure(s);
        s.oauth.github.client_id.clear();
        s.oauth.github.client_secret = String::new().into();
    })
    .await;
    let register = app.page("/register", StatusCode::OK).await;
    assert_eq!(
        register.texts(".provider-buttons a"),
        ["Continue with Google"]
    );
    assert_eq!(
        app.get("/auth/github").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn linking_and_unlinking_from_the_account_page() {
    let (app, provider) = setup().await;
    let ada = app.signed_in("ada", Role::Author).await;
    let account = ada.page("/account", StatusCode::OK).await;
    assert_eq!(
        account.texts(".connections button"),
        ["Link GitHub", "Link Google"]
    );

    // Someone else's email at GitHub: linking doesn't need it to match.
    provider.approve_as(OCTO);
    let first = ada
        .submit("/account", "/account/connections/github", &[])
        .await;
    let done = through_provider(&ada, &provider, first).await;
    assert_eq!(location(&done), "/account?saved=linked");
    let account = ada.page("/account?saved=linked", StatusCode::OK).await;
    assert!(account.text(".notice").starts_with("Linked."));
    assert_eq!(
        account.texts(".connections button"),
        ["Unlink GitHub", "Link Google"]
    );
    assert!(account.text(".connections").contains("Octo-Cat"));
    // Admins see how each person logs in.
    let boss = app.signed_in("boss", Role::Admin).await;
    let users = boss.page("/admin/users?q=ada", StatusCode::OK).await;
    assert!(
        users
            .texts("td .hint")
            .iter()
            .any(|t| t == "Logs in with password, GitHub"),
        "{:?}",
        users.texts("td .hint")
    );

    // Another browser logs in to Ada's account with GitHub.
    let elsewhere = TestApp::sharing(&app);
    log_in_with(&elsewhere, &provider, "github").await;
    assert_eq!(
        elsewhere.viewer_name().await.as_deref(),
        Some("Ada Display")
    );

    // Ada has a password, so GitHub can go.
    let res = ada
        .submit("/account", "/account/connections/github/unlink", &[])
        .await;
    assert_eq!(location(&res), "/account?saved=unlinked");
    assert_eq!(counts(&app).await.1, 0);
    // GitHub now leads to a new account (Octo's email is not Ada's).
    let fresh = TestApp::sharing(&app);
    log_in_with(&fresh, &provider, "github").await;
    assert_eq!(fresh.viewer_name().await.as_deref(), Some("Octo Cat"));
}

#[tokio::test]
async fn the_last_way_to_log_in_cannot_be_unlinked() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    log_in_with(&app, &provider, "github").await;

    let res = app
        .submit("/account", "/account/connections/github/unlink", &[])
        .await;
    let page = page_of(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.text(".form-error").contains("only way to log in"));
    assert_eq!(counts(&app).await, (1, 1));

    // With Google linked too, GitHub can go; then Google is the last one.
    provider.approve_as(Person { id: "777", ..JANE });
    let first = app
        .submit("/account", "/account/connections/google", &[])
        .await;
    through_provider(&app, &provider, first).await;
    assert_eq!(counts(&app).await, (1, 2));
    let res = app
        .submit("/account", "/account/connections/github/unlink", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .submit("/account", "/account/connections/google/unlink", &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A password of their own (no current one to give), then Google can go too.
    let account = app.page("/account", StatusCode::OK).await;
    assert!(account.contains("Set password"));
    let res = app
        .submit(
            "/account",
            "/account/password",
            &[("new_password", crate::harness::PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .submit("/account", "/account/connections/google/unlink", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(counts(&app).await, (1, 0));
    let again = TestApp::sharing(&app);
    let res = again.log_in("octo-cat", crate::harness::PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_identity_of_someone_else_cannot_be_linked() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    log_in_with(&TestApp::sharing(&app), &provider, "github").await;
    let ada = app.signed_in("ada", Role::Reader).await;
    let first = ada
        .submit("/account", "/account/connections/github", &[])
        .await;
    let done = through_provider(&ada, &provider, first).await;
    let page = page_of(done, StatusCode::CONFLICT).await;
    assert_eq!(
        page.text("h1"),
        "This GitHub account is linked to someone else"
    );
    assert_eq!(page.attr(".actions a", "href").as_deref(), Some("/account"));
    let owner: String =
        sqlx::query_scalar("SELECT u.username FROM identities i JOIN users u ON u.id = i.user_id")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(owner, "octo-cat");
}

#[tokio::test]
async fn a_signed_in_visitor_is_sent_to_the_account_page_instead() {
    let (app, _provider) = setup().await;
    let ada = app.signed_in("ada", Role::Reader).await;
    let res = ada.get("/auth/github").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");
}

/// The real binary at debug level, through a login that works and one that fails: no client
/// secret, code, PKCE verifier or access token appears anywhere in what it prints.
#[tokio::test]
async fn secrets_never_reach_the_logs() {
    use std::io::Read;
    let provider = TestProvider::start().await;
    let db = crate::harness::TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let p = |path: &str| format!("{}{path}", provider.base);
    let mut cmd = crate::harness::quire_command(&db);
    cmd.arg("serve")
        .env("QUIRE__LOG__LEVEL", "debug")
        .env("PORT", port.to_string())
        .env("BASE_URL", &base)
        .env("GITHUB_CLIENT_ID", crate::oauth_provider::CLIENT_ID)
        .env("GITHUB_CLIENT_SECRET", crate::oauth_provider::CLIENT_SECRET)
        .env("QUIRE__OAUTH__GITHUB__AUTHORIZE_URL", p("/authorize"))
        .env("QUIRE__OAUTH__GITHUB__TOKEN_URL", p("/token"))
        .env("QUIRE__OAUTH__GITHUB__USER_URL", p("/github/user"))
        .env("QUIRE__OAUTH__GITHUB__EMAILS_URL", p("/github/user/emails"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("quire serve starts");
    crate::harness::eventually(
        "the binary to serve",
        std::time::Duration::from_secs(10),
        || async { reqwest::get(format!("{base}/healthz")).await.is_ok() },
    )
    .await;

    // One login that works, in one browser; one where the provider fails, in another.
    for (fault, expected) in [
        (None, StatusCode::SEE_OTHER),
        (Some(Fault::Fails(Endpoint::User)), StatusCode::BAD_GATEWAY),
    ] {
        provider.approve_as(OCTO);
        if let Some(f) = fault {
            provider.fail_with(f);
        }
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let out = browser
            .get(format!("{base}/auth/github"))
            .send()
            .await
            .unwrap();
        let at_provider = browser.get(location(&out)).send().await.unwrap();
        let back = browser.get(location(&at_provider)).send().await.unwrap();
        assert_eq!(back.status(), expected);
    }

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child.wait().unwrap();
    assert!(
        logs.contains("provider login failed"),
        "the failure was logged: {logs}"
    );
    let secrets = provider.secrets();
    assert!(
        secrets.len() >= 6,
        "codes, verifiers and tokens were issued"
    );
    for secret in secrets {
        assert!(!logs.contains(&secret), "{secret} leaked into the logs");
    }
}

/// Account takeover in advance: an attacker registers the victim's address with a password
/// (nothing verifies it); the victim's later "Continue with Google" must not enter that
/// account, where the attacker's password would still work.
#[tokio::test]
async fn a_provider_login_never_enters_a_password_account_whose_address_is_unverified() {
    let (app, provider) = setup().await;
    let attacker = TestApp::sharing(&app);
    let res = attacker
        .submit(
            "/register",
            "/register",
            &[
                ("username", "mallory"),
                ("email", JANE.email),
                ("password", crate::harness::PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let before = counts(&app).await;

    provider.approve_as(JANE);
    let victim = TestApp::sharing(&app);
    let res = log_in_with(&victim, &provider, "google").await;
    let page = page_of(res, StatusCode::CONFLICT).await;
    assert!(
        page.contains("An account with your email address already exists"),
        "{}",
        page.1
    );
    assert!(
        page.contains("link Google on your account page"),
        "{}",
        page.1
    );
    assert_eq!(victim.viewer_name().await, None, "not logged in");
    assert_eq!(counts(&app).await, before, "nothing linked or created");

    // The victim's mail scanner opens the verification link: that changes nothing.
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'mallory'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let link = quire::accounts::verify::link(
        &app.settings,
        quire::accounts::model::UserId(id),
        JANE.email,
    );
    let scanner = TestApp::sharing(&app);
    let page = scanner
        .page(link.strip_prefix(&app.base).unwrap(), StatusCode::OK)
        .await;
    assert!(page.contains("@mallory"), "the page names the account");
    let verified = || async {
        sqlx::query_scalar::<_, bool>("SELECT email_verified FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    assert!(!verified().await, "a GET verifies nothing");
    // Even verified (the victim pressed the button), an account with a password someone set
    // is never entered through a provider by its address.
    let res = app.press(link.strip_prefix(&app.base).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(verified().await, "the button verifies");
    let res = log_in_with(&victim, &provider, "google").await;
    let page = page_of(res, StatusCode::CONFLICT).await;
    assert!(
        page.contains("link Google on your account page"),
        "{}",
        page.1
    );
    assert_eq!(victim.viewer_name().await, None, "not logged in");
    assert_eq!(counts(&app).await, before, "nothing linked or created");
}

#[tokio::test]
async fn an_account_a_provider_created_counts_as_verified() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    let res = log_in_with(&app, &provider, "github").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let verified: bool = sqlx::query_scalar("SELECT email_verified FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(verified);
}

/// `next` survives the provider's round trip only as a path on this site; a hostile one
/// (a tab or a newline that browsers drop, `//`, a backslash) becomes `/`, never a 500.
#[tokio::test]
async fn next_through_a_provider_stays_on_the_site() {
    let (app, provider) = setup().await;
    for (next, expected) in [
        ("/posts/x", "/posts/x"),
        ("/%09/evil.example/x", "/"),
        ("/%0a/evil.example", "/"),
        ("/%0d%0aSet-Cookie:%20x=y", "/"),
        ("/%7f", "/"),
        ("//evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("/%2F/evil.example", "/"),
        ("/..//evil.example", "/"),
    ] {
        provider.approve_as(OCTO);
        let browser = TestApp::sharing(&app);
        let first = browser.get(&format!("/auth/github?next={next}")).await;
        let done = through_provider(&browser, &provider, first).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&done), expected, "{next}");
    }
    // A NUL in any query is refused before a handler sees it.
    let res = app.get("/auth/github?next=/%00").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// With registrations closed, a provider login that would make a new account is refused
/// (nothing created); someone who already has one still logs in.
#[tokio::test]
async fn closed_registrations_stop_new_accounts_through_a_provider_too() {
    let (app, provider) = setup().await;
    provider.approve_as(OCTO);
    log_in_with(&TestApp::sharing(&app), &provider, "github").await;
    let admin = app.signed_in("root", Role::Admin).await;
    let res = crate::settings::save(&admin, &[("registrations_open", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    provider.approve_as(JANE);
    let refused = log_in_with(&TestApp::sharing(&app), &provider, "google").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("New accounts are closed")
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 2, "nothing was created (Octo and the admin)");
    provider.approve_as(OCTO);
    let done = log_in_with(&TestApp::sharing(&app), &provider, "github").await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "a returning user still logs in"
    );
}
