//! Reads from a PostgreSQL streaming replica (issue 29), never older than what the site knows
//! it wrote.
//!
//! **Which pool a request reads from** is decided in one place, `Replica::reads` (the rule is
//! `Status::serves`). The public read handlers (home, posts, pages, tags, authors, feeds, the
//! sitemap, search, and the API's anonymous GETs) take a `Reads` and pass `&reads` where they
//! would pass `&state.db`. Its reads go to the replica only when all of these hold:
//! - the request is a GET or HEAD without `Authorization`: an API client with a token always
//!   reads the primary, so its next read sees its own write with nothing to remember per
//!   token;
//! - the replica answers as a standby and trails the primary by at most
//!   `database.replica_max_lag_ms`;
//! - this instance hears the write notes (Redis answers): without them it can't know the
//!   newest write;
//! - it has replayed the newest write this site knows of (`Writes::note`), which every
//!   instance hears before the write's response is sent: a page that the hot-page cache (or
//!   an edge cache) refills after a write is never older than that write;
//! - it has replayed the reader's own last write, kept in their session (`after_writes`), in
//!   case this instance did not hear of it in time.
//!
//! Everything else (writes, the admin, the API with a token) reads `state.db`, the primary.
//!
//! **When the replica fails.** A read that fails there because it is out of reach (or was
//! cancelled by a recovery conflict) runs again on the primary in the same request, and marks
//! the replica down; each instance's watcher (`Replica::watch`) reads the replica's replay
//! position every `POLL` and marks it up or down, lagging or not.
//!
//! **Writes.** `Writes::note` reads the primary's WAL position and tells every instance through
//! Redis (a key, and a PUBLISH that each instance acknowledges, as the page cache's bumps are),
//! returning once all have heard. It runs after every successful write request
//! (`after_writes`, before the page cache's bump) and before every bump by a job or a command
//! (`cache::Pages::noting`). Anything else that has a cache refilled after a write (the edge
//! cache's purge) calls it first.

use std::{
    collections::VecDeque,
    fmt,
    future::{Ready, ready},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};

use actix_session::SessionExt;
use actix_web::{
    FromRequest, HttpRequest,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{Method, header},
    middleware::Next,
    web,
};
use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, future::BoxFuture, stream::BoxStream};
use prometheus::IntCounter;
use sqlx::{
    Connection, Either, Execute, Executor, PgPool, Postgres, SqlStr,
    error::BoxDynError,
    pool::PoolConnection,
    postgres::{PgArguments, PgConnection, PgQueryResult, PgRow, PgStatement, PgTypeInfo},
};

use crate::{
    config::{DatabaseSettings, RedisSettings, Settings},
    error::Error,
    kv::Kv,
    metrics::Metrics,
    state::AppState,
};

/// How often each instance reads the replica's position.
pub const POLL: Duration = Duration::from_millis(100);

/// The longest a read waits for a replica connection before it goes to the primary instead.
const REPLICA_WAIT: Duration = Duration::from_millis(500);

/// The longest the watcher's (and `note`'s) queries may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a writer waits for every instance to hear of its write (as `cache::local::ACK_WAIT`).
const ACK_WAIT: Duration = Duration::from_millis(250);

/// The session key holding the WAL position of the person's last write.
const WROTE: &str = "replica_wrote";

/// Record a write's position as the newest if it is, count the note, and announce it.
const NOTE: &str = r"
local newest = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > newest then
  redis.call('SET', KEYS[1], ARGV[1])
end
local id = redis.call('INCR', KEYS[2])
return {id, redis.call('PUBLISH', ARGV[2], id .. ':' .. ARGV[1])}
";

/// A position in the primary's write-ahead log, in bytes from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

/// What this instance knows of the replica, shared by its workers: the watcher and the write
/// notes keep it, every read consults it.
pub struct Status {
    max_lag: Duration,
    /// The replica answered the watcher as a standby, and no read has failed there since.
    up: AtomicBool,
    /// This instance follows the write notes (Redis is there): without them it can't know
    /// the newest write, so it reads the primary.
    hearing: AtomicBool,
    /// The replica's replay position, as last read.
    replayed: AtomicU64,
    /// The newest write this instance knows of.
    newest: AtomicU64,
    /// How long ago the primary was at the oldest position the replica has not replayed, in
    /// ms; `u64::MAX`: behind since before the watcher started, by an unknown time.
    lag_ms: AtomicU64,
    lag_bytes: AtomicU64,
    reads_primary: IntCounter,
    reads_replica: IntCounter,
    fallbacks: IntCounter,
}

