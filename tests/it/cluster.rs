//! Faults under load on several hosts: nginx in front of three app hosts, a PostgreSQL
//! primary and streaming replica, and Redis, each in a network namespace of its own
//! (`scripts/cluster.sh`). A mixed load (pages, API reads, searches, a stream of comments and
//! post saves) runs through nginx at 256 connections while one thing goes wrong; then:
//! - no read failed (nginx retries idempotent requests on the next host),
//! - every write either succeeded exactly once or answered an error, and none was applied
//!   twice (nginx never retries a POST that reached a host),
//! - nothing an author saved was lost.
//!
//! Root only (namespaces); they run one at a time (`.config/nextest.toml`). Each prints its
//! figures, which README "Scaling Quire" quotes. `CLUSTER_LOAD_SECS` shortens the load.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

const BASE: &str = "http://10.77.0.10";
const PRIMARY: &str = "postgres://postgres@10.77.0.20:5432/quire?sslmode=disable";
const CONNECTIONS: usize = 256;
/// Accounts that comment: each may post 5 comments a minute (comments::PER_MINUTE).
const COMMENTERS: usize = 24;
/// Posts the author keeps saving, one saver each, in order.
const SAVED_POSTS: usize = 4;

/// The test bed, taken down when dropped (even when the test fails).
pub struct Cluster {
    script: PathBuf,
}

impl Cluster {
    pub fn up() -> Self {
        assert!(
            is_root(),
            "the cluster tests build network namespaces: run them as root"
        );
        let cluster = Self {
            script: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh"),
        };
        // A bed a crashed run left behind.
        let _ = cluster.command(&["down"]).status();
        cluster.sh(&["up"]);
        cluster
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(&self.script)
            .args(args)
            .env("QUIRE_BIN", env!("CARGO_BIN_EXE_quire"))
            .env("DEMO_POSTS", "40")
            // One client address makes all of the load: lift the per-address limits (the
            // per-account comment limit stays, hence many commenters).
            .env("QUIRE__API__REQUESTS_PER_MINUTE", "10000000")
            .env("QUIRE__API__ACCOUNT_REQUESTS_PER_MINUTE", "10000000")
            .env("QUIRE__SEARCH__REQUESTS_PER_MINUTE", "10000000")
            .env("QUIRE__ACCOUNTS__REGISTRATIONS_PER_HOUR", "100000");
        cmd
    }

    /// Run `scripts/cluster.sh ARGS`, which must succeed.
    pub fn sh(&self, args: &[&str]) {
        let status = self.command(args).status().expect("bash runs");
        assert!(status.success(), "scripts/cluster.sh {args:?}: {status}");
    }

