//! GraphQL at `/graphql` over HTTP: reads with the site's visibility rules, writes through
//! the same use-cases as the API (validation, versions, 409s), a constant number of SQL
//! statements for a page of posts, the limits, caching and persisted queries.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use quire::accounts::model::Role;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::Digest;

use crate::{
    api::register,
    harness::{PostSpec, TestApp, spawn_app, spawn_app_with},
};

/// POST a GraphQL operation; the status and the JSON answer.
pub async fn gql(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

/// The `extensions.code` of the first error, or "OK" without errors.
pub fn code(body: &Value) -> String {
    match body["errors"].as_array() {
        Some(errors) if !errors.is_empty() => errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or("NO CODE")
            .to_owned(),
        _ => "OK".to_owned(),
    }
}

/// An account of `role` registered through the API: its token.
pub async fn token_of(app: &TestApp, username: &str, role: Role) -> String {
    let token = register(app, username).await;
    sqlx::query("UPDATE users SET role = $1 WHERE username = $2")
        .bind(role)
        .bind(username)
        .execute(&app.db)
        .await
        .unwrap();
    token
}

const POST_PAGE: &str = "query Post($slug: String!) {
  post(slug: $slug) {
    title slug bodyHtml status publishedAt favoritesCount commentCount
    author { username name }
    tags { name slug }
    comments(first: 10) { totalCount edges { cursor node { bodyHtml authorName author { username } } } }
  }
}";

#[tokio::test]
async fn a_post_page_is_one_query_with_its_author_tags_and_comments() {
    let app = spawn_app().await;
    let author = app.author("ada").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Engines of Thought",
                body: "The **analytical** engine.",
                tags: &["Computing", "History"],
                ..Default::default()
            },
        )
        .await;
    let reader = token_of(&app, "reader", Role::Reader).await;
    let (_, added) = gql(
        &app,
        Some(&reader),
        "mutation($slug: String!) { addComment(postSlug: $slug, body: \"Lovely *engine*\") { id bodyHtml author { username } } }",
        json!({"slug": slug}),
    )
    .await;
    assert_eq!(code(&added), "OK", "{added}");
    assert_eq!(
        added["data"]["addComment"]["bodyHtml"],
        "<p>Lovely <em>engine</em></p>\n"
    );

    let (status, body) = gql(&app, None, POST_PAGE, json!({"slug": slug})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body), "OK", "{body}");
    let post = &body["data"]["post"];
    assert_eq!(post["title"], "Engines of Thought");
    assert!(
        post["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("<strong>analytical</strong>")
    );
    assert_eq!(post["status"], "PUBLISHED");
    assert_eq!(post["author"]["username"], "ada");
    assert_eq!(
        post["tags"],
        json!([{"name": "Computing", "slug": "computing"}, {"name": "History", "slug": "history"}])
    );
    assert_eq!(post["commentCount"], 1);
    assert_eq!(post["comments"]["totalCount"], 1);
    assert_eq!(
        post["comments"]["edges"][0]["node"]["author"]["username"],
        "reader"
    );

    // Unknown and hostile slugs are simply not found.
    for slug in ["nope", "a\0b", "../etc", "\t\r\n", &"x".repeat(10_000)] {
        let (status, body) = gql(&app, None, POST_PAGE, json!({"slug": slug})).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{slug:?}: {status}"
        );
        assert!(
            body["data"]["post"].is_null() || code(&body) == "BAD_USER_INPUT",
            "{slug:?}: {body}"
        );
    }
}

