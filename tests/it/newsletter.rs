//! Newsletters (issue 14), against a real SMTP server: double opt-in, each new post to every
//! confirmed subscriber exactly once (a worker killed mid-send included), one-click
//! unsubscribe, and the admin's list and CSV.

use std::time::Duration;

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::{
    admin::editor_fields,
    harness::{Page, TestApp, eventually, spawn_app_with},
    smtp::{Mail, SmtpSink},
};

async fn app_with_mail(adjust: impl FnOnce(&mut quire::config::Settings)) -> (TestApp, SmtpSink) {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        smtp.configure(s);
        s.newsletter.per_minute = 60_000;
        adjust(s);
    })
    .await;
    (app, smtp)
}

/// Subscribe `address` through the form, from a fresh browser.
async fn sign_up(app: &TestApp, address: &str) -> reqwest::Response {
    let form_page = format!(
        "/subscribe?email={}",
        url::form_urlencoded::byte_serialize(address.as_bytes()).collect::<String>()
    );
    TestApp::sharing(app)
        .submit(
            &form_page,
            "/subscribe",
            &[("email", address), ("website", "")],
        )
        .await
}

/// `n` confirmed subscribers, straight into the table: sub0@example.com …
async fn confirmed(app: &TestApp, n: usize) {
    sqlx::query(
        "INSERT INTO subscribers (email, status, confirmed_at)
         SELECT 'sub' || i || '@example.com', 'confirmed', now() FROM generate_series(0, $1 - 1) i",
    )
    .bind(n as i32)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Publish a post through the editor (`extra` fields added), saying yes to sending when
/// asked; its id.
async fn publish(author: &TestApp, title: &str, extra: &[(&str, &str)]) -> i64 {
    let mut fields = editor_fields(
        title,
        "Hello **subscribers**.\n\n![pic](/uploads/x.png)",
        "published",
    );
    fields.extend_from_slice(extra);
    let mut res = author
        .submit("/admin/posts/new", "/admin/posts", &fields)
        .await;
    if res.status() == StatusCode::OK {
        let step = Page::parse(&res.text().await.unwrap());
        res = answer(author, &step, "send", |_| {}).await;
    }
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    post_id(&res)
}

/// The post a save's redirect names.
fn post_id(res: &reqwest::Response) -> i64 {
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

fn newsletters(smtp: &SmtpSink, title: &str) -> Vec<Mail> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.subject == title)
        .collect()
}

/// Until `n` copies of the newsletter `title` have arrived (30 s at most).
async fn until_sent(smtp: &SmtpSink, title: &str, n: usize) {
    let what = format!("{n} copies of {title:?}");
    eventually(&what, Duration::from_secs(30), || async {
        let got = newsletters(smtp, title).len();
        if got >= n {
            Ok(())
        } else {
            Err(format!("{got} arrived"))
        }
    })
    .await
}

