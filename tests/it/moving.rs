//! Moving in (issue 26): imports through the one writer, into the real app's database,
//! then read back over HTTP as readers would.

use std::path::{Path, PathBuf};

use quire::{
    accounts::model::Role,
    import::{
        Emit, Format, ImageDir, Item, ReadError, Site,
        markdown::Folder,
        wordpress::Wxr,
        write::{self, Options, Report},
    },
};
use reqwest::StatusCode;

use crate::harness::{TestApp, spawn_app};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wordpress")
        .join(name)
}

async fn import(
    app: &TestApp,
    format: Box<dyn Format>,
    dry_run: bool,
) -> Result<Report, ReadError> {
    let admin = match quire::accounts::repo::first_admin(&app.db)
        .await
        .expect("query")
    {
        Some(admin) => admin,
        None => app.user("importer", Role::Admin).await,
    };
    let opts = Options::new(&app.settings, admin, dry_run);
    let report = write::run(&app.db, format, &opts, &|_, _| {}).await;
    app.pages().stale().await;
    report
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.db)
        .await
        .expect("a count")
}

fn counts(report: &Report, kind: &str) -> write::Counts {
    report.counts.get(kind).copied().unwrap_or_default()
}

#[tokio::test]
async fn the_wordpress_theme_unit_test_data_moves_in_and_every_page_renders() {
    let app = spawn_app().await;
    let wxr = Wxr::open(&fixture("theme-unit-test-data.xml"), None);
    let report = import(&app, Box::new(wxr), false).await.expect("imports");
    assert_eq!(counts(&report, "posts").created, 58, "{report:#?}");
    assert_eq!(counts(&report, "pages").created, 21);
    assert_eq!(counts(&report, "comments").created, 25);
    assert_eq!(counts(&report, "accounts").created, 2);
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 79);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM comments WHERE parent_id IS NOT NULL"
        )
        .await,
        9
    );
    // Imported authors are authors without a password, to be claimed by a reset link.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE role = 'author' AND password_hash IS NULL
                AND NOT email_verified"
        )
        .await,
        2
    );
    // A category and a tag with one name are one tag.
    assert!(count(&app, "SELECT count(*) FROM tags").await < 181);

    // Every page readers can see renders.
    let paths: Vec<(String, String)> =
        sqlx::query_as("SELECT kind::text, slug FROM posts WHERE status = 'published' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .expect("posts");
    for (kind, slug) in &paths {
        let path = if kind == "post" {
            format!("/posts/{slug}")
        } else {
            format!("/{slug}")
        };
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    // Shortcodes the converter handles leave no trace; the images are there.
    let raw: i64 = count(
        &app,
        "SELECT count(*) FROM posts WHERE body_html LIKE '%[caption%' OR body_html LIKE '%[gallery%'",
    )
    .await;
    assert_eq!(raw, 0, "a [caption] or [gallery] shows as text");
    let gallery = app.page("/posts/post-format-gallery", StatusCode::OK).await;
    assert!(
        gallery.attrs("article img", "src").len() >= 3,
        "the gallery's images"
    );
    let aligned = app
        .page("/posts/markup-image-alignment", StatusCode::OK)
        .await;
    assert!(
        !aligned.attrs("article img", "src").is_empty(),
        "{}",
        aligned.1
    );

    // A post's text, its tags, and a guest's comment.
    let page = app.page("/posts/edge-case-many-tags", StatusCode::OK).await;
    assert!(page.contains("Edge Case: Many Tags"));
    let commented: String = sqlx::query_scalar(
        "SELECT p.slug FROM comments c JOIN posts p ON p.id = c.post_id
          WHERE c.guest_name IS NOT NULL AND p.status = 'published' ORDER BY c.id LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .expect("a guest's comment");
    let guest: String = sqlx::query_scalar(
        "SELECT guest_name FROM comments c JOIN posts p ON p.id = c.post_id
          WHERE p.slug = $1 AND c.guest_name IS NOT NULL ORDER BY c.id LIMIT 1",
    )
    .bind(&commented)
    .fetch_one(&app.db)
    .await
    .expect("its name");
    let page = app
        .page(&format!("/posts/{commented}"), StatusCode::OK)
        .await;
    assert!(page.contains(&guest), "{guest} on /posts/{commented}");

    // The old addresses lead to the new ones.
    let (from, to): (String, String) = sqlx::query_as(
        "SELECT r.from_path, r.to_url FROM redirects r
          JOIN posts p ON '/posts/' || p.slug = r.to_url
         WHERE r.from_path LIKE '/?p=%' AND p.status = 'published' LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .expect("a ?p= redirect");
    let response = app.get(&from).await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{from}");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok()),
        Some(to.as_str())
    );
    let dated: String = sqlx::query_scalar(
        "SELECT from_path FROM redirects WHERE from_path ~ '^/[0-9]{4}/[0-9]{2}/[0-9]{2}/' LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .expect("a dated redirect");
    let response = app.get(&format!("{dated}/")).await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{dated}/");

    // The old category and tag pages lead to the tags' pages.
    for (old, new) in [
        ("/category/aciform/", "/tags/aciform"),
        ("/tag/8bit/", "/tags/8bit"),
    ] {
        let response = app.get(old).await;
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{old}");
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok()),
            Some(new)
        );
        assert_eq!(app.get(new).await.status(), StatusCode::OK, "{new}");
    }

    // Search finds imported posts.
    let page = app.page("/search?q=%22many+tags%22", StatusCode::OK).await;
    let found = page.texts("main h2");
    assert!(
        found.iter().any(|t| t == "Edge Case: Many Tags"),
        "search: {found:?}"
    );
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let app = spawn_app().await;
    let first = import(
        &app,
        Box::new(Wxr::open(&fixture("theme-unit-test-data.xml"), None)),
        false,
    )
    .await
    .expect("imports");
    let snapshot = "SELECT count(*) + sum(version) FROM posts";
    let before = (
        count(&app, snapshot).await,
        count(&app, "SELECT count(*) FROM comments").await,
        count(&app, "SELECT count(*) FROM users").await,
        count(&app, "SELECT count(*) FROM tags").await,
        count(&app, "SELECT count(*) FROM redirects").await,
    );
    let second = import(
        &app,
        Box::new(Wxr::open(&fixture("theme-unit-test-data.xml"), None)),
        false,
    )
    .await
    .expect("imports again");
    let after = (
        count(&app, snapshot).await,
        count(&app, "SELECT count(*) FROM comments").await,
        count(&app, "SELECT count(*) FROM users").await,
        count(&app, "SELECT count(*) FROM tags").await,
        count(&app, "SELECT count(*) FROM redirects").await,
    );
    assert_eq!(before, after);
    for kind in ["posts", "pages", "comments", "accounts", "redirects"] {
        let c = counts(&second, kind);
        assert_eq!((c.created, c.updated), (0, 0), "{kind}: {second:#?}");
        assert!(c.unchanged > 0, "{kind}");
    }
    assert_eq!(
        counts(&first, "posts").created,
        counts(&second, "posts").unchanged
    );
}

/// A reader that stops (as a killed process would) after handing over `stop_after` items.
struct Interrupted {
    inner: Wxr,
    stop_after: usize,
}

impl Format for Interrupted {
    fn check(&mut self) -> Result<Site, ReadError> {
        self.inner.check()
    }
    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        let mut n = 0;
        let stop = self.stop_after;
        self.inner.read(&mut |item: Item| {
            n += 1;
            if n > stop {
                return Err(anyhow::anyhow!("killed"));
            }
            emit(item)
        })
    }
    fn images(&self) -> Option<&ImageDir> {
        self.inner.images()
    }
}

