//! What readers see: the home page, posts, tag and author pages.

use quire::posts::model::PostStatus;
use reqwest::StatusCode;

use crate::harness::{PostSpec, spawn_app};

#[tokio::test]
async fn the_home_page_lists_published_posts_newest_first_ten_per_page() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.posts(ada, 12, &["Rust"]).await;

    let first = app.page("/", StatusCode::OK).await;
    let titles = first.texts(".card-title");
    assert_eq!(titles.len(), 10);
    assert_eq!(titles[0], "Post 12");
    assert_eq!(titles[9], "Post 3");
    assert_eq!(
        first.attr("link[rel=next]", "href"),
        Some(app.settings.http.base() + "/?page=2")
    );
    assert_eq!(first.attr("link[rel=prev]", "href"), None);
    assert_eq!(
        first.attr("a[rel=next]", "href").as_deref(),
        Some("/?page=2")
    );

    let second = app.page("/?page=2", StatusCode::OK).await;
    assert_eq!(second.texts(".card-title"), vec!["Post 2", "Post 1"]);
    assert_eq!(second.attr("a[rel=prev]", "href").as_deref(), Some("/"));
    assert_eq!(second.attr("a[rel=next]", "href"), None);
    assert_eq!(
        second.attr("link[rel=canonical]", "href"),
        Some(app.settings.http.base() + "/?page=2")
    );
}

#[tokio::test]
async fn a_card_shows_excerpt_author_date_reading_time_and_tags() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Hello Readers",
            body: "The first paragraph is the excerpt.\n\nThe second is not.",
            tags: &["Rust", "Web Design"],
            ..Default::default()
        },
    )
    .await;
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.text(".excerpt"), "The first paragraph is the excerpt.");
    assert_eq!(home.text(".card .meta a"), "Ada Display");
    assert!(home.text(".card .meta").contains("1 min read"));
    assert_eq!(home.texts(".card .tags a"), vec!["Rust", "Web Design"]);
    assert_eq!(
        home.attrs(".card .tags a", "href"),
        vec!["/tags/rust", "/tags/web-design"]
    );
    assert!(home.attr(".card time", "datetime").is_some());
}

#[tokio::test]
async fn a_post_page_shows_the_rendered_body_and_everything_about_it() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let body = "## A heading\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
                ```rust\nfn main() {}\n```\n\n> a quote\n\n![diagram](/static/img/diagram.svg)\n\n\
                [a link](https://example.com)\n\n<script>alert('x')</script>";
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Everything Markdown",
                body,
                tags: &["Rust"],
                excerpt: "A custom excerpt.",
                cover: Some("/static/img/cover-1.svg"),
                ..Default::default()
            },
        )
        .await;
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Everything Markdown");
    assert_eq!(page.text(".prose h2"), "A heading");
    assert_eq!(page.texts(".prose li").len(), 2);
    assert_eq!(page.texts(".prose table td"), vec!["1", "2"]);
    assert_eq!(page.text(".prose pre code.language-rust"), "fn main() {}");
    assert_eq!(page.text(".prose blockquote"), "a quote");
    assert_eq!(
        page.attr(".prose img", "src").as_deref(),
        Some("/static/img/diagram.svg")
    );
    assert!(!page.contains("<script>alert"), "scripts are stripped");
    assert_eq!(
        page.attr("a[rel=author]", "href").as_deref(),
        Some("/authors/ada")
    );
    assert_eq!(
        page.attr("a[rel=tag]", "href").as_deref(),
        Some("/tags/rust")
    );
    assert_eq!(
        page.attr(".cover img", "src").as_deref(),
        Some("/static/img/cover-1.svg")
    );
    assert!(page.text(".post-header .meta").contains("min read"));
    // The head: title, description, canonical and OpenGraph.
    assert_eq!(page.text("title"), "Everything Markdown · Quire");
    assert_eq!(
        page.attr("meta[name=description]", "content").as_deref(),
        Some("A custom excerpt.")
    );
    let canonical = app.settings.http.base() + "/posts/everything-markdown";
    assert_eq!(
        page.attr("link[rel=canonical]", "href"),
        Some(canonical.clone())
    );
    assert_eq!(
        page.attr("meta[property='og:url']", "content"),
        Some(canonical)
    );
    assert_eq!(
        page.attr("meta[property='og:type']", "content").as_deref(),
        Some("article")
    );
    assert_eq!(
        page.attr("meta[property='og:image']", "content"),
        Some(app.settings.http.base() + "/static/img/cover-1.svg")
    );
}

