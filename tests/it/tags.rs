//! /admin/tags: rename, describe, merge; and what a save writes in a popular tag.

use quire::{
    accounts::model::{Role, UserId},
    posts::{
        self, NewPost,
        model::{PostInput, PostStatus},
    },
    slug::Slug,
    tags::{jobs, model::TagId},
};
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::harness::{PostSpec, TestApp, eventually, spawn_app, spawn_app_with};

/// An app whose job runner is off, so a test can step through a tag job batch by batch.
async fn spawn_app_without_jobs() -> TestApp {
    spawn_app_with(|s| s.jobs.enabled = false).await
}

/// Until `tag` lists `posts` posts (the job runner working), 30 s at most.
async fn until_listing(app: &TestApp, tag: &str, posts: i64) {
    let what = format!("tag {tag} to list {posts} posts");
    eventually(&what, std::time::Duration::from_secs(30), || async {
        let listed = posts_listing(app, tag).await;
        if listed == posts { Ok(()) } else { Err(listed) }
    })
    .await
}

async fn tag_id(app: &crate::harness::TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM tags WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn editors_rename_describe_and_merge_tags() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    app.post(
        owner,
        PostSpec {
            title: "One",
            tags: &["Rust Lang"],
            ..Default::default()
        },
    )
    .await;
    app.post(
        owner,
        PostSpec {
            title: "Two",
            tags: &["Rustlang", "Rust Lang"],
            ..Default::default()
        },
    )
    .await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let list = eve.page("/admin/tags", StatusCode::OK).await;
    assert_eq!(
        list.texts(".admin-table tbody td a"),
        vec!["Rust Lang", "Rustlang"]
    );

    let id = tag_id(&app, "rust-lang").await;
    let edit = format!("/admin/tags/{id}/edit");
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{id}"),
            &[
                ("name", "Rust"),
                ("slug", "rust"),
                ("description", "The language."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/tags/rust", StatusCode::OK).await;
    assert!(page.texts(".intro p").contains(&"The language.".to_owned()));
    assert_eq!(page.texts(".card-title").len(), 2);
    assert_eq!(
        app.page("/posts/one", StatusCode::OK)
            .await
            .texts(".post-header .tags a"),
        vec!["Rust"]
    );

    // Taking another tag's slug is refused; merging is the way.
    let other = tag_id(&app, "rustlang").await;
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{other}"),
            &[("name", "Rustlang"), ("slug", "rust")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("merge into it instead"));
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{other}/merge"),
            &[("into", "rust")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/tags/rustlang").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.page("/posts/two", StatusCode::OK)
            .await
            .texts(".post-header .tags a"),
        vec!["Rust"]
    );
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{id}/merge"),
            &[("into", "rust")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not into itself"
    );
}

/// `n` published posts by `author` carrying `tags`, through `posts::create_many` (the path
/// the editor and `quire seed` share), a thousand per statement.
async fn many_posts(app: &TestApp, author: UserId, prefix: &str, n: usize, tags: &[&str]) {
    let inputs: Vec<PostInput> = (0..n)
        .map(|i| PostInput {
            title: format!("{prefix} {i}"),
            slug: Slug::parse(&format!("{prefix}-{i}")).unwrap(),
            excerpt: String::new(),
            body_markdown: format!("Post *{i}*."),
            cover_image: None,
            featured: false,
            status: PostStatus::Published,
            publish_at: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            meta: Default::default(),
            kind: quire::posts::model::PostKind::Post,
        })
        .collect();
    let at = OffsetDateTime::now_utc() - time::Duration::days(1);
    for chunk in inputs.chunks(1000) {
        let new: Vec<NewPost<'_>> = chunk
            .iter()
            .map(|input| NewPost {
                author,
                input,
                published_at: Some(at),
            })
            .collect();
        let ids = posts::create_many(&app.db, &new).await.unwrap();
        assert!(ids.iter().all(Option::is_some));
    }
}

/// Every row version of posts, post_tags and tags except those of post `mine`: a write that
/// leaves this unchanged wrote no other row.
async fn other_rows(app: &TestApp, mine: i64) -> (String, String, String) {
    sqlx::query_as(
        "SELECT (SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id)
                   FROM posts WHERE id <> $1),
                (SELECT string_agg(post_id || '/' || tag_id || ':' || xmin::text, ','
                                   ORDER BY post_id, tag_id)
                   FROM post_tags WHERE post_id <> $1),
                (SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM tags)",
    )
    .bind(mine)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

async fn tag_names_of(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar("SELECT tag_list::text FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Issue 9, section 7: saving a post in a tag 2,000 other posts carry used to rewrite all of
/// them. Creating, publishing, retagging and editing it now writes no row but its own, which
/// is what keeps a save's cost flat however big the blog grows.
#[tokio::test]
async fn saving_a_post_in_a_popular_tag_writes_no_other_post() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    many_posts(&app, owner, "crowd", 2000, &["Rust", "Databases"]).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let before = other_rows(&app, 0).await;

    // A draft (no published_at), then published (the date is copied to post_tags), retagged
    // (a tag dropped, one added, one moved), then edited with the same tags.
    let fields = |body: &'static str, status: &'static str, tags: &'static str| {
        vec![
            ("title", "Mine"),
            ("body", body),
            ("status", status),
            ("tags", tags),
            ("intent", "save"),
        ]
    };
    let res = ann
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &fields("First.", "draft", "Rust, Web"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = 'mine'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let new_tags = other_rows(&app, id).await;
    assert_eq!(before.0, new_tags.0, "no other post was written");
    assert_eq!(before.1, new_tags.1, "no other post's tags were written");
    let before = new_tags; // Web is new; Rust was only read.
    for (body, status, tags) in [
        ("Second.", "published", "Databases, Rust"),
        ("Third.", "published", "Databases, Rust"),
    ] {
        let edit = format!("/admin/posts/{id}/edit");
        let page = ann.page(&edit, StatusCode::OK).await;
        let mut form = fields(body, status, tags);
        let token = page.attr("input[name=csrf_token]", "value").unwrap();
        let version = page.attr("input[name=version]", "value").unwrap();
        form.extend([
            ("csrf_token", token.as_str()),
            ("version", version.as_str()),
        ]);
        let res = ann
            .client
            .post(ann.url(&format!("/admin/posts/{id}")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{body}");
    }
    assert_eq!(
        before,
        other_rows(&app, id).await,
        "only the post's own rows"
    );
    assert_eq!(
        tag_names_of(&app, "mine").await,
        r#"[{"name": "Databases", "slug": "databases"}, {"name": "Rust", "slug": "rust"}]"#
    );
    let copied: bool = sqlx::query_scalar(
        "SELECT bool_and(pt.published_at = p.published_at)
           FROM post_tags pt JOIN posts p ON p.id = pt.post_id WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(copied, "post_tags carry the post's publication date");
}

/// How many of the tag's posts list it under `name`.
async fn posts_listing(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM posts WHERE tag_list @> jsonb_build_array(jsonb_build_object('name', $1::text))")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A rename of a tag on thousands of posts renames the tag at once and updates its posts in
/// batches of a thousand, each its own transaction; the admin's tag list says how far it got.
#[tokio::test]
async fn a_big_rename_updates_posts_in_batches_and_tells_the_admin() {
    let app = spawn_app_without_jobs().await;
    let owner = app.author("owner").await;
    many_posts(&app, owner, "crowd", 2500, &["Web", "Rust"]).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    // A rename by hand (psql) queues the job; no job runner runs it yet.
    sqlx::query("UPDATE tags SET name = 'Rust Lang' WHERE slug = 'rust'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(posts_listing(&app, "Rust").await, 2500);
    let notice = |page: crate::harness::Page| page.texts(".notice li");
    assert_eq!(
        notice(eve.page("/admin/tags", StatusCode::OK).await),
        vec!["Renamed “Rust Lang”: 0 of 2500 posts updated."]
    );

    let rust = tag_id(&app, "rust").await;
    let step = jobs::step(&app.db, TagId(rust)).await.unwrap();
    assert_eq!(step, jobs::Step::More);
    assert_eq!(posts_listing(&app, "Rust Lang").await, 1000, "one batch");
    assert_eq!(
        notice(eve.page("/admin/tags", StatusCode::OK).await),
        vec!["Renamed “Rust Lang”: 1000 of 2500 posts updated."]
    );
    jobs::run(&app.db, &app.pages()).await.unwrap();
    assert_eq!(posts_listing(&app, "Rust Lang").await, 2500);
    assert!(
        eve.page("/admin/tags", StatusCode::OK)
            .await
            .texts(".notice li")
            .is_empty()
    );

    // Through the page: the first batch is done before it answers, the rest by the job runner
    // of any instance.
    let res = eve
        .submit(
            &format!("/admin/tags/{rust}/edit"),
            &format!("/admin/tags/{rust}"),
            &[("name", "Rust"), ("slug", "rust")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(posts_listing(&app, "Rust").await, 1000);
    let _worker = app.another_instance_with(|s| s.jobs.enabled = true).await;
    until_listing(&app, "Rust", 2500).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM tag_jobs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// A merge moves the posts a batch at a time too, and the merged tag goes with the last one.
#[tokio::test]
async fn a_big_merge_moves_posts_in_batches_then_deletes_the_tag() {
    let app = spawn_app_without_jobs().await;
    let owner = app.author("owner").await;
    many_posts(&app, owner, "old", 1500, &["Rustlang", "Web"]).await;
    many_posts(&app, owner, "both", 10, &["Rust", "Rustlang"]).await;
    let (from, into) = (tag_id(&app, "rustlang").await, tag_id(&app, "rust").await);
    quire::tags::repo::queue_merge(&app.db, TagId(from), TagId(into))
        .await
        .unwrap();
    let eve = app.signed_in("eve", Role::Editor).await;
    assert_eq!(
        eve.page("/admin/tags", StatusCode::OK)
            .await
            .texts(".notice li"),
        vec!["Merging “Rustlang” into “Rust”: 0 of 1510 posts moved."]
    );
    // Merging into a tag that is going away is refused.
    let web = tag_id(&app, "web").await;
    let res = eve
        .submit(
            &format!("/admin/tags/{web}/edit"),
            &format!("/admin/tags/{web}/merge"),
            &[("into", "rustlang")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        jobs::step(&app.db, TagId(from)).await.unwrap(),
        jobs::Step::More
    );
    assert_eq!(posts_listing(&app, "Rustlang").await, 510);
    app.page("/tags/rustlang", StatusCode::OK).await;
    // The rest by the job runner (a `tags.work` job was queued with the merge).
    let _worker = app.another_instance_with(|s| s.jobs.enabled = true).await;
    until_listing(&app, "Rustlang", 0).await;
    assert_eq!(posts_listing(&app, "Rust").await, 1510);
    app.page("/tags/rustlang", StatusCode::NOT_FOUND).await;
    // A post that had both keeps Rust where it was, once.
    assert_eq!(
        tag_names_of(&app, "both-0").await,
        r#"[{"name": "Rust", "slug": "rust"}]"#
    );
    assert_eq!(
        tag_names_of(&app, "old-0").await,
        r#"[{"name": "Rust", "slug": "rust"}, {"name": "Web", "slug": "web"}]"#
    );
}

#[tokio::test]
async fn a_tag_page_shows_its_tag_even_with_nothing_published_in_it() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    // The tag exists, but its only post is a draft: the page is there, with no posts.
    app.post(
        ada,
        PostSpec {
            title: "Unfinished thoughts",
            tags: &["Someday"],
            status: PostStatus::Draft,
            ..Default::default()
        },
    )
    .await;
    let page = app.page("/tags/someday", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Someday");
    assert!(!page.contains("Unfinished thoughts"));
    assert_eq!(page.text(".empty"), "No posts here yet.");

    app.post(
        ada,
        PostSpec {
            title: "Finished thoughts",
            tags: &["Someday"],
            published_in_minutes: -5,
            ..Default::default()
        },
    )
    .await;
    let page = app.page("/tags/someday", StatusCode::OK).await;
    assert!(page.contains("Finished thoughts"));
    assert!(!page.contains("Unfinished thoughts"));
    assert!(!page.contains("No posts here yet."));

    // No such tag, and a page past the end of one, are both 404.
    assert_eq!(
        app.get("/tags/never-used").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/tags/someday?page=2").await.status(),
        StatusCode::NOT_FOUND
    );
}
