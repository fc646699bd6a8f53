//! Prometheus metrics: request counts and latency histograms by route pattern and status
//! (actix-web-prom), plus database pool use, reads by pool and the read replica's state
//! (`db::replica`). `health::metrics` serves them.

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by route pattern (`unmatched` for none), method and status: recorded
    /// by `telemetry::log_requests`, which finds the route once for its line and these.
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    pool_connections: IntGaugeVec,
    /// Jobs run by this process, by kind and how the attempt ended.
    jobs_finished: IntCounterVec,
    job_seconds: HistogramVec,
    /// The whole queue (every instance's), read when `/metrics` is asked.
    jobs: IntGaugeVec,
    jobs_oldest_due: Gauge,
    /// Events waiting for each configured message broker (`events`), read when `/metrics` is
    /// asked.
    events_waiting: IntGaugeVec,
    events_oldest: GaugeVec,
    /// This instance's open live-update sockets (`ws`), read when `/metrics` is asked.
    websockets: IntGauge,
    /// Requests whose reads went to each pool (`primary`, `replica`): see `db::replica`.
    reads: IntCounterVec,
    /// Reads that failed on the replica (out of reach, a recovery conflict) and were run again
    /// on the primary.
    replica_fallbacks: IntCounter,
    /// The replica's state as this instance's watcher saw it last, set when `/metrics` is asked.
    replica_up: IntGauge,
    replica_lag_seconds: Gauge,
    replica_lag_bytes: IntGauge,
    /// Every HTTP worker's pool (one each, see `app.rs`): the gauges add them up.
    pools: Arc<Mutex<Vec<PgPool>>>,
    /// When the last request came, in milliseconds since this process started: the job
    /// runner makes way while requests keep coming.
    last_request: Arc<std::sync::atomic::AtomicU64>,
    started: std::time::Instant,
}