#[tokio::test]
async fn lists_page_by_cursor_and_filter_by_tag_author_and_featured() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let bob = app.author("bob").await;
    app.posts(ada, 5, &["Rust"]).await;
    for i in 1..=3 {
        app.post(
            bob,
            PostSpec {
                title: &format!("Bob {i}"),
                tags: &["Go"],
                published_in_minutes: -100 + i,
                ..Default::default()
            },
        )
        .await;
    }
    sqlx::query("UPDATE posts SET featured = true WHERE title = 'Bob 2'")
        .execute(&app.db)
        .await
        .unwrap();
    let list = "query($after: String, $tag: String, $author: String, $featured: Boolean) {
        posts(first: 2, after: $after, tag: $tag, author: $author, featured: $featured) {
          totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { title } } } }";
    let (_, first) = gql(&app, None, list, json!({})).await;
    let page = &first["data"]["posts"];
    assert_eq!(page["totalCount"], 8, "{first}");
    assert_eq!(page["edges"][0]["node"]["title"], "Bob 3");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let (_, second) = gql(
        &app,
        None,
        list,
        json!({"after": page["pageInfo"]["endCursor"]}),
    )
    .await;
    let titles: Vec<&str> = second["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Bob 1", "Post 5"]);
    assert_eq!(second["data"]["posts"]["pageInfo"]["hasPreviousPage"], true);

    let (_, tagged) = gql(&app, None, list, json!({"tag": "rust"})).await;
    assert_eq!(tagged["data"]["posts"]["totalCount"], 5);
    let (_, by_name) = gql(&app, None, list, json!({"tag": "Go"})).await;
    assert_eq!(by_name["data"]["posts"]["totalCount"], 3);
    let (_, bobs) = gql(&app, None, list, json!({"author": "BOB"})).await;
    assert_eq!(bobs["data"]["posts"]["totalCount"], 3);
    let (_, featured) = gql(&app, None, list, json!({"featured": true})).await;
    assert_eq!(
        featured["data"]["posts"]["edges"][0]["node"]["title"],
        "Bob 2"
    );
    assert_eq!(featured["data"]["posts"]["totalCount"], 1);

    // A cursor it never gave, and sizes out of bounds: refused, saying which.
    for (vars, field) in [
        (json!({"after": "bm90LWEtY3Vyc29y"}), "after"),
        (json!({"after": "\u{0}"}), "NUL character"),
    ] {
        let (_, body) = gql(&app, None, list, vars).await;
        assert!(body.to_string().contains(field), "{body}");
    }
    let (_, huge) = gql(
        &app,
        None,
        "{ posts(first: 101) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&huge), "BAD_USER_INPUT", "{huge}");
    let (_, negative) = gql(&app, None, "{ posts(first: -1) { totalCount } }", json!({})).await;
    assert_eq!(code(&negative), "BAD_USER_INPUT", "{negative}");

    // Tags, a tag, an author, the site.
    let (_, rest) = gql(&app, None, "{ tags { name posts(first: 1) { totalCount } } tag(slug: \"go\") { name } author(username: \"ada\") { name posts { totalCount } } site { title url navigation { label url } } }", json!({})).await;
    assert_eq!(code(&rest), "OK", "{rest}");
    assert_eq!(rest["data"]["tags"][0]["name"], "Rust");
    assert_eq!(rest["data"]["tags"][0]["posts"]["totalCount"], 5);
    assert_eq!(rest["data"]["tag"]["name"], "Go");
    assert_eq!(rest["data"]["author"]["posts"]["totalCount"], 5);
    assert_eq!(rest["data"]["site"]["url"], app.base);
}