#[tokio::test]
async fn readers_subscribe_by_confirming_a_link_and_the_answer_never_tells() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    // The footer offers it on every page, as a GET (cached pages carry no CSRF token).
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(
        home.attr(".subscribe-inline", "action").as_deref(),
        Some("/subscribe")
    );
    let prefilled = app
        .page("/subscribe?email=ann%40example.com", StatusCode::OK)
        .await;
    assert_eq!(
        prefilled.attr("#email", "value").as_deref(),
        Some("ann@example.com")
    );

    let res = sign_up(&app, "Ann@Example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/subscribe?sent=1");
    let mail = smtp.wait_for(1).await.remove(0);
    assert!(mail.subject.starts_with("Confirm your subscription"));
    let link = mail.link(&format!("{}/subscribe/confirm/", app.base));
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let status: String = sqlx::query_scalar("SELECT status FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending");

    TestApp::sharing(&app)
        .page(&format!("{path}0"), StatusCode::GONE)
        .await;
    // Opening the link (a mail scanner does) only asks; the button subscribes.
    let page = TestApp::sharing(&app).page(&path, StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Confirm your subscription");
    assert_eq!(
        page.attr("form[method=post]", "action").as_deref(),
        Some(path.as_str())
    );
    let status: String = sqlx::query_scalar("SELECT status FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending", "opening the link subscribes nobody");
    let page = press(&app, &path, StatusCode::OK).await;
    assert_eq!(page.text("h1"), "You're subscribed");
    let status: String = sqlx::query_scalar("SELECT status FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "confirmed");

    // Again, in other letters: the same answer, and nothing more is sent.
    let again = sign_up(&app, "ann@example.com").await;
    assert_eq!(again.headers()["location"], "/subscribe?sent=1");
    app.until_jobs_ran().await;
    assert_eq!(smtp.messages().len(), 1);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn bad_addresses_header_injection_and_floods_are_refused_readably() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    let browser = TestApp::sharing(&app);
    for bad in [
        "reader@example.com\r\nBcc: everyone@example.com",
        "reader@example.com\nSubject: hi",
        "no-at-sign",
        "a b@example.com",
    ] {
        let res = browser
            .submit("/subscribe", "/subscribe", &[("email", bad)])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        assert!(
            page.text(".field-error").contains("email address like"),
            "{bad:?}"
        );
        // (An HTML parser reads a CR LF in the page as LF.)
        assert_eq!(
            page.attr("#email", "value"),
            Some(bad.replace("\r\n", "\n")),
            "the text is kept"
        );
    }
    // A program filling the hidden field.
    let bot = browser
        .submit(
            "/subscribe",
            "/subscribe",
            &[("email", "bot@example.com"), ("website", "http://spam")],
        )
        .await;
    assert_eq!(bot.status(), StatusCode::BAD_REQUEST);

    // The same address a thousand times: three confirmations an hour, then a refusal, and
    // still one row.
    let mut refused = 0;
    for n in 0..1000 {
        let address = if n % 2 == 0 {
            "flood@example.com"
        } else {
            "FLOOD@example.com"
        };
        let res = sign_up(&app, address).await;
        match res.status() {
            StatusCode::SEE_OTHER => assert!(n < 3, "only three went through, not {n}"),
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                if refused == 1 {
                    assert!(res.headers().contains_key("retry-after"));
                    assert!(res.text().await.unwrap().contains("Too many sign-ups"));
                }
            }
            other => panic!("{other}"),
        }
        if refused >= 20 {
            break;
        }
    }
    assert_eq!(refused, 20);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    app.until_jobs_ran().await;
    let confirmations = smtp.messages().len();
    assert!(confirmations <= 3, "{confirmations} confirmations");
}

