//! One rule per fact, for every front door (issue 25, item 4): each row sends the same input
//! through the site (a browser's form, with its CSRF token) and through the JSON API (with a
//! token), and expects the same verdict from both: accepted, refused for a named field, or
//! forbidden. The messages may differ (the API speaks RealWorld's 422 shape); the verdicts
//! may not.

use quire::accounts::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    api::call,
    harness::{PASSWORD, Page, PostSpec, TestApp, spawn_app},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    /// Refused, for the field the site's form calls this.
    Refused(&'static str),
    /// Not this person's to do.
    Forbidden,
}

use Verdict::{Accepted, Forbidden, Refused};

/// The API's key for a field the site's form calls `site` (RealWorld's names).
fn api_key(site: &str) -> &str {
    match site {
        "excerpt" => "description",
        "tags" => "tagList",
        "avatar_url" => "image",
        other => other,
    }
}

/// An API token for `username` (made by `signed_in`), through the API's own login.
async fn token(app: &TestApp, username: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/users/login",
        None,
        Some(json!({"user": {"email": format!("{username}@example.com"), "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["token"].as_str().unwrap().to_owned()
}

/// What the site answered a form with: a redirect is accepted; a 403 forbidden; otherwise the
/// one field the page marks as wrong (or, for a 400, the field its message names).
async fn site_verdict(res: reqwest::Response, fields: &[&'static str]) -> Verdict {
    let status = res.status();
    let body = res.text().await.unwrap();
    match status {
        StatusCode::SEE_OTHER => Accepted,
        StatusCode::FORBIDDEN => Forbidden,
        StatusCode::BAD_REQUEST => {
            let field = fields
                .iter()
                .find(|f| body.contains(&format!("“{f}”")))
                .unwrap_or_else(|| panic!("400 naming no field: {body}"));
            Refused(field)
        }
        _ => {
            let marked = Page::parse(&body).attrs(".has-error [name]", "name");
            assert_eq!(
                marked.len(),
                1,
                "{status}: one field marked, not {marked:?}"
            );
            let field = fields
                .iter()
                .find(|f| **f == marked[0])
                .unwrap_or_else(|| panic!("{status}: unexpected field {marked:?}"));
            Refused(field)
        }
    }
}

/// What the API answered: 2xx accepted; 403 forbidden; 422 for exactly one field.
fn api_verdict(status: StatusCode, body: &Value, fields: &[&'static str]) -> Verdict {
    match status {
        s if s.is_success() => Accepted,
        StatusCode::FORBIDDEN => Forbidden,
        StatusCode::UNPROCESSABLE_ENTITY => {
            let keys: Vec<&String> = body["errors"].as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 1, "one field refused, not {body}");
            let field = fields
                .iter()
                .find(|f| api_key(f) == keys[0])
                .unwrap_or_else(|| panic!("unexpected field in {body}"));
            Refused(field)
        }
        other => panic!("{other}: {body}"),
    }
}

struct PostRow {
    what: &'static str,
    title: String,
    body: String,
    tags: Vec<String>,
    expected: Verdict,
}

#[tokio::test]
async fn a_post_is_judged_alike_by_the_editor_and_the_api() {
    let app = spawn_app().await;
    let browser = app.signed_in("ann", Role::Author).await;
    let ann = token(&app, "ann").await;
    let max = app.settings.posts.max_body_bytes;
    let row = |what, title: &str, body: &str, tags: &[String], expected| PostRow {
        what,
        title: title.to_owned(),
        body: body.to_owned(),
        tags: tags.to_vec(),
        expected,
    };
    let tags = |n: usize| (1..=n).map(|i| format!("tag{i}")).collect::<Vec<_>>();
    let rows = [
        row("a plain post", "Hello", "Text.", &tags(2), Accepted),
        row("no title", "", "Text.", &[], Refused("title")),
        row("a blank title", "   ", "Text.", &[], Refused("title")),
        row(
            "a 300-character title",
            &"t".repeat(300),
            "Text.",
            &[],
            Accepted,
        ),
        row(
            "a 301-character title",
            &"t".repeat(301),
            "Text.",
            &[],
            Refused("title"),
        ),
        // Both doors drop what XML forbids and keep tabs (the extractors' rule)…
        row(
            "a title with a bell and a tab",
            "Ding\u{7}\tdong",
            "Text.",
            &[],
            Accepted,
        ),
        // …and refuse a NUL, which PostgreSQL can't store.
        row(
            "a title with a NUL",
            "Nul\u{0}here",
            "Text.",
            &[],
            Refused("title"),
        ),
        row(
            "a body at the limit",
            "Full",
            &"b".repeat(max),
            &[],
            Accepted,
        ),
        row(
            "a body over the limit",
            "Over",
            &"b".repeat(max + 1),
            &[],
            Refused("body"),
        ),
        row("ten tags", "Ten", "Text.", &tags(10), Accepted),
        row("eleven tags", "Eleven", "Text.", &tags(11), Refused("tags")),
        row(
            "a 101-character tag",
            "Long tag",
            "Text.",
            &["x".repeat(101)],
            Refused("tags"),
        ),
        row(
            "a 100-character tag",
            "Tag ok",
            "Text.",
            &["y".repeat(100)],
            Accepted,
        ),
    ];
    let fields = ["title", "slug", "excerpt", "body", "tags"];
    for (n, row) in rows.iter().enumerate() {
        // Through the editor, as a browser would post it (its own slug: the doors' posts
        // must not meet).
        let slug = format!("site-{n}");
        let tag_text = row.tags.join(", ");
        let res = browser
            .submit(
                "/admin/posts/new",
                "/admin/posts",
                &[
                    ("title", row.title.as_str()),
                    ("slug", slug.as_str()),
                    ("excerpt", "D"),
                    ("body", row.body.as_str()),
                    ("tags", tag_text.as_str()),
                    ("status", "published"),
                    ("intent", "save"),
                ],
            )
            .await;
        let site = site_verdict(res, &fields).await;
        // Through the API.
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/articles",
            Some(&ann),
            Some(
                json!({"article": {"title": row.title, "description": "D", "body": row.body,
                                    "tagList": row.tags}}),
            ),
        )
        .await;
        let api = api_verdict(status, &body, &fields);
        assert_eq!(
            (site, api),
            (row.expected, row.expected),
            "{}: (site, API)",
            row.what
        );
    }
    // Only the accepted ones were saved, once by each door.
    let accepted = rows.iter().filter(|r| r.expected == Accepted).count();
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(saved, 2 * accepted as i64);
}

#[tokio::test]
async fn a_profile_is_judged_alike_by_the_account_page_and_the_api() {
    let app = spawn_app().await;
    let browser = app.signed_in("bea", Role::Reader).await;
    let bea = token(&app, "bea").await;
    // Decided once (issue 25): a bio is at most 500 characters; an avatar is a path on this
    // site or an https:// address (the site's CSP blocks http:// images).
    let rows: [(&str, &str, String, Verdict); 9] = [
        ("a 500-character bio", "bio", "é".repeat(500), Accepted),
        (
            "a 501-character bio",
            "bio",
            "é".repeat(501),
            Refused("bio"),
        ),
        ("an empty bio", "bio", String::new(), Accepted),
        (
            "an http:// avatar",
            "avatar_url",
            "http://i.example/a.png".into(),
            Refused("avatar_url"),
        ),
        (
            "an https:// avatar",
            "avatar_url",
            "https://i.example/a.png".into(),
            Accepted,
        ),
        (
            "a javascript: avatar",
            "avatar_url",
            "javascript:alert(1)".into(),
            Refused("avatar_url"),
        ),
        (
            "a local avatar",
            "avatar_url",
            "/uploads/abc.png".into(),
            Accepted,
        ),
        (
            "a protocol-relative avatar",
            "avatar_url",
            "//evil.example/a.png".into(),
            Refused("avatar_url"),
        ),
        ("no avatar", "avatar_url", String::new(), Accepted),
    ];
    let fields = ["display_name", "bio", "avatar_url"];
    for (what, field, value, expected) in rows {
        let mut form = vec![("display_name", "Bea"), ("bio", ""), ("avatar_url", "")];
        for (name, v) in form.iter_mut() {
            if *name == field {
                *v = value.as_str();
            }
        }
        let res = browser.submit("/account", "/account/profile", &form).await;
        let site = site_verdict(res, &fields).await;
        let (status, body) = call(
            &app,
            Method::PUT,
            "/api/user",
            Some(&bea),
            Some(json!({"user": {api_key(field): value}})),
        )
        .await;
        let api = api_verdict(status, &body, &fields);
        assert_eq!((site, api), (expected, expected), "{what}: (site, API)");
        if expected == Accepted {
            let stored: Option<String> = sqlx::query_scalar(match field {
                "bio" => "SELECT bio FROM users WHERE username = 'bea'",
                _ => "SELECT avatar_url FROM users WHERE username = 'bea'",
            })
            .fetch_one(&app.db)
            .await
            .unwrap();
            let value = (!value.is_empty()).then_some(value);
            assert_eq!(stored.filter(|s| !s.is_empty()), value, "{what}: stored");
        }
    }
}

#[tokio::test]
async fn a_comment_is_deleted_by_the_same_people_through_either_door() {
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
    let other = app.signed_in("otto", Role::Reader).await;
    let editor = app.signed_in("eve", Role::Editor).await;
    let post_page = format!("/posts/{slug}");
    // Rita's comments, each deleted (or not) through one door.
    let mut ids = Vec::new();
    for n in 0..4 {
        let res = crate::comments::comment(&rita, &slug, &format!("Comment {n}")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        ids.push(
            location
                .rsplit("#comment-")
                .next()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
    }
    // The post page offers its author a Delete button, and other readers none.
    let own = rita.page(&post_page, StatusCode::OK).await;
    let buttons = own.attrs(".comment-actions a", "href");
    assert!(
        buttons.contains(&format!("/comments/{}/delete", ids[0])),
        "{buttons:?}"
    );
    let theirs = other.page(&post_page, StatusCode::OK).await;
    assert!(
        !theirs
            .attrs(".comment-actions a", "href")
            .iter()
            .any(|h| h.ends_with("/delete"))
    );

    let tokens = [
        ("rita", token(&app, "rita").await),
        ("otto", token(&app, "otto").await),
        ("eve", token(&app, "eve").await),
    ];
    let token_of = |who: &str| tokens.iter().find(|(n, _)| *n == who).unwrap().1.clone();
    let browser_of = |who: &str| match who {
        "rita" => &rita,
        "otto" => &other,
        _ => &editor,
    };
    // (who, which of Rita's comments, expected); "another reader" leaves the comment for
    // the editor's row.
    let rows = [
        ("its author", "rita", 0, Accepted),
        ("another reader", "otto", 1, Forbidden),
        ("an editor", "eve", 1, Accepted),
    ];
    for (what, who, n, expected) in rows {
        // Site: comments ids[n]; API: ids[n + 2], on the same post.
        let res = browser_of(who)
            .submit(&post_page, &format!("/comments/{}/delete", ids[n]), &[])
            .await;
        let site = site_verdict(res, &[]).await;
        let (status, body) = call(
            &app,
            Method::DELETE,
            &format!("/api/articles/{slug}/comments/{}", ids[n + 2]),
            Some(&token_of(who)),
            None,
        )
        .await;
        let api = api_verdict(status, &body, &[]);
        assert_eq!((site, api), (expected, expected), "{what}: (site, API)");
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        left, 0,
        "each door deleted its author's comment and the editor's"
    );
}

#[tokio::test]
async fn the_last_admin_stays_an_admin_whatever_the_door() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'root'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // The users screen: demoting or disabling the only admin is refused, and so is deleting
    // the account (one function, `accounts::keep_an_admin`, behind every door).
    let res = root
        .submit(
            "/admin/users",
            &format!("/admin/users/{id}/role"),
            &[("role", "editor")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = root
        .submit("/admin/users", &format!("/admin/users/{id}/disable"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = root
        .submit(
            "/account",
            "/account/delete",
            &[("confirm_username", "root"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The command line's `quire user role`: the same function, the same refusal.
    let out = app
        .quire_command()
        .args(["user", "role", "--username", "root", "--role", "editor"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("last active admin"), "{stderr}");
    // The API changes no roles: a `role` in the account's update is no field of it.
    let root_token = token(&app, "root").await;
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/user",
        Some(&root_token),
        Some(json!({"user": {"role": "editor"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(crate::accounts_role(&app, "root").await, "admin");
    // With a second admin, the first may step down, through either door.
    let _second = app.signed_in("deputy", Role::Admin).await;
    let res = root
        .submit(
            "/admin/users",
            &format!("/admin/users/{id}/role"),
            &[("role", "editor")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::accounts_role(&app, "root").await, "editor");
    let out = app
        .quire_command()
        .args(["user", "role", "--username", "deputy", "--role", "author"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "deputy is the last admin now");
    let out = app
        .quire_command()
        .args(["user", "role", "--username", "root", "--role", "admin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(crate::accounts_role(&app, "root").await, "admin");
}
