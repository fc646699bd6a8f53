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
