//! Reader statistics (issue 13): views counted per post and day, cached or not, never the
//! author's own nor a bot's; the dashboard's chart and most read posts, each role seeing
//! what it may.

use std::time::Duration;

use quire::accounts::model::{Role, UserId};
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app_with};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// Counts flushed every 100 ms, so a test waits a moment rather than half a minute.
async fn spawn_app() -> TestApp {
    spawn_app_with(|s| s.stats.flush_ms = 100).await
}

/// GET `path` from `client` with `agent` (no header when `None`); the status.
async fn view(app: &TestApp, client: &reqwest::Client, path: &str, agent: Option<&str>) -> u16 {
    let mut req = client.get(app.url(path));
    if let Some(agent) = agent {
        req = req.header("User-Agent", agent);
    }
    req.send().await.unwrap().status().as_u16()
}

/// The views stored for `slug`, once every flush has landed (two quiet intervals).
async fn stored_views(app: &TestApp, slug: &str) -> i64 {
    let read = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(sum(v.views), 0)::bigint FROM post_views v
               JOIN posts p ON p.id = v.post_id WHERE p.slug = $1",
        )
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let mut last = read().await;
    let mut quiet = 0;
    while quiet < 3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = read().await;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    last
}

/// An author signed in, and a post of theirs titled `title` (its slug).
async fn author_with_post(app: &TestApp, name: &str, title: &str) -> (TestApp, String) {
    let browser = app.signed_in(name, Role::Author).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            UserId(id),
            PostSpec {
                title,
                ..Default::default()
            },
        )
        .await;
    (browser, slug)
}

#[tokio::test]
async fn readers_views_count_cached_or_not_and_bots_and_the_author_do_not() {
    let app = spawn_app().await;
    let (author, slug) = author_with_post(&app, "ada", "Counted").await;
    let path = format!("/posts/{slug}");
    let anonymous = app.other_client();
    // Three readers' views: made once, then served from the cache.
    for _ in 0..3 {
        assert_eq!(view(&app, &anonymous, &path, Some(FIREFOX)).await, 200);
    }
    let kept = anonymous
        .get(app.url(&path))
        .header("User-Agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-cache"], "HIT");
    let etag = kept.headers()["etag"].to_str().unwrap().to_owned();
    // A revalidation (304) is the reader seeing the page again.
    let again = anonymous
        .get(app.url(&path))
        .header("User-Agent", FIREFOX)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // A signed-in reader counts too.
    let reader = app.signed_in("rita", Role::Reader).await;
    assert_eq!(view(&app, &reader.client, &path, Some(FIREFOX)).await, 200);
    assert_eq!(stored_views(&app, &slug).await, 6);

    // Not counted: bots, no agent at all, the author, HEAD, and pages that aren't served.
    assert_eq!(view(&app, &anonymous, &path, Some(GOOGLEBOT)).await, 200);
    assert_eq!(view(&app, &anonymous, &path, Some("curl/8.5.0")).await, 200);
    assert_eq!(view(&app, &anonymous, &path, None).await, 200);
    assert_eq!(view(&app, &author.client, &path, Some(FIREFOX)).await, 200);
    let head = anonymous
        .head(app.url(&path))
        .header("User-Agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        view(&app, &anonymous, "/posts/no-such-post", Some(FIREFOX)).await,
        404
    );
    assert_eq!(stored_views(&app, &slug).await, 6);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM post_views")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1, "one row: this post, today");
}

#[tokio::test]
async fn a_second_instance_adds_its_own_counts() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Everywhere",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    let client = app.other_client();
    for instance in [&app, &other, &app, &other, &other] {
        assert_eq!(view(instance, &client, &path, Some(FIREFOX)).await, 200);
    }
    assert_eq!(stored_views(&app, &slug).await, 5);
}

/// `views` on each of the last days (0 = today) for post `slug`, written as a flush would.
async fn seed_views(app: &TestApp, slug: &str, views: &[(i32, i64)]) {
    for (ago, n) in views {
        sqlx::query(
            "INSERT INTO post_views (post_id, day, views)
             SELECT id, (now() AT TIME ZONE 'UTC')::date - $2, $3 FROM posts WHERE slug = $1",
        )
        .bind(slug)
        .bind(ago)
        .bind(n)
        .execute(&app.db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_dashboard_charts_30_days_and_each_role_sees_what_it_may() {
    let app = spawn_app().await;
    let (author, mine) = author_with_post(&app, "ada", "Ada writes").await;
    let bob = app.author("bob").await;
    let theirs = app
        .post(
            bob,
            PostSpec {
                title: "Bob writes",
                ..Default::default()
            },
        )
        .await;
    // Today, yesterday, and a day too old for the chart.
    seed_views(&app, &mine, &[(0, 7), (1, 3), (40, 100)]).await;
    seed_views(&app, &theirs, &[(0, 50), (29, 2)]).await;

    let dashboard = author.page("/admin", StatusCode::OK).await;
    assert_eq!(dashboard.attrs(".chart rect", "height").len(), 30);
    assert!(dashboard.text(".views .lede").starts_with("10 views"));
    assert_eq!(dashboard.texts(".top-posts li a"), ["Ada writes"]);
    assert!(dashboard.text(".top-posts li").contains("10 views"));
    // Today's bar is the tallest; the rest are slivers or shorter.
    let heights: Vec<u32> = dashboard
        .attrs(".chart rect", "height")
        .iter()
        .map(|h| h.parse().unwrap())
        .collect();
    assert_eq!(heights.iter().max(), heights.last());
    let today = time::OffsetDateTime::now_utc()
        .date()
        .format(time::macros::format_description!(
            "[month repr:short] [day padding:none]"
        ))
        .unwrap();
    assert_eq!(
        dashboard.texts(".chart rect title").last().unwrap(),
        &format!("{today}: 7 views")
    );
    // The list shows each post's views, all time: the author's own only.
    let list = author.page("/admin/posts", StatusCode::OK).await;
    assert_eq!(list.texts("tbody td.num"), ["110"]);

    // Editors and admins see the whole site's.
    let editor = app.signed_in("eve", Role::Editor).await;
    let dashboard = editor.page("/admin", StatusCode::OK).await;
    assert!(dashboard.text(".views .lede").starts_with("62 views"));
    assert_eq!(
        dashboard.texts(".top-posts li a"),
        ["Bob writes", "Ada writes"]
    );
    let list = editor.page("/admin/posts", StatusCode::OK).await;
    let mut views = list.texts("tbody td.num");
    views.sort();
    assert_eq!(views, ["110", "52"]);
}
