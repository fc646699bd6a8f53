//! Post settings (SEO, social, cover text), pages at `/{slug}`, and the navigation menus
//! (issue 13).

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app};

/// The editor's fields for a published post or page, with `extra` over them.
fn fields<'a>(title: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("title", title),
        ("body", "Words of the **body**."),
        ("status", "published"),
        ("intent", "save"),
    ];
    for (name, value) in extra {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    fields
}

/// Create through the editor (`form_page` the new post or new page form); the answer.
async fn create(
    browser: &TestApp,
    form_page: &str,
    title: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .submit(form_page, "/admin/posts", &fields(title, extra))
        .await
}

#[tokio::test]
async fn post_settings_shape_the_head_and_the_cover() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    let res = create(
        &author,
        "/admin/posts/new",
        "Settled",
        &[
            ("excerpt", "The plain excerpt."),
            ("cover_image", "/static/img/cover-1.svg"),
            ("cover_alt", "Three hills at dusk"),
            ("cover_caption", "Drawn by <Ann> & friends"),
            ("meta_title", "Settled: a search title"),
            ("meta_description", "What search engines show."),
            ("social_image", "https://images.example/share.png"),
            ("canonical_url", "https://first.example/settled"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/posts/settled", StatusCode::OK).await;
    assert_eq!(page.text("title"), "Settled: a search title");
    assert_eq!(
        page.attr("meta[name=description]", "content").as_deref(),
        Some("What search engines show.")
    );
    assert_eq!(
        page.attr("link[rel=canonical]", "href").as_deref(),
        Some("https://first.example/settled")
    );
    assert_eq!(
        page.attr("meta[property='og:url']", "content").as_deref(),
        Some("https://first.example/settled")
    );
    assert_eq!(
        page.attr("meta[property='og:image']", "content").as_deref(),
        Some("https://images.example/share.png")
    );
    assert_eq!(
        page.attr(".cover img", "alt").as_deref(),
        Some("Three hills at dusk")
    );
    assert_eq!(page.text(".cover figcaption"), "Drawn by <Ann> & friends");
    assert!(!page.contains("<Ann>"), "the caption is escaped");

    // Left empty, each falls back: the title with the site's name, the excerpt, the
    // post's own address, the cover.
    let plain = create(
        &author,
        "/admin/posts/new",
        "Plain",
        &[
            ("excerpt", "Only an excerpt."),
            ("cover_image", "/static/img/cover-2.svg"),
        ],
    )
    .await;
    assert_eq!(plain.status(), StatusCode::SEE_OTHER);
    let page = app.page("/posts/plain", StatusCode::OK).await;
    assert!(
        page.text("title").starts_with("Plain · "),
        "{}",
        page.text("title")
    );
    assert_eq!(
        page.attr("meta[name=description]", "content").as_deref(),
        Some("Only an excerpt.")
    );
    assert_eq!(
        page.attr("link[rel=canonical]", "href"),
        Some(app.url("/posts/plain"))
    );
    assert_eq!(
        page.attr("meta[property='og:image']", "content"),
        Some(app.url("/static/img/cover-2.svg"))
    );
    assert_eq!(page.attr(".cover img", "alt").as_deref(), Some(""));
    assert!(page.texts(".cover figcaption").is_empty());

    // The editor shows them again, in the settings section with its search preview.
    let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = 'settled'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let editor = author
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(
        editor.attr("#meta_title", "value").as_deref(),
        Some("Settled: a search title")
    );
    assert_eq!(editor.text("#serp-title"), "Settled: a search title");
    assert_eq!(editor.text("#serp-url"), "https://first.example/settled");
    assert_eq!(
        editor.text("#serp-description"),
        "What search engines show."
    );
    assert!(editor.attr("details.post-settings", "open").is_none());
}

#[tokio::test]
async fn bad_post_settings_are_refused_with_the_text_kept() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    let long_title = "t".repeat(301);
    let long_description = "d".repeat(501);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("meta_title", long_title.as_str(), "at most 300"),
        ("meta_description", long_description.as_str(), "at most 500"),
        ("canonical_url", "javascript:alert(1)", "http"),
        ("canonical_url", "ftp://files.example/x", "http"),
        ("canonical_url", "https://a.example/\r\nx", "http"),
        ("canonical_url", "/relative/path", "http"),
        ("social_image", "//evil.example/x.png", "image"),
        ("social_image", "javascript:alert(1)", "image"),
        ("cover_alt", long_description.as_str(), "at most 300"),
    ];
    for (field, value, says) in cases {
        let res = create(
            &author,
            "/admin/posts/new",
            "Kept",
            &[(field, value), ("body", "My precious paragraph.")],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value:?}"
        );
        let body = res.text().await.unwrap();
        let page = crate::harness::Page(scraper::Html::parse_document(&body), body.clone());
        let error = page.text(&format!("#{field}-error"));
        assert!(error.contains(says), "{field}: {error}");
        // The section opens to show the mistake, and nothing typed is lost.
        assert!(page.attr("details.post-settings", "open").is_some());
        assert_eq!(page.text("#body"), "My precious paragraph.");
        let kept = match field {
            "meta_description" => page.text("#meta_description"),
            _ => page.attr(&format!("#{field}"), "value").unwrap_or_default(),
        };
        // (HTML parsing turns \r\n into \n, as a browser does.)
        assert_eq!(kept, value.trim().replace("\r\n", "\n"), "{field}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was saved");
}

