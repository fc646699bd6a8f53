//! Webhooks (issue 14): signed deliveries of every event to a receiver served here, retries
//! when it fails or hangs, limits when it streams forever, and no delivery to private
//! addresses unless the site allows it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpRequest, HttpResponse, web};
use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, eventually, spawn_app_with};

/// What the receiver does with the next requests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ok,
    /// 500 for this many requests, then 200.
    Fail(usize),
    /// Never answers.
    Hang,
    /// 200, then bytes forever.
    Flood,
    /// 302 to the cloud metadata address.
    Redirect,
}

#[derive(Clone, Debug)]
pub(crate) struct Received {
    path: String,
    pub(crate) event: String,
    delivery: String,
    signature: String,
    pub(crate) body: Vec<u8>,
}

/// A webhook receiver served here (`tests/it/events.rs` compares the brokers' messages with
/// what it gets).
#[derive(Clone)]
pub(crate) struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
    failed: Arc<AtomicUsize>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = Self {
            port,
            got: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Ok)),
            failed: Arc::default(),
        };
        let shared = me.clone();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        me
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        self.failed.store(0, Ordering::SeqCst);
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (20 s at most) for `n` requests.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let what = format!("{n} deliveries");
        eventually(&what, Duration::from_secs(20), || async {
            let got = self.got();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(sorted(&got))
            }
        })
        .await
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, me: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    me.got.lock().unwrap().push(Received {
        path: req.path().to_owned(),
        event: header("quire-event"),
        delivery: header("quire-delivery"),
        signature: header("quire-signature"),
        body: body.to_vec(),
    });
    let mode = *me.mode.lock().unwrap();
    match mode {
        Mode::Ok => HttpResponse::Ok().body("thanks"),
        Mode::Fail(n) if me.failed.fetch_add(1, Ordering::SeqCst) < n => {
            HttpResponse::InternalServerError().body("not now")
        }
        Mode::Fail(_) => HttpResponse::Ok().finish(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().finish()
        }
        Mode::Flood => HttpResponse::Ok().streaming(futures_util::stream::repeat_with(|| {
            Ok::<_, actix_web::Error>(web::Bytes::from_static(&[b'x'; 65_536]))
        })),
        Mode::Redirect => HttpResponse::Found()
            .insert_header(("Location", "http://169.254.169.254/latest/meta-data/"))
            .finish(),
    }
}

async fn app(allow_private: bool) -> TestApp {
    spawn_app_with(|s| {
        s.webhooks.allow_private = allow_private;
        s.webhooks.timeout_secs = 1;
        s.jobs.backoff_base_ms = 20;
        s.jobs.backoff_max_secs = 1;
    })
    .await
}

/// Register `url` for `events` through the admin's form.
pub(crate) async fn register(admin: &TestApp, url: &str, events: &[&str]) -> reqwest::Response {
    let mut fields = vec![("url", url)];
    fields.extend(events.iter().map(|e| ("event", *e)));
    admin
        .submit("/admin/webhooks", "/admin/webhooks", &fields)
        .await
}

/// The webhook's id and secret, from the page the form led to.
async fn registered(admin: &TestApp, res: reqwest::Response) -> (i64, String) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let path = res.headers()["location"].to_str().unwrap().to_owned();
    let id = path.rsplit('/').next().unwrap().parse().unwrap();
    let page = admin.page(&path, StatusCode::OK).await;
    (id, page.text("code.secret"))
}

