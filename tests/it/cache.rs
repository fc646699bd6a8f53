//! The hot-page cache (issue 11): what is kept, for whom, and when it goes stale.

use std::time::Duration;

use quire::{accounts::model::Role, posts::model::PostStatus};
use reqwest::StatusCode;

use crate::harness::{PostSpec, eventually, spawn_app};

fn x_cache(res: &reqwest::Response) -> &str {
    res.headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
}

#[tokio::test]
async fn public_pages_are_kept_with_an_etag_and_revalidated() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Kept",
                tags: &["Cached"],
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    for path in [
        "/".to_owned(),
        format!("/posts/{slug}"),
        "/tags/cached".to_owned(),
        "/authors/ada".to_owned(),
        "/search?q=kept".to_owned(),
        "/feed.xml".to_owned(),
        "/sitemap.xml".to_owned(),
    ] {
        let first = app.get(&path).await;
        assert_eq!(
            (first.status(), x_cache(&first)),
            (StatusCode::OK, "MISS"),
            "{path}"
        );
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.len() > 20,
            "{path}: a strong ETag"
        );
        assert_eq!(
            first.headers()["cache-control"],
            "public, max-age=0, must-revalidate",
            "{path}"
        );
        assert!(first.headers().get("set-cookie").is_none(), "{path}");
        let first_type = first.headers()["content-type"].clone();
        let first_body = first.text().await.unwrap();

        let second = app.get(&path).await;
        assert_eq!(x_cache(&second), "HIT", "{path}");
        assert_eq!(second.headers()["etag"].to_str().unwrap(), etag, "{path}");
        assert_eq!(second.headers()["content-type"], first_type, "{path}");
        assert!(second.headers().get("set-cookie").is_none(), "{path}");
        assert!(
            second.headers().get("content-security-policy").is_some(),
            "{path}"
        );
        assert_eq!(second.text().await.unwrap(), first_body, "{path}");

        let revalidated = app
            .client
            .get(app.url(&path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(revalidated.headers()["etag"].to_str().unwrap(), etag);
        assert!(revalidated.bytes().await.unwrap().is_empty(), "{path}");
        let other = app
            .client
            .get(app.url(&path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }
    // Other parameters are served, not kept; a forged Host never changes what is kept.
    let odd = app.get("/?utm_source=x").await;
    assert_eq!((odd.status(), x_cache(&odd)), (StatusCode::OK, "MISS"));
    assert_eq!(x_cache(&app.get("/?utm_source=x").await), "MISS");
    let forged = app
        .client
        .get(app.url("/tags/cached?page=1"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::OK);
    let body = app.get("/tags/cached?page=1").await.text().await.unwrap();
    assert!(!body.contains("evil.example"), "{body}");
}

#[tokio::test]
async fn people_with_a_session_bypass_it_and_nothing_personal_is_kept() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Shared",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    for _ in 0..2 {
        let res = rita.get(&format!("/posts/{slug}")).await;
        assert_eq!(x_cache(&res), "BYPASS");
        let body = res.text().await.unwrap();
        assert!(body.contains("Rita Display") && body.contains("csrf_token"));
    }
    // An anonymous reader of the same page gets the public version, then keeps getting it.
    for expected in ["MISS", "HIT"] {
        let res = app
            .other_client()
            .get(app.url(&format!("/posts/{slug}")))
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&res), expected);
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("Rita Display") && !body.contains("csrf_token"),
            "{body}"
        );
    }
    // Pages for one person are never kept, even when asked for without a session.
    let login = app.get("/login").await;
    assert_eq!(x_cache(&login), "(none)");
    assert!(
        login.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
}

#[tokio::test]
async fn a_change_through_the_site_makes_every_page_fresh_at_once() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Talk",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    let anonymous = |app: &crate::harness::TestApp| app.other_client().get(app.url(&path));
    assert_eq!(x_cache(&anonymous(&app).send().await.unwrap()), "MISS");
    assert_eq!(x_cache(&anonymous(&app).send().await.unwrap()), "HIT");

    let rita = app.signed_in("rita", Role::Reader).await;
    let res = crate::comments::comment(&rita, &slug, "Fresh words").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let res = anonymous(&app).send().await.unwrap();
    assert_eq!(x_cache(&res), "MISS");
    assert!(res.text().await.unwrap().contains("Fresh words"));
    assert_eq!(x_cache(&app.get("/").await), "MISS");
}

#[tokio::test]
async fn a_scheduled_post_appears_at_its_time_on_kept_pages() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Already out",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    // Scheduled two seconds from now (the helper takes minutes; set the time directly).
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Coming soon",
                status: PostStatus::Scheduled,
                published_in_minutes: 60,
                ..Default::default()
            },
        )
        .await;
    sqlx::query("UPDATE posts SET published_at = now() + interval '2 seconds' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    app.pages().stale().await;
    let before = app.get("/").await;
    assert_eq!(x_cache(&before), "MISS");
    assert!(!before.text().await.unwrap().contains("Coming soon"));
    assert_eq!(x_cache(&app.get("/").await), "HIT");
    // Due in two seconds: not kept much past that.
    eventually(
        "the post to show at its time",
        Duration::from_secs(5),
        || async {
            app.get("/")
                .await
                .text()
                .await
                .unwrap()
                .contains("Coming soon")
        },
    )
    .await;
}

