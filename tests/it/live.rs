//! Live updates over WebSocket, against the real app: comments reach post pages on another
//! instance (through Redis), the editor hears who else is editing and who saved, and the
//! handshake and the sockets refuse or cut off what misbehaves.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quire::accounts::model::Role;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message, client::IntoClientRequest, http::HeaderValue, protocol::frame::coding::CloseCode,
    },
};

use crate::{
    comments::comment,
    harness::{PostSpec, TestApp, eventually, spawn_app, spawn_app_with},
};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Open `path` on `app` as `browser` (its session cookie) from `origin`; the refusal's status
/// and body otherwise.
async fn open_as(
    app: &TestApp,
    path: &str,
    origin: Option<&str>,
    browser: Option<&TestApp>,
) -> Result<Ws, (u16, String)> {
    let url = format!("ws://127.0.0.1:{}{path}", app.port);
    let mut request = url.into_client_request().expect("a request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("origin"));
    }
    if let Some(cookie) = browser.and_then(TestApp::session_cookie) {
        let cookie = HeaderValue::from_str(&format!("quire_session={cookie}")).expect("cookie");
        request.headers_mut().insert("cookie", cookie);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            let body = res.body().clone().unwrap_or_default();
            Err((
                res.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

/// Open `path` from a page of the app itself.
pub(crate) async fn open(app: &TestApp, path: &str, browser: Option<&TestApp>) -> Ws {
    open_as(app, path, Some(&app.base), browser)
        .await
        .unwrap_or_else(|(status, body)| panic!("{path}: {status} {body}"))
}

/// `open`, waiting up to two seconds for a place under the per-client limit (429).
async fn open_when_free(app: &TestApp, path: &str) -> Ws {
    let what = format!("a place for {path}");
    eventually(&what, Duration::from_secs(2), || async {
        match open_as(app, path, Some(&app.base), None).await {
            Err((429, body)) => Err(body),
            Err((status, body)) => panic!("{path}: {status} {body}"),
            Ok(ws) => Ok(ws),
        }
    })
    .await
}

/// The next JSON message within `wait` (pings are answered and skipped), or None.
pub(crate) async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match frame.expect("a frame") {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON")),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// The next message, which must come within two seconds.
pub(crate) async fn expect_json(ws: &mut Ws) -> Value {
    next_json(ws, Duration::from_secs(2))
        .await
        .expect("a message within two seconds")
}

/// The close frame the server sends (code and reason), reading past anything before it.
async fn closed_with(ws: &mut Ws, wait: Duration) -> (CloseCode, String) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("closed in time");
        match frame {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (frame.code, frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => panic!("closed without a reason"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the socket failed instead of closing: {e}"),
            None => panic!("the connection ended without a close frame"),
        }
    }
}

async fn post_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .expect("the post")
}

async fn comment_id(app: &TestApp, body: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM comments WHERE body_markdown = $1")
        .bind(body)
        .fetch_one(&app.db)
        .await
        .expect("the comment")
}

/// A published post by a new author, and its id.
async fn a_post(app: &TestApp, title: &str) -> (String, i64) {
    let author = app.author("writer").await;
    let slug = app
        .post(
            author,
            PostSpec {
                title,
                ..Default::default()
            },
        )
        .await;
    let id = post_id(app, &slug).await;
    (slug, id)
}

/// Moderate comment `id` (hide, unhide, approve, delete) from the post's page.
async fn moderate(moderator: &TestApp, slug: &str, id: i64, what: &str) {
    let res = moderator
        .submit(
            &format!("/posts/{slug}"),
            &format!("/comments/{id}/{what}"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{what}");
}

#[tokio::test]
async fn comments_reach_a_page_on_another_instance_and_hidden_or_deleted_ones_go() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let (slug, post) = a_post(&app, "Talk of the town").await;
    // A reader's page is open on the other instance.
    let mut page = open(&other, &format!("/ws/posts/{post}/comments"), None).await;

    let rita = app.signed_in("rita", Role::Reader).await;
    let res = comment(&rita, &slug, "Hello *live* <script>alert(1)</script>").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = comment_id(&app, "Hello *live* <script>alert(1)</script>").await;
    let shown = expect_json(&mut page).await;
    assert_eq!(
        (shown["type"].as_str(), shown["id"].as_i64()),
        (Some("comment"), Some(id))
    );
    let html = shown["html"].as_str().expect("html");
    assert!(
        html.contains("<em>live</em>") && html.contains("Rita Display"),
        "{html}"
    );
    assert!(
        !html.contains("<script"),
        "sanitized as on the page: {html}"
    );
    assert!(
        html.starts_with(&format!("<article class=\"comment\" id=\"comment-{id}\"")),
        "{html}"
    );
    // What every reader sees: no one's controls.
    assert!(
        !html.contains("csrf_token") && !html.contains("/edit"),
        "{html}"
    );

    // An editor hides it, then shows it again; its author edits it; then it is deleted.
    let editor = app.signed_in("eddie", Role::Editor).await;
    moderate(&editor, &slug, id, "hide").await;
    assert_eq!(
        expect_json(&mut page).await,
        serde_json::json!({"type": "gone", "id": id})
    );
    moderate(&editor, &slug, id, "unhide").await;
    assert_eq!(expect_json(&mut page).await["id"].as_i64(), Some(id));
    let res = rita
        .submit(
            &format!("/comments/{id}/edit"),
            &format!("/comments/{id}"),
            &[("body", "Hello, **edited**")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let edited = expect_json(&mut page).await;
    assert!(
        edited["html"]
            .as_str()
            .unwrap()
            .contains("<strong>edited</strong>")
    );
    moderate(&editor, &slug, id, "delete").await;
    assert_eq!(expect_json(&mut page).await["type"], "gone");

    // Held for approval: nothing shows until a moderator approves it.
    let admin = app.signed_in("ada", Role::Admin).await;
    let res = crate::settings::save(&admin, &[("comments", "held")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let nia = other.signed_in("nia", Role::Reader).await;
    assert_eq!(
        comment(&nia, &slug, "First time here").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(next_json(&mut page, Duration::from_millis(400)).await, None);
    let held = comment_id(&app, "First time here").await;
    moderate(&editor, &slug, held, "approve").await;
    assert_eq!(expect_json(&mut page).await["id"].as_i64(), Some(held));

    // A page opened later catches up with what was posted since it was made.
    let mut late = open(&app, &format!("/ws/posts/{post}/comments"), None).await;
    late.send(Message::text(r#"{"type": "since", "id": 0}"#))
        .await
        .unwrap();
    assert_eq!(expect_json(&mut late).await["id"].as_i64(), Some(held));
    assert_eq!(next_json(&mut late, Duration::from_millis(300)).await, None);

    // The moderation list's bulk actions reach pages too.
    let res = admin
        .submit(
            "/admin/comments?status=visible",
            "/admin/comments/bulk",
            &[
                ("action", "hide"),
                ("id", &held.to_string()),
                ("status", "visible"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for ws in [&mut page, &mut late] {
        assert_eq!(
            expect_json(ws).await,
            serde_json::json!({"type": "gone", "id": held})
        );
    }
}

#[tokio::test]
async fn a_disabled_accounts_comments_leave_open_pages_and_come_back_when_enabled() {
    let app = spawn_app().await;
    let (slug, post) = a_post(&app, "Spam magnet").await;
    let mut page = open(&app, &format!("/ws/posts/{post}/comments"), None).await;
    let spammer = app.signed_in("spammy", Role::Reader).await;
    assert_eq!(
        comment(&spammer, &slug, "Buy now").await.status(),
        StatusCode::SEE_OTHER
    );
    let id = expect_json(&mut page).await["id"].as_i64().unwrap();
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'spammy'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let admin = app.signed_in("root", Role::Admin).await;
    for (what, expected) in [("disable", "gone"), ("enable", "comment")] {
        let res = admin
            .submit("/admin/users", &format!("/admin/users/{user}/{what}"), &[])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{what}");
        let heard = expect_json(&mut page).await;
        assert_eq!(
            (heard["type"].as_str(), heard["id"].as_i64()),
            (Some(expected), Some(id))
        );
    }
}

#[tokio::test]
async fn the_handshake_wants_a_page_of_this_site_and_a_published_post() {
    let app = spawn_app().await;
    let (_, post) = a_post(&app, "Open to all").await;
    let path = format!("/ws/posts/{post}/comments");
    // Cross-site WebSocket hijacking: another site's page, or none, or another port.
    let other_port = format!("http://127.0.0.1:{}", app.port + 1);
    for origin in [
        Some("https://evil.example"),
        None,
        Some(other_port.as_str()),
        Some("null"),
    ] {
        let (status, body) = open_as(&app, &path, origin, None)
            .await
            .expect_err("refused");
        assert_eq!(status, 403, "{origin:?}");
        assert!(body.contains("connect only from this site"), "{body}");
    }
    // Not a handshake at all: a readable 400.
    let res = app.get(&path).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("WebSocket connections only")
    );
    // No such post, or one readers can't see.
    let ada = app.author("ada").await;
    let draft = app
        .post(
            ada,
            PostSpec {
                title: "Not yet",
                status: quire::posts::model::PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let draft = post_id(&app, &draft).await;
    for missing in [post + 1000, draft] {
        let path = format!("/ws/posts/{missing}/comments");
        let (status, _) = open_as(&app, &path, Some(&app.base), None)
            .await
            .expect_err("404");
        assert_eq!(status, 404);
    }
    assert_eq!(
        app.get("/ws/posts/abc/comments").await.status(),
        StatusCode::NOT_FOUND
    );
    open(&app, &path, None).await;
}

#[tokio::test]
async fn the_editor_shows_who_else_is_editing_across_instances_and_warns_of_saves() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let ann_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let slug = app
        .post(
            quire::accounts::model::UserId(ann_id),
            PostSpec {
                title: "Shared work",
                ..Default::default()
            },
        )
        .await;
    let post = post_id(&app, &slug).await;
    let path = format!("/ws/posts/{post}/editor");

    // Only those who may edit the post: the session is required, and the right.
    let (status, _) = open_as(&app, &path, Some(&app.base), None)
        .await
        .expect_err("no");
    assert_eq!(status, 303, "anonymous: to the login page");
    for (name, role) in [("rex", Role::Reader), ("otto", Role::Author)] {
        let someone = app.signed_in(name, role).await;
        let refused = open_as(&app, &path, Some(&app.base), Some(&someone)).await;
        assert_eq!(refused.err().map(|e| e.0), Some(403), "{name}");
    }
    // The session's cookie from another site's page is no way in either.
    let cross = open_as(&app, &path, Some("https://evil.example"), Some(&ann)).await;
    assert_eq!(cross.err().map(|e| e.0), Some(403));

    let mut anns = open(&app, &path, Some(&ann)).await;
    let alone = expect_json(&mut anns).await;
    assert_eq!(
        alone,
        serde_json::json!({"type": "editing", "people": [], "you_elsewhere": false})
    );
    // Jonas, an editor, opens the post on the other instance.
    let jonas = other.signed_in("jonas", Role::Editor).await;
    let mut jonass = open(&other, &path, Some(&jonas)).await;
    let seen = expect_json(&mut anns).await;
    assert_eq!(seen["people"], serde_json::json!(["Jonas Display"]));
    assert_eq!(
        expect_json(&mut jonass).await["people"],
        serde_json::json!(["Ann Display"])
    );

    // Jonas saves: Ann hears at once, with the version she would now conflict with.
    let res =
        crate::admin::save_as(&jonas, post, "published", "Shared work", "Jonas was here").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let version: i32 = sqlx::query_scalar("SELECT version FROM posts WHERE id = $1")
        .bind(post)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let saved = expect_json(&mut anns).await;
    assert_eq!(
        saved,
        serde_json::json!({"type": "saved", "version": version, "name": "Jonas Display",
                           "you": false, "autosave": false})
    );
    assert_eq!(expect_json(&mut jonass).await["you"], true);

    // Ann in a second tab is "you, elsewhere", not someone else.
    let mut second = open(&app, &path, Some(&ann)).await;
    let both = expect_json(&mut second).await;
    assert_eq!(both["people"], serde_json::json!(["Jonas Display"]));
    assert_eq!(both["you_elsewhere"], true);
    drop(second);

    // Jonas closes his tab: Ann is told he left (after the second tab's leaving, too).
    jonass.close(None).await.unwrap();
    let nobody = serde_json::json!({"type": "editing", "people": [], "you_elsewhere": false});
    while expect_json(&mut anns).await != nobody {}
}

#[tokio::test]
async fn sockets_that_misbehave_are_cut_off_and_quiet_ones_are_pinged() {
    let app = spawn_app_with(|s| {
        s.ws.ping_ms = 150;
        s.ws.idle_ms = 600;
        s.ws.max_per_client = 3;
        s.ws.messages_per_second = 5;
    })
    .await;
    let (_, post) = a_post(&app, "Under attack").await;
    let path = format!("/ws/posts/{post}/comments");
    let garbage: [(Message, CloseCode, &str); 5] = [
        (
            Message::text("hello"),
            CloseCode::Unsupported,
            "not a message this socket takes",
        ),
        (
            Message::text(r#"{"type": "nope"}"#),
            CloseCode::Unsupported,
            "unknown variant",
        ),
        (
            Message::text(r#"{"type": "since", "id": 1, "x": 2}"#),
            CloseCode::Unsupported,
            "unknown field",
        ),
        (
            Message::binary(vec![0u8, 159, 146, 150]),
            CloseCode::Unsupported,
            "JSON text messages only",
        ),
        (
            Message::text("x".repeat(5000)),
            CloseCode::Size,
            "frames are limited to 4096 bytes",
        ),
    ];
    for (message, code, why) in garbage {
        // Three sockets a client: the one closed just before frees its place once the server
        // has seen the connection end, a moment after the client has its close frame.
        let mut ws = open_when_free(&app, &path).await;
        ws.send(message).await.unwrap();
        let (got, reason) = closed_with(&mut ws, Duration::from_secs(2)).await;
        assert_eq!(got, code, "{reason}");
        assert!(reason.contains(why), "{reason}");
    }

    // A flood: ten in a burst are fine, the rest close the socket. (The sockets closed above
    // give their places back a moment after their clients hear the close.)
    let mut ws = open_when_free(&app, &path).await;
    for _ in 0..30 {
        if ws
            .send(Message::text(r#"{"type": "since", "id": 1000000}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, reason) = closed_with(&mut ws, Duration::from_secs(2)).await;
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::Policy, "more than 5 messages a second")
    );

    // Three sockets per client address: a fourth is refused, readably. (Once every socket
    // above has given its place back.)
    eventually(
        "every socket's place given back",
        Duration::from_secs(2),
        || async {
            let metrics = app.get("/metrics").await.text().await.unwrap();
            match metrics.contains("quire_websockets 0") {
                true => Ok(()),
                false => Err("sockets still open".to_owned()),
            }
        },
    )
    .await;
    // The gauge drops a moment before the per-client count does: each place is waited for.
    let one = open_when_free(&app, &path).await;
    let _two = open_when_free(&app, &path).await;
    let _three = open_when_free(&app, &path).await;
    let (status, body) = open_as(&app, &path, Some(&app.base), None)
        .await
        .expect_err("429");
    assert_eq!(status, 429);
    assert!(body.contains("At most 3 live connections"), "{body}");
    drop(one);
    // Its place comes back once the server has seen it go.
    eventually(
        "a closed socket to give its place back",
        Duration::from_millis(2500),
        || async {
            open_as(&app, &path, Some(&app.base), None)
                .await
                .map_err(|(status, _)| status)
        },
    )
    .await;

    // A client that reads (and so answers pings) stays, well past the idle limit.
    // (The socket the wait above opened gives its place back a moment after it is dropped.)
    let mut alive = open_when_free(&app, &path).await;
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(frame)) = tokio::time::timeout_at(until, alive.next()).await {
        match frame.expect("a frame") {
            Message::Ping(_) => pings += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(pings >= 5, "{pings} pings in 1.5 s");
    // One that never answers is cut off once idle_ms passes.
    let mut silent = open_when_free(&app, &path).await;
    // Time is the point: no reading (reading would answer the pings) while idle_ms passes.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (code, reason) = closed_with(&mut silent, Duration::from_secs(2)).await;
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::Policy, "no answer to pings")
    );
}

#[tokio::test]
async fn stopping_the_server_closes_every_socket_cleanly() {
    let app = spawn_app().await;
    let (_, post) = a_post(&app, "Last words").await;
    let ed = app.signed_in("ed", Role::Editor).await;
    let mut page = open(&app, &format!("/ws/posts/{post}/comments"), None).await;
    let mut editor = open(&app, &format!("/ws/posts/{post}/editor"), Some(&ed)).await;
    expect_json(&mut editor).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("quire_websockets 2"), "{metrics}");
    let key = format!("{}ws:editing:{post}", app.settings.redis.key_prefix);
    let stopping = app.stop();
    for ws in [&mut page, &mut editor] {
        let (code, reason) = closed_with(ws, Duration::from_secs(5)).await;
        assert_eq!(
            (code, reason.as_str()),
            (CloseCode::Away, "the server is restarting")
        );
    }
    let running = app.loops_running();
    for each in [
        "redis watch",
        "settings listener",
        "live listener",
        "view flush",
    ] {
        assert!(running.contains(&each), "{each} runs: {running:?}");
    }
    stopping.await;
    // Every background loop the app started stops with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.loops_running().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "still running after the stop: {:?}",
            app.loops_running()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The editor's presence went with its socket.
    use secrecy::ExposeSecret;
    let redis = redis::Client::open(app.settings.redis.url.expose_secret()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let left: i64 = redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// A socket opened by hand on `path`: the handshake by hand, so it can send what no client
/// library would.
async fn raw_socket(app: &TestApp, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let handshake = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nOrigin: {}\r\n\r\n",
        app.port, app.base
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// The close code of the first close frame the server sends (pings skipped).
async fn raw_close_code(from: &mut tokio::net::tcp::OwnedReadHalf) -> u16 {
    use tokio::io::AsyncReadExt;
    loop {
        let (first, second) = (from.read_u8().await.unwrap(), from.read_u8().await.unwrap());
        let len = match second & 0x7f {
            126 => u64::from(from.read_u16().await.unwrap()),
            127 => from.read_u64().await.unwrap(),
            short => u64::from(short),
        };
        let mut payload = vec![0; usize::try_from(len).unwrap()];
        from.read_exact(&mut payload).await.unwrap();
        if first & 0x0f == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// This process's resident memory, in bytes (the server runs in it).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_frame_announced_over_the_limit_is_refused_from_its_header_not_buffered() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let (_, post) = a_post(&app, "Heavy reading").await;
    let (mut from, mut to) = raw_socket(&app, &format!("/ws/posts/{post}/comments"))
        .await
        .into_split();
    // A text frame announced at 64 MiB (masked, as clients' are), its payload trickled in.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(64u64 << 20).to_be_bytes());
    header.extend_from_slice(&[7, 7, 7, 7]);
    to.write_all(&header).await.unwrap();
    let before = resident_bytes();
    let trickle = tokio::spawn(async move {
        let chunk = vec![b'x'; 16 * 1024];
        let mut sent = 0usize;
        // Slowly at first, then as fast as the server takes it, up to 48 MiB in 5 s.
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while sent < 48 << 20 && tokio::time::Instant::now() < until {
            let write = tokio::time::timeout_at(until, to.write_all(&chunk)).await;
            if !matches!(write, Ok(Ok(()))) {
                break;
            }
            sent += chunk.len();
            if sent < 1 << 20 {
                // Time is the point: a trickle at first.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Still open: the frame is unfinished, not cut short.
        (sent, to)
    });
    // Closed at once with 1009 (Message too big), long before the idle cut-off.
    let code = tokio::time::timeout(Duration::from_secs(2), raw_close_code(&mut from))
        .await
        .expect("a close frame within two seconds");
    assert_eq!(code, 1009);
    let (sent, _still_open) = trickle.await.unwrap();
    let grew = resident_bytes().saturating_sub(before);
    assert!(
        grew < 16 << 20,
        "{} MiB sent after the header, memory grew {} MiB",
        sent >> 20,
        grew >> 20
    );
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .expect("the user")
}

/// A published post by `author` (signed in on `app`), and its id.
async fn a_post_by(app: &TestApp, author: &str, title: &str) -> i64 {
    let author = quire::accounts::model::UserId(user_id(app, author).await);
    let slug = app
        .post(
            author,
            PostSpec {
                title,
                ..Default::default()
            },
        )
        .await;
    post_id(app, &slug).await
}

#[tokio::test]
async fn a_post_taken_back_closes_its_pages_sockets() {
    // The hub looks over the posts its pages watch at every ping.
    let app = spawn_app_with(|s| s.ws.ping_ms = 200).await;
    let other = app.another_instance().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let back_to_draft = a_post_by(&app, "ann", "Second thoughts").await;
    let trashed = a_post_by(&app, "ann", "Regrets").await;
    let mut pages = Vec::new();
    for post in [back_to_draft, trashed] {
        let path = format!("/ws/posts/{post}/comments");
        pages.push((
            open(&app, &path, None).await,
            open(&other, &path, None).await,
        ));
    }

    // Back to draft, in the editor: every instance's pages are closed at once.
    let res = crate::admin::save_as(&ann, back_to_draft, "draft", "Second thoughts", "Hm.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (here, there) = &mut pages[0];
    for ws in [here, there] {
        let (code, reason) = closed_with(ws, Duration::from_secs(2)).await;
        assert_eq!(
            (code, reason.as_str()),
            (CloseCode::Policy, "this post is no longer published")
        );
    }
    // To the trash: within a ping.
    let confirm = format!("/admin/posts/{trashed}/delete");
    assert_eq!(
        ann.submit(&confirm, &confirm, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let (here, there) = &mut pages[1];
    for ws in [here, there] {
        let (code, reason) = closed_with(ws, Duration::from_secs(2)).await;
        assert_eq!(
            (code, reason.as_str()),
            (CloseCode::Policy, "this post is no longer published")
        );
    }
}

#[tokio::test]
async fn the_editor_socket_of_a_disabled_author_hears_no_more_saves() {
    let app = spawn_app().await;
    let ann = app.signed_in("ann", Role::Author).await;
    let jonas = app.signed_in("jonas", Role::Editor).await;
    let post = a_post_by(&app, "ann", "Shared work").await;
    let path = format!("/ws/posts/{post}/editor");
    let mut anns = open(&app, &path, Some(&ann)).await;
    expect_json(&mut anns).await;
    let mut jonass = open(&app, &path, Some(&jonas)).await;
    expect_json(&mut jonass).await;
    expect_json(&mut anns).await; // Jonas is here.

    let admin = app.signed_in("root", Role::Admin).await;
    let ann_id = user_id(&app, "ann").await;
    let res = admin
        .submit(
            "/admin/users",
            &format!("/admin/users/{ann_id}/disable"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = crate::admin::save_as(&jonas, post, "published", "Shared work", "Mine now").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Ann's socket is closed instead of told; Jonas still hears his save.
    let (code, reason) = closed_with(&mut anns, Duration::from_secs(2)).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("no longer edit this post"), "{reason}");
    loop {
        let heard = expect_json(&mut jonass).await;
        if heard["type"] == "saved" {
            break;
        }
    }
}
