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
        list.texts(".admin-table tbody td:first-child a"),
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
            &[("into", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The merged tag's address leads to the tag it joined, as the renamed one's does.
    for old in ["/tags/rustlang", "/tags/rust-lang"] {
        let res = app.get(old).await;
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY, "{old}");
        assert_eq!(res.headers()["location"], "/tags/rust", "{old}");
    }
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
            &[("into", &id.to_string())],
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
            &[("into", &from.to_string())],
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
    let res = app.get("/tags/rustlang").await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.headers()["location"], "/tags/rust");
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

/// The tags of the post at `slug`, as its page shows them.
async fn shown_tags(app: &TestApp, slug: &str) -> Vec<String> {
    app.page(&format!("/posts/{slug}"), StatusCode::OK)
        .await
        .texts(".post-header .tags a")
}

#[tokio::test]
async fn editors_create_edit_and_delete_tags_through_the_forms() {
    let app = spawn_app().await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let new = "/admin/tags/new";
    assert_eq!(
        eve.page(new, StatusCode::OK)
            .await
            .attr("main form", "action"),
        Some("/admin/tags".to_owned())
    );
    let res = eve
        .submit(
            new,
            "/admin/tags",
            &[
                ("name", "Rust Lang"),
                ("slug", ""),
                ("description", "Systems programming."),
                ("meta_title", "Rust articles"),
                ("meta_description", "Everything about Rust."),
                ("image", "/uploads/rust.png"),
                ("accent", "#2F6FB0"),
                ("accent_pick", "#b4441f"),
                ("accent_shown", "#b4441f"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A new tag has its page at once, with its own title, description and image.
    let page = app.page("/tags/rust-lang", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Rust Lang");
    assert!(page.text("title").starts_with("Rust articles"));
    assert_eq!(
        page.attr("meta[name=description]", "content").as_deref(),
        Some("Everything about Rust.")
    );
    let base = app.settings.http.base();
    assert_eq!(
        page.attr("meta[property='og:image']", "content"),
        Some(format!("{base}/uploads/rust.png"))
    );
    let accent = page
        .attr(
            "link[rel=stylesheet][href^='/tags/rust-lang/accent.css']",
            "href",
        )
        .expect("the tag's accent stylesheet");
    let css = app.get(&accent).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("--accent: #2f6fb0"));

    // A taken slug, and hostile or oversized fields: 422, each said, what was typed kept.
    let long = "x".repeat(10_000);
    for (fields, field, message) in [
        (
            vec![("name", "Rust again"), ("slug", "rust-lang")],
            "slug",
            "There is a tag at /tags/rust-lang already",
        ),
        (vec![("name", "tab\tname")], "name", "control characters"),
        (
            vec![("name", long.as_str())],
            "name",
            "at most 100 characters",
        ),
        (
            vec![("name", "ok"), ("slug", "Not a slug!")],
            "slug",
            "lower-case letters",
        ),
        (
            vec![("name", "ok"), ("image", "javascript:alert(1)")],
            "image",
            "https://",
        ),
        (
            vec![("name", "ok"), ("accent", "red")],
            "accent",
            "hex colour",
        ),
    ] {
        let res = eve.submit(new, "/admin/tags", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        assert!(
            page.text(&format!("#{field}-error")).contains(message),
            "{field}: {}",
            page.text(&format!("#{field}-error"))
        );
        assert_eq!(page.attr("#name", "value").as_deref(), Some(fields[0].1));
    }
    // The form layer drops other control characters, and answers a NUL itself.
    let res = eve
        .submit(new, "/admin/tags", &[("name", "nul\0name")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = eve
        .submit(
            new,
            "/admin/tags",
            &[("name", "ok"), ("description", &"d".repeat(1001))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        crate::harness::Page::parse(&res.text().await.unwrap())
            .text("#description")
            .len(),
        1001
    );

    // Editing: every field, and the colour picker wins only when it was moved.
    let id = tag_id(&app, "rust-lang").await;
    let edit = format!("/admin/tags/{id}/edit");
    let form = eve.page(&edit, StatusCode::OK).await;
    assert_eq!(form.attr("#accent", "value").as_deref(), Some("#2f6fb0"));
    assert_eq!(
        form.attr("#meta_title", "value").as_deref(),
        Some("Rust articles")
    );
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{id}"),
            &[
                ("name", "Rust"),
                ("slug", "rust"),
                ("accent", "#2f6fb0"),
                ("accent_pick", "#118833"),
                ("accent_shown", "#2f6fb0"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let form = eve.page(&edit, StatusCode::OK).await;
    assert_eq!(form.attr("#accent", "value").as_deref(), Some("#118833"));
    assert_eq!(form.attr("#meta_title", "value").as_deref(), Some(""));
    let res = app.get("/tags/rust-lang").await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY, "renamed");
}

#[tokio::test]
async fn deleting_a_tag_asks_first_and_posts_keep_their_other_tags() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Tagged twice",
                tags: &["Doomed", "Kept"],
                ..Default::default()
            },
        )
        .await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let id = tag_id(&app, "doomed").await;
    let ask = format!("/admin/tags/{id}/delete");
    for _ in 0..2 {
        let page = eve.page(&ask, StatusCode::OK).await;
        assert_eq!(page.text("h1"), "Delete the tag “Doomed”?");
        assert!(page.text(".lede").starts_with("1 post carries it"));
    }
    // Asking (twice) changed nothing.
    assert_eq!(shown_tags(&app, &slug).await, vec!["Doomed", "Kept"]);
    let found = app.page("/search?q=Doomed", StatusCode::OK).await;
    assert!(found.contains("Tagged twice"), "found by its tag's name");
    app.page("/tags/doomed", StatusCode::OK).await;

    // No CSRF token: refused.
    let res = eve.client.post(eve.url(&ask)).send().await.unwrap();
    assert!(res.status().is_client_error());
    let res = eve.submit(&ask, &ask, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(shown_tags(&app, &slug).await, vec!["Kept"]);
    app.page("/tags/doomed", StatusCode::NOT_FOUND).await;
    app.page("/tags/doomed/feed.xml", StatusCode::NOT_FOUND)
        .await;
    assert_eq!(
        eve.page("/admin/tags", StatusCode::OK)
            .await
            .texts(".admin-table tbody td a[href$='/edit']"),
        vec!["Kept", "Edit"]
    );
    // Search follows: the post is no longer found by the deleted tag's name.
    let found = app.page("/search?q=Doomed", StatusCode::OK).await;
    assert!(!found.contains("Tagged twice"));
}

#[tokio::test]
async fn merging_is_picked_from_a_list_confirmed_then_keeps_other_tags() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let a = app
        .post(
            ada,
            PostSpec {
                title: "Alpha",
                tags: &["Golang", "Servers"],
                ..Default::default()
            },
        )
        .await;
    app.post(
        ada,
        PostSpec {
            title: "Beta",
            tags: &["Go"],
            ..Default::default()
        },
    )
    .await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let (from, into) = (tag_id(&app, "golang").await, tag_id(&app, "go").await);
    let edit = eve
        .page(&format!("/admin/tags/{from}/edit"), StatusCode::OK)
        .await;
    // Picked, not typed: the other tags are the choices (not itself).
    assert_eq!(
        edit.attrs("select#into option", "value"),
        vec![
            String::new(),
            into.to_string(),
            tag_id(&app, "servers").await.to_string()
        ]
    );
    let ask = format!("/admin/tags/{from}/merge?into={into}");
    let page = eve.page(&ask, StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Merge “Golang” into “Go”?");
    assert!(page.text(".lede").starts_with("1 post will move"));
    assert_eq!(
        page.text("main .confirm-actions button"),
        "Merge 1 post into “Go”"
    );
    // Asking changed nothing; picking nothing, or the tag itself, is refused.
    assert_eq!(shown_tags(&app, &a).await, vec!["Golang", "Servers"]);
    for bad in ["", "x", &from.to_string(), "999999"] {
        let res = eve
            .get(&format!("/admin/tags/{from}/merge?into={bad}"))
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    let res = eve
        .submit(
            &ask,
            &format!("/admin/tags/{from}/merge"),
            &[("into", &into.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(shown_tags(&app, &a).await, vec!["Go", "Servers"]);
    let go = app.page("/tags/go", StatusCode::OK).await;
    assert_eq!(go.texts(".card-title"), vec!["Beta", "Alpha"]);
    let res = app.get("/tags/golang").await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.headers()["location"], "/tags/go");
}

#[tokio::test]
async fn the_tag_index_lists_only_tags_with_published_posts() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    for (title, tags) in [("One", &["Zebra", "Apple"][..]), ("Two", &["Zebra"][..])] {
        app.post(
            ada,
            PostSpec {
                title,
                tags,
                ..Default::default()
            },
        )
        .await;
    }
    app.post(
        ada,
        PostSpec {
            title: "Draft",
            tags: &["Hidden"],
            status: PostStatus::Draft,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ada,
        PostSpec {
            title: "Tomorrow",
            tags: &["Later"],
            published_in_minutes: 60 * 24,
            ..Default::default()
        },
    )
    .await;
    let page = app.page("/tags", StatusCode::OK).await;
    assert_eq!(page.texts(".tag-index h2 a"), vec!["Zebra", "Apple"]);
    assert_eq!(page.texts(".tag-count"), vec!["2 posts", "1 post"]);
    let base = app.settings.http.base();
    assert_eq!(
        page.attr("link[rel=canonical]", "href"),
        Some(format!("{base}/tags"))
    );
    assert!(page.text("title").starts_with("Tags · "));
    assert_eq!(
        page.attr("meta[property='og:url']", "content"),
        Some(format!("{base}/tags"))
    );
    let by_name = app.page("/tags?sort=name", StatusCode::OK).await;
    assert_eq!(by_name.texts(".tag-index h2 a"), vec!["Apple", "Zebra"]);
    // Kept like the other reader pages, and stale once a post is published.
    let res = app.get("/tags").await;
    assert_eq!(res.headers()["x-cache"], "HIT");
    app.post(
        ada,
        PostSpec {
            title: "Three",
            tags: &["Apple", "Mango"],
            ..Default::default()
        },
    )
    .await;
    let page = app.page("/tags", StatusCode::OK).await;
    assert_eq!(
        page.texts(".tag-index h2 a"),
        vec!["Apple", "Zebra", "Mango"]
    );
    // The tag page links it.
    assert!(
        app.page("/tags/apple", StatusCode::OK)
            .await
            .attrs(".tag-links a", "href")
            .contains(&"/tags".to_owned())
    );
}
