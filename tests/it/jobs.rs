//! The job runner (issue 14): jobs run once whichever instance takes them, retry with
//! backoff, park as failed, come back from a dead worker, and are handed back at shutdown;
//! `/admin/jobs` retries and discards; `/metrics` counts them.

use std::{
    process::{Child, Stdio},
    time::Duration,
};

use quire::accounts::model::Role;
use quire::jobs::{
    NewJob,
    chores::{Noop, Probe},
};
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::harness::{TestApp, eventually, spawn_app_with};

/// Jobs retried after 20 ms (doubling), leases of a second.
async fn spawn_app() -> TestApp {
    spawn_app_with(quick).await
}

fn quick(s: &mut quire::config::Settings) {
    s.jobs.backoff_base_ms = 20;
    s.jobs.backoff_max_secs = 1;
    s.jobs.lease_secs = 1;
    s.jobs.poll_ms = 100;
}

async fn queue(db: &PgPool, job: NewJob) -> i64 {
    job.enqueue(db).await.unwrap().expect("queued")
}

/// A job of a kind no type is registered for (queued by a newer version, say).
async fn queue_unknown(db: &PgPool, kind: &str) -> i64 {
    sqlx::query_scalar("INSERT INTO jobs (kind) VALUES ($1) RETURNING id")
        .bind(kind)
        .fetch_one(db)
        .await
        .unwrap()
}

fn probe(fail: i32, sleep_ms: u64, panic: bool) -> NewJob {
    NewJob::of(&Probe {
        fail,
        sleep_ms,
        panic,
    })
}

/// (state, attempts, last_error) of job `id`.
async fn job(db: &PgPool, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Wait (up to 20 s) until job `id` is in `state`.
async fn until_state(db: &PgPool, id: i64, state: &str) -> (String, i32, Option<String>) {
    let what = format!("job {id} to be {state}");
    eventually(&what, Duration::from_secs(20), || async {
        let now = job(db, id).await;
        if now.0 == state { Ok(now) } else { Err(now) }
    })
    .await
}

#[tokio::test]
async fn a_queued_job_runs_at_once_and_a_key_queues_it_only_once() {
    let app = spawn_app_with(|s| s.jobs.poll_ms = 60_000).await;
    let started = std::time::Instant::now();
    let id = queue(&app.db, NewJob::of(&Noop {}).key("the-only-one")).await;
    assert_eq!(until_state(&app.db, id, "done").await.1, 1);
    // Woken by the notification, not the (one minute) poll.
    assert!(started.elapsed() < Duration::from_secs(10));
    let again = NewJob::of(&Noop {})
        .key("the-only-one")
        .enqueue(&app.db)
        .await
        .unwrap();
    assert_eq!(again, None, "the same kind and key is the same job");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'noop'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_succeeds_or_is_parked_with_its_error() {
    let app = spawn_app().await;
    let mends = queue(&app.db, probe(2, 0, false)).await;
    let (_, attempts, error) = until_state(&app.db, mends, "done").await;
    assert_eq!(attempts, 3, "two failures, then success");
    assert_eq!(error, None);

    let hopeless = queue(&app.db, probe(99, 0, false).attempts(3)).await;
    let (_, attempts, error) = until_state(&app.db, hopeless, "failed").await;
    assert_eq!(attempts, 3);
    assert!(error.unwrap().contains("attempt 3"));

    // A kind this version doesn't know fails at once: retrying can't mend it.
    let unknown = queue_unknown(&app.db, "nonesuch").await;
    let (_, attempts, error) = until_state(&app.db, unknown, "failed").await;
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("nonesuch"));
}

#[tokio::test]
async fn a_panicking_job_is_retried_with_the_panic_as_its_error_then_parked_as_failed() {
    let app = spawn_app().await;
    // Panics twice, then succeeds: the panics were failed attempts, retried.
    let mends = queue(&app.db, probe(2, 0, true)).await;
    let (_, attempts, error) = until_state(&app.db, mends, "done").await;
    assert_eq!(attempts, 3, "two panics, then success");
    assert_eq!(error, None);

    // Always panics: parked as failed after its last attempt, the panic's message kept.
    let hopeless = queue(&app.db, probe(99, 0, true).attempts(2)).await;
    let (_, attempts, error) = until_state(&app.db, hopeless, "failed").await;
    assert_eq!(attempts, 2);
    let error = error.unwrap();
    assert!(error.contains("panicked"), "{error}");
    assert!(
        error.contains("probe: attempt 2 of the 99 that fail"),
        "{error}"
    );

    // The worker goes on: nothing is left held, and the next job runs.
    let next = queue(&app.db, NewJob::of(&Noop {})).await;
    until_state(&app.db, next, "done").await;
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE locked_by IS NOT NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(held, 0);
}

#[tokio::test]
async fn two_instances_share_the_queue_and_run_each_job_once() {
    let app = spawn_app().await;
    let _other = app.another_instance().await;
    let probes = vec![
        Probe {
            sleep_ms: 1,
            ..Default::default()
        };
        400
    ];
    quire::jobs::enqueue_many(&app.db, &probes).await.unwrap();
    eventually(
        "all 400 probes to be done",
        Duration::from_secs(20),
        || async {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE state <> 'done' AND kind = 'probe'",
            )
            .fetch_one(&app.db)
            .await
            .unwrap();
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} left"))
            }
        },
    )
    .await;
    let (done, once, workers): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'done'),
                count(*) FILTER (WHERE attempts = 1),
                count(DISTINCT locked_by)
           FROM jobs WHERE kind = 'probe'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((done, once), (400, 400), "every job ran, each exactly once");
    assert_eq!(workers, 0, "no job is left held");
}

