//! Password reset by email (issue 14), against a real SMTP server: the link works once and
//! ends every session, the answer never says whether an address has an account, the token
//! is stored only as a hash, and bad links, bad addresses and floods get readable refusals.

use std::time::Duration;

use quire::accounts::model::Role;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::{
    harness::{PASSWORD, TestApp, eventually, spawn_app_with},
    smtp::SmtpSink,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn app_with_mail() -> (TestApp, SmtpSink) {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        smtp.configure(s);
        s.jobs.backoff_base_ms = 50;
    })
    .await;
    (app, smtp)
}

/// Ask for a link for `address` from a fresh browser; the response.
async fn ask(app: &TestApp, address: &str) -> reqwest::Response {
    TestApp::sharing(app)
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", address)],
        )
        .await
}

/// The path of the link in `mail`, under this app.
fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.base)
        .expect("a link to this site")
        .to_owned()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_other_session() {
    let (app, smtp) = app_with_mail().await;
    let elsewhere = app.signed_in("mara", Role::Reader).await;
    assert!(elsewhere.viewer_name().await.is_some());

    let login = app.page("/login", StatusCode::OK).await;
    assert_eq!(
        login.attr("a[href='/password/forgot']", "href").as_deref(),
        Some("/password/forgot")
    );
    let res = ask(&app, "MARA@example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/password/forgot?sent=1");
    let sent = app.page("/password/forgot?sent=1", StatusCode::OK).await;
    assert!(
        sent.text(".notice")
            .contains("If an account uses that address")
    );

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["mara@example.com"]);
    assert!(mail.subject.starts_with("Reset your password on"));
    assert!(mail.header("To").unwrap().contains("Mara Display"));
    assert!(mail.text().contains("\"mara\""));
    assert!(
        mail.html
            .as_deref()
            .unwrap()
            .contains("Choose a new password")
    );
    let link = mail.link(&format!("{}/password/reset/", app.base));
    let path = path_of(&app, &link);

    // Only the token's hash is kept: neither the table nor the job holds the token.
    let token = path.rsplit('/').next().unwrap().to_owned();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM password_resets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    let leaks: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE payload::text LIKE $1")
        .bind(format!("%{token}%"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(leaks, 0);

    let browser = TestApp::sharing(&app);
    let form = browser.page(&path, StatusCode::OK).await;
    assert!(form.text("h1").contains("Choose a new password"));
    assert!(form.text(".lede").contains("mara"));
    let res = browser.get(&path).await;
    assert_eq!(res.headers()["cache-control"], "private, no-store");

    // Too short: refused, the link still works.
    let short = browser.submit(&path, &path, &[("password", "short")]).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 10 characters")
    );

    let done = browser
        .submit(&path, &path, &[("password", NEW_PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/account?saved=password");
    assert_eq!(browser.viewer_name().await.as_deref(), Some("Mara Display"));
    assert_eq!(
        elsewhere.viewer_name().await,
        None,
        "the other session ended"
    );

    // The old password no longer works; the new one does.
    let old = TestApp::sharing(&app).log_in("mara", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new = TestApp::sharing(&app).log_in("mara", NEW_PASSWORD).await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);

    // Twice: the link is used up, for reading and for sending alike.
    let again = TestApp::sharing(&app);
    let dead = again.page(&path, StatusCode::GONE).await;
    assert!(dead.text("h1").contains("This link doesn't work"));
    assert_eq!(
        dead.attr(".form-page a.button", "href").as_deref(),
        Some("/password/forgot")
    );
    let token_page = browser.csrf_token("/password/forgot").await;
    let replay = browser
        .client
        .post(browser.url(&path))
        .form(&[
            ("csrf_token", token_page.as_str()),
            ("password", "yet another passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::GONE);
    let still = TestApp::sharing(&app).log_in("mara", NEW_PASSWORD).await;
    assert_eq!(still.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_answer_is_the_same_for_an_address_without_an_account_and_nothing_is_sent() {
    let (app, smtp) = app_with_mail().await;
    app.signed_in("known", Role::Reader).await;
    let unknown = ask(&app, "nobody@example.com").await;
    let known = ask(&app, "known@example.com").await;
    assert_eq!(unknown.status(), known.status());
    assert_eq!(unknown.headers()["location"], known.headers()["location"]);
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap());
    smtp.wait_for(1).await;
    // Both jobs ran; only the account's address got a message.
    app.until_jobs_ran().await;
    let all = smtp.messages();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].rcpt_tos, ["known@example.com"]);
}

#[tokio::test]
async fn expired_altered_and_made_up_links_do_not_work() {
    let (app, smtp) = app_with_mail().await;
    app.signed_in("lena", Role::Reader).await;
    ask(&app, "lena@example.com").await;
    let mail = smtp.wait_for(1).await.remove(0);
    let path = path_of(&app, &mail.link(&format!("{}/password/reset/", app.base)));

    // One digit changed.
    let mut altered = path.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == '0' { '1' } else { '0' });
    for dead in [
        altered.as_str(),
        "/password/reset/abc",
        "/password/reset/..%2F..%2Fetc%2Fpasswd",
        "/password/reset/%00",
        &path
            .to_uppercase()
            .replace("/PASSWORD/RESET/", "/password/reset/g"),
    ] {
        let res = app.get(dead).await;
        assert_eq!(res.status(), StatusCode::GONE, "{dead}");
    }
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    app.page(&path, StatusCode::GONE).await;
    let browser = TestApp::sharing(&app);
    let token = browser.csrf_token("/password/forgot").await;
    let res = browser
        .client
        .post(browser.url(&path))
        .form(&[("csrf_token", token.as_str()), ("password", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    let old = TestApp::sharing(&app).log_in("lena", PASSWORD).await;
    assert_eq!(
        old.status(),
        StatusCode::SEE_OTHER,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn malformed_addresses_and_floods_get_readable_refusals() {
    let (app, smtp) = app_with_mail().await;
    let browser = TestApp::sharing(&app);
    // NUL is refused before any form is read (400, with the reason).
    let res = browser
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "a\0b@example.com")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    for bad in [
        "not an address",
        "a@example.com\r\nBcc: victim@example.com",
        "a\tb@example.com",
        "@example.com",
        "",
    ] {
        let res = browser
            .submit("/password/forgot", "/password/forgot", &[("email", bad)])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("enter an email address like")
                || body.contains("Enter an email address like"),
            "{bad:?}"
        );
    }
    // The page keeps what was typed.
    let res = browser
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "typo@")],
        )
        .await;
    let page = crate::harness::Page::parse(&res.text().await.unwrap());
    assert_eq!(page.attr("#email", "value").as_deref(), Some("typo@"));

    // The same address: three an hour.
    for _ in 0..3 {
        assert_eq!(
            ask(&app, "flood@example.com").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let fourth = ask(&app, "Flood@Example.com").await;
    assert_eq!(fourth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(fourth.headers().contains_key("retry-after"));
    assert!(
        fourth
            .text()
            .await
            .unwrap()
            .contains("Too many requests for a reset link")
    );
    // One client: ten an hour, whatever the address (four were counted above, the refused
    // one too: every request counts before it is judged).
    for n in 0..6 {
        let res = ask(&app, &format!("other{n}@example.com")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let res = ask(&app, "one-more@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        smtp.messages().is_empty(),
        "no account has any of these addresses"
    );
}

#[tokio::test]
async fn without_smtp_the_page_says_ask_an_admin_who_can_make_a_one_time_link() {
    let app = crate::harness::spawn_app().await;
    let form = app.page("/password/forgot", StatusCode::OK).await;
    assert!(form.text(".lede").contains("Ask one of its administrators"));
    assert!(form.attrs("input[name=email]", "name").is_empty());
    let token = app.csrf_token("/login").await;
    let res = app
        .client
        .post(app.url("/password/forgot"))
        .form(&[("csrf_token", token.as_str()), ("email", "x@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    let admin = app.signed_in("root", Role::Admin).await;
    let member = app.signed_in("jonas", Role::Reader).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'jonas'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let users = admin.page("/admin/users", StatusCode::OK).await;
    assert!(
        users
            .attrs("form[action$='/reset-link']", "action")
            .contains(&format!("/admin/users/{id}/reset-link"))
    );
    let res = admin
        .submit(
            "/admin/users",
            &format!("/admin/users/{id}/reset-link"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let page = crate::harness::Page::parse(&res.text().await.unwrap());
    let link = page.attr("#reset-link", "value").unwrap();
    let path = path_of(&app, &link);
    let made_by: String = sqlx::query_scalar("SELECT made_by FROM password_resets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(made_by, "admin");

    let browser = TestApp::sharing(&app);
    let done = browser
        .submit(&path, &path, &[("password", NEW_PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        member.viewer_name().await,
        None,
        "jonas's old session ended"
    );
    let new = TestApp::sharing(&app).log_in("jonas", NEW_PASSWORD).await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_refusing_server_fails_the_job_at_once_and_a_busy_one_is_tried_again() {
    let (app, smtp) = app_with_mail().await;
    let refused = app.user("refused", Role::Reader).await;
    sqlx::query("UPDATE users SET email = 'refuse-me@example.com' WHERE id = $1")
        .bind(refused)
        .execute(&app.db)
        .await
        .unwrap();
    ask(&app, "refuse-me@example.com").await;
    let (attempts, error) = until_job(&app, "failed").await;
    assert_eq!(attempts, 1, "a 5xx is not retried");
    assert!(error.contains("refused"), "{error}");
    sqlx::query("DELETE FROM jobs")
        .execute(&app.db)
        .await
        .unwrap();

    app.signed_in("patient", Role::Reader).await;
    smtp.set_down(true);
    ask(&app, "patient@example.com").await;
    // Fails while the server says 451, then goes through once it is back.
    eventually(
        "a second attempt at the reset email",
        Duration::from_secs(10),
        || async {
            let attempts: Option<i32> =
                sqlx::query_scalar("SELECT attempts FROM jobs WHERE kind = 'mail.reset'")
                    .fetch_optional(&app.db)
                    .await
                    .unwrap();
            if attempts.unwrap_or(0) >= 2 {
                Ok(())
            } else {
                Err(attempts)
            }
        },
    )
    .await;
    assert!(smtp.messages().is_empty());
    smtp.set_down(false);
    let (attempts, _) = until_job(&app, "done").await;
    assert!(attempts >= 2);
    assert_eq!(smtp.wait_for(1).await[0].rcpt_tos, ["patient@example.com"]);
}

/// The one `mail.reset` job, once it is in `state`: (attempts, last error).
async fn until_job(app: &TestApp, state: &str) -> (i32, String) {
    let what = format!("the mail.reset job to be {state}");
    eventually(&what, Duration::from_secs(20), || async {
        let row: Option<(String, i32, Option<String>)> = sqlx::query_as(
            "SELECT state, attempts, last_error FROM jobs WHERE kind = 'mail.reset'",
        )
        .fetch_optional(&app.db)
        .await
        .unwrap();
        match row {
            Some((s, attempts, error)) if s == state => Ok((attempts, error.unwrap_or_default())),
            other => Err(other),
        }
    })
    .await
}

#[tokio::test]
async fn quire_mail_test_sends_a_message_now() {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(|s| smtp.configure(s)).await;
    let output = app
        .quire_command()
        .args(["mail", "test", "owner@example.com"])
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", smtp.port.to_string())
        .env("QUIRE__MAIL__TLS", "none")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["owner@example.com"]);
    assert!(mail.subject.starts_with("A test message from"));
    // Without a server it says so, and fails.
    let output = app
        .quire_command()
        .args(["mail", "test", "owner@example.com"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no SMTP server is configured"));
}

#[tokio::test]
async fn a_line_break_in_a_display_name_neither_stops_the_mail_nor_adds_a_header() {
    let (app, smtp) = app_with_mail().await;
    app.user("eve", Role::Reader).await;
    // Input refuses such a name; an older row, or SQL, may still hold one.
    sqlx::query("UPDATE users SET display_name = $1 WHERE username = 'eve'")
        .bind("Eve\r\nBcc: x@evil.test")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        ask(&app, "eve@example.com").await.status(),
        StatusCode::SEE_OTHER
    );

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["eve@example.com"]);
    assert_eq!(mail.header("Bcc"), None, "{:?}", mail.headers);
    let to = mail.header("To").unwrap();
    assert!(to.contains("<eve@example.com>"), "{to}");
    assert!(!to.contains('\r') && !to.contains('\n'), "{to:?}");
    // The job is done, not left running (its "done" is recorded a moment after the mail went:
    // the runner marks finished jobs in batches).
    eventually(
        "the one mail.reset job to be done",
        Duration::from_secs(5),
        || async {
            let states: Vec<String> =
                sqlx::query_scalar("SELECT state FROM jobs WHERE kind = 'mail.reset'")
                    .fetch_all(&app.db)
                    .await
                    .unwrap();
            if states == ["done"] {
                Ok(())
            } else {
                Err(states)
            }
        },
    )
    .await;
}
