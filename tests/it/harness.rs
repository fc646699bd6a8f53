//! The real app on a free port, with a freshly migrated PostgreSQL database of its own, and
//! helpers that build users and posts through the library's own use-cases.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use quire::{
    accounts::{
        self,
        model::{Email, NewUser, Role, UserId, Username},
    },
    app::App,
    config::{Environment, Settings},
    db,
    posts::{
        self,
        model::{PostInput, PostKind, PostStatus},
    },
    slug::Slug,
};
use reqwest::{Response, StatusCode};
use scraper::{Html, Selector};
use secrecy::ExposeSecret;
use sqlx::{Executor, PgPool};
use time::OffsetDateTime;
use tokio::{net::TcpListener, task::JoinHandle};

pub struct TestApp {
    pub base: String,
    pub port: u16,
    /// A pool straight to the test database (not through any proxy).
    pub db: PgPool,
    /// A browser: keeps cookies, does not follow redirects.
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    pub settings: Settings,
    running: Arc<Running>,
}

/// The server and its database; stopped and dropped when the last `TestApp` sharing them goes.
struct Running {
    server: quire::app::Stopper,
    /// Other instances of the app on the same database and Redis (`another_instance`).
    others: std::sync::Mutex<Vec<quire::app::Stopper>>,
    // Last: dropped after the server has stopped.
    _database: TestDb,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped right after, with FORCE.
        drop(self.server.stop(false));
        for other in self.others.lock().map(|o| o.clone()).unwrap_or_default() {
            drop(other.stop(false));
        }
    }
}

/// A freshly migrated database of one's own, dropped (connections and all) on `Drop`.
pub struct TestDb {
    pub settings: Settings,
    pub pool: PgPool,
    name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        Self::on(|_| {}).await
    }

    /// A database of one's own on the server `server` names (`url`, and `replica_url` for a
    /// replica of it), rather than the test settings' one.
    pub async fn on(server: impl FnOnce(&mut quire::config::DatabaseSettings)) -> Self {
        let (mut settings, name) = test_settings();
        server(&mut settings.database);
        settings.database = settings
            .database
            .with_database_name(&name)
            .expect("database url");
        // Redis keys and uploaded files of one test never meet another's.
        settings.redis.key_prefix = format!("{name}:");
        settings.uploads.dir = std::env::temp_dir().join(&name);
        let pool = prepare_database(&settings).await;
        Self {
            settings,
            pool,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let settings = self.settings.database.clone();
        let redis_url = self.settings.redis.url.expose_secret().to_owned();
        let prefix = self.settings.redis.key_prefix.clone();
        let name = self.name.clone();
        let _ = std::fs::remove_dir_all(&self.settings.uploads.dir);
        // Drop can't await; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(db::drop_database(&settings, &name));
                let _ = rt.block_on(delete_redis_keys(&redis_url, &prefix));
            }
        })
        .join();
    }
}

/// Test settings with a database name of our own. Names carry their creation time so a
/// later run can sweep databases that a crashed run left behind.
pub fn test_settings() -> (Settings, String) {
    let mut settings = Settings::load(Environment::Test).expect("test settings load");
    // PostgreSQL search unless a test asks for Meilisearch (search::meili_settings), even
    // when MEILI_URL is set for the Meilisearch tests.
    settings.search.meili_url = None;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let name = format!(
        "quire_test_{secs}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    (settings, name)
}

/// The test binary's own `quire` executable, run from the crate root so it finds `config/`.
pub fn quire_command(database: &TestDb) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quire"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("QUIRE_ENV", "test")
        .env(
            "DATABASE_URL",
            database.settings.database.url.expose_secret(),
        );
    cmd
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawn with adjusted settings (applied after the test database is made and the port is
/// bound, so `adjust` sees the real `http.base_url`).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDb::new().await;
    let mut settings = database.settings.clone();
    let listener = bind_local(&mut settings);
    adjust(&mut settings);
    start(settings, database, listener).await
}

/// Spawn against another PostgreSQL server (a test's own primary and replica, `pgpair`):
/// `server` sets its URLs, and the test's database is made there.
pub async fn spawn_app_on(
    server: impl FnOnce(&mut quire::config::DatabaseSettings),
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = TestDb::on(server).await;
    let mut settings = database.settings.clone();
    let listener = bind_local(&mut settings);
    adjust(&mut settings);
    start(settings, database, listener).await
}

/// Spawn with the app's database connections going through `proxy`, so a test can cut them.
pub async fn spawn_app_behind(proxy: &TcpProxy) -> TestApp {
    let database = TestDb::new().await;
    let mut settings = database.settings.clone();
    settings.database.url = proxy.url_for(settings.database.url.expose_secret()).into();
    let listener = bind_local(&mut settings);
    start(settings, database, listener).await
}

/// Spawn with the app's Redis connections going through `proxy`.
pub async fn spawn_app_with_redis_behind(
    proxy: &TcpProxy,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = TestDb::new().await;
    let mut settings = database.settings.clone();
    settings.redis.url = proxy.url_for(settings.redis.url.expose_secret()).into();
    let listener = bind_local(&mut settings);
    adjust(&mut settings);
    start(settings, database, listener).await
}

/// A free local port, bound now; `http.base_url` becomes its address, as in production, so
/// absolute links and OAuth callback URLs lead back to this app.
fn bind_local(settings: &mut Settings) -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("addr").port();
    settings.http.port = port;
    settings.http.base_url = format!("http://127.0.0.1:{port}").parse().expect("url");
    listener
}

