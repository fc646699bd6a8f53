//! Comments: posting, the Markdown subset, limits, editing for 15 minutes, moderation.

use quire::{accounts::model::Role, posts::model::PostStatus};
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app};

pub async fn comment(browser: &TestApp, slug: &str, body: &str) -> reqwest::Response {
    browser
        .submit(
            &format!("/posts/{slug}"),
            &format!("/posts/{slug}/comments"),
            &[("body", body)],
        )
        .await
}

#[tokio::test]
async fn a_reader_comments_and_everyone_sees_it_sanitized() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = comment(
        &rita,
        &slug,
        "Nice *post*! <script>alert(1)</script> ![x](/x.png)",
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/posts/talk#comment-")
    );
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(page.text(".comment .meta a"), "Rita Display");
    assert_eq!(page.text(".comment-body em"), "post");
    assert!(!page.contains("<script>alert(1)") && page.texts(".comment-body img").is_empty());
    assert!(
        page.text("#comments").contains("Log in"),
        "strangers are invited to log in"
    );
}

#[tokio::test]
async fn bad_comments_are_refused_with_the_text_kept() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let draft = app
        .post(
            owner,
            PostSpec {
                title: "Draft",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let long = "a".repeat(5001);
    let res = comment(&rita, &slug, &long).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("at most 5000 characters") && body.contains(&long));
    assert_eq!(
        comment(&rita, &slug, "   ").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let token = rita.csrf_token("/").await;
    let res = rita
        .client
        .post(rita.url(&format!("/posts/{draft}/comments")))
        .form(&[("csrf_token", token.as_str()), ("body", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no comments on drafts");
    let stranger = TestApp::sharing(&app);
    let token = stranger.csrf_token("/login").await;
    let res = stranger
        .client
        .post(stranger.url(&format!("/posts/{slug}/comments")))
        .form(&[("csrf_token", token.as_str()), ("body", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "strangers are sent to log in"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn commenting_is_rate_limited() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    for i in 0..5 {
        assert_eq!(
            comment(&rita, &slug, &format!("comment {i}"))
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
    }
    let res = comment(&rita, &slug, "one too many").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text().await.unwrap().contains("one too many"),
        "the text is kept"
    );
}

#[tokio::test]
async fn authors_edit_their_comment_for_fifteen_minutes_only() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let sam = app.signed_in("sam", Role::Reader).await;
    comment(&rita, &slug, "Frist").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let edit = format!("/comments/{id}/edit");
    assert_eq!(sam.get(&edit).await.status(), StatusCode::FORBIDDEN);
    let res = rita
        .submit(&edit, &format!("/comments/{id}"), &[("body", "First")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(page.text(".comment-body"), "First");
    sqlx::query("UPDATE comments SET created_at = now() - interval '16 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(rita.get(&edit).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_comment_on_a_post_taken_back_can_no_longer_be_edited() {
    let app = spawn_app().await;
    let owner = app.signed_in("owner", Role::Author).await;
    let owner_id = sqlx::query_scalar("SELECT id FROM users WHERE username = 'owner'")
        .fetch_one(&app.db)
        .await
        .map(quire::accounts::model::UserId)
        .unwrap();
    let slug = app
        .post(
            owner_id,
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    comment(&rita, &slug, "Frist").await;
    let (id, post): (i64, i64) = sqlx::query_as("SELECT id, post_id FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let res = crate::admin::save_as(&owner, post, "draft", "Talk", "Not yet.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let edit = format!("/comments/{id}/edit");
    let res = rita.get(&edit).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("not allowed"));
    let res = rita
        .submit("/account", &format!("/comments/{id}"), &[("body", "First")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: String = sqlx::query_scalar("SELECT body_markdown FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(body, "Frist");
}

#[tokio::test]
async fn the_posts_author_and_editors_moderate_others_do_not() {
    let app = spawn_app().await;
    let owner_browser = app.signed_in("owner", Role::Author).await;
    let owner: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'owner'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            quire::accounts::model::UserId(owner),
            PostSpec {
                title: "Talk",
                ..Default::default()
            },
        )
        .await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let other_author = app.signed_in("otto", Role::Author).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    comment(&rita, &slug, "Spam spam").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let post_page = format!("/posts/{slug}");
    assert_eq!(
        other_author
            .submit(&post_page, &format!("/comments/{id}/hide"), &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner_browser
            .submit(&post_page, &format!("/comments/{id}/hide"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        app.page(&post_page, StatusCode::OK)
            .await
            .texts(".comment")
            .is_empty(),
        "hidden from readers"
    );
    let seen = owner_browser.page(&post_page, StatusCode::OK).await;
    assert!(
        seen.text(".comment .meta").contains("hidden from readers"),
        "moderators still see it"
    );
    assert_eq!(
        eve.submit(&post_page, &format!("/comments/{id}/delete"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// With first comments held: a new commenter's comment waits, seen only by them and by
/// moderators, until approved in /admin/comments; then they are trusted. Staff and the
/// post's author are never held.
#[tokio::test]
async fn first_comments_wait_for_approval_when_held() {
    let app = spawn_app().await;
    let owner_app = app.signed_in("owner", Role::Author).await;
    let owner: quire::accounts::model::UserId = quire::accounts::model::UserId(
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'owner'")
            .fetch_one(&app.db)
            .await
            .unwrap(),
    );
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Held talk",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    let admin = app.signed_in("root", Role::Admin).await;
    let res = crate::settings::save(&admin, &[("comments", "held")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let rita = app.signed_in("rita", Role::Reader).await;
    let res = comment(&rita, &slug, "My first words here").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let post = format!("/posts/{slug}");
    // Rita sees hers, marked; nobody else but moderators does.
    let hers = rita.page(&post, StatusCode::OK).await;
    assert!(hers.contains("My first words here") && hers.contains("awaiting approval"));
    assert!(
        !app.get(&post)
            .await
            .text()
            .await
            .unwrap()
            .contains("My first words")
    );
    let sam = app.signed_in("sam", Role::Reader).await;
    assert!(
        !sam.page(&post, StatusCode::OK)
            .await
            .contains("My first words")
    );
    let api: serde_json::Value = app
        .get(&format!("/api/articles/{slug}/comments"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["comments"].as_array().unwrap().len(), 0, "{api}");
    assert!(
        owner_app
            .page(&post, StatusCode::OK)
            .await
            .contains("My first words")
    );
    // The post's author and an editor are not held.
    assert_eq!(
        comment(&owner_app, &slug, "Author reply").await.status(),
        StatusCode::SEE_OTHER
    );
    let ed = app.signed_in("ed", Role::Editor).await;
    assert_eq!(
        comment(&ed, &slug, "Editor note").await.status(),
        StatusCode::SEE_OTHER
    );
    let public = app.get(&post).await.text().await.unwrap();
    assert!(public.contains("Author reply") && public.contains("Editor note"));

    // The queue lists it; approving from it makes it public.
    let queue = ed.page("/admin/comments", StatusCode::OK).await;
    assert!(queue.contains("My first words here"));
    assert!(queue.contains("Waiting for approval (1)"));
    let id = queue.attr("input[name=id]", "value").unwrap();
    let res = ed
        .submit(
            "/admin/comments",
            "/admin/comments/bulk",
            &[("status", "pending"), ("action", "approve"), ("id", &id)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        app.get(&post)
            .await
            .text()
            .await
            .unwrap()
            .contains("My first words here")
    );
    assert!(
        ed.page("/admin/comments", StatusCode::OK)
            .await
            .contains("Nothing waits")
    );
    // Trusted now: her next comment is public at once.
    comment(&rita, &slug, "Second thoughts").await;
    assert!(
        app.get(&post)
            .await
            .text()
            .await
            .unwrap()
            .contains("Second thoughts")
    );

    // Bulk hide and show, and what the form refuses.
    let visible = ed
        .page("/admin/comments?status=visible", StatusCode::OK)
        .await;
    let ids = visible.attrs("input[name=id]", "value");
    assert_eq!(ids.len(), 4);
    let mut fields: Vec<(&str, &str)> = vec![("status", "visible"), ("action", "hide")];
    fields.extend(ids.iter().map(|id| ("id", id.as_str())));
    let res = ed
        .submit(
            "/admin/comments?status=visible",
            "/admin/comments/bulk",
            &fields,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let hidden = ed
        .page("/admin/comments?status=hidden", StatusCode::OK)
        .await;
    assert_eq!(hidden.attrs("input[name=id]", "value").len(), 4);
    assert!(
        !app.get(&post)
            .await
            .text()
            .await
            .unwrap()
            .contains("Second thoughts")
    );
    for (action, id) in [
        ("explode", ids[0].as_str()),
        ("delete", "1; DROP TABLE comments"),
    ] {
        let res = ed
            .submit(
                "/admin/comments",
                "/admin/comments/bulk",
                &[("action", action), ("id", id)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{action} {id}");
    }
    assert_eq!(
        ed.get("/admin/comments?status=nonsense").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The honeypot: a bot that fills every field adds nothing.
#[tokio::test]
async fn a_bot_filling_the_hidden_field_adds_nothing() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    let slug = app
        .post(
            owner,
            PostSpec {
                title: "Bait",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    let bot = app.signed_in("bot", Role::Reader).await;
    let res = bot
        .submit(
            &format!("/posts/{slug}"),
            &format!("/posts/{slug}/comments"),
            &[
                ("body", "Buy things"),
                ("leave_empty", "http://spam.example"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The field is in the form, out of sight (a stylesheet rule, not an inline style).
    let page = bot.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert!(
        page.attr(".hp input[name=leave_empty]", "tabindex")
            .is_some()
    );
}
