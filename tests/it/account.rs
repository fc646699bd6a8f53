//! /account: profile, password, deleting the account.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PASSWORD, PostSpec, TestApp, spawn_app};

#[tokio::test]
async fn the_profile_shows_on_the_author_page_and_bad_values_are_refused() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let res = ann
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Ann Writer"),
                ("bio", "Writes about Rust."),
                ("avatar_url", "/uploads/x.png"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page("/authors/ann", StatusCode::OK).await;
    assert_eq!(page.text("h1"), "Ann Writer");
    assert!(
        page.texts(".intro p")
            .contains(&"Writes about Rust.".to_owned())
    );
    let res = ann
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Ann"),
                ("avatar_url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("An image is a path on this site (/uploads/…) or an https:// address")
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Reader).await;
    let new = "a brand new passphrase";
    let res = ann
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "wrong wrong wrong"),
                ("new_password", new),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not your current password")
    );
    let res = ann
        .submit(
            "/account",
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", new)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let fresh = TestApp::sharing(&app);
    assert_eq!(
        fresh.log_in("ann", PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        fresh.log_in("ann", new).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_deleted_account_leaves_its_posts_to_former_author() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            quire::accounts::model::UserId(id),
            PostSpec {
                title: "Legacy",
                ..Default::default()
            },
        )
        .await;
    let wrong = ann
        .submit(
            "/account",
            "/account/delete",
            &[("confirm_username", "someone"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = ann
        .submit(
            "/account",
            "/account/delete",
            &[("confirm_username", "ann"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(ann.viewer_name().await, None);
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    assert_eq!(page.text("a[rel=author]"), "Former author");
    assert_eq!(
        TestApp::sharing(&app)
            .log_in("ann", PASSWORD)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn the_last_admin_cannot_delete_their_account() {
    let app = spawn_app().await;
    let boss = app.signed_in("boss", Role::Admin).await;
    let res = boss
        .submit(
            "/account",
            "/account/delete",
            &[("confirm_username", "boss"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("last admin"));
    assert_eq!(crate::accounts_role(&app, "boss").await, "admin");
}

#[tokio::test]
async fn a_display_name_with_a_line_break_is_refused_on_register_and_on_the_account_page() {
    let app = spawn_app().await;
    let injected = "Eve\r\nBcc: x@evil.test";
    let res = app
        .submit(
            "/register",
            "/register",
            &[
                ("username", "eve"),
                ("email", "eve@example.com"),
                ("display_name", injected),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("control characters"));

    let ann = app.signed_in("ann", Role::Author).await;
    for name in [injected, "tab\there", "nul\0here"] {
        let res = ann
            .submit(
                "/account",
                "/account/profile",
                &[("display_name", name), ("bio", ""), ("avatar_url", "")],
            )
            .await;
        // A NUL is refused by every form before its fields are read (400).
        assert!(res.status().is_client_error(), "{name:?}: {}", res.status());
    }
    let stored: String =
        sqlx::query_scalar("SELECT display_name FROM users WHERE username = 'ann'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!stored.chars().any(char::is_control));
}