#[tokio::test]
async fn drafts_are_seen_only_by_those_who_may() {
    let app = spawn_app().await;
    let ada_token = token_of(&app, "ada", Role::Author).await;
    let bob_token = token_of(&app, "bob", Role::Author).await;
    let editor = token_of(&app, "eve", Role::Editor).await;
    let (_, made) = gql(
        &app,
        Some(&ada_token),
        "mutation { createPost(input: {title: \"Secret plans\", body: \"Not yet.\"}) { slug status version } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&made), "OK", "{made}");
    assert_eq!(made["data"]["createPost"]["status"], "DRAFT");
    let slug = made["data"]["createPost"]["slug"]
        .as_str()
        .unwrap()
        .to_owned();

    let one = "query($slug: String!) { post(slug: $slug) { title } }";
    let drafts = "{ posts(status: DRAFT) { totalCount } }";
    let (_, anon) = gql(&app, None, one, json!({"slug": slug})).await;
    assert!(anon["data"]["post"].is_null(), "{anon}");
    let (_, other) = gql(&app, Some(&bob_token), one, json!({"slug": slug})).await;
    assert!(other["data"]["post"].is_null(), "{other}");
    let (_, own) = gql(&app, Some(&ada_token), one, json!({"slug": slug})).await;
    assert_eq!(own["data"]["post"]["title"], "Secret plans");
    let (_, edited) = gql(&app, Some(&editor), one, json!({"slug": slug})).await;
    assert_eq!(edited["data"]["post"]["title"], "Secret plans");

    let (_, anon) = gql(&app, None, drafts, json!({})).await;
    assert_eq!(code(&anon), "UNAUTHENTICATED");
    let (_, bobs) = gql(&app, Some(&bob_token), drafts, json!({})).await;
    assert_eq!(bobs["data"]["posts"]["totalCount"], 0);
    let (_, adas) = gql(
        &app,
        Some(&ada_token),
        "{ posts(status: DRAFT) { totalCount } viewer { username role drafts { totalCount } } }",
        json!({}),
    )
    .await;
    assert_eq!(adas["data"]["posts"]["totalCount"], 1);
    assert_eq!(
        adas["data"]["viewer"],
        json!({"username": "ada", "role": "AUTHOR", "drafts": {"totalCount": 1}})
    );
    let (_, all) = gql(&app, Some(&editor), drafts, json!({})).await;
    assert_eq!(all["data"]["posts"]["totalCount"], 1);
    let (_, none) = gql(&app, None, "{ viewer { username } }", json!({})).await;
    assert!(none["data"]["viewer"].is_null());
}

#[tokio::test]
async fn writes_share_the_editors_rules_versions_and_conflicts() {
    let app = spawn_app().await;
    let token = token_of(&app, "ada", Role::Author).await;
    let create = "mutation($input: CreatePostInput!) { createPost(input: $input) { slug title version status tags { name } } }";
    let (_, blank) = gql(
        &app,
        Some(&token),
        create,
        json!({"input": {"title": " ", "body": "x"}}),
    )
    .await;
    assert_eq!(code(&blank), "BAD_USER_INPUT", "{blank}");
    assert!(
        blank["errors"][0]["extensions"]["fields"]["title"].is_array(),
        "{blank}"
    );
    let (_, nul) = gql(
        &app,
        Some(&token),
        create,
        json!({"input": {"title": "a\u{0}b", "body": "x"}}),
    )
    .await;
    assert!(nul.to_string().contains("NUL"), "{nul}");

    let (_, made) = gql(&app, Some(&token), create, json!({"input": {"title": "Twice", "body": "One", "tags": ["A", "B"], "status": "PUBLISHED"}})).await;
    assert_eq!(code(&made), "OK", "{made}");
    let (_, again) = gql(
        &app,
        Some(&token),
        create,
        json!({"input": {"title": "Twice", "body": "Two"}}),
    )
    .await;
    assert_eq!(again["data"]["createPost"]["slug"], "twice-2");
    let post = &made["data"]["createPost"];
    assert_eq!(post["status"], "PUBLISHED");
    let version = post["version"].as_i64().unwrap();

    let update = "mutation($v: Int, $title: String) { updatePost(slug: \"twice\", version: $v, input: {title: $title}) { title version } }";
    let (_, saved) = gql(
        &app,
        Some(&token),
        update,
        json!({"v": version, "title": "Twice told"}),
    )
    .await;
    assert_eq!(code(&saved), "OK", "{saved}");
    assert_eq!(saved["data"]["updatePost"]["title"], "Twice told");
    // The same old version again: someone (this caller) saved since.
    let (_, stale) = gql(
        &app,
        Some(&token),
        update,
        json!({"v": version, "title": "Lost?"}),
    )
    .await;
    assert_eq!(code(&stale), "CONFLICT", "{stale}");
    assert_eq!(
        stale["errors"][0]["extensions"]["current"]["title"],
        "Twice told"
    );
    let revisions: i64 = sqlx::query_scalar("SELECT count(*) FROM post_revisions r JOIN posts p ON p.id = r.post_id WHERE p.slug = 'twice'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        revisions, 2,
        "a revision per save, none for the refused one"
    );

    let (_, off) = gql(
        &app,
        Some(&token),
        "mutation { unpublishPost(slug: \"twice\") { status } }",
        json!({}),
    )
    .await;
    assert_eq!(off["data"]["unpublishPost"]["status"], "DRAFT", "{off}");
    let (_, on) = gql(
        &app,
        Some(&token),
        "mutation { publishPost(slug: \"twice\") { status } }",
        json!({}),
    )
    .await;
    assert_eq!(on["data"]["publishPost"]["status"], "PUBLISHED", "{on}");

    // Cookies are not a way in: a signed-in browser without a token is no one here.
    let browser = app.signed_in("eve", Role::Admin).await;
    let res = browser
        .client
        .post(browser.url("/graphql"))
        .json(&json!({"query": "mutation { deletePost(slug: \"twice\") }"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");

    // A bad token is refused before anything runs.
    let (status, body) = gql(
        &app,
        Some("not-a-token"),
        "{ viewer { username } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn costly_and_hostile_queries_are_refused_with_a_clear_error() {
    let app = spawn_app().await;
    let deep = format!(
        "{{ {} }}",
        "posts { edges { node { author { posts { edges { node { ".repeat(3)
            + "title"
            + &" } } } } } } }".repeat(3)
    );
    let (status, body) = gql(&app, None, &deep, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too deep")
            || body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("nested too deep"),
        "{body}"
    );

    let complex = "{ posts(first: 100) { edges { node { author { posts(first: 100) { edges { node { title } } } } } } } }";
    let (_, body) = gql(&app, None, complex, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );

    let aliases: String = (0..31)
        .map(|i| format!("a{i}: site {{ title }} "))
        .collect();
    let (_, body) = gql(&app, None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&body), "TOO_MANY_ALIASES", "{body}");

    let brackets = format!("{}{}", "{".repeat(16_000), "}".repeat(16_000));
    let (_, body) = gql(&app, None, &brackets, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");

    let megabyte = format!("{{ site {{ title }} }} #{}", "x".repeat(1 << 20));
    let (_, body) = gql(&app, None, &megabyte, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_LARGE", "{body}");

    let batch: Vec<Value> = (0..11)
        .map(|_| json!({"query": "{ site { title } }"}))
        .collect();
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let batch: Vec<Value> = (0..2)
        .map(|_| json!({"query": "{ site { title } }"}))
        .collect();
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    let answers: Value = res.json().await.unwrap();
    assert_eq!(answers.as_array().map(Vec::len), Some(2), "{answers}");

    // Not GraphQL at all: 4xx, never a 500.
    for (content_type, body, expected) in [
        (
            "application/json",
            b"\xff\xfe{".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/json",
            b"{\"query\": 5}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text/plain",
            b"{ site { title } }".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "{content_type}");
        let answer: Value = res.json().await.unwrap();
        assert!(answer["errors"][0]["message"].is_string(), "{answer}");
    }
    let (_, syntax) = gql(&app, None, "{ posts { ", json!({})).await;
    assert!(syntax["errors"][0]["message"].is_string(), "{syntax}");
    let (_, unknown) = gql(&app, None, "{ nothing }", json!({})).await;
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing"),
        "{unknown}"
    );

    // Mutations never by GET.
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { deletePost(slug: \"x\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Introspection answers (explorers need it), within the same limits.
    let (_, schema) = gql(
        &app,
        None,
        "{ __schema { queryType { name } types { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        schema["data"]["__schema"]["queryType"]["name"], "Query",
        "{schema}"
    );
}

#[tokio::test]
async fn anonymous_get_queries_are_kept_until_a_write() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.posts(ada, 2, &[]).await;
    let query = "{ posts { totalCount } }";
    let get = || async {
        let res = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", query)])
            .send()
            .await
            .unwrap();
        let cache = res
            .headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = res.json().await.unwrap();
        (cache, body["data"]["posts"]["totalCount"].as_i64())
    };
    assert_eq!(get().await, (Some("MISS".into()), Some(2)));
    assert_eq!(get().await, (Some("HIT".into()), Some(2)));
    // A query by POST is a read: kept answers stay.
    gql(&app, None, "{ site { title } }", json!({})).await;
    assert_eq!(get().await.0.as_deref(), Some("HIT"));
    // A mutation is a write: the next answer is made afresh.
    let token = token_of(&app, "bob", Role::Author).await;
    let (_, made) = gql(
        &app,
        Some(&token),
        "mutation { createPost(input: {title: \"New\", body: \"x\", status: PUBLISHED}) { slug } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&made), "OK", "{made}");
    assert_eq!(get().await, (Some("MISS".into()), Some(3)));
    // With a token it is someone's answer: never kept.
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query)])
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers().get("x-cache").map(|v| v.to_str().unwrap()),
        Some("HIT")
    );
}

#[tokio::test]
async fn persisted_queries_are_registered_once_then_sent_by_hash() {
    let app = spawn_app().await;
    let query = "{ site { title } }";
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let by_hash = || async {
        let res = app
            .client
            .get(app.url("/graphql"))
            .query(&[("extensions", extensions.to_string())])
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()
    };
    assert_eq!(code(&by_hash().await), "PERSISTED_QUERY_NOT_FOUND");
    let wrong = json!({"persistedQuery": {"version": 1, "sha256Hash": "0".repeat(64)}});
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "extensions": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&res.json::<Value>().await.unwrap()),
        "PERSISTED_QUERY_HASH_MISMATCH"
    );
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "extensions": extensions}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(&res.json::<Value>().await.unwrap()), "OK");
    let body = crate::harness::eventually(
        "the persisted query kept",
        std::time::Duration::from_secs(5),
        || async {
            let body = by_hash().await;
            (code(&body) == "OK").then_some(body).ok_or("not yet")
        },
    )
    .await;
    assert!(body["data"]["site"]["title"].is_string(), "{body}");
}