impl Metrics {
    pub fn new(pool_max: u32) -> anyhow::Result<Self> {
        let registry = Registry::new();
        // The names and labels actix-web-prom used, which dashboards may know. Its middleware
        // logged a warning for every page served from the cache (the route's `{slug}` had no
        // value to fill in) and looked the route up twice more per request.
        let labels = &["endpoint", "method", "status"];
        let requests = IntCounterVec::new(
            Opts::new("quire_http_requests_total", "Total number of HTTP requests"),
            labels,
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "quire_http_requests_duration_seconds",
                "HTTP request duration in seconds for all requests",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            labels,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "quire_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        let max = IntGauge::new("quire_db_pool_max_connections", "Database pool size limit")?;
        max.set(i64::from(pool_max));
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "quire_jobs_finished_total",
                "Job attempts this process ran, by kind and outcome (done, retry, failed, later)",
            ),
            &["kind", "outcome"],
        )?;
        let job_seconds = HistogramVec::new(
            HistogramOpts::new("quire_job_duration_seconds", "How long job attempts ran")
                .buckets(vec![0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0]),
            &["kind"],
        )?;
        let jobs = IntGaugeVec::new(
            Opts::new("quire_jobs", "Jobs in the queue by state (all instances)"),
            &["state"],
        )?;
        let jobs_oldest_due = Gauge::new(
            "quire_jobs_oldest_due_seconds",
            "How long the oldest due queued job has waited",
        )?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(max.clone()))?;
        registry.register(Box::new(jobs_finished.clone()))?;
        registry.register(Box::new(job_seconds.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(jobs_oldest_due.clone()))?;
        let events_waiting = IntGaugeVec::new(
            Opts::new(
                "quire_events_waiting",
                "Events not yet confirmed by each configured message broker",
            ),
            &["broker"],
        )?;
        let events_oldest = GaugeVec::new(
            Opts::new(
                "quire_events_oldest_waiting_seconds",
                "How long the oldest event not yet confirmed by each broker has waited",
            ),
            &["broker"],
        )?;
        registry.register(Box::new(events_waiting.clone()))?;
        registry.register(Box::new(events_oldest.clone()))?;
        let websockets = IntGauge::new("quire_websockets", "Live-update sockets open here")?;
        registry.register(Box::new(websockets.clone()))?;
        let reads = IntCounterVec::new(
            Opts::new(
                "quire_db_reads_total",
                "Requests of the public read paths by the pool their reads went to",
            ),
            &["pool"],
        )?;
        let replica_fallbacks = IntCounter::new(
            "quire_replica_fallbacks_total",
            "Reads that failed on the replica and were run again on the primary",
        )?;
        let replica_up = IntGauge::new(
            "quire_replica_up",
            "1 while the read replica answers as a standby (0 when down or not configured)",
        )?;
        let replica_lag_seconds = Gauge::new(
            "quire_replica_lag_seconds",
            "How long ago the primary was at the newest position the replica has not replayed \
             (0 when caught up; +Inf when behind since before this instance started)",
        )?;
        let replica_lag_bytes = IntGauge::new(
            "quire_replica_lag_bytes",
            "WAL bytes the replica has not replayed yet",
        )?;
        registry.register(Box::new(reads.clone()))?;
        registry.register(Box::new(replica_fallbacks.clone()))?;
        registry.register(Box::new(replica_up.clone()))?;
        registry.register(Box::new(replica_lag_seconds.clone()))?;
        registry.register(Box::new(replica_lag_bytes.clone()))?;
        // The registry keeps the size-limit gauge; it never changes after this.
        Ok(Self {
            registry,
            requests,
            request_seconds,
            pool_connections,
            jobs_finished,
            job_seconds,
            jobs,
            jobs_oldest_due,
            events_waiting,
            events_oldest,
            websockets,
            reads,
            replica_fallbacks,
            replica_up,
            replica_lag_seconds,
            replica_lag_bytes,
            pools: Arc::default(),
            last_request: Arc::default(),
            started: std::time::Instant::now(),
        })
    }

    /// Count `pool` in the pool gauges.
    pub fn watch_pool(&self, pool: &PgPool) {
        self.pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pool.clone());
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request came (one relaxed store: nothing on the hot path to speak of).
    /// A request answered: `endpoint` its route pattern (`None`: it matched none), in
    /// `seconds`. `/metrics` itself is left out, as scrapes would swamp it.
    pub fn answered(
        &self,
        endpoint: Option<&str>,
        method: &str,
        status: actix_web::http::StatusCode,
        seconds: f64,
    ) {
        if endpoint == Some("/metrics") {
            return;
        }
        let labels = [endpoint.unwrap_or("unmatched"), method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.request_seconds
            .with_label_values(&labels)
            .observe(seconds);
    }

    pub fn request(&self) {
        self.last_request
            .store(self.now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a request came within the last `window`.
    pub fn busy(&self, window: std::time::Duration) -> bool {
        let last = self.last_request.load(std::sync::atomic::Ordering::Relaxed);
        last > 0
            && self.now_ms().saturating_sub(last) < u64::try_from(window.as_millis()).unwrap_or(0)
    }

    /// A job attempt ended (`outcome`: done, retry, failed, later).
    pub fn job_finished(&self, kind: &str, outcome: &str, took: std::time::Duration) {
        self.jobs_finished.with_label_values(&[kind, outcome]).inc();
        self.job_seconds
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// The queue as it is now, for the next `render`.
    pub fn set_jobs(&self, by_state: &[(&str, i64)], oldest_due_secs: f64) {
        for (state, n) in by_state {
            self.jobs.with_label_values(&[state]).set(*n);
        }
        self.jobs_oldest_due.set(oldest_due_secs);
    }

    /// The events waiting for `broker`, and the oldest one's wait, for the next `render`.
    pub fn set_events_waiting(&self, broker: &str, waiting: i64, oldest_secs: f64) {
        self.events_waiting
            .with_label_values(&[broker])
            .set(waiting);
        self.events_oldest
            .with_label_values(&[broker])
            .set(oldest_secs);
    }

    /// How many live-update sockets are open, for the next `render`.
    pub fn set_websockets(&self, open: u32) {
        self.websockets.set(i64::from(open));
    }

    /// The counter of requests whose reads went to `pool` (`primary` or `replica`).
    pub fn reads_from(&self, pool: &str) -> IntCounter {
        self.reads.with_label_values(&[pool])
    }

    /// The counter of reads run again on the primary after failing on the replica.
    pub fn replica_fallbacks(&self) -> IntCounter {
        self.replica_fallbacks.clone()
    }

    /// The replica as it is now, for the next `render`: up, and how far behind (`None`: by
    /// more than can be told).
    pub fn set_replica(&self, up: bool, lag: Option<std::time::Duration>, lag_bytes: u64) {
        self.replica_up.set(i64::from(up));
        self.replica_lag_seconds
            .set(lag.map_or(f64::INFINITY, |l| l.as_secs_f64()));
        self.replica_lag_bytes
            .set(i64::try_from(lag_bytes).unwrap_or(i64::MAX));
    }

    /// Prometheus text format: the HTTP metrics, with the pool gauges read now.
    pub fn render(&self) -> anyhow::Result<Vec<u8>> {
        let (size, idle) = {
            let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.iter().fold((0i64, 0i64), |(size, idle), p| {
                let p_idle = i64::try_from(p.num_idle()).unwrap_or(i64::MAX);
                (size + i64::from(p.size()), idle.saturating_add(p_idle))
            })
        };
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(size - idle);
        let mut body = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut body)?;
        Ok(body)
    }
}
