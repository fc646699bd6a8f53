//! Comments by guests (issue 26): imported comments have a name, a private address and
//! maybe a web address, but no account. Every place that shows comments shows theirs, and
//! their address is never shown to anyone.

use std::time::Duration;

use futures_util::SinkExt;
use quire::accounts::model::Role;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    harness::{PostSpec, TestApp, eventually, spawn_app},
    live::{expect_json, next_json, open},
};

const SECRET: &str = "ann.private@secret.example";

/// A guest's comment on `post` (and, when `parent` is given, a reply to it).
async fn guest_comment(
    app: &TestApp,
    post: i64,
    name: &str,
    url: &str,
    body: &str,
    parent: Option<i64>,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO comments (post_id, guest_name, guest_email, guest_url, parent_id,
                               body_markdown, body_html, approved_at)
         VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, '<p>' || $6 || '</p>', now())
         RETURNING id",
    )
    .bind(post)
    .bind(name)
    .bind(SECRET)
    .bind(url)
    .bind(parent)
    .bind(body)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

fn no_secret(what: &str, body: &str) {
    assert!(!body.contains(SECRET), "{what} shows the guest's email");
}

#[tokio::test]
async fn a_guests_comment_and_reply_show_everywhere_without_their_email() {
    let app = spawn_app().await;
    sqlx::query(
        "INSERT INTO webhooks (url, events, secret)
         VALUES ('https://hooks.example.invalid/x', '{comment.created}', repeat('s', 40))",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Guests welcome",
                ..Default::default()
            },
        )
        .await;
    let post: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let first = guest_comment(
        &app,
        post,
        "Ann Guest",
        "https://ann.example/",
        "Lovely",
        None,
    )
    .await;
    let reply = guest_comment(
        &app,
        post,
        "Bob Guest",
        "javascript:alert(1)",
        "Agreed",
        Some(first),
    )
    .await;
    app.pages().stale().await;

    // The post page, as a reader: names shown, Ann linked as user content, Bob not linked.
    let reader = app.signed_in("rita", Role::Reader).await;
    let page = reader.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    no_secret("the post page", &page.1);
    let meta = page.texts(".comment .meta");
    assert!(
        meta[0].contains("Ann Guest") && meta[1].contains("Bob Guest"),
        "{meta:?}"
    );
    assert_eq!(
        page.attr(&format!("#comment-{first} .meta a"), "href")
            .as_deref(),
        Some("https://ann.example/")
    );
    assert_eq!(
        page.attr(&format!("#comment-{first} .meta a"), "rel")
            .as_deref(),
        Some("nofollow ugc noopener")
    );
    assert_eq!(
        page.attr(&format!("#comment-{reply} .meta a"), "href"),
        None
    );
    assert!(!page.contains("javascript:alert"));
    assert!(
        page.texts(".comment-actions").is_empty(),
        "a reader may not touch them"
    );
    // Anonymous readers get the same (kept) page.
    let anonymous = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(anonymous.texts(".comment").len(), 2);
    // Moderators may delete a guest's comment; nobody may edit it.
    let editor = app.signed_in("eddie", Role::Editor).await;
    let page = editor.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    let actions = page.texts(&format!("#comment-{first} .comment-actions"));
    assert!(
        actions[0].contains("Delete") && !actions[0].contains("Edit"),
        "{actions:?}"
    );
    let res = reader
        .submit(
            &format!("/posts/{slug}"),
            &format!("/comments/{reply}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The API: a profile whose username is the guest's name.
    let res = app.get(&format!("/api/articles/{slug}/comments")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    no_secret("the API", &body);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let author = &json["comments"][0]["author"];
    assert_eq!(author["username"], "Ann Guest");
    assert!(author["bio"].is_null() || author["bio"] == "");
    assert!(author["image"].is_null());
    assert_eq!(author["following"], false);

    // The moderation list.
    let admin = app.signed_in("boss", Role::Admin).await;
    let list = admin
        .page("/admin/comments?status=visible", StatusCode::OK)
        .await;
    no_secret("the moderation list", &list.1);
    assert!(list.contains("Ann Guest") && list.contains("Bob Guest"));

    // A live page catching up.
    let mut ws = open(&app, &format!("/ws/posts/{post}/comments"), None).await;
    ws.send(Message::text(r#"{"type": "since", "id": 0}"#))
        .await
        .unwrap();
    for id in [first, reply] {
        let message = expect_json(&mut ws).await;
        assert_eq!(message["id"].as_i64(), Some(id));
        no_secret("a live message", &message.to_string());
    }
    assert_eq!(next_json(&mut ws, Duration::from_millis(300)).await, None);

    // The webhook's payload.
    let payloads: Vec<serde_json::Value> = eventually(
        "both comments' webhook deliveries",
        Duration::from_secs(15),
        || async {
            let rows: Vec<serde_json::Value> = sqlx::query_scalar(
                "SELECT payload FROM webhook_deliveries WHERE event = 'comment.created'
                  ORDER BY id",
            )
            .fetch_all(&app.db)
            .await
            .unwrap();
            if rows.len() == 2 {
                Ok(rows)
            } else {
                Err(rows.len())
            }
        },
    )
    .await;
    let texts: Vec<String> = payloads.iter().map(|p| p.to_string()).collect();
    for text in &texts {
        no_secret("a webhook payload", text);
    }
    assert!(texts.iter().any(|t| t.contains("Ann Guest")), "{texts:?}");
}