impl Status {
    fn new(max_lag: Duration, metrics: &Metrics) -> Self {
        Self {
            max_lag,
            up: AtomicBool::new(false),
            hearing: AtomicBool::new(false),
            replayed: AtomicU64::new(0),
            newest: AtomicU64::new(0),
            lag_ms: AtomicU64::new(u64::MAX),
            lag_bytes: AtomicU64::new(0),
            reads_primary: metrics.reads_from("primary"),
            reads_replica: metrics.reads_from("replica"),
            fallbacks: metrics.replica_fallbacks(),
        }
    }

    /// The rule: may a read go to the replica now, for a reader whose own last write (if
    /// any) is at `wrote`?
    fn serves(&self, wrote: Option<Lsn>) -> bool {
        let replayed = self.replayed.load(SeqCst);
        self.up.load(SeqCst)
            && self.hearing.load(SeqCst)
            && self.lag().is_some_and(|lag| lag <= self.max_lag)
            && replayed >= self.newest.load(SeqCst)
            && wrote.is_none_or(|w| replayed >= w.0)
    }

    fn lag(&self) -> Option<Duration> {
        match self.lag_ms.load(SeqCst) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn heard(&self, lsn: Lsn) {
        self.newest.fetch_max(lsn.0, SeqCst);
    }

    /// A read failed on the replica with `e` and goes to the primary.
    fn fell_back(&self, e: &sqlx::Error) {
        self.fallbacks.inc();
        // A recovery conflict cancels one query; anything else means the replica is away
        // until the watcher sees it answer again.
        if !is_recovery_conflict(e) && self.up.swap(false, SeqCst) {
            tracing::warn!(error = %e, "replica: a read failed there; reads go to the primary");
        }
    }
}

/// The replica as every handler reaches it (`AppState::replica`): this worker's pool to it,
/// and the instance's `Status`. Without `database.replica_url`, there is no pool and every
/// read goes to the primary.
#[derive(Clone)]
pub struct Replica {
    pool: Option<PgPool>,
    status: Arc<Status>,
    /// The Redis keys write notes use.
    keys: Arc<Keys>,
}

impl Replica {
    /// Connect lazily to the replica `settings` name, if any.
    pub fn new(
        settings: &DatabaseSettings,
        redis: &RedisSettings,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let pool = settings
            .replica()
            .map(|replica| super::pool(&replica))
            .transpose()
            .context("database.replica_url is not a valid PostgreSQL URL")?;
        Ok(Self {
            pool,
            status: Arc::new(Status::new(settings.replica_max_lag(), metrics)),
            keys: Arc::new(Keys::new(redis)),
        })
    }

    /// The same replica with a pool of at most `max` connections for one HTTP worker (see
    /// `db::worker_pool`).
    pub fn for_worker(&self, max: u32) -> Self {
        Self {
            pool: self.pool.as_ref().map(|p| super::worker_pool(p, max)),
            ..self.clone()
        }
    }

    pub fn is_configured(&self) -> bool {
        self.pool.is_some()
    }

    /// The reads of a request by `reader`, `primary` being this worker's pool to the primary.
    fn reads(&self, primary: &PgPool, reader: Reader) -> Reads {
        let replica = match (&self.pool, reader) {
            (Some(pool), Reader::Anyone { wrote }) if self.status.serves(wrote) => {
                Some((pool.clone(), self.status.clone()))
            }
            _ => None,
        };
        match replica {
            Some(_) => self.status.reads_replica.inc(),
            None => self.status.reads_primary.inc(),
        }
        Reads {
            primary: primary.clone(),
            replica,
            held: Arc::default(),
        }
    }

    /// What tells every instance of a write on `primary` (see `Writes`).
    pub fn writes(&self, primary: &PgPool, redis: &Kv) -> Writes {
        Writes {
            primary: primary.clone(),
            redis: redis.clone(),
            keys: self.keys.clone(),
            here: Some(self.status.clone()),
            on: self.is_configured(),
        }
    }

