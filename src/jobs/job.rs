//! What the runner and a job's code share: a claimed job's row, how a run ended, the error
//! that retrying can't mend, a job to queue, and the backoff between attempts. A leaf: it
//! names nothing else in the crate, so every other file of `jobs/` can stand on it.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

/// A job as a worker holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Counting this one.
    pub attempts: i32,
    pub max_attempts: i32,
}

impl Job {
    /// The payload as the kind's own type; a payload this version can't read never will.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| Permanent(format!("the payload does not fit {}: {e}", self.kind)).into())
    }
}

/// How a run ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not finished, and not failing: run again after this, without counting an attempt (a
    /// long job handing over at shutdown or between batches, or a one-at-a-time job that
    /// found another running).
    Later(Duration),
}

/// An error that retrying can't mend: the job fails at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// A job to queue: made from a job's value (`NewJob::of`, in `background.rs`), which gives
/// it its kind, so a kind is never typed at a call site.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub(super) kind: &'static str,
    pub(super) payload: serde_json::Value,
    pub(super) key: Option<String>,
    pub(super) run_at: Option<OffsetDateTime>,
    pub(super) max_attempts: i32,
}

impl NewJob {
    /// `kind` is a job type's `KIND`: only `NewJob::of` (`background.rs`) calls this.
    pub(super) fn with_kind(
        kind: &'static str,
        payload: &impl Serialize,
        max_attempts: i32,
    ) -> Self {
        Self {
            kind,
            payload: serde_json::to_value(payload).unwrap_or_default(),
            key: None,
            run_at: None,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Queuing this kind with this key again, while the first is kept, does nothing. (The
    /// key "once" is `jobs_queue_once`'s, cleared when the job starts.)
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Not before `when`.
    pub fn at(mut self, when: OffsetDateTime) -> Self {
        self.run_at = Some(when);
        self
    }

    /// At most `max` attempts (instead of the type's `MAX_ATTEMPTS`).
    pub fn attempts(mut self, max: i32) -> Self {
        self.max_attempts = max.max(1);
        self
    }

    /// The kind this job is queued under.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// The wait before attempt `attempts + 1`, after `attempts` failed: `base · 2^(attempts-1)`,
/// at most `max`, spread by up to a quarter by the job's id so that jobs failing together
/// (the mail server away) don't all come back in the same instant.
pub fn backoff(base: Duration, max: Duration, attempts: i32, id: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let delay = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
    let spread = delay / 4 * u32::try_from(id.rem_euclid(16)).unwrap_or(0) / 16;
    (delay + spread).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_spreads_by_id() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=8)
            .map(|n| backoff(base, max, n, 0).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(base, max, 1, 8), Duration::from_millis(1125));
        assert_eq!(backoff(base, max, 100, 15), max);
        assert_eq!(backoff(base, max, 0, 3).as_millis(), 1046);
    }
}
