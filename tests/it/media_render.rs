//! Reader pages show uploads well (issue 28, item 3): `<picture>` with WebP and own-format
//! `srcset`, `width`/`height`, lazy loading below the fold, the social card as `og:image`;
//! and the database knows where each upload is used.

use quire::accounts::model::{Role, UserId};
use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app, spawn_app_with};

/// A processed upload, as `media.process` leaves it (the files themselves are not needed
/// to render the page).
async fn ready(app: &TestApp, owner: UserId, name: &str, size: (i32, i32), widths: &[i32]) {
    sqlx::query(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id, width, height, widths,
                              state)
         VALUES ($1, 'image/jpeg', 1000, $2, $3, $4, $5, 'ready')",
    )
    .bind(name)
    .bind(owner)
    .bind(size.0)
    .bind(size.1)
    .bind(widths)
    .execute(&app.db)
    .await
    .unwrap();
}

fn hash(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

#[tokio::test]
async fn covers_and_body_images_become_pictures_with_sizes_and_lazy_loading() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let (cover, photo, pending) = (hash('a'), hash('b'), hash('c'));
    ready(
        &app,
        ann,
        &format!("{cover}.jpg"),
        (3000, 2000),
        &[480, 960, 1600, 2400, 3000],
    )
    .await;
    ready(&app, ann, &format!("{photo}.png"), (800, 600), &[480, 800]).await;
    sqlx::query(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id) VALUES ($1, 'image/gif', 9, $2)",
    )
    .bind(format!("{pending}.gif"))
    .bind(ann)
    .execute(&app.db)
    .await
    .unwrap();
    let body = format!(
        "Intro.\n\n![A \"red\" <cat>](/uploads/{photo}.png)\n\n![Waiting](/uploads/{pending}.gif)\n\n\
         ![Elsewhere](https://images.example/x.jpg)\n"
    );
    let cover_url = format!("/uploads/{cover}.jpg");
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Pictures",
                body: &body,
                cover: Some(&cover_url),
                ..Default::default()
            },
        )
        .await;

    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    let html = &page.1;
    // The cover: eager (the page's largest content), every width in WebP and JPEG.
    let cover_img = page.attr("figure.cover img", "srcset").unwrap();
    assert_eq!(
        cover_img,
        format!(
            "/uploads/{cover}-480.jpg 480w, /uploads/{cover}-960.jpg 960w, /uploads/{cover}-1600.jpg 1600w, \
             /uploads/{cover}-2400.jpg 2400w, /uploads/{cover}.jpg 3000w"
        )
    );
    assert!(
        page.attr("figure.cover source", "srcset")
            .unwrap()
            .starts_with(&format!("/uploads/{cover}-480.webp 480w"))
    );
    assert_eq!(
        page.attr("figure.cover source", "type").unwrap(),
        "image/webp"
    );
    assert_eq!(page.attr("figure.cover img", "width").unwrap(), "3000");
    assert_eq!(page.attr("figure.cover img", "height").unwrap(), "2000");
    assert_eq!(
        page.attr("figure.cover img", "fetchpriority").unwrap(),
        "high"
    );
    assert_eq!(page.attr("figure.cover img", "loading"), None);
    // The body's upload: lazy, its alt text kept (escaped once), its size known.
    // Narrower than a desktop column: its own file is the fallback `src`.
    let body_img = format!(".prose img[src=\"/uploads/{photo}.png\"]");
    assert_eq!(page.attr(&body_img, "loading").unwrap(), "lazy");
    assert_eq!(page.attr(&body_img, "decoding").unwrap(), "async");
    assert_eq!(
        page.attr(&body_img, "alt").unwrap(),
        "A \u{201c}red\u{201d} <cat>"
    );
    assert_eq!(page.attr(&body_img, "width").unwrap(), "800");
    assert_eq!(
        page.attr(&body_img, "srcset").unwrap(),
        format!("/uploads/{photo}-480.png 480w, /uploads/{photo}.png 800w")
    );
    // Not processed yet, or not ours: as written, lazily.
    let waiting = format!(".prose img[src=\"/uploads/{pending}.gif\"]");
    assert_eq!(page.attr(&waiting, "loading").unwrap(), "lazy");
    assert_eq!(page.attr(&waiting, "width"), None);
    assert_eq!(
        page.attr(
            ".prose img[src=\"https://images.example/x.jpg\"]",
            "loading"
        )
        .unwrap(),
        "lazy"
    );
    assert!(!html.contains("<cat>"), "an alt's markup stays text");
    // Shared as its 1200×630 social card.
    assert_eq!(
        page.attr("meta[property=\"og:image\"]", "content").unwrap(),
        format!("{}/uploads/{cover}-og.jpg", app.settings.http.base())
    );
    assert_eq!(
        page.attr("meta[property=\"og:image:width\"]", "content")
            .unwrap(),
        "1200"
    );
    assert_eq!(
        page.attr("meta[property=\"og:image:height\"]", "content")
            .unwrap(),
        "630"
    );

    // The home page's card: the same picture, the first card eager.
    let home = app.page("/", StatusCode::OK).await;
    assert!(
        home.attr(".card-cover source", "srcset")
            .unwrap()
            .contains(&format!("{cover}-960.webp 960w"))
    );
    assert_eq!(home.attr(".card-cover img", "width").unwrap(), "3000");

    // The database knows where each upload is used (the library refuses to delete them).
    let mut uses: Vec<String> = sqlx::query_scalar(
        "SELECT file_name FROM media_uses WHERE place = 'post' ORDER BY file_name",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    uses.sort();
    assert_eq!(
        uses,
        vec![
            format!("{cover}.jpg"),
            format!("{photo}.png"),
            format!("{pending}.gif")
        ]
    );
}