    /// Start watching the replica (its position every `POLL`, against `primary`'s) and
    /// following the write notes; nothing to start without a replica. The wiring owns the
    /// tasks.
    pub fn watch(
        &self,
        primary: PgPool,
        redis: Kv,
    ) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
        let Some(replica) = &self.pool else {
            return Vec::new();
        };
        let notes = Arc::new(Notes {
            status: self.status.clone(),
            redis: redis.clone(),
            keys: self.keys.clone(),
        });
        vec![
            (
                "replica watch",
                tokio::spawn(watch_replica(self.status.clone(), primary, replica.clone())),
            ),
            (
                "replica write notes",
                crate::kv::follow(redis, self.keys.channel.clone(), notes),
            ),
        ]
    }

    /// The `/readyz` line: `off`, `ok, lag …`, `lagging …` or `unavailable`.
    pub fn describe(&self) -> String {
        if !self.is_configured() {
            return "off".to_owned();
        }
        let status = &self.status;
        if !status.up.load(SeqCst) {
            return "unavailable (reads go to the primary)".to_owned();
        }
        let bytes = status.lag_bytes.load(SeqCst);
        match status.lag() {
            None => format!(
                "lagging (for longer than this instance has watched; {bytes} bytes behind), \
                 reads go to the primary"
            ),
            Some(lag) if lag > status.max_lag => format!(
                "lagging {:.1} s ({bytes} bytes behind), reads go to the primary",
                lag.as_secs_f64()
            ),
            Some(lag) => {
                let mut line = format!("ok, lag {:.1} s ({bytes} bytes)", lag.as_secs_f64());
                if !status.hearing.load(SeqCst) {
                    line.push_str("; reads go to the primary until Redis answers");
                }
                line
            }
        }
    }

    /// Set the replica's gauges in `metrics` as they are now (for `/metrics`).
    pub fn report(&self, metrics: &Metrics) {
        let status = &self.status;
        metrics.set_replica(
            self.is_configured() && status.up.load(SeqCst),
            status.lag(),
            status.lag_bytes.load(SeqCst),
        );
    }
}

/// Who reads, as far as the choice of pool goes.
enum Reader {
    /// Not a GET or HEAD, or an API call with a token: the primary.
    Primary,
    /// Anyone else, who last wrote at `wrote` (their session says).
    Anyone { wrote: Option<Lsn> },
}

impl Reader {
    fn of(req: &HttpRequest) -> Self {
        if !matches!(*req.method(), Method::GET | Method::HEAD)
            || req.headers().contains_key(header::AUTHORIZATION)
        {
            return Reader::Primary;
        }
        let wrote = req.get_session().get::<u64>(WROTE).ok().flatten();
        Reader::Anyone {
            wrote: wrote.map(Lsn),
        }
    }
}

/// The reads of one request, on the pool `Replica::reads` chose: pass `&reads` wherever a
/// query takes an executor. On the replica, a query that fails because the replica is out
/// of reach runs again on the primary; so rows are gathered before they are handed on (these
/// are pages' reads, a page of rows at a time).
///
/// A request's reads share one connection: the first query takes it from the pool and it goes
/// back when the request's `Reads` is dropped. sqlx sends a round trip (a `Sync`) with every
/// connection it takes back, so a page of three queries paid six round trips on three
/// connections; now four on one (bench/README.md). Handlers that take a `Reads` use nothing
/// else from the same pool while it is alive, so a request never waits for a second
/// connection while holding one.
#[derive(Clone)]
pub struct Reads {
    primary: PgPool,
    /// The replica, when this request's reads go there.
    replica: Option<(PgPool, Arc<Status>)>,
    /// The connection this request reads on, between its queries.
    held: Arc<std::sync::Mutex<Option<PoolConnection<Postgres>>>>,
}

impl fmt::Debug for Reads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reads")
            .field("replica", &self.replica.is_some())
            .finish()
    }
}