    pub async fn primary(&self) -> PgPool {
        PgPool::connect(PRIMARY).await.expect("the primary answers")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::env::var_os("CLUSTER_KEEP").is_none() {
            let _ = self.command(&["down"]).status();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn load_secs() -> u64 {
    std::env::var("CLUSTER_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// What the load needs: tokens, posts to read, comment on and save.
pub struct Site {
    http: reqwest::Client,
    /// A client that keeps no connection: a GET that got no answer is sent again on a new
    /// one, as browsers do (another pooled connection may be closing in the same reload).
    fresh: reqwest::Client,
    slugs: Vec<String>,
    tags: Vec<String>,
    commenters: Vec<String>,
    author: String,
    saved: Vec<String>,
}

async fn json_ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body = res.text().await.expect("a body");
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

async fn register(http: &reqwest::Client, name: String) -> String {
    let res = http
        .post(format!("{BASE}/api/users"))
        .json(
            &json!({"user": {"username": name, "email": format!("{name}@example.com"),
            "password": "correct horse battery"}}),
        )
        .send()
        .await
        .expect("register");
    json_ok(res).await["user"]["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

impl Site {
    pub async fn prepare(cluster: &Cluster) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .timeout(Duration::from_secs(90))
            .build()
            .expect("a client");
        let articles = json_ok(
            http.get(format!("{BASE}/api/articles?limit=40"))
                .send()
                .await
                .expect("articles"),
        )
        .await;
        let slugs: Vec<String> = articles["articles"]
            .as_array()
            .expect("articles")
            .iter()
            .map(|a| a["slug"].as_str().expect("slug").to_owned())
            .collect();
        assert!(slugs.len() >= 20, "the demo posts are there");
        let tags = json_ok(
            http.get(format!("{BASE}/api/tags"))
                .send()
                .await
                .expect("tags"),
        )
        .await["tags"]
            .as_array()
            .expect("tags")
            .iter()
            // The tag page's address: its slug, from the name the API gives.
            .map(|t| t.as_str().expect("tag").to_lowercase().replace(' ', "-"))
            .collect();
        // One at a time: password hashing is bounded, and a queue past it answers 503.
        let mut commenters = Vec::new();
        for i in 0..COMMENTERS {
            commenters.push(register(&http, format!("reader{i}")).await);
        }
        // The author: an account made an author by the command line, as an admin would.
        let author = register(&http, "writer".to_owned()).await;
        cluster.sh(&[
            "cli",
            "user",
            "role",
            "--username",
            "writer",
            "--role",
            "author",
        ]);
        let mut saved = Vec::new();
        for i in 0..SAVED_POSTS {
            let res = http
                .post(format!("{BASE}/api/articles"))
                .header("Authorization", format!("Token {author}"))
                .json(&json!({"article": {"title": format!("Kept saving {i}"),
                    "description": "saved under load", "body": "first draft"}}))
                .send()
                .await
                .expect("create");
            saved.push(
                json_ok(res).await["article"]["slug"]
                    .as_str()
                    .expect("slug")
                    .to_owned(),
            );
        }
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(90))
            .build()
            .expect("a client");
        Self {
            http,
            fresh,
            slugs,
            tags,
            commenters,
            author,
            saved,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Post,
    Home,
    Tag,
    ApiList,
    ApiOne,
    Search,
    Comment,
    Save,
}

impl Kind {
    fn is_read(self) -> bool {
        !matches!(self, Kind::Comment | Kind::Save)
    }
}

/// One request's outcome: its status (0: no answer), how long it took.
struct Done {
    kind: Kind,
    status: u16,
    ms: f64,
    what: String,
}

/// What a load run saw.
pub struct Tally {
    done: Vec<Done>,
    /// Comment markers, and whether their POST answered success.
    comments: Vec<(String, bool)>,
    /// Per saved post, its saves in order: (marker, answered success).
    saves: Vec<Vec<(String, bool)>>,
    /// GETs sent a second time after no answer at all (as a browser does).
    retried: u64,
    secs: f64,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One GET's status, its body read to the end (0: no answer, or a body cut short).
async fn get(http: &reqwest::Client, path: &str) -> u16 {
    match http.get(format!("{BASE}{path}")).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            if res.bytes().await.is_ok() { status } else { 0 }
        }
        Err(_) => 0,
    }
}

/// Run the mixed load for `secs` through nginx, with `fault` run alongside it once the load
/// is going (it gets the load's start time).
pub async fn run_load<F, Fut>(site: &Arc<Site>, secs: u64, fault: F) -> Tally
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    // Readers: pages, API reads and searches.
    let retried = Arc::new(AtomicU64::new(0));
    for c in 0..CONNECTIONS - SAVED_POSTS - 4 {
        let (site, stop, done, retried) =
            (site.clone(), stop.clone(), done.clone(), retried.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 0x2545_F491));
            while !stop.load(Ordering::Relaxed) {
                let slug = &site.slugs[rng.below(site.slugs.len())];
                let (kind, path) = match rng.below(100) {
                    0..40 => (Kind::Post, format!("/posts/{slug}")),
                    40..55 => (Kind::Home, "/".to_owned()),
                    55..65 => (
                        Kind::Tag,
                        format!("/tags/{}", site.tags[rng.below(site.tags.len())]),
                    ),
                    65..80 => (Kind::ApiList, "/api/articles?limit=20".to_owned()),
                    80..92 => (Kind::ApiOne, format!("/api/articles/{slug}")),
                    _ => (
                        Kind::Search,
                        format!(
                            "/search?q={}",
                            ["rust", "quire", "notes", "writing"][rng.below(4)]
                        ),
                    ),
                };
                let t = Instant::now();
                let mut status = get(&site.http, &path).await;
                if status == 0 {
                    // No answer at all: a keep-alive connection nginx closed as the request
                    // went out (a reload does that). Browsers send such a GET again on a new
                    // connection; so do we, once, and count it.
                    retried.fetch_add(1, Ordering::Relaxed);
                    status = get(&site.fresh, &path).await;
                }
                done.lock().unwrap().push(Done {
                    kind,
                    status,
                    ms: t.elapsed().as_secs_f64() * 1000.0,
                    what: path,
                });
            }
        }));
    }
    // Commenters: 4 streams, each account at most 5 comments a minute.
    let comments = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicU64::new(0));
    for w in 0..4 {
        let (site, stop, done, comments, sent) = (
            site.clone(),
            stop.clone(),
            done.clone(),
            comments.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (w as u64 + 7));
            let per_account = Duration::from_secs(60) / 5;
            let spacing = per_account / (site.commenters.len() as u32 / 4).max(1);
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                let marker = format!("load-comment-{n}");
                let token = &site.commenters[i % site.commenters.len()];
                i += 4;
                let slug = &site.slugs[rng.below(site.slugs.len())];
                let t = Instant::now();
                let res = site
                    .http
                    .post(format!("{BASE}/api/articles/{slug}/comments"))
                    .header("Authorization", format!("Token {token}"))
                    .json(&json!({"comment": {"body": marker}}))
                    .send()
                    .await;
                let status = res.map(|r| r.status().as_u16()).unwrap_or(0);
                comments
                    .lock()
                    .unwrap()
                    .push((marker.clone(), (200..300).contains(&status)));
                done.lock().unwrap().push(Done {
                    kind: Kind::Comment,
                    status,
                    ms: t.elapsed().as_secs_f64() * 1000.0,
                    what: marker,
                });
                tokio::time::sleep(spacing.saturating_sub(t.elapsed())).await;
            }
        }));
    }
    // Savers: the author saves each post over and over, one save after another.
    let saves = Arc::new(Mutex::new(vec![Vec::new(); site.saved.len()]));
    for (p, slug) in site.saved.iter().enumerate() {
        let (site, stop, done, saves, slug) = (
            site.clone(),
            stop.clone(),
            done.clone(),
            saves.clone(),
            slug.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let marker = format!("load-save-{p}-{n}");
                let t = Instant::now();
                let res = site
                    .http
                    .put(format!("{BASE}/api/articles/{slug}"))
                    .header("Authorization", format!("Token {}", site.author))
                    .json(&json!({"article": {"body": marker}}))
                    .send()
                    .await;
                let status = res.map(|r| r.status().as_u16()).unwrap_or(0);
                saves.lock().unwrap()[p].push((marker.clone(), (200..300).contains(&status)));
                done.lock().unwrap().push(Done {
                    kind: Kind::Save,
                    status,
                    ms: t.elapsed().as_secs_f64() * 1000.0,
                    what: marker,
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    // Let the load settle in before the fault, then keep it going to the end.
    let load = async {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    };
    let fault = async {
        tokio::time::sleep(Duration::from_secs(secs / 6)).await;
        fault().await;
    };
    tokio::join!(load, fault);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a load task");
    }
    let secs = start.elapsed().as_secs_f64();
    Tally {
        done: std::mem::take(&mut done.lock().unwrap()),
        comments: std::mem::take(&mut comments.lock().unwrap()),
        saves: std::mem::take(&mut saves.lock().unwrap()),
        retried: retried.load(Ordering::Relaxed),
        secs,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl Tally {
    /// The figures README quotes, one line.
    pub fn report(&self, name: &str) -> String {
        let mut ms: Vec<f64> = self.done.iter().map(|d| d.ms).collect();
        ms.sort_by(f64::total_cmp);
        let reads = self.done.iter().filter(|d| d.kind.is_read()).count();
        let failed_reads = self
            .done
            .iter()
            .filter(|d| d.kind.is_read() && d.status != 200)
            .count();
        let writes_ok = self
            .done
            .iter()
            .filter(|d| !d.kind.is_read() && (200..300).contains(&d.status))
            .count();
        let writes_err = self
            .done
            .iter()
            .filter(|d| !d.kind.is_read() && !(200..300).contains(&d.status))
            .count();
        let line = format!(
            "{name}: {} requests in {:.0} s ({:.0}/s) | reads {reads}, failed {failed_reads}, \
             sent again {} | writes ok {writes_ok}, errors {writes_err} | p50 {:.1} ms, \
             p99 {:.1} ms, max {:.0} ms",
            self.done.len(),
            self.secs,
            self.done.len() as f64 / self.secs,
            self.retried,
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(0.0),
        );
        let failed = self.failed_writes();
        let line = if failed.is_empty() {
            line
        } else {
            format!(
                "{line} | failed writes: {:?}",
                &failed[..failed.len().min(3)]
            )
        };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/cluster-figures");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.txt")), format!("{line}\n"));
        eprintln!("{line}");
        line
    }

    pub fn failed_reads(&self) -> Vec<String> {
        self.done
            .iter()
            .filter(|d| d.kind.is_read() && d.status != 200)
            .map(|d| format!("{:?} {} -> {}", d.kind, d.what, d.status))
            .collect()
    }

    pub fn failed_writes(&self) -> Vec<String> {
        self.done
            .iter()
            .filter(|d| !d.kind.is_read() && !(200..300).contains(&d.status))
            .map(|d| format!("{:?} {} -> {}", d.kind, d.what, d.status))
            .collect()
    }

    /// Every comment that answered success is there once; none is there twice. Every post's
    /// text is its last successful save's, or a later one's that answered an error.
    pub async fn check_writes(&self, db: &PgPool) {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT body_markdown, count(*) FROM comments WHERE body_markdown LIKE 'load-%' \
             GROUP BY 1",
        )
        .fetch_all(db)
        .await
        .expect("comments");
        let stored: HashMap<String, i64> = rows.into_iter().collect();
        assert!(!self.comments.is_empty(), "comments were sent");
        for (marker, ok) in &self.comments {
            let n = stored.get(marker).copied().unwrap_or(0);
            assert!(n <= 1, "{marker} was applied {n} times");
            if *ok {
                assert_eq!(n, 1, "{marker} answered success but is not stored");
            }
        }
        for saves in &self.saves {
            let Some(last_ok) = saves.iter().rposition(|(_, ok)| *ok) else {
                panic!("no save of a post succeeded: {saves:?}");
            };
            let (body,): (String,) = sqlx::query_as(
                "SELECT body_markdown FROM posts WHERE body_markdown LIKE $1 || '%' \
                 AND deleted_at IS NULL",
            )
            .bind(saves[0].0.rsplit_once('-').expect("a marker").0.to_owned() + "-")
            .fetch_one(db)
            .await
            .expect("the saved post");
            assert!(
                saves[last_ok..].iter().any(|(m, _)| *m == body),
                "the post holds {body:?}, older than its last successful save {:?}",
                saves[last_ok].0
            );
        }
    }
}

