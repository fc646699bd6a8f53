//! The browser flow (tests/e2e/flow.mjs) against the real app: headless Chromium driven by
//! playwright-core. `scripts/test.sh` installs both before running the tests.

use std::process::Command;

use actix_web::{HttpResponse, web};
use quire::accounts::model::Role;

use crate::{
    harness::spawn_app_with,
    oauth_provider::{Person, TestProvider},
};

/// tests/e2e, once `scripts/test.sh` has installed Chromium and playwright-core.
fn e2e_dir() -> String {
    let e2e = format!("{}/tests/e2e", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&format!("{e2e}/node_modules/playwright-core")).exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "run `bash scripts/test.sh` once: it installs Chromium and playwright-core"
    );
    e2e
}

/// Each of `shots` was written to tests/e2e/artifacts by the flow just run (and is a real
/// picture, not an empty page).
fn screenshots_taken(shots: &[&str]) {
    let root = env!("CARGO_MANIFEST_DIR");
    for shot in shots {
        let path = format!("{root}/tests/e2e/artifacts/{shot}");
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 10_000),
            "screenshot {shot}"
        );
    }
}

/// Run `node script` in tests/e2e with `env`; its standard output, after checking it ended
/// well and printed `passed`.
async fn node(script: &'static str, env: Vec<(&'static str, String)>, passed: &str) -> String {
    let e2e = e2e_dir();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .current_dir(&e2e)
            .envs(env)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(passed), "{stdout}");
    stdout
}

#[tokio::test]
async fn the_whole_story_works_in_a_real_browser() {
    // GitHub login goes to the test's own provider, where Octo Cat approves.
    let provider = TestProvider::start().await;
    provider.approve_as(Person {
        id: "31337",
        login: "octocat",
        name: "Octo Cat",
        email: "octo@example.com",
        verified: true,
    });
    let app = spawn_app_with(|s| provider.configure(s)).await;
    node(
        "flow.mjs",
        vec![("BASE_URL", app.base.clone())],
        "e2e flow passed",
    )
    .await;
    screenshots_taken(&[
        "editor.png",
        "post.png",
        "comment.png",
        "login.png",
        "account.png",
        "signin-refused.png",
        "link-taken.png",
    ]);
}

/// tests/e2e/conduit (a RealWorld-style front-end) served on an origin of its own.
fn serve_front_end() -> String {
    async fn file(name: web::Path<String>) -> HttpResponse {
        let (kind, body) = match name.as_str() {
            "" => (
                "text/html; charset=utf-8",
                include_str!("../e2e/conduit/index.html"),
            ),
            "app.js" => ("text/javascript", include_str!("../e2e/conduit/app.js")),
            _ => return HttpResponse::NotFound().finish(),
        };
        HttpResponse::Ok().content_type(kind).body(body)
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind front-end");
    let port = listener.local_addr().expect("addr").port();
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().route("/{name:.*}", web::get().to(file))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_front_end_on_another_origin_drives_the_api() {
    let front = serve_front_end();
    let app = spawn_app_with(|s| {
        s.accounts.default_role = Role::Author;
        s.api.cors_origins = vec![front.clone()];
    })
    .await;
    node(
        "api-flow.mjs",
        vec![("BASE_URL", app.base.clone()), ("FRONT_URL", front)],
        "api front-end flow passed",
    )
    .await;
    // The browser asked before each call with a token or a JSON body: real preflights.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let preflights: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("quire_http_requests_total")
                && l.contains("method=\"OPTIONS\"")
                && l.contains("/api")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        preflights >= 5.0,
        "preflights seen: {preflights}\n{metrics}"
    );
    let shot = format!(
        "{}/tests/e2e/artifacts/api-front-end.png",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));
}

#[tokio::test]
async fn the_enhanced_editor_works_in_a_real_browser_and_the_plain_one_without_javascript() {
    let app = crate::harness::spawn_app().await;
    app.signed_in("ann", Role::Author).await;
    node(
        "editor-flow.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("LOGIN", "ann".into()),
            ("PASSWORD", crate::harness::PASSWORD.into()),
        ],
        "editor flow passed",
    )
    .await;
    // What the browser did is in the database too: the published post's autosave kept
    // aside, and both posts published.
    let (aside, published): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM post_autosaves),
                (SELECT count(*) FROM posts WHERE status = 'published')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((aside, published), (1, 2));
    screenshots_taken(&[
        "editor-live.png",
        "editor-phone.png",
        "editor-narrow-preview.png",
        "editor-dark.png",
    ]);
}