#[tokio::test]
async fn a_page_lives_at_its_slug_and_nowhere_in_the_post_lists() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "An ordinary post",
            tags: &["Rust"],
            ..Default::default()
        },
    )
    .await;
    let editor = app.signed_in("eve", Role::Editor).await;
    let form = editor.page("/admin/pages/new", StatusCode::OK).await;
    assert_eq!(form.text("h1"), "New page");
    assert!(form.attr("#tags", "name").is_none(), "pages have no tags");
    let res = create(
        &editor,
        "/admin/pages/new",
        "About us",
        &[
            ("kind", "page"),
            ("slug", "about"),
            ("tags", "Rust"),
            ("body", "We write about **quiet** software."),
            ("meta_description", "Who writes here."),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/about", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "About us");
    assert!(page.contains("<strong>quiet</strong>"));
    assert_eq!(
        page.attr("link[rel=canonical]", "href"),
        Some(app.url("/about"))
    );
    assert_eq!(
        page.attr("meta[name=description]", "content").as_deref(),
        Some("Who writes here.")
    );
    // Kept by the page cache like posts; the app's own one-segment pages are not.
    let again = app.get("/about").await;
    assert_eq!(again.headers()["x-cache"], "HIT");
    for own in ["/login", "/register", "/account"] {
        let first = app.get(own).await;
        let second = app.get(own).await;
        assert_ne!(
            second
                .headers()
                .get("x-cache")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some("HIT".to_owned()),
            "{own} ({} then {})",
            first.status(),
            second.status()
        );
    }
    // Not a post: not at /posts/about, not listed, not in feeds, search or the API.
    assert_eq!(
        app.get("/posts/about").await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        "/",
        "/tags/rust",
        "/authors/eve",
        "/feed.xml",
        "/search?q=quiet",
    ] {
        let res = app.get(path).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("About us") && !body.contains("quiet software"),
            "{path} ({status}) lists the page"
        );
    }
    let api: serde_json::Value = app.get("/api/articles").await.json().await.unwrap();
    assert_eq!(api["articlesCount"], 1, "{api}");
    assert_eq!(
        app.get("/api/articles/about").await.status(),
        StatusCode::NOT_FOUND
    );
    // The sitemap lists it.
    let sitemap = app.get("/sitemap.xml").await.text().await.unwrap();
    assert!(
        sitemap.contains(&format!("<loc>{}</loc>", app.url("/about"))),
        "{sitemap}"
    );
    // The admin lists it with pages, not posts; the dashboard counts posts only.
    let pages = editor.page("/admin/pages", StatusCode::OK).await;
    assert_eq!(pages.texts("tbody tr td:first-child"), ["About us"]);
    let posts = editor.page("/admin/posts", StatusCode::OK).await;
    assert!(!posts.contains("About us"));
    // A draft page is not public.
    let res = create(
        &editor,
        "/admin/pages/new",
        "Colophon",
        &[("kind", "page"), ("status", "draft")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/colophon").await.status(), StatusCode::NOT_FOUND);
    // Unknown and malformed slugs are plain 404s.
    for path in ["/nothing-here", "/Not_A_Slug", "/a%00b", "/%ff"] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_page_slug_that_is_one_of_the_sites_own_addresses_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let editor = app.signed_in("eve", Role::Editor).await;
    // Every first segment of every protected route, and the reader routes.
    let mut segments: Vec<String> = crate::authz::table()
        .iter()
        .filter_map(|(_, path, _, _)| path.split('/').nth(1).map(str::to_owned))
        .collect();
    segments.extend(
        [
            "posts", "tags", "authors", "search", "login", "register", "api", "static", "uploads",
        ]
        .map(str::to_owned),
    );
    segments.sort();
    segments.dedup();
    for segment in &segments {
        let res = create(
            &editor,
            "/admin/pages/new",
            "Clash",
            &[
                ("kind", "page"),
                ("slug", segment),
                ("body", "Text I wrote."),
            ],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/{segment} was taken by a page"
        );
        let body = res.text().await.unwrap();
        assert!(
            body.contains("one of the site"),
            "{segment}: no reason given"
        );
        assert!(body.contains("Text I wrote."), "{segment}: text lost");
    }
    // A title that makes such a slug is refused the same way.
    let res = create(&editor, "/admin/pages/new", "Search", &[("kind", "page")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A post may be called that: it lives under /posts/.
    let res = create(&editor, "/admin/posts/new", "Search", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // And a page can't take a post's slug (one namespace), with the usual message.
    let res = create(&editor, "/admin/posts/new", "Hello", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = create(
        &editor,
        "/admin/pages/new",
        "Again",
        &[("kind", "page"), ("slug", "hello")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("That slug is taken"));
}

#[tokio::test]
async fn authors_neither_write_nor_edit_pages() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    let res = create(&author, "/admin/posts/new", "Sneaky", &[("kind", "page")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A page whose author is (now) only an author: still theirs to read, not to edit.
    let ann: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    app.post(
        quire::accounts::model::UserId(ann),
        PostSpec {
            title: "Legal notice",
            kind: quire::posts::model::PostKind::Page,
            ..Default::default()
        },
    )
    .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = 'legal-notice'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        author
            .get(&format!("/admin/posts/{id}/edit"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/legal-notice").await.status(), StatusCode::OK);
    // Editors edit it in the same editor, with revisions.
    let editor = app.signed_in("eve", Role::Editor).await;
    let page = editor
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(page.text("h1"), "Edit page");
    assert_eq!(
        page.attr(".lede a", "href").as_deref(),
        Some("/legal-notice")
    );
    let version = page.attr("input[name=version]", "value").unwrap();
    let res = editor
        .submit(
            &format!("/admin/posts/{id}/edit"),
            &format!("/admin/posts/{id}"),
            &fields(
                "Legal notice",
                &[("version", version.as_str()), ("body", "Revised terms.")],
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        app.page("/legal-notice", StatusCode::OK)
            .await
            .contains("Revised terms.")
    );
    editor
        .page(&format!("/admin/posts/{id}/revisions"), StatusCode::OK)
        .await;
    let revisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM post_revisions WHERE post_id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(revisions, 2);
}

/// The navigation form with `rows` (label, URL) in the header menu and the footer's as
/// they are.
async fn save_menu(admin: &TestApp, header: &[(&str, &str)]) -> reqwest::Response {
    let page = admin.page("/admin/navigation", StatusCode::OK).await;
    let version = page.attr("input[name=version]", "value").unwrap();
    let mut form: Vec<(&str, String)> = vec![("version", version)];
    for (i, (label, url)) in header.iter().enumerate() {
        form.push(("header.label", (*label).to_owned()));
        form.push(("header.url", (*url).to_owned()));
        form.push(("header.position", (i + 1).to_string()));
    }
    form.push(("footer.label", "Sitemap".into()));
    form.push(("footer.url", "/sitemap.xml".into()));
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    admin
        .submit("/admin/navigation", "/admin/navigation", &fields)
        .await
}

#[tokio::test]
async fn admins_edit_the_menus_and_every_instance_shows_them() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    // A new site has the starter menus.
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.texts(".site-header nav a")[..2], ["Home", "Feed"]);
    assert_eq!(home.texts(".footer-nav a"), ["Atom feed", "Sitemap"]);
    assert_eq!(other.get("/").await.status(), StatusCode::OK);

    let admin = app.signed_in("root", Role::Admin).await;
    let res = save_menu(
        &admin,
        &[
            ("Home", "/"),
            ("About", "/about"),
            ("Mastodon", "https://social.example/@q"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for instance in [&app, &other] {
        let home = instance.page("/", StatusCode::OK).await;
        assert_eq!(
            home.texts(".site-header nav a")[..3],
            ["Home", "About", "Mastodon"]
        );
        assert_eq!(
            home.attrs(".site-header nav a", "href")[..3],
            ["/", "/about", "https://social.example/@q"]
        );
        assert_eq!(home.texts(".footer-nav a"), ["Sitemap"]);
    }
    // Reordered by position; an emptied row is removed.
    let page = admin.page("/admin/navigation", StatusCode::OK).await;
    let version = page.attr("input[name=version]", "value").unwrap();
    let res = admin
        .submit(
            "/admin/navigation",
            "/admin/navigation",
            &[
                ("version", &version),
                ("header.label", "Home"),
                ("header.url", "/"),
                ("header.position", "9"),
                ("header.label", ""),
                ("header.url", ""),
                ("header.position", "1"),
                ("header.label", "About"),
                ("header.url", "/about"),
                ("header.position", "2"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let home = other.page("/", StatusCode::OK).await;
    assert_eq!(home.texts(".site-header nav a")[..2], ["About", "Home"]);
    assert!(home.texts(".footer-nav a").is_empty());
}

#[tokio::test]
async fn a_menu_link_that_could_run_script_or_leave_disguised_is_refused() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    for bad in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<b>x</b>",
        "//evil.example",
        "/\\evil.example",
        "java\tscript:alert(1)",
        "/a\r\nb",
    ] {
        let res = save_menu(&admin, &[("Home", "/"), ("Trap", bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let body = res.text().await.unwrap();
        let page = crate::harness::Page(scraper::Html::parse_document(&body), body.clone());
        // The rows come back as typed, the bad one marked.
        assert_eq!(
            page.attrs("input[name='header.label']", "value")[..2],
            ["Home", "Trap"]
        );
        assert_eq!(page.texts("tr.has-error").len(), 1, "{bad:?}");
        assert!(
            page.text("tr.has-error .field-error").contains("A link is"),
            "{bad:?}"
        );
    }
    // A label without a link, and too many links.
    let res = save_menu(&admin, &[("", "/somewhere")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<(String, String)> = (0..21)
        .map(|i| (format!("L{i}"), format!("/l{i}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(l, u)| (l.as_str(), u.as_str())).collect();
    let res = save_menu(&admin, &many).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("at most 20"));
    // Nothing was saved: the starter menu is still there.
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(home.texts(".site-header nav a")[..2], ["Home", "Feed"]);
}