#[tokio::test]
async fn a_dead_workers_job_is_queued_again_when_its_lease_ends() {
    let app = spawn_app().await;
    // A job a worker took and then died holding: its lease ran out a moment ago.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, state, attempts, locked_by, locked_until, started_at)
         VALUES ('noop', 'running', 1, 'dead:1:x', now() - interval '1 second', now())
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let (_, attempts, _) = until_state(&app.db, id, "done").await;
    assert_eq!(attempts, 2, "the dead worker's attempt counts");
    // One whose worker is alive (renewing) is left alone.
    let alive: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, state, attempts, locked_by, locked_until, started_at)
         VALUES ('noop', 'running', 1, 'alive:1:x', now() + interval '1 hour', now())
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    // A second dead one, queued after it: once that is taken back, the sweep (one statement
    // over every running job) has passed the live one too.
    let dead: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, state, attempts, locked_by, locked_until, started_at)
         VALUES ('noop', 'running', 1, 'dead:2:x', now() - interval '1 second', now())
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    until_state(&app.db, dead, "done").await;
    assert_eq!(job(&app.db, alive).await.0, "running");
}

#[tokio::test]
async fn at_shutdown_running_jobs_finish_within_the_grace_or_go_back_to_the_queue() {
    let app = spawn_app_with(|s| {
        quick(s);
        s.jobs.shutdown_grace_secs = 1;
    })
    .await;
    let quick_one = queue(&app.db, probe(0, 300, false)).await;
    let slow_one = queue(&app.db, probe(0, 60_000, false)).await;
    until_state(&app.db, quick_one, "running").await;
    until_state(&app.db, slow_one, "running").await;
    app.stop().await;
    assert_eq!(until_state(&app.db, quick_one, "done").await.1, 1);
    let (_, attempts, _) = until_state(&app.db, slow_one, "queued").await;
    assert_eq!(
        attempts, 0,
        "a job given back at shutdown keeps its attempts"
    );
    let held: Option<String> = sqlx::query_scalar("SELECT locked_by FROM jobs WHERE id = $1")
        .bind(slow_one)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(held, None);
}