#[tokio::test]
async fn an_interrupted_import_runs_again_to_the_end_without_duplicates() {
    let app = spawn_app().await;
    let big = generated_wxr(450, 900);
    // Past the first batch of 200 posts (written and committed), into the second.
    let interrupted = Interrupted {
        inner: Wxr::open(big.path(), None),
        stop_after: 1200,
    };
    assert!(import(&app, Box::new(interrupted), false).await.is_err());
    let halfway = count(&app, "SELECT count(*) FROM posts").await;
    assert!(halfway > 0 && halfway < 450, "{halfway}");
    let report = import(&app, Box::new(Wxr::open(big.path(), None)), false)
        .await
        .expect("finishes");
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 450);
    assert_eq!(counts(&report, "posts").unchanged as i64, halfway);
    let comments = count(&app, "SELECT count(*) FROM comments").await;
    assert_eq!(
        count(
            &app,
            "SELECT count(DISTINCT (post_id, body_markdown, created_at)) FROM comments"
        )
        .await,
        comments
    );
    assert_eq!(
        comments as u64,
        counts(&report, "comments").created + counts(&report, "comments").unchanged
    );
}

#[tokio::test]
async fn a_newer_export_updates_what_changed_but_never_a_local_edit() {
    let app = spawn_app().await;
    let v1 = wxr_file(&[("1", "First", "One."), ("2", "Second", "Two.")]);
    import(&app, Box::new(Wxr::open(v1.path(), None)), false)
        .await
        .expect("v1");
    // Someone edits the second post here.
    sqlx::query("UPDATE posts SET title = 'Second, edited here', version = version + 1 WHERE slug = 'second'")
        .execute(&app.db)
        .await
        .expect("edit");
    let v2 = wxr_file(&[
        ("1", "First, revised", "One, revised."),
        ("2", "Second, revised", "Two, revised."),
    ]);
    let report = import(&app, Box::new(Wxr::open(v2.path(), None)), false)
        .await
        .expect("v2");
    let c = counts(&report, "posts");
    assert_eq!((c.updated, c.skipped), (1, 1), "{report:#?}");
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM posts ORDER BY slug")
        .fetch_all(&app.db)
        .await
        .expect("titles");
    assert_eq!(titles, ["First, revised", "Second, edited here"]);
    assert!(
        report
            .skipped
            .lines
            .iter()
            .any(|l| l.contains("edited here since the last import"))
    );
}

