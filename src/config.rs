//! Settings: read once at start-up from layered sources, validated into typed values.
//!
//! Order, later wins: the embedded `config/default.toml`, `config/{QUIRE_ENV}.toml` (from
//! `QUIRE_CONFIG_DIR`, default `config`), `QUIRE__SECTION__KEY` variables, then the
//! conventional 12-factor names (`DATABASE_URL`, `PORT`, …). A bad value stops start-up with
//! one line that names the key. `Settings` is passed down, never read from a global.

use std::{net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The defaults travel inside the binary, so `quire` runs from any directory.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Conventional environment names honoured on top of everything else, and the key each sets.
const CONVENTIONAL: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "redis.url"),
    ("MEILI_URL", "search.meili_url"),
    ("MEILI_MASTER_KEY", "search.meili_master_key"),
    ("HOST", "http.host"),
    ("PORT", "http.port"),
    ("BASE_URL", "http.base_url"),
    ("GITHUB_CLIENT_ID", "oauth.github.client_id"),
    ("GITHUB_CLIENT_SECRET", "oauth.github.client_secret"),
    ("GOOGLE_CLIENT_ID", "oauth.google.client_id"),
    ("GOOGLE_CLIENT_SECRET", "oauth.google.client_secret"),
    ("SMTP_HOST", "mail.smtp_host"),
    ("SMTP_PORT", "mail.smtp_port"),
    ("SMTP_USERNAME", "mail.username"),
    ("SMTP_PASSWORD", "mail.password"),
    ("MAIL_FROM", "mail.from"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    /// `QUIRE_ENV`, defaulting to development.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("QUIRE_ENV") {
            Ok(v) => v.parse(),
            Err(_) => Ok(Self::Development),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(ConfigError(format!(
                "QUIRE_ENV: expected development, test or production, got {other:?}"
            ))),
        }
    }
}

/// A configuration problem, worded as one line that names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        // figment reports one error per bad key; the first is enough to act on.
        let first = e.into_iter().next().map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let kind = e.kind.to_string();
            match (key.is_empty(), source.is_empty()) {
                (false, false) => format!("{key}: {kind} (from {source})"),
                (false, true) => format!("{key}: {kind}"),
                _ => kind,
            }
        });
        Self(first.unwrap_or_else(|| "unreadable configuration".into()))
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub env: Environment,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub search: SearchSettings,
    pub cache: CacheSettings,
    pub site: SiteSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub session: SessionSettings,
    pub accounts: AccountsSettings,
    pub uploads: UploadsSettings,
    pub oauth: OAuthSettings,
    pub posts: PostsSettings,
    pub api: ApiSettings,
    pub stats: StatsSettings,
    pub jobs: JobsSettings,
    pub mail: MailSettings,
    pub newsletter: NewsletterSettings,
    pub webhooks: WebhooksSettings,
    pub ws: WsSettings,
    pub edge: EdgeSettings,
    pub graphql: GraphqlSettings,
    pub events: EventsSettings,
}

/// Quire's events on message brokers (`events`; README "Events"); `config/default.toml`
/// says what each one does. The URLs may carry credentials: secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// RabbitMQ (`amqp://`, `amqps://`); empty: none.
    pub amqp_url: SecretString,
    /// NATS with JetStream (`nats://`, `tls://`); empty: none.
    pub nats_url: SecretString,
    /// Seconds a connection, or a message's confirmation, may take.
    pub timeout_secs: u64,
}

impl EventsSettings {
    /// RabbitMQ's URL, when events go there.
    pub fn amqp(&self) -> Option<&SecretString> {
        Some(&self.amqp_url).filter(|u| !u.expose_secret().trim().is_empty())
    }

    /// NATS's URL, when events go there.
    pub fn nats(&self) -> Option<&SecretString> {
        Some(&self.nats_url).filter(|u| !u.expose_secret().trim().is_empty())
    }
}

/// The edge cache in front of Quire (`edge`; README "Edge cache"): what public pages tell it,
/// and where purges go. `config/default.toml` says what each one does.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Where the `edge.purge` job sends purges; `None`: none are sent.
    pub purge_url: Option<Url>,
    /// The purge request's method (`PURGE` for Varnish, `POST` for Fastly's API).
    pub purge_method: String,
    /// The purge request's header that lists the keys, space-separated.
    pub purge_header: String,
    /// Purged pages are marked stale (still served while Quire is down), not dropped.
    pub soft_purge: bool,
    /// A header sent with every purge as is (`Fastly-Key: <token>`); empty: none.
    pub purge_auth: SecretString,
    /// Seconds a purge request may take.
    pub timeout_secs: u64,
    /// The response header that lists a page's keys.
    pub keys_header: String,
    /// How long the edge may keep a page (it is purged on every change).
    pub max_age_secs: u64,
    /// How much longer it may serve one while every instance is down.
    pub stale_if_error_secs: u64,
}