/// Check the signature the way a receiver should; returns the body as JSON.
fn verified(secret: &str, r: &Received) -> serde_json::Value {
    let t: i64 = r
        .signature
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - t).abs() < 300);
    assert_eq!(r.signature, quire::webhooks::signature(secret, t, &r.body));
    assert_ne!(
        r.signature,
        quire::webhooks::signature("another secret entirely, 32 chars!", t, &r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn private_addresses_bad_urls_and_unknown_events_are_refused_at_registration() {
    let app = app(false).await;
    let admin = app.signed_in("boss", Role::Admin).await;
    for (url, events, says) in [
        (
            "http://127.0.0.1:9/hook",
            &["post.published"][..],
            "127.0.0.1 is not a public address",
        ),
        (
            "http://localhost/hook",
            &["post.published"],
            "is not a public address",
        ),
        (
            "http://[::1]/hook",
            &["post.published"],
            "::1 is not a public address",
        ),
        (
            "http://169.254.169.254/latest",
            &["post.published"],
            "not a public address",
        ),
        (
            "http://10.0.0.8/",
            &["post.published"],
            "not a public address",
        ),
        (
            "javascript:alert(1)",
            &["post.published"],
            "starts with http:// or https://",
        ),
        (
            "https://user:pw@example.com/",
            &["post.published"],
            "no user name or password",
        ),
        ("not a url", &["post.published"], "Enter a full URL"),
        ("https://example.com/hook", &[], "Tick at least one event"),
        (
            "https://example.com/hook",
            &["post.exploded"],
            "not an event this site sends",
        ),
    ] {
        let res = register(&admin, url, events).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        assert!(page.contains(says), "{url}: {says}");
        assert_eq!(
            page.attr("#url", "value").as_deref(),
            Some(url),
            "the URL is kept"
        );
    }
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(none, 0);
}

/// Issue 24: addresses that embed or stand for a private one, in IPv6 forms a deny-list of
/// ranges missed, are refused too, and the message keeps the host as it was written.
#[tokio::test]
async fn ipv6_forms_of_private_and_reserved_addresses_are_refused_at_registration() {
    let app = app(false).await;
    let admin = app.signed_in("boss", Role::Admin).await;
    for url in [
        "http://[::127.0.0.1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[100::1]/hook",
    ] {
        let res = register(&admin, url, &["post.published"]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        assert!(page.contains("is not a public address"), "{url}");
    }
    let res = register(
        &admin,
        "http://no-such-host.invalid/hook",
        &["post.published"],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = crate::harness::Page::parse(&res.text().await.unwrap());
    assert!(
        page.contains("no-such-host.invalid does not resolve"),
        "the host keeps its case"
    );
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(none, 0);
}

#[tokio::test]
async fn every_event_is_delivered_signed_and_logged() {
    let app = app(true).await;
    let receiver = Receiver::start().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let all: Vec<&str> = quire::webhooks::EVENTS.iter().map(|(e, _)| *e).collect();
    let res = register(&admin, &receiver.url(), &all).await;
    let (id, secret) = registered(&admin, res).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 40);

    let author = app.author("writer").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Hooked",
                ..Default::default()
            },
        )
        .await;
    let reader = app.signed_in("reader", Role::Reader).await;
    crate::comments::comment(&reader, &slug, "Nice").await;
    for sql in [
        "UPDATE posts SET version = version + 1, title = 'Hooked again' WHERE slug = $1",
        "UPDATE posts SET status = 'draft' WHERE slug = $1",
        "UPDATE posts SET status = 'published' WHERE slug = $1",
        "UPDATE posts SET deleted_at = now() WHERE slug = $1",
    ] {
        sqlx::query(sql).bind(&slug).execute(&app.db).await.unwrap();
    }
    // writer and reader made (boss was there before the webhook); the post published, a
    // comment, the post updated, unpublished, published again, deleted.
    let got = receiver.wait_for(8).await;
    app.until_jobs_ran().await;
    let got_all = receiver.got();
    assert_eq!(got_all.len(), 8, "each event once");
    assert_eq!(
        sorted(&got),
        [
            "comment.created",
            "post.deleted",
            "post.published",
            "post.published",
            "post.unpublished",
            "post.updated",
            "user.created",
            "user.created",
        ]
    );
    for r in &got {
        assert_eq!(r.path, "/hook");
        let body = verified(&secret, r);
        assert_eq!(body["event"], r.event);
        assert_eq!(body["id"].to_string(), r.delivery);
    }
    let published = got.iter().find(|r| r.event == "post.published").unwrap();
    let body = verified(&secret, published);
    assert_eq!(body["data"]["slug"], slug);
    assert_eq!(body["data"]["author"]["username"], "writer");
    assert_eq!(body["data"]["url"], format!("{}/posts/{slug}", app.base));
    let comment = got.iter().find(|r| r.event == "comment.created").unwrap();
    assert_eq!(verified(&secret, comment)["data"]["body"], "Nice");

    // The log: every delivery, delivered, with the receiver's answer.
    eventually(
        "every delivery delivered",
        Duration::from_secs(5),
        || async {
            let pending: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'",
            )
            .fetch_one(&app.db)
            .await
            .unwrap();
            if pending == 0 {
                Ok(())
            } else {
                Err(format!("{pending} not delivered"))
            }
        },
    )
    .await;
    let log = admin
        .page(&format!("/admin/webhooks/{id}"), StatusCode::OK)
        .await;
    let states = log.texts(".deliveries tbody .state");
    assert_eq!(states.len(), 8);
    assert!(states.iter().all(|s| s == "delivered"), "{states:?}");
    assert!(
        log.texts(".deliveries tbody td.num")
            .iter()
            .any(|t| t == "200")
    );

    // "Send test event": a ping, signed like the rest.
    let res = admin
        .submit(
            &format!("/admin/webhooks/{id}"),
            &format!("/admin/webhooks/{id}/test"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let got = receiver.wait_for(9).await;
    let ping = got.iter().find(|r| r.event == "ping").unwrap();
    assert_eq!(verified(&secret, ping)["data"]["webhook"], id);
}

/// The events received, sorted.
fn sorted(got: &[Received]) -> Vec<String> {
    let mut events: Vec<String> = got.iter().map(|r| r.event.clone()).collect();
    events.sort();
    events
}

/// (state, attempts, response status, error) of the `n`-th delivery (from 1), "none" before
/// it exists.
async fn delivery(app: &TestApp, n: i64) -> (String, i32, Option<i32>, Option<String>) {
    sqlx::query_as(
        "SELECT state, attempts, response_status, error FROM webhook_deliveries
          ORDER BY id OFFSET $1 LIMIT 1",
    )
    .bind(n - 1)
    .fetch_optional(&app.db)
    .await
    .unwrap()
    .unwrap_or(("none".into(), 0, None, None))
}

/// Wait (20 s at most) until the `n`-th delivery is in `state`.
async fn until_delivery(
    app: &TestApp,
    n: i64,
    state: &str,
) -> (String, i32, Option<i32>, Option<String>) {
    let what = format!("delivery {n} to be {state}");
    eventually(&what, Duration::from_secs(20), || async {
        let d = delivery(app, n).await;
        if d.0 == state { Ok(d) } else { Err(d) }
    })
    .await
}

#[tokio::test]
async fn failing_hanging_flooding_and_redirecting_receivers_are_handled() {
    let app = app(true).await;
    let receiver = Receiver::start().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let res = register(&admin, &receiver.url(), &["user.created"]).await;
    registered(&admin, res).await;

    // 500 twice, then fine: delivered on the third attempt, the failures in the log.
    receiver.set(Mode::Fail(2));
    app.user("first", Role::Reader).await;
    let (_, attempts, status, error) = until_delivery(&app, 1, "delivered").await;
    assert_eq!((attempts, status, error), (3, Some(200), None));
    assert_eq!(receiver.got().len(), 3);
    let delivery_ids: Vec<String> = receiver.got().iter().map(|r| r.delivery.clone()).collect();
    assert!(
        delivery_ids.windows(2).all(|w| w[0] == w[1]),
        "a retry is the same delivery"
    );

    // Hangs: cut off after webhooks.timeout_secs, and retried.
    receiver.set(Mode::Hang);
    let before = receiver.got().len();
    app.user("second", Role::Reader).await;
    receiver.wait_for(before + 2).await;
    let (state, attempts, _, error) = delivery(&app, 2).await;
    assert_eq!(state, "pending");
    assert!(attempts >= 1);
    assert!(error.unwrap().contains("timed out"));
    sqlx::query("DELETE FROM jobs WHERE kind = 'webhook.deliver'")
        .execute(&app.db)
        .await
        .unwrap();

    // Streams forever: the 200 counts, and reading stops at the limit.
    receiver.set(Mode::Flood);
    let started = std::time::Instant::now();
    app.user("third", Role::Reader).await;
    let (_, _, status, _) = until_delivery(&app, 3, "delivered").await;
    assert_eq!(status, Some(200));
    assert!(started.elapsed() < Duration::from_secs(10));

    // Redirects (to the cloud metadata address here) are never followed.
    receiver.set(Mode::Redirect);
    let before = receiver.got().len();
    app.user("fourth", Role::Reader).await;
    receiver.wait_for(before + 1).await;
    let (_, _, status, error) =
        eventually("delivery 4's error", Duration::from_secs(5), || async {
            let d = delivery(&app, 4).await;
            if d.3.is_some() { Ok(d) } else { Err(d) }
        })
        .await;
    assert_eq!(status, None);
    assert!(error.unwrap().contains("redirects are not followed"));
    assert!(receiver.got().iter().all(|r| r.path == "/hook"));
}

#[tokio::test]
async fn a_webhook_pointing_at_a_private_address_is_never_called() {
    let app = app(false).await;
    let receiver = Receiver::start().await;
    // Registered when the rules were looser (or by hand): the delivery refuses it anyway.
    sqlx::query("INSERT INTO webhooks (url, events, secret) VALUES ($1, '{user.created}', $2)")
        .bind(receiver.url())
        .bind(quire::webhooks::new_secret())
        .execute(&app.db)
        .await
        .unwrap();
    app.user("someone", Role::Reader).await;
    let (_, attempts, _, error) = until_delivery(&app, 1, "failed").await;
    assert_eq!(attempts, 1, "not retried: the address won't become public");
    assert!(error.unwrap().contains("not a public address"));
    assert!(receiver.got().is_empty());
}

#[tokio::test]
async fn a_scheduled_post_going_live_by_the_clock_is_published_once() {
    let app = app(true).await;
    let receiver = Receiver::start().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let res = register(&admin, &receiver.url(), &["post.published"]).await;
    registered(&admin, res).await;
    let author = app.author("writer").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Later",
                ..Default::default()
            },
        )
        .await;
    receiver.wait_for(1).await;
    sqlx::query(
        "UPDATE posts SET status = 'scheduled', published_at = now() + interval '1 second'
          WHERE slug = $1",
    )
    .bind(&slug)
    .execute(&app.db)
    .await
    .unwrap();
    // The clock is the point: the post goes live when its time passes, with no write.
    eventually(
        "the post's time to pass",
        Duration::from_secs(5),
        || async {
            sqlx::query_scalar::<_, bool>("SELECT published_at <= now() FROM posts WHERE slug = $1")
                .bind(&slug)
                .fetch_one(&app.db)
                .await
                .unwrap()
        },
    )
    .await;
    // Two scans (each run, and whatever it queued, before the next): one delivery.
    for _ in 0..2 {
        quire::jobs::queue_once::<quire::webhooks::Scan>(&app.db)
            .await
            .unwrap();
        app.until_jobs_ran().await;
    }
    let got = receiver.wait_for(2).await;
    assert_eq!(
        sorted(&receiver.got()),
        ["post.published", "post.published"]
    );
    assert_eq!(got.len(), 2, "once for going live by the clock, not again");
}