#[tokio::test]
async fn two_instances_see_each_others_changes_on_the_next_request() {
    let one = spawn_app().await;
    let two = one.another_instance().await;
    assert_ne!(one.port, two.port);
    let ada = one.signed_in("ada", Role::Author).await;
    let reader = two.other_client();
    let home = two.url("/");
    // Until its subscription is up, an instance serves no page from its own memory.
    let layer = |res: &reqwest::Response| {
        res.headers()
            .get("x-cache-layer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned()
    };
    eventually(
        "the second instance to serve from its memory",
        Duration::from_secs(5),
        || async {
            let seen = layer(&reader.get(&home).send().await.unwrap());
            if seen == "memory" { Ok(()) } else { Err(seen) }
        },
    )
    .await;
    for i in 0..50 {
        // The second instance has the home page kept; a post published through the first
        // is on it at the next request, every time.
        let kept = reader.get(&home).send().await.unwrap();
        assert_eq!(kept.status(), StatusCode::OK);
        if i > 0 {
            assert_eq!(x_cache(&kept), "HIT", "change {i}");
            assert_eq!(layer(&kept), "redis", "change {i}");
            // Again: now from the instance's own memory (cache::local), no Redis asked.
            let again = reader.get(&home).send().await.unwrap();
            assert_eq!(x_cache(&again), "HIT", "change {i}");
            assert_eq!(layer(&again), "memory", "change {i}");
        }
        let title = format!("Change number {i}");
        crate::admin::write(&ada, &title, "Body.", "published").await;
        let res = reader.get(&home).send().await.unwrap();
        assert_eq!(x_cache(&res), "MISS", "change {i}");
        assert!(res.text().await.unwrap().contains(&title), "change {i}");
    }
}

/// A `redis-server` of this test's own, on a free port, that the test can kill and start.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    async fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs");
        // Ready when it answers.
        eventually("redis-server to listen", Duration::from_secs(5), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Self {
            port,
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_while_pages_are_read_fails_no_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = OwnRedis::start_on(port).await;
    let app = crate::harness::spawn_app_with(|s| {
        s.redis.url = format!("redis://127.0.0.1:{port}").into();
    })
    .await;
    let ada = app.author("ada").await;
    let slug = app.posts(ada, 3, &["Kept"]).await.remove(0);
    let paths = [
        "/".to_owned(),
        format!("/posts/{slug}"),
        "/tags/kept".to_owned(),
    ];
    let read_all = async |app: &crate::harness::TestApp| {
        let mut seen = Vec::new();
        for path in &paths {
            let res = app.get(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            seen.push(x_cache(&res).to_owned());
        }
        seen
    };
    read_all(&app).await;
    assert_eq!(read_all(&app).await, ["HIT", "HIT", "HIT"]);

    redis.kill();
    // For the moment until its subscriber sees the connection close, an instance may still
    // serve a page from its own memory (current: nothing can change without Redis); then
    // every page is made from PostgreSQL.
    let start = std::time::Instant::now();
    while read_all(&app).await.iter().any(|s| s != "MISS") {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "memory copies outlived Redis"
        );
    }
    for _ in 0..20 {
        let seen = read_all(&app).await;
        assert!(seen.iter().all(|s| s == "MISS"), "{seen:?}");
    }

    let _redis = OwnRedis::start_on(redis.port).await;
    // Back within a second or so: the probe notices, pages are kept again.
    eventually(
        "the cache to come back",
        Duration::from_secs(10),
        || async {
            read_all(&app).await;
            let seen = read_all(&app).await;
            if seen == ["HIT", "HIT", "HIT"] {
                Ok(())
            } else {
                Err(seen)
            }
        },
    )
    .await;
}

/// A change made outside a request while Redis is away (a background tag batch) still makes
/// kept pages stale: the bump waits, and runs before that handle reads Redis again.
#[tokio::test]
async fn pages_made_stale_while_redis_is_away_are_fresh_once_it_returns() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Before the outage",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(x_cache(&app.get("/").await), "MISS");
    assert_eq!(x_cache(&app.get("/").await), "HIT");

    let proxy = crate::harness::TcpProxy::redis().await;
    let mut settings = app.settings.redis.clone();
    settings.url = proxy
        .url_for(secrecy::ExposeSecret::expose_secret(&settings.url))
        .into();
    let kv = quire::kv::Kv::new(&settings).unwrap();
    let pages = quire::cache::Pages::new(&kv, &settings);
    proxy.cut();
    sqlx::query("UPDATE posts SET title = 'During the outage'")
        .execute(&app.db)
        .await
        .unwrap();
    pages.stale().await;
    assert!(kv.is_down());

    proxy.restore();
    assert!(kv.ping().await, "redis answers through the proxy again");
    // The deferred bump is published too; the app's copy in memory goes stale as soon as
    // its subscriber hears it (a deferred bump waits for no acknowledgement).
    let res = eventually(
        "the page to be made afresh",
        Duration::from_secs(2),
        || async {
            let res = app.get("/").await;
            if x_cache(&res) == "MISS" {
                Ok(res)
            } else {
                Err(x_cache(&res).to_owned())
            }
        },
    )
    .await;
    assert!(res.text().await.unwrap().contains("During the outage"));
}