impl Reads {
    /// Reads from the primary, whoever asks (code outside a request).
    pub fn primary(db: &PgPool) -> Self {
        Self {
            primary: db.clone(),
            replica: None,
            held: Arc::default(),
        }
    }

    /// The pool reads go to first.
    fn pool(&self) -> &PgPool {
        self.replica
            .as_ref()
            .map_or(&self.primary, |(pool, _)| pool)
    }

    /// `read` with a pool of its own (for a transaction): on the replica when this request
    /// reads there, and again on the primary if it failed there because the replica is out of
    /// reach.
    pub async fn with_pool<T, E: FromDatabase>(
        &self,
        read: impl AsyncFn(&PgPool) -> Result<T, E>,
    ) -> Result<T, E> {
        // Never hold one connection while waiting for another of the same pool.
        drop(self.take());
        if let Some((replica, status)) = &self.replica {
            match read(replica).await {
                Err(e) if e.database().is_some_and(is_replica_failure) => {
                    if let Some(e) = e.database() {
                        status.fell_back(e);
                    }
                }
                done => return done,
            }
        }
        read(&self.primary).await
    }

    /// Whether this request's reads go to the replica.
    pub fn is_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Every result of `query`: from the replica if this request reads there and it
    /// answers, else from the primary.
    async fn run(&self, query: Replay) -> sqlx::Result<Vec<Either<PgQueryResult, PgRow>>> {
        if let Some((replica, status)) = &self.replica {
            let attempt = async {
                let conn = match self.take() {
                    Some(conn) => conn,
                    None => tokio::time::timeout(REPLICA_WAIT, replica.acquire())
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)??,
                };
                self.on(conn, query.clone(), true).await
            };
            match attempt.await {
                Ok(results) => return Ok(results),
                Err(e) if is_replica_failure(&e) => status.fell_back(&e),
                Err(e) => return Err(e),
            }
        }
        // After a fallback, what is held (if anything) is the replica's: the primary's
        // connection is not kept either, so the next query tries the replica again.
        let on_primary = self.replica.is_none();
        let conn = match on_primary.then(|| self.take()).flatten() {
            Some(conn) => conn,
            None => self.primary.acquire().await?,
        };
        self.on(conn, query, on_primary).await
    }

    /// The connection held between queries, if any (another query of this request may have it).
    fn take(&self) -> Option<PoolConnection<Postgres>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Every result of `query` on `conn`, which is held for the next query (`keep`) if all
    /// went well (after an error it goes back to the pool, which tests it).
    async fn on(
        &self,
        mut conn: PoolConnection<Postgres>,
        query: Replay,
        keep: bool,
    ) -> sqlx::Result<Vec<Either<PgQueryResult, PgRow>>> {
        let results = (&mut *conn)
            .fetch_many(query)
            .try_collect::<Vec<_>>()
            .await?;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if keep && held.is_none() {
            *held = Some(conn);
        }
        Ok(results)
    }
}

/// An error that may have come from the database (for `Reads::with_pool`).
pub trait FromDatabase {
    fn database(&self) -> Option<&sqlx::Error>;
}

impl FromDatabase for sqlx::Error {
    fn database(&self) -> Option<&sqlx::Error> {
        Some(self)
    }
}

/// The replica is out of reach, shutting down, or cancelled the query to replay WAL: the
/// primary can answer instead. (A statement timeout, 57014, would time out there too.)
fn is_replica_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "40001"
        }),
        _ => false,
    }
}

/// "canceling statement due to conflict with recovery" (SQLSTATE 40001 on a standby).
fn is_recovery_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("40001"))
}

impl FromRequest for Reads {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.app_data::<web::Data<AppState>>() {
            Some(state) => Ok(state.replica.reads(&state.db, Reader::of(req))),
            None => Err(Error::Internal(anyhow::anyhow!("no app state"))),
        })
    }
}

/// A query taken apart, so it can run twice: on the replica, then on the primary.
#[derive(Clone)]
struct Replay {
    sql: SqlStr,
    arguments: Option<PgArguments>,
    persistent: bool,
}

impl Replay {
    fn of<'q>(mut query: impl Execute<'q, Postgres>) -> sqlx::Result<Self> {
        let arguments = query.take_arguments().map_err(sqlx::Error::Encode)?;
        let persistent = query.persistent();
        Ok(Self {
            sql: query.sql(),
            arguments,
            persistent,
        })
    }
}