#[test]
fn the_schema_file_is_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let sdl = quire::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let file = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        file == sdl,
        "schema.graphql differs from the schema: run `UPDATE_SCHEMA=1 cargo nextest run --test it graphql::the_schema` and review the diff"
    );
}

/// A proxy in front of PostgreSQL that counts the statements the app runs (each
/// extended-protocol `Execute` message: every sqlx query).
struct StatementCounter {
    port: u16,
    count: Arc<AtomicUsize>,
    _accept: tokio::task::JoinHandle<()>,
}

impl StatementCounter {
    async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let (target, counted) = (target.to_owned(), count.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, counted) = (target.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut up_read, mut up_write) = upstream.into_split();
                    let to_server = async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut frames = Frames::default();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            counted.fetch_add(frames.statements(&buf[..n]), Ordering::SeqCst);
                            if up_write.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let to_client = async move {
                        let _ = tokio::io::copy(&mut up_read, &mut in_write).await;
                    };
                    tokio::select! { () = to_server => {}, () = to_client => {} }
                });
            }
        });
        Self {
            port,
            count,
            _accept: accept,
        }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// The client's side of PostgreSQL's protocol, read as it streams: untyped start-up
/// messages, then `type, length, body` frames.
#[derive(Default)]
struct Frames {
    started: bool,
    pending: Vec<u8>,
}