#[tokio::test]
async fn a_published_post_goes_to_each_confirmed_subscriber_once_and_edits_never() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    confirmed(&app, 5).await;
    sqlx::query("INSERT INTO subscribers (email) VALUES ('waiting@example.com')")
        .execute(&app.db)
        .await
        .unwrap();
    let author = app.signed_in("writer", Role::Author).await;
    let editor = author.page("/admin/posts/new", StatusCode::OK).await;
    assert!(editor.contains("Publish without emailing subscribers"));

    let id = publish(&author, "Issue one", &[]).await;
    until_sent(&smtp, "Issue one", 5).await;
    let sent = newsletters(&smtp, "Issue one");
    let mut to: Vec<String> = sent.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        (0..5)
            .map(|i| format!("sub{i}@example.com"))
            .collect::<Vec<_>>()
    );
    let first = &sent[0];
    let unsubscribe = first
        .header("List-Unsubscribe")
        .unwrap()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    assert!(unsubscribe.starts_with(&format!("{}/unsubscribe/", app.base)));
    assert_eq!(
        first.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(first.text().contains(&unsubscribe), "a visible link too");
    let html = first.html.clone().unwrap();
    assert!(html.contains("<strong>subscribers</strong>"));
    assert!(
        html.contains(&format!("src=\"{}/uploads/x.png\"", app.base)),
        "{html}"
    );
    assert!(
        first
            .header("Message-ID")
            .unwrap()
            .contains(&format!("post{id}."))
    );

    // Saved again, unpublished and published again: nobody gets it twice.
    for (status, body) in [("draft", "Changed."), ("published", "Changed again.")] {
        let res = crate::admin::save_as(&author, id, status, "Issue one", body).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let page = author
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert!(page.contains("Emailed to 5 subscribers"));

    // One subscriber leaves with one click; the next post goes to the other four.
    let res = reqwest::Client::new()
        .post(&unsubscribe)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let left = first.rcpt_tos[0].clone();

    // Published without sending: nobody.
    publish(&author, "Quiet one", &[("no_newsletter", "on")]).await;
    publish(&author, "Issue two", &[]).await;
    until_sent(&smtp, "Issue two", 4).await;
    app.until_jobs_ran().await;
    assert_eq!(newsletters(&smtp, "Issue one").len(), 5, "still once each");
    assert!(newsletters(&smtp, "Quiet one").is_empty());
    let two = newsletters(&smtp, "Issue two");
    assert_eq!(two.len(), 4);
    assert!(two.iter().all(|m| m.rcpt_tos[0] != left));
    assert!(
        smtp.messages()
            .iter()
            .all(|m| m.rcpt_tos[0] != "waiting@example.com")
    );
}

#[tokio::test]
async fn a_worker_killed_mid_newsletter_is_taken_over_and_everyone_gets_it_exactly_once() {
    // This instance runs no jobs: `quire worker` processes do, with a one-second lease.
    let (app, smtp) = app_with_mail(|s| s.jobs.enabled = false).await;
    confirmed(&app, 200).await;
    let author = app.signed_in("writer", Role::Author).await;
    publish(&author, "Big issue", &[]).await;
    let worker = |app: &TestApp| {
        let mut cmd = app.quire_command();
        cmd.arg("worker")
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", smtp.port.to_string())
            .env("QUIRE__MAIL__TLS", "none")
            .env("QUIRE__NEWSLETTER__PER_MINUTE", "60000")
            .env("QUIRE__NEWSLETTER__BATCH_SIZE", "25")
            .env("QUIRE__JOBS__LEASE_SECS", "1")
            .env("QUIRE__JOBS__POLL_MS", "100")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().expect("quire worker starts")
    };

    // The first worker is killed (SIGKILL: nothing handed back) while the 101st message is
    // in the SMTP conversation; the server drops it, as a server whose sender vanished does.
    smtp.hold_after(100);
    let mut first = worker(&app);
    eventually(
        "the first worker to reach the 101st message",
        Duration::from_secs(30),
        || async { smtp.holding() },
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    smtp.release(true);
    assert_eq!(smtp.messages().len(), 100);

    let mut second = worker(&app);
    until_sent(&smtp, "Big issue", 200).await;
    // Anything sent twice would be sent by now.
    app.until_jobs_ran().await;
    second.kill().unwrap();
    second.wait().unwrap();
    let got = newsletters(&smtp, "Big issue");
    let mut to: Vec<String> = got.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    to.sort();
    let mut expected: Vec<String> = (0..200).map(|i| format!("sub{i}@example.com")).collect();
    expected.sort();
    assert_eq!(to, expected, "each of the 200 exactly once");
    let (sent, recipients): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM newsletter_deliveries WHERE state = 'sent'),
                (SELECT recipients FROM newsletter_sends s JOIN posts p ON p.id = s.post_id
                  WHERE p.title = 'Big issue')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((sent, recipients), (200, 200));
}

#[tokio::test]
async fn accounts_subscribe_from_their_page_and_admins_list_and_export() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    let reader = app.signed_in("member", Role::Reader).await;
    // Unverified: a confirmation, like anyone.
    let res = reader
        .submit("/account", "/account/newsletter", &[("subscribe", "on")])
        .await;
    assert_eq!(
        res.headers()["location"],
        "/account?saved=confirm-subscription"
    );
    smtp.wait_for(1).await;
    // Verified: at once.
    sqlx::query("UPDATE users SET email_verified = true WHERE username = 'member'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = reader
        .submit("/account", "/account/newsletter", &[("subscribe", "on")])
        .await;
    assert_eq!(res.headers()["location"], "/account?saved=subscribed");
    let account = reader.page("/account", StatusCode::OK).await;
    assert!(
        account
            .text("#newsletter + form")
            .contains("You get new posts by email")
    );

    sqlx::query(
        "INSERT INTO subscribers (email, status) VALUES ('=cmd|calc@example.com', 'pending')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let admin = app.signed_in("boss", Role::Admin).await;
    let list = admin.page("/admin/subscribers", StatusCode::OK).await;
    assert!(list.text("nav.filters").contains("Confirmed (1)"));
    assert!(list.text("tbody").contains("@member"));
    let csv = admin.get("/admin/subscribers/export.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "email,status,subscribed_at,confirmed_at,account");
    assert!(body.contains("\"member@example.com\",\"confirmed\""));
    assert!(
        body.contains("\"'=cmd|calc@example.com\""),
        "no formula: {body}"
    );
    let pending = admin
        .page("/admin/subscribers?status=pending", StatusCode::OK)
        .await;
    assert_eq!(pending.texts("tbody tr").len(), 1);

    let res = reader
        .submit("/account", "/account/newsletter", &[("subscribe", "off")])
        .await;
    assert_eq!(res.headers()["location"], "/account?saved=unsubscribed");
}

/// (status) of the subscriber with `address`.
async fn status_of(app: &TestApp, address: &str) -> String {
    sqlx::query_scalar("SELECT status FROM subscribers WHERE email = $1")
        .bind(address)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_old_confirmation_link_never_resubscribes_and_an_expired_one_says_so() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    sign_up(&app, "ann@example.com").await;
    let first = smtp.wait_for(1).await.remove(0);
    let first = first.link(&format!("{}/subscribe/confirm/", app.base));
    let first = first.strip_prefix(&app.base).unwrap().to_owned();
    let page = press(&app, &first, StatusCode::OK).await;
    assert_eq!(page.text("h1"), "You're subscribed");
    // Used again: it says so, and changes nothing.
    let page = TestApp::sharing(&app).page(&first, StatusCode::OK).await;
    assert_eq!(page.text("h1"), "You're subscribed already");

    // She leaves; the old link doesn't bring her back, and says how to.
    let id: i64 = sqlx::query_scalar("SELECT id FROM subscribers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let leave = quire::newsletter::unsubscribe_link(&app.settings, id);
    let left = app.client.post(&leave).send().await.unwrap();
    assert_eq!(left.status(), StatusCode::OK);
    assert_eq!(status_of(&app, "ann@example.com").await, "unsubscribed");
    let page = TestApp::sharing(&app).page(&first, StatusCode::GONE).await;
    assert_eq!(page.text("h1"), "This link was used already");
    assert_eq!(
        page.attr("a.subscribe-again", "href").as_deref(),
        Some("/subscribe?email=ann%40example.com")
    );
    assert_eq!(status_of(&app, "ann@example.com").await, "unsubscribed");

    // She asks again: only the new link confirms, not the one from before she left.
    sign_up(&app, "ann@example.com").await;
    let second = smtp.wait_for(2).await.remove(1);
    let second = second.link(&format!("{}/subscribe/confirm/", app.base));
    let second = second.strip_prefix(&app.base).unwrap().to_owned();
    press(&app, &first, StatusCode::GONE).await;
    assert_eq!(status_of(&app, "ann@example.com").await, "pending");
    press(&app, &second, StatusCode::OK).await;
    assert_eq!(status_of(&app, "ann@example.com").await, "confirmed");

    // A link past its week: expired, with the way to a new one.
    sqlx::query("INSERT INTO subscribers (email) VALUES ('bob@example.com')")
        .execute(&app.db)
        .await
        .unwrap();
    let bob: i64 = sqlx::query_scalar("SELECT id FROM subscribers WHERE email = 'bob@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let bob = bob.to_string();
    let issued = (time::OffsetDateTime::now_utc().unix_timestamp() - 8 * 24 * 3600).to_string();
    let mac = quire::accounts::verify::sign(
        &app.settings,
        "subscribe",
        &[&bob, "bob@example.com", &issued],
    );
    let page = TestApp::sharing(&app)
        .page(
            &format!("/subscribe/confirm/{bob}.{issued}.{mac}"),
            StatusCode::GONE,
        )
        .await;
    assert_eq!(page.text("h1"), "This link has expired");
    assert!(page.text("p.lede").contains("7 days"));
    assert_eq!(
        page.attr("a.subscribe-again", "href").as_deref(),
        Some("/subscribe?email=bob%40example.com")
    );
    assert_eq!(status_of(&app, "bob@example.com").await, "pending");
}

/// Press the button a confirmation link's page shows (a POST to the link).
async fn press(app: &TestApp, path: &str, expected: StatusCode) -> crate::harness::Page {
    let res = app.press(path).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, expected, "POST {path}: {body}");
    crate::harness::Page::parse(&body)
}

// ---- publishing asks before it emails (issue 27, item 6) ----

/// Answer the newsletter's confirmation step `step` with `choice` ("send", "skip", "back"),
/// its hidden fields sent back as the browser would (after `tamper` with them).
async fn answer(
    author: &TestApp,
    step: &Page,
    choice: &str,
    tamper: impl FnOnce(&mut Vec<(String, String)>),
) -> reqwest::Response {
    let names = step.attrs(".confirm-publish input[type=hidden]", "name");
    let values = step.attrs(".confirm-publish input[type=hidden]", "value");
    let mut fields: Vec<(String, String)> = names.into_iter().zip(values).collect();
    tamper(&mut fields);
    fields.push(("newsletter".into(), choice.into()));
    let action = step.attr(".confirm-publish form", "action").unwrap();
    author
        .client
        .post(author.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Newsletter rows and jobs: (posts, newsletter records, records skipped, newsletter jobs).
async fn newsletter_rows(app: &TestApp) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM posts WHERE status = 'published'),
                (SELECT count(*) FROM newsletter_sends),
                (SELECT count(*) FROM newsletter_sends WHERE skipped),
                (SELECT count(*) FROM jobs WHERE kind LIKE 'newsletter.%')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

const TYPED: &str = "My *precious* words,\nkept whatever happens.";

/// The first press of Publish on a new post: the confirmation step (200).
async fn publish_step(author: &TestApp, title: &str) -> Page {
    let res = author
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &editor_fields(title, TYPED, "published"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    Page::parse(&res.text().await.unwrap())
}

#[tokio::test]
async fn publishing_to_subscribers_asks_first_and_names_how_many() {
    // No worker: what publishing queues stays in the jobs table to be looked at.
    let (app, _smtp) = app_with_mail(|s| s.jobs.enabled = false).await;
    confirmed(&app, 1204).await;
    let author = app.signed_in("writer", Role::Author).await;
    let editor = author.page("/admin/posts/new", StatusCode::OK).await;
    assert_eq!(
        editor.text("#publish-button"),
        "Publish and email 1,204 subscribers"
    );

    // The first press asks: the count, both choices, and nothing published or queued yet.
    let step = publish_step(&author, "Big news").await;
    assert!(step.text("h1").contains("1,204 subscribers"), "{}", step.1);
    let choices = step.texts(".confirm-publish button");
    assert_eq!(
        choices,
        [
            "Publish and email 1,204 subscribers",
            "Publish without sending",
            "Back to editing"
        ]
    );
    assert_eq!(newsletter_rows(&app).await, (0, 0, 0, 0));

    // Back to editing: the editor again, the text as typed, still nothing saved.
    let res = answer(&author, &step, "back", |_| {}).await;
    assert_eq!(res.status(), StatusCode::OK);
    let back = Page::parse(&res.text().await.unwrap());
    assert_eq!(back.text("#body"), TYPED);
    assert_eq!(newsletter_rows(&app).await, (0, 0, 0, 0));

    // Yes: published, the newsletter's scan queued, and the editor says so with the count.
    let res = answer(&author, &step, "send", |_| {}).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("?saved=1&published=1"), "{location}");
    let (published, _, skipped, jobs) = newsletter_rows(&app).await;
    assert_eq!((published, skipped), (1, 0));
    assert!(jobs >= 1, "the newsletter's scan is queued");
    let after = author.page(&location, StatusCode::OK).await;
    assert_eq!(
        after.text("#editor-flash"),
        "Published. Emailing 1,204 subscribers — progress below."
    );
    assert!(
        after
            .text("#newsletter-progress")
            .contains("Emailing 1,204 subscribers: 0 sent so far")
    );

    // "Publish without sending": published, and recorded as never to be sent.
    let step = publish_step(&author, "Quiet news").await;
    let res = answer(&author, &step, "skip", |_| {}).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (published, records, skipped, _) = newsletter_rows(&app).await;
    assert_eq!((published, records, skipped), (2, 1, 1));
    let after = author.page(&location, StatusCode::OK).await;
    assert_eq!(
        after.text("#editor-flash"),
        "Published, without emailing subscribers."
    );
    // The send's own rule agrees: the scan claims the first post only.
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT p.title FROM published_posts p
          WHERE newsletter_due(p.published_at,
                               EXISTS (SELECT 1 FROM newsletter_sends s WHERE s.post_id = p.id), 48)",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(due, ["Big news"]);
}

#[tokio::test]
async fn a_stale_or_forged_confirmation_is_refused_with_the_text_kept() {
    let (app, _smtp) = app_with_mail(|s| s.jobs.enabled = false).await;
    confirmed(&app, 3).await;
    let author = app.signed_in("writer", Role::Author).await;
    let step = publish_step(&author, "Careful").await;
    assert!(step.text("h1").contains("3 subscribers"));

    // A made-up signature, or a count changed by hand: 400, the editor with the text.
    for tamper in ["token", "count"] {
        let res = answer(&author, &step, "send", |fields| {
            for (name, value) in fields.iter_mut() {
                match (tamper, name.as_str()) {
                    ("token", "newsletter_token") => *value = "0".repeat(value.len()),
                    ("count", "newsletter_count") => *value = "0".into(),
                    _ => {}
                }
            }
        })
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{tamper}");
        let page = Page::parse(&res.text().await.unwrap());
        assert_eq!(page.text("#body"), TYPED, "{tamper}");
        assert!(
            page.text(".form-error").contains("Not published"),
            "{tamper}"
        );
    }
    // Someone subscribed since the question: asked again with the new count (409), the
    // text carried along.
    confirmed_more(&app, "late@example.com").await;
    let res = answer(&author, &step, "send", |_| {}).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let again = Page::parse(&res.text().await.unwrap());
    assert!(again.text(".form-error").contains("3 subscribers then"));
    assert!(again.text("h1").contains("4 subscribers"));
    assert_eq!(
        again
            .attr(".confirm-publish input[name=body]", "value")
            .as_deref(),
        Some(TYPED)
    );
    assert_eq!(
        newsletter_rows(&app).await,
        (0, 0, 0, 0),
        "nothing published"
    );
    // Answered anew, it publishes.
    let res = answer(&author, &again, "send", |_| {}).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after = author
        .page(res.headers()["location"].to_str().unwrap(), StatusCode::OK)
        .await;
    assert!(after.text("#editor-flash").contains("4 subscribers"));
}

async fn confirmed_more(app: &TestApp, address: &str) {
    sqlx::query(
        "INSERT INTO subscribers (email, status, confirmed_at) VALUES ($1, 'confirmed', now())",
    )
    .bind(address)
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn publishing_asks_nothing_when_nobody_would_be_emailed() {
    let (app, smtp) = app_with_mail(|_| {}).await;
    let author = app.signed_in("writer", Role::Author).await;
    // No subscribers: straight to published.
    let editor = author.page("/admin/posts/new", StatusCode::OK).await;
    assert_eq!(editor.text("#publish-button"), "Publish now");
    let first = publish(&author, "To nobody", &[]).await;
    app.until_jobs_ran().await;
    // One subscriber: the count says so; "Publish without emailing" ticked asks nothing.
    confirmed(&app, 1).await;
    let step = publish_step(&author, "To one").await;
    assert!(
        step.text("h1").contains("Publish and email 1 subscriber?"),
        "{}",
        step.text("h1")
    );
    let res = author
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", "Unasked"),
                ("body", TYPED),
                ("status", "draft"),
                ("intent", "publish"),
                ("no_newsletter", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A post already sent (the first one went to nobody) is never asked about again.
    let res = crate::admin::save_as(&author, first, "draft", "To nobody", "Back.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = crate::admin::save_as(&author, first, "published", "To nobody", "Again.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.until_jobs_ran().await;
    assert!(newsletters(&smtp, "Unasked").is_empty());
    assert!(newsletters(&smtp, "To nobody").is_empty());

    // Without a mail server there is no newsletter and nothing to ask.
    let plain = crate::harness::spawn_app().await;
    let author = plain.signed_in("writer", Role::Author).await;
    crate::admin::write(&author, "Plain", "Text.", "published").await;
}