impl Execute<'_, Postgres> for Replay {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&PgStatement> {
        None
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, BoxDynError> {
        Ok(self.arguments.take())
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

impl<'p> Executor<'p> for &'_ Reads {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, sqlx::Result<Either<PgQueryResult, PgRow>>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let reads = self.clone();
        let query = Replay::of(query);
        futures_util::stream::once(async move { reads.run(query?).await })
            .flat_map(|results| {
                futures_util::stream::iter(match results {
                    Ok(results) => results.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                })
            })
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let reads = self.clone();
        let query = Replay::of(query);
        Box::pin(async move {
            let results = reads.run(query?).await?;
            Ok(results.into_iter().find_map(|r| match r {
                Either::Right(row) => Some(row),
                Either::Left(_) => None,
            }))
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement>>
    where
        'p: 'e,
    {
        let pool = self.pool().clone();
        Box::pin(async move { pool.prepare_with(sql, parameters).await })
    }

    // Required while sqlx's `offline` feature is on (our `macros` feature turns it on).
    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Postgres>>>
    where
        'p: 'e,
    {
        let pool = self.pool().clone();
        Box::pin(async move { pool.describe(sql).await })
    }
}

/// The primary's position now: the end of the last WAL record inserted. Insert, not write:
/// a commit made with `synchronous_commit = off` may not be written yet when it returns, and
/// a replica that reached the written position would still miss it. At a page boundary the
/// insert position names the first byte after the next page's header, where the next record
/// will start; the last record ended at the boundary, which is where the replica's replay
/// position stops (24 bytes for a page's header, 40 for a segment's first).
async fn position(primary: &PgPool) -> sqlx::Result<Lsn> {
    let (lsn, in_segment, block): (i64, i32, i64) = sqlx::query_as(
        "SELECT (lsn - '0/0'::pg_lsn)::int8,
                (pg_walfile_name_offset(lsn)).file_offset,
                current_setting('wal_block_size')::int8
           FROM pg_current_wal_insert_lsn() AS lsn",
    )
    .fetch_one(primary)
    .await?;
    Ok(Lsn(record_end(
        lsn.unsigned_abs(),
        in_segment.unsigned_abs().into(),
        block.unsigned_abs(),
    )))
}

/// The end of the last record before insert position `lsn`, `in_segment` bytes into its WAL
/// segment of `block`-byte pages (see `position`).
fn record_end(lsn: u64, in_segment: u64, block: u64) -> u64 {
    const SEGMENT_HEADER: u64 = 40;
    const PAGE_HEADER: u64 = 24;
    if in_segment == SEGMENT_HEADER {
        lsn - SEGMENT_HEADER
    } else if block > 0 && in_segment >= block && in_segment % block == PAGE_HEADER {
        lsn - PAGE_HEADER
    } else {
        lsn
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The replica's replay position, if it is a standby.
async fn replayed(replica: &mut PgConnection) -> sqlx::Result<Option<Lsn>> {
    let (standby, lsn): (bool, Option<i64>) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8",
    )
    .fetch_one(replica)
    .await?;
    Ok(lsn.filter(|_| standby).map(|l| Lsn(l.unsigned_abs())))
}

/// The primary's positions as the watcher saw them, to tell how long ago it was where the
/// replica is now: the lag in time, which stays 0 while the site is idle (unlike
/// `now() - pg_last_xact_replay_timestamp()`).
#[derive(Default)]
struct Samples {
    /// Ascending positions, each with when it was first seen (`None`: the first sample,
    /// where the primary had been since some unknown time).
    seen: VecDeque<(u64, Option<Instant>)>,
}

impl Samples {
    /// Samples kept at most (at one per `POLL` while the primary writes, minutes of them).
    const MAX: usize = 4096;

    fn saw(&mut self, lsn: Lsn, at: Instant) {
        match self.seen.back() {
            None => self.seen.push_back((lsn.0, None)),
            Some((last, _)) if lsn.0 > *last => {
                self.seen.push_back((lsn.0, Some(at)));
                if self.seen.len() > Self::MAX {
                    self.seen.pop_front();
                }
            }
            Some(_) => {}
        }
    }

    /// How far the replica at `replayed` trails: since when the primary was at the oldest
    /// position it has not replayed (`None`: unknown, from before the first sample, or no
    /// sample yet), and by how many bytes of the newest position seen.
    fn lag(&mut self, replayed: Lsn, now: Instant) -> (Option<Duration>, u64) {
        while self.seen.len() > 1 && self.seen.front().is_some_and(|(l, _)| *l <= replayed.0) {
            self.seen.pop_front();
        }
        let newest = self.seen.back().map_or(0, |(l, _)| *l);
        let bytes = newest.saturating_sub(replayed.0);
        match self.seen.front() {
            None => (None, 0),
            Some((lsn, _)) if *lsn <= replayed.0 => (Some(Duration::ZERO), 0),
            Some((_, None)) => (None, bytes),
            Some((_, Some(at))) => (Some(now.saturating_duration_since(*at)), bytes),
        }
    }
}

/// The watcher: every `POLL`, the primary's position and the replica's, into `status`. Its
/// own connection to the replica, made afresh after any failure, so a replica that is back
/// is seen at the next round.
async fn watch_replica(status: Arc<Status>, primary: PgPool, replica: PgPool) {
    let options = (*replica.connect_options()).clone();
    let mut conn: Option<PgConnection> = None;
    let mut samples = Samples::default();
    let mut was = "unavailable";
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let read_replica = async {
            if conn.is_none() {
                conn = Some(PgConnection::connect_with(&options).await?);
            }
            match conn.as_mut() {
                Some(c) => replayed(c).await,
                None => Ok(None),
            }
        };
        let (primary_at, replica_at) = tokio::join!(
            tokio::time::timeout(PROBE_TIMEOUT, position(&primary)),
            tokio::time::timeout(PROBE_TIMEOUT, read_replica)
        );
        let now = Instant::now();
        if let Ok(Ok(lsn)) = primary_at {
            samples.saw(lsn, now);
        }
        let replica_at = match replica_at {
            Ok(Ok(Some(lsn))) => Some(lsn),
            Ok(Ok(None)) => {
                if was != "not a standby" {
                    tracing::warn!("replica: database.replica_url is not a standby; unused");
                }
                was = "not a standby";
                None
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "replica: unread");
                None
            }
            Err(_) => None,
        };
        let Some(replayed) = replica_at else {
            conn = None;
            status.up.store(false, SeqCst);
            if was == "ok" || was == "lagging" {
                tracing::warn!("replica: unavailable; reads go to the primary");
                was = "unavailable";
            }
            continue;
        };
        let (lag, bytes) = samples.lag(replayed, now);
        status.replayed.store(replayed.0, SeqCst);
        status.lag_ms.store(
            lag.map_or(u64::MAX, |l| millis(l).min(u64::MAX - 1)),
            SeqCst,
        );
        status.lag_bytes.store(bytes, SeqCst);
        status.up.store(true, SeqCst);
        let now_is = match lag {
            Some(lag) if lag <= status.max_lag => "ok",
            _ => "lagging",
        };
        if now_is != was {
            match now_is {
                "ok" => tracing::info!("replica: ok; anonymous reads go to it"),
                _ => tracing::warn!(?lag, bytes, "replica: lagging; reads go to the primary"),
            }
            was = now_is;
        }
    }
}

/// The Redis keys of write notes, under `redis.key_prefix`.
struct Keys {
    /// The newest position noted.
    newest: String,
    /// Counts notes: each one's acknowledgements are counted under its number.
    count: String,
    /// Where each note is published, as `<number>:<position>`.
    channel: String,
}

impl Keys {
    fn new(settings: &RedisSettings) -> Self {
        let shared = format!("{}replica:", settings.key_prefix);
        Self {
            newest: format!("{shared}newest"),
            count: format!("{shared}notes"),
            channel: format!("{shared}newest:changes"),
        }
    }

    fn ack(&self, note: u64) -> String {
        format!("{}:ack:{note}", self.count)
    }
}

/// What tells every instance of a write: `note` after it, before anything refills a cache.
/// Made by `Replica::writes` in the app, or `Writes::new` in a process without one (the
/// worker, the command line).
#[derive(Clone)]
pub struct Writes {
    primary: PgPool,
    redis: Kv,
    keys: Arc<Keys>,
    /// This instance's own status, told at once.
    here: Option<Arc<Status>>,
    /// A replica is configured: without one there is nothing to tell.
    on: bool,
}

impl Writes {
    pub fn new(primary: PgPool, redis: Kv, settings: &Settings) -> Self {
        Self {
            primary,
            redis,
            keys: Arc::new(Keys::new(&settings.redis)),
            here: None,
            on: settings.database.replica().is_some(),
        }
    }

    /// Read the primary's position after a write and make every instance know it before
    /// returning (or `ACK_WAIT` passed): from then on, no instance reads the replica until it
    /// has replayed this far. Call it after the write committed and before anything that has
    /// pages made afresh (a cache bump, an edge purge). `None` without a replica, or when
    /// the primary could not be asked (logged).
    pub async fn note(&self) -> Option<Lsn> {
        if !self.on {
            return None;
        }
        let lsn = match tokio::time::timeout(PROBE_TIMEOUT, position(&self.primary)).await {
            Ok(Ok(lsn)) => lsn,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "replica: the primary's position after a write is unread");
                return None;
            }
            Err(_) => {
                tracing::warn!("replica: the primary's position after a write timed out");
                return None;
            }
        };
        if let Some(here) = &self.here {
            here.heard(lsn);
        }
        let script = redis::Script::new(NOTE);
        let mut note = script.key(&self.keys.newest);
        note.key(&self.keys.count)
            .arg(lsn.0)
            .arg(&self.keys.channel);
        match self.redis.script::<(u64, u64)>(&note).await {
            Ok((_, 0)) => {}
            Ok((id, listeners)) => {
                if !self
                    .redis
                    .acknowledged(&self.keys.ack(id), listeners, ACK_WAIT)
                    .await
                {
                    tracing::warn!(
                        listeners,
                        "replica: not every instance acknowledged a write"
                    );
                }
            }
            Err(e) => {
                // Instances that can't hear it read the primary meanwhile (`Status::hearing`);
                // the key is set before Redis is read again, for those that subscribe then.
                tracing::debug!(error = %e, "replica: write noted once Redis returns");
                let again = redis::cmd("EVAL")
                    .arg(NOTE)
                    .arg(2)
                    .arg(&self.keys.newest)
                    .arg(&self.keys.count)
                    .arg(lsn.0)
                    .arg(&self.keys.channel)
                    .clone();
                self.redis.defer(again);
            }
        }
        Some(lsn)
    }
}

