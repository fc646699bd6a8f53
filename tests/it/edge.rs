//! The edge cache (issue 29, item 4): a real Varnish (Debian's varnishd with the xkey vmod,
//! scripts/test.sh installs them) running deploy/varnish/default.vcl as it ships, in front
//! of the real app, whose `edge.purge` job purges it. Only `backends.vcl` is the test's own:
//! the shipped one with the app's port.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use quire::accounts::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{PostSpec, TcpProxy, TestApp, eventually, spawn_app_with};

/// How long a change may take to reach the edge (the job runs at once; a loaded machine).
const PURGED_WITHIN: Duration = Duration::from_secs(20);

/// A free local port (bound a moment, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `varnishd` running deploy/varnish/default.vcl in the foreground, in a working folder of
/// its own: `port` for clients, `proxy_port` speaking the PROXY protocol (so a test can say
/// which address a request comes from), `-T` for its admin. Stopped, and its folder removed,
/// when dropped.
struct Varnish {
    port: u16,
    proxy_port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Varnish {
    /// Varnish on `port`, in front of the app on `backend_port`.
    fn start(port: u16, backend_port: u16) -> Self {
        let bin = which("varnishd").unwrap_or_else(|| {
            panic!(
                "the edge tests need varnishd with the xkey vmod: run scripts/test.sh once, or \
                 apt-get install varnish varnish-modules"
            )
        });
        let dir = tempfile::tempdir().expect("a temporary folder");
        let shipped = repo_dir().join("deploy/varnish");
        // The shipped backends, pointed at the test's app: the only templated part.
        let backends = std::fs::read_to_string(shipped.join("backends.vcl"))
            .expect("deploy/varnish/backends.vcl")
            .replace(".port = \"8080\"", &format!(".port = \"{backend_port}\""));
        assert!(backends.contains(&backend_port.to_string()), "{backends}");
        std::fs::write(dir.path().join("backends.vcl"), backends).expect("backends.vcl");
        let proxy_port = free_port();
        let admin_port = free_port();
        let vcl_path = format!("{}:{}", dir.path().display(), shipped.display());
        let child = Command::new(bin)
            .arg("-F")
            // No privilege separation: the working folder is the test's (root's) own.
            .args(["-j", "none"])
            .arg("-n")
            .arg(dir.path().join("work"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .args(["-a", &format!("127.0.0.1:{proxy_port},PROXY")])
            .args(["-T", &format!("127.0.0.1:{admin_port}")])
            .arg("-f")
            .arg(shipped.join("default.vcl"))
            .args(["-p", &format!("vcl_path={vcl_path}")])
            .args(["-s", "malloc,64m"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("varnishd.log")).expect("a log file"),
            ))
            .spawn()
            .expect("varnishd starts");
        let mut varnish = Self {
            port,
            proxy_port,
            child,
            dir,
        };
        varnish.wait_listening();
        varnish
    }

    fn wait_listening(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("varnishd exited ({status}): {}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("varnishd did not listen: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("varnishd.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stop it (as its service manager would) and wait for it.
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The app with Varnish in front of it, purged by the app's job.
struct Edge {
    app: TestApp,
    varnish: Varnish,
    /// A reader's browser without cookies, talking to Varnish.
    client: reqwest::Client,
}

/// What the edge answered.
struct Seen {
    status: StatusCode,
    x_cache: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Edge {
    async fn start() -> Self {
        let port = free_port();
        let app = spawn_app_with(|s| {
            s.edge.purge_url = Some(format!("http://127.0.0.1:{port}/").parse().unwrap());
        })
        .await;
        Self::around(app, port).await
    }

    /// Purges go through a proxy (returned) that the test can cut.
    async fn with_purges_through_a_proxy() -> (Self, TcpProxy) {
        let port = free_port();
        let proxy = TcpProxy::to_url(&format!("http://127.0.0.1:{port}/"), port).await;
        let purge_url = proxy.url_for(&format!("http://127.0.0.1:{port}/"));
        let app = spawn_app_with(|s| s.edge.purge_url = Some(purge_url.parse().unwrap())).await;
        (Self::around(app, port).await, proxy)
    }

    async fn around(app: TestApp, port: u16) -> Self {
        let varnish = Varnish::start(port, app.port);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let edge = Self {
            app,
            varnish,
            client,
        };
        // Through to the app: the probe and the VCL are working.
        eventually(
            "Varnish to reach the app",
            Duration::from_secs(20),
            || async {
                let seen = edge.get("/healthz").await;
                match seen.status {
                    StatusCode::OK => Ok(()),
                    other => Err(other),
                }
            },
        )
        .await;
        edge
    }

    async fn get(&self, path: &str) -> Seen {
        self.send(self.client.get(format!("{}{path}", self.varnish.url())))
            .await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Seen {
        let res = req.send().await.expect("Varnish answers");
        let status = res.status();
        let headers = res.headers().clone();
        let x_cache = headers
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = res.text().await.unwrap_or_default();
        Seen {
            status,
            x_cache,
            headers,
            body,
        }
    }

    /// `path` kept at the edge: asked twice, the second answer a HIT. Its body. Purges of
    /// what the test wrote before are sent first, so none arrives in between.
    async fn kept(&self, path: &str) -> String {
        self.app.until_jobs_ran().await;
        let first = self.get(path).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.body);
        let second = self.get(path).await;
        assert_eq!(
            (second.status, second.x_cache.as_str()),
            (StatusCode::OK, "HIT"),
            "{path} is kept at the edge"
        );
        assert_eq!(first.body, second.body);
        second.body
    }

    /// Wait until the edge's answer for `path` satisfies `shows`.
    async fn until_edge_shows(&self, what: &str, path: &str, shows: impl Fn(&Seen) -> bool) {
        eventually(what, PURGED_WITHIN, || async {
            let seen = self.get(path).await;
            match shows(&seen) {
                true => Ok(()),
                false => Err(format!("{} {}", seen.status, seen.x_cache)),
            }
        })
        .await;
    }
}

/// A token for `username` (signed in through the harness) from the API's login.
async fn api_token(app: &TestApp, username: &str) -> String {
    let (status, body) = crate::api::call(
        app,
        Method::POST,
        "/api/users/login",
        None,
        Some(json!({"user": {
            "email": format!("{username}@example.com"),
            "password": crate::harness::PASSWORD,
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["token"].as_str().unwrap().to_owned()
}

async fn post_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_public_page_is_kept_at_the_edge_and_its_instructions_stay_there() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Kept at the edge",
                tags: &["Rust"],
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    // Quire says, to the edge only: keep it long, and what it shows.
    let direct = app.get(&path).await;
    let header = |name: &str| {
        direct
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        header("surrogate-control"),
        "max-age=86400, stale-if-error=86400"
    );
    let keys = header("surrogate-key");
    let id = post_id(app, &slug).await;
    for key in [
        format!("post-{id}"),
        format!("author-{}", ada.0),
        "posts".into(),
        "site".into(),
    ] {
        assert!(keys.split(' ').any(|k| k == key), "{key} in {keys:?}");
    }
    assert_eq!(
        header("cache-control"),
        "public, max-age=0, must-revalidate"
    );

    let first = edge.get(&path).await;
    assert_eq!(
        (first.status, first.x_cache.as_str()),
        (StatusCode::OK, "MISS")
    );
    let second = edge.get(&path).await;
    assert_eq!(
        (second.status, second.x_cache.as_str()),
        (StatusCode::OK, "HIT")
    );
    assert!(second.body.contains("Kept at the edge"));
    for name in ["surrogate-key", "surrogate-control", "xkey"] {
        assert!(
            !second.headers.contains_key(name),
            "{name} reached a reader"
        );
    }
    assert_eq!(
        second.headers["cache-control"], "public, max-age=0, must-revalidate",
        "browsers revalidate as before"
    );
    // An address the page cache does not keep (an unknown parameter) is not kept either.
    let other = format!("{path}?utm_source=x");
    edge.get(&other).await;
    assert_eq!(edge.get(&other).await.x_cache, "MISS");
}

#[tokio::test]
async fn publishing_editing_and_unpublishing_reach_the_edge() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ann = app.signed_in("ann", Role::Author).await;
    let home = edge.kept("/").await;
    assert!(!home.contains("Fresh ink"));

    // Published in the editor.
    let id = crate::admin::write(&ann, "Fresh ink", "The first words.", "published").await;
    edge.until_edge_shows("the new post on the edge's home page", "/", |s| {
        s.body.contains("Fresh ink")
    })
    .await;
    let slug = sqlx::query_scalar::<_, String>("SELECT slug FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let path = format!("/posts/{slug}");
    assert!(edge.kept(&path).await.contains("The first words."));
    edge.kept("/").await;

    // Edited in the editor: its page, and the lists that show it (the card's excerpt follows
    // the body).
    let res = crate::admin::save_as(&ann, id, "published", "Fresh ink", "Better words.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    edge.until_edge_shows("the edit on the post's page", &path, |s| {
        s.body.contains("Better words.")
    })
    .await;
    edge.until_edge_shows("the new excerpt on the home page", "/", |s| {
        s.body.contains("Better words.")
    })
    .await;
    edge.kept(&path).await;
    edge.kept("/").await;

    // Taken back to a draft through the API: gone from the edge too.
    let token = api_token(app, "ann").await;
    let (status, body) = crate::api::call(
        app,
        Method::PUT,
        &format!("/api/articles/{slug}"),
        Some(&token),
        Some(json!({"article": {"status": "draft"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    edge.until_edge_shows("the post gone from the edge", &path, |s| {
        s.status == StatusCode::NOT_FOUND
    })
    .await;
    edge.until_edge_shows("the home page without it", "/", |s| {
        s.status == StatusCode::OK && !s.body.contains("Fresh ink")
    })
    .await;
}

#[tokio::test]
async fn a_comment_a_tag_edit_and_a_settings_change_reach_the_edge() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Talk to me",
                tags: &["Gardening"],
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    edge.kept(&path).await;

    // A comment, through the post page's form.
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = crate::comments::comment(&rita, &slug, "Lovely roses.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    edge.until_edge_shows("the comment on the edge's post page", &path, |s| {
        s.body.contains("Lovely roses.")
    })
    .await;

    // A tag edited in the admin: its page shows the new description.
    edge.kept("/tags/gardening").await;
    let tag: i64 = sqlx::query_scalar("SELECT id FROM tags WHERE slug = 'gardening'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let eve = app.signed_in("eve", Role::Editor).await;
    let res = eve
        .submit(
            &format!("/admin/tags/{tag}/edit"),
            &format!("/admin/tags/{tag}"),
            &[
                ("name", "Gardening"),
                ("slug", "gardening"),
                ("description", "Roses, mostly."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    edge.until_edge_shows("the tag's new description", "/tags/gardening", |s| {
        s.body.contains("Roses, mostly.")
    })
    .await;

    // The site's title, in the settings: every page.
    edge.kept(&path).await;
    edge.kept("/tags").await;
    let root = app.signed_in("root", Role::Admin).await;
    let res = crate::settings::save(&root, &[("title", "The Rose Garden")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for page in [path.as_str(), "/tags", "/tags/gardening"] {
        edge.until_edge_shows("the new title on every page", page, |s| {
            s.body.contains("The Rose Garden")
        })
        .await;
    }
}

#[tokio::test]
async fn a_change_made_in_sql_reaches_the_edge_too() {
    // The triggers record purges whoever writes: here, plain SQL (as an importer or psql).
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Quiet",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    edge.kept(&path).await;
    sqlx::query("UPDATE posts SET body_html = '<p>Written in SQL.</p>' WHERE slug = $1")
        .bind(&slug)
        .execute(&app.db)
        .await
        .unwrap();
    edge.until_edge_shows("the SQL change at the edge", &path, |s| {
        s.body.contains("Written in SQL.")
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_request_is_never_served_from_the_edge_nor_kept() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "For everyone",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    edge.kept(&path).await;
    let rita = app.signed_in("rita", Role::Reader).await;
    let session = format!("quire_session={}", rita.session_cookie().unwrap());
    let as_rita = |p: &str| {
        edge.client
            .get(format!("{}{p}", edge.varnish.url()))
            .header("Cookie", format!("_ga=GA1.1; {session}"))
    };
    // A page kept for everyone: Rita gets her own, made for her.
    let seen = edge.send(as_rita(&path)).await;
    assert_eq!(
        (seen.status, seen.x_cache.as_str()),
        (StatusCode::OK, "PASS")
    );
    assert!(seen.body.contains("Rita Display"), "her own page");
    // A page nobody kept yet: hers is made for her and not kept for the next reader.
    let seen = edge.send(as_rita("/tags")).await;
    assert_eq!(seen.x_cache, "PASS");
    assert!(seen.body.contains("Rita Display"));
    let anonymous = edge.get("/tags").await;
    assert_eq!(anonymous.x_cache, "MISS");
    assert!(!anonymous.body.contains("Rita Display"));
    // Other cookies (analytics) alone don't make a page personal.
    let seen = edge
        .send(
            edge.client
                .get(format!("{}{path}", edge.varnish.url()))
                .header("Cookie", "_ga=GA1.1; consent=yes"),
        )
        .await;
    assert_eq!(seen.x_cache, "HIT");
    // The API with a token: passed to the app, never kept.
    let token = api_token(app, "rita").await;
    let with_token = || {
        edge.client
            .get(format!("{}/api/articles/{slug}", edge.varnish.url()))
            .header("Authorization", format!("Token {token}"))
    };
    assert_eq!(edge.send(with_token()).await.x_cache, "PASS");
    assert_eq!(edge.send(with_token()).await.x_cache, "PASS");
    assert_eq!(
        edge.get(&format!("/api/articles/{slug}")).await.x_cache,
        "MISS"
    );
    assert_eq!(
        edge.get(&format!("/api/articles/{slug}")).await.x_cache,
        "HIT"
    );
}

#[tokio::test]
async fn with_the_app_down_the_edge_serves_what_it_kept() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Still here",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    let kept = edge.kept(&path).await;
    edge.kept("/tags").await;
    // A comment purges the post's page (softly: it stays for stale-if-error), and the app
    // goes down before anyone asks for the page again.
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = crate::comments::comment(&rita, &slug, "Last words before the outage.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.until_jobs_ran().await;
    app.stop().await;

    let seen = edge.get(&path).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.x_cache, "STALE", "served past its time");
    assert_eq!(seen.body, kept, "the copy made before the comment");
    let tags = edge.get("/tags").await;
    assert_eq!(
        (tags.status, tags.x_cache.as_str()),
        (StatusCode::OK, "HIT")
    );
    // A page the edge never kept: Varnish's own readable 503.
    let missing = edge.get("/authors/ada").await;
    assert_eq!(missing.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        missing.body.contains("Temporarily unavailable"),
        "{}",
        missing.body
    );
    assert_eq!(missing.headers["retry-after"], "30");
}

#[tokio::test]
async fn purges_wait_while_the_edge_is_away_and_arrive_when_it_returns() {
    let (edge, proxy) = Edge::with_purges_through_a_proxy().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Patience",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    edge.kept(&path).await;
    proxy.cut();
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = crate::comments::comment(&rita, &slug, "Said while the edge was away.").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The purge fails, is noted for /admin/jobs, and its keys wait.
    let error: String = eventually("a purge to fail", PURGED_WITHIN, || async {
        sqlx::query_scalar::<_, String>(
            "SELECT last_error FROM jobs
              WHERE kind = 'edge.purge' AND state = 'queued' AND last_error IS NOT NULL",
        )
        .fetch_optional(&app.db)
        .await
        .unwrap()
    })
    .await;
    assert!(error.contains("no answer"), "{error}");
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM edge_purges")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(waiting > 0);
    let seen = edge.get(&path).await;
    assert_eq!(seen.x_cache, "HIT", "the edge has heard nothing yet");
    assert!(!seen.body.contains("Said while the edge was away."));

    proxy.restore();
    edge.until_edge_shows("the purge once the edge is back", &path, |s| {
        s.body.contains("Said while the edge was away.")
    })
    .await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM edge_purges")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(waiting, 0, "nothing left once sent");
}

/// One purge request straight to Varnish, from `from` (through its PROXY-protocol listener,
/// which says which address the request comes from); the status line's code.
fn purge_from(varnish: &Varnish, from: &str, keys: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", varnish.proxy_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "PROXY TCP4 {from} 127.0.0.1 40000 80\r\n\
         PURGE / HTTP/1.1\r\nHost: edge\r\nxkey-purge: {keys}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"))
}

#[tokio::test]
async fn only_allowed_addresses_may_purge() {
    let edge = Edge::start().await;
    let app = &edge.app;
    let ada = app.author("ada").await;
    let slug = app
        .post(
            ada,
            PostSpec {
                title: "Guarded",
                ..Default::default()
            },
        )
        .await;
    let path = format!("/posts/{slug}");
    edge.kept(&path).await;
    // From the internet: refused, and the page stays.
    assert_eq!(purge_from(&edge.varnish, "203.0.113.7", "site"), 403);
    assert_eq!(edge.get(&path).await.x_cache, "HIT");
    // From a private network (another Quire instance): done.
    assert_eq!(purge_from(&edge.varnish, "10.1.2.3", "site"), 200);
    assert_eq!(edge.get(&path).await.x_cache, "MISS");
    // A purge without keys is a mistake, said as one.
    let res = edge
        .client
        .request(Method::from_bytes(b"PURGE").unwrap(), edge.varnish.url())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Every route the page cache keeps names what it shows, so a change can purge it: more
/// than `site` alone, which would leave it until the next settings change.
#[tokio::test]
async fn every_kept_route_names_what_it_shows() {
    for cache in [true, false] {
        // Purges go nowhere that answers: what matters here is what pages say.
        let app = spawn_app_with(|s| {
            s.cache.enabled = cache;
            s.edge.purge_url = Some("http://127.0.0.1:9/".parse().unwrap());
        })
        .await;
        let ada = app.author("ada").await;
        let slug = app
            .post(
                ada,
                PostSpec {
                    title: "Named",
                    tags: &["Rust"],
                    ..Default::default()
                },
            )
            .await;
        app.post(
            ada,
            PostSpec {
                title: "About",
                kind: quire::posts::model::PostKind::Page,
                ..Default::default()
            },
        )
        .await;
        let accent: String = sqlx::query_scalar("SELECT accent FROM tags WHERE slug = 'rust'")
            .fetch_one(&app.db)
            .await
            .unwrap();
        let paths = [
            "/".to_owned(),
            format!("/posts/{slug}"),
            "/tags".into(),
            "/tags/rust".into(),
            "/tags/rust/feed.xml".into(),
            format!("/tags/rust/accent.css?v={accent}"),
            "/authors/ada".into(),
            "/authors/ada/feed.xml".into(),
            "/search?q=named".into(),
            "/feed.xml".into(),
            "/feed.xsl".into(),
            "/sitemap.xml".into(),
            "/about".into(),
            "/api/profiles/ada".into(),
            "/api/articles".into(),
            format!("/api/articles/{slug}"),
            format!("/api/articles/{slug}/comments"),
            "/api/tags".into(),
        ];
        for path in paths {
            // Twice: as made, and as the page cache serves it.
            for _ in 0..2 {
                let res = app.get(&path).await;
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                let keys = res
                    .headers()
                    .get("surrogate-key")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_else(|| panic!("{path} (cache {cache}) names no keys"));
                // The feed's stylesheet shows the site's name and nothing else.
                let more = path != "/feed.xsl";
                assert!(
                    keys.split(' ').any(|k| k == "site") && (keys.split(' ').count() > 1) == more,
                    "{path}: {keys}"
                );
                assert!(res.headers().contains_key("surrogate-control"), "{path}");
            }
        }
        // Never a person's page, nor a form.
        let rita = app.signed_in("rita", Role::Reader).await;
        for path in ["/".to_owned(), format!("/posts/{slug}")] {
            let res = rita.get(&path).await;
            assert!(!res.headers().contains_key("surrogate-control"), "{path}");
        }
        let res = app.get("/login").await;
        assert!(!res.headers().contains_key("surrogate-control"));
    }
}

#[tokio::test]
async fn the_edge_never_keeps_a_list_past_the_next_scheduled_post() {
    let app =
        spawn_app_with(|s| s.edge.purge_url = Some("http://127.0.0.1:9/".parse().unwrap())).await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Soon",
            published_in_minutes: 10,
            ..Default::default()
        },
    )
    .await;
    let res = app.get("/").await;
    let control = res.headers()["surrogate-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let max_age: u64 = control
        .strip_prefix("max-age=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{control}"));
    assert!((500..=610).contains(&max_age), "{control}");
}

/// Without a purge target nothing could tell an edge that a page changed, so no page invites
/// one to keep it (and the page costs no query more than its own).
#[tokio::test]
async fn without_a_purge_target_no_page_is_offered_to_an_edge() {
    for cache in [true, false] {
        let app = spawn_app_with(|s| s.cache.enabled = cache).await;
        let ada = app.author("ada").await;
        let slug = app.post(ada, PostSpec::default()).await;
        for path in [
            "/".to_owned(),
            format!("/posts/{slug}"),
            "/api/articles".into(),
        ] {
            for _ in 0..2 {
                let res = app.get(&path).await;
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                assert!(!res.headers().contains_key("surrogate-control"), "{path}");
                assert!(!res.headers().contains_key("surrogate-key"), "{path}");
            }
        }
    }
}
