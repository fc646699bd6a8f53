//! The JSON API over HTTP: RealWorld 2.0.0's endpoints, shapes and error codes, and
//! Quire's additions (roles, drafts, versions).

use quire::accounts::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, eventually, spawn_app, spawn_app_with};

pub const PASSWORD: &str = "correct horse battery";

/// A JSON call with an optional token; the status and the body (JSON, or a failure).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    assert!(
        kind.starts_with("application/json"),
        "{path}: {kind}: {text}"
    );
    (status, serde_json::from_str(&text).unwrap())
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    call(app, Method::GET, path, token, None).await
}

/// Register `username` through the API; its token.
pub async fn register(app: &TestApp, username: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/users",
        None,
        Some(json!({"user": {
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["user"]["token"].as_str().unwrap().to_owned()
}

/// An open-publishing site: everyone who registers may write, as RealWorld assumes.
async fn open_site() -> TestApp {
    spawn_app_with(|s| s.accounts.default_role = Role::Author).await
}

/// Create an article (with a description unless given: the spec requires one).
async fn write(app: &TestApp, token: &str, mut article: Value) -> Value {
    if article.get("description").is_none() {
        article["description"] = json!("A description.");
    }
    let (status, body) = call(
        app,
        Method::POST,
        "/api/articles",
        Some(token),
        Some(json!({ "article": article })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["article"].clone()
}

fn errors(body: &Value, key: &str) -> Vec<String> {
    body["errors"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no errors.{key} in {body}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn register_log_in_read_and_update_the_account() {
    let app = spawn_app().await;
    let token = register(&app, "jacob").await;
    let (status, me) = get(&app, "/api/user", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"user": {"email": "jacob@example.com", "token": token, "username": "jacob",
                        "bio": null, "image": null}})
    );

    let (status, body) = call(
        &app,
        Method::POST,
        "/api/users/login",
        None,
        Some(json!({"user": {"email": "JACOB@example.com", "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let login_token = body["user"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&app, "/api/user", Some(&login_token)).await.0,
        StatusCode::OK
    );

    // Bearer works too.
    let res = app
        .client
        .get(app.url("/api/user"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/user",
        Some(&token),
        Some(json!({"user": {"bio": "I like to skateboard", "image": "https://i.example/j.png"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["bio"], "I like to skateboard");
    assert_eq!(body["user"]["image"], "https://i.example/j.png");
    assert_eq!(
        body["user"]["token"],
        json!(token),
        "no password change: same token"
    );
    // Empty strings clear them back to null.
    let (_, body) = call(
        &app,
        Method::PUT,
        "/api/user",
        Some(&token),
        Some(json!({"user": {"bio": "", "image": null}})),
    )
    .await;
    assert_eq!(
        (&body["user"]["bio"], &body["user"]["image"]),
        (&Value::Null, &Value::Null)
    );

    // Email, username and password are strings: `null` is refused, not taken as "keep".
    for field in ["email", "username", "password"] {
        let (status, body) = call(
            &app,
            Method::PUT,
            "/api/user",
            Some(&token),
            Some(json!({"user": {field: null}})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert!(!errors(&body, field).is_empty(), "{body}");
    }
    // Serde reads a struct from an array of its fields; an update is an object or nothing.
    for (body, field) in [
        (json!({"user": []}), "user"),
        (json!({"user": [null, null]}), "user"),
        (json!([{"user": {"bio": "x"}}]), "body"),
    ] {
        let (status, answer) = call(&app, Method::PUT, "/api/user", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(!errors(&answer, field).is_empty(), "{answer}");
    }

    // A new password ends every earlier token; the answer carries a working one.
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/user",
        Some(&token),
        Some(json!({"user": {"password": "an entirely new passphrase"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["user"]["token"].as_str().unwrap().to_owned();
    for old in [&token, &login_token] {
        let (status, body) = get(&app, "/api/user", Some(old)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(errors(&body, "token"), ["is invalid"]);
    }
    assert_eq!(get(&app, "/api/user", Some(&fresh)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn registration_and_login_errors_have_the_spec_shape() {
    let app = spawn_app().await;
    register(&app, "jacob").await;
    let post = |body: Value| call(&app, Method::POST, "/api/users", None, Some(body));

    let (status, body) = post(
        json!({"user": {"username": "jacob", "email": "other@example.com",
                                              "password": PASSWORD}}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(errors(&body, "username"), ["has already been taken"]);
    let (status, body) = post(
        json!({"user": {"username": "other", "email": "Jacob@Example.com",
                                              "password": PASSWORD}}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(errors(&body, "email"), ["has already been taken"]);

    let (status, body) = post(json!({"user": {"email": "x@example.com"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "username"), ["can't be blank"]);
    assert_eq!(errors(&body, "password"), ["can't be blank"]);
    let (status, body) = post(json!({"user": {"username": "a b", "email": "nope",
                                              "password": "short"}}))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["username", "email", "password"] {
        assert_eq!(errors(&body, field).len(), 1, "{field}: {body}");
    }
    let (status, body) = post(json!({"person": {}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "user"), ["is missing"]);
    let (status, body) = post(json!({"user": {"username": 5}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        errors(&body, "username")[0].contains("invalid type"),
        "{body}"
    );

    let (status, body) = call(
        &app,
        Method::POST,
        "/api/users/login",
        None,
        Some(json!({"user": {"email": "jacob@example.com", "password": "wrong password!"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(errors(&body, "credentials"), ["invalid"]);
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/users/login",
        None,
        Some(json!({"user": {"email": "", "password": ""}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "email"), ["can't be blank"]);
}

/// Method, path, content type, body; the status and the error key expected.
type BadCase = (
    Method,
    &'static str,
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn bad_bodies_and_tokens_answer_json_4xx() {
    let app = spawn_app().await;
    let token = register(&app, "jacob").await;
    let raw = |method: Method, path: &str, kind: &str, body: Vec<u8>| {
        app.client
            .request(method, app.url(path))
            .header("Content-Type", kind.to_owned())
            .body(body)
            .send()
    };
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            "/api/users",
            "application/json",
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::POST,
            "/api/users",
            "text/plain",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body",
        ),
        (
            Method::POST,
            "/api/users",
            "application/json",
            vec![0xff, 0xfe, b'{'],
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::POST,
            "/api/users",
            "application/json",
            format!(
                "{{\"user\": {{\"username\": \"{}\"}}}}",
                "a".repeat(3 << 20)
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
        ),
        (
            Method::POST,
            "/api/users/login",
            "application/json",
            b"{\"user\": []}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user",
        ),
        (
            Method::GET,
            "/api/nowhere",
            "application/json",
            vec![],
            StatusCode::NOT_FOUND,
            "path",
        ),
        (
            Method::PATCH,
            "/api/user",
            "application/json",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "request",
        ),
        (
            Method::GET,
            "/api/articles?limit=abc",
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "query",
        ),
        (
            Method::GET,
            "/api/articles?limit=0",
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            Method::GET,
            "/api/articles?limit=101",
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            Method::GET,
            "/api/articles?offset=-1",
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "offset",
        ),
        (
            Method::GET,
            "/api/articles?limit=99999999999999999999999",
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "query",
        ),
        (
            Method::GET,
            "/api/articles/nope",
            "application/json",
            vec![],
            StatusCode::NOT_FOUND,
            "article",
        ),
        (
            Method::GET,
            "/api/profiles/nobody",
            "application/json",
            vec![],
            StatusCode::NOT_FOUND,
            "profile",
        ),
    ];
    for (method, path, kind, body, status, key) in cases {
        let res = raw(method.clone(), path, kind, body).await.unwrap();
        assert_eq!(res.status(), status, "{method} {path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(!errors(&body, key).is_empty(), "{method} {path}: {body}");
    }

    // Tokens: missing, malformed, forged, another scheme; each a 401 keyed `token`, and
    // checked before anything else (an unknown slug without a token is 401, not 404).
    let (status, body) = call(&app, Method::DELETE, "/api/articles/nope", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(errors(&body, "token"), ["is missing"]);
    let mut forged = token.clone();
    forged.truncate(forged.len() - 2);
    forged.push_str("xx");
    let payload = token.split('.').nth(1).unwrap();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    for bad in [forged.as_str(), none.as_str(), "garbage", "a.b.c"] {
        let (status, body) = get(&app, "/api/user", Some(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(errors(&body, "token"), ["is invalid"]);
    }
    let res = app
        .client
        .get(app.url("/api/user"))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // JSON content type on a GET or bodyless DELETE is harmless.
    let res = app
        .client
        .get(app.url("/api/tags"))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_disabled_or_deleted_account_s_token_stops_at_once() {
    let app = spawn_app().await;
    let token = register(&app, "jacob").await;
    assert_eq!(get(&app, "/api/user", Some(&token)).await.0, StatusCode::OK);
    sqlx::query("UPDATE users SET disabled_at = now() WHERE username = 'jacob'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/api/user", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other = register(&app, "other").await;
    sqlx::query("DELETE FROM users WHERE username = 'other'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/api/user", Some(&other)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn articles_favourites_comments_follows_and_tags() {
    let app = open_site().await;
    let jake = register(&app, "jake").await;
    let celeb = register(&app, "celeb").await;

    let article = write(
        &app,
        &celeb,
        json!({"title": "How to train your dragon", "description": "Ever wonder how?",
               "body": "Very carefully.", "tagList": ["training", "dragons"]}),
    )
    .await;
    assert_eq!(article["slug"], "how-to-train-your-dragon");
    assert_eq!(article["tagList"], json!(["dragons", "training"]), "sorted");
    assert_eq!(article["body"], "Very carefully.");
    assert_eq!(article["favorited"], false);
    assert_eq!(article["favoritesCount"], 0);
    assert_eq!(article["author"]["username"], "celeb");
    assert_eq!(article["status"], "published");
    let created = article["createdAt"].as_str().unwrap();
    assert!(
        created.len() == 24 && created.ends_with('Z') && &created[19..20] == ".",
        "{created}"
    );
    // The same title again: a distinct slug.
    let again = write(
        &app,
        &celeb,
        json!({"title": "How to train your dragon", "description": "Again", "body": "Twice."}),
    )
    .await;
    assert_eq!(again["slug"], "how-to-train-your-dragon-2");
    // A blank description is the spec's 422, not derived from the body (the site's editor
    // derives one).
    for description in [json!(""), json!("  "), Value::Null] {
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/articles",
            Some(&celeb),
            Some(json!({"article": {"title": "Blank", "description": description, "body": "B"}})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body, json!({"errors": {"description": ["can't be blank"]}}));
    }

    // It is on the site too, rendered like an editor's post.
    let page = app
        .page("/posts/how-to-train-your-dragon", StatusCode::OK)
        .await;
    assert_eq!(page.text("h1"), "How to train your dragon");

    let (status, list) = get(&app, "/api/articles?tag=dragons", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["articlesCount"], 1);
    assert!(
        list["articles"][0].get("body").is_none(),
        "lists leave out the body"
    );
    let (_, list) = get(&app, "/api/articles?tag=unknown", None).await;
    assert_eq!(list, json!({"articles": [], "articlesCount": 0}));
    let (_, list) = get(&app, "/api/articles?author=nobody", None).await;
    assert_eq!(list["articlesCount"], 0);
    let (_, list) = get(&app, "/api/articles?author=celeb&limit=1", None).await;
    assert_eq!(list["articlesCount"], 2);
    assert_eq!(list["articles"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["articles"][0]["slug"], "how-to-train-your-dragon-2",
        "newest first"
    );
    let (_, list) = get(&app, "/api/articles?author=celeb&limit=1&offset=1", None).await;
    assert_eq!(list["articles"][0]["slug"], "how-to-train-your-dragon");
    // Past the end: no articles, and still the total (whole list and filtered).
    for path in [
        "/api/articles?offset=50",
        "/api/articles?author=celeb&offset=50",
    ] {
        let (_, list) = get(&app, path, None).await;
        assert_eq!(list["articles"].as_array().unwrap().len(), 0, "{path}");
        assert_eq!(list["articlesCount"], 2, "{path}");
    }
    let (_, list) = get(&app, "/api/articles?limit=1", None).await;
    assert_eq!(list["articlesCount"], 2, "the whole list's total");

    // Favourites.
    let slug = "how-to-train-your-dragon";
    let (status, fav) = call(
        &app,
        Method::POST,
        &format!("/api/articles/{slug}/favorite"),
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            &fav["article"]["favorited"],
            &fav["article"]["favoritesCount"]
        ),
        (&json!(true), &json!(1))
    );
    let (_, list) = get(&app, "/api/articles?favorited=jake", Some(&jake)).await;
    assert_eq!(list["articlesCount"], 1);
    assert_eq!(list["articles"][0]["favorited"], true);
    let (_, anon) = get(&app, &format!("/api/articles/{slug}"), None).await;
    assert_eq!(
        (
            &anon["article"]["favorited"],
            &anon["article"]["favoritesCount"]
        ),
        (&json!(false), &json!(1))
    );
    let (_, unfav) = call(
        &app,
        Method::DELETE,
        &format!("/api/articles/{slug}/favorite"),
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(unfav["article"]["favoritesCount"], 0);

    // Follows and the feed.
    let (_, feed) = get(&app, "/api/articles/feed", Some(&jake)).await;
    assert_eq!(feed, json!({"articles": [], "articlesCount": 0}));
    let (status, profile) = call(
        &app,
        Method::POST,
        "/api/profiles/celeb/follow",
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        profile,
        json!({"profile": {"username": "celeb", "bio": null, "image": null, "following": true}})
    );
    let (_, feed) = get(&app, "/api/articles/feed", Some(&jake)).await;
    assert_eq!(feed["articlesCount"], 2);
    assert_eq!(feed["articles"][0]["author"]["following"], true);
    let (_, profile) = get(&app, "/api/profiles/celeb", None).await;
    assert_eq!(profile["profile"]["following"], false);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/profiles/jake/follow",
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, profile) = call(
        &app,
        Method::DELETE,
        "/api/profiles/celeb/follow",
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(profile["profile"]["following"], false);

    // Comments: 201, listed, deleted by their author only (or the post's author).
    let path = format!("/api/articles/{slug}/comments");
    let (status, comment) = call(
        &app,
        Method::POST,
        &path,
        Some(&jake),
        Some(json!({"comment": {"body": "Thank you so much!"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let id = comment["comment"]["id"].as_i64().unwrap();
    assert_eq!(comment["comment"]["author"]["username"], "jake");
    let (_, list) = get(&app, &path, None).await;
    assert_eq!(list["comments"].as_array().unwrap().len(), 1);
    let (status, body) = call(
        &app,
        Method::POST,
        &path,
        Some(&jake),
        Some(json!({"comment": {"body": "  "}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "body"), ["can't be blank"]);
    let other = register(&app, "other").await;
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("{path}/{id}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(errors(&body, "comment"), ["forbidden"]);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("{path}/999999"),
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("{path}/{id}"),
        Some(&jake),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (_, list) = get(&app, &path, None).await;
    assert_eq!(list["comments"], json!([]));

    let (_, tags) = get(&app, "/api/tags", None).await;
    assert_eq!(tags, json!({"tags": ["dragons", "training"]}));

    // Update: only the author (or an editor); the slug stays; tags kept unless sent.
    let (status, body) = call(
        &app,
        Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&jake),
        Some(json!({"article": {"body": "Mine now"}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(errors(&body, "article"), ["forbidden"]);
    let (status, body) = call(
        &app,
        Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&celeb),
        Some(json!({"article": {"body": "With two hands", "title": "Dragons, trained"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["article"]["slug"], slug);
    assert_eq!(body["article"]["title"], "Dragons, trained");
    assert_eq!(body["article"]["body"], "With two hands");
    assert_eq!(body["article"]["tagList"], json!(["dragons", "training"]));
    assert_ne!(body["article"]["updatedAt"], article["updatedAt"]);
    let (status, body) = call(
        &app,
        Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&celeb),
        Some(json!({"article": {"tagList": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!errors(&body, "tagList").is_empty());
    let (_, body) = call(
        &app,
        Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&celeb),
        Some(json!({"article": {"tagList": []}})),
    )
    .await;
    assert_eq!(body["article"]["tagList"], json!([]));

    // Delete: 204, then 404; to the trash like the admin's delete.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/articles/{slug}"),
        Some(&jake),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/articles/{slug}"),
        Some(&celeb),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(
        get(&app, &format!("/api/articles/{slug}"), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn roles_drafts_scheduling_and_versions() {
    // Readers by default: writing needs the author role.
    let app = spawn_app().await;
    let reader = register(&app, "reader").await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&reader),
        Some(json!({"article": {"title": "T", "description": "D", "body": "B"}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(errors(&body, "article"), ["forbidden"]);

    sqlx::query("UPDATE users SET role = 'author' WHERE username = 'reader'")
        .execute(&app.db)
        .await
        .unwrap();
    let author = reader;
    let draft = write(
        &app,
        &author,
        json!({"title": "Work in progress", "body": "Draft text", "status": "draft"}),
    )
    .await;
    assert_eq!(
        (&draft["status"], &draft["publishAt"]),
        (&json!("draft"), &Value::Null)
    );
    let slug = draft["slug"].as_str().unwrap().to_owned();
    // Invisible to others, visible to its author.
    assert_eq!(
        get(&app, &format!("/api/articles/{slug}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &format!("/api/articles/{slug}"), Some(&author))
            .await
            .0,
        StatusCode::OK
    );
    let (_, list) = get(&app, "/api/articles", None).await;
    assert_eq!(list["articlesCount"], 0);
    let (_, drafts) = get(&app, "/api/articles?status=draft", Some(&author)).await;
    assert_eq!(drafts["articlesCount"], 1);
    assert_eq!(
        get(&app, "/api/articles?status=draft", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Scheduling: later is "scheduled", the past is refused.
    let later = "2099-01-01T09:00:00Z";
    let scheduled = write(
        &app,
        &author,
        json!({"title": "Later", "body": "Soon", "status": "scheduled", "publishAt": later}),
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(scheduled["publishAt"], "2099-01-01T09:00:00.000Z");
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&author),
        Some(
            json!({"article": {"title": "Past", "body": "B", "status": "scheduled",
                                "publishAt": "2001-01-01T00:00:00Z"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!errors(&body, "publishAt").is_empty());
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&author),
        Some(json!({"article": {"description": "no title"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "title"), ["can't be blank"]);
    assert_eq!(errors(&body, "body"), ["can't be blank"]);
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&author),
        Some(json!({"article": {"title": "No description", "body": "B"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "description"), ["can't be blank"]);

    // Versions: a save from an old version is refused with the article as it is now.
    let version = draft["version"].as_i64().unwrap();
    let path = format!("/api/articles/{slug}");
    let (status, first) = call(
        &app,
        Method::PUT,
        &path,
        Some(&author),
        Some(json!({"article": {"body": "First save", "version": version}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let res = app
        .client
        .put(app.url(&path))
        .header("Authorization", format!("Token {author}"))
        .header("If-Match", format!("\"{version}\""))
        .json(&json!({"article": {"body": "Second, from the old version"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["article"]["body"], "First save");
    assert!(!errors(&body, "article").is_empty());

    // Publishing through an update; revisions for the author.
    let (_, published) = call(
        &app,
        Method::PUT,
        &path,
        Some(&author),
        Some(json!({"article": {"status": "published"}})),
    )
    .await;
    assert_eq!(published["article"]["status"], "published");
    assert_eq!(get(&app, &path, None).await.0, StatusCode::OK);
    let (status, revisions) = get(&app, &format!("{path}/revisions"), Some(&author)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        revisions["revisions"].as_array().unwrap().len() >= 2,
        "{revisions}"
    );
    let stranger = register(&app, "stranger").await;
    assert_eq!(
        get(&app, &format!("{path}/revisions"), Some(&stranger))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn search_through_the_api_follows_the_site_s_rules() {
    let app = open_site().await;
    let token = register(&app, "writer").await;
    write(
        &app,
        &token,
        json!({"title": "Herons at dawn", "body": "A grey heron."}),
    )
    .await;
    write(
        &app,
        &token,
        json!({"title": "Kestrels", "body": "Hovering.", "status": "draft"}),
    )
    .await;
    let (status, found) = get(&app, "/api/articles?q=heron", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["articlesCount"], 1);
    assert_eq!(found["articles"][0]["title"], "Herons at dawn");
    let (_, none) = get(&app, "/api/articles?q=kestrel", None).await;
    assert_eq!(none["articlesCount"], 0, "drafts are never found");
}

/// Every protected API route against every role (none, reader, author, editor, admin):
/// the exact status each gets. Each role gets fresh things to act on, owned by someone else.
#[tokio::test]
async fn every_protected_route_against_every_role() {
    use crate::harness::PostSpec;
    use quire::posts::model::PostStatus;

    let app = spawn_app().await;
    let tokens = quire::api::jwt::Tokens::new(&app.settings.api, {
        use secrecy::ExposeSecret;
        app.settings.session.secret.expose_secret()
    });
    let roles = [
        None,
        Some(Role::Reader),
        Some(Role::Author),
        Some(Role::Editor),
        Some(Role::Admin),
    ];
    type Case = (Method, &'static str, Option<Value>, [u16; 5]);
    let table: Vec<Case> = vec![
        (Method::GET, "/api/user", None, [401, 200, 200, 200, 200]),
        (
            Method::PUT,
            "/api/user",
            Some(json!({"user": {}})),
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/articles/feed",
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/articles?status=draft",
            None,
            [401, 403, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/articles",
            Some(json!({"article": {"title": "Mine", "description": "D", "body": "Text"}})),
            [401, 403, 201, 201, 201],
        ),
        (
            Method::PUT,
            "/api/articles/{post}",
            Some(json!({"article": {"body": "Changed"}})),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/articles/{draft}",
            None,
            [404, 404, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/articles/{post}/revisions",
            None,
            [401, 403, 403, 200, 200],
        ),
        (
            Method::POST,
            "/api/articles/{post}/favorite",
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/articles/{post}/favorite",
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/articles/{post}/comments",
            Some(json!({"comment": {"body": "Hello"}})),
            [401, 201, 201, 201, 201],
        ),
        (
            Method::DELETE,
            "/api/articles/{post}/comments/{comment}",
            None,
            [401, 403, 403, 204, 204],
        ),
        (
            Method::POST,
            "/api/profiles/{owner}/follow",
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/profiles/{owner}/follow",
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/articles/{post}",
            None,
            [401, 403, 403, 204, 204],
        ),
    ];
    for (i, role) in roles.iter().enumerate() {
        let token = match role {
            None => None,
            Some(role) => {
                let id = app.user(&format!("caller{i}"), *role).await;
                Some(tokens.issue(id, 0).unwrap())
            }
        };
        let owner_name = format!("owner{i}");
        let owner = app.author(&owner_name).await;
        let post = app
            .post(
                owner,
                PostSpec {
                    title: &format!("Owned {i}"),
                    ..Default::default()
                },
            )
            .await;
        let draft = app
            .post(
                owner,
                PostSpec {
                    title: &format!("Draft {i}"),
                    status: PostStatus::Draft,
                    ..Default::default()
                },
            )
            .await;
        let comment: i64 = sqlx::query_scalar(
            "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
             SELECT id, $2, 'Theirs', '<p>Theirs</p>' FROM posts WHERE slug = $1 RETURNING id",
        )
        .bind(&post)
        .bind(owner)
        .fetch_one(&app.db)
        .await
        .unwrap();
        for (method, path, body, expected) in &table {
            let path = path
                .replace("{post}", &post)
                .replace("{draft}", &draft)
                .replace("{owner}", &owner_name)
                .replace("{comment}", &comment.to_string());
            let (status, reply) =
                call(&app, method.clone(), &path, token.as_deref(), body.clone()).await;
            assert_eq!(
                status.as_u16(),
                expected[i],
                "{method} {path} as {role:?}: {reply}"
            );
        }
    }
}

/// What real authors and attackers send: a 1 MiB body, control characters, NUL, a body
/// over the limit. Nothing half-written; every refusal is JSON.
#[tokio::test]
async fn real_sizes_and_hostile_text() {
    let app = open_site().await;
    let token = register(&app, "writer").await;
    let max = app.settings.posts.max_body_bytes;
    let big = "Words and more words. ".repeat(max / 22);
    assert!(big.len() <= max && big.len() > max - 100);
    let article = write(&app, &token, json!({"title": "A long one", "body": big})).await;
    assert_eq!(article["body"].as_str().unwrap().len(), big.len());
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&token),
        Some(json!({"article": {"title": "Too long", "body": format!("{big}{}", &big[..1000])}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!errors(&body, "body").is_empty());

    // Tabs and newlines are text; other control characters are dropped, as by the forms.
    let odd = write(
        &app,
        &token,
        json!({"title": "Tab\there\u{0007}", "body": "Line one\r\nLine two \\ back//slash"}),
    )
    .await;
    assert_eq!(odd["title"], "Tab\there");
    assert_eq!(odd["body"], "Line one\nLine two \\ back//slash");

    let (status, body) = call(
        &app,
        Method::POST,
        "/api/articles",
        Some(&token),
        Some(json!({"article": {"title": "Nul\u{0000}here", "description": "D", "body": "B"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&body, "title"), ["contains a NUL character"]);
    let (_, list) = get(&app, "/api/articles?author=writer", None).await;
    assert_eq!(list["articlesCount"], 2, "nothing half-written");
}

/// CORS: preflights from a configured origin are answered without a token and without
/// credentials; other origins get no CORS headers; `*` is a wildcard.
#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let app = spawn_app_with(|s| s.api.cors_origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/articles"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let res = preflight("https://app.example").await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        res.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let res = preflight("https://evil.example").await.unwrap();
    assert!(res.status().is_client_error());
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // A real request from the allowed origin carries the header; the site's pages don't.
    let res = app
        .client
        .get(app.url("/api/tags"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );

    let open = spawn_app_with(|s| s.api.cors_origins = vec!["*".into()]).await;
    let res = open
        .client
        .get(open.url("/api/tags"))
        .header("Origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

/// Per-address and per-account allowances, told in `RateLimit-*` headers; over one, a
/// JSON 429 with `Retry-After`.
#[tokio::test]
async fn api_calls_are_rate_limited_per_address_and_per_account() {
    let app = spawn_app_with(|s| {
        s.api.requests_per_minute = 3;
        s.api.account_requests_per_minute = 5;
    })
    .await;
    let token = quire::api::jwt::Tokens::new(&app.settings.api, {
        use secrecy::ExposeSecret;
        app.settings.session.secret.expose_secret()
    })
    .issue(app.user("counted", Role::Reader).await, 0)
    .unwrap();
    for left in [2, 1, 0] {
        let res = app.client.get(app.url("/api/tags")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        assert_eq!(
            res.headers()["ratelimit-remaining"],
            left.to_string().as_str()
        );
    }
    let res = app.client.get(app.url("/api/tags")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let body: Value = res.json().await.unwrap();
    assert!(!errors(&body, "request").is_empty());
    // The account has its own allowance.
    let (status, _) = get(&app, "/api/user", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .client
        .get(app.url("/api/user"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["ratelimit-limit"], "5");
    assert_eq!(res.headers()["ratelimit-remaining"], "3");
}

/// GET answers carry a strong ETag; sending it back is a 304 without a body, until the
/// article changes.
#[tokio::test]
async fn get_answers_have_etags_and_revalidate() {
    let app = open_site().await;
    let token = register(&app, "writer").await;
    let article = write(&app, &token, json!({"title": "Tagged", "body": "One"})).await;
    let path = format!("/api/articles/{}", article["slug"].as_str().unwrap());
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && !tag.starts_with("W/"), "{tag}");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=0, must-revalidate"
    );
    let again = |tag: String| {
        app.client
            .get(app.url(&path))
            .header("If-None-Match", tag)
            .send()
    };
    let res = again(tag.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()["etag"], tag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());
    call(
        &app,
        Method::PUT,
        &path,
        Some(&token),
        Some(json!({"article": {"body": "Two"}})),
    )
    .await;
    let res = again(tag.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a change is a new version");
    assert_ne!(res.headers()["etag"], tag.as_str());
    // With a token: about one person.
    let res = app
        .client
        .get(app.url("/api/user"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "private, no-cache");
}

/// Ten registrations of one name at once: exactly one account, the rest 409, none a 500.
#[tokio::test]
async fn simultaneous_registrations_of_one_name_make_one_account() {
    // Enough hashing permits that none is refused as busy: the unique index must decide.
    let app = spawn_app_with(|s| {
        s.accounts.hash_concurrency = 10;
        s.accounts.registrations_per_hour = 100;
    })
    .await;
    let attempts = (0..10).map(|i| {
        call(
            &app,
            Method::POST,
            "/api/users",
            None,
            Some(
                json!({"user": {"username": "same", "email": format!("same{i}@example.com"),
                                 "password": PASSWORD}}),
            ),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let taken = results
        .iter()
        .filter(|(s, b)| {
            *s == StatusCode::CONFLICT && errors(b, "username") == ["has already been taken"]
        })
        .count();
    assert_eq!((created, taken), (1, 9), "{results:?}");
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username = 'same'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 1);
}

/// Anonymous reads go through the hot-page cache (counted, with CORS headers, varying by
/// `Authorization`), are never stale after a write or past a scheduled article's time, and
/// calls with a token never touch it.
#[tokio::test]
async fn anonymous_reads_are_cached_and_never_stale() {
    let app = spawn_app_with(|s| {
        s.accounts.default_role = Role::Author;
        s.api.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    let token = register(&app, "writer").await;
    let article = write(
        &app,
        &token,
        json!({"title": "Kept answers", "body": "Body", "tagList": ["cached"]}),
    )
    .await;
    let slug = article["slug"].as_str().unwrap().to_owned();
    let anonymous = |path: String| {
        app.client
            .get(app.url(&path))
            .header("Origin", "https://app.example")
            .send()
    };
    for path in [
        "/api/articles".to_owned(),
        "/api/articles?tag=cached&limit=5".to_owned(),
        format!("/api/articles/{slug}"),
        format!("/api/articles/{slug}/comments"),
        "/api/tags".to_owned(),
        "/api/profiles/writer".to_owned(),
    ] {
        let first = anonymous(path.clone()).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(first.headers()["x-cache"], "MISS", "{path}");
        let remaining = |res: &reqwest::Response| -> u64 {
            res.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        let before = remaining(&first);
        let etag = first.headers()["etag"].clone();
        let body = first.text().await.unwrap();
        let second = anonymous(path.clone()).await.unwrap();
        assert_eq!(second.headers()["x-cache"], "HIT", "{path}");
        assert_eq!(second.headers()["etag"], etag, "{path}");
        assert!(remaining(&second) < before, "{path}: a hit is counted");
        assert_eq!(
            second.headers()["access-control-allow-origin"],
            "https://app.example",
            "{path}"
        );
        let vary: Vec<_> = second.headers().get_all("vary").iter().collect();
        assert!(
            vary.iter()
                .any(|v| v.to_str().unwrap().contains("Authorization")),
            "{path}: {vary:?}"
        );
        assert!(
            second.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(second.text().await.unwrap(), body, "{path}");
        // Someone with a token gets their own answer, never the kept one.
        let personal = app
            .client
            .get(app.url(&path))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap();
        assert!(personal.headers().get("x-cache").is_none(), "{path}");
        assert_eq!(personal.headers()["cache-control"], "private, no-cache");
    }

    // A write through the API makes every kept answer stale at once.
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/articles/{slug}/favorite"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let res = anonymous(format!("/api/articles/{slug}")).await.unwrap();
    assert_eq!(res.headers()["x-cache"], "MISS");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["article"]["favoritesCount"], 1);
    assert_eq!(body["article"]["favorited"], false);

    // A scheduled article appears in the kept list at its time, with no write in between
    // (the API takes minutes; the time is set directly).
    let soon = write(
        &app,
        &token,
        json!({"title": "Soon", "body": "B", "status": "scheduled",
               "publishAt": "2099-01-01T09:00:00Z"}),
    )
    .await;
    sqlx::query("UPDATE posts SET published_at = now() + interval '2 seconds' WHERE slug = $1")
        .bind(soon["slug"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    app.pages().stale().await;
    let count = |body: Value| body["articlesCount"].as_i64().unwrap();
    let res = anonymous("/api/articles".into()).await.unwrap();
    assert_eq!(count(res.json().await.unwrap()), 1);
    let res = anonymous("/api/articles".into()).await.unwrap();
    assert_eq!(res.headers()["x-cache"], "HIT");
    // Due in two seconds: not kept much past that.
    eventually(
        "the scheduled one to be out",
        std::time::Duration::from_secs(5),
        || async {
            let res = anonymous("/api/articles".into()).await.unwrap();
            let n = count(res.json().await.unwrap());
            if n == 2 {
                Ok(())
            } else {
                Err(format!("{n} articles"))
            }
        },
    )
    .await;
}

/// Two instances share one allowance: each counts calls itself and flushes to Redis ten
/// times a second, so the other sees them within a flush or two.
#[tokio::test]
async fn instances_share_one_allowance() {
    use secrecy::ExposeSecret;
    let a = spawn_app_with(|s| s.api.requests_per_minute = 10).await;
    let b = a.another_instance().await;
    let call = |app: &TestApp| app.client.get(app.url("/api/tags")).send();
    let remaining = |res: &reqwest::Response| -> u64 {
        res.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // What Redis holds for this address (every instance's flushed calls).
    let client = redis::Client::open(a.settings.redis.url.expose_secret()).unwrap();
    let redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}rl:api:address:127.0.0.1", a.settings.redis.key_prefix);
    let flushed = async |at_least: u64| {
        let what = format!("{at_least} calls flushed to Redis");
        eventually(&what, std::time::Duration::from_secs(5), || {
            let mut redis = redis.clone();
            let key = key.clone();
            async move {
                let n: Option<u64> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                if n.unwrap_or(0) >= at_least {
                    Ok(())
                } else {
                    Err(n)
                }
            }
        })
        .await
    };
    for left in (4..=9).rev() {
        let res = call(&a).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(remaining(&res), left, "counted exactly on one instance");
    }
    flushed(6).await;
    let res = call(&b).await.unwrap();
    assert_eq!(remaining(&res), 3, "the other instance sees the six calls");
    for _ in 0..3 {
        assert_eq!(call(&b).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        call(&b).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The first instance learns of it at its next flushes: a call or two may still pass
    // there (the documented lag), then it refuses too.
    flushed(11).await;
    let mut passed = 0;
    let mut refused = false;
    for _ in 0..20 {
        let res = call(&a).await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(remaining(&res), 0);
            refused = true;
            break;
        }
        passed += 1;
        // Time is the point: calls spaced past a flush, to count how many the lag lets by.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    assert!(refused, "the first instance never refused");
    assert!(
        passed <= 2,
        "{passed} calls passed after the allowance was spent"
    );
}

#[tokio::test]
async fn a_nul_or_other_stray_byte_in_a_path_is_a_json_404_not_a_500() {
    let app = open_site().await;
    let token = register(&app, "pathy").await;
    let cases = [
        (Method::GET, "/api/profiles/a%00b"),
        (Method::POST, "/api/profiles/a%00b/follow"),
        (Method::DELETE, "/api/profiles/a%00b/follow"),
        (Method::GET, "/api/articles/a%00b"),
        (Method::PUT, "/api/articles/a%00b"),
        (Method::DELETE, "/api/articles/a%00b"),
        (Method::GET, "/api/articles/a%00b/comments"),
        (Method::POST, "/api/articles/a%00b/comments"),
        (Method::DELETE, "/api/articles/a%00b/comments/1"),
        (Method::POST, "/api/articles/a%00b/favorite"),
        (Method::DELETE, "/api/articles/a%00b/favorite"),
        (Method::GET, "/api/articles/a%00b/revisions"),
        (Method::GET, "/api/profiles/a%09b"),
        (Method::GET, "/api/articles/a%0D%0Ab"),
    ];
    for (method, path) in cases {
        let body = matches!(method, Method::PUT | Method::POST)
            .then(|| json!({"article": {"title": "t"}, "comment": {"body": "b"}}));
        let (status, json) = call(&app, method.clone(), path, Some(&token), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {json}");
        assert!(json["errors"].is_object(), "{method} {path}: {json}");
    }
}

/// The published RealWorld suites register with passwords like `password123`, `bonjour1`
/// and 64 `a`s: a deployment with the relaxed policy takes them, Quire's default doesn't.
#[tokio::test]
async fn the_password_policy_is_a_setting_so_realworld_suites_run_unchanged() {
    let strict = open_site().await;
    let relaxed = spawn_app_with(|s| {
        s.accounts.default_role = Role::Author;
        s.accounts.min_password_length = 8;
        s.accounts.refuse_common_passwords = false;
    })
    .await;
    let long_a = "a".repeat(64);
    for (n, password) in ["password123", "bonjour1", long_a.as_str()]
        .iter()
        .enumerate()
    {
        let user = json!({"user": {
            "username": format!("rw{n}"),
            "email": format!("rw{n}@test.com"),
            "password": password,
        }});
        let (status, body) = call(
            &strict,
            Method::POST,
            "/api/users",
            None,
            Some(user.clone()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}: {body}"
        );
        assert!(body["errors"]["password"].is_array(), "{body}");
        let (status, body) = call(&relaxed, Method::POST, "/api/users", None, Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{password}: {body}");
        let (status, body) = call(
            &relaxed,
            Method::POST,
            "/api/users/login",
            None,
            Some(json!({"user": {"email": format!("rw{n}@test.com"), "password": password}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = call(
        &relaxed,
        Method::POST,
        "/api/users",
        None,
        Some(json!({"user": {"username": "shorty", "email": "s@test.com", "password": "bonjour"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"]["password"][0],
        "a password needs at least 8 characters"
    );
}

/// Issue 24: `?q=` searches count against `search.requests_per_minute`, the allowance the
/// site's `/search` has (70 a minute were all answered): past it a JSON 429, on both front
/// doors, while listing without `q` goes on.
#[tokio::test]
async fn api_searches_count_against_the_search_allowance() {
    let app = spawn_app().await;
    let allowed = app.settings.search.requests_per_minute;
    assert_eq!(allowed, 60);
    for i in 0..allowed {
        let (status, body) = get(&app, &format!("/api/articles?q=word{i}"), None).await;
        assert_eq!(status, StatusCode::OK, "search {i}: {body}");
    }
    let res = app
        .client
        .get(app.url("/api/articles?q=one+more"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body: Value = res.json().await.unwrap();
    assert!(!errors(&body, "request").is_empty(), "{body}");
    // One allowance for both front doors.
    let res = app.get("/search?q=elsewhere").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // A list without `q` (or with an empty one) is not a search.
    for path in ["/api/articles", "/api/articles?q=", "/api/articles?tag=x"] {
        let (status, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}
