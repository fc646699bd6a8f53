//! Prometheus metrics: request counts and latency histograms by route pattern and status
//! (actix-web-prom), plus database pool use. `health::metrics` serves them.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, TextEncoder};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Metrics {
    pub http: PrometheusMetrics,
    pool_connections: IntGaugeVec,
    /// Every HTTP worker's pool (one each, see `app.rs`): the gauges add them up.
    pools: Arc<Mutex<Vec<PgPool>>>,
}

impl Metrics {
    pub fn new(pool_max: u32) -> anyhow::Result<Self> {
        let http = PrometheusMetricsBuilder::new("quire")
            // Paths that match no route would each become a label value; fold them into one.
            .mask_unmatched_patterns("unmatched")
            .exclude("/metrics")
            .buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .build()
            .map_err(|e| anyhow::anyhow!("building metrics: {e}"))?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "quire_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        let max = IntGauge::new("quire_db_pool_max_connections", "Database pool size limit")?;
        max.set(i64::from(pool_max));
        http.registry.register(Box::new(pool_connections.clone()))?;
        http.registry.register(Box::new(max.clone()))?;
        // The registry keeps the size-limit gauge; it never changes after this.
        Ok(Self {
            http,
            pool_connections,
            pools: Arc::default(),
        })
    }

    /// Count `pool` in the pool gauges.
    pub fn watch_pool(&self, pool: &PgPool) {
        self.pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pool.clone());
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
        TextEncoder::new().encode(&self.http.registry.gather(), &mut body)?;
        Ok(body)
    }
}
