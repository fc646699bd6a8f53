//! Site settings (issue 13): admins change them in /admin/settings; every instance shows
//! them on its next request; bad values come back with the form; two admins can't
//! silently overwrite each other; registrations and comments obey them.

use std::time::Duration;

use quire::accounts::model::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{PostSpec, TestApp, eventually, spawn_app};

/// The settings form with `changes` over sensible values, posted by `admin`.
pub async fn save(admin: &TestApp, changes: &[(&str, &str)]) -> reqwest::Response {
    let page = admin.page("/admin/settings", StatusCode::OK).await;
    let version = page
        .attr("input[name=version]", "value")
        .expect("the form carries its version");
    let mut fields: Vec<(&str, &str)> = vec![
        ("title", "Quire"),
        ("description", "Writing"),
        ("posts_per_page", "10"),
        ("footer_text", ""),
        ("accent_color", ""),
        ("registrations_open", "on"),
        ("default_role", "reader"),
        ("comments", "on"),
        ("version", version.as_str()),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        if !value.is_empty() || *name != "registrations_open" {
            fields.push((name, value));
        }
    }
    admin
        .submit("/admin/settings", "/admin/settings", &fields)
        .await
}

#[tokio::test]
async fn a_change_shows_on_the_next_request_of_every_instance() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let ada = app.author("ada").await;
    app.posts(ada, 3, &[]).await;
    // Both instances have served (and kept) the home page with the old settings.
    for instance in [&app, &other] {
        assert_eq!(instance.get("/").await.status(), StatusCode::OK);
        assert_eq!(instance.get("/").await.status(), StatusCode::OK);
    }
    let admin = app.signed_in("root", Role::Admin).await;
    let res = save(
        &admin,
        &[
            ("title", "The Night Shift"),
            ("description", "Notes written after dark"),
            ("posts_per_page", "2"),
            ("footer_text", "© The Night Shift <3"),
            ("accent_color", "#1E6FD9"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/settings?saved=1");
    // The very next request, on the other instance, anonymous (through the page cache).
    let page = other.page("/", StatusCode::OK).await;
    assert_eq!(page.text("title"), "The Night Shift");
    assert_eq!(page.text(".brand"), "The Night Shift");
    assert_eq!(page.text(".footer-text"), "© The Night Shift <3");
    assert!(page.contains("Notes written after dark"));
    let theme = page
        .attr("link[href^='/theme.css']", "href")
        .expect("the accent colour's stylesheet is linked");
    let css = other.get(&theme).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("--accent: #1e6fd9"));
    // Posts per page: three posts, two a page.
    assert_eq!(page.texts("article.card").len(), 2);
    let second = other.page("/?page=2", StatusCode::OK).await;
    assert_eq!(second.texts("article.card").len(), 1);
    // The form shows what was saved.
    let form = admin.page("/admin/settings?saved=1", StatusCode::OK).await;
    assert_eq!(
        form.attr("#title", "value").as_deref(),
        Some("The Night Shift")
    );
    assert_eq!(
        form.attr("#accent_color", "value").as_deref(),
        Some("#1e6fd9")
    );
    assert!(form.contains("Saved."));
}

#[tokio::test]
async fn bad_values_come_back_with_the_form_and_a_reason() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let long = "x".repeat(121);
    for (field, value, says) in [
        ("title", "   ", "1 to 120"),
        ("title", long.as_str(), "1 to 120"),
        ("posts_per_page", "0", "1 to 100"),
        ("posts_per_page", "ten", "1 to 100"),
        ("accent_color", "red; } body { display: none", "hex colour"),
        ("accent_color", "javascript:alert(1)", "hex colour"),
        ("default_role", "root", "reader, author"),
        ("comments", "maybe", "held for approval"),
        ("footer_text", &"y".repeat(501), "500"),
        ("timezone", "Mars/Olympus", "IANA"),
        ("timezone", "../../etc/passwd", "IANA"),
        ("logo_url", "javascript:alert(1)", "image is a path"),
        ("icon_url", "//evil.example/i.png", "image is a path"),
    ] {
        let res = save(
            &admin,
            &[(field, value), ("description", "Kept text\tstays")],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(says), "{field}: {body}");
        assert!(
            body.contains("Kept text\tstays"),
            "{field}: the other fields are kept"
        );
    }
    // Nothing was saved.
    assert_eq!(app.page("/", StatusCode::OK).await.text(".brand"), "Quire");
    // Hostile but valid text is stored and shown escaped.
    let res = save(&admin, &[("title", "<script>alert(1)</script>")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let home = app.get("/").await.text().await.unwrap();
    assert!(!home.contains("<script>alert(1)"));
    assert!(home.contains("&lt;script&gt;alert(1)") || home.contains("&#60;script&#62;alert(1)"));
}

#[tokio::test]
async fn logo_icon_and_timezone_show_on_every_page() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "New Year",
                ..Default::default()
            },
        )
        .await;
    // 03:00 UTC on New Year's Day is still the evening before in New York.
    sqlx::query("UPDATE posts SET published_at = '2026-01-01T03:00:00Z' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    app.pages().stale().await;
    let page = app.page("/posts/new-year", StatusCode::OK).await;
    assert_eq!(page.text(".post-header time"), "Jan 1, 2026");
    assert_eq!(
        page.attrs(".post-header time", "datetime")[0],
        "2026-01-01T03:00:00Z"
    );

    let admin = app.signed_in("root", Role::Admin).await;
    let res = save(
        &admin,
        &[
            ("logo_url", "/static/img/cover-1.svg"),
            ("icon_url", "https://cdn.example/icon.png"),
            ("timezone", "America/New_York"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/posts/new-year", StatusCode::OK).await;
    assert_eq!(page.text(".post-header time"), "Dec 31, 2025");
    // The machine-readable date stays the instant itself.
    assert_eq!(
        page.attrs(".post-header time", "datetime")[0],
        "2026-01-01T03:00:00Z"
    );
    assert_eq!(
        page.attr(".brand img.logo", "src").as_deref(),
        Some("/static/img/cover-1.svg")
    );
    assert_eq!(
        page.attr(".brand img.logo", "alt").as_deref(),
        Some("Quire")
    );
    assert_eq!(
        page.attr("link[rel=icon]", "href").as_deref(),
        Some("https://cdn.example/icon.png")
    );
    assert!(page.attr("link[rel=icon]", "type").is_none());
    // The admin's times say which zone they are in.
    let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = 'new-year'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let revisions = admin
        .page(&format!("/admin/posts/{id}/revisions"), StatusCode::OK)
        .await;
    assert!(
        revisions.contains(" EST") || revisions.contains(" EDT"),
        "{}",
        revisions.1
    );
    // The settings form offers the zone names and keeps what was chosen.
    let form = admin.page("/admin/settings", StatusCode::OK).await;
    assert_eq!(
        form.attr("#timezone", "value").as_deref(),
        Some("America/New_York")
    );
    assert!(form.attrs("#timezones option", "value").len() > 300);
}

#[tokio::test]
async fn two_admins_saving_at_once_never_overwrite_each_other_silently() {
    let app = spawn_app().await;
    let first = app.signed_in("root", Role::Admin).await;
    let second = app.signed_in("boss", Role::Admin).await;
    // Both open the form at the same version.
    let version = first
        .page("/admin/settings", StatusCode::OK)
        .await
        .attr("input[name=version]", "value")
        .unwrap();
    let fields = |title: &'static str, version: String| {
        vec![
            ("title", title.to_owned()),
            ("posts_per_page", "10".to_owned()),
            ("default_role", "reader".to_owned()),
            ("comments", "on".to_owned()),
            ("version", version),
        ]
    };
    let post = async |who: &TestApp, form: Vec<(&str, String)>| {
        let token = who.csrf_token("/admin/settings").await;
        let mut form = form;
        form.push(("csrf_token", token));
        who.client
            .post(who.url("/admin/settings"))
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    let res = post(&first, fields("First", version.clone())).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(&second, fields("Second", version)).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains("Someone else saved"), "{body}");
    assert!(body.contains("value=\"First\""), "shows theirs: {body}");
    assert_eq!(app.page("/", StatusCode::OK).await.text(".brand"), "First");
}

#[tokio::test]
async fn closed_registrations_and_closed_comments_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Open for talk",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    let admin = app.signed_in("root", Role::Admin).await;
    let reader = app.signed_in("rita", Role::Reader).await;
    let res = save(&admin, &[("registrations_open", ""), ("comments", "off")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Registration: the page says so, the form and the API refuse.
    let visitor = TestApp::sharing(&app);
    assert!(
        visitor
            .page("/register", StatusCode::OK)
            .await
            .contains("closed")
    );
    let res = visitor.register("newbie").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("New accounts are closed")
    );
    let res = app
        .client
        .post(app.url("/api/users"))
        .json(
            &json!({"user": {"username": "newbie", "email": "n@example.com",
                               "password": "a long enough passphrase"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert!(body["errors"]["registration"].is_array(), "{body}");

    // Comments: no form, the form's POST and the API refuse, the text is kept.
    let page = reader.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert!(page.contains("Comments are closed"));
    assert!(page.attr("textarea#body", "name").is_none());
    let res = reader
        .submit(
            &format!("/posts/{slug}"),
            &format!("/posts/{slug}/comments"),
            &[("body", "My kept words")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert!(body.contains("Comments are closed") && body.contains("My kept words"));

    // Open again: a new account gets the role the settings name.
    let res = save(&admin, &[("default_role", "author")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = visitor.register("newbie").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        visitor.get("/admin/posts/new").await.status(),
        StatusCode::OK,
        "an author may write"
    );
}

/// The home page on `instance`, anonymous (through the page cache), once `shows` holds for it
/// (3 s at most): a change made outside any instance reaches it without a request to it.
async fn home_once(instance: &TestApp, shows: impl Fn(&crate::harness::Page) -> bool) {
    let what = format!("the change to show on :{}", instance.port);
    eventually(&what, Duration::from_secs(3), || async {
        let res = instance.get("/").await;
        let status = res.status();
        let page = crate::harness::Page::parse(&res.text().await.unwrap());
        if status == StatusCode::OK && shows(&page) {
            Ok(())
        } else {
            Err((status, page.texts(".site-header a")))
        }
    })
    .await
}

#[tokio::test]
async fn a_change_by_another_process_reaches_every_instance_and_the_next_save_is_not_refused() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let admin = app.signed_in("root", Role::Admin).await;
    // Both instances have served (and kept) the home page with the settings as they were.
    for instance in [&app, &other] {
        assert_eq!(instance.get("/").await.status(), StatusCode::OK);
        assert_eq!(instance.get("/").await.status(), StatusCode::OK);
    }

    // Plain SQL, not even minding the version.
    sqlx::query("UPDATE site_settings SET title = 'Changed by SQL'")
        .execute(&app.db)
        .await
        .unwrap();
    for instance in [&app, &other] {
        home_once(instance, |page| page.text(".brand") == "Changed by SQL").await;
    }

    // `quire seed`: the demo About page, linked from the header.
    let mut seed = app.quire_command();
    seed.args(["seed", "--posts", "1"]);
    let out = tokio::task::spawn_blocking(move || seed.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for instance in [&app, &other] {
        home_once(instance, |page| {
            page.texts(".site-header nav a")
                .contains(&"About".to_owned())
        })
        .await;
    }

    // Nobody saved in /admin/settings since: the admin's save goes through, on both.
    let res = save(&admin, &[("title", "Saved after seeding")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = other.page("/", StatusCode::OK).await;
    assert_eq!(page.text(".brand"), "Saved after seeding");
    assert!(
        page.texts(".site-header nav a")
            .contains(&"About".to_owned())
    );
}

#[tokio::test]
async fn a_change_made_while_an_instance_was_cut_off_shows_once_it_is_back() {
    let proxy = crate::harness::TcpProxy::start().await;
    let app = crate::harness::spawn_app_behind(&proxy).await;
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
    // The instance's connections (its listener's too) are cut: the change below is sent to
    // nobody there. The test's own pool goes straight to PostgreSQL.
    proxy.cut();
    sqlx::query("UPDATE site_settings SET title = 'Changed while away'")
        .execute(&app.db)
        .await
        .unwrap();
    // Time passing is the point: the instance finds its connections gone meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restored: time::OffsetDateTime = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&app.db)
        .await
        .unwrap();
    proxy.restore();
    // No request meanwhile (one would read the row while the listener is down): its
    // listener connects again and reads the row once, so the kept home page is not served.
    // Seen from PostgreSQL: its listener's connection, made since (it reads the row next;
    // should a request beat that read, the request reads the row itself).
    eventually(
        "the instance to listen again",
        Duration::from_secs(10),
        || async {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                             WHERE datname = current_database() AND backend_start > $1
                               AND query LIKE 'LISTEN%quire_settings%')",
            )
            .bind(restored)
            .fetch_one(&app.db)
            .await
            .unwrap()
        },
    )
    .await;
    home_once(&app, |page| page.text(".brand") == "Changed while away").await;
}