#[tokio::test]
async fn a_malformed_file_writes_nothing_and_says_where() {
    let app = spawn_app().await;
    let mut text = std::fs::read_to_string(wxr_file(&[("1", "A", "a"), ("2", "B", "b")]).path())
        .expect("read");
    // Cut short, as an interrupted download leaves it.
    text.truncate(text.len() - 40);
    let file = temp_file("cut.xml", &text);
    let error = import(&app, Box::new(Wxr::open(file.path(), None)), false)
        .await
        .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("line"), "{message}");
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM users WHERE role = 'author'").await,
        0
    );
}

#[tokio::test]
async fn images_come_along_and_missing_ones_are_listed() {
    let app = spawn_app().await;
    let uploads = tempdir();
    std::fs::create_dir_all(uploads.join("2019/05")).expect("mkdir");
    std::fs::write(uploads.join("2019/05/pixel.png"), PNG).expect("png");
    let body = "<p>Look:</p>\n<img src=\"https://old.example/wp-content/uploads/2019/05/pixel.png\" alt=\"a pixel\" />\n\n\
                <img src=\"https://old.example/wp-content/uploads/2019/05/gone.jpg\" alt=\"gone\" />";
    let file = wxr_file(&[("1", "With images", body)]);
    let report = import(
        &app,
        Box::new(Wxr::open(file.path(), Some(&uploads))),
        false,
    )
    .await
    .expect("imports");
    assert_eq!(counts(&report, "images").created, 1, "{report:#?}");
    assert!(
        report
            .missing_images
            .lines
            .iter()
            .any(|l| l.ends_with("gone.jpg"))
    );
    let markdown: String = sqlx::query_scalar("SELECT body_markdown FROM posts")
        .fetch_one(&app.db)
        .await
        .expect("body");
    assert!(markdown.contains("/uploads/"), "{markdown}");
    assert!(!markdown.contains("pixel.png"), "{markdown}");
    let page = app.page("/posts/with-images", StatusCode::OK).await;
    let src = page
        .attrs("article img", "src")
        .into_iter()
        .find(|s| s.starts_with("/uploads/"))
        .expect("the copied image");
    assert_eq!(app.get(&src).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let app = spawn_app().await;
    let report = import(
        &app,
        Box::new(Wxr::open(&fixture("theme-unit-test-data.xml"), None)),
        true,
    )
    .await
    .expect("checks");
    assert_eq!(counts(&report, "posts").created, 58);
    assert!(report.dry_run);
    assert!(report.accounts.iter().all(|a| a.role == Role::Author));
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM comments").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM redirects").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn a_markdown_folder_moves_in() {
    let app = spawn_app().await;
    let dir = tempdir();
    for (name, text) in [
        (
            "_posts/2019-05-01-hello.md",
            "---\ntitle: Hello\ntags: [rust]\nredirect_from: /old/hello/\n---\nHi there.\n",
        ),
        ("about.md", "---\nlayout: page\ntitle: About me\n---\nMe.\n"),
    ] {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let report = import(&app, Box::new(Folder::open(&dir)), false)
        .await
        .expect("imports");
    assert_eq!(counts(&report, "posts").created, 1, "{report:#?}");
    assert_eq!(counts(&report, "pages").created, 1);
    assert!(
        app.page("/posts/hello", StatusCode::OK)
            .await
            .contains("Hi there.")
    );
    assert!(app.page("/about", StatusCode::OK).await.contains("Me."));
    assert!(
        app.page("/tags/rust", StatusCode::OK)
            .await
            .contains("Hello")
    );
    let response = app.get("/old/hello/").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
}

#[tokio::test]
async fn the_command_line_imports_with_a_dry_run_first() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let file = fixture("valid-wxr-1.1.xml");
    let dry = app
        .quire_command()
        .args(["import", "--dry-run", "wordpress"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains("checked"), "{out}");
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 0);
    let real = app
        .quire_command()
        .args(["import", "wordpress"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert!(count(&app, "SELECT count(*) FROM posts").await > 0);
    let broken = app
        .quire_command()
        .args(["import", "wordpress"])
        .arg(fixture("malformed.xml"))
        .output()
        .expect("runs");
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("malformed.xml"));
}

// --- files ------------------------------------------------------------------------------

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quire-moving-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A file removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(name: &str, text: &str) -> TempFile {
    let path = tempdir().join(name);
    std::fs::write(&path, text).expect("write");
    TempFile(path)
}

/// A small WXR 1.2 file: published posts by one author, (id, title, content).
fn wxr_file(posts: &[(&str, &str, &str)]) -> TempFile {
    let mut items = String::new();
    for (id, title, content) in posts {
        let slug = title
            .split(',')
            .next()
            .unwrap_or(title)
            .to_lowercase()
            .replace(' ', "-");
        items.push_str(&format!(
            "<item><title>{title}</title><link>https://old.example/{slug}/</link>\
             <dc:creator><![CDATA[ann]]></dc:creator>\
             <content:encoded><![CDATA[{content}]]></content:encoded>\
             <wp:post_id>{id}</wp:post_id><wp:post_date_gmt>2019-05-0{id} 10:00:00</wp:post_date_gmt>\
             <wp:post_name>{slug}</wp:post_name><wp:status>publish</wp:status>\
             <wp:post_type>post</wp:post_type></item>\n"
        ));
    }
    temp_file(
        "export.xml",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
             xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">\n\
             <channel><title>Old</title><link>https://old.example</link>\
             <wp:wxr_version>1.2</wp:wxr_version><wp:base_site_url>https://old.example</wp:base_site_url>\
             <wp:base_blog_url>https://old.example</wp:base_blog_url>\
             <wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[ann]]></wp:author_login>\
             <wp:author_email>ann@old.example</wp:author_email>\
             <wp:author_display_name><![CDATA[Ann]]></wp:author_display_name></wp:author>\n\
             {items}</channel></rss>\n"
        ),
    )
}

/// The benchmark's generator (bench/wxr.py), smaller.
fn generated_wxr(posts: usize, comments: usize) -> TempFile {
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/wxr.py"))
        .args([
            "--posts",
            &posts.to_string(),
            "--comments",
            &comments.to_string(),
        ])
        .output()
        .expect("python3 runs bench/wxr.py");
    assert!(out.status.success());
    temp_file("generated.xml", &String::from_utf8_lossy(&out.stdout))
}

async fn upload_export(
    browser: &TestApp,
    format: &str,
    bytes: Vec<u8>,
    token: Option<String>,
) -> reqwest::Response {
    upload_with(browser, format, ("export.xml", bytes), None, token).await
}

async fn upload_with(
    browser: &TestApp,
    format: &str,
    (name, bytes): (&str, Vec<u8>),
    images: Option<Vec<u8>>,
    token: Option<String>,
) -> reqwest::Response {
    let token = match token {
        Some(t) => t,
        None => browser.csrf_token("/admin/import").await,
    };
    let mut form = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .text("format", format.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    if let Some(images) = images {
        form = form.part(
            "images",
            reqwest::multipart::Part::bytes(images).file_name("images.zip"),
        );
    }
    browser
        .client
        .post(browser.url("/admin/import"))
        .multipart(form)
        .send()
        .await
        .expect("posted")
}

async fn state_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT state::text FROM imports WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .expect("a run")
}

#[tokio::test]
async fn an_admin_uploads_reads_the_dry_run_chooses_roles_and_imports() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let bytes = std::fs::read(fixture("theme-unit-test-data.xml")).expect("fixture");
    let response = upload_export(&admin, "wordpress", bytes, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let id: i64 = location
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("/admin/import/{id}");
    app.until_jobs_ran().await;
    assert_eq!(state_of(&app, id).await, "checked");
    // The plan: counts, the accounts with a role to choose, and nothing written yet.
    let page = admin.page(&location, StatusCode::OK).await;
    assert!(page.contains("posts: 58 created"), "{}", page.1);
    assert!(page.contains("menu items"));
    let selects = page.attrs("select", "name");
    assert_eq!(selects, ["role_0", "role_1"]);
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 0);
    // Go, making the first account an editor.
    let token = admin.csrf_token(&location).await;
    let response = admin
        .client
        .post(admin.url(&format!("{location}/run")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("role_0", "editor"),
            ("role_1", "author"),
        ])
        .send()
        .await
        .expect("posted");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.until_jobs_ran().await;
    assert_eq!(state_of(&app, id).await, "done");
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 79);
    assert_eq!(
        count(&app, "SELECT count(*) FROM users WHERE role = 'editor'").await,
        1
    );
    let page = admin.page(&location, StatusCode::OK).await;
    assert!(page.contains("What the import did"));
    assert!(
        page.attr("progress", "value").is_none(),
        "finished: no progress bar"
    );
    // The file is gone once imported; starting again is refused.
    assert!(!quire::import::job::file_of(&app.settings, id).exists());
    let token = admin.csrf_token(&location).await;
    let again = admin
        .client
        .post(admin.url(&format!("{location}/run")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("posted");
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

/// The run an upload made, once the job runner checked it.
async fn checked_run(app: &TestApp, response: reqwest::Response) -> (String, i64) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let id = location
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("/admin/import/{id}");
    app.until_jobs_ran().await;
    (location, id)
}

async fn start_run(app: &TestApp, browser: &TestApp, location: &str) {
    let token = browser.csrf_token(location).await;
    let response = browser
        .client
        .post(browser.url(&format!("{location}/run")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("posted");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.until_jobs_ran().await;
}

#[tokio::test]
async fn zips_of_images_and_of_markdown_folders_come_in_from_the_admin() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    // WordPress, with its uploads as a zip.
    let body =
        "<img src=\"https://old.example/wp-content/uploads/2019/05/pixel.png\" alt=\"a pixel\" />";
    let wxr = std::fs::read(wxr_file(&[("1", "With images", body)]).path()).expect("wxr");
    let images = crate::export::zip_of(&[("2019/05/pixel.png", PNG)]);
    let (location, id) = checked_run(
        &app,
        upload_with(&admin, "wordpress", ("export.xml", wxr), Some(images), None).await,
    )
    .await;
    assert_eq!(state_of(&app, id).await, "checked");
    start_run(&app, &admin, &location).await;
    assert_eq!(state_of(&app, id).await, "done");
    let markdown: String =
        sqlx::query_scalar("SELECT body_markdown FROM posts WHERE slug = 'with-images'")
            .fetch_one(&app.db)
            .await
            .expect("the post");
    assert!(markdown.contains("/uploads/"), "{markdown}");
    // A Markdown folder, zipped with its top folder as people zip one.
    let site = crate::export::zip_of(&[
        (
            "my-site/_posts/2020-01-02-zipped.md",
            b"---\ntitle: Zipped\n---\nFrom a zip.\n",
        ),
        (
            "my-site/about.md",
            b"---\nlayout: page\ntitle: About us\n---\nUs.\n",
        ),
    ]);
    let (location, id) = checked_run(
        &app,
        upload_with(
            &admin,
            "markdown",
            ("my-site.zip", site.clone()),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        state_of(&app, id).await,
        "checked",
        "{}",
        admin.page(&location, StatusCode::OK).await.1
    );
    start_run(&app, &admin, &location).await;
    assert!(
        app.page("/posts/zipped", StatusCode::OK)
            .await
            .contains("From a zip.")
    );
    assert!(app.page("/about", StatusCode::OK).await.contains("Us."));
    // The same zip again: known by its name, nothing new.
    let (location, _) = checked_run(
        &app,
        upload_with(&admin, "markdown", ("my-site.zip", site), None, None).await,
    )
    .await;
    let page = admin.page(&location, StatusCode::OK).await;
    assert!(page.contains("posts: 1 unchanged"), "{}", page.1);
    // A zip whose entry climbs out is refused, with why.
    let hostile = crate::export::zip_of(&[("../../evil.png", PNG)]);
    let wxr = std::fs::read(wxr_file(&[("9", "Nine", "x")]).path()).expect("wxr");
    let (location, id) = checked_run(
        &app,
        upload_with(
            &admin,
            "wordpress",
            ("export.xml", wxr),
            Some(hostile),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(state_of(&app, id).await, "failed");
    let page = admin.page(&location, StatusCode::OK).await;
    assert!(
        page.text("[role=alert]")
            .contains("leads out of the archive"),
        "{}",
        page.1
    );
}

#[tokio::test]
async fn a_broken_upload_says_where_and_others_may_not_import() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let response = upload_export(
        &admin,
        "wordpress",
        b"<rss><channel>\n<item>".to_vec(),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    app.until_jobs_ran().await;
    let page = admin.page(&location, StatusCode::OK).await;
    assert!(page.text("[role=alert]").contains("line 2"), "{}", page.1);
    assert!(page.attr("#start", "action").is_none());
    // No format, no file, a forged token.
    let none = upload_export(&admin, "ghost-of-christmas", b"x".to_vec(), None).await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let forged = upload_export(&admin, "wordpress", b"x".to_vec(), Some("forged".into())).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let editor = app.signed_in("ed", Role::Editor).await;
    let refused = upload_export(
        &editor,
        "wordpress",
        b"x".to_vec(),
        Some(editor.csrf_token("/admin").await),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(count(&app, "SELECT count(*) FROM imports").await, 1);
}

#[tokio::test]
async fn a_ghost_export_moves_in_with_its_addresses() {
    let app = spawn_app().await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghost/v4_export.json");
    let format = quire::import::open("ghost", &file, None).expect("opens");
    let report = import(&app, format, false).await.expect("imports");
    assert_eq!(counts(&report, "posts").created, 1, "{report:#?}");
    assert_eq!(counts(&report, "pages").created, 2);
    let page = app.page("/posts/sell", StatusCode::OK).await;
    assert!(page.contains("Getting Started"), "its tag");
    assert!(app.page("/about", StatusCode::OK).await.contains("About"));
    // Ghost's addresses (`/{slug}/`) lead to the new ones.
    let response = app.get("/sell/").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok()),
        Some("/posts/sell")
    );
    let response = app.get("/tag/getting-started/").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    // Twice: nothing new.
    let format = quire::import::open("ghost", &file, None).expect("opens");
    let again = import(&app, format, false).await.expect("imports again");
    assert_eq!(counts(&again, "posts").unchanged, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM posts").await, 3);
}

/// Between Quires: a blog exported, imported into an empty site and exported again holds
/// the same content; importing the archive again changes nothing.
mod between_quires {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use quire::{
        accounts::model::Role,
        import::{quire::QuireArchive, write},
    };
    use serde_json::{Value, json};

    use crate::{
        export::{a_blog, entries, export_zip, lines, text},
        harness::{PostSpec, TestApp, spawn_app},
    };

    /// What an archive says of the blog, without the ids that link its records (they are the
    /// database's own): posts by slug with their tags' names and author's username, comments by
    /// post and author, tags, the uploads' names, and the accounts (roles aside: imported
    /// accounts are authors unless the importing admin chooses otherwise).
    fn content(bytes: &[u8]) -> Value {
        let entries = entries(bytes);
        let accounts: HashMap<i64, Value> = lines(text(&entries, "accounts.jsonl"))
            .into_iter()
            .map(|a| (a["id"].as_i64().unwrap(), a))
            .collect();
        let tags: HashMap<i64, Value> = lines(text(&entries, "tags.jsonl"))
            .into_iter()
            .map(|t| (t["id"].as_i64().unwrap(), t))
            .collect();
        let username = |id: &Value| accounts[&id.as_i64().unwrap()]["username"].clone();
        let mut slugs = HashMap::new();
        let posts: BTreeMap<String, Value> = lines(text(&entries, "posts.jsonl"))
            .into_iter()
            .map(|p| {
                slugs.insert(p["id"].as_i64().unwrap(), p["slug"].clone());
                let tag_names: Vec<Value> = p["tag_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| tags[&t.as_i64().unwrap()]["name"].clone())
                    .collect();
                let authors: Vec<Value> = p["author_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(username)
                    .collect();
                let mut p = p.clone();
                let fields = p.as_object_mut().unwrap();
                for id in ["id", "tag_ids", "author_ids", "created_at", "updated_at"] {
                    fields.remove(id);
                }
                fields.insert("tags".into(), tag_names.into());
                fields.insert("authors".into(), authors.into());
                (p["slug"].as_str().unwrap().to_owned(), p)
            })
            .collect();
        let bodies: HashMap<i64, Value> = lines(text(&entries, "comments.jsonl"))
            .into_iter()
            .map(|c| (c["id"].as_i64().unwrap(), c["body_markdown"].clone()))
            .collect();
        let comments: BTreeSet<String> = lines(text(&entries, "comments.jsonl"))
            .into_iter()
            .map(|c| {
                json!({
                    "post": slugs[&c["post_id"].as_i64().unwrap()],
                    "author": if c["author_id"].is_null() { c["guest"]["name"].clone() } else { username(&c["author_id"]) },
                    "parent": c["parent_id"].as_i64().map(|p| bodies[&p].clone()),
                    "body": c["body_markdown"],
                    "created_at": c["created_at"],
                    "approved": c["approved"],
                    "hidden": c["hidden"],
                })
                .to_string()
            })
            .collect();
        let tags: BTreeSet<String> = tags
            .values()
            .map(|t| json!([t["slug"], t["name"], t["description"]]).to_string())
            .collect();
        let uploads: BTreeSet<String> = lines(text(&entries, "uploads.jsonl"))
            .into_iter()
            .map(|u| json!([u["file_name"], u["content_type"], u["bytes"]]).to_string())
            .collect();
        let redirects: BTreeSet<String> = lines(text(&entries, "redirects.jsonl"))
            .into_iter()
            .map(|r| r.to_string())
            .collect();
        let accounts: BTreeMap<String, Value> = accounts
            .values()
            .map(|a| {
                (
                    a["username"].as_str().unwrap().to_owned(),
                    json!([a["email"], a["display_name"], a["bio"]]),
                )
            })
            .collect();
        json!({
            "posts": posts,
            "comments": comments,
            "tags": tags,
            "uploads": uploads,
            "redirects": redirects,
            "accounts": accounts,
        })
    }

    async fn import_archive(
        app: &TestApp,
        importer: quire::accounts::model::UserId,
        archive: &std::path::Path,
    ) -> write::Report {
        let opts = write::Options::new(&app.settings, importer, false);
        write::run(
            &app.db,
            Box::new(QuireArchive::new(archive)),
            &opts,
            &|_, _| {},
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn an_exported_blog_imported_into_an_empty_site_exports_the_same() {
        let old = spawn_app().await;
        a_blog(&old).await;
        // A post with the uploaded image as its cover and in its text, so the image travels.
        let image: String = sqlx::query_scalar("SELECT file_name FROM uploads")
            .fetch_one(&old.db)
            .await
            .unwrap();
        let ann = old.author("pictures").await;
        let body = format!("A dot: ![dot](/uploads/{image})");
        let cover = format!("/uploads/{image}");
        old.post(
            ann,
            PostSpec {
                title: "Pictured",
                body: &body,
                cover: Some(&cover),
                tags: &["Photos"],
                ..Default::default()
            },
        )
        .await;
        let (first, _) = export_zip(&old).await;
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("old.zip");
        std::fs::write(&archive, &first).unwrap();

        let new = spawn_app().await;
        let importer = new.user("importer", Role::Admin).await;
        let report = import_archive(&new, importer, &archive).await;
        assert_eq!(report.site.format, "quire");
        let (second, _) = export_zip(&new).await;

        let (before, mut after) = (content(&first), content(&second));
        // The importing admin is the new site's own.
        after["accounts"]
            .as_object_mut()
            .unwrap()
            .remove("importer");
        for part in [
            "posts",
            "comments",
            "tags",
            "uploads",
            "redirects",
            "accounts",
        ] {
            assert_eq!(
                before[part], after[part],
                "{part} differ after the round trip\nbefore: {:#}\nafter: {:#}",
                before[part], after[part]
            );
        }

        // The same archive again: nothing created, nothing changed.
        let again = import_archive(&new, importer, &archive).await;
        for (kind, counts) in &again.counts {
            assert_eq!(
                (counts.created, counts.updated),
                (0, 0),
                "{kind} on the second import: {:?}",
                again.summary()
            );
        }
        let (third, _) = export_zip(&new).await;
        assert_eq!(content(&third), content(&second));

        // And from the command line, a dry run of the same.
        let out = new
            .quire_command()
            .args(["import", "--dry-run", "quire"])
            .arg(&archive)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("checked "), "{stdout}");
        assert!(stdout.contains("(quire)"), "{stdout}");
    }
}