/// A fresh database for one test: a copy of a template that was migrated once (per set of
/// migrations, shared by every test process of a run and by later runs), which is much
/// cheaper than migrating every test's database from scratch.
async fn prepare_database(settings: &Settings) -> PgPool {
    sweep_leftovers(settings).await;
    let template = ensure_template(settings).await;
    let name = settings
        .database
        .url
        .expose_secret()
        .parse::<url::Url>()
        .expect("url")
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = admin_connection(settings).await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#
        )))
        .await
        .expect("copy the template database");
    sqlx::Connection::close(admin).await.ok();
    db::pool(&settings.database).expect("pool")
}

async fn admin_connection(settings: &Settings) -> sqlx::PgConnection {
    use sqlx::Connection;
    let opts = db::connect_options(&settings.database)
        .expect("options")
        .database("postgres");
    sqlx::PgConnection::connect_with(&opts)
        .await
        .expect("connect to the postgres database")
}

/// The template for the current migrations, `quire_tpl_<hash of the migrations>`, made (and
/// migrated) by the first test that needs it, under an advisory lock so concurrent test
/// processes wait for it instead of racing; templates of other migrations are dropped.
async fn ensure_template(settings: &Settings) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for m in db::migrator().iter() {
        hash.update(m.version.to_le_bytes());
        hash.update(&*m.checksum);
    }
    let digest: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let template = format!("quire_tpl_{digest}");
    let mut admin = admin_connection(settings).await;
    sqlx::query("SELECT pg_advisory_lock(hashtext('quire:test-template'))")
        .execute(&mut admin)
        .await
        .expect("lock");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'quire\\_tpl\\_%'")
            .fetch_all(&mut admin)
            .await
            .expect("list templates");
    for old in names.iter().filter(|n| **n != template) {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{old}" WITH (FORCE)"#
            )))
            .await;
    }
    if !names.contains(&template) {
        let building = format!("{template}_building");
        let mut tpl_settings = settings.database.clone();
        tpl_settings = tpl_settings
            .with_database_name(&building)
            .expect("template url");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#
            )))
            .await
            .expect("clear a half-built template");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"CREATE DATABASE "{building}""#
            )))
            .await
            .expect("create the template");
        let pool = db::pool(&tpl_settings).expect("pool");
        db::migrate(&pool).await.expect("migrate the template");
        // Each table's ids start far apart, so an id from the wrong table never matches by luck.
        pool.execute(
            "ALTER TABLE users ALTER COLUMN id RESTART WITH 10000;
             ALTER TABLE posts ALTER COLUMN id RESTART WITH 20000;
             ALTER TABLE tags ALTER COLUMN id RESTART WITH 30000;",
        )
        .await
        .expect("spread sequences");
        pool.close().await;
        // Only a finished template gets the name others copy.
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"ALTER DATABASE "{building}" RENAME TO "{template}""#
            )))
            .await
            .expect("finish the template");
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext('quire:test-template'))")
        .execute(&mut admin)
        .await
        .expect("unlock");
    template
}

