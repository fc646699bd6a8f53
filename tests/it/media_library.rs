//! The media library (issue 28, item 4): the grid and who sees what, search and the unused
//! filter, alt text, deleting (refused while used), and the picker every image field offers.

use quire::accounts::model::{Role, UserId};
use reqwest::{StatusCode, multipart};

use crate::harness::{PostSpec, TestApp, spawn_app};

/// A real PNG, `seed` making its bytes (so its name) its own.
fn png(seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(3, 2, image::Rgb([seed, 40, 90]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

/// Upload `bytes` as `name` through the library's form; the upload's id and file name.
async fn upload(browser: &TestApp, app: &TestApp, name: &str, bytes: Vec<u8>) -> (i64, String) {
    let token = browser.csrf_token("/admin/media").await;
    let form = multipart::Form::new().text("csrf_token", token).part(
        "file",
        multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    let res = browser
        .client
        .post(browser.url("/admin/media"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{name}");
    sqlx::query_as("SELECT id, file_name FROM uploads WHERE original_name = $1")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A processed upload of `uploader` (as the `media.process` job would leave it: ready, with
/// a 480 px WebP), its files in the store; its id and file name.
async fn ready_upload(app: &TestApp, uploader: UserId, name: &str, alt: &str) -> (i64, String) {
    let hash = format!("{:x}", sha2::Sha256::digest(name.as_bytes()));
    let file_name = format!("{hash}.png");
    let dir = &app.settings.uploads.dir;
    std::fs::create_dir_all(dir.join("originals")).unwrap();
    for key in [
        format!("originals/{file_name}"),
        file_name.clone(),
        format!("{hash}-480.png"),
        format!("{hash}-480.webp"),
        format!("{hash}-og.jpg"),
    ] {
        std::fs::write(dir.join(key), png(7)).unwrap();
    }
    let id = sqlx::query_scalar(
        "INSERT INTO uploads (file_name, content_type, bytes, uploader_id, original_name, alt,
                              width, height, widths, state, processed_at)
         VALUES ($1, 'image/png', 2048, $2, $3, $4, 1200, 800, '{480}', 'ready', now())
         RETURNING id",
    )
    .bind(&file_name)
    .bind(uploader)
    .bind(name)
    .bind(alt)
    .fetch_one(&app.db)
    .await
    .unwrap();
    (id, file_name)
}

use sha2::Digest;

async fn user_id(app: &TestApp, username: &str) -> UserId {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .map(UserId)
        .unwrap()
}

#[tokio::test]
async fn authors_see_their_own_uploads_and_editors_everyones() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let bob = app.signed_in("bob", Role::Author).await;
    let eve = app.signed_in("eve", Role::Editor).await;
    let (cat, _) = upload(&ann, &app, "cat.png", png(1)).await;
    let (dog, _) = upload(&bob, &app, "dog.png", png(2)).await;

    let grid = ann.page("/admin/media", StatusCode::OK).await;
    assert_eq!(grid.texts(".media-name"), vec!["cat.png"]);
    // Its facts: size, dimensions, uploader, state.
    let facts = grid.text(".media-facts");
    assert!(
        facts.contains("3 × 2") && facts.contains("Ann Display"),
        "{facts}"
    );
    // (Pending or processed by now: the job may have run.)
    assert!(facts.contains("Unused"), "{facts}");
    let thumb = grid.attr(".media-thumb img", "loading").unwrap();
    assert_eq!(thumb, "lazy");
    assert_eq!(
        eve.page("/admin/media", StatusCode::OK)
            .await
            .texts(".media-name"),
        vec!["dog.png", "cat.png"]
    );
    // Someone else's image is not there for an author, as if it didn't exist.
    ann.page(&format!("/admin/media/{dog}"), StatusCode::NOT_FOUND)
        .await;
    ann.page(&format!("/admin/media/{cat}"), StatusCode::OK)
        .await;
    eve.page(&format!("/admin/media/{dog}"), StatusCode::OK)
        .await;

    // The editor's dialog's list: the same rule, never cached on the way.
    let res = ann.get("/admin/media.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let list: serde_json::Value = res.json().await.unwrap();
    let names: Vec<&str> = list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["cat.png"]);

    // The old address moved.
    let res = ann.get("/admin/uploads").await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.headers()["location"], "/admin/media");
}

#[tokio::test]
async fn the_library_is_searched_by_name_and_alt_text_and_filtered_to_unused_images() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = user_id(&app, "ann").await;
    let (_, sunset) = ready_upload(&app, id, "sunset_beach.png", "Waves at dusk").await;
    ready_upload(&app, id, "100%.png", "A full bar").await;
    ready_upload(&app, id, "sunsetXbeach.png", "").await;
    let search = |q: &'static str| {
        let ann = &ann;
        async move {
            ann.page(
                &format!(
                    "/admin/media?{}",
                    serde_urlencoded::to_string([("q", q)]).unwrap()
                ),
                StatusCode::OK,
            )
            .await
            .texts(".media-name")
        }
    };
    // Wildcards are taken as they are typed.
    assert_eq!(search("sunset_").await, vec!["sunset_beach.png"]);
    assert_eq!(search("%").await, vec!["100%.png"]);
    assert_eq!(search("DUSK").await, vec!["sunset_beach.png"]);
    assert!(search("nothing like it").await.is_empty());

    // A post uses one: "Unused" leaves it out; the grid says where it is used.
    app.post(
        id,
        PostSpec {
            title: "At the beach",
            body: &format!("![Waves](/uploads/{sunset})"),
            ..Default::default()
        },
    )
    .await;
    let unused = ann.page("/admin/media?unused=1", StatusCode::OK).await;
    assert_eq!(
        unused.texts(".media-name"),
        vec!["sunsetXbeach.png", "100%.png"]
    );
    let all = ann.page("/admin/media", StatusCode::OK).await;
    assert!(
        all.texts(".media-used")
            .contains(&"Used in 1 place".to_owned())
    );
    // A ready image's thumbnail is its 480 px WebP.
    let srcs = all.attrs(".media-thumb img", "src");
    assert!(srcs.iter().any(|s| s.ends_with("-480.webp")), "{srcs:?}");
    let json: serde_json::Value = ann
        .get("/admin/media.json?q=dusk")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        json["images"][0]["markdown"],
        format!("![Waves at dusk](/uploads/{sunset})")
    );
}

#[tokio::test]
async fn alt_text_is_kept_without_control_characters_and_offered_with_the_image() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let bytes = png(3);
    let (id, name) = upload(&ann, &app, "harbour.png", bytes.clone()).await;
    let page = format!("/admin/media/{id}");
    let res = ann
        .submit(
            &page,
            &page,
            &[("alt", "  Boats in the\nharbour\u{7} at [noon]  ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let alt: String = sqlx::query_scalar("SELECT alt FROM uploads WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(alt, "Boats in theharbour at [noon]");
    let shown = ann.page(&format!("{page}?saved=1"), StatusCode::OK).await;
    assert_eq!(
        shown.attr("#snippet", "value").unwrap(),
        format!("![Boats in theharbour at \\[noon\\]](/uploads/{name})")
    );
    assert!(shown.contains("Alt text saved."));
    // Too long: refused, what was typed kept.
    let long = "a".repeat(1001);
    let res = ann.submit(&page, &page, &[("alt", &long)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("at most 1000 characters")
    );
    // The same bytes pasted into the editor again come back with their words.
    let token = ann.csrf_token("/admin/posts/new").await;
    let form = multipart::Form::new()
        .text("csrf_token", token)
        .part("file", multipart::Part::bytes(bytes).file_name("again.png"));
    let answer: serde_json::Value = ann
        .client
        .post(ann.url("/admin/uploads/paste"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["alt"], "Boats in theharbour at [noon]");
    assert_eq!(answer["url"], format!("/uploads/{name}"));
    // Someone else's image can't be described by an author.
    let bob = app.signed_in("bob", Role::Author).await;
    let token = bob.csrf_token("/admin/media").await;
    let res = bob
        .client
        .post(bob.url(&page))
        .form(&[("csrf_token", token.as_str()), ("alt", "Mine now")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_image_in_use_is_not_deleted_and_an_unused_one_goes_with_its_files() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = user_id(&app, "ann").await;
    let (upload_id, name) = ready_upload(&app, id, "lighthouse.png", "A lighthouse").await;
    let slug = app
        .post(
            id,
            PostSpec {
                title: "By the lighthouse",
                body: "Words only.",
                cover: Some(&format!("/uploads/{name}")),
                ..Default::default()
            },
        )
        .await;
    let page = format!("/admin/media/{upload_id}");
    let shown = ann.page(&page, StatusCode::OK).await;
    assert_eq!(shown.texts(".media-places a"), vec!["By the lighthouse"]);
    // Asking first: the places to change instead of a button.
    let asked = ann.page(&format!("{page}/delete"), StatusCode::OK).await;
    assert!(asked.contains("is in use"));
    let delete = format!("{page}/delete");
    let res = ann.submit(&page, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains("By the lighthouse"), "{body}");
    let dir = app.settings.uploads.dir.clone();
    assert!(dir.join(&name).exists());

    // The post lets it go: now it may be deleted, and its files leave the store.
    sqlx::query("UPDATE posts SET cover_image = NULL WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    let confirm = ann.page(&delete, StatusCode::OK).await;
    assert_eq!(confirm.text("button.danger"), "Delete image");
    let res = ann.submit(&page, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let stem = name.trim_end_matches(".png");
    for key in [
        format!("originals/{name}"),
        name.clone(),
        format!("{stem}-480.png"),
        format!("{stem}-480.webp"),
        format!("{stem}-og.jpg"),
    ] {
        assert!(!dir.join(&key).exists(), "{key} is still stored");
    }
    ann.page(&page, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn picking_from_the_library_without_javascript_sets_the_image() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let id = user_id(&app, "ann").await;
    let (_, name) = ready_upload(&app, id, "cover.png", "A cover").await;
    // Only processed images are offered, as radio buttons under the field.
    ready_upload(&app, id, "other.png", "").await;
    sqlx::query("UPDATE uploads SET state = 'pending' WHERE original_name = 'other.png'")
        .execute(&app.db)
        .await
        .unwrap();
    let new = ann.page("/admin/posts/new", StatusCode::OK).await;
    assert_eq!(
        new.attrs("input[name=cover_image_pick]", "value"),
        vec![String::new(), name.clone()]
    );
    assert_eq!(
        new.texts("input[name=social_image_pick] + img + span"),
        vec!["A cover"]
    );

    let cover_of = |title: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT cover_image FROM posts WHERE title = $1",
            )
            .bind(title)
            .fetch_optional(&db)
            .await
            .unwrap()
        }
    };
    let fields = |title: &'static str, typed: &'static str, pick: String| {
        vec![
            ("title", title.to_owned()),
            ("body", "Text.".to_owned()),
            ("status", "draft".to_owned()),
            ("intent", "save".to_owned()),
            ("cover_image", typed.to_owned()),
            ("cover_image_pick", pick),
        ]
    };
    let save = |fields: Vec<(&'static str, String)>| {
        let ann = &ann;
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ann.submit("/admin/posts/new", "/admin/posts", &form).await
        }
    };
    // Picked: the pick wins over what is typed.
    let res = save(fields(
        "Picked",
        "https://typed.example/a.png",
        name.clone(),
    ))
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        cover_of("Picked").await,
        Some(Some(format!("/uploads/{name}")))
    );
    // Nothing picked: the typed address, checked as ever.
    let res = save(fields(
        "Typed",
        "https://typed.example/a.png",
        String::new(),
    ))
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        cover_of("Typed").await,
        Some(Some("https://typed.example/a.png".into()))
    );
    let res = save(fields("Bad typed", "javascript:alert(1)", String::new())).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A forged pick that names no upload is refused, and nothing is saved.
    let res = save(fields("Forged", "", "https://evil.example/x.png".into())).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Pick an image from the library")
    );
    assert_eq!(cover_of("Forged").await, None);

    // The same picker on the account's avatar and, for admins, the site's logo.
    let res = ann
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Ann"),
                ("bio", ""),
                ("avatar_url", ""),
                ("avatar_url_pick", &name),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let avatar: Option<String> = sqlx::query_scalar("SELECT avatar_url FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(avatar, Some(format!("/uploads/{name}")));
    let rosa = app.signed_in("rosa", Role::Admin).await;
    let settings = rosa.page("/admin/settings", StatusCode::OK).await;
    assert!(
        settings
            .attrs("input[name=logo_url_pick]", "value")
            .contains(&name),
        "editors and admins pick from everyone's images"
    );
    // The image is now used by the avatar: the library says so.
    let places = ann
        .page(
            &format!(
                "/admin/media/{}",
                sqlx::query_scalar::<_, i64>("SELECT id FROM uploads WHERE file_name = $1")
                    .bind(&name)
                    .fetch_one(&app.db)
                    .await
                    .unwrap()
            ),
            StatusCode::OK,
        )
        .await
        .texts(".media-places li");
    assert_eq!(places.len(), 2, "{places:?}");
}
