//! How many posts a query's words match, estimated from the statistics `ANALYZE` keeps of
//! the search vectors (`pg_stats`: each column's commonest lexemes and the share of rows
//! holding each), as PostgreSQL's planner estimates `@@` (issue 29).
//!
//! It was the planner's own estimate, read from `EXPLAIN`: two statements a search, each
//! planned for its words (0.15–0.35 ms of PostgreSQL's time each). The statistics change
//! only when `ANALYZE` runs, so they are read at most once a minute per database, and the
//! estimate is a few multiplications here.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::PgExecutor;

/// How long statistics read from `pg_stats` are used before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// PostgreSQL's selectivity of a lexeme when nothing is known of it (`DEFAULT_TS_MATCH_SEL`
/// in `ts_selfuncs.c`), and its ceiling for one not among the commonest.
const DEFAULT_SHARE: f64 = 0.005;

/// One search vector's statistics: its commonest lexemes, the share of rows holding each,
/// then (as `ts_typanalyze` stores them) the least and the greatest of those shares.
#[derive(Debug, Clone, Default)]
pub struct Column {
    pub elems: Vec<String>,
    pub freqs: Vec<f32>,
}

impl Column {
    /// The share of rows holding `lexeme`: listed, or, as the planner guesses one that is
    /// not, half the least common's share (at most `DEFAULT_SHARE`).
    fn share(&self, lexeme: &str) -> f64 {
        if self.freqs.len() != self.elems.len() + 2 {
            return DEFAULT_SHARE;
        }
        match self.elems.iter().position(|e| e == lexeme) {
            Some(i) => f64::from(self.freqs[i]),
            None => DEFAULT_SHARE.min(f64::from(self.freqs[self.elems.len()]) / 2.0),
        }
    }

    /// The share of rows matching `lexemes`: all of them, or with `any`, one of them (the
    /// planner's rule for `&` and `|`, words taken as independent).
    fn matching(&self, lexemes: &[String], any: bool) -> f64 {
        if lexemes.is_empty() {
            return 0.0;
        }
        let shares = lexemes.iter().map(|l| self.share(l));
        match any {
            true => 1.0 - shares.map(|s| 1.0 - s).product::<f64>(),
            false => shares.product(),
        }
    }
}

/// The statistics of `posts`' head and whole vectors.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub rows: f64,
    pub head: Column,
    pub doc: Column,
}

/// Estimated matches: in the head (title, tags, excerpt) and in the whole post.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    pub heads: i64,
    pub matches: i64,
}

impl Stats {
    pub fn estimate(&self, lexemes: &[String], any: bool) -> Estimate {
        let rows = |column: &Column| (self.rows * column.matching(lexemes, any)).round() as i64;
        Estimate {
            heads: rows(&self.head),
            matches: rows(&self.doc),
        }
    }
}

/// When statistics were read, and what they were.
type Read = (Instant, Arc<Stats>);

/// The statistics read last, per database (the app has one; the tests have one each).
static READ: Mutex<Option<HashMap<String, Read>>> = Mutex::new(None);

/// A row of `pg_stats` for a vector: its name, commonest lexemes and their shares, and how
/// many rows `posts` has.
type StatsRow = (Option<String>, Option<Vec<String>>, Option<Vec<f32>>, f32);

/// `posts`' statistics, read from `pg_stats` at most once every `FRESH_FOR` for `database`.
pub async fn stats(db: impl PgExecutor<'_>, database: &str) -> sqlx::Result<Arc<Stats>> {
    {
        let read = READ.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, stats)) = read.as_ref().and_then(|r| r.get(database))
            && at.elapsed() < FRESH_FOR
        {
            return Ok(stats.clone());
        }
    }
    let rows: Vec<StatsRow> = sqlx::query_as(
        "SELECT st.attname::text, st.most_common_elems::text::text[], st.most_common_elem_freqs,
                c.reltuples
           FROM pg_class c
           LEFT JOIN pg_stats st
                  ON st.schemaname = current_schema() AND st.tablename = 'posts'
                 AND st.attname IN ('search_head', 'search_doc')
          WHERE c.oid = 'posts'::regclass",
    )
    .fetch_all(db)
    .await?;
    let mut stats = Stats::default();
    // One row a vector, or one without a name before `ANALYZE` has run.
    for (name, elems, freqs, rows) in rows {
        // -1 until the table is first analyzed.
        stats.rows = f64::from(rows.max(0.0));
        let column = Column {
            elems: elems.unwrap_or_default(),
            freqs: freqs.unwrap_or_default(),
        };
        match name.as_deref().unwrap_or("") {
            "search_head" => stats.head = column,
            "search_doc" => stats.doc = column,
            _ => {}
        }
    }
    let stats = Arc::new(stats);
    READ.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .insert(database.to_owned(), (Instant::now(), stats.clone()));
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(elems: &[(&str, f32)], least: f32) -> Column {
        let mut freqs: Vec<f32> = elems.iter().map(|e| e.1).collect();
        freqs.extend([least, freqs.iter().copied().fold(0.0, f32::max)]);
        Column {
            elems: elems.iter().map(|e| e.0.to_owned()).collect(),
            freqs,
        }
    }

    fn lexemes(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn estimates_follow_the_planners_rules() {
        let head = column(&[("rust", 0.5), ("async", 0.02)], 0.004);
        let stats = Stats {
            rows: 100_000.0,
            doc: head.clone(),
            head,
        };
        let estimate = |words: &[&str], any| stats.estimate(&lexemes(words), any).heads;
        assert_eq!(estimate(&["rust"], false), 50_000);
        // Both: the shares multiplied; either: what neither leaves out.
        assert_eq!(estimate(&["rust", "async"], false), 1_000);
        assert_eq!(estimate(&["rust", "async"], true), 51_000);
        // Not among the commonest: half the least common's share.
        assert_eq!(estimate(&["quokka"], false), 200);
        assert_eq!(estimate(&[], false), 0);
    }

    #[test]
    fn without_statistics_a_word_is_rare() {
        let stats = Stats {
            rows: 100_000.0,
            ..Stats::default()
        };
        assert_eq!(stats.estimate(&lexemes(&["rust"]), false).heads, 500);
        // Shares that don't fit the lexemes (not `ts_typanalyze`'s): the default.
        let odd = Column {
            elems: lexemes(&["rust"]),
            freqs: vec![0.9],
        };
        assert_eq!(odd.share("rust"), DEFAULT_SHARE);
    }
}
