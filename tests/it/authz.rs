//! Every protected route against every role: the exact status each gets. The table is the
//! specification; a new protected route gets a row here.

use quire::accounts::model::Role;
use reqwest::{Method, StatusCode};

use crate::harness::{PostSpec, TestApp, spawn_app_with};

/// The app with GitHub login configured (never contacted: no flow here gets that far).
async fn spawn_app() -> TestApp {
    spawn_app_with(|s| {
        s.oauth.github.client_id = "authz-client".into();
        s.oauth.github.client_secret = "authz-secret".to_owned().into();
    })
    .await
}

/// Who asks: nobody, or a user of each role.
const WHO: [Option<Role>; 5] = [
    None,
    Some(Role::Reader),
    Some(Role::Author),
    Some(Role::Editor),
    Some(Role::Admin),
];

const SEE: u16 = 303; // anonymous visitors are sent to the login page
const OK: u16 = 200;
const NO: u16 = 403;
const DONE: u16 = 303; // a state change that worked redirects
const BAD: u16 = 422; // allowed, but the (empty) form is refused as invalid
const NOT_A_SOCKET: u16 = 400; // allowed, but a WebSocket address asked without the handshake
const HIDDEN: u16 = 404; // someone else's upload, to an author: not found, as if absent
const MOVED: u16 = 301;
const NOT_MULTIPART: u16 = 415; // allowed, but an upload form must be multipart

type Row = (
    Method,
    &'static str,
    Vec<(&'static str, &'static str)>,
    [u16; 5],
);