#[tokio::test]
async fn drafts_and_future_posts_are_invisible_to_readers_everywhere() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Visible",
            tags: &["news"],
            ..Default::default()
        },
    )
    .await;
    let draft = app
        .post(
            ada,
            PostSpec {
                title: "Secret Draft",
                tags: &["news"],
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let future = app
        .post(
            ada,
            PostSpec {
                title: "Future Post",
                tags: &["news"],
                status: PostStatus::Scheduled,
                published_in_minutes: 60,
                ..Default::default()
            },
        )
        .await;
    let published_later = app
        .post(
            ada,
            PostSpec {
                title: "Published Tomorrow",
                tags: &["news"],
                status: PostStatus::Published,
                published_in_minutes: 24 * 60,
                ..Default::default()
            },
        )
        .await;

    for slug in [&draft, &future, &published_later] {
        app.page(&format!("/posts/{slug}"), StatusCode::NOT_FOUND)
            .await;
    }
    for path in ["/", "/tags/news", "/authors/ada"] {
        let page = app.page(path, StatusCode::OK).await;
        assert_eq!(page.texts(".card-title"), vec!["Visible"], "{path}");
    }
    for path in ["/feed.xml", "/sitemap.xml"] {
        let body = app.get(path).await.text().await.unwrap();
        assert!(body.contains("/posts/visible"), "{path}");
        for slug in [&draft, &future, &published_later] {
            assert!(!body.contains(slug.as_str()), "{slug} leaked into {path}");
        }
    }
}

#[tokio::test]
async fn a_scheduled_post_appears_by_itself_when_its_time_comes() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Soon",
                status: PostStatus::Scheduled,
                published_in_minutes: 60,
                ..Default::default()
            },
        )
        .await;
    app.page(&format!("/posts/{slug}"), StatusCode::NOT_FOUND)
        .await;
    // Time passes: the scheduled moment is now in the past. Nothing else changes.
    sqlx::query("UPDATE posts SET published_at = now() - interval '1 second' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.texts(".card-title"), vec!["Soon"]);
}

