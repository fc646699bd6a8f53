//! Favourites and follows on the site (the same tables the API uses): the favourite button
//! and count on post pages, followers and the follow button on author pages, and the
//! Following page. Plain form posts, no JavaScript.

use quire::accounts::model::Role;
use reqwest::StatusCode;

use crate::harness::{PostSpec, spawn_app};

#[tokio::test]
async fn readers_favourite_posts_and_see_the_count() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Herons",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    let anon = app.page(&path, StatusCode::OK).await;
    assert_eq!(
        anon.text(".favorite .count"),
        "0 readers favourite this post · Log in to add yours"
    );

    let reader = app.signed_in("reader", Role::Reader).await;
    let page = reader.page(&path, StatusCode::OK).await;
    assert_eq!(page.text(".favorite button"), "♡ Favourite");
    assert_eq!(
        page.attr(".favorite button", "aria-pressed").as_deref(),
        Some("false")
    );
    let res = reader.submit(&path, &format!("{path}/favorite"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("{path}#favorite").as_str()
    );
    let page = reader.page(&path, StatusCode::OK).await;
    assert_eq!(page.text(".favorite button"), "♥ Favourited");
    assert!(
        page.text(".favorite .count")
            .starts_with("1 reader favourites")
    );
    // Again changes nothing; anonymous readers see the new count at once (cache too).
    reader.submit(&path, &format!("{path}/favorite"), &[]).await;
    let anon = app.page(&path, StatusCode::OK).await;
    assert!(
        anon.text(".favorite .count")
            .starts_with("1 reader favourites")
    );
    reader
        .submit(&path, &format!("{path}/unfavorite"), &[])
        .await;
    let anon = app.page(&path, StatusCode::OK).await;
    assert!(anon.text(".favorite .count").starts_with("0 readers"));

    // Without the form's token: refused, nothing changed.
    let res = reader
        .client
        .post(reader.url(&format!("{path}/favorite")))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Anonymous: to the login page. Unknown posts and actions: 404.
    let res = app
        .client
        .post(app.url(&format!("{path}/favorite")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error() || res.status() == StatusCode::SEE_OTHER);
    let res = reader
        .submit(&path, "/posts/no-such-post/favorite", &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = reader.submit(&path, &format!("{path}/explode"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readers_follow_authors_and_read_them_on_the_following_page() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let grace = app.author("grace").await;
    app.post(
        ada,
        PostSpec {
            title: "By Ada",
            ..Default::default()
        },
    )
    .await;
    app.post(
        grace,
        PostSpec {
            title: "By Grace",
            ..Default::default()
        },
    )
    .await;

    let anon = app.page("/authors/ada", StatusCode::OK).await;
    assert_eq!(anon.text(".followers"), "0 followers");
    assert!(anon.texts(".followers button").is_empty());
    let res = app.get("/following").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );

    let reader = app.signed_in("reader", Role::Reader).await;
    let page = reader.page("/following", StatusCode::OK).await;
    assert!(page.texts(".card-title").is_empty());
    assert!(page.text(".intro").contains("You follow nobody yet"));
    let res = reader
        .submit("/authors/ada", "/authors/ada/follow", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = reader.page("/authors/ada", StatusCode::OK).await;
    assert!(page.text(".followers").starts_with("1 follower"));
    assert_eq!(page.text(".followers button"), "Following");
    let page = reader.page("/following", StatusCode::OK).await;
    assert_eq!(page.texts(".card-title"), ["By Ada"]);
    assert_eq!(page.text("nav a[href='/following']"), "Following");

    // An author can't follow themselves: no button, and the address refuses.
    let author = app.signed_in("writer", Role::Author).await;
    let own = author.page("/authors/writer", StatusCode::OK).await;
    assert!(own.texts(".followers button").is_empty());
    let res = author
        .submit("/authors/writer", "/authors/writer/follow", &[])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    reader
        .submit("/authors/ada", "/authors/ada/unfollow", &[])
        .await;
    let anon = app.page("/authors/ada", StatusCode::OK).await;
    assert_eq!(anon.text(".followers"), "0 followers");
}