impl EdgeSettings {
    /// `purge_auth` as a header's name and value, when set.
    pub fn purge_auth(&self) -> Option<(&str, &str)> {
        let (name, value) = self.purge_auth.expose_secret().split_once(':')?;
        Some((name.trim(), value.trim()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdge {
    purge_url: String,
    purge_method: String,
    purge_header: String,
    soft_purge: bool,
    purge_auth: SecretString,
    timeout_secs: u64,
    keys_header: String,
    max_age_secs: u64,
    stale_if_error_secs: u64,
}

/// Live updates over WebSocket (`ws`); `config/default.toml` says what each one does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSettings {
    pub max_per_client: u32,
    pub max_connections: u32,
    pub messages_per_second: u32,
    pub max_frame_bytes: usize,
    pub ping_ms: u64,
    pub idle_ms: u64,
}

/// Webhooks (`webhooks`); `config/default.toml` says what each one does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSettings {
    pub allow_private: bool,
    pub timeout_secs: u64,
    pub max_response_bytes: usize,
}

/// Newsletters (`newsletter`); `config/default.toml` says what each one does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsletterSettings {
    pub per_minute: u32,
    pub batch_size: u32,
    pub window_hours: u32,
    pub confirm_ttl_hours: u32,
}

/// SMTP (`mail`); `config/default.toml` says what each one does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: MailTls,
    pub username: String,
    pub password: SecretString,
    pub from: String,
    pub timeout_secs: u64,
    pub reset_ttl_minutes: u32,
}

impl MailSettings {
    pub fn is_configured(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    None,
    Starttls,
    Tls,
}

/// The job runner (`jobs`); `config/default.toml` says what each one does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    pub enabled: bool,
    pub concurrency: usize,
    pub poll_ms: u64,
    pub lease_secs: u64,
    pub timeout_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub keep_done_hours: u32,
    pub shutdown_grace_secs: u64,
    pub yield_ms: u64,
}

impl JobsSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// Reader statistics (`stats`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSettings {
    /// Count post views at all.
    pub enabled: bool,
    /// How often each instance adds its counts to PostgreSQL, in milliseconds.
    pub flush_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostsSettings {
    /// The largest Markdown body a post may have, in bytes.
    pub max_body_bytes: usize,
    /// Render-thread time one account may use per minute, in milliseconds, over previews,
    /// autosaves, saves and API writes together (`render::budget`).
    pub render_ms_per_minute: u32,
}

/// Log in with GitHub or Google. A provider is on when both its client id and secret are
/// set; its URLs default to the real provider's and can point at GitHub Enterprise or a
/// local test provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// How long the token and user endpoints get before the login answers 502.
    pub timeout_secs: u64,
    pub github: GithubSettings,
    pub google: GoogleSettings,
}

impl OAuthSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    /// The signed-in user (`GET /user`).
    pub user_url: Url,
    /// Their addresses and which is primary and verified (`GET /user/emails`).
    pub emails_url: Url,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    /// OpenID Connect userinfo: `sub`, `email`, `email_verified`, `name`.
    pub userinfo_url: Url,
}

/// Client id and secret if both are set (the provider is enabled), `None` if neither.
fn credentials<'a>(
    key: &str,
    id: &'a str,
    secret: &'a SecretString,
) -> Result<Option<(&'a str, &'a SecretString)>, ConfigError> {
    match (id.trim().is_empty(), secret.expose_secret().is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some((id.trim(), secret))),
        _ => Err(ConfigError(format!(
            "oauth.{key}: set both client_id and client_secret, or neither"
        ))),
    }
}

impl GithubSettings {
    pub fn credentials(&self) -> Result<Option<(&str, &SecretString)>, ConfigError> {
        credentials("github", &self.client_id, &self.client_secret)
    }

    fn urls(&self) -> [(&'static str, &Url); 4] {
        [
            ("oauth.github.authorize_url", &self.authorize_url),
            ("oauth.github.token_url", &self.token_url),
            ("oauth.github.user_url", &self.user_url),
            ("oauth.github.emails_url", &self.emails_url),
        ]
    }
}

impl GoogleSettings {
    pub fn credentials(&self) -> Result<Option<(&str, &SecretString)>, ConfigError> {
        credentials("google", &self.client_id, &self.client_secret)
    }