#[tokio::test]
async fn a_tag_page_lists_its_posts_with_the_tag_description() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.posts(ada, 11, &["Databases"]).await;
    app.post(
        ada,
        PostSpec {
            title: "Off Topic",
            tags: &["Cooking"],
            ..Default::default()
        },
    )
    .await;
    sqlx::query("UPDATE tags SET description = 'All about data.' WHERE slug = 'databases'")
        .execute(&app.db)
        .await
        .unwrap();
    let page = app.page("/tags/databases", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Databases");
    assert!(
        page.texts(".intro p")
            .contains(&"All about data.".to_owned())
    );
    let titles = page.texts(".card-title");
    assert_eq!(titles.len(), 10);
    assert!(!titles.contains(&"Off Topic".to_owned()));
    assert_eq!(
        page.attr("a[rel=next]", "href").as_deref(),
        Some("/tags/databases?page=2")
    );
    let second = app.page("/tags/databases?page=2", StatusCode::OK).await;
    assert_eq!(second.texts(".card-title"), vec!["Post 1"]);
    app.page("/tags/databases?page=3", StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn an_author_page_shows_the_bio_and_only_their_posts() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let bob = app.author("bob").await;
    app.post(
        ada,
        PostSpec {
            title: "By Ada",
            ..Default::default()
        },
    )
    .await;
    app.post(
        bob,
        PostSpec {
            title: "By Bob",
            ..Default::default()
        },
    )
    .await;
    let page = app.page("/authors/ada", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Ada Display");
    assert!(
        page.texts(".intro p")
            .contains(&"ada writes tests.".to_owned())
    );
    assert_eq!(page.texts(".card-title"), vec!["By Ada"]);
    assert_eq!(page.text("title"), "Posts by Ada Display · Quire");
}

#[tokio::test]
async fn unknown_posts_tags_and_authors_are_404_pages_in_the_site_layout() {
    let app = spawn_app().await;
    for path in [
        "/posts/nope",
        "/tags/nope",
        "/authors/nobody",
        "/no/such/page",
    ] {
        let page = app.page(path, StatusCode::NOT_FOUND).await;
        assert_eq!(page.text("h1"), "Page not found", "{path}");
        assert!(
            page.attr("link[rel=stylesheet]", "href").is_some(),
            "{path}"
        );
        assert_eq!(
            page.attr("meta[name=robots]", "content").as_deref(),
            Some("noindex")
        );
        assert_eq!(page.text(".brand"), "Quire");
    }
}

#[tokio::test]
async fn an_empty_blog_has_a_friendly_home_page() {
    let app = spawn_app().await;
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.text(".empty"), "No posts here yet.");
}

#[tokio::test]
async fn static_files_are_served_under_hashed_urls_with_long_cache_lifetimes() {
    let app = spawn_app().await;
    let home = app.page("/", StatusCode::OK).await;
    let css = home.attr("link[rel=stylesheet]", "href").unwrap();
    assert!(
        css.starts_with("/static/css/site.") && css != "/static/css/site.css",
        "{css}"
    );
    let res = app.get(&css).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(
        cache.contains("max-age=31536000") && cache.contains("immutable"),
        "{cache}"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
    // The plain name works too, but may change, so it is cached briefly.
    let plain = app.get("/static/css/site.css").await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(
        plain.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=3600")
    );
    assert_eq!(
        app.get("/static/css/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/static/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["x-request-id"].to_str().unwrap().len(), 36);
}

/// A rename made outside the admin page (here in SQL) queues a refresh of the tag's posts,
/// which the app works through (`quire serve` resumes it at start-up); untagging is at once.
#[tokio::test]
async fn renaming_or_untagging_shows_on_every_list() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Tagged",
                tags: &["Old Name", "Other"],
                ..Default::default()
            },
        )
        .await;
    sqlx::query("UPDATE tags SET name = 'New Name' WHERE slug = 'old-name'")
        .execute(&app.db)
        .await
        .unwrap();
    quire::tags::jobs::run(&app.db, &app.pages()).await.unwrap();
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.texts(".card .tags a"), vec!["New Name", "Other"]);
    sqlx::query("DELETE FROM tags WHERE slug = 'other'")
        .execute(&app.db)
        .await
        .unwrap();
    let post = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(post.texts(".post-header .tags a"), vec!["New Name"]);
}

#[tokio::test]
async fn a_tag_page_follows_a_post_whose_date_changes() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.posts(ada, 3, &["Rust"]).await;
    sqlx::query(
        "UPDATE posts SET published_at = now() - interval '1 minute' WHERE slug = 'post-1'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let page = app.page("/tags/rust", StatusCode::OK).await;
    assert_eq!(
        page.texts(".card-title"),
        vec!["Post 1", "Post 3", "Post 2"]
    );
}

/// Issue 27, item 10: an author's links are followed (search engines see the blog's own
/// pages), `nofollow` only where the author wrote it; links off the site keep `noopener`;
/// commenters' links are `nofollow ugc`.
#[tokio::test]
async fn links_are_followed_unless_the_author_says_and_comment_links_are_ugc() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Links",
                body: "See [my other post](/posts/other), [the notes](#notes), \
                       [Rust](https://www.rust-lang.org/) and \
                       <a href=\"https://ads.example/\" rel=\"sponsored nofollow\">a sponsor</a>.",
                ..Default::default()
            },
        )
        .await;
    let rita = app
        .signed_in("rita", quire::accounts::model::Role::Reader)
        .await;
    let res = crate::comments::comment(
        &rita,
        &slug,
        "Mine: [out](https://rita.example/) and [in](/posts/links)",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    let rel = |href: &str, scope: &str| page.attr(&format!("{scope} a[href=\"{href}\"]"), "rel");
    assert_eq!(rel("/posts/other", ".prose"), None, "internal: no rel");
    assert_eq!(rel("#notes", ".prose"), None);
    assert_eq!(
        rel("https://www.rust-lang.org/", ".prose").as_deref(),
        Some("noopener noreferrer")
    );
    assert_eq!(
        rel("https://ads.example/", ".prose").as_deref(),
        Some("noopener noreferrer sponsored nofollow")
    );
    for href in ["https://rita.example/", "/posts/links"] {
        assert_eq!(
            rel(href, ".comment-body").as_deref(),
            Some("noopener noreferrer nofollow ugc"),
            "{href}"
        );
    }
}

