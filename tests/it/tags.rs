//! /admin/tags: rename, describe, merge.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PostSpec, spawn_app};

async fn tag_id(app: &crate::harness::TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM tags WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn editors_rename_describe_and_merge_tags() {
    let app = spawn_app().await;
    let owner = app.author("owner").await;
    app.post(
        owner,
        PostSpec {
            title: "One",
            tags: &["Rust Lang"],
            ..Default::default()
        },
    )
    .await;
    app.post(
        owner,
        PostSpec {
            title: "Two",
            tags: &["Rustlang", "Rust Lang"],
            ..Default::default()
        },
    )
    .await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let list = eve.page("/admin/tags", StatusCode::OK).await;
    assert_eq!(
        list.texts(".admin-table tbody td a"),
        vec!["Rust Lang", "Rustlang"]
    );

    let id = tag_id(&app, "rust-lang").await;
    let edit = format!("/admin/tags/{id}/edit");
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{id}"),
            &[
                ("name", "Rust"),
                ("slug", "rust"),
                ("description", "The language."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/tags/rust", StatusCode::OK).await;
    assert!(page.texts(".intro p").contains(&"The language.".to_owned()));
    assert_eq!(page.texts(".card-title").len(), 2);
    assert_eq!(
        app.page("/posts/one", StatusCode::OK)
            .await
            .texts(".post-header .tags a"),
        vec!["Rust"]
    );

    // Taking another tag's slug is refused; merging is the way.
    let other = tag_id(&app, "rustlang").await;
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{other}"),
            &[("name", "Rustlang"), ("slug", "rust")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("merge into it instead"));
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{other}/merge"),
            &[("into", "rust")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/tags/rustlang").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.page("/posts/two", StatusCode::OK)
            .await
            .texts(".post-header .tags a"),
        vec!["Rust"]
    );
    let res = eve
        .submit(
            &edit,
            &format!("/admin/tags/{id}/merge"),
            &[("into", "rust")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not into itself"
    );
}
