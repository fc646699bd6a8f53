//! Redirects (issue 26): old addresses answered with 301/302 where the site has nothing
//! else, made by hand in the admin, by importers, and by the database when a post's or
//! page's address changes.

use quire::{
    accounts::model::Role,
    posts::model::PostKind,
    redirects::{model::NewRedirect, repo},
};
use reqwest::{Method, StatusCode};

use crate::harness::{PostSpec, TestApp, spawn_app};

/// (from, to, what both doors store: `None` when both refuse it).
type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

/// The status and `Location` of a GET of `path`.
async fn goes(app: &TestApp, path: &str) -> (u16, String) {
    let res = app.get(path).await;
    (res.status().as_u16(), location(&res))
}

async fn insert(app: &TestApp, from: &str, to: &str) {
    sqlx::query("INSERT INTO redirects (from_path, to_url) VALUES ($1, $2)")
        .bind(from)
        .bind(to)
        .execute(&app.db)
        .await
        .unwrap();
}

/// Where the stored redirect from `from` leads, if there is one.
async fn stored(app: &TestApp, from: &str) -> Option<String> {
    sqlx::query_scalar("SELECT to_url FROM redirects WHERE from_path = $1")
        .bind(from)
        .fetch_optional(&app.db)
        .await
        .unwrap()
}

async fn rename(app: &TestApp, from: &str, to: &str) {
    sqlx::query("UPDATE posts SET slug = $2 WHERE slug = $1")
        .bind(from)
        .bind(to)
        .execute(&app.db)
        .await
        .unwrap();
    app.pages().stale().await;
}

#[tokio::test]
async fn the_admin_form_and_the_importers_parse_give_the_same_verdicts() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let long = format!("/{}", "a".repeat(2001));
    let cases: Vec<Case> = vec![
        ("/old/", "/posts/new", Some(("/old", "/posts/new"))),
        (
            "https://old.example/2019/05/hello/",
            "https://blog.example/hello",
            Some(("/2019/05/hello", "https://blog.example/hello")),
        ),
        (
            "https://old.example/?p=123",
            "/posts/x",
            Some(("/?p=123", "/posts/x")),
        ),
        ("/caf%C3%A9", "/posts/cafe", Some(("/café", "/posts/cafe"))),
        ("/same", "/same/", None),
        ("//evil.example", "/x", None),
        ("/x2", "//evil.example", None),
        ("/x3", "\\\\evil.example", None),
        ("/x4", "/\\evil.example", None),
        ("/x5", "javascript:alert(1)", None),
        ("/x6\nSet-Cookie: a=b", "/y", None),
        ("/x7", "/y%0D%0ALocation: http://evil.example", None),
        ("/x8", "/y\tz", None),
        ("", "/y", None),
        ("/x9", "", None),
        ("/x10", &long, None),
        ("/a/../b", "/y", None),
    ];
    let base = &app.settings.http.base_url;
    for (i, (from, to, want)) in cases.into_iter().enumerate() {
        let parsed = NewRedirect::parse(from, to, true, "import:test", base);
        let res = admin
            .submit(
                "/admin/redirects",
                "/admin/redirects",
                &[("from", from), ("to", to), ("status", "301")],
            )
            .await;
        let status = res.status();
        let body = res.text().await.unwrap();
        match want {
            Some((f, t)) => {
                let parsed = parsed.unwrap_or_else(|e| panic!("case {i}: {e}"));
                assert_eq!(
                    (parsed.from.as_str(), parsed.to.as_str()),
                    (f, t),
                    "case {i}"
                );
                assert_eq!(status, StatusCode::SEE_OTHER, "case {i}: {body}");
                assert_eq!(stored(&app, f).await.as_deref(), Some(t), "case {i}");
            }
            None => {
                assert!(parsed.is_err(), "case {i}: parse took {from:?} -> {to:?}");
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "case {i}");
                assert!(body.contains("field-error"), "case {i}: a readable message");
            }
        }
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM redirects")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 4, "only the good ones were stored");
}