#[tokio::test]
async fn site_settings_pages_navigation_and_the_views_chart_work_in_a_real_browser() {
    let app = spawn_app_with(|s| s.stats.flush_ms = 200).await;
    app.signed_in("rosa", Role::Admin).await;
    let ada = app.author("ada").await;
    let post = app
        .post(
            ada,
            crate::harness::PostSpec {
                title: "Read by many",
                ..Default::default()
            },
        )
        .await;
    node(
        "site-flow.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("LOGIN", "rosa".into()),
            ("PASSWORD", crate::harness::PASSWORD.into()),
            ("POST", post.clone()),
        ],
        "site flow passed",
    )
    .await;
    // The browser's work is in the database: the page, the menu link, the views.
    let (pages, linked, views): (i64, bool, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM published_pages WHERE slug = 'about-us'),
                (SELECT navigation -> 'header' @> '[{\"url\": \"/about-us\"}]' FROM site_settings),
                (SELECT COALESCE(sum(views), 0)::bigint FROM post_views)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((pages, linked), (1, true));
    assert!(views >= 4, "{views} views");
    screenshots_taken(&[
        "settings.png",
        "settings-dark.png",
        "page-editor.png",
        "page.png",
        "page-dark.png",
        "navigation.png",
        "dashboard.png",
        "dashboard-dark.png",
    ]);
}

#[tokio::test]
async fn live_comments_and_editor_presence_work_across_two_instances_in_a_real_browser() {
    let app = crate::harness::spawn_app().await;
    let other = app.another_instance().await;
    app.signed_in("mira", Role::Editor).await;
    app.signed_in("jonas", Role::Editor).await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            crate::harness::PostSpec {
                title: "Said live",
                ..Default::default()
            },
        )
        .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    node(
        "live-flow.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("BASE2", other.base.clone()),
            ("POST", slug),
            ("POST_ID", id.to_string()),
            ("LOGIN", "mira".into()),
            ("LOGIN2", "jonas".into()),
            ("PASSWORD", crate::harness::PASSWORD.into()),
        ],
        "live flow passed",
    )
    .await;
    // What the browsers did is in the database: the comment (hidden), Mira's save.
    let (hidden, body): (bool, String) = sqlx::query_as(
        "SELECT (SELECT hidden_at IS NOT NULL FROM comments), body_markdown FROM posts WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((hidden, body.as_str()), (true, "Mira rewrote this."));
    screenshots_taken(&["live-comment.png", "editor-presence.png"]);
}

/// The media library in Chromium: the grid, an image's page, the editor's Image dialog
/// inserting the image with its alt text, the cover's picker (tests/e2e/media-flow.mjs).
#[tokio::test]
async fn the_media_library_dialog_and_picker_work_in_a_real_browser() {
    let app = crate::harness::spawn_app().await;
    app.signed_in("ann", Role::Author).await;
    let ann = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .map(quire::accounts::model::UserId)
        .unwrap();
    let (id, name) = ready_image(&app, ann, "red-square.png", "A red square").await;
    node(
        "media-flow.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("LOGIN", "ann".into()),
            ("PASSWORD", crate::harness::PASSWORD.into()),
            ("UPLOAD_ID", id.to_string()),
            ("UPLOAD_NAME", name.clone()),
            ("ALT", "A red square".into()),
        ],
        "media flow passed",
    )
    .await;
    let (cover, body): (Option<String>, String) = sqlx::query_as(
        "SELECT cover_image, body_markdown FROM posts WHERE title = 'Chosen in the browser'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(cover, Some(format!("/uploads/{name}")));
    assert!(
        body.contains(&format!("![A red square](/uploads/{name})")),
        "{body}"
    );
    screenshots_taken(&[
        "media-grid.png",
        "media-detail.png",
        "media-dialog.png",
        "media-picker.png",
        "media-grid-dark-390.png",
        "media-detail-dark-390.png",
        "media-picker-dark-390.png",
        "media-grid-390.png",
    ]);
}

/// A processed image of `uploader` (ready, with its 480 px WebP), a real PNG in the store.
async fn ready_image(
    app: &crate::harness::TestApp,
    uploader: quire::accounts::model::UserId,
    original_name: &str,
    alt: &str,
) -> (i64, String) {
    let mut png = Vec::new();
    image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([200, (x / 5) as u8, (y / 4) as u8])
    })
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let mut small = Vec::new();
    image::RgbImage::from_fn(480, 320, |x, y| {
        image::Rgb([200, (x / 2) as u8, (y * 4 / 5) as u8])
    })
    .write_to(
        &mut std::io::Cursor::new(&mut small),
        image::ImageFormat::WebP,
    )
    .unwrap();
    let hash: String = {
        use sha2::Digest;
        sha2::Sha256::digest(original_name.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let name = format!("{hash}.png");
    let dir = &app.settings.uploads.dir;
    std::fs::create_dir_all(dir.join("originals")).unwrap();
    std::fs::write(dir.join(format!("originals/{name}")), &png).unwrap();
    std::fs::write(dir.join(&name), &png).unwrap();
    std::fs::write(dir.join(format!("{hash}-480.webp")), &small).unwrap();
    let id = sqlx::query_scalar(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id, original_name, alt,
                              width, height, widths, state, processed_at)
         VALUES ($1, 'image/png', $2, $3, $4, $5, 1200, 800, '{480}', 'ready', now())
         RETURNING id",
    )
    .bind(&name)
    .bind(i32::try_from(png.len()).unwrap())
    .bind(uploader)
    .bind(original_name)
    .bind(alt)
    .fetch_one(&app.db)
    .await
    .unwrap();
    (id, name)
}