async fn start(settings: Settings, database: TestDb, listener: std::net::TcpListener) -> TestApp {
    let pool = db::pool(&settings.database).expect("pool");
    let app = App::build_on(settings.clone(), pool, listener)
        .await
        .expect("app builds");
    let port = app.port();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    let (client, jar) = new_client();
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        db: database.pool.clone(),
        client,
        jar,
        settings,
        running: Arc::new(Running {
            server,
            others: std::sync::Mutex::default(),
            _database: database,
        }),
    }
}

/// Remove every Redis key a test wrote (sessions, counters).
async fn delete_redis_keys(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(())
}

/// Drop test databases more than an hour old: what crashed or killed runs left behind.
async fn sweep_leftovers(settings: &Settings) {
    let Ok(opts) = db::connect_options(&settings.database) else {
        return;
    };
    let Ok(admin) = PgPool::connect_with(opts.database("postgres")).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'quire\\_test\\_%'")
            .fetch_all(&admin)
            .await
            .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for name in names {
        let created = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if now.saturating_sub(created) > 3600 {
            let _ = db::drop_database(&settings.database, &name).await;
        }
    }
}

/// What a post in a test looks like; `..Default::default()` fills the rest.
pub struct PostSpec<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub tags: &'a [&'a str],
    pub status: PostStatus,
    /// Minutes from now: negative is the past.
    pub published_in_minutes: i64,
    pub excerpt: &'a str,
    pub cover: Option<&'a str>,
    /// A post, or a page (served at `/{slug}`).
    pub kind: PostKind,
}

