//! What the editor's script asks of the server: the live preview and autosave, with their
//! version checks. (The script itself is driven in Chromium by tests/e2e/editor-flow.mjs.)

use std::time::{Duration, Instant};

use quire::accounts::model::Role;
use reqwest::StatusCode;
use serde_json::Value;

use crate::admin::{open_editor as opened, write};
use crate::harness::{TestApp, spawn_app, spawn_app_with};

async fn post_form(browser: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser
        .client
        .post(browser.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Save post `id` by hand (the Save button), as a draft unless `status` says otherwise.
async fn save_by_hand(
    browser: &TestApp,
    id: i64,
    (token, version): (&str, &str),
    (title, body, status): (&str, &str, &str),
) -> reqwest::Response {
    post_form(
        browser,
        &format!("/admin/posts/{id}"),
        &[
            ("csrf_token", token),
            ("version", version),
            ("title", title),
            ("body", body),
            ("status", status),
            ("intent", "save"),
        ],
    )
    .await
}

async fn autosave(
    browser: &TestApp,
    id: i64,
    token: &str,
    version: &str,
    title: &str,
    body: &str,
) -> (StatusCode, Value) {
    let res = post_form(
        browser,
        &format!("/admin/posts/{id}/autosave"),
        &[
            ("csrf_token", token),
            ("version", version),
            ("title", title),
            ("body", body),
            // Autosave never changes a post's status, whatever the form says.
            ("status", "published"),
        ],
    )
    .await;
    let status = res.status();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "autosave answers JSON"
    );
    (status, res.json().await.unwrap())
}

async fn stored(app: &TestApp, id: i64) -> (String, String, i32) {
    sqlx::query_as("SELECT body_markdown, status::text, version FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_live_preview_is_the_readers_renderer_and_is_bounded() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let token = ann.csrf_token("/admin/posts/new").await;
    let body = "Some **bold** text.\n\n```rust\nfn main() {}\n```\n\n<script>alert(1)</script>";
    let res = post_form(
        &ann,
        "/admin/preview",
        &[("csrf_token", &token), ("body", body)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(
        html.contains("class=\"hl-"),
        "highlighted as readers get it: {html}"
    );
    assert!(!html.contains("<script"), "sanitized: {html}");

    // A whole post's worth (the limit) answers in bounded time; one byte more is refused.
    let max = app.settings.posts.max_body_bytes;
    let mut big = "word ".repeat(max / 5 + 1);
    big.truncate(max);
    let started = Instant::now();
    let res = post_form(
        &ann,
        "/admin/preview",
        &[("csrf_token", &token), ("body", &big)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    big.push('x');
    let res = post_form(
        &ann,
        "/admin/preview",
        &[("csrf_token", &token), ("body", &big)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("at most 1 MiB"),
        "{answer}"
    );
    // A forged token changes nothing and renders nothing.
    let res = post_form(
        &ann,
        "/admin/preview",
        &[("csrf_token", "forged"), ("body", "x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_drafts_autosave_saves_it_as_a_folded_autosave_revision() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = write(&ann, "Draft", "First words.", "draft").await;
    let (token, version) = opened(&ann, id).await;
    let (status, answer) = autosave(&ann, id, &token, &version, "Draft", "Second words.").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["saved"], "draft");
    let next = answer["version"].as_i64().unwrap();
    assert_eq!(next, version.parse::<i64>().unwrap() + 1);
    assert_eq!(
        stored(&app, id).await,
        ("Second words.".into(), "draft".into(), next as i32),
        "saved, and still a draft though the form said published"
    );
    // Typing on: the next autosave names the new version and replaces its own revision.
    let (status, answer) =
        autosave(&ann, id, &token, &next.to_string(), "Draft", "Third words.").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let kinds: Vec<(i32, bool)> = sqlx::query_as(
        "SELECT version, autosave FROM post_revisions WHERE post_id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [(1, false), (3, true)],
        "one autosave revision for the run"
    );
    let list = ann
        .page(&format!("/admin/posts/{id}/revisions"), StatusCode::OK)
        .await;
    assert!(list.text(".admin-table").contains("autosave"));
    // Reload: the text is there.
    let page = ann
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(page.text("textarea#body"), "Third words.");
    // An empty title can't be saved; the answer says why and nothing changes.
    let (status, answer) = autosave(&ann, id, &token, "3", "", "Lost?").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("Give the post a title")
    );
    assert_eq!(answer["fields"]["title"], "Give the post a title");
    assert_eq!(stored(&app, id).await.0, "Third words.");
}

#[tokio::test]
async fn autosave_racing_a_save_from_another_tab_overwrites_nothing_and_loses_nothing() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = write(&ann, "Race", "Start.", "draft").await;
    // Two tabs open the same version; the second saves by hand first.
    let (token, version) = opened(&ann, id).await;
    let res = save_by_hand(
        &ann,
        id,
        (&token, &version),
        ("Race", "Saved in tab two.", "draft"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, answer) = autosave(&ann, id, &token, &version, "Race", "Typed in tab one.").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["conflict"], true);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("Someone else saved")
    );
    assert_eq!(
        stored(&app, id).await.0,
        "Saved in tab two.",
        "not overwritten"
    );
    // Tab one's text is kept aside: reopening the editor offers it, and saving it from
    // there shows both versions before anything is replaced.
    let page = ann
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(page.text("textarea#body"), "Typed in tab one.");
    assert!(
        page.text(".kept-aside")
            .contains("Someone saved the post since")
    );
    let version = page.attr("input[name=version]", "value").unwrap();
    let res = save_by_hand(
        &ann,
        id,
        (&token, &version),
        ("Race", "Typed in tab one.", "draft"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(stored(&app, id).await.0, "Saved in tab two.");
}

#[tokio::test]
async fn a_published_posts_autosave_is_kept_aside_until_saved_or_discarded() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = write(&ann, "Live", "What readers see.", "published").await;
    let (token, version) = opened(&ann, id).await;
    let (status, answer) = autosave(&ann, id, &token, &version, "Live", "Work in progress.").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["saved"], "aside");
    assert_eq!(answer["version"].as_i64().unwrap().to_string(), version);
    assert_eq!(stored(&app, id).await.0, "What readers see.");
    let public = app.page("/posts/live", StatusCode::OK).await;
    assert_eq!(public.text(".prose p"), "What readers see.");
    // Another editor opening the post sees the post, not Ann's unsaved text.
    let eve = app.signed_in("eve", Role::Editor).await;
    let theirs = eve
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(theirs.text("textarea#body"), "What readers see.");
    // Ann gets her text back, and discarding it shows the post again.
    let page = ann
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(page.text("textarea#body"), "Work in progress.");
    assert!(page.text(".kept-aside").contains("kept by autosave"));
    let res = post_form(
        &ann,
        &format!("/admin/posts/{id}/autosave/discard"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = ann
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    assert_eq!(page.text("textarea#body"), "What readers see.");
    assert!(page.text(".kept-aside").is_empty());
    // Kept aside again, then saved: the post changes and nothing stays aside.
    autosave(&ann, id, &token, &version, "Live", "Finished text.").await;
    let res = save_by_hand(
        &ann,
        id,
        (&token, &version),
        ("Live", "Finished text.", "published"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored(&app, id).await.0, "Finished text.");
    let aside: i64 = sqlx::query_scalar("SELECT count(*) FROM post_autosaves")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(aside, 0);
}

#[tokio::test]
async fn a_new_posts_first_autosave_creates_a_draft_and_others_posts_are_off_limits() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let token = ann.csrf_token("/admin/posts/new").await;
    let res = post_form(
        &ann,
        "/admin/posts/autosave",
        &[
            ("csrf_token", &token),
            ("title", "Begun"),
            ("body", "A first line."),
            ("status", "published"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.unwrap();
    let id = answer["id"].as_i64().unwrap();
    assert_eq!(answer["edit_url"], format!("/admin/posts/{id}/edit"));
    assert_eq!(
        answer["autosave_url"],
        format!("/admin/posts/{id}/autosave")
    );
    assert_eq!(
        stored(&app, id).await,
        ("A first line.".into(), "draft".into(), 1)
    );
    // Bob, another author, can neither autosave into Ann's post nor discard for her.
    let bob = app.signed_in("bob", Role::Author).await;
    let bob_token = bob.csrf_token("/admin/posts/new").await;
    let status = post_form(
        &bob,
        &format!("/admin/posts/{id}/autosave"),
        &[
            ("csrf_token", &bob_token),
            ("version", "1"),
            ("title", "Mine"),
            ("body", "Bob was here."),
        ],
    )
    .await
    .status();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&app, id).await.0, "A first line.");
    // Over the body limit: refused with the reason, in JSON.
    let big = "x".repeat(app.settings.posts.max_body_bytes + 1);
    let res = post_form(
        &ann,
        "/admin/posts/autosave",
        &[("csrf_token", &token), ("title", "Big"), ("body", &big)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = res.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("Not autosaved"));
}

/// One author can't keep the render threads busy: previews, autosaves, saves and API
/// writes share one budget of render time per account, and past it each answers 429 with
/// the author's text kept, while another author still renders.
#[tokio::test]
async fn previews_autosaves_saves_and_api_writes_share_one_render_budget() {
    let app = spawn_app_with(|s| s.posts.render_ms_per_minute = 300).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let token = ann.csrf_token("/admin/posts/new").await;
    // Many small fenced blocks: slow to highlight and sanitize.
    let heavy = "```rust\nfn f() { let x = 1; }\n```\n\n".repeat(4000);
    let preview = |body: String| {
        let token = token.clone();
        let ann = &ann;
        async move {
            post_form(
                ann,
                "/admin/preview",
                &[("csrf_token", &token), ("body", &body)],
            )
            .await
        }
    };
    let mut spent = false;
    for _ in 0..40 {
        let res = preview(heavy.clone()).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
            let answer: Value = res.json().await.unwrap();
            assert!(
                answer["error"].as_str().unwrap().contains("text is kept"),
                "{answer}"
            );
            spent = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(spent, "heavy previews run out of render time");

    // The same budget holds autosave (which had no limit at all), the editor's save and the
    // API: each is refused without storing anything.
    let (id, slug) = anns_post(&app, "Budgeted", quire::posts::model::PostStatus::Draft).await;
    let (edit_token, version) = opened(&ann, id).await;
    let (status, answer) = autosave(&ann, id, &edit_token, &version, "Budgeted", "short").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    let res = post_form(
        &ann,
        "/admin/posts/autosave",
        &[("csrf_token", &token), ("title", "New"), ("body", "short")],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a new post's autosave"
    );
    let res = save_by_hand(
        &ann,
        id,
        (&edit_token, &version),
        ("Budgeted", "short", "draft"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text().await.unwrap().contains("short"),
        "the text is kept"
    );
    let (status, body) = crate::api::call(
        &app,
        reqwest::Method::POST,
        "/api/users/login",
        None,
        Some(serde_json::json!({"user": {"email": "ann@example.com", "password": crate::harness::PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let api_token = body["user"]["token"].as_str().unwrap().to_owned();
    let (status, body) = crate::api::call(
        &app,
        reqwest::Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&api_token),
        Some(serde_json::json!({"article": {"body": "short"}})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (_, _, stored_version) = stored(&app, id).await;
    assert_eq!(stored_version.to_string(), version, "nothing saved");

    // Another author is unaffected.
    let bob = app.signed_in("bob", Role::Author).await;
    let bob_token = bob.csrf_token("/admin/posts/new").await;
    let res = post_form(
        &bob,
        "/admin/preview",
        &[("csrf_token", &bob_token), ("body", "*hi*")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// Text kept aside by autosave is checked as a save would check it: a 300,000-character
/// title is refused, not stored.
#[tokio::test]
async fn an_autosave_kept_aside_is_held_to_the_fields_limits() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let (id, _) = anns_post(&app, "Live one", quire::posts::model::PostStatus::Published).await;
    let (token, version) = opened(&ann, id).await;
    let huge = "T".repeat(300_000);
    let (status, answer) = autosave(&ann, id, &token, &version, &huge, "Body").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["fields"]["title"].is_string(), "{answer}");
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM post_autosaves")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kept, 0, "nothing kept aside");
    // Within the limits it is kept aside as before.
    let (status, answer) = autosave(&ann, id, &token, &version, "Live one, edited", "Body").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["saved"], "aside");
}

/// A post by "ann" (signed in already) with `title` and `status`: its id and slug.
async fn anns_post(
    app: &TestApp,
    title: &str,
    status: quire::posts::model::PostStatus,
) -> (i64, String) {
    let ann: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let spec = crate::harness::PostSpec {
        title,
        status,
        ..Default::default()
    };
    let slug = app.post(quire::accounts::model::UserId(ann), spec).await;
    let id = sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    (id, slug)
}
