//! `import.run`: an import started from `/admin/import`, run by the job runner (so a big
//! file never holds a request open). A run is checked first (the dry run, whose plan the
//! admin reads), then, once the admin says go, imported; progress is written as it goes.
//! An attempt cut short (a deploy, a crash) runs again: the import's keys make it resume
//! without duplicates.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::{
    ReadError,
    repo::{self, RunState},
    write::{self, Options},
};
use crate::{
    accounts::model::Role,
    cache::Pages,
    config::Settings,
    jobs::{BackgroundJob, Outcome, Run},
};

#[derive(Serialize, Deserialize)]
pub struct RunImport {
    pub run: i64,
}

/// Where a run's file waits: beside the uploads (shared by every instance that serves
/// them).
pub fn file_of(settings: &Settings, run: i64) -> PathBuf {
    settings
        .uploads
        .dir
        .join("imports")
        .join(format!("{run}.source"))
}

/// Where a run's images wait, unpacked.
pub fn images_of(settings: &Settings, run: i64) -> PathBuf {
    settings
        .uploads
        .dir
        .join("imports")
        .join(format!("{run}.images"))
}

impl BackgroundJob for RunImport {
    const KIND: &'static str = "import.run";
    const MAX_ATTEMPTS: i32 = 3;
    type Context = Pages;

    async fn run(&self, ctx: &Run<'_>, pages: &Pages) -> anyhow::Result<Outcome> {
        let Some(run) = repo::run(&ctx.db, self.run).await? else {
            return Ok(Outcome::Done);
        };
        let dry_run = match run.state {
            RunState::Checking => true,
            RunState::Queued | RunState::Running => false,
            _ => return Ok(Outcome::Done),
        };
        let importer = match repo::created_by(&ctx.db, run.id).await? {
            Some(user) => user,
            None => match crate::accounts::repo::first_admin(&ctx.db).await? {
                Some(admin) => admin,
                None => {
                    repo::finish_run(&ctx.db, run.id, Err("no admin to import as")).await?;
                    return Ok(Outcome::Done);
                }
            },
        };
        let path = file_of(&ctx.settings, run.id);
        let images = images_of(&ctx.settings, run.id);
        let images = images.is_dir().then_some(images);
        let Some(format) = super::open(&run.format, &path, images.as_deref()) else {
            repo::finish_run(&ctx.db, run.id, Err("an unknown format")).await?;
            return Ok(Outcome::Done);
        };
        let mut opts = Options::new(&ctx.settings, importer, dry_run);
        opts.roles = run
            .roles
            .0
            .iter()
            .filter_map(|(id, role)| Some((id.clone(), role.parse::<Role>().ok()?)))
            .collect::<HashMap<_, _>>();
        if !dry_run {
            repo::start_run(&ctx.db, run.id).await?;
        }
        // Progress, written once a second while the import runs.
        let done = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let ticker = {
            let (db, done, total, id) = (ctx.db.clone(), done.clone(), total.clone(), run.id);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    let (d, t) = (done.load(Ordering::Relaxed), total.load(Ordering::Relaxed));
                    let _ = repo::progress(&db, id, to_i64(d), to_i64(t)).await;
                }
            })
        };
        let result = write::run(&ctx.db, format, &opts, &|d, t| {
            done.store(d, Ordering::Relaxed);
            total.store(t, Ordering::Relaxed);
        })
        .await;
        ticker.abort();
        match result {
            Ok(report) => {
                let json = serde_json::to_value(&report)?;
                let handled = to_i64(total.load(Ordering::Relaxed));
                if dry_run {
                    repo::checked(&ctx.db, run.id, &json, handled).await?;
                } else {
                    repo::progress(&ctx.db, run.id, handled, handled).await?;
                    repo::finish_run(&ctx.db, run.id, Ok(&json)).await?;
                    pages.stale().await;
                    let _ = tokio::fs::remove_file(&path).await;
                    if let Some(images) = images {
                        let _ = tokio::fs::remove_dir_all(images).await;
                    }
                }
                Ok(Outcome::Done)
            }
            // A file that isn't what it says: the admin reads why; trying again won't help.
            Err(ReadError::Malformed(m)) => {
                repo::finish_run(&ctx.db, run.id, Err(&m.to_string())).await?;
                Ok(Outcome::Done)
            }
            Err(ReadError::Other(e)) => {
                if ctx.is_last_attempt() {
                    repo::finish_run(&ctx.db, run.id, Err(&format!("{e:#}"))).await?;
                }
                // What was written stays; the next attempt resumes after it.
                Err(e)
            }
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
