//! Removing the demo content (issue 27, item 8): from the dashboard and with
//! `quire demo remove`; nothing an owner wrote, edited or commented on goes.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app};

async fn seed(app: &TestApp) {
    quire::seed::run(&app.db, 30, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn an_admin_removes_the_demo_content_from_the_dashboard_and_keeps_what_people_wrote() {
    let app = spawn_app().await;
    seed(&app).await;
    let admin = app.signed_in("root", Role::Admin).await;
    let root: i64 = count(&app, "SELECT id FROM users WHERE username = 'root'").await;
    // The owner's own post, on a demo tag.
    let own = app
        .post(
            quire::accounts::model::UserId(root),
            PostSpec {
                title: "Our first real post",
                tags: &["Rust"],
                ..Default::default()
            },
        )
        .await;
    // The owner edits one demo post (a revision by them)…
    let edited: i64 = count(
        &app,
        "SELECT id FROM posts WHERE slug = 'why-we-render-markdown-once'",
    )
    .await;
    let res = admin
        .submit(
            "/admin/posts",
            "/admin/posts/bulk",
            &[("action", "feature"), ("id", &edited.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // …and a reader comments on another.
    let reader = app.user("rita", Role::Reader).await;
    sqlx::query(
        "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
         SELECT id, $1, 'Nice', '<p>Nice</p>' FROM posts
          WHERE slug = 'reading-a-query-plan-without-fear'",
    )
    .bind(reader)
    .execute(&app.db)
    .await
    .unwrap();

    // The dashboard offers admins the button, with the count; an editor doesn't see it.
    let dash = admin.page("/admin", StatusCode::OK).await;
    let button = dash.text(".demo-content a");
    assert_eq!(
        button,
        "Remove demo content (28 posts, the About page and 2 authors)…"
    );
    let editor = app.signed_in("eddie", Role::Editor).await;
    assert!(
        editor
            .page("/admin", StatusCode::OK)
            .await
            .text(".demo-content")
            .is_empty()
    );
    assert_eq!(
        editor.get("/admin/demo/remove").await.status(),
        StatusCode::FORBIDDEN
    );

    // The confirmation names what goes and what stays, and changes nothing.
    let before = count(&app, "SELECT count(*) FROM posts").await;
    let confirm = admin.page("/admin/demo/remove", StatusCode::OK).await;
    assert!(confirm.contains("28 posts, the About page and 2 authors"));
    assert!(confirm.contains("“Why We Render Markdown Once” (edited since it was seeded)"));
    assert!(confirm.contains("“Reading a Query Plan Without Fear” (it has comments)"));
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, before);

    let res = admin
        .submit("/admin/demo/remove", "/admin/demo/remove", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin");
    let dash = admin.page("/admin", StatusCode::OK).await;
    let said = dash.text(".notice");
    assert!(
        said.contains("Removed the demo content: 28 posts, the About page and 2 authors")
            && said.contains("Kept:"),
        "{said}"
    );
    assert!(
        dash.text(".demo-content").is_empty(),
        "nothing left to remove"
    );

    // The owner's post, the edited and the commented demo posts (and their authors) stay.
    assert!(
        app.get(&format!("/posts/{own}"))
            .await
            .status()
            .is_success()
    );
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 3);
    assert_eq!(count(&app, "SELECT count(*) FROM comments").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email LIKE '%@demo.quire.invalid'"
        )
        .await,
        2
    );
    assert_eq!(
        app.get("/about").await.status(),
        StatusCode::NOT_FOUND,
        "the demo About page goes"
    );
    let nav: String = count_text(&app, "SELECT navigation::text FROM site_settings").await;
    assert!(!nav.contains("/about"), "{nav}");
    // The demo tags: Rust (the owner's) stays; a tag no post carries any more goes.
    let tags: Vec<String> = sqlx::query_scalar("SELECT slug FROM tags ORDER BY slug")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(tags.contains(&"rust".to_owned()), "{tags:?}");
    let on_kept: i64 = count(
        &app,
        "SELECT count(*) FROM tags t WHERE NOT EXISTS (SELECT 1 FROM post_tags pt WHERE pt.tag_id = t.id)",
    )
    .await;
    assert_eq!(on_kept, 0, "no demo tag is left empty: {tags:?}");
    // Search forgot them too.
    let found = app.page("/search?q=indexes", StatusCode::OK).await;
    assert!(!found.contains("Indexes Are a Promise"));
}

async fn count_text(app: &TestApp, sql: &'static str) -> String {
    sqlx::query_scalar(sql).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn quire_demo_remove_takes_the_demo_and_leaves_the_owners_posts() {
    let app = spawn_app().await;
    seed(&app).await;
    let owner = app.author("owner").await;
    let own = app
        .post(
            owner,
            PostSpec {
                title: "Mine",
                tags: &["Databases"],
                ..Default::default()
            },
        )
        .await;
    let out = app
        .quire_command()
        .args(["demo", "remove"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("removed the demo content: 30 posts, the About page and 4 authors"),
        "{stdout}"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 1);
    assert!(
        app.get(&format!("/posts/{own}"))
            .await
            .status()
            .is_success()
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email LIKE '%@demo.quire.invalid'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM tags WHERE slug = 'databases'").await,
        1
    );
    // Again: nothing to do, said so.
    let out = app
        .quire_command()
        .args(["demo", "remove"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no demo content to remove"));
}