    fn urls(&self) -> [(&'static str, &Url); 3] {
        [
            ("oauth.google.authorize_url", &self.authorize_url),
            ("oauth.google.token_url", &self.token_url),
            ("oauth.google.userinfo_url", &self.userinfo_url),
        ]
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsSettings {
    /// Where files are kept: the folder `dir`, or an S3-compatible bucket (`s3`).
    pub storage: StorageKind,
    pub dir: PathBuf,
    pub max_bytes: usize,
    /// Largest image in pixels (width × height): bigger ones are refused before decoding,
    /// so a small file that unpacks to gigabytes (a decompression bomb) never does.
    pub max_pixels: u64,
    /// The widths made for `srcset`, never wider than the image itself.
    pub widths: Vec<u32>,
    /// JPEG and WebP quality of the made files, 1–100.
    pub quality: u8,
    /// Where readers fetch files from: empty serves them through Quire at `/uploads/`;
    /// else a CDN or the bucket's website, e.g. `https://cdn.example.com/media`.
    pub public_base_url: String,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Local,
    S3,
}

/// An S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Garage, Ceph…).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// Empty for AWS itself; else the store's address, e.g. `https://<account>.r2.cloudflarestorage.com`.
    pub endpoint: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (MinIO, Garage).
    pub path_style: bool,
    /// Empty: taken from the environment as the AWS tools do (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// How long a presigned upload address stays valid.
    pub presign_secs: u64,
    /// Seconds one request to the store may take.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: IpAddr,
    pub port: u16,
    pub base_url: Url,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub trusted_proxies: Vec<IpNet>,
    /// How long a request body may take to arrive, all of it.
    pub body_timeout_secs: u64,
}

impl HttpSettings {
    /// `base_url` without its trailing slash, ready to have a path appended.
    pub fn base(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// The longest a request may spend on the database: past it the request answers 503.
    pub query_timeout_secs: u64,
    /// PostgreSQL's own `statement_timeout` for our connections (0: none): a backstop that
    /// cancels a runaway statement on the server. Migrations run without it.
    pub statement_timeout_secs: u64,
    /// A streaming replica (hot standby) of `url` for anonymous reads; empty: none
    /// (`db::replica`). Read through `replica()`.
    pub replica_url: SecretString,
    /// How far (in time) the replica may trail the primary and still be read from.
    pub replica_max_lag_ms: u64,
    /// Whether `serve` and `worker` apply pending migrations at start. Off where a deploy
    /// runs `quire migrate` once before the new release starts (Kubernetes' migration Job).
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }

    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs(self.query_timeout_secs)
    }

    /// The replica's settings (the primary's, at `replica_url`), if one is configured.
    pub fn replica(&self) -> Option<Self> {
        let url = self.replica_url.expose_secret().trim();
        (!url.is_empty()).then(|| Self {
            url: SecretString::from(url.to_owned()),
            replica_url: SecretString::from(String::new()),
            ..self.clone()
        })
    }

    pub fn replica_max_lag(&self) -> Duration {
        Duration::from_millis(self.replica_max_lag_ms)
    }

    /// The same server, another database: tests and benchmarks get databases of their own.
    /// A replica's URL names it too (a streaming replica holds every database).
    pub fn with_database_name(&self, name: &str) -> Result<Self, ConfigError> {
        let renamed = |key: &str, url: &SecretString| -> Result<SecretString, ConfigError> {
            let mut url =
                Url::parse(url.expose_secret()).map_err(|e| ConfigError(format!("{key}: {e}")))?;
            url.set_path(name);
            Ok(SecretString::from(url.to_string()))
        };
        Ok(Self {
            url: renamed("database.url", &self.url)?,
            replica_url: match self.replica() {
                Some(replica) => renamed("database.replica_url", &replica.url)?,
                None => self.replica_url.clone(),
            },
            ..self.clone()
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: SecretString,
    pub key_prefix: String,
    /// How long one Redis call (a session load, a counter) may take before it fails.
    pub timeout_ms: u64,
}

impl RedisSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// The development default of `session.secret`; production refuses to start with it.
const DEV_SESSION_SECRET: &str =
    "development-only-secret-change-me-development-only-secret-change-me";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub secret: SecretString,
    pub ttl_hours: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsSettings {
    pub default_role: crate::accounts::model::Role,
    /// Login attempts per account from one client address, per `login_window_secs`.
    pub login_attempts: u32,
    pub login_window_secs: u64,
    /// Login attempts per account from all addresses together, per hour: slower, so a
    /// distributed guesser is held back without one client locking the owner out.
    pub account_attempts_per_hour: u32,
    /// Login attempts per client address over all accounts, per `login_window_secs`.
    pub address_attempts: u32,
    /// Registrations per client address per hour.
    pub registrations_per_hour: u32,
    /// Password hashes computed at once (each takes 19 MiB); 0 means one per CPU core.
    pub hash_concurrency: usize,
    /// The fewest characters a new password may have.
    pub min_password_length: usize,
    /// Refuse the most common passwords (and one character repeated).
    pub refuse_common_passwords: bool,
}

impl AccountsSettings {
    /// The rule every new password is parsed with.
    pub fn password_policy(&self) -> crate::accounts::model::PasswordPolicy {
        crate::accounts::model::PasswordPolicy {
            min_length: self.min_password_length,
            refuse_common: self.refuse_common_passwords,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// `None`: PostgreSQL full-text search.
    pub meili_url: Option<Url>,
    pub meili_master_key: Option<SecretString>,
    /// The Meilisearch index posts are kept in (one per site sharing a server).
    pub meili_index: String,
    /// The longest a call to Meilisearch that writes (and waits for its task) may take.
    pub meili_timeout_secs: u64,
    /// The longest a search may wait for Meilisearch before PostgreSQL answers instead.
    pub meili_search_timeout_ms: u64,
    /// PostgreSQL's text-search configuration (`english`, `french`, `simple`, …).
    pub language: String,
    /// Searches one client address may run per minute (shared by instances through Redis).
    pub requests_per_minute: u32,
}

/// The hot-page cache: public pages for visitors without a session, kept in Redis.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub enabled: bool,
    /// The longest a page is kept; any change to the site makes every page fresh at once.
    pub ttl_secs: u64,
    /// Search result pages are kept this long at most.
    pub search_ttl_secs: u64,
    /// Milliseconds a cache lookup may take before the page is made without it.
    pub timeout_ms: u64,
    /// Bytes of pages each instance also keeps in its own memory (0: none).
    pub local_max_bytes: usize,
    /// The longest a page is served from an instance's memory without asking Redis.
    pub local_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    pub title: String,
    pub description: String,
    pub posts_per_page: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub allow: Vec<IpNet>,
}

impl MetricsSettings {
    pub fn allows(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

/// The JSON API (`/api`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Signs API tokens (HS256). Empty: a key derived from `session.secret`.
    pub jwt_secret: SecretString,
    /// How long a token from register or login works, in hours.
    pub token_ttl_hours: u32,
    /// The largest JSON body accepted, in bytes (a post's body is limited by
    /// `posts.max_body_bytes` within it).
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser (CORS), e.g. `https://app.example`;
    /// `*` allows any origin (without credentials).
    pub cors_origins: Vec<String>,
    /// Calls per minute from one client address without a token.
    pub requests_per_minute: u32,
    /// Calls per minute by one account (with a valid token).
    pub account_requests_per_minute: u32,
    /// `PUT /api/user` changes the email or password without `currentPassword` only with a
    /// token made this many minutes ago at most (a login just now); 0: always asks for it.
    pub recent_auth_minutes: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            jwt_secret: SecretString::from(""),
            token_ttl_hours: 168,
            max_body_bytes: 2 << 20,
            cors_origins: Vec::new(),
            requests_per_minute: 600,
            account_requests_per_minute: 1200,
            recent_auth_minutes: 10,
        }
    }
}

/// GraphQL at `/graphql`: what one request may ask (config/default.toml explains each).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSettings {
    pub max_query_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_batch: usize,
    pub max_page_size: usize,
    pub introspection: bool,
}

/// The file-shaped settings, before the checks serde can't express.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    http: HttpSettings,
    database: DatabaseSettings,
    redis: RedisSettings,
    search: RawSearch,
    cache: CacheSettings,
    site: SiteSettings,
    log: LogSettings,
    metrics: MetricsSettings,
    session: SessionSettings,
    accounts: AccountsSettings,
    uploads: UploadsSettings,
    oauth: OAuthSettings,
    posts: PostsSettings,
    api: ApiSettings,
    stats: StatsSettings,
    jobs: JobsSettings,
    mail: MailSettings,
    newsletter: NewsletterSettings,
    webhooks: WebhooksSettings,
    ws: WsSettings,
    edge: RawEdge,
    graphql: GraphqlSettings,
    events: EventsSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    meili_url: String,
    meili_master_key: SecretString,
    meili_index: String,
    meili_timeout_secs: u64,
    meili_search_timeout_ms: u64,
    language: String,
    requests_per_minute: u32,
}

impl Settings {
    /// Load for `env` from the files, then the process environment.
    pub fn load(env: Environment) -> Result<Self, ConfigError> {
        let dir = std::env::var_os("QUIRE_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let figment = Figment::new()
            .merge(Toml::string(DEFAULTS))
            .merge(Toml::file(dir.join(format!("{}.toml", env.as_str()))))
            .merge(Env::prefixed("QUIRE__").split("__"))
            .merge(Env::raw().filter_map(|key| {
                CONVENTIONAL
                    .iter()
                    .find(|(name, _)| key == *name)
                    .map(|(_, path)| (*path).into())
            }));
        Self::from_figment(env, &figment)
    }

    fn from_figment(env: Environment, figment: &Figment) -> Result<Self, ConfigError> {
        let raw: Raw = figment.extract()?;
        let meili_url = match raw.search.meili_url.trim() {
            "" => None,
            s => Some(Url::parse(s).map_err(|e| ConfigError(format!("search.meili_url: {e}")))?),
        };
        let edge = raw.edge;
        let purge_url = match edge.purge_url.trim() {
            "" => None,
            s => Some(Url::parse(s).map_err(|e| ConfigError(format!("edge.purge_url: {e}")))?),
        };
        let key = raw.search.meili_master_key;
        let meili_master_key = (!key.expose_secret().is_empty()).then_some(key);
        let settings = Settings {
            env,
            http: raw.http,
            database: raw.database,
            redis: raw.redis,
            search: SearchSettings {
                meili_url,
                meili_master_key,
                meili_index: raw.search.meili_index,
                meili_timeout_secs: raw.search.meili_timeout_secs,
                meili_search_timeout_ms: raw.search.meili_search_timeout_ms,
                language: raw.search.language,
                requests_per_minute: raw.search.requests_per_minute,
            },
            cache: raw.cache,
            site: raw.site,
            log: raw.log,
            metrics: raw.metrics,
            session: raw.session,
            accounts: raw.accounts,
            uploads: raw.uploads,
            oauth: raw.oauth,
            posts: raw.posts,
            api: raw.api,
            stats: raw.stats,
            jobs: raw.jobs,
            mail: raw.mail,
            newsletter: raw.newsletter,
            webhooks: raw.webhooks,
            ws: raw.ws,
            edge: EdgeSettings {
                purge_url,
                purge_method: edge.purge_method,
                purge_header: edge.purge_header,
                soft_purge: edge.soft_purge,
                purge_auth: edge.purge_auth,
                timeout_secs: edge.timeout_secs,
                keys_header: edge.keys_header,
                max_age_secs: edge.max_age_secs,
                stale_if_error_secs: edge.stale_if_error_secs,
            },
            graphql: raw.graphql,
            events: raw.events,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        if !matches!(self.http.base_url.scheme(), "http" | "https") {
            return fail("http.base_url: must start with http:// or https://");
        }
        if self.http.base_url.query().is_some() || self.http.base_url.fragment().is_some() {
            return fail("http.base_url: must not carry a query or fragment");
        }
        if self.http.workers > 256 {
            return fail("http.workers: at most 256 (0 means one per core)");
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return fail("mail.from: an address such as \"Quire <quire@example.com>\"");
        }
        if !(1..=10_080).contains(&self.mail.reset_ttl_minutes) {
            return fail("mail.reset_ttl_minutes: between 1 and 10080 (a week)");
        }
        if self.newsletter.per_minute == 0 || !(1..=10_000).contains(&self.newsletter.batch_size) {
            return fail("newsletter.per_minute: at least 1; newsletter.batch_size: 1 to 10000");
        }
        if !(1..=8_760).contains(&self.newsletter.confirm_ttl_hours) {
            return fail("newsletter.confirm_ttl_hours: between 1 and 8760 (a year)");
        }
        if !(1..=256).contains(&self.jobs.concurrency) {
            return fail("jobs.concurrency: between 1 and 256");
        }
        if self.jobs.lease_secs < 1 || self.jobs.poll_ms < 10 {
            return fail("jobs.lease_secs: at least 1; jobs.poll_ms: at least 10");
        }
        let ws = &self.ws;
        if ws.ping_ms < 100 || ws.idle_ms <= ws.ping_ms {
            return fail("ws.ping_ms: at least 100; ws.idle_ms: more than ws.ping_ms");
        }
        if ws.max_per_client == 0 || ws.messages_per_second == 0 || ws.max_frame_bytes < 256 {
            return fail(
                "ws.max_per_client and ws.messages_per_second: at least 1; \
                 ws.max_frame_bytes: at least 256",
            );
        }
        if !(1..=100).contains(&self.site.posts_per_page) {
            return fail("site.posts_per_page: must be between 1 and 100");
        }
        if self.site.title.trim().is_empty() {
            return fail("site.title: must not be empty");
        }
        let language = &self.search.language;
        if language.is_empty()
            || language.len() > 63
            || !language
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return fail(
                "search.language: a PostgreSQL text search configuration name (english, simple, …)",
            );
        }
        let index = &self.search.meili_index;
        if index.is_empty()
            || index.len() > 400
            || !index
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail("search.meili_index: letters, digits, '-' and '_' only");
        }
        if self.search.meili_timeout_secs == 0 || self.search.meili_search_timeout_ms == 0 {
            return fail("search.meili_timeout_secs and meili_search_timeout_ms: at least 1");
        }
        if self.search.requests_per_minute == 0 {
            return fail("search.requests_per_minute: must be at least 1");
        }
        if self.database.max_connections == 0 {
            return fail("database.max_connections: must be at least 1");
        }
        if self.database.acquire_timeout_secs == 0 {
            return fail("database.acquire_timeout_secs: must be at least 1");
        }
        if let Err(e) = Url::parse(self.database.url.expose_secret()) {
            return Err(ConfigError(format!("database.url: {e}")));
        }
        if let Some(replica) = self.database.replica()
            && let Err(e) = Url::parse(replica.url.expose_secret())
        {
            return Err(ConfigError(format!("database.replica_url: {e}")));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return fail("log.level: not a valid tracing filter");
        }
        let secret = self.session.secret.expose_secret();
        if secret.len() < 32 {
            return fail("session.secret: must be at least 32 characters");
        }
        if self.env == Environment::Production && secret == DEV_SESSION_SECRET {
            return fail("session.secret: set a secret of your own in production");
        }
        if self.uploads.max_bytes == 0 {
            return fail("uploads.max_bytes: must be at least 1");
        }
        if self.uploads.max_pixels < 1_000_000 {
            return fail("uploads.max_pixels: must be at least 1000000");
        }
        if self.uploads.widths.is_empty()
            || self.uploads.widths.iter().any(|w| !(16..=8192).contains(w))
        {
            return fail("uploads.widths: between one and many widths, each 16 to 8192");
        }
        if !(1..=100).contains(&self.uploads.quality) {
            return fail("uploads.quality: 1 to 100");
        }
        let base = &self.uploads.public_base_url;
        if !base.is_empty() && (Url::parse(base).is_err() || !base.starts_with("http")) {
            return fail("uploads.public_base_url: an http(s):// address, or empty");
        }
        if self.uploads.storage == StorageKind::S3 && self.uploads.s3.bucket.is_empty() {
            return fail("uploads.s3.bucket: required when uploads.storage is \"s3\"");
        }
        if self.session.ttl_hours == 0 {
            return fail("session.ttl_hours: must be at least 1");
        }
        if self.accounts.login_attempts == 0 || self.accounts.login_window_secs == 0 {
            return fail("accounts.login_attempts and login_window_secs: must be at least 1");
        }
        if self.accounts.account_attempts_per_hour == 0
            || self.accounts.address_attempts == 0
            || self.accounts.registrations_per_hour == 0
        {
            return fail(
                "accounts.account_attempts_per_hour, address_attempts and \
                 registrations_per_hour: must be at least 1",
            );
        }
        if !(1..=crate::accounts::model::Password::MAX_LEN)
            .contains(&self.accounts.min_password_length)
        {
            return fail("accounts.min_password_length: must be between 1 and 256");
        }
        if self.posts.render_ms_per_minute < 100 {
            return fail("posts.render_ms_per_minute: must be at least 100");
        }
        if !(1024..=64 << 20).contains(&self.posts.max_body_bytes) {
            return fail("posts.max_body_bytes: must be between 1024 and 67108864");
        }
        if !(1..=600).contains(&self.http.body_timeout_secs) {
            return fail("http.body_timeout_secs: must be between 1 and 600");
        }
        if !(10..=60_000).contains(&self.redis.timeout_ms) {
            return fail("redis.timeout_ms: must be between 10 and 60000");
        }
        if !(1..=3600).contains(&self.database.query_timeout_secs) {
            return fail("database.query_timeout_secs: must be between 1 and 3600");
        }
        let jwt = self.api.jwt_secret.expose_secret();
        if !jwt.is_empty() && jwt.len() < 32 {
            return fail("api.jwt_secret: must be empty or at least 32 characters");
        }
        if !(1..=8760).contains(&self.api.token_ttl_hours) {
            return fail("api.token_ttl_hours: must be between 1 and 8760");
        }
        let g = &self.graphql;
        if g.max_query_bytes < 1024 || g.max_depth < 4 || g.max_page_size == 0 || g.max_batch == 0 {
            return fail(
                "graphql: max_query_bytes at least 1024, max_depth at least 4, \
                 max_page_size and max_batch at least 1",
            );
        }
        if self.api.max_body_bytes < self.posts.max_body_bytes + 4096 {
            return fail("api.max_body_bytes: must leave room for posts.max_body_bytes and more");
        }
        if self.api.requests_per_minute == 0 || self.api.account_requests_per_minute == 0 {
            return fail("api.requests_per_minute and account_requests_per_minute: at least 1");
        }
        for origin in &self.api.cors_origins {
            let ok = origin == "*"
                || Url::parse(origin).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.origin().ascii_serialization() == *origin
                });
            if !ok {
                return Err(ConfigError(format!(
                    "api.cors_origins: {origin:?} is not an origin like https://app.example"
                )));
            }
        }
        self.oauth.github.credentials()?;
        self.oauth.google.credentials()?;
        let urls = self.oauth.github.urls().into_iter();
        for (key, url) in urls.chain(self.oauth.google.urls()) {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError(format!(
                    "{key}: must start with http:// or https://"
                )));
            }
        }
        if !(1..=120).contains(&self.oauth.timeout_secs) {
            return fail("oauth.timeout_secs: must be between 1 and 120");
        }
        self.validate_edge()?;
        self.validate_events()
    }

    fn validate_events(&self) -> Result<(), ConfigError> {
        let events = &self.events;
        // The URL's own parse error names no part of it (it may hold a password).
        let check = |key: &str, url: Option<&SecretString>, schemes: &[&str]| match url {
            None => Ok(()),
            Some(url) => match Url::parse(url.expose_secret().trim()) {
                Ok(u) if schemes.contains(&u.scheme()) && u.host_str().is_some() => Ok(()),
                Ok(_) => Err(ConfigError(format!(
                    "{key}: a {} address, or empty",
                    schemes.join(":// or ") + "://"
                ))),
                Err(e) => Err(ConfigError(format!("{key}: {e}"))),
            },
        };
        check("events.amqp_url", events.amqp(), &["amqp", "amqps"])?;
        check("events.nats_url", events.nats(), &["nats", "tls"])?;
        if !(1..=120).contains(&events.timeout_secs) {
            return Err(ConfigError(
                "events.timeout_secs: must be between 1 and 120".into(),
            ));
        }
        Ok(())
    }

    fn validate_edge(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        let edge = &self.edge;
        if edge
            .purge_url
            .as_ref()
            .is_some_and(|u| !matches!(u.scheme(), "http" | "https"))
        {
            return fail("edge.purge_url: an http(s):// address, or empty");
        }
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        if !token(&edge.purge_method) {
            return fail("edge.purge_method: an HTTP method, such as PURGE or POST");
        }
        if !token(&edge.purge_header) || !token(&edge.keys_header) {
            return fail("edge.purge_header and edge.keys_header: header names");
        }
        if !edge.purge_auth.expose_secret().is_empty()
            && !edge.purge_auth().is_some_and(|(name, value)| {
                token(name) && !value.is_empty() && !value.bytes().any(|b| b.is_ascii_control())
            })
        {
            return fail("edge.purge_auth: \"Header-Name: value\", or empty");
        }
        if !(1..=120).contains(&edge.timeout_secs) {
            return fail("edge.timeout_secs: must be between 1 and 120");
        }
        if edge.max_age_secs == 0 || edge.max_age_secs > 31_536_000 {
            return fail("edge.max_age_secs: between 1 and 31536000 (a year)");
        }
        if edge.stale_if_error_secs > 31_536_000 {
            return fail("edge.stale_if_error_secs: at most 31536000 (a year)");
        }
        Ok(())
    }

    /// `https` base URL: cookies must be Secure.
    pub fn is_https(&self) -> bool {
        self.http.base_url.scheme() == "https"
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail closures return figment::Error"
)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in(jail: &mut Jail) -> Result<Settings, ConfigError> {
        let dir = jail.directory().display().to_string();
        jail.set_env("QUIRE_CONFIG_DIR", dir);
        Settings::load(Environment::Development)
    }

    #[test]
    fn defaults_load_without_any_file() {
        Jail::expect_with(|jail| {
            // The Meilisearch tests' own server must not leak into the defaults.
            jail.set_env("MEILI_URL", "");
            let s = load_in(jail).expect("defaults are valid");
            assert_eq!(s.http.port, 8080);
            assert_eq!(s.site.posts_per_page, 10);
            assert!(s.search.meili_url.is_none());
            assert!(s.events.amqp().is_none() && s.events.nats().is_none());
            Ok(())
        });
    }

    #[test]
    fn a_broker_url_turns_its_events_on_and_its_password_stays_out_of_errors() {
        Jail::expect_with(|jail| {
            jail.set_env("QUIRE__EVENTS__NATS_URL", "nats://127.0.0.1:4222");
            let s = load_in(jail).expect("valid");
            assert!(s.events.nats().is_some() && s.events.amqp().is_none());
            jail.set_env(
                "QUIRE__EVENTS__AMQP_URL",
                "ftp://quire:hunter2@rabbit.example/",
            );
            let err = load_in(jail).expect_err("not amqp").to_string();
            assert!(err.contains("events.amqp_url"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn environment_file_then_prefixed_then_conventional_names_win_in_order() {
        Jail::expect_with(|jail| {
            jail.create_file("development.toml", "[http]\nport = 9000\nworkers = 3\n")?;
            jail.set_env("QUIRE__HTTP__WORKERS", "5");
            jail.set_env("QUIRE__SITE__TITLE", "From env");
            jail.set_env("PORT", "9100");
            jail.set_env("BASE_URL", "https://blog.example.com/");
            jail.set_env("MEILI_URL", "http://127.0.0.1:7700");
            let s = load_in(jail).expect("valid");
            assert_eq!(s.http.port, 9100);
            assert_eq!(s.http.workers, 5);
            assert_eq!(s.site.title, "From env");
            assert_eq!(s.http.base(), "https://blog.example.com");
            assert!(s.is_https());
            assert!(s.search.meili_url.is_some());
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_its_key() {
        Jail::expect_with(|jail| {
            jail.set_env("QUIRE__HTTP__PORT", "eighty");
            let err = load_in(jail).expect_err("port is not a number").to_string();
            assert!(err.contains("http.port"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
            Ok(())
        });
    }

    #[test]
    fn checks_beyond_types_name_their_key() {
        for (var, value, key) in [
            ("QUIRE__SITE__POSTS_PER_PAGE", "0", "site.posts_per_page"),
            ("BASE_URL", "ftp://example.com", "http.base_url"),
            ("MEILI_URL", "not a url", "search.meili_url"),
            ("QUIRE__METRICS__ALLOW", "[\"nonsense\"]", "metrics.allow"),
            ("QUIRE__LOG__FORMAT", "xml", "log.format"),
            ("GITHUB_CLIENT_ID", "only-the-id", "oauth.github"),
            (
                "QUIRE__OAUTH__GOOGLE__TOKEN_URL",
                "ftp://x.example",
                "oauth.google.token_url",
            ),
            (
                "QUIRE__EVENTS__AMQP_URL",
                "http://guest:guest@127.0.0.1:5672",
                "events.amqp_url",
            ),
            (
                "QUIRE__EVENTS__NATS_URL",
                "127.0.0.1:4222",
                "events.nats_url",
            ),
        ] {
            Jail::expect_with(|jail| {
                jail.set_env(var, value);
                let err = load_in(jail).expect_err(var).to_string();
                assert!(err.contains(key), "{var}: {err}");
                Ok(())
            });
        }
    }

    #[test]
    fn production_refuses_the_development_session_secret() {
        Jail::expect_with(|jail| {
            let dir = jail.directory().display().to_string();
            jail.set_env("QUIRE_CONFIG_DIR", dir);
            let err = Settings::load(Environment::Production).expect_err("dev secret");
            assert!(err.to_string().contains("session.secret"), "{err}");
            jail.set_env("QUIRE__SESSION__SECRET", "x".repeat(48));
            assert!(Settings::load(Environment::Production).is_ok());
            Ok(())
        });
    }

    #[test]
    fn quire_env_must_be_known() {
        assert!("staging".parse::<Environment>().is_err());
        assert_eq!(
            "production".parse::<Environment>().ok(),
            Some(Environment::Production)
        );
    }

    #[test]
    fn metrics_allow_list_matches_mapped_ipv4() {
        let m = MetricsSettings {
            allow: vec!["127.0.0.0/8".parse().expect("cidr")],
        };
        assert!(m.allows("127.0.0.1".parse().expect("ip")));
        assert!(m.allows("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!m.allows("10.1.2.3".parse().expect("ip")));
    }

    #[test]
    fn database_name_can_be_replaced() {
        Jail::expect_with(|jail| {
            let s = load_in(jail).expect("valid");
            let other = s.database.with_database_name("quire_x").expect("valid url");
            assert!(other.url.expose_secret().contains("5432/quire_x?"));
            Ok(())
        });
    }
}
