//! The authoring admin: writing, publishing, conflicts, revisions, the trash.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{TestApp, spawn_app};

pub fn editor_fields<'a>(
    title: &'a str,
    body: &'a str,
    status: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("body", body),
        ("status", status),
        ("tags", "Rust, New Tag"),
        ("intent", "save"),
    ]
}

/// Create a post through the editor; returns its id.
pub async fn write(browser: &TestApp, title: &str, body: &str, status: &str) -> i64 {
    let res = browser
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &editor_fields(title, body, status),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    location
        .trim_start_matches("/admin/posts/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The editor's hidden fields and text for post `id`, ready to submit again.
pub async fn open_editor(browser: &TestApp, id: i64) -> (String, String) {
    let page = browser
        .page(&format!("/admin/posts/{id}/edit"), StatusCode::OK)
        .await;
    (
        page.attr("input[name=csrf_token]", "value").unwrap(),
        page.attr("input[name=version]", "value").unwrap(),
    )
}

async fn save(
    browser: &TestApp,
    id: i64,
    token: &str,
    version: &str,
    title: &str,
    body: &str,
) -> reqwest::Response {
    submit_edit(browser, id, token, version, "published", title, body).await
}

/// Open post `id` in the editor and save it with `status`, `title` and `body`.
pub async fn save_as(
    browser: &TestApp,
    id: i64,
    status: &str,
    title: &str,
    body: &str,
) -> reqwest::Response {
    let (token, version) = open_editor(browser, id).await;
    submit_edit(browser, id, &token, &version, status, title, body).await
}

async fn submit_edit(
    browser: &TestApp,
    id: i64,
    token: &str,
    version: &str,
    status: &str,
    title: &str,
    body: &str,
) -> reqwest::Response {
    let mut form = editor_fields(title, body, status);
    form.push(("csrf_token", token));
    form.push(("version", version));
    browser
        .client
        .post(browser.url(&format!("/admin/posts/{id}")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_author_writes_previews_and_publishes_a_post() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    // Preview renders the same Markdown readers get, and saves nothing.
    let mut preview = editor_fields("Hello", "# Big\n\n<script>x</script>\n\n*hi*", "draft");
    preview.retain(|(k, _)| *k != "intent");
    preview.push(("intent", "preview"));
    let res = author
        .submit("/admin/posts/new", "/admin/posts", &preview)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("<h1>Big</h1>")
            && body.contains("<em>hi</em>")
            && !body.contains("<script>x")
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let id = write(&author, "Hello World", "First *post*.", "draft").await;
    app.page("/posts/hello-world", StatusCode::NOT_FOUND).await;
    let (token, version) = open_editor(&author, id).await;
    // "Publish now" saves with the status set to published, whatever the radio said.
    let mut form = editor_fields("Hello World", "First *post*, published.", "draft");
    form.retain(|(k, _)| *k != "intent");
    form.extend([
        ("intent", "publish"),
        ("csrf_token", token.as_str()),
        ("version", version.as_str()),
    ]);
    let res = author
        .client
        .post(author.url(&format!("/admin/posts/{id}")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/posts/hello-world", StatusCode::OK).await;
    assert_eq!(page.text(".prose p"), "First post, published.");
    assert_eq!(page.texts(".post-header .tags a"), vec!["Rust", "New Tag"]);
}

#[tokio::test]
async fn a_scheduled_post_waits_for_its_time() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    let mut form = editor_fields("Later", "Soon.", "scheduled");
    form.push(("publish_at", "2999-01-01T09:30"));
    let res = author
        .submit("/admin/posts/new", "/admin/posts", &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.page("/posts/later", StatusCode::NOT_FOUND).await;
    let list = author
        .page("/admin/posts?status=scheduled", StatusCode::OK)
        .await;
    assert_eq!(list.texts(".admin-table tbody td a"), vec!["Later"]);
    // A time in the past is refused with a reason, and the text is kept.
    let mut past = editor_fields("Past", "Kept text.", "scheduled");
    past.push(("publish_at", "2001-01-01T09:30"));
    let res = author
        .submit("/admin/posts/new", "/admin/posts", &past)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("in the future") && body.contains("Kept text."));
}

#[tokio::test]
async fn authors_edit_only_their_own_posts_and_editors_edit_all() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let bob = app.signed_in("bob", Role::Author).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let id = write(&ann, "Ann's Post", "Mine.", "published").await;
    assert_eq!(
        bob.get(&format!("/admin/posts/{id}/edit")).await.status(),
        StatusCode::FORBIDDEN
    );
    let (token, _) = open_editor(&ann, id).await;
    let _ = token;
    let bob_token = bob.csrf_token("/admin/posts/new").await;
    let res = save(&bob, id, &bob_token, "1", "Hijacked", "Not mine.").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (token, version) = open_editor(&eve, id).await;
    let res = save(
        &eve,
        id,
        &token,
        &version,
        "Ann's Post",
        "Edited by the editor.",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Bob's list holds only his posts; the editor's holds everyone's.
    write(&bob, "Bob's Post", "His.", "draft").await;
    assert_eq!(
        bob.page("/admin/posts", StatusCode::OK)
            .await
            .texts(".admin-table tbody td a"),
        vec!["Bob's Post"]
    );
    assert_eq!(
        eve.page("/admin/posts", StatusCode::OK)
            .await
            .texts(".admin-table tbody td a")
            .len(),
        2
    );
}

#[tokio::test]
async fn readers_and_strangers_stay_out_of_the_admin() {
    let app = spawn_app().await;
    let res = app.get("/admin/posts").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=%2Fadmin%2Fposts");
    // (A site nobody has claimed sends everyone to /setup instead: tests/it/accounts.rs.)
    app.user("owner", Role::Admin).await;
    let reader = app.signed_in("rita", Role::Reader).await;
    assert_eq!(reader.get("/admin").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        reader.get("/admin/posts/new").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_stale_save_is_refused_with_the_other_change_shown_and_nothing_lost() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let id = write(&ann, "Shared", "Line one.\nLine two.\n", "draft").await;
    let (ann_token, ann_version) = open_editor(&ann, id).await;
    let (eve_token, eve_version) = open_editor(&eve, id).await;
    let first = save(
        &eve,
        id,
        &eve_token,
        &eve_version,
        "Shared",
        "Line one.\nEve's line.\n",
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = save(
        &ann,
        id,
        &ann_token,
        &ann_version,
        "Shared",
        "Line one.\nAnn's line.\n",
    )
    .await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body = second.text().await.unwrap();
    assert!(
        body.contains("Someone else saved this post"),
        "a clear message"
    );
    assert!(
        body.contains("Ann&#39;s line.") || body.contains("Ann's line."),
        "her text is kept in the form"
    );
    assert!(
        body.contains("Eve&#39;s line.") || body.contains("Eve's line."),
        "the other change is shown"
    );
    let stored: String = sqlx::query_scalar("SELECT body_markdown FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        stored, "Line one.\nEve's line.\n",
        "nothing was overwritten"
    );
    // Saving again from the conflict page is a deliberate replace, and works.
    let page = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("input[name=version]").unwrap();
    let version = page
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let again = save(
        &ann,
        id,
        &ann_token,
        &version,
        "Shared",
        "Line one.\nAnn's line.\n",
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_save_keeps_a_revision_that_can_be_compared_and_restored() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = write(&ann, "Versions", "First text.\n", "published").await;
    let (token, version) = open_editor(&ann, id).await;
    save(&ann, id, &token, &version, "Versions", "Second text.\n").await;
    let list = ann
        .page(&format!("/admin/posts/{id}/revisions"), StatusCode::OK)
        .await;
    let links = list.attrs(".admin-table tbody a", "href");
    assert_eq!(links.len(), 2);
    let first = links.last().unwrap().clone();
    let rev = ann.page(&first, StatusCode::OK).await;
    assert!(rev.text("pre.diff .del").contains("First text."));
    assert!(rev.text("pre.diff .ins").contains("Second text."));
    let restore = format!("{first}/restore");
    let res = ann.submit(&first, &restore, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/posts/versions", StatusCode::OK).await;
    assert_eq!(page.text(".prose p"), "First text.");
    let revisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM post_revisions WHERE post_id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(revisions, 3, "the restore is itself a revision");
}

#[tokio::test]
async fn deleted_posts_go_to_the_trash_and_editors_restore_them() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let id = write(&ann, "Doomed", "Bye.", "published").await;
    let confirm = format!("/admin/posts/{id}/delete");
    assert_eq!(ann.get(&confirm).await.status(), StatusCode::OK);
    let res = ann.submit(&confirm, &confirm, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.page("/posts/doomed", StatusCode::NOT_FOUND).await;
    assert_eq!(
        ann.get("/admin/posts/trash").await.status(),
        StatusCode::FORBIDDEN
    );
    let trash = eve.page("/admin/posts/trash", StatusCode::OK).await;
    assert_eq!(
        trash.texts(".admin-table tbody td:first-child"),
        vec!["Doomed"]
    );
    // Labelled by what it was before it was deleted.
    assert_eq!(trash.texts(".admin-table tbody .state"), ["Was published"]);
    let res = eve
        .submit(
            "/admin/posts/trash",
            &format!("/admin/posts/{id}/restore"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.page("/posts/doomed", StatusCode::OK).await;
}

#[tokio::test]
async fn a_taken_slug_and_empty_title_get_clear_messages() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    write(&ann, "Same Title", "One.", "draft").await;
    let res = ann
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &editor_fields("Same Title", "Two.", "draft"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("That slug is taken"));
    let res = ann
        .submit(
            "/admin/posts/new",
            "/admin/posts",
            &editor_fields("  ", "Body kept.", "draft"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("Give the post a title") && body.contains("Body kept."));
}

#[tokio::test]
async fn admins_change_roles_and_disable_accounts_but_never_the_last_admin() {
    let app = spawn_app().await;
    let boss = app.signed_in("boss", Role::Admin).await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let rita_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'rita'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let boss_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'boss'")
        .fetch_one(&app.db)
        .await
        .unwrap();

    let list = boss.page("/admin/users?q=rit", StatusCode::OK).await;
    assert_eq!(list.texts(".admin-table tbody tr").len(), 1);

    let res = boss
        .submit(
            "/admin/users",
            &format!("/admin/users/{rita_id}/role"),
            &[("role", "author")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        rita.get("/admin").await.status(),
        StatusCode::OK,
        "the new role counts at once"
    );

    let res = boss
        .submit(
            "/admin/users",
            &format!("/admin/users/{rita_id}/disable"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        rita.viewer_name().await,
        None,
        "a disabled user's session ends at once"
    );

    // The only admin can't demote or disable themselves.
    for (path, fields) in [
        (
            format!("/admin/users/{boss_id}/role"),
            vec![("role", "editor")],
        ),
        (format!("/admin/users/{boss_id}/disable"), vec![]),
    ] {
        let res = boss.submit("/admin/users", &path, &fields).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        assert!(res.text().await.unwrap().contains("last active admin"));
    }
    assert_eq!(crate::accounts_role(&app, "boss").await, "admin");
    // With a second admin, the first may step down.
    let res = boss
        .submit(
            "/admin/users",
            &format!("/admin/users/{rita_id}/enable"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // An unknown role is a 400, not a 500.
    let res = boss
        .submit(
            "/",
            &format!("/admin/users/{rita_id}/role"),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    boss.submit(
        "/admin/users",
        &format!("/admin/users/{rita_id}/role"),
        &[("role", "admin")],
    )
    .await;
    let res = boss
        .submit(
            "/admin/users",
            &format!("/admin/users/{boss_id}/role"),
            &[("role", "editor")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// Featured posts: ticked in the editor, shown first (once) and marked on the home page,
/// listed by the admin's "featured" filter; an API update keeps the mark; unticking ends it.
#[tokio::test]
async fn featured_posts_lead_the_home_page() {
    let app = spawn_app().await;
    let author = app.signed_in("ann", Role::Author).await;
    let old = write(&author, "An older favourite", "Still good", "published").await;
    sqlx::query("UPDATE posts SET published_at = now() - interval '3 days' WHERE id = $1")
        .bind(old)
        .execute(&app.db)
        .await
        .unwrap();
    write(&author, "Yesterday's news", "Fresh", "published").await;
    // Tick "featured" on the older post.
    let (token, version) = open_editor(&author, old).await;
    let mut form = editor_fields("An older favourite", "Still good", "published");
    form.extend([
        ("csrf_token", token.as_str()),
        ("version", version.as_str()),
        ("featured", "on"),
    ]);
    let res = author
        .client
        .post(author.url(&format!("/admin/posts/{old}")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let edit = author
        .page(&format!("/admin/posts/{old}/edit"), StatusCode::OK)
        .await;
    assert!(edit.attr("input[name=featured]", "checked").is_some());

    let home = app.page("/", StatusCode::OK).await;
    let titles = home.texts(".card-title");
    assert_eq!(
        titles,
        ["An older favourite", "Yesterday's news"],
        "first, and once"
    );
    assert_eq!(home.text(".featured .badge"), "Featured");
    assert_eq!(home.texts(".is-featured").len(), 1);

    let list = author
        .page("/admin/posts?status=featured", StatusCode::OK)
        .await;
    assert!(list.contains("An older favourite") && !list.contains("Yesterday's news"));
    assert_eq!(
        author.get("/admin/posts?status=famous").await.status(),
        StatusCode::BAD_REQUEST
    );

    // An API update leaves the mark alone.
    let token = quire::api::jwt::Tokens::new(&app.settings.api, {
        use secrecy::ExposeSecret;
        app.settings.session.secret.expose_secret()
    })
    .issue(
        quire::accounts::model::UserId(
            sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
                .fetch_one(&app.db)
                .await
                .unwrap(),
        ),
        0,
    )
    .unwrap();
    let slug: String = sqlx::query_scalar("SELECT slug FROM posts WHERE id = $1")
        .bind(old)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let res = app
        .client
        .put(app.url(&format!("/api/articles/{slug}")))
        .header("Authorization", format!("Token {token}"))
        .json(&serde_json::json!({"article": {"body": "Still good, edited"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.page("/", StatusCode::OK)
            .await
            .texts(".is-featured")
            .len(),
        1
    );

    // Unticked: an ordinary post again.
    let (token, version) = open_editor(&author, old).await;
    let mut form = editor_fields("An older favourite", "Still good", "published");
    form.extend([
        ("csrf_token", token.as_str()),
        ("version", version.as_str()),
    ]);
    author
        .client
        .post(author.url(&format!("/admin/posts/{old}")))
        .form(&form)
        .send()
        .await
        .unwrap();
    let home = app.page("/", StatusCode::OK).await;
    assert!(home.texts(".is-featured").is_empty());
    assert_eq!(
        home.texts(".card-title"),
        ["Yesterday's news", "An older favourite"]
    );
}

#[tokio::test]
async fn disabling_an_account_revokes_its_sessions_tokens_and_reset_links_for_good() {
    let app = spawn_app().await;
    let boss = app.signed_in("boss", Role::Admin).await;
    let rita = app.signed_in("rita", Role::Author).await;
    let rita_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'rita'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let (status, body) = crate::api::call(
        &app,
        reqwest::Method::POST,
        "/api/users/login",
        None,
        Some(serde_json::json!({"user": {"email": "rita@example.com", "password": crate::harness::PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["user"]["token"].as_str().unwrap().to_owned();
    let res = boss
        .submit(
            "/admin/users",
            &format!("/admin/users/{rita_id}/reset-link"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = crate::harness::Page::parse(&res.text().await.unwrap());
    let link = page.attr("#reset-link", "value").unwrap();
    let reset_path = link.strip_prefix(&app.base).unwrap().to_owned();

    for action in ["disable", "enable"] {
        let res = boss
            .submit(
                "/admin/users",
                &format!("/admin/users/{rita_id}/{action}"),
                &[],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
    }

    assert_eq!(
        rita.viewer_name().await,
        None,
        "the old session stays ended"
    );
    let (status, _) =
        crate::api::call(&app, reqwest::Method::GET, "/api/user", Some(&token), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old API token stays dead"
    );
    let res = TestApp::sharing(&app).get(&reset_path).await;
    assert_eq!(
        res.status(),
        StatusCode::GONE,
        "the old reset link stays used up"
    );
    // Logging in afresh works: the account itself is back.
    let again = TestApp::sharing(&app)
        .log_in("rita", crate::harness::PASSWORD)
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_admin_menu_marks_the_screen_and_leaves_the_reading_chrome_out() {
    let app = spawn_app().await;
    let admin = app.signed_in("rosa", Role::Admin).await;
    for (path, current) in [
        ("/admin", "Dashboard"),
        ("/admin/posts", "Posts"),
        ("/admin/posts/new", "New post"),
        ("/admin/posts/trash", "Trash"),
        ("/admin/settings", "Settings"),
        ("/admin/jobs?state=failed", "Jobs"),
    ] {
        let page = admin.page(path, StatusCode::OK).await;
        assert_eq!(
            page.texts(".admin-nav a[aria-current=page]"),
            [current],
            "{path}"
        );
        assert_eq!(page.text(".admin-menu-current"), current, "{path}");
        // A workplace: no public footer, no newsletter box.
        assert!(!page.contains("site-footer"), "{path}");
    }
    // An author's menu has only what an author may open.
    let author = app.signed_in("ann", Role::Author).await;
    let page = author.page("/admin/posts", StatusCode::OK).await;
    assert_eq!(
        page.texts(".admin-nav a"),
        ["Dashboard", "Posts", "New post", "Media"]
    );
    // The reading site keeps its footer, and the header's account menu names the reader.
    let page = author.page("/", StatusCode::OK).await;
    assert!(page.contains("site-footer"));
    assert_eq!(page.text(".account-menu summary"), "Ann Display");
    assert_eq!(
        page.texts(".account-menu a"),
        ["Admin", "Account", "Following"]
    );
}

#[tokio::test]
async fn the_jobs_screen_names_jobs_for_people() {
    let app = spawn_app().await;
    let admin = app.signed_in("rosa", Role::Admin).await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            crate::harness::PostSpec {
                title: "Spring issue",
                ..Default::default()
            },
        )
        .await;
    // Queued for later, so the runner leaves them be while the page is read.
    sqlx::query(
        "INSERT INTO jobs (kind, payload, run_at)
         VALUES ('newsletter.send', jsonb_build_object('post', (SELECT id FROM posts WHERE slug = $1)), now() + interval '1 hour'),
                ('newsletter.send', '{\"post\": 999999}', now() + interval '1 hour'),
                ('from.a.newer.version', '{}', now() + interval '1 hour')",
    )
    .bind(&slug)
    .execute(&app.db)
    .await
    .unwrap();
    let page = admin.page("/admin/jobs?state=queued", StatusCode::OK).await;
    let names: Vec<String> = page
        .texts(".jobs tbody td:nth-child(2)")
        .iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        names.contains(&"Newsletter: Spring issue newsletter.send".to_owned()),
        "{names:?}"
    );
    // A post that is gone leaves the title; a kind this version doesn't run, its kind.
    assert!(
        names.contains(&"Newsletter issue newsletter.send".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"from.a.newer.version from.a.newer.version".to_owned()),
        "{names:?}"
    );
}