#[tokio::test]
async fn a_cdn_base_serves_every_file_and_uses_follow_avatars_and_edits() {
    let app =
        spawn_app_with(|s| s.uploads.public_base_url = "https://cdn.example/media/".into()).await;
    let ann = app.author("ann").await;
    let photo = hash('d');
    ready(
        &app,
        ann,
        &format!("{photo}.jpg"),
        (1000, 1000),
        &[480, 960, 1000],
    )
    .await;
    sqlx::query("UPDATE users SET avatar_url = $1 WHERE id = $2")
        .bind(format!("/uploads/{photo}.jpg"))
        .bind(ann)
        .execute(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Far away",
                body: &format!("![x](/uploads/{photo}.jpg)"),
                ..Default::default()
            },
        )
        .await;
    let page = app.page(&format!("/posts/{slug}"), StatusCode::OK).await;
    let img = page.attr(".prose img", "src").unwrap();
    assert_eq!(img, format!("https://cdn.example/media/{photo}-960.jpg"));
    // No cover: the first body image is the page's largest content.
    assert_eq!(page.attr(".prose img", "fetchpriority").unwrap(), "high");
    // The author's avatar: the smallest width that is sharp at 72 px on a 2x screen.
    let author = app.page("/authors/ann", StatusCode::OK).await;
    assert_eq!(
        author.attr("img.avatar", "src").unwrap(),
        format!("https://cdn.example/media/{photo}-480.webp")
    );

    let places = |app: &TestApp| {
        let db = app.db.clone();
        let name = format!("{photo}.jpg");
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT place FROM media_uses WHERE file_name = $1 ORDER BY place",
            )
            .bind(name)
            .fetch_all(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(places(&app).await, ["post", "user"]);
    // An edit that drops the image drops the use; deleting the account drops its own.
    sqlx::query("UPDATE posts SET body_markdown = 'gone' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET avatar_url = NULL WHERE id = $1")
        .bind(ann)
        .execute(&app.db)
        .await
        .unwrap();
    assert!(places(&app).await.is_empty());
    let _ = Role::Author;
}
