//! The `quire` binary: configuration errors, seeding, creating users, graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use sqlx::Connection;

use crate::harness::{TestDb, quire_command};

fn run(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().expect("quire runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let db = TestDb::new().await;
    for (var, value, key) in [
        ("QUIRE__HTTP__PORT", "eighty", "http.port"),
        ("PORT", "99999", "http.port"),
        ("BASE_URL", "not a url", "http.base_url"),
        ("QUIRE__SITE__POSTS_PER_PAGE", "0", "site.posts_per_page"),
        ("QUIRE_ENV", "staging", "QUIRE_ENV"),
    ] {
        let mut cmd = quire_command(&db);
        cmd.arg("serve").env(var, value);
        let (ok, _, stderr) = run(cmd);
        assert!(!ok, "{var}={value} must stop start-up");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{var}: {stderr}");
        assert!(lines[0].contains(key), "{var}: {stderr}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_one_clear_line() {
    let db = TestDb::new().await;
    let mut cmd = quire_command(&db);
    cmd.arg("migrate").env(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:1/quire_nowhere",
    );
    let (ok, _, stderr) = run(cmd);
    assert!(!ok);
    assert!(
        stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn seeding_is_idempotent() {
    let db = TestDb::new().await;
    let mut first = quire_command(&db);
    first.args(["seed", "--posts", "12"]);
    let (ok, stdout, stderr) = run(first);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("12 posts created, 0 already there"),
        "{stdout}"
    );
    let mut again = quire_command(&db);
    again.args(["seed", "--posts", "12"]);
    let (ok, stdout, _) = run(again);
    assert!(ok);
    assert!(
        stdout.contains("0 posts created, 12 already there"),
        "{stdout}"
    );
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM published_posts), (SELECT count(*) FROM users),
                (SELECT count(DISTINCT tag_id) FROM post_tags)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counts.0, 12);
    assert!(
        counts.1 >= 3 && counts.2 >= 5,
        "several authors and tags: {counts:?}"
    );
    let (code, image): (bool, bool) = sqlx::query_as(
        "SELECT bool_or(body_html LIKE '%<pre tabindex=\"0\"><code%'), bool_or(body_html LIKE '%<img%') FROM posts",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(code && image, "demo posts have code blocks and images");
    let pages: Vec<String> = sqlx::query_scalar("SELECT slug FROM published_pages")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(pages, ["about"], "and an About page, once");

    // Past a batch (1,000 posts a statement), and written as the editor writes them: a first
    // revision each, post_tags carrying the publication date, tag lists built.
    let mut more = quire_command(&db);
    more.args(["seed", "--posts", "1005"]);
    let (ok, stdout, stderr) = run(more);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("993 posts created, 12 already there"),
        "{stdout}"
    );
    assert!(stderr.trim().is_empty(), "no bar off a terminal: {stderr}");
    let odd: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM posts p WHERE NOT EXISTS
                    (SELECT 1 FROM post_revisions r WHERE r.post_id = p.id AND r.version = 1
                        AND r.body_markdown = p.body_markdown AND r.excerpt = p.excerpt)),
                (SELECT count(*) FROM post_tags pt JOIN posts p ON p.id = pt.post_id
                  WHERE pt.published_at IS DISTINCT FROM p.published_at),
                (SELECT count(*) FROM posts
                  WHERE kind = 'post' AND jsonb_array_length(tag_list) <> 2),
                (SELECT count(*) FROM posts WHERE body_html = '' OR excerpt = '')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(odd, (0, 0, 0, 0), "seeded posts look like saved ones");
}

#[tokio::test]
async fn user_create_checks_its_input_and_refuses_duplicates() {
    let db = TestDb::new().await;
    let create = |username: &str, password: &str, role: &str| {
        let mut cmd = quire_command(&db);
        cmd.args(["user", "create", "--username", username, "--email"])
            .arg(format!("{username}@example.com"))
            .args(["--password", password, "--role", role]);
        run(cmd)
    };
    let (ok, _, stderr) = create("ada", "short", "author");
    assert!(!ok && stderr.contains("--password"), "{stderr}");
    let (ok, _, stderr) = create("ada", "a long enough password", "owner");
    assert!(!ok && stderr.contains("--role"), "{stderr}");
    let (ok, stdout, stderr) = create("ada", "a long enough password", "editor");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("created user ada"));
    let (ok, _, stderr) = create("ada", "a long enough password", "reader");
    assert!(!ok && stderr.contains("taken"), "{stderr}");
    let (role, hash): (String, String) =
        sqlx::query_as("SELECT role::text, password_hash FROM users WHERE username = 'ada'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(role, "editor");
    assert!(hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let db = TestDb::new().await;
    let (mut child, logs) = serve_with_logs(quire_command(&db));
    // The log's "serving" line carries the port the OS picked.
    let address = std::iter::from_fn(|| logs.recv_timeout(Duration::from_secs(30)).ok())
        .find(|v| v["message"] == "serving")
        .and_then(|v| v["address"].as_str().map(str::to_owned))
        .expect("serving line");

    // Hold a lock so the home page's query waits: the request is in flight for a while.
    let mut locker = sqlx::PgConnection::connect_with(
        &quire::db::connect_options(&db.settings.database).unwrap(),
    )
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE posts IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut locker)
        .await
        .unwrap();
    let url = format!("http://{address}/");
    let in_flight = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !in_flight.is_finished(),
        "the request is still waiting on the lock"
    );
    sqlx::raw_sql("COMMIT").execute(&mut locker).await.unwrap();

    let result = tokio::time::timeout(Duration::from_secs(10), in_flight).await;
    let status = result
        .expect("in time")
        .expect("task")
        .expect("a response, not a reset");
    assert_eq!(status, reqwest::StatusCode::OK);
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "quire exits cleanly after SIGTERM: {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_a_database_that_is_not_there_yet() {
    let db = TestDb::new().await;
    let proxy = crate::harness::TcpProxy::start().await;
    proxy.cut();
    let url = proxy.url_for(secrecy::ExposeSecret::expose_secret(
        &db.settings.database.url,
    ));
    let mut cmd = quire_command(&db);
    cmd.env("DATABASE_URL", url);
    let (mut child, logs) = serve_with_logs(cmd);
    let mut messages = std::iter::from_fn(move || {
        let line = logs.recv_timeout(Duration::from_secs(30)).ok()?;
        Some(line["message"].as_str().unwrap_or_default().to_owned())
    });
    assert_eq!(messages.next().as_deref(), Some("waiting for the database"));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    proxy.restore();
    let serving = messages.any(|m| m == "serving");
    assert!(serving, "serves once the database is back");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
}