/// axe-core on every reading page and admin screen of a seeded site (light and dark), and
/// no page wider than a 390 px or 320 px phone (tests/e2e/a11y.mjs).
#[tokio::test]
async fn every_screen_passes_axe_and_fits_a_phone() {
    // A mail server set, so the newsletter's forms show (nothing is sent here).
    let app = spawn_app_with(|s| s.mail.smtp_host = "127.0.0.1".into()).await;
    app.signed_in("rosa", Role::Admin).await;
    let rosa = sqlx::query_scalar("SELECT id FROM users WHERE username = 'rosa'")
        .fetch_one(&app.db)
        .await
        .map(quire::accounts::model::UserId)
        .unwrap();
    let seeded = app
        .quire_command()
        .args(["seed", "--posts", "12"])
        .output()
        .expect("quire seed runs");
    assert!(seeded.status.success(), "{seeded:?}");
    // A post with what a reader's page can hold: code, a table, a task list, footnotes.
    let slug = app
        .post(
            rosa,
            crate::harness::PostSpec {
                title: "Everything a post can hold",
                body: "Intro with a footnote.[^1]\n\n## Code\n\n```rust\n// a comment\nfn main() { let n = 42; println!(\"{n} and a line long enough to scroll sideways on a phone, surely\"); }\n```\n\n- [x] done\n- [ ] not yet\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> A quote.\n\n[^1]: The note.",
                tags: &["notes", "rust"],
                ..Default::default()
            },
        )
        .await;
    let (post_id, tag_id): (i64, i64) =
        sqlx::query_as("SELECT (SELECT id FROM posts WHERE slug = $1), (SELECT min(id) FROM tags)")
            .bind(&slug)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let (image_id, _) = ready_image(&app, rosa, "a11y-image.png", "A gradient").await;
    let reading = [
        "/".to_owned(),
        format!("/posts/{slug}"),
        "/tags/notes".into(),
        "/authors/rosa".into(),
        "/search?q=post".into(),
        "/about".into(),
        "/login".into(),
        "/register".into(),
        "/password/forgot".into(),
        "/subscribe".into(),
    ];
    let admin = [
        "/admin".to_owned(),
        "/admin/posts".into(),
        "/admin/posts/new".into(),
        format!("/admin/posts/{post_id}/edit"),
        format!("/admin/posts/{post_id}/revisions"),
        "/admin/posts/trash".into(),
        "/admin/pages".into(),
        "/admin/tags".into(),
        format!("/admin/tags/{tag_id}/edit"),
        "/admin/comments".into(),
        "/admin/media".into(),
        format!("/admin/media/{image_id}"),
        "/admin/users".into(),
        "/admin/subscribers".into(),
        "/admin/settings".into(),
        "/admin/navigation".into(),
        "/admin/redirects".into(),
        "/admin/webhooks".into(),
        "/admin/import".into(),
        "/admin/export".into(),
        "/admin/jobs".into(),
        "/account".into(),
        "/following".into(),
    ];
    let out = node(
        "a11y.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("LOGIN", "rosa".into()),
            ("PASSWORD", crate::harness::PASSWORD.into()),
            ("PATHS", reading.join(",")),
            ("ADMIN_PATHS", admin.join(",")),
        ],
        "a11y flow passed",
    )
    .await;
    // Each screen in both schemes: the readers', then the admin's (with two reading pages).
    let expected = 2 * (reading.len() + 2 + admin.len());
    assert!(
        out.contains(&format!("checked {expected} screens")),
        "{out}"
    );
    screenshots_taken(&["a11y-account-menu-light.png", "a11y-account-menu-dark.png"]);
}

/// The GraphQL explorer in Chromium under the site's Content-Security-Policy: no violation,
/// no console error, nothing asked of another address; a query, the pasted token and a
/// subscription work; 1280 and 390 px, light and dark; axe finds nothing in our markup
/// (tests/e2e/graphiql.mjs).
#[tokio::test]
async fn the_graphql_explorer_runs_queries_and_subscriptions_under_the_csp_in_a_real_browser() {
    let app = spawn_app_with(|s| s.site.title = "Field Notes".into()).await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            crate::harness::PostSpec {
                title: "Watched from the explorer",
                ..Default::default()
            },
        )
        .await;
    let token = crate::graphql::token_of(&app, "reader", Role::Reader).await;
    node(
        "graphiql.mjs",
        vec![
            ("BASE_URL", app.base.clone()),
            ("SITE_TITLE", "Field Notes".into()),
            ("TOKEN", token),
            ("USERNAME", "reader".into()),
            ("POST", slug.clone()),
        ],
        "graphiql flow passed",
    )
    .await;
    // The comment the subscription showed was written, by the token's account.
    let said: String = sqlx::query_scalar(
        "SELECT u.username FROM comments c JOIN users u ON u.id = c.author_id
          JOIN posts p ON p.id = c.post_id WHERE p.slug = $1",
    )
    .bind(&slug)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(said, "reader");
    screenshots_taken(&[
        "graphiql-1280-light.png",
        "graphiql-1280-dark.png",
        "graphiql-390-light.png",
        "graphiql-390-dark.png",
        "graphiql-390-docs.png",
        "graphiql-subscription.png",
    ]);
}