/// `Writes::note` for a request's write, from the app's state.
pub async fn note_write(state: &AppState) -> Option<Lsn> {
    state.replica.writes(&state.db, &state.redis).note().await
}

/// Middleware, inside the session's and outside the page cache's: after every successful
/// write (any method but GET, HEAD and OPTIONS), `note_write`, and keep the position in the
/// writer's session (if they have one) so their next reads see what they wrote.
pub async fn after_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?.map_into_boxed_body();
    let done = res.status().is_success() || res.status().is_redirection();
    if write
        && done
        && let Some(state) = state
        && let Some(lsn) = note_write(&state).await
    {
        let session = res.request().get_session();
        // An anonymous writer (a guest comment) gets no session for it.
        if !session.entries().is_empty() {
            let _ = session.insert(WROTE, lsn.0);
        }
    }
    Ok(res)
}

/// The replica's side of `kv::follow`: write notes from every instance.
struct Notes {
    status: Arc<Status>,
    redis: Kv,
    keys: Arc<Keys>,
}

impl crate::kv::Follower for Notes {
    type Payload = String;

    fn set_healthy(&self, healthy: bool) {
        self.status.hearing.store(healthy, SeqCst);
    }

    async fn ready(&self) -> anyhow::Result<()> {
        let get = redis::cmd("GET").arg(&self.keys.newest).clone();
        let newest: Option<u64> = self.redis.cmd(&get).await?;
        self.status.heard(Lsn(newest.unwrap_or(0)));
        Ok(())
    }