impl Frames {
    fn statements(&mut self, bytes: &[u8]) -> usize {
        self.pending.extend_from_slice(bytes);
        let mut found = 0;
        loop {
            if !self.started {
                if self.pending.len() < 8 {
                    return found;
                }
                let len = u32::from_be_bytes(self.pending[0..4].try_into().unwrap()) as usize;
                if self.pending.len() < len {
                    return found;
                }
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                // An SSL or GSS request is followed by the real start-up message.
                self.started = !matches!(code, 80_877_103 | 80_877_104);
                self.pending.drain(..len);
                continue;
            }
            if self.pending.len() < 5 {
                return found;
            }
            let len = u32::from_be_bytes(self.pending[1..5].try_into().unwrap()) as usize;
            if self.pending.len() < 1 + len {
                return found;
            }
            // Extended-protocol executions only: the pool's health checks and LISTENs are
            // simple queries, and vary with how many connections a request happened to use.
            if self.pending[0] == b'E' {
                found += 1;
            }
            self.pending.drain(..1 + len);
        }
    }
}

#[tokio::test]
async fn a_page_of_posts_costs_a_few_statements_however_long_it_is() {
    let database = crate::harness::test_settings().0.database;
    let url = url::Url::parse(database.url.expose_secret()).unwrap();
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let counter = StatementCounter::start(&target).await;
    let port = counter.port;
    let app = spawn_app_with(move |s| {
        // Nothing in the background between the two counts.
        s.jobs.enabled = false;
        let mut url = url::Url::parse(s.database.url.expose_secret()).unwrap();
        url.set_port(Some(port)).unwrap();
        // Plain text, so the proxy can read the protocol.
        url.query_pairs_mut().append_pair("sslmode", "disable");
        s.database.url = url.to_string().into();
    })
    .await;
    for (i, name) in ["ada", "bob", "cy", "dee", "eve", "fay"].iter().enumerate() {
        let author = app.author(name).await;
        for n in 0..10 {
            app.post(
                author,
                PostSpec {
                    title: &format!("{name} {n}"),
                    tags: &["One", "Two", "Three"],
                    published_in_minutes: -1000 + (i * 10 + n) as i64,
                    ..Default::default()
                },
            )
            .await;
        }
    }
    let page = "query($n: Int) { posts(first: $n) { totalCount edges { node { title bodyHtml favoritesCount commentCount author { username name } tags { name slug } } } } }";
    // Warm: the pool's connections made and each statement prepared.
    gql(&app, None, page, json!({"n": 50})).await;
    let mut counts = Vec::new();
    for n in [5, 50, 100] {
        let before = counter.count();
        let (_, body) = gql(&app, None, page, json!({"n": n})).await;
        assert_eq!(
            body["data"]["posts"]["edges"].as_array().map(Vec::len),
            Some(n.min(60)),
            "{body}"
        );
        counts.push(counter.count() - before);
    }
    // The page, then one statement per loader: bodies, favourites, comment counts, authors,
    // tags (6). A loader gathers its keys for a millisecond, so on a busy machine a page may
    // be read in two batches: a statement or two more, never one per post.
    assert!(
        counts.iter().all(|&n| (6..=8).contains(&n)),
        "5, 50 and 60 posts: {counts:?}"
    );
}