impl Default for PostSpec<'_> {
    fn default() -> Self {
        Self {
            title: "A post",
            body: "Some *text*.",
            tags: &[],
            status: PostStatus::Published,
            published_in_minutes: -60,
            excerpt: "",
            cover: None,
            kind: PostKind::Post,
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// GET a page and parse it; panics (failing the test) if the status isn't `expected`.
    pub async fn page(&self, path: &str, expected: StatusCode) -> Page {
        let res = self.get(path).await;
        let status = res.status();
        let body = res.text().await.expect("body");
        assert_eq!(status, expected, "GET {path}: {body}");
        Page(Html::parse_document(&body), body)
    }

    /// The `quire` executable with this app's database and search settings.
    pub fn quire_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quire"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("QUIRE_ENV", "test")
            .env("DATABASE_URL", self.settings.database.url.expose_secret())
            .env(
                "QUIRE__SEARCH__MEILI_INDEX",
                &self.settings.search.meili_index,
            );
        if let Some(url) = &self.settings.search.meili_url {
            cmd.env("MEILI_URL", url.as_str());
        }
        cmd
    }

    /// An author with a display name and bio.
    pub async fn author(&self, username: &str) -> UserId {
        self.user(username, Role::Author).await
    }

    pub async fn user(&self, username: &str, role: Role) -> UserId {
        let user = NewUser {
            username: Username::parse(username).expect("valid username"),
            email: Email::parse(&format!("{username}@example.com")).expect("valid email"),
            display_name: format!("{} Display", capitalise(username)),
            bio: format!("{username} writes tests."),
            password: None,
            role,
        };
        accounts::create_user(&self.db, &user)
            .await
            .expect("user created")
    }

    /// A second instance of the app on its own port, sharing this one's database and Redis
    /// (as instances behind a proxy do). It stops with this one.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// `another_instance`, with its settings adjusted first.
    pub async fn another_instance_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        let listener = bind_local(&mut settings);
        let pool = db::pool(&settings.database).expect("pool");
        let app = App::build_on(settings.clone(), pool, listener)
            .await
            .expect("app builds");
        let port = app.port();
        self.running
            .others
            .lock()
            .expect("instances")
            .push(app.handle());
        tokio::spawn(app.run_until_stopped());
        let (client, jar) = new_client();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            port,
            db: self.db.clone(),
            client,
            jar,
            settings,
            running: self.running.clone(),
        }
    }

    /// Stop this app's server as SIGTERM does (in-flight requests finish), and with it its
    /// job workers; returns once the server has stopped (the workers stop after it).
    pub fn stop(&self) -> impl Future<Output = ()> + use<> {
        self.running.server.stop(true)
    }

    /// The app's background loops still running (see `quire::app::Stopper`).
    pub fn loops_running(&self) -> Vec<&'static str> {
        self.running.server.loops_running()
    }

    /// What the app's writes do to kept pages, for changes a test makes in the database (with
    /// a read replica, the write is noted first, as the app's are).
    pub fn pages(&self) -> quire::cache::Pages {
        let redis = quire::kv::Kv::new(&self.settings.redis).expect("redis settings");
        quire::cache::Pages::new(&redis, &self.settings.redis).noting(
            quire::db::replica::Writes::new(self.db.clone(), redis.clone(), &self.settings),
        )
    }

    /// Create a post through the same use-case the app uses; returns its slug.
    pub async fn post(&self, author: UserId, spec: PostSpec<'_>) -> String {
        let slug = Slug::from_title(spec.title).expect("title makes a slug");
        let published_at = match spec.status {
            PostStatus::Draft => None,
            _ => {
                Some(OffsetDateTime::now_utc() + time::Duration::minutes(spec.published_in_minutes))
            }
        };
        let post = PostInput {
            title: spec.title.to_owned(),
            slug: slug.clone(),
            excerpt: spec.excerpt.to_owned(),
            body_markdown: spec.body.to_owned(),
            cover_image: spec.cover.map(str::to_owned),
            featured: false,
            status: spec.status,
            publish_at: None,
            tags: spec.tags.iter().map(|t| (*t).to_owned()).collect(),
            meta: Default::default(),
            kind: spec.kind,
        };
        posts::create(&self.db, author, &post, published_at)
            .await
            .expect("post created")
            .expect("slug is free");
        // As the editor's save would (through the cache middleware).
        self.pages().stale().await;
        slug.to_string()
    }

    /// `n` published posts, `Post 1` the oldest and `Post n` the newest.
    pub async fn posts(&self, author: UserId, n: usize, tags: &[&str]) -> Vec<String> {
        let mut slugs = Vec::new();
        for i in 1..=n {
            let title = format!("Post {i}");
            slugs.push(
                self.post(
                    author,
                    PostSpec {
                        title: &title,
                        tags,
                        published_in_minutes: -10_000 + i as i64,
                        ..Default::default()
                    },
                )
                .await,
            );
        }
        slugs
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl TestApp {
    /// GET `path` and return the CSRF token of its first form.
    pub async fn csrf_token(&self, path: &str) -> String {
        let page = self.page(path, StatusCode::OK).await;
        page.attr("input[name=csrf_token]", "value")
            .expect("the page has a form with a CSRF token")
    }

    /// Press the one button of a page a signed link opens (verify, confirm a subscription):
    /// a POST to the link with no fields, as anyone.
    pub async fn press(&self, path: &str) -> Response {
        self.other_client()
            .post(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// POST a form to `path`, adding the CSRF token of the form at `form_page`.
    pub async fn submit(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token(form_page).await;
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("request sent")
    }

    /// Register through the form; the client is then logged in as them.
    pub async fn register(&self, username: &str) -> Response {
        let email = format!("{username}@example.com");
        self.submit(
            "/register",
            "/register",
            &[
                ("username", username),
                ("email", &email),
                ("password", PASSWORD),
            ],
        )
        .await
    }

    pub async fn log_in(&self, login: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("login", login), ("password", password)],
        )
        .await
    }

    /// A new browser, logged in as a new user with `role`.
    pub async fn signed_in(&self, username: &str, role: Role) -> TestApp {
        let user = NewUser {
            username: Username::parse(username).expect("valid username"),
            email: Email::parse(&format!("{username}@example.com")).expect("valid email"),
            display_name: format!("{} Display", capitalise(username)),
            bio: String::new(),
            password: Some(
                quire::accounts::model::Password::parse(PASSWORD, &Default::default())
                    .expect("valid"),
            ),
            role,
        };
        accounts::create_user(&self.db, &user)
            .await
            .expect("user created");
        let browser = TestApp::sharing(self);
        let res = browser.log_in(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "logged in");
        browser
    }

    /// The display name the header shows for the logged-in user, if any.
    pub async fn viewer_name(&self) -> Option<String> {
        let page = self.page("/", StatusCode::OK).await;
        let name = page.text(".account-name");
        (!name.is_empty()).then_some(name)
    }

    /// A client of its own: another browser, with no cookies.
    pub fn other_client(&self) -> reqwest::Client {
        new_client().0
    }

    /// The same app seen from another browser (cookies of its own).
    pub fn sharing(app: &TestApp) -> TestApp {
        let (client, jar) = new_client();
        TestApp {
            base: app.base.clone(),
            port: app.port,
            db: app.db.clone(),
            client,
            jar,
            settings: app.settings.clone(),
            running: Arc::clone(&app.running),
        }
    }

    /// The value of this browser's session cookie, if it has one.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().expect("base url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix("quire_session="))
            .map(str::to_owned)
    }
}