/// A live-comment socket through nginx for `slug`'s post.
async fn live_socket(
    db: &PgPool,
    slug: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(db)
        .await
        .expect("the post");
    let mut request = format!("ws://10.77.0.10/ws/posts/{id}/comments")
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("origin", BASE.parse().expect("origin"));
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the socket opens through nginx")
        .0
}

fn assert_no_failures(tally: &Tally) {
    let failed = tally.failed_reads();
    assert!(
        failed.is_empty(),
        "{} reads failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_app_host_loses_no_read_and_applies_no_write_twice() {
    let cluster = Cluster::up();
    let site = Arc::new(Site::prepare(&cluster).await);
    let tally = run_load(&site, load_secs(), || async {
        cluster.sh(&["kill", "2"]);
    })
    .await;
    tally.report("kill-9");
    assert_no_failures(&tally);
    tally.check_writes(&cluster.primary().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_an_app_hosts_link_for_ten_seconds_loses_no_read() {
    let cluster = Cluster::up();
    let site = Arc::new(Site::prepare(&cluster).await);
    let tally = run_load(&site, load_secs(), || async {
        cluster.sh(&["link", "3", "down"]);
        tokio::time::sleep(Duration::from_secs(10)).await;
        cluster.sh(&["link", "3", "up"]);
    })
    .await;
    tally.report("link-down");
    assert_no_failures(&tally);
    tally.check_writes(&cluster.primary().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_fails_no_request_and_live_sockets_reconnect() {
    let cluster = Cluster::up();
    let site = Arc::new(Site::prepare(&cluster).await);
    let slug = site.slugs[0].clone();
    let db = cluster.primary().await;
    let mut socket = live_socket(&db, &slug).await;
    let tally = run_load(&site, load_secs(), || async {
        cluster.sh(&["roll"]);
    })
    .await;
    tally.report("rolling-restart");
    assert_no_failures(&tally);
    let failed = tally.failed_writes();
    assert!(failed.is_empty(), "writes failed: {failed:?}");
    tally.check_writes(&db).await;

    // Every host restarted, so the socket opened before was closed by its host...
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None
                | Some(Err(_))
                | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => {
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the old socket was closed when its host stopped"
    );
    let _ = socket.close(None).await;
    // ...and a new one, through nginx to whichever host, hears the next comment.
    let mut socket = live_socket(&db, &slug).await;
    let res = site
        .http
        .post(format!("{BASE}/api/articles/{slug}/comments"))
        .header("Authorization", format!("Token {}", site.author))
        .json(&json!({"comment": {"body": "after the deploy"}}))
        .send()
        .await
        .expect("comment");
    assert!(res.status().is_success(), "{}", res.status());
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(frame)) = socket.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame
                && text.contains("after the deploy")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(heard, Ok(true), "the reconnected socket hears new comments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_redis_under_load_loses_no_read() {
    let cluster = Cluster::up();
    let site = Arc::new(Site::prepare(&cluster).await);
    let tally = run_load(&site, load_secs(), || async {
        cluster.sh(&["redis", "restart"]);
    })
    .await;
    tally.report("redis-restart");
    assert_no_failures(&tally);
    tally.check_writes(&cluster.primary().await).await;
}

/// Varnish in front of nginx on the load balancer's host (`:6081`, deploy/varnish).
const EDGE: &str = "http://10.77.0.10:6081";

async fn through_edge(http: &reqwest::Client, path: &str) -> (StatusCode, String, String) {
    let res = http
        .get(format!("{EDGE}{path}"))
        .send()
        .await
        .expect("the edge answers");
    let status = res.status();
    let x_cache = res
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, x_cache, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_shows_a_write_at_once_and_serves_reads_while_every_app_host_is_down() {
    let cluster = Cluster::up();
    let site = Site::prepare(&cluster).await;
    let slug = &site.slugs[1];
    let page = format!("/posts/{slug}");
    // Kept at the edge (once the purges of the setting-up writes have arrived).
    let mut kept = false;
    for _ in 0..100 {
        through_edge(&site.http, "/").await;
        let (status, x_cache, _) = through_edge(&site.http, &page).await;
        assert_eq!(status, StatusCode::OK);
        if x_cache == "HIT" && through_edge(&site.http, "/").await.1 == "HIT" {
            kept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kept, "the post and home pages are kept at the edge");

    // A comment made through the edge, on whichever host: the purge reaches the edge, and the
    // next read shows it.
    let res = site
        .http
        .post(format!("{EDGE}/api/articles/{slug}/comments"))
        .header("Authorization", format!("Token {}", site.commenters[0]))
        .json(&json!({"comment": {"body": "Seen at the edge"}}))
        .send()
        .await
        .expect("comment");
    assert!(res.status().is_success(), "{}", res.status());
    let mut shown = false;
    for _ in 0..100 {
        let (status, _, body) = through_edge(&site.http, &page).await;
        assert_eq!(status, StatusCode::OK);
        if body.contains("Seen at the edge") {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "the edge shows the new comment within 10 s");
    // Kept again, with the comment.
    through_edge(&site.http, &page).await;

    // Every app host goes down: the edge still answers what it holds.
    for host in ["1", "2", "3"] {
        cluster.sh(&["kill", host]);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, x_cache, body) = through_edge(&site.http, &page).await;
    assert_eq!(status, StatusCode::OK, "{x_cache}: {body}");
    assert!(
        body.contains("Seen at the edge"),
        "the newest version is what it serves"
    );
    // The home page was purged by the comment and not asked for since: what the edge kept
    // before is served, stale, rather than nothing.
    let (status, x_cache, _) = through_edge(&site.http, "/").await;
    assert_eq!(
        (status, x_cache.as_str()),
        (StatusCode::OK, "STALE"),
        "the home page too"
    );
    // A page it never held can't be made: a readable 503, not a hang.
    let (status, _, body) = through_edge(&site.http, "/tags/nothing-kept-here").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

/// Reads served by the replica so far, over the three app hosts (`/metrics`).
async fn replica_reads(http: &reqwest::Client) -> f64 {
    let mut total = 0.0;
    for host in 11..=13 {
        let Ok(res) = http
            .get(format!("http://10.77.0.{host}:8080/metrics"))
            .send()
            .await
        else {
            continue;
        };
        let body = res.text().await.unwrap_or_default();
        total += body
            .lines()
            .filter(|l| l.starts_with("quire_db_reads_total{") && l.contains("pool=\"replica\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    total
}

async fn readyz(http: &reqwest::Client, host: u8) -> String {
    match http
        .get(format!("http://10.77.0.{host}:8080/readyz"))
        .send()
        .await
    {
        Ok(res) => format!(
            "{} {}",
            res.status().as_u16(),
            res.text().await.unwrap_or_default()
        ),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_replica_under_load_loses_no_read_and_reads_return_to_it() {
    let cluster = Cluster::up();
    let site = Arc::new(Site::prepare(&cluster).await);
    let http = site.http.clone();
    let before = replica_reads(&http).await;
    let seen = Arc::new(Mutex::new(String::new()));
    let tally = run_load(&site, load_secs(), || async {
        cluster.sh(&["replica", "stop"]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        *seen.lock().unwrap() = readyz(&http, 12).await;
        tokio::time::sleep(Duration::from_secs(7)).await;
        cluster.sh(&["replica", "start"]);
    })
    .await;
    tally.report("replica-stop");
    assert_no_failures(&tally);
    tally.check_writes(&cluster.primary().await).await;
    let during = seen.lock().unwrap().clone();
    assert!(
        during.starts_with("200 ") && during.contains("replica: unavailable"),
        "an instance stays ready without its replica, and says so: {during}"
    );
    let after_load = replica_reads(&http).await;
    assert!(after_load > before, "the replica served reads under load");
    // Back: anonymous reads go to the replica again.
    let mut back = false;
    for _ in 0..50 {
        for slug in &site.slugs[..5] {
            let _ = http.get(format!("{BASE}/api/articles/{slug}")).send().await;
        }
        if replica_reads(&http).await > after_load {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "reads return to the replica once it is back");
    let now = readyz(&http, 12).await;
    assert!(now.contains("replica: ok"), "{now}");
}