#[tokio::test]
async fn comment_added_is_pushed_over_graphql_transport_ws() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};
    // Quick subscribers: the cap on subscriptions, not the message rate, is tested below.
    let app = spawn_app_with(|s| s.ws.messages_per_second = 100).await;
    let author = app.author("ada").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title: "Live one",
                ..Default::default()
            },
        )
        .await;
    let open = |protocol: Option<&'static str>, origin: String| {
        let url = format!("ws://127.0.0.1:{}/ws/graphql", app.port);
        async move {
            let mut request = url.into_client_request().unwrap();
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(&origin).unwrap());
            if let Some(protocol) = protocol {
                request
                    .headers_mut()
                    .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
            }
            tokio_tungstenite::connect_async(request).await
        }
    };
    // Another site's page, or no protocol offered: refused at the handshake.
    assert!(
        open(Some("graphql-transport-ws"), "https://evil.example".into())
            .await
            .is_err()
    );
    assert!(open(None, app.base.clone()).await.is_err());

    let (mut ws, res) = open(Some("graphql-transport-ws"), app.base.clone())
        .await
        .unwrap();
    assert_eq!(
        res.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($s: String!) { commentAdded(postSlug: $s) { bodyHtml author { username } } }",
        "variables": {"s": slug},
    }});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    // The subscription is listening once the hub knows the topic; then a comment arrives.
    let reader = token_of(&app, "reader", Role::Reader).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, added) = gql(
        &app,
        Some(&reader),
        "mutation($s: String!) { addComment(postSlug: $s, body: \"Live *words*\") { id } }",
        json!({"s": slug}),
    )
    .await;
    assert_eq!(code(&added), "OK", "{added}");
    let next = next_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["id"], "1");
    assert_eq!(
        next["payload"]["data"]["commentAdded"]["bodyHtml"],
        "<p>Live <em>words</em></p>\n"
    );
    assert_eq!(
        next["payload"]["data"]["commentAdded"]["author"]["username"],
        "reader"
    );

    // A post readers can't see can't be watched.
    let unknown = json!({"id": "2", "type": "subscribe", "payload": {
        "query": "subscription { commentAdded(postSlug: \"nope\") { bodyHtml } }",
    }});
    ws.send(Message::text(unknown.to_string())).await.unwrap();
    let refused = next_json(&mut ws).await;
    assert_eq!(refused["id"], "2", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    // Twenty at once on one socket (the first is still running), and no more.
    for n in 10..29 {
        let more = json!({"id": n.to_string(), "type": "subscribe", "payload": {
            "query": "subscription($s: String!) { commentAdded(postSlug: $s) { id } }",
            "variables": {"s": slug},
        }});
        ws.send(Message::text(more.to_string())).await.unwrap();
    }
    let over = json!({"id": "99", "type": "subscribe", "payload": {
        "query": "subscription($s: String!) { commentAdded(postSlug: $s) { id } }",
        "variables": {"s": slug},
    }});
    ws.send(Message::text(over.to_string())).await.unwrap();
    // Which one is refused depends on the order the server takes them in: one is.
    let mut heard = next_json(&mut ws).await;
    while !heard.to_string().contains("limited to 20") {
        assert!(
            heard["type"] == "complete" || heard["type"] == "next",
            "{heard}"
        );
        heard = next_json(&mut ws).await;
    }
    assert_eq!(
        heard["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{heard}"
    );
}

/// The next text message of a socket, as JSON (within 10 seconds).
async fn next_json(ws: &mut crate::live::Ws) -> Value {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The clients front-ends use (npm's graphql-request and graphql-ws, tests/e2e/graphql-clients.mjs):
/// a page's query, a GET, mutations with and without a token, a version conflict, and a
/// subscription hearing a new comment.
#[tokio::test]
async fn real_graphql_clients_query_mutate_and_subscribe() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Read by clients",
                tags: &["Npm"],
                ..Default::default()
            },
        )
        .await;
    let author = token_of(&app, "writer", Role::Author).await;
    let reader = token_of(&app, "reader", Role::Reader).await;
    let e2e = format!("{}/tests/e2e", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&format!("{e2e}/node_modules/graphql-ws")).exists(),
        "run `bash scripts/test.sh` once: it installs graphql-request and graphql-ws"
    );
    let env = [
        ("BASE", app.base.clone()),
        ("SLUG", slug),
        ("AUTHOR", author),
        ("READER", reader),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("graphql-clients.mjs")
            .current_dir(&e2e)
            .envs(env)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("graphql clients passed"),
        "{stdout}\n{stderr}"
    );
}