    async fn heard(&self, note: String) {
        let Some((id, lsn)) = note
            .split_once(':')
            .and_then(|(id, lsn)| Some((id.parse::<u64>().ok()?, lsn.parse::<u64>().ok()?)))
        else {
            return;
        };
        self.status.heard(Lsn(lsn));
        self.redis.acknowledge(&self.keys.ack(id)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_after_a_page_header_is_the_boundary_before_it() {
        assert_eq!(record_end(0x300_11F0, 4592, 8192), 0x300_11F0);
        // 3 pages into a segment, right after the page's header.
        assert_eq!(record_end(0x300_6018, 3 * 8192 + 24, 8192), 0x300_6000);
        // A segment's first page has the long header.
        assert_eq!(record_end(0x400_0028, 40, 8192), 0x400_0000);
        // 24 bytes into a segment is inside its long header: no record ends there.
        assert_eq!(record_end(0x400_0030, 48, 8192), 0x400_0030);
    }

    #[test]
    fn lag_is_how_long_ago_the_primary_was_past_the_replica() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut samples = Samples::default();
        samples.saw(Lsn(100), at(0));
        // Caught up with the first sample: no lag, however long it stays idle.
        assert_eq!(samples.lag(Lsn(100), at(5_000)), (Some(Duration::ZERO), 0));
        samples.saw(Lsn(200), at(6_000));
        samples.saw(Lsn(300), at(7_000));
        samples.saw(Lsn(300), at(8_000));
        assert_eq!(
            samples.lag(Lsn(150), at(9_000)),
            (Some(Duration::from_secs(3)), 150)
        );
        assert_eq!(
            samples.lag(Lsn(200), at(9_000)),
            (Some(Duration::from_secs(2)), 100)
        );
        assert_eq!(samples.lag(Lsn(300), at(9_000)), (Some(Duration::ZERO), 0));
        // Ahead of what the watcher saw (the primary was read a moment earlier).
        assert_eq!(samples.lag(Lsn(310), at(9_000)), (Some(Duration::ZERO), 0));
    }

    #[test]
    fn a_replica_behind_the_first_sample_lags_by_an_unknown_time() {
        let now = Instant::now();
        let mut samples = Samples::default();
        assert_eq!(
            samples.lag(Lsn(400), now),
            (None, 0),
            "the primary not read yet"
        );
        samples.saw(Lsn(1_000), now);
        assert_eq!(samples.lag(Lsn(400), now), (None, 600));
        samples.saw(Lsn(1_100), now + Duration::from_secs(1));
        assert_eq!(
            samples.lag(Lsn(1_000), now + Duration::from_secs(3)),
            (Some(Duration::from_secs(2)), 100)
        );
    }

    #[test]
    fn the_replica_serves_only_what_has_replayed_every_write_known() {
        let metrics = Metrics::new(1).expect("metrics");
        let status = Status::new(Duration::from_secs(2), &metrics);
        let set = |up, hearing, replayed, newest, lag_ms| {
            status.up.store(up, SeqCst);
            status.hearing.store(hearing, SeqCst);
            status.replayed.store(replayed, SeqCst);
            status.newest.store(newest, SeqCst);
            status.lag_ms.store(lag_ms, SeqCst);
        };
        set(true, true, 100, 100, 0);
        assert!(status.serves(None));
        assert!(status.serves(Some(Lsn(100))));
        assert!(!status.serves(Some(Lsn(150))), "the reader's own write");
        set(true, true, 100, 150, 0);
        assert!(!status.serves(None), "the site's newest write");
        set(true, true, 100, 100, 2_001);
        assert!(!status.serves(None), "past the bound");
        set(true, true, 100, 100, u64::MAX);
        assert!(!status.serves(None), "behind by an unknown time");
        set(true, false, 100, 100, 0);
        assert!(!status.serves(None), "deaf to write notes");
        set(false, true, 100, 100, 0);
        assert!(!status.serves(None), "down");
    }

    #[test]
    fn failures_that_the_primary_can_answer_instead() {
        assert!(is_replica_failure(&sqlx::Error::PoolTimedOut));
        assert!(is_replica_failure(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        ))));
        assert!(!is_replica_failure(&sqlx::Error::RowNotFound));
    }
}