/// A password that passes every rule, for test accounts.
pub const PASSWORD: &str = "correct horse battery staple";

fn new_client() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::clone(&jar))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    (client, jar)
}

/// A parsed HTML page, with the raw text for `contains` checks.
pub struct Page(pub Html, pub String);

impl Page {
    pub fn parse(body: &str) -> Self {
        Page(Html::parse_document(body), body.to_owned())
    }

    /// Text of every element matching `css`, trimmed.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let sel = Selector::parse(css).expect("valid selector");
        self.0
            .select(&sel)
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .collect()
    }

    pub fn text(&self, css: &str) -> String {
        self.texts(css).into_iter().next().unwrap_or_default()
    }

    /// The `attr` of every element matching `css`.
    pub fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let sel = Selector::parse(css).expect("valid selector");
        self.0
            .select(&sel)
            .filter_map(|e| e.value().attr(attr).map(str::to_owned))
            .collect()
    }

    pub fn attr(&self, css: &str, attr: &str) -> Option<String> {
        self.attrs(css, attr).into_iter().next()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.1.contains(needle)
    }
}

/// A TCP proxy in front of PostgreSQL or Redis that a test can break, to simulate an outage
/// without touching the shared servers:
/// - `cut`: every connection is dropped and new ones are refused (the server is gone);
/// - `hang`: connections stay open but nothing is forwarded either way (the server hangs);
/// - `restore`: back to normal (bytes held during a hang are then delivered).
pub struct TcpProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

const UP: u8 = 0;
const CUT: u8 = 1;
const HUNG: u8 = 2;

/// The old name: the proxy the database outage tests put in front of PostgreSQL.
pub type DbProxy = TcpProxy;

impl TcpProxy {
    /// In front of the test PostgreSQL.
    pub async fn start() -> Self {
        let (settings, _) = test_settings();
        Self::to_url(settings.database.url.expose_secret(), 5432).await
    }

    /// In front of the test Redis.
    pub async fn redis() -> Self {
        let (settings, _) = test_settings();
        Self::to_url(settings.redis.url.expose_secret(), 6379).await
    }

    pub async fn to_url(url: &str, default_port: u16) -> Self {
        let url = url::Url::parse(url).expect("url");
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(default_port)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(AtomicU8::new(UP));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (m, c) = (mode.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if m.load(Ordering::SeqCst) == CUT {
                    drop(inbound);
                    continue;
                }
                let (target, m) = (target.clone(), m.clone());
                let task = tokio::spawn(async move {
                    let Ok(upstream) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (up_read, up_write) = upstream.into_split();
                    tokio::select! {
                        () = pump(in_read, up_write, m.clone()) => {}
                        () = pump(up_read, in_write, m) => {}
                    }
                });
                c.lock().expect("lock").push(task);
            }
        });
        Self {
            port,
            mode,
            conns,
            accept,
        }
    }

    /// `url` with its port pointed at this proxy.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("url");
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
        for task in self.conns.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    pub fn hang(&self) {
        self.mode.store(HUNG, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.mode.store(UP, Ordering::SeqCst);
    }
}

/// Copy bytes one way; while the proxy hangs, hold them.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<AtomicU8>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while mode.load(Ordering::SeqCst) == HUNG {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.conns.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

/// What one look at something awaited saw: done (with a value), or not yet and what instead.
pub trait Polled {
    type Value;
    fn done(self) -> Result<Self::Value, String>;
}