/// The explorer (issue 30) is a page inside the API's scope: HTML with the site's policy as
/// every page has it, nothing inline, and every file it names served from /static; while a
/// wrong path under /graphql still answers the API's JSON.
#[tokio::test]
async fn the_explorer_is_a_page_under_the_sites_policy_with_every_file_it_names_ours() {
    let app = spawn_app_with(|s| s.site.title = "Field Notes".into()).await;
    let home = app.get("/").await;
    let policy = home.headers()["content-security-policy"].clone();

    let res = app.get("/graphql/explorer").await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert_eq!(headers["content-security-policy"], policy);
    assert!(
        policy.to_str().unwrap().contains("script-src 'self'")
            && policy.to_str().unwrap().contains("style-src 'self'"),
        "{policy:?}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    let page = crate::harness::Page::parse(&res.text().await.unwrap());
    assert_eq!(page.text("title"), "GraphQL explorer — Field Notes");
    assert_eq!(page.attr("a.explorer-home", "href").as_deref(), Some("/"));
    assert_eq!(page.texts("label[for=explorer-token]"), ["API token"]);
    // Nothing for the policy to refuse: no inline script, style element or style attribute.
    assert!(page.texts("script:not([src])").is_empty());
    assert!(page.texts("style").is_empty());
    assert!(page.attrs("[style]", "style").is_empty());

    let scripts = page.attrs("script[src]", "src");
    let sheets = page.attrs("link[rel=stylesheet]", "href");
    assert_eq!(
        (scripts.len(), sheets.len()),
        (4, 2),
        "{scripts:?} {sheets:?}"
    );
    for (files, kind) in [(&scripts, "text/javascript"), (&sheets, "text/css")] {
        for url in files {
            assert!(url.starts_with("/static/"), "{url} is ours, under /static");
            let file = app.get(url).await;
            assert_eq!(file.status(), StatusCode::OK, "{url}");
            let content_type = file.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(content_type.starts_with(kind), "{url}: {content_type}");
            assert!(
                file.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .contains("immutable"),
                "{url} names its content"
            );
            assert!(file.bytes().await.unwrap().len() > 1000, "{url}");
        }
    }
    // The vendored code's licences are served beside it.
    for licence in ["graphiql", "react", "react-dom"] {
        let path = format!("/static/vendor/graphiql/{licence}.LICENSE");
        let text = app.get(&path).await.text().await.unwrap();
        assert!(text.contains("MIT License"), "{path}: {text}");
    }

    // A path under /graphql that isn't there: the API's JSON, not the site's page.
    let missing = app.get("/graphql/nope").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["errors"].is_object() || body["errors"].is_array(),
        "{body}"
    );
}
