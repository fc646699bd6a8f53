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

/// Where a run's zip of images waits, as uploaded.
pub fn images_zip_of(settings: &Settings, run: i64) -> PathBuf {
    settings
        .uploads
        .dir
        .join("imports")
        .join(format!("{run}.images.zip"))
}

/// Where a Markdown folder uploaded as a zip is unpacked.
pub fn folder_of(settings: &Settings, run: i64) -> PathBuf {
    settings
        .uploads
        .dir
        .join("imports")
        .join(format!("{run}.folder"))
}

/// Unpack `zip` into `dir` once (a folder already there was unpacked by an earlier attempt).
async fn unpack_once(zip: PathBuf, dir: PathBuf) -> Result<(), ReadError> {
    if dir.is_dir() {
        return Ok(());
    }
    let partial = dir.with_extension("partial");
    tokio::task::spawn_blocking(move || {
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(anyhow::Error::from)?;
        super::quire::unpack(&zip, "", &partial)?;
        std::fs::rename(&partial, &dir).map_err(anyhow::Error::from)?;
        Ok::<_, ReadError>(())
    })
    .await
    .map_err(anyhow::Error::from)?
}

impl BackgroundJob for RunImport {
    const KIND: &'static str = "import.run";
    const TITLE: &'static str = "Import";
    const MAX_ATTEMPTS: i32 = 3;
    type Context = Pages;

    async fn describe(&self, db: &sqlx::PgPool) -> String {
        let file: Option<String> =
            sqlx::query_scalar("SELECT file_name FROM imports WHERE id = $1")
                .bind(self.run)
                .fetch_optional(db)
                .await
                .ok()
                .flatten();
        file.map_or_else(|| Self::TITLE.to_owned(), |f| format!("Import of {f}"))
    }

    async fn run(&self, ctx: &Run<'_>, pages: &Pages) -> anyhow::Result<Outcome> {
        let Some(run) = repo::run(&ctx.db, self.run).await? else {
            return Ok(Outcome::Done);
        };
        let dry_run = match run.state {
            RunState::Checking => true,
            RunState::Queued | RunState::Running => false,
            _ => return Ok(Outcome::Done),
        };
        let importer = match run.created_by {
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
        let images_zip = images_zip_of(&ctx.settings, run.id);
        let folder = folder_of(&ctx.settings, run.id);
        // Zips (the old site's images, a Markdown folder) are unpacked with an archive's
        // checks; a bad one stops the run with why.
        let mut unpacked = Ok(());
        if images_zip.is_file() {
            unpacked = unpack_once(images_zip.clone(), images.clone()).await;
        }
        if unpacked.is_ok() && run.format == "markdown" {
            unpacked = unpack_once(path.clone(), folder.clone()).await;
        }
        match unpacked {
            Err(ReadError::Malformed(m)) => {
                repo::finish_run(&ctx.db, run.id, Err(&m.to_string())).await?;
                return Ok(Outcome::Done);
            }
            Err(ReadError::Other(e)) => return Err(e),
            Ok(()) => {}
        }
        // The folder keeps the uploaded zip's name: a Markdown site is known by it.
        let stem: String = run
            .file_name
            .trim_end_matches(".zip")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let named = folder.join(if stem.trim_matches('.').is_empty() {
            "site"
        } else {
            stem.as_str()
        });
        if run.format == "markdown" && folder.is_dir() && !named.is_dir() {
            std::fs::create_dir_all(&named)?;
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                if entry.path() != named {
                    std::fs::rename(entry.path(), named.join(entry.file_name()))?;
                }
            }
        }
        let source = if run.format == "markdown" {
            &named
        } else {
            &path
        };
        let images = images.is_dir().then_some(images);
        let format = match super::open(&run.format, source, images.as_deref()) {
            Ok(format) => format,
            Err(e) => {
                repo::finish_run(&ctx.db, run.id, Err(&e.to_string())).await?;
                return Ok(Outcome::Done);
            }
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
                    let _ = tokio::fs::remove_file(&images_zip).await;
                    let _ = tokio::fs::remove_dir_all(&folder).await;
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
