//! The Atom feed, the sitemap and robots.txt.

use reqwest::StatusCode;

use crate::harness::{PostSpec, spawn_app};

#[tokio::test]
async fn the_feed_is_valid_atom_with_the_newest_twenty_posts() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.posts(ada, 21, &["Rust & <Friends>"]).await;
    app.post(
        ada,
        PostSpec {
            title: "Quotes \"and\" <angles> & ampersands",
            body: "Body with <b>bold</b> & an ![img](/static/img/diagram.svg).",
            ..Default::default()
        },
    )
    .await;

    let res = app.get("/feed.xml").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("the feed is well-formed XML");
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().name(), "feed");
    assert_eq!(
        feed.tag_name().namespace(),
        Some("http://www.w3.org/2005/Atom")
    );
    let entries: Vec<_> = feed
        .children()
        .filter(|n| n.has_tag_name("entry"))
        .collect();
    assert_eq!(entries.len(), 20);
    let title = |n: &roxmltree::Node| {
        n.children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(title(&entries[0]), "Quotes \"and\" <angles> & ampersands");
    assert_eq!(title(&entries[1]), "Post 21");
    assert_eq!(title(&entries[19]), "Post 3");
    // Required Atom elements, with the content as escaped HTML.
    for name in ["id", "updated", "title"] {
        assert!(
            feed.children().any(|c| c.has_tag_name(name)),
            "feed lacks {name}"
        );
    }
    let content = entries[0]
        .children()
        .find(|c| c.has_tag_name("content"))
        .unwrap();
    assert_eq!(content.attribute("type"), Some("html"));
    assert!(content.text().unwrap().contains("<b>bold</b>"));
    let category = entries[1]
        .children()
        .find(|c| c.has_tag_name("category"))
        .unwrap();
    assert_eq!(category.attribute("label"), Some("Rust & <Friends>"));
}

#[tokio::test]
async fn an_empty_feed_is_still_valid() {
    let app = spawn_app().await;
    let body = app.get("/feed.xml").await.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("well-formed");
    assert!(
        doc.root_element()
            .children()
            .any(|c| c.has_tag_name("updated"))
    );
}

#[tokio::test]
async fn the_sitemap_lists_home_posts_tags_and_authors() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.author("idle").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Mapped",
                tags: &["Maps"],
                ..Default::default()
            },
        )
        .await;
    let res = app.get("/sitemap.xml").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("well-formed");
    let locs: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("loc"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    let base = app.settings.http.base();
    assert_eq!(
        locs,
        vec![
            format!("{base}/"),
            format!("{base}/posts/{slug}"),
            format!("{base}/tags/maps"),
            format!("{base}/authors/ada"),
        ]
    );
    assert!(doc.descendants().any(|n| n.has_tag_name("lastmod")));
}

#[tokio::test]
async fn robots_txt_points_at_the_sitemap() {
    let app = spawn_app().await;
    let body = app.get("/robots.txt").await.text().await.unwrap();
    assert!(body.contains("User-agent: *"));
    // Crawlers following "Continue with GitHub" would only start logins nobody finishes.
    for private in ["/admin", "/api/", "/auth/"] {
        assert!(
            body.contains(&format!("Disallow: {private}\n")),
            "{private}"
        );
    }
    assert!(body.contains(&format!(
        "Sitemap: {}/sitemap.xml",
        app.settings.http.base()
    )));
}

/// The entries' titles of the feed at `path`, which must be valid Atom naming the site's
/// stylesheet for browsers.
async fn feed_titles(app: &crate::harness::TestApp, path: &str) -> Vec<String> {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert_eq!(
        res.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains(r#"<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>"#),
        "{path} names the stylesheet"
    );
    let doc = roxmltree::Document::parse(&body).expect("the feed is well-formed XML");
    let feed = doc.root_element();
    assert_eq!(
        feed.tag_name().namespace(),
        Some("http://www.w3.org/2005/Atom")
    );
    let base = app.settings.http.base();
    let own = feed
        .children()
        .find(|c| c.has_tag_name("link") && c.attribute("rel") == Some("self"))
        .and_then(|l| l.attribute("href"));
    assert_eq!(own, Some(format!("{base}{path}").as_str()));
    for name in ["id", "updated", "title"] {
        assert!(feed.children().any(|c| c.has_tag_name(name)), "{name}");
    }
    feed.children()
        .filter(|n| n.has_tag_name("entry"))
        .map(|e| {
            e.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn tag_and_author_feeds_carry_exactly_their_posts() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let bob = app.author("bob").await;
    for (author, title, tags, minutes) in [
        (ada, "Ada on Rust", &["Rust"][..], -30),
        (ada, "Ada on the web", &["Web"][..], -20),
        (bob, "Bob on Rust", &["Rust", "Web"][..], -10),
        (ada, "Ada tomorrow", &["Rust"][..], 60 * 24),
    ] {
        app.post(
            author,
            PostSpec {
                title,
                tags,
                published_in_minutes: minutes,
                ..Default::default()
            },
        )
        .await;
    }
    app.post(
        ada,
        PostSpec {
            title: "Ada's draft",
            tags: &["Rust"],
            status: quire::posts::model::PostStatus::Draft,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        feed_titles(&app, "/tags/rust/feed.xml").await,
        vec!["Bob on Rust", "Ada on Rust"]
    );
    assert_eq!(
        feed_titles(&app, "/authors/ada/feed.xml").await,
        vec!["Ada on the web", "Ada on Rust"]
    );
    assert_eq!(
        feed_titles(&app, "/feed.xml").await,
        vec!["Bob on Rust", "Ada on the web", "Ada on Rust"]
    );
    for unknown in ["/tags/nothing/feed.xml", "/authors/nobody/feed.xml"] {
        assert_eq!(app.get(unknown).await.status(), StatusCode::NOT_FOUND);
    }

    // Each page names its feed for readers' apps to find.
    let base = app.settings.http.base();
    for (page, feed) in [
        ("/tags/rust", "/tags/rust/feed.xml"),
        ("/authors/ada", "/authors/ada/feed.xml"),
    ] {
        let hrefs = app
            .page(page, StatusCode::OK)
            .await
            .attrs("link[rel=alternate][type='application/atom+xml']", "href");
        assert!(
            hrefs.contains(&format!("{base}{feed}")),
            "{page}: {hrefs:?}"
        );
    }
}

#[tokio::test]
async fn the_feed_stylesheet_is_served_as_xsl() {
    let app = spawn_app().await;
    let res = app.get("/feed.xsl").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/xsl; charset=utf-8");
    let body = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("the stylesheet is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "stylesheet");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/1999/XSL/Transform")
    );
    // Styled by the site's own stylesheet (the Content-Security-Policy allows no inline
    // style), with no script.
    assert!(doc.descendants().any(|n| {
        n.has_tag_name("link")
            && n.attribute("rel") == Some("stylesheet")
            && n.attribute("href")
                .is_some_and(|h| h.starts_with("/static/css/site."))
    }));
    assert!(
        !doc.descendants()
            .any(|n| n.has_tag_name("script") || n.has_tag_name("style"))
    );
    assert!(body.contains("This is a feed."));
}