/// `quire worker` as its own process, with a one-second lease.
fn worker(app: &TestApp) -> Child {
    let mut cmd = app.quire_command();
    cmd.arg("worker")
        .env("QUIRE__JOBS__LEASE_SECS", "1")
        .env("QUIRE__JOBS__POLL_MS", "100")
        .env("QUIRE__JOBS__SHUTDOWN_GRACE_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("quire worker starts")
}

async fn holder(db: &PgPool, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT locked_by FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn quire_worker_gives_jobs_back_on_sigterm_and_a_killed_ones_are_taken_over() {
    // This instance runs no jobs: the worker processes do.
    let app = spawn_app_with(|s| {
        quick(s);
        s.jobs.enabled = false;
    })
    .await;
    let id = queue(&app.db, probe(0, 60_000, false)).await;

    // SIGTERM: the job can't finish within the grace, so it goes back, attempt uncounted.
    let mut first = worker(&app);
    until_state(&app.db, id, "running").await;
    let signal = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let exit = tokio::task::spawn_blocking(move || first.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "the worker exits cleanly: {exit}");
    assert_eq!(job(&app.db, id).await, ("queued".into(), 0, None));

    // SIGKILL: nothing is given back, and another worker takes the job over once the lease
    // ends.
    let mut second = worker(&app);
    until_state(&app.db, id, "running").await;
    let killed_holder = holder(&app.db, id).await.unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    let mut third = worker(&app);
    eventually(
        "another worker to take the killed one's job",
        Duration::from_secs(10),
        || async {
            match holder(&app.db, id).await {
                Some(h) if h != killed_holder => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
    third.kill().unwrap();
    third.wait().unwrap();
    let (_, attempts, _) = job(&app.db, id).await;
    assert_eq!(attempts, 2, "the killed attempt counts");
}

#[tokio::test]
async fn admins_see_failed_jobs_with_their_error_and_retry_or_discard_them() {
    let app = spawn_app().await;
    let admin = app.signed_in("boss", Role::Admin).await;
    let failing = queue(&app.db, probe(99, 0, false).attempts(1)).await;
    until_state(&app.db, failing, "failed").await;
    let other = queue_unknown(&app.db, "nonesuch").await;
    until_state(&app.db, other, "failed").await;

    let page = admin.page("/admin/jobs?state=failed", StatusCode::OK).await;
    assert!(page.text("nav.filters").contains("Failed (2)"));
    assert!(
        page.text(&format!("#job-{failing} .job-error"))
            .contains("probe: attempt 1")
    );
    assert!(page.text(&format!("#job-{other}")).contains("nonesuch"));

    let retried = admin
        .submit(
            "/admin/jobs?state=failed",
            &format!("/admin/jobs/{failing}/retry"),
            &[],
        )
        .await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    // Queued again with its attempts back to none: it runs (and fails) once more.
    let (_, attempts, _) = until_state(&app.db, failing, "failed").await;
    assert_eq!(attempts, 1);

    let discarded = admin
        .submit(
            "/admin/jobs?state=failed",
            &format!("/admin/jobs/{other}/discard"),
            &[("state", "failed")],
        )
        .await;
    assert_eq!(discarded.status(), StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = $1")
        .bind(other)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // Twice is a readable refusal, not an error.
    let again = admin
        .submit(
            "/admin/jobs?state=failed",
            &format!("/admin/jobs/{other}/discard"),
            &[("state", "failed")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("only queued and failed")
    );
    let bad = admin.get("/admin/jobs?state=everything").await;
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    let not_a_number = admin
        .submit("/admin/jobs", "/admin/jobs/abc/retry", &[])
        .await;
    assert_eq!(not_a_number.status(), StatusCode::NOT_FOUND);

    // /metrics: the queue by state, and what this process ran.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"quire_jobs{state="failed"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"quire_jobs_finished_total{kind="probe",outcome="failed"} 2"#));
}

#[tokio::test]
async fn the_hourly_purges_delete_old_finished_jobs_and_posts_a_month_in_the_trash() {
    let app = spawn_app().await;
    let author = app.author("writer").await;
    let old = app
        .post(
            author,
            crate::harness::PostSpec {
                title: "Long gone",
                ..Default::default()
            },
        )
        .await;
    let recent = app
        .post(
            author,
            crate::harness::PostSpec {
                title: "Just binned",
                ..Default::default()
            },
        )
        .await;
    sqlx::query(
        "UPDATE posts SET deleted_at = CASE slug WHEN $1 THEN now() - interval '31 days'
                                                 ELSE now() - interval '2 days' END
          WHERE slug IN ($1, $2)",
    )
    .bind(&old)
    .bind(&recent)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO jobs (kind, state, finished_at)
         VALUES ('noop', 'done', now() - interval '8 days'), ('noop', 'done', now())",
    )
    .execute(&app.db)
    .await
    .unwrap();
    // The jobs' own purge, and the trash's (each purge is its owner's job).
    let purge = queue(&app.db, NewJob::of(&quire::jobs::chores::Purge {})).await;
    let trash = queue(&app.db, NewJob::of(&quire::posts::trash::PurgeTrash {})).await;
    until_state(&app.db, purge, "done").await;
    until_state(&app.db, trash, "done").await;
    let posts: Vec<String> = sqlx::query_scalar("SELECT slug FROM posts ORDER BY slug")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(posts, [recent]);
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'noop' AND state = 'done'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(done, 1, "the week-old one went; today's stays");
}

/// The kinds that SQL queues by name: `jobs_queue_once('…')`, and `INSERT INTO jobs (kind, …)`
/// with a literal first in its `VALUES (…)` or its `SELECT`, in `text`.
fn kinds_queued_by_sql(text: &str) -> Vec<String> {
    // ASCII only, so byte offsets in `lower` are offsets in `text`.
    let lower = text.to_ascii_lowercase();
    let literal_at = |from: usize| -> Option<String> {
        let rest = text[from..].trim_start();
        let rest = rest.strip_prefix('\'')?;
        Some(rest[..rest.find('\'')?].to_owned())
    };
    let mut kinds = Vec::new();
    for (at, call) in lower.match_indices("jobs_queue_once(") {
        kinds.extend(literal_at(at + call.len()));
    }
    for (at, insert) in lower.match_indices("insert into jobs") {
        let statement = &lower[at + insert.len()..];
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        let columns = statement.trim_start();
        if !columns.starts_with("(kind") {
            continue;
        }
        let start = at + insert.len();
        let values = statement.find("values");
        let select = statement.find("select");
        match (values, select) {
            // `VALUES ('kind', …)`
            (Some(v), s) if s.is_none_or(|s| v < s) => {
                let open = start + v + "values".len();
                let open = open + text[open..].find('(').unwrap_or(0) + 1;
                kinds.extend(literal_at(open));
            }
            // `SELECT 'kind', … FROM …` (the benchmark's batches)
            (_, Some(s)) => kinds.extend(literal_at(start + s + "select".len())),
            _ => {}
        }
    }
    kinds
}

fn files_under(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

#[test]
fn the_sql_kind_reader_finds_literals_and_skips_parameters() {
    let sql = "PERFORM jobs_queue_once('tags.work'); SELECT jobs_queue_once($1);
               INSERT INTO jobs (kind, key) VALUES (job_kind, 'once');
               INSERT INTO jobs (kind, payload) VALUES ( 'mail.verify', '{}');
               INSERT INTO jobs (kind, run_at) SELECT 'noop', now() FROM generate_series(1, 9);
               INSERT INTO jobs (kind) SELECT kind FROM elsewhere;
               INSERT INTO jobs_other (kind) VALUES ('not.this')";
    assert_eq!(
        kinds_queued_by_sql(sql),
        ["tags.work", "mail.verify", "noop"]
    );
}

/// A kind is written once, on its type; SQL that queues one by name (migrations' triggers,
/// any statement in `src/`, the benchmark's scripts) must name a type the app registers, or the job would fail as
/// unknown. Applied migrations are never edited, so a type keeps the name they use.
#[tokio::test]
async fn every_kind_queued_by_sql_is_registered() {
    let app = spawn_app().await;
    let registry = quire::job_registry::build(&app.settings, app.pages(), None).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    files_under(&root.join("migrations"), "sql", &mut files);
    files_under(&root.join("src"), "rs", &mut files);
    files_under(&root.join("bench"), "sh", &mut files);
    let mut queued = std::collections::BTreeMap::new();
    for file in files {
        for kind in kinds_queued_by_sql(&std::fs::read_to_string(&file).unwrap()) {
            queued.insert(kind, file.strip_prefix(root).unwrap().display().to_string());
        }
    }
    // The reader found what the migrations are known to queue (it can't pass by finding none).
    for known in [
        "tags.work",
        "webhooks.fanout",
        "search.sync",
        "mail.subscribe",
    ] {
        assert!(queued.contains_key(known), "{known} not found in the SQL");
    }
    let unknown: Vec<String> = queued
        .iter()
        .filter(|(kind, _)| !registry.knows(kind))
        .map(|(kind, file)| format!("{kind} ({file})"))
        .collect();
    assert!(
        unknown.is_empty(),
        "queued by SQL but registered by no type: {unknown:?}"
    );
    assert_eq!(registry.registered_twice(), [] as [&str; 0]);
}