#[tokio::test]
async fn a_changed_slug_leaves_a_permanent_redirect_for_posts_and_pages() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let post = app
        .post(
            ada,
            PostSpec {
                title: "First name",
                ..Default::default()
            },
        )
        .await;
    let page = app
        .post(
            ada,
            PostSpec {
                title: "About old",
                kind: PostKind::Page,
                ..Default::default()
            },
        )
        .await;
    rename(&app, &post, "second-name").await;
    rename(&app, &page, "about").await;
    assert_eq!(
        goes(&app, "/posts/first-name").await,
        (301, "/posts/second-name".into())
    );
    assert_eq!(goes(&app, "/posts/second-name").await.0, 200);
    assert_eq!(goes(&app, "/about-old").await, (301, "/about".into()));
    assert_eq!(goes(&app, "/about").await.0, 200);
    // A trailing slash on the old address finds it too, and HEAD is answered the same.
    assert_eq!(
        goes(&app, "/posts/first-name/").await,
        (301, "/posts/second-name".into())
    );
    let head = app
        .client
        .request(Method::HEAD, app.url("/about-old"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::MOVED_PERMANENTLY);
    // A draft's address was never public: no redirect.
    let draft = app
        .post(
            ada,
            PostSpec {
                title: "Draft name",
                status: quire::posts::model::PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    rename(&app, &draft, "draft-renamed").await;
    assert_eq!(stored(&app, "/posts/draft-name").await, None);
}

#[tokio::test]
async fn renaming_back_and_forth_never_loops_and_chains_collapse() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let a = app
        .post(
            ada,
            PostSpec {
                title: "Aaa",
                ..Default::default()
            },
        )
        .await;
    insert(&app, "/old-link", "/posts/aaa").await;
    rename(&app, &a, "bbb").await;
    // The older redirect now leads straight to the new address.
    assert_eq!(
        stored(&app, "/old-link").await.as_deref(),
        Some("/posts/bbb")
    );
    rename(&app, "bbb", "ccc").await;
    assert_eq!(
        stored(&app, "/old-link").await.as_deref(),
        Some("/posts/ccc")
    );
    assert_eq!(
        stored(&app, "/posts/aaa").await.as_deref(),
        Some("/posts/ccc")
    );
    assert_eq!(
        stored(&app, "/posts/bbb").await.as_deref(),
        Some("/posts/ccc")
    );
    rename(&app, "ccc", "aaa").await;
    assert_eq!(
        stored(&app, "/posts/aaa").await,
        None,
        "no redirect from a live address"
    );
    assert_eq!(goes(&app, "/posts/aaa").await.0, 200);
    for old in ["/posts/bbb", "/posts/ccc", "/old-link"] {
        assert_eq!(goes(&app, old).await, (301, "/posts/aaa".into()), "{old}");
    }
    // The admin can't make a loop either: /posts/bbb leads to /posts/aaa already.
    let admin = app.signed_in("boss", Role::Admin).await;
    let res = admin
        .submit(
            "/admin/redirects",
            "/admin/redirects",
            &[
                ("from", "/posts/aaa"),
                ("to", "/posts/bbb"),
                ("status", "301"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("loop"));
    // A redirect to another redirect's old address is stored as its end.
    let res = admin
        .submit(
            "/admin/redirects",
            "/admin/redirects",
            &[
                ("from", "/older-link"),
                ("to", "/old-link"),
                ("status", "302"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        stored(&app, "/older-link").await.as_deref(),
        Some("/posts/aaa")
    );
    assert_eq!(goes(&app, "/older-link").await, (302, "/posts/aaa".into()));
}

#[tokio::test]
async fn wordpress_addresses_and_trailing_slashes_are_redirected() {
    let app = spawn_app().await;
    insert(&app, "/?p=12", "/posts/twelve").await;
    insert(&app, "/?page_id=45", "/about").await;
    insert(&app, "/2019/05/hello", "https://elsewhere.example/hello").await;
    insert(&app, "/café", "/posts/cafe").await;
    assert_eq!(goes(&app, "/?p=12").await, (301, "/posts/twelve".into()));
    assert_eq!(
        goes(&app, "/?utm_source=x&p=12").await,
        (301, "/posts/twelve".into())
    );
    assert_eq!(goes(&app, "/?page_id=45").await, (301, "/about".into()));
    assert_eq!(
        goes(&app, "/?p=13").await.0,
        200,
        "an unknown id: the home page"
    );
    assert_eq!(goes(&app, "/").await.0, 200);
    assert_eq!(
        goes(&app, "/2019/05/hello/").await,
        (301, "https://elsewhere.example/hello".into())
    );
    assert_eq!(goes(&app, "/2019/05/hello").await.0, 301);
    assert_eq!(goes(&app, "/caf%C3%A9/").await, (301, "/posts/cafe".into()));
    assert_eq!(goes(&app, "/2019/05/other/").await.0, 404);
    // The API's own 404s stay its own.
    insert(&app, "/api/nothing", "/").await;
    assert_eq!(goes(&app, "/api/nothing").await.0, 404);
}

#[tokio::test]
async fn a_live_post_wins_over_a_redirect_from_its_address_and_hits_are_counted() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let live = app
        .post(
            ada,
            PostSpec {
                title: "Live one",
                ..Default::default()
            },
        )
        .await;
    insert(&app, &format!("/posts/{live}"), "/elsewhere").await;
    insert(&app, "/gone", "/posts/live-one").await;
    assert_eq!(goes(&app, "/posts/live-one").await.0, 200);
    for _ in 0..3 {
        assert_eq!(goes(&app, "/gone").await.0, 301);
    }
    let (hits, last): (i64, Option<time::OffsetDateTime>) =
        sqlx::query_as("SELECT hits, last_hit_at FROM redirects WHERE from_path = '/gone'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(hits, 3);
    assert!(last.is_some());
    let untouched: i64 =
        sqlx::query_scalar("SELECT hits FROM redirects WHERE from_path = '/posts/live-one'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(untouched, 0);
}

#[tokio::test]
async fn a_kept_404_can_not_hide_a_new_redirect() {
    let app = spawn_app().await;
    // Addresses the cache may keep (`/{slug}`, `/posts/{slug}`), asked twice: 404s are
    // never kept…
    for path in ["/moved-page", "/posts/moved-post"] {
        for _ in 0..2 {
            let res = app.get(path).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
            assert_ne!(
                res.headers().get("x-cache").and_then(|v| v.to_str().ok()),
                Some("HIT")
            );
        }
        // …so a redirect written straight to the database (no write through the site, so no
        // cache bump) is answered at once.
        insert(&app, path, "/").await;
        assert_eq!(goes(&app, path).await, (301, "/".into()), "{path}");
        let again = app.get(path).await;
        assert_eq!(
            again.status(),
            StatusCode::MOVED_PERMANENTLY,
            "redirects aren't kept"
        );
    }
}

#[tokio::test]
async fn importers_write_many_at_once_without_overwriting_the_admins_or_looping() {
    let app = spawn_app().await;
    let base = app.settings.http.base_url.clone();
    insert(&app, "/mine", "/posts/kept").await;
    let row =
        |from: &str, to: &str| NewRedirect::parse(from, to, true, "import:wp", &base).unwrap();
    let rows = vec![
        row("https://old.example/?p=1", "/posts/one"),
        row("https://old.example/2019/01/one/", "/posts/one"),
        row("/mine", "/posts/theirs"),
        row("/loop-a", "/loop-b"),
        row("/loop-b", "/loop-a"),
        row("/chain-a", "/chain-b"),
        row("/chain-b", "/posts/end"),
    ];
    let mut tx = app.db.begin().await.unwrap();
    repo::upsert_many(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored(&app, "/?p=1").await.as_deref(), Some("/posts/one"));
    assert_eq!(
        stored(&app, "/2019/01/one").await.as_deref(),
        Some("/posts/one")
    );
    assert_eq!(stored(&app, "/mine").await.as_deref(), Some("/posts/kept"));
    assert_eq!(stored(&app, "/loop-a").await, None);
    assert_eq!(stored(&app, "/loop-b").await, None);
    assert_eq!(
        stored(&app, "/chain-a").await.as_deref(),
        Some("/posts/end")
    );
    // The same import again changes nothing.
    let mut tx = app.db.begin().await.unwrap();
    repo::upsert_many(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM redirects")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 5);
    assert_eq!(goes(&app, "/?p=1").await, (301, "/posts/one".into()));
}

#[tokio::test]
async fn admins_list_search_edit_and_delete_redirects() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    insert(&app, "/findable", "/posts/one").await;
    insert(&app, "/other", "/posts/two").await;
    let page = admin
        .page("/admin/redirects?q=FINDABLE", StatusCode::OK)
        .await;
    let rows = page.texts("table.redirects tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("/findable"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM redirects WHERE from_path = '/findable'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let edit = format!("/admin/redirects/{id}/edit");
    let res = admin
        .submit(
            &edit,
            &format!("/admin/redirects/{id}"),
            &[
                ("from", "/findable"),
                ("to", "/findable"),
                ("status", "302"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .submit(
            &edit,
            &format!("/admin/redirects/{id}"),
            &[
                ("from", "/other"),
                ("to", "/posts/three"),
                ("status", "302"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "another has /other"
    );
    let res = admin
        .submit(
            &edit,
            &format!("/admin/redirects/{id}"),
            &[
                ("from", "/found"),
                ("to", "/posts/three"),
                ("status", "302"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(goes(&app, "/found").await, (302, "/posts/three".into()));
    let confirm = format!("/admin/redirects/{id}/delete");
    admin.page(&confirm, StatusCode::OK).await;
    let res = admin.submit(&confirm, &confirm, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(goes(&app, "/found").await.0, 404);
    let nav = admin.page("/admin", StatusCode::OK).await;
    assert!(
        nav.attrs(".admin-nav a", "href")
            .contains(&"/admin/redirects".to_owned())
    );
}
