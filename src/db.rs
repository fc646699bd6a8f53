//! The PostgreSQL pool: creating the database if it is missing, the embedded migrations,
//! and the pool options that let the site ride out a database outage; and the small tools
//! every module's queries share: `?page=` and the overfetching `Page`, ILIKE patterns, and
//! session advisory locks. Reads from a streaming replica: `replica`.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, Connection, Executor, PgPool,
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
};

use crate::config::DatabaseSettings;

pub mod replica;
pub use replica::Reads;

/// Every migration in `migrations/`, compiled into the binary. Migrations a newer release
/// applied are no error (`migrate`).
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}

pub fn connect_options(settings: &DatabaseSettings) -> anyhow::Result<PgConnectOptions> {
    let opts = PgConnectOptions::from_str(settings.url.expose_secret())
        .context("database.url is not a valid PostgreSQL URL")?;
    // Statement logging would print every query at INFO; our request log is enough.
    Ok(opts
        .log_statements(tracing::log::LevelFilter::Debug)
        .application_name("quire")
        // Our statements are few and fixed, and each has an index that serves every value of
        // its parameters (the index test checks the generic plans at 100k posts). Custom plans
        // would re-plan the list queries on every request, as `LIMIT $1` defeats the plan cache.
        .options([
            ("plan_cache_mode", "force_generic_plan"),
            // A runaway statement is cancelled by the server too, not only abandoned by us.
            (
                "statement_timeout",
                &format!("{}s", settings.statement_timeout_secs),
            ),
        ]))
}

/// A lazily connecting pool: start-up does not fail if the database blinks, and requests
/// wait at most `acquire_timeout` before answering 503.
pub fn pool(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let opts = connect_options(settings)?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout())
        // Pinging on every checkout costs a round trip per request. Only connections that sat
        // idle for a while are checked; a broken busy one fails its query (503) and is dropped.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(5) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(opts))
}

/// A pool like `base` (same server, same checks) of at most `max` connections, for one HTTP
/// worker. Each actix worker is its own single-threaded runtime, and a connection's socket
/// belongs to the runtime that opened it: in a pool shared by workers, most queries wake
/// another worker's thread to read the reply (bench/README.md). Create it on the worker.
pub fn worker_pool(base: &PgPool, max: u32) -> PgPool {
    base.options()
        .clone()
        .max_connections(max)
        .connect_lazy_with((*base.connect_options()).clone())
}

/// A pool like `base` whose commits don't wait for the disk (`synchronous_commit = off`):
/// after a database crash the last fraction of a second of its writes may be lost, never
/// half of one. For the job runner's bookkeeping, which at worst runs a job again.
pub fn unhurried_pool(base: &PgPool, max: u32) -> PgPool {
    base.options()
        .clone()
        .max_connections(max)
        .connect_lazy_with(
            (*base.connect_options())
                .clone()
                .options([("synchronous_commit", "off")]),
        )
}