/// Items 4 and 12: a code block takes keyboard focus (so it scrolls without a mouse), task
/// checkboxes are named by their text and stay disabled, footnote marks lead both ways.
#[tokio::test]
async fn code_blocks_task_lists_and_footnotes_are_reachable() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Details",
                body: "- [ ] Buy *milk*\n- [x] Write the post\n\n\
                       ```rust\nfn main() { println!(\"a very long line\"); }\n```\n\n\
                       Said so.[^1]\n\n[^1]: A note.\n",
                ..Default::default()
            },
        )
        .await;
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(
        page.attrs(".prose input[type=checkbox]", "aria-label"),
        vec!["Buy milk", "Write the post"]
    );
    assert_eq!(
        page.attrs(".prose input[type=checkbox][disabled]", "type")
            .len(),
        2
    );
    assert_eq!(page.attrs(".prose pre", "tabindex"), vec!["0"]);
    assert_eq!(
        page.attr(".prose .footnote-reference a", "href").as_deref(),
        Some("#user-content-fn-1")
    );
    assert_eq!(
        page.attr(".prose .footnote-definition-label a", "href")
            .as_deref(),
        Some("#user-content-fnref-1")
    );
}

/// Item 12: a post ends with the posts published just before and after it, and up to three
/// sharing the most tags (newest first among ties). Drafts, pages and posts scheduled for
/// later are never among them.
#[tokio::test]
async fn a_post_ends_with_previous_next_and_related_posts() {
    use quire::posts::model::PostKind;
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    for (title, tags, minutes, status, kind) in [
        (
            "Alpha",
            &["Rust", "Web"][..],
            -600,
            PostStatus::Published,
            PostKind::Post,
        ),
        (
            "Bravo",
            &["Rust"][..],
            -500,
            PostStatus::Published,
            PostKind::Post,
        ),
        (
            "About Rust",
            &["Rust", "Web"][..],
            -450,
            PostStatus::Published,
            PostKind::Page,
        ),
        (
            "Draft Rust",
            &["Rust", "Web"][..],
            0,
            PostStatus::Draft,
            PostKind::Post,
        ),
        (
            "Charlie",
            &["Rust", "Web", "CSS"][..],
            -400,
            PostStatus::Published,
            PostKind::Post,
        ),
        (
            "Delta",
            &["Web"][..],
            -300,
            PostStatus::Published,
            PostKind::Post,
        ),
        ("Echo", &[][..], -200, PostStatus::Published, PostKind::Post),
        (
            "Foxtrot",
            &["Rust", "Web"][..],
            -100,
            PostStatus::Published,
            PostKind::Post,
        ),
        (
            "Later Rust",
            &["Rust", "Web"][..],
            600,
            PostStatus::Published,
            PostKind::Post,
        ),
    ] {
        app.post(
            ada,
            PostSpec {
                title,
                tags,
                published_in_minutes: minutes,
                status,
                kind,
                ..Default::default()
            },
        )
        .await;
    }
    let onward = |page: &crate::harness::Page| {
        (
            page.text(".post-nav-prev .post-nav-title"),
            page.text(".post-nav-next .post-nav-title"),
            page.texts(".related li a"),
        )
    };
    let charlie = app.page("/posts/charlie", StatusCode::OK).await;
    assert_eq!(
        onward(&charlie),
        (
            "Bravo".into(),
            "Delta".into(),
            vec!["Foxtrot".into(), "Alpha".into(), "Delta".into()]
        )
    );
    assert_eq!(
        charlie.attr("a[rel=prev]", "href").as_deref(),
        Some("/posts/bravo")
    );
    assert_eq!(
        charlie.attr("a[rel=next]", "href").as_deref(),
        Some("/posts/delta")
    );
    // The oldest has no previous post, the newest no next (the scheduled one isn't out).
    let alpha = app.page("/posts/alpha", StatusCode::OK).await;
    assert_eq!(
        onward(&alpha),
        (
            String::new(),
            "Bravo".into(),
            vec!["Foxtrot".into(), "Charlie".into(), "Delta".into()]
        )
    );
    let foxtrot = app.page("/posts/foxtrot", StatusCode::OK).await;
    assert_eq!(onward(&foxtrot).0, "Echo");
    assert_eq!(onward(&foxtrot).1, "");
    // No tags, no related posts: no empty section either.
    let echo = app.page("/posts/echo", StatusCode::OK).await;
    assert_eq!(onward(&echo), ("Delta".into(), "Foxtrot".into(), vec![]));
    assert!(echo.texts(".related").is_empty());
    for page in [&charlie, &alpha, &foxtrot, &echo] {
        for never in ["About Rust", "Draft Rust", "Later Rust"] {
            assert!(!page.text("main").contains(never), "{never}");
        }
    }
}

