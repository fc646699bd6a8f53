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
        "application/atom+xml; charset=utf-8"
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