impl Polled for bool {
    type Value = ();
    fn done(self) -> Result<(), String> {
        if self { Ok(()) } else { Err("not yet".into()) }
    }
}

impl<T> Polled for Option<T> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".into())
    }
}

/// `Err` says what was seen instead, for the failure message.
impl<T, E: std::fmt::Debug> Polled for Result<T, E> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:?}"))
    }
}

/// Look with `check` until it says done, and return what it found; after `within`, fail the
/// test naming `what` was awaited and what the last look saw. Every wait for something to
/// happen goes through here: a fixed sleep is too short on a busy machine and time wasted
/// on an idle one. Looks come quickly at first, then every 100 ms (gentle on rate limits).
pub async fn eventually<P, F, Fut>(what: &str, within: Duration, mut check: F) -> P::Value
where
    P: Polled,
    F: FnMut() -> Fut,
    Fut: Future<Output = P>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    loop {
        let seen = match check().await.done() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("waited {within:?} for {what}; the last look saw: {seen}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

impl TestApp {
    /// Until the job queue is idle: every job queued so far (and any job those queued) has
    /// run, here or in a worker process. What a job would send is then sent, so a test can
    /// check that something was *not* sent without sleeping on it.
    pub async fn until_jobs_ran(&self) {
        eventually(
            "every queued job to run",
            Duration::from_secs(20),
            || async {
                let left: Vec<(String, String)> = sqlx::query_as(
                    "SELECT kind, state FROM jobs WHERE state IN ('queued', 'running') ORDER BY id",
                )
                .fetch_all(&self.db)
                .await
                .unwrap();
                if left.is_empty() { Ok(()) } else { Err(left) }
            },
        )
        .await
    }
}

/// A real S3 server for the media tests: `s3s-fs` (crates.io; it checks every request's
/// SigV4 signature, presigned addresses included) on a free port, over a fresh temporary
/// folder holding one bucket (a bucket is a folder under its root, an object a file). Killed
/// when dropped. scripts/test.sh installs it into `<target>/s3s-fs`.
pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    child: std::process::Child,
    root: tempfile::TempDir,
}

pub const S3_ACCESS_KEY: &str = "quire-test-access";
pub const S3_SECRET_KEY: &str = "quire-test-secret-0123456789";

/// Where scripts/test.sh installs `s3s-fs`: `$CARGO_TARGET_DIR` (or the crate's `target`),
/// then `s3s-fs/bin/s3s-fs`.
fn s3s_fs_binary() -> std::path::PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map_or_else(|| crate_dir.join("target"), |t| crate_dir.join(t));
    let bin = target.join("s3s-fs/bin/s3s-fs");
    assert!(
        bin.is_file(),
        "the S3 tests need s3s-fs at {}: run scripts/test.sh once, or install it with\n  \
         cargo install s3s-fs@0.13.0 --features binary --locked --root \"${{CARGO_TARGET_DIR:-target}}/s3s-fs\"",
        bin.display()
    );
    bin
}

impl S3Server {
    pub async fn start() -> Self {
        let bin = s3s_fs_binary();
        let root = tempfile::tempdir().expect("a temporary folder");
        let bucket = "quire-media".to_owned();
        std::fs::create_dir(root.path().join(&bucket)).expect("the bucket's folder");
        // A port the OS says is free; if another process takes it first, try another.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = std::process::Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
                .arg(root.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("s3s-fs starts");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while tokio::time::Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break; // exited: the port was taken
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Self {
                        port,
                        bucket,
                        child,
                        root,
                    };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start listening");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `[uploads.s3]` for this server: path-style, us-east-1, its keys, short timeouts.
    pub fn settings(&self) -> quire::config::S3Settings {
        quire::config::S3Settings {
            bucket: self.bucket.clone(),
            region: "us-east-1".into(),
            endpoint: self.endpoint(),
            path_style: true,
            access_key_id: S3_ACCESS_KEY.into(),
            secret_access_key: S3_SECRET_KEY.to_owned().into(),
            presign_secs: 900,
            timeout_secs: 5,
        }
    }

    /// The bucket's folder on disk: each object is a file under it.
    pub fn bucket_dir(&self) -> std::path::PathBuf {
        self.root.path().join(&self.bucket)
    }

    /// The server goes away (connections refused from now on); the bucket's files stay.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