/// (method, path, form fields, expected status for anonymous, reader, author, editor, admin).
/// `{post}` is a live post by someone else, `{rev}` its first revision, `{trashed}` a deleted
/// one, `{user}` a reader account; each role gets fresh ones, so one row's change can't
/// affect the next.
pub(crate) fn table() -> Vec<Row> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        (get.clone(), "/admin", vec![], [SEE, NO, OK, OK, OK]),
        (get.clone(), "/admin/posts", vec![], [SEE, NO, OK, OK, OK]),
        (
            get.clone(),
            "/admin/posts/new",
            vec![],
            [SEE, NO, OK, OK, OK],
        ),
        (
            get.clone(),
            "/admin/posts/trash",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            get.clone(),
            "/admin/posts/{post}/edit",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        // The editor's live socket: a plain GET (no WebSocket upgrade) is 400 once allowed;
        // tests/it/live.rs does the handshakes.
        (
            get.clone(),
            "/ws/posts/{post}/editor",
            vec![],
            [SEE, NO, NO, NOT_A_SOCKET, NOT_A_SOCKET],
        ),
        (
            get.clone(),
            "/admin/posts/{post}/delete",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            get.clone(),
            "/admin/posts/{post}/revisions",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            get.clone(),
            "/admin/posts/{post}/revisions/{rev}",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (get.clone(), "/admin/users", vec![], [SEE, NO, NO, NO, OK]),
        (
            get.clone(),
            "/admin/settings",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            get.clone(),
            "/admin/comments",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            post.clone(),
            "/admin/comments/bulk",
            vec![("action", "hide")],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/comments/{comment}/approve",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/settings",
            vec![
                ("title", "Renamed"),
                ("posts_per_page", "10"),
                ("default_role", "reader"),
                ("comments", "on"),
                ("registrations_open", "on"),
                ("version", "1"),
            ],
            [SEE, NO, NO, NO, DONE],
        ),
        // Pages and the menus: editors write pages, admins edit the navigation.
        (get.clone(), "/admin/pages", vec![], [SEE, NO, NO, OK, OK]),
        (
            get.clone(),
            "/admin/pages/new",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            post.clone(),
            "/admin/posts",
            vec![("kind", "page"), ("title", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            post.clone(),
            "/admin/posts/autosave",
            vec![("kind", "page"), ("title", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            get.clone(),
            "/admin/navigation",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (get.clone(), "/admin/jobs", vec![], [SEE, NO, NO, NO, OK]),
        (
            get.clone(),
            "/admin/subscribers",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            get.clone(),
            "/admin/webhooks",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/webhooks",
            vec![],
            [SEE, NO, NO, NO, BAD],
        ),
        (
            get.clone(),
            "/admin/webhooks/{webhook}",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/webhooks/{webhook}/test",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/webhooks/{webhook}/delete",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            get.clone(),
            "/admin/redirects",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/redirects",
            vec![("from", "/x"), ("to", "//evil.example")],
            [SEE, NO, NO, NO, BAD],
        ),
        (
            get.clone(),
            "/admin/redirects/{redirect}/edit",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/redirects/{redirect}",
            vec![("from", "/x"), ("to", "//evil.example")],
            [SEE, NO, NO, NO, BAD],
        ),
        (
            get.clone(),
            "/admin/redirects/{redirect}/delete",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/redirects/{redirect}/delete",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (get.clone(), "/admin/import", vec![], [SEE, NO, NO, NO, OK]),
        (
            get.clone(),
            "/admin/import/{import}",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/import/{import}/run",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            get.clone(),
            "/admin/subscribers/export.csv",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (get.clone(), "/admin/export", vec![], [SEE, NO, NO, NO, OK]),
        (
            post.clone(),
            "/admin/export/archive",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/export/wxr",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/account/newsletter",
            vec![("subscribe", "off")],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/account/notifications",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            get.clone(),
            "/admin/jobs?state=failed",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/jobs/{job}/retry",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/jobs/{failed}/discard",
            vec![("state", "failed")],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/navigation",
            vec![("header.label", "X"), ("header.url", "javascript:x")],
            [SEE, NO, NO, NO, BAD],
        ),
        (get.clone(), "/admin/uploads", vec![], [MOVED; 5]),
        (get.clone(), "/admin/media", vec![], [SEE, NO, OK, OK, OK]),
        (
            get.clone(),
            "/admin/media?q=x&unused=1",
            vec![],
            [SEE, NO, OK, OK, OK],
        ),
        (
            post.clone(),
            "/admin/media",
            vec![],
            [SEE, NO, NOT_MULTIPART, NOT_MULTIPART, NOT_MULTIPART],
        ),
        (
            post.clone(),
            "/admin/uploads",
            vec![],
            [SEE, NO, NOT_MULTIPART, NOT_MULTIPART, NOT_MULTIPART],
        ),
        (
            post.clone(),
            "/admin/uploads/paste",
            vec![],
            [SEE, NO, NOT_MULTIPART, NOT_MULTIPART, NOT_MULTIPART],
        ),
        (
            get.clone(),
            "/admin/media.json",
            vec![],
            [SEE, NO, OK, OK, OK],
        ),
        (
            get.clone(),
            "/admin/media/{upload}",
            vec![],
            [SEE, NO, HIDDEN, OK, OK],
        ),
        (
            post.clone(),
            "/admin/media/{upload}",
            vec![("alt", "A described image")],
            [SEE, NO, HIDDEN, DONE, DONE],
        ),
        (
            get.clone(),
            "/admin/media/{upload}/delete",
            vec![],
            [SEE, NO, HIDDEN, OK, OK],
        ),
        (
            post.clone(),
            "/admin/media/{upload}/delete",
            vec![],
            [SEE, NO, HIDDEN, DONE, DONE],
        ),
        (get.clone(), "/account", vec![], [SEE, OK, OK, OK, OK]),
        (get.clone(), "/admin/tags", vec![], [SEE, NO, NO, OK, OK]),
        (
            get.clone(),
            "/admin/tags/{tag}/edit",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            post.clone(),
            "/admin/tags/{tag}",
            vec![("name", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            post.clone(),
            "/admin/tags/{tag}/merge",
            vec![("into", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            post.clone(),
            "/admin/tags",
            vec![("name", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            get.clone(),
            "/admin/tags/new",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            get.clone(),
            "/admin/tags/{tag}/merge",
            vec![],
            [SEE, NO, NO, BAD, BAD],
        ),
        (
            get.clone(),
            "/admin/tags/{tag}/delete",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            post.clone(),
            "/admin/tags/{tag}/delete",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/account/profile",
            vec![("display_name", "")],
            [SEE, BAD, BAD, BAD, BAD],
        ),
        (
            post.clone(),
            "/account/password",
            vec![],
            [SEE, BAD, BAD, BAD, BAD],
        ),
        (
            post.clone(),
            "/account/delete",
            vec![],
            [SEE, BAD, BAD, BAD, BAD],
        ),
        // Linking redirects to the provider; unlinking what isn't linked changes nothing.
        (
            post.clone(),
            "/account/connections/github",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/account/connections/github/unlink",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/posts",
            vec![("title", "")],
            [SEE, NO, BAD, BAD, BAD],
        ),
        (
            post.clone(),
            "/admin/posts",
            vec![("title", "Fresh {user}"), ("body", "x"), ("intent", "save")],
            [SEE, NO, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/posts/{post}",
            vec![("title", "")],
            [SEE, NO, NO, BAD, BAD],
        ),
        // The editor's script: live preview and autosave (JSON answers).
        (
            post.clone(),
            "/admin/preview",
            vec![("body", "**bold**")],
            [SEE, NO, OK, OK, OK],
        ),
        (
            post.clone(),
            "/admin/posts/autosave",
            vec![("title", "")],
            [SEE, NO, BAD, BAD, BAD],
        ),
        (
            post.clone(),
            "/admin/posts/{post}/autosave",
            vec![("title", "T"), ("version", "")],
            [SEE, NO, NO, 400, 400],
        ),
        (
            post.clone(),
            "/admin/posts/{post}/autosave/discard",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/posts/{post}/delete",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/posts/{trashed}/restore",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/posts/{post}/revisions/{rev}/restore",
            vec![],
            [SEE, NO, NO, DONE, DONE],
        ),
        (
            post.clone(),
            "/admin/users/{user}/role",
            vec![("role", "author")],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/users/{user}/disable",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/users/{user}/enable",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            post.clone(),
            "/admin/users/{user}/reset-link",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        // Issue 27, items 7 and 8: the list in bulk (an author's try on someone else's
        // post is skipped and said, still a redirect), the demo's removal, and the
        // confirmation step of each destructive action (a GET that changes nothing).
        (
            post.clone(),
            "/admin/posts/bulk",
            vec![("action", "feature"), ("id", "{post}")],
            [SEE, NO, DONE, DONE, DONE],
        ),
        (
            get.clone(),
            "/admin/demo/remove",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            post.clone(),
            "/admin/demo/remove",
            vec![],
            [SEE, NO, NO, NO, DONE],
        ),
        (
            get.clone(),
            "/comments/{comment}/delete",
            vec![],
            [SEE, NO, NO, OK, OK],
        ),
        (
            get.clone(),
            "/admin/jobs/{failed}/discard",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            get.clone(),
            "/admin/webhooks/{webhook}/delete",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        (
            get.clone(),
            "/admin/users/{user}/disable",
            vec![],
            [SEE, NO, NO, NO, OK],
        ),
        // Favourites and follows: any signed-in reader.
        (get.clone(), "/following", vec![], [SEE, OK, OK, OK, OK]),
        (
            post.clone(),
            "/posts/{slug}/favorite",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/posts/{slug}/unfavorite",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/authors/{username}/follow",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
        (
            post.clone(),
            "/authors/{username}/unfollow",
            vec![],
            [SEE, DONE, DONE, DONE, DONE],
        ),
    ]
}

struct Fixture {
    post: i64,
    tag: i64,
    slug: String,
    comment: i64,
    rev: i64,
    trashed: i64,
    user: i64,
    username: String,
    /// Two failed jobs: one to retry, one to discard.
    job: i64,
    failed: i64,
    webhook: i64,
    redirect: i64,
    import: i64,
    /// An image the owner uploaded.
    upload: i64,
}

async fn fixture(app: &TestApp, owner: quire::accounts::model::UserId, n: usize) -> Fixture {
    let live = app
        .post(
            owner,
            PostSpec {
                title: &format!("Live {n}"),
                ..Default::default()
            },
        )
        .await;
    let gone = app
        .post(
            owner,
            PostSpec {
                title: &format!("Gone {n}"),
                ..Default::default()
            },
        )
        .await;
    sqlx::query("UPDATE posts SET deleted_at = now() WHERE slug = $1")
        .bind(&gone)
        .execute(&app.db)
        .await
        .unwrap();
    let id = |slug: String| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM posts WHERE slug = $1")
                .bind(slug)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let slug = live.clone();
    let post = id(live).await;
    let rev = sqlx::query_scalar("SELECT id FROM post_revisions WHERE post_id = $1")
        .bind(post)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let target = app.user(&format!("target{n}"), Role::Reader).await;
    let comment = sqlx::query_scalar(
        "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
         VALUES ($1, $2, 'hi', '<p>hi</p>') RETURNING id",
    )
    .bind(post)
    .bind(target)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let tag = sqlx::query_scalar("INSERT INTO tags (slug, name) VALUES ($1, $1) RETURNING id")
        .bind(format!("tag-{n}"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    let failed_job = || {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO jobs (kind, state, attempts, finished_at, last_error)
             VALUES ('noop', 'failed', 10, now(), 'for the table') RETURNING id",
        )
        .fetch_one(&app.db)
    };
    let job = failed_job().await.unwrap();
    let failed = failed_job().await.unwrap();
    let webhook = sqlx::query_scalar::<_, i64>(
        "INSERT INTO webhooks (url, events, secret)
         VALUES ('https://hooks.example.invalid/x', '{post.published}', repeat('s', 40))
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let redirect = sqlx::query_scalar::<_, i64>(
        "INSERT INTO redirects (from_path, to_url) VALUES ($1, '/') RETURNING id",
    )
    .bind(format!("/old-{n}"))
    .fetch_one(&app.db)
    .await
    .unwrap();
    let import = sqlx::query_scalar::<_, i64>(
        "INSERT INTO imports (format, file_name, state) VALUES ('wordpress', 'x.xml', 'checked')
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let upload = sqlx::query_scalar::<_, i64>(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id, width, height)
         VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex') || '.png', 'image/png', 68, $2, 1, 1)
         RETURNING id",
    )
    .bind(format!("authz-{n}"))
    .bind(owner)
    .fetch_one(&app.db)
    .await
    .unwrap();
    Fixture {
        upload,
        redirect,
        import,
        job,
        failed,
        webhook,
        post,
        tag,
        slug,
        comment,
        rev,
        trashed: id(gone).await,
        user: target.0,
        username: format!("target{n}"),
    }
}

fn fill(path: &str, f: &Fixture) -> String {
    path.replace("{post}", &f.post.to_string())
        .replace("{tag}", &f.tag.to_string())
        .replace("{slug}", &f.slug)
        .replace("{comment}", &f.comment.to_string())
        .replace("{rev}", &f.rev.to_string())
        .replace("{trashed}", &f.trashed.to_string())
        .replace("{username}", &f.username)
        .replace("{user}", &f.user.to_string())
        .replace("{job}", &f.job.to_string())
        .replace("{failed}", &f.failed.to_string())
        .replace("{webhook}", &f.webhook.to_string())
        .replace("{redirect}", &f.redirect.to_string())
        .replace("{import}", &f.import.to_string())
        .replace("{upload}", &f.upload.to_string())
}

/// The CSRF token of this browser's session (from the header's log-out form, or the login
/// form for anonymous visitors).
async fn token(browser: &TestApp, signed_in: bool) -> String {
    browser
        .csrf_token(if signed_in { "/" } else { "/login" })
        .await
}

#[tokio::test]
async fn every_protected_route_answers_each_role_exactly() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let mut browsers = Vec::new();
    for (i, who) in WHO.iter().enumerate() {
        let browser = match who {
            None => TestApp::sharing(&app),
            Some(role) => app.signed_in(&format!("as{i}"), *role).await,
        };
        let csrf = token(&browser, who.is_some()).await;
        browsers.push((browser, csrf));
    }
    let mut failures = Vec::new();
    let mut n = 0;
    for (method, path, fields, expected) in table() {
        for (i, (browser, csrf)) in browsers.iter().enumerate() {
            n += 1;
            let f = fixture(&app, owner, n).await;
            let url = browser.url(&fill(path, &f));
            let req = browser.client.request(method.clone(), &url);
            let res = if method == Method::POST {
                let mut form = vec![("csrf_token", csrf.clone())];
                form.extend(fields.iter().map(|(k, v)| (*k, fill(v, &f))));
                req.form(&form).send().await.unwrap()
            } else {
                req.send().await.unwrap()
            };
            let got = res.status().as_u16();
            if got != expected[i] {
                failures.push(format!(
                    "{method} {path} as {:?}: expected {}, got {got}",
                    WHO[i], expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_state_change_without_the_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let f = fixture(&app, owner, 1).await;
    let before: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM posts WHERE deleted_at IS NULL),
                (SELECT count(*) FROM post_revisions),
                (SELECT count(*) FROM users WHERE role = 'reader' AND disabled_at IS NULL)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    // Uploads are multipart, their token inside the body: tests/it/uploads.rs forges those.
    let multipart = |r: &Row| r.3[2] == NOT_MULTIPART;
    for (method, path, fields, _) in table()
        .into_iter()
        .filter(|r| r.0 == Method::POST && !multipart(r))
    {
        let url = admin.url(&fill(path, &f));
        for token in [None, Some("forged-token")] {
            let mut form: Vec<(&str, &str)> = fields.clone();
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let res = admin
                .client
                .request(method.clone(), &url)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    let after: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM posts WHERE deleted_at IS NULL),
                (SELECT count(*) FROM post_revisions),
                (SELECT count(*) FROM users WHERE role = 'reader' AND disabled_at IS NULL)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(before, after);
}

/// The upload API (`/api/uploads`, token auth) against every role: anonymous callers get
/// 401, readers 403; authors upload and see their own uploads, editors and admins all.
#[tokio::test]
async fn every_upload_api_route_answers_each_role_exactly() {
    use serde_json::json;
    let app = spawn_app_with(|s| s.accounts.default_role = Role::Author).await;
    let owner = app.author("owner").await;
    let theirs = format!("{}.png", "f".repeat(64));
    quire::media::repo::insert(
        &app.db,
        &quire::media::repo::NewUpload {
            file_name: &theirs,
            content_type: "image/png",
            bytes: 70,
            uploader: owner,
            original_name: "theirs.png",
            width: 1,
            height: 1,
        },
    )
    .await
    .unwrap();
    let mut tokens = vec![None];
    for role in &WHO[1..] {
        let name = format!("api{}", tokens.len());
        let token = crate::api::register(&app, &name).await;
        sqlx::query("UPDATE users SET role = $1 WHERE username = $2")
            .bind(*role)
            .bind(&name)
            .execute(&app.db)
            .await
            .unwrap();
        tokens.push(Some(token));
    }
    const CREATED: u16 = 201;
    const NOT_FOUND: u16 = 404;
    const NO_TOKEN: u16 = 401;
    let rows: Vec<(Method, String, Option<serde_json::Value>, [u16; 5])> = vec![
        (
            Method::POST,
            "/api/uploads".into(),
            None,
            [NO_TOKEN, NO, CREATED, CREATED, CREATED],
        ),
        // Local storage: allowed, and refused as needing S3.
        (
            Method::POST,
            "/api/uploads/presign".into(),
            Some(json!({"fileName": "a.png", "contentType": "image/png", "size": 70})),
            [NO_TOKEN, NO, BAD, BAD, BAD],
        ),
        (
            Method::POST,
            "/api/uploads/confirm".into(),
            Some(json!({"key": "incoming/none"})),
            [NO_TOKEN, NO, NOT_FOUND, NOT_FOUND, NOT_FOUND],
        ),
        (
            Method::GET,
            format!("/api/uploads/{theirs}"),
            None,
            [NO_TOKEN, NO, NO, OK, OK],
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, expected) in rows {
        for (i, token) in tokens.iter().enumerate() {
            let mut req = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                req = req.header("Authorization", format!("Token {token}"));
            }
            req = match &body {
                Some(body) => req.json(body),
                None if method == Method::POST => req.multipart(
                    reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(crate::uploads::PNG.to_vec())
                            .file_name("dot.png"),
                    ),
                ),
                None => req,
            };
            let got = req.send().await.unwrap().status().as_u16();
            if got != expected[i] {
                failures.push(format!(
                    "{method} {path} as {:?}: expected {}, got {got}",
                    WHO[i], expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every GraphQL mutation against every role, with the API's token (none: `UNAUTHENTICATED`),
/// by the same table of rights as the site and the API. `{post}` is a live post by someone
/// else and `{comment}` its author's comment on it, fresh for each role.
#[tokio::test]
async fn every_graphql_mutation_answers_each_role_exactly() {
    use crate::graphql::{code, gql};
    let app = spawn_app_with(|s| s.accounts.default_role = Role::Reader).await;
    let owner = app.author("owner").await;
    let mut tokens = vec![None];
    for role in &WHO[1..] {
        let name = format!("gql{}", tokens.len());
        tokens.push(Some(
            crate::graphql::token_of(&app, &name, role.unwrap_or(Role::Reader)).await,
        ));
    }
    const AUTH: &str = "UNAUTHENTICATED";
    const FORBID: &str = "FORBIDDEN";
    const FINE: &str = "OK";
    let rows: Vec<(&str, [&str; 5])> = vec![
        (
            "createPost(input: {title: \"New\", body: \"Words\"}) { slug }",
            [AUTH, FORBID, FINE, FINE, FINE],
        ),
        (
            "updatePost(slug: \"{post}\", input: {title: \"Changed\"}) { title }",
            [AUTH, FORBID, FORBID, FINE, FINE],
        ),
        (
            "publishPost(slug: \"{post}\") { status }",
            [AUTH, FORBID, FORBID, FINE, FINE],
        ),
        (
            "unpublishPost(slug: \"{post}\") { status }",
            [AUTH, FORBID, FORBID, FINE, FINE],
        ),
        (
            "deletePost(slug: \"{post}\")",
            [AUTH, FORBID, FORBID, FINE, FINE],
        ),
        (
            "addComment(postSlug: \"{post}\", body: \"Hello\") { id }",
            [AUTH, FINE, FINE, FINE, FINE],
        ),
        // Nobody changes someone else's words, an admin included.
        (
            "editComment(id: \"{comment}\", body: \"Mine now\") { id }",
            [AUTH, FORBID, FORBID, FORBID, FORBID],
        ),
        (
            "deleteComment(id: \"{comment}\")",
            [AUTH, FORBID, FORBID, FINE, FINE],
        ),
        (
            "favoritePost(slug: \"{post}\") { favoritesCount }",
            [AUTH, FINE, FINE, FINE, FINE],
        ),
        (
            "unfavoritePost(slug: \"{post}\") { favoritesCount }",
            [AUTH, FINE, FINE, FINE, FINE],
        ),
        (
            "followAuthor(username: \"owner\") { username }",
            [AUTH, FINE, FINE, FINE, FINE],
        ),
        (
            "unfollowAuthor(username: \"owner\") { username }",
            [AUTH, FINE, FINE, FINE, FINE],
        ),
    ];
    let mut failures = Vec::new();
    for (n, (mutation, expected)) in rows.iter().enumerate() {
        for (i, token) in tokens.iter().enumerate() {
            let title = format!("Theirs {n} {i}");
            let slug = app
                .post(
                    owner,
                    PostSpec {
                        title: &title,
                        ..Default::default()
                    },
                )
                .await;
            let post: quire::posts::model::PostId =
                sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
                    .bind(&slug)
                    .fetch_one(&app.db)
                    .await
                    .unwrap();
            let html = quire::render::markdown::render_comment("Their words");
            let comment =
                quire::comments::repo::insert(&app.db, post, owner, "Their words", &html, false)
                    .await
                    .unwrap();
            let query = format!(
                "mutation {{ {} }}",
                mutation
                    .replace("{post}", &slug)
                    .replace("{comment}", &comment.to_string())
            );
            let (_, body) = gql(&app, token.as_deref(), &query, serde_json::json!({})).await;
            let got = code(&body);
            if got != expected[i] {
                failures.push(format!(
                    "{mutation} as {:?}: expected {}, got {got}: {body}",
                    WHO[i], expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