/// Publishing makes the pages kept for anonymous readers stale, so the newest post's page
/// shows the next one as soon as it is out (the editor's write, through the cache).
#[tokio::test]
async fn publishing_a_post_updates_its_neighbours_kept_pages() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "First",
            ..Default::default()
        },
    )
    .await;
    for _ in 0..2 {
        let first = app.page("/posts/first", StatusCode::OK).await;
        assert_eq!(first.text(".post-nav-next"), "");
    }
    let editor = app
        .signed_in("eve", quire::accounts::model::Role::Editor)
        .await;
    crate::admin::write(&editor, "Second", "Body.", "published").await;
    let first = app.page("/posts/first", StatusCode::OK).await;
    assert_eq!(first.text(".post-nav-next .post-nav-title"), "Second");
}

/// Item 12: `/favicon.ico`, which browsers and crawlers ask for unprompted, leads to the
/// icon the pages name, with no database read and no 404.
#[tokio::test]
async fn favicon_ico_leads_to_the_site_icon() {
    let app = spawn_app().await;
    let home = app.page("/", StatusCode::OK).await;
    let icon = home.attr("link[rel=icon]", "href").unwrap();
    let res = app.get("/favicon.ico").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"].to_str().unwrap(), icon);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=3600")
    );
    let res = app.get(&icon).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
}

/// Posts saved before the renderer changed get today's HTML from the `posts.rerender` job
/// (which a migration queues on a site with posts), and kept pages go stale.
#[tokio::test]
async fn the_rerender_job_brings_old_posts_up_to_date() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Old",
                body: "[home](/) and [out](https://example.com/)",
                ..Default::default()
            },
        )
        .await;
    sqlx::query(
        "UPDATE posts SET body_html = '<p><a href=\"/\" rel=\"noopener noreferrer nofollow\">home</a></p>'
          WHERE slug = $1",
    )
    .bind(&slug)
    .execute(&app.db)
    .await
    .unwrap();
    app.pages().stale().await;
    let page = app.page("/posts/old", StatusCode::OK).await;
    assert!(page.attr(".prose a[href=\"/\"]", "rel").is_some());
    quire::jobs::NewJob::of(&quire::posts::Rerender {})
        .enqueue(&app.db)
        .await
        .unwrap();
    app.until_jobs_ran().await;
    let page = app.page("/posts/old", StatusCode::OK).await;
    assert_eq!(page.attr(".prose a[href=\"/\"]", "rel"), None);
    assert_eq!(
        page.attr(".prose a[href=\"https://example.com/\"]", "rel")
            .as_deref(),
        Some("noopener noreferrer")
    );
}