/// Create the configured database if it does not exist yet.
pub async fn create_if_missing(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let opts = connect_options(settings)?;
    let name = opts
        .get_database()
        .context("database.url names no database")?
        .to_owned();
    if !is_plain_identifier(&name) {
        anyhow::bail!("database.url: database name {name:?} must be letters, digits and _");
    }
    let mut admin = PgConnection::connect_with(&opts.clone().database("postgres"))
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {}", describe(&opts)))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        // The name was checked above; identifiers can't be bound as parameters.
        let sql = format!(r#"CREATE DATABASE "{name}""#);
        match admin.execute(sqlx::AssertSqlSafe(sql)).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our CREATE.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// Apply pending migrations. Concurrent instances serialise on sqlx's advisory lock. A
/// migration may build an index over a big table: no statement timeout applies to it.
///
/// A database a newer release has migrated is served as it is: migrations are written so
/// that the previous release's binary works with them (README, "Migrations and rolling
/// deploys"), so during a rolling deploy the old instances keep serving, and restart.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await.context("connecting to migrate")?;
    conn.execute("SET statement_timeout = 0").await?;
    let migrator = migrator();
    let result = migrator
        .run(&mut *conn)
        .await
        .context("applying database migrations");
    // Back to the connection's own setting before it returns to the pool.
    conn.execute("RESET statement_timeout").await?;
    result?;
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await?;
    let ours = migrator.iter().map(|m| m.version).max();
    if newest > ours {
        tracing::warn!(
            database = newest,
            binary = ours,
            "the database has migrations of a newer release; serving it as this release"
        );
    }
    Ok(())
}

/// A connection of its own holding the session-level advisory lock `key`, or `None` when
/// another session holds it. The connection is detached from the pool, so the lock lives
/// exactly as long as the caller keeps it: dropping it closes it, which releases the lock
/// (a pooled connection would carry the lock back into the pool).
pub async fn try_advisory_lock(db: &PgPool, key: i64) -> sqlx::Result<Option<PgConnection>> {
    let mut conn = db.acquire().await?.detach();
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    Ok(taken.then_some(conn))
}

/// Drop a database, closing its connections: for tests and benchmarks.
pub async fn drop_database(settings: &DatabaseSettings, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(is_plain_identifier(name), "bad database name {name:?}");
    let opts = connect_options(settings)?.database("postgres");
    let mut admin = PgConnection::connect_with(&opts).await?;
    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
    admin.execute(sqlx::AssertSqlSafe(sql)).await?;
    admin.close().await.ok();
    Ok(())
}

fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn describe(opts: &PgConnectOptions) -> String {
    format!("{}:{}", opts.get_host(), opts.get_port())
}

/// An ILIKE pattern matching `text` anywhere, with its own `%`, `_` and `\` taken literally.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Which page of a list, from 1. `?page=` parses through here, so handlers never see 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct PageNumber(u32);

impl PageNumber {
    /// Deep offsets are slow and nobody pages that far; the limit keeps OFFSET bounded.
    pub const MAX: u32 = 100_000;
    pub const FIRST: Self = Self(1);

    pub fn parse(s: &str) -> Result<Self, String> {
        let n: u32 = s
            .trim()
            .parse()
            .map_err(|_| format!("page must be a whole number from 1 to {}", Self::MAX))?;
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!(
                "page must be a whole number from 1 to {}",
                Self::MAX
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn offset(self, per_page: u32) -> i64 {
        i64::from(self.0 - 1) * i64::from(per_page)
    }
}

impl TryFrom<String> for PageNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

/// `?page=N` on list pages. A malformed number is a 400 (see the QueryConfig handler).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct PageQuery {
    pub page: Option<PageNumber>,
}

impl PageQuery {
    pub fn number(&self) -> PageNumber {
        self.page.unwrap_or(PageNumber::FIRST)
    }
}

/// One page of a list, fetched with one row extra to learn whether a next page exists.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub number: u32,
    pub has_next: bool,
}

impl<T> Page<T> {
    pub fn from_overfetch(mut items: Vec<T>, page: PageNumber, per_page: u32) -> Self {
        let has_next = items.len() > per_page as usize;
        items.truncate(per_page as usize);
        Self {
            items,
            number: page.get(),
            has_next,
        }
    }

    /// The SQL LIMIT for an overfetch.
    pub fn limit(per_page: u32) -> i64 {
        i64::from(per_page) + 1
    }

    pub fn prev(&self) -> Option<u32> {
        (self.number > 1).then(|| self.number - 1)
    }

    pub fn next(&self) -> Option<u32> {
        self.has_next.then(|| self.number + 1)
    }

    /// A page past the end is a 404; the first page may be empty (a new blog).
    pub fn is_past_the_end(&self) -> bool {
        self.items.is_empty() && self.number > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_accept_only_whole_numbers_in_range() {
        assert_eq!(PageNumber::parse("1").map(PageNumber::get), Ok(1));
        assert_eq!(PageNumber::parse(" 7 ").map(PageNumber::get), Ok(7));
        for bad in ["0", "-3", "abc", "", "1.5", "99999999999", "100001"] {
            assert!(PageNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_do_not_overflow_at_the_limit() {
        let last = PageNumber::parse("100000").expect("in range");
        assert_eq!(last.offset(100), 9_999_900);
    }

    #[test]
    fn overfetch_detects_a_next_page() {
        let p = Page::from_overfetch(vec![1, 2, 3], PageNumber::FIRST, 2);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!((p.prev(), p.next()), (None, Some(2)));
        let empty = Page::<u8>::from_overfetch(vec![], PageNumber::parse("3").expect("ok"), 2);
        assert!(empty.is_past_the_end());
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn database_names_are_checked_before_use_in_sql() {
        assert!(is_plain_identifier("quire_test_123"));
        assert!(!is_plain_identifier("x\"; DROP"));
        assert!(!is_plain_identifier(""));
    }
}