/// `quire serve` on a free port with JSON logs at info level; each log line, parsed, arrives
/// on the receiver.
fn serve_with_logs(
    mut cmd: Command,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<serde_json::Value>,
) {
    cmd.arg("serve")
        .env("QUIRE__LOG__LEVEL", "info")
        .env("QUIRE__LOG__FORMAT", "json")
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("quire serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    (child, rx)
}

/// `quire rerender` makes every post's HTML again with today's renderer (highlighted code)
/// and leaves `updated_at` alone: nobody edited the posts.
#[tokio::test]
async fn rerender_highlights_old_posts_and_keeps_their_dates() {
    let db = TestDb::new().await;
    let (ok, _, stderr) = run({
        let mut cmd = quire_command(&db);
        cmd.arg("migrate");
        cmd
    });
    assert!(ok, "{stderr}");
    sqlx::raw_sql(
        "INSERT INTO users (username, email, display_name) VALUES ('ada', 'ada@example.com', 'Ada');
         INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html, status,
                            published_at, updated_at)
         SELECT (SELECT id FROM users), 'Code ' || i, 'code-' || i, '',
                E'Some code:\\n\\n```rust\\nfn main() {}\\n```\\n', '<p>as it was</p>', 'published',
                now() - interval '2 days', now() - interval '1 day'
           FROM generate_series(1, 450) i;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let before: Vec<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT updated_at FROM posts ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let (ok, stdout, stderr) = run({
        let mut cmd = quire_command(&db);
        cmd.arg("rerender");
        cmd
    });
    assert!(ok, "{stderr}");
    assert!(stdout.contains("450 posts"), "{stdout}");
    assert!(stdout.contains("450 changed"), "{stdout}");
    let html: Vec<String> = sqlx::query_scalar("SELECT body_html FROM posts ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(
        html.iter().all(|h| h.contains("<span class=\"hl-")),
        "{}",
        html[0]
    );
    let after: Vec<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT updated_at FROM posts ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(before, after, "rerendering is not an edit");
    // Twice: nothing left to change.
    let (_, stdout, _) = run({
        let mut cmd = quire_command(&db);
        cmd.arg("rerender");
        cmd
    });
    assert!(stdout.contains("0 changed"), "{stdout}");
}
