//! Email verification and comment notifications (issue 14), against a real SMTP server.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::{
    comments::comment,
    harness::{PostSpec, TestApp, spawn_app, spawn_app_with},
    smtp::SmtpSink,
};

async fn app_with_mail() -> (TestApp, SmtpSink) {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(|s| smtp.configure(s)).await;
    (app, smtp)
}

/// Change the site settings through the admin's form.
async fn set_site(app: &TestApp, changes: &[(&str, &str)]) {
    let admin = app.signed_in("siteadmin", Role::Admin).await;
    let res = crate::settings::save(&admin, changes).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_new_account_verifies_its_address_before_commenting_when_the_site_asks() {
    let (app, smtp) = app_with_mail().await;
    set_site(&app, &[("verify_email", "on")]).await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Open thread",
                ..Default::default()
            },
        )
        .await;

    let reader = TestApp::sharing(&app);
    assert_eq!(
        reader.register("newbie").await.status(),
        StatusCode::SEE_OTHER
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["newbie@example.com"]);
    assert!(mail.subject.starts_with("Verify your email address"));
    let link = mail.link(&format!("{}/verify/", app.base));

    // Not yet: refused, with the way out, and the text kept.
    let res = comment(&reader, &slug, "First!").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert!(body.contains("Verify your email address before commenting"));
    assert!(body.contains("First!"));
    let account = reader.page("/account", StatusCode::OK).await;
    assert!(account.text("#email ~ p").contains("not verified yet"));
    // Through the API too: refused with what to do.
    let token = crate::api::register(&app, "apinewbie").await;
    let (status, body) = crate::api::call(
        &app,
        reqwest::Method::POST,
        &format!("/api/articles/{slug}/comments"),
        Some(&token),
        Some(serde_json::json!({"comment": {"body": "First from the API"}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["errors"]["email"][0],
        "must be verified before commenting: follow the link we emailed you"
    );

    // The link, opened (by anyone: a mail scanner first, say), only asks; its button verifies.
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    // A different last character, whatever it was (a fixed one matched it one time in 16).
    let last = if path.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &path[..path.len() - 1]);
    TestApp::sharing(&app)
        .page(&tampered, StatusCode::GONE)
        .await;
    let opened = TestApp::sharing(&app).page(&path, StatusCode::OK).await;
    assert_eq!(opened.text("h1"), "Verify your address");
    assert!(opened.contains("@newbie"));
    assert_eq!(
        comment(&reader, &slug, "First!").await.status(),
        StatusCode::FORBIDDEN,
        "opening the link verifies nothing"
    );
    for _ in 0..2 {
        let res = app.press(&path).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        assert_eq!(page.text("h1"), "Address verified");
    }
    assert_eq!(
        comment(&reader, &slug, "First!").await.status(),
        StatusCode::SEE_OTHER
    );
    let account = reader.page("/account", StatusCode::OK).await;
    assert!(account.contains("is verified"));

    // A link for an address the account no longer has, or past its time, doesn't work.
    sqlx::query("UPDATE users SET email = 'moved@example.com' WHERE username = 'newbie'")
        .execute(&app.db)
        .await
        .unwrap();
    TestApp::sharing(&app).page(&path, StatusCode::GONE).await;
    assert_eq!(app.press(&path).await.status(), StatusCode::GONE);
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'newbie'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let past = (time::OffsetDateTime::now_utc().unix_timestamp() - 60).to_string();
    let id = id.to_string();
    let mac =
        quire::accounts::verify::sign(&app.settings, "verify", &[&id, "moved@example.com", &past]);
    TestApp::sharing(&app)
        .page(&format!("/verify/{id}.{past}.{mac}"), StatusCode::GONE)
        .await;
}

#[tokio::test]
async fn the_link_can_be_sent_again_a_few_times_an_hour() {
    let (app, smtp) = app_with_mail().await;
    let reader = TestApp::sharing(&app);
    reader.register("again").await;
    smtp.wait_for(1).await;
    for n in 2..=4 {
        let res = reader.submit("/account", "/account/verify", &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/account?saved=verify");
        smtp.wait_for(n).await;
    }
    let res = reader.submit("/account", "/account/verify", &[]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("sent several times in the last hour")
    );
    // Every link works (the last one, say).
    let last = smtp.messages().pop().unwrap();
    let path = last
        .link(&format!("{}/verify/", app.base))
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned();
    app.page(&path, StatusCode::OK).await;
}

#[tokio::test]
async fn an_author_is_told_of_comments_and_unsubscribes_with_one_click() {
    let (app, smtp) = app_with_mail().await;
    let author = app.signed_in("writer", Role::Author).await;
    let writer: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'writer'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            quire::accounts::model::UserId(writer),
            PostSpec {
                title: "On <b>bold</b> claims",
                ..Default::default()
            },
        )
        .await;
    let reader = app.signed_in("critic", Role::Reader).await;
    assert_eq!(
        comment(&reader, &slug, "I disagree\r\nBcc: someone@example.com")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["writer@example.com"]);
    assert_eq!(mail.subject, "New comment on “On <b>bold</b> claims”");
    assert!(mail.text().contains("Critic Display commented"));
    assert!(mail.text().contains("I disagree"));
    assert!(
        mail.header("Bcc").is_none(),
        "the comment's text can't add a header"
    );
    let html = mail.html.clone().unwrap();
    assert!(
        html.contains("On &lt;b&gt;bold&lt;/b&gt; claims") || html.contains("On &#60;b&#62;"),
        "{html}"
    );
    assert!(
        mail.text()
            .contains(&format!("{}/posts/{slug}#comment-", app.base))
    );
    let unsubscribe = mail
        .header("List-Unsubscribe")
        .unwrap()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(mail.text().contains(&unsubscribe), "a visible link too");

    // The author's own comment: nothing.
    assert_eq!(
        comment(&author, &slug, "Thanks!").await.status(),
        StatusCode::SEE_OTHER
    );

    // Opening the link changes nothing; the one-click POST (what a mail client sends) does.
    let path = unsubscribe.strip_prefix(&app.base).unwrap().to_owned();
    let page = TestApp::sharing(&app).page(&path, StatusCode::OK).await;
    assert!(page.text(".lede").contains("Stop the emails"));
    let on: bool = sqlx::query_scalar("SELECT notify_comments FROM users WHERE id = $1")
        .bind(writer)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(on);
    let res = reqwest::Client::new()
        .post(&unsubscribe)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let forged = format!(
        "{}/unsubscribe/comments/{writer}.{}",
        app.base,
        "0".repeat(64)
    );
    let res = reqwest::Client::new().post(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);

    assert_eq!(
        comment(&reader, &slug, "Still disagree").await.status(),
        StatusCode::SEE_OTHER
    );
    // The jobs ran, and sent nothing.
    app.until_jobs_ran().await;
    assert_eq!(smtp.messages().len(), 1, "unsubscribed: no more emails");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'mail.comment' AND state <> 'done'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(open, 0);

    // Back on from /account.
    let res = author
        .submit(
            "/account",
            "/account/notifications",
            &[("notify_comments", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let account = author.page("/account", StatusCode::OK).await;
    assert_eq!(
        account
            .attrs("input[name=notify_comments][checked]", "name")
            .len(),
        1
    );
    comment(&reader, &slug, "Third time").await;
    smtp.wait_for(2).await;
}

#[tokio::test]
async fn a_held_comment_asks_the_author_to_approve_it() {
    let (app, smtp) = app_with_mail().await;
    set_site(&app, &[("comments", "held")]).await;
    let writer = app.author("writer").await;
    let slug = app
        .post(
            writer,
            PostSpec {
                title: "Moderated",
                ..Default::default()
            },
        )
        .await;
    let reader = app.signed_in("stranger", Role::Reader).await;
    comment(&reader, &slug, "Hello there").await;
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(
        mail.subject,
        "A comment waits for your approval on “Moderated”"
    );
    assert!(mail.text().contains("/admin/comments?status=pending"));
}

#[tokio::test]
async fn without_smtp_nothing_is_queued_to_send() {
    let app = crate::harness::spawn_app().await;
    let writer = app.author("writer").await;
    let slug = app
        .post(
            writer,
            PostSpec {
                title: "Quiet",
                ..Default::default()
            },
        )
        .await;
    let reader = TestApp::sharing(&app);
    reader.register("quiet").await;
    comment(&reader, &slug, "Hi").await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'mail.%'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    let account = reader.page("/account", StatusCode::OK).await;
    assert!(account.contains("this site sends no email"));
}

/// A token alone (leaked once, good for days) must not take the account: changing the email
/// or password through the API needs the current password unless the token is from a login
/// just now; the old address hears of a new one, and the new one must verify itself.
#[tokio::test]
async fn the_api_asks_for_the_current_password_to_change_email_or_password() {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        smtp.configure(s);
        s.api.recent_auth_minutes = 0;
    })
    .await;
    let token = crate::api::register(&app, "owner").await;
    smtp.wait_for(1).await; // the welcome's verification link
    let put = |user: serde_json::Value| {
        crate::api::call(
            &app,
            reqwest::Method::PUT,
            "/api/user",
            Some(&token),
            Some(serde_json::json!({ "user": user })),
        )
    };
    for user in [
        serde_json::json!({"email": "thief@example.com"}),
        serde_json::json!({"password": "a brand new passphrase"}),
        serde_json::json!({"email": "thief@example.com", "currentPassword": ""}),
    ] {
        let (status, body) = put(user.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{user}: {body}");
        assert!(
            body["errors"]["currentPassword"][0]
                .as_str()
                .unwrap()
                .contains("needed")
        );
    }
    let (status, body) =
        put(serde_json::json!({"email": "thief@example.com", "currentPassword": "not it at all"}))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"]["currentPassword"][0], "is incorrect");
    // Nothing changed; the bio needs no password.
    let (status, body) = put(serde_json::json!({"bio": "Hello"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "owner@example.com");

    let (status, body) = put(serde_json::json!({
        "email": "new-home@example.com",
        "currentPassword": crate::api::PASSWORD,
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "new-home@example.com");
    let mails = smtp.wait_for(3).await;
    let notice = mails
        .iter()
        .find(|m| m.rcpt_tos == ["owner@example.com"] && m.subject.contains("was changed"))
        .expect("the old address is told");
    assert!(notice.text().contains("new-home@example.com"));
    assert!(
        mails
            .iter()
            .any(|m| m.rcpt_tos == ["new-home@example.com"] && m.subject.starts_with("Verify")),
        "the new address is asked to verify"
    );

    // With the default allowance, a token from a login just now needs no current password
    // (RealWorld clients log in, then change settings).
    let fresh = spawn_app().await;
    let token = crate::api::register(&fresh, "client").await;
    let (status, body) = crate::api::call(
        &fresh,
        reqwest::Method::PUT,
        "/api/user",
        Some(&token),
        Some(serde_json::json!({"user": {"email": "c2@example.com", "password": "another long passphrase"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
