//! `media.process`: make an upload's files (`pipeline`) and record them. `process` is the one
//! way an upload is processed: by this job, inline by `serve` when a pending upload is fetched
//! before the job ran (the editor's preview right after a paste), and by
//! `quire media regenerate`. It can run any number of times: every key is content-addressed,
//! so a second run writes the same files again.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{
    Store, StoreError, content_type,
    pipeline::{self, Options},
    repo,
    store::ORIGINALS,
};
use crate::{
    cache::Pages,
    jobs::{BackgroundJob, NewJob, Outcome, context::Run},
};

/// Make the files of the upload `name`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Process {
    pub name: String,
}

impl Process {
    /// Queue the processing of `name` (once while one is waiting).
    pub async fn queue(db: impl sqlx::PgExecutor<'_>, name: &str) -> sqlx::Result<()> {
        NewJob::of(&Process {
            name: name.to_owned(),
        })
        .key(name)
        .enqueue(db)
        .await?;
        Ok(())
    }
}

/// What `media.process` needs: the store the files go to, and the page cache (pages that show
/// the image start offering its widths once it is ready).
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub pages: Pages,
}

impl BackgroundJob for Process {
    const KIND: &'static str = "media.process";
    const TITLE: &'static str = "Image processing";
    type Context = Context;

    async fn describe(&self, db: &PgPool) -> String {
        match repo::find(db, &self.name).await {
            Ok(Some(upload)) if !upload.original_name.is_empty() => {
                format!("{}: {}", Self::TITLE, upload.original_name)
            }
            _ => format!("{}: {}", Self::TITLE, self.name),
        }
    }

    /// An upload no longer pending was processed already (inline, when it was fetched before
    /// this job ran) or refused for good: left as it is. A deleted one: nothing to do. A
    /// store that fails is an error: the runner retries with its backoff, nothing is lost.
    async fn run(&self, run: &Run<'_>, cx: &Self::Context) -> anyhow::Result<Outcome> {
        let Some(upload) = repo::find(&run.db, &self.name).await? else {
            return Ok(Outcome::Done);
        };
        if upload.state != "pending" {
            return Ok(Outcome::Done);
        }
        let opts = Options::from_settings(&run.settings.uploads);
        match process(&run.db, &cx.store, &opts, &self.name).await? {
            Processed::Ready { .. } => cx.pages.stale().await,
            Processed::Failed(reason) => {
                tracing::info!(name = %self.name, %reason, "upload could not be processed");
            }
        }
        Ok(Outcome::Done)
    }
}

/// What `process` did.
#[derive(Debug)]
pub enum Processed {
    /// The files are in the store and the row is `ready`.
    Ready {
        width: u32,
        height: u32,
        widths: Vec<u32>,
        files: usize,
        bytes: usize,
    },
    /// The image will never decode (or its original is gone): the row is `failed` with why.
    Failed(String),
}

/// Why `process` stopped before deciding: worth trying again later.
#[derive(Debug, thiserror::Error)]
pub enum NotProcessed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the image pipeline stopped: {0}")]
    Pipeline(#[from] tokio::task::JoinError),
}

/// Make the files of the upload `name` from its original and record the result. Uploads from
/// before the media library were kept as sent at `<name>` only: that file is copied to
/// `originals/<name>` first (it is about to be replaced by the re-encoded image).
pub async fn process(
    db: &PgPool,
    store: &Store,
    opts: &Options,
    name: &str,
) -> Result<Processed, NotProcessed> {
    let original_key = format!("{ORIGINALS}{name}");
    let original = match store.get(&original_key).await? {
        Some(bytes) => bytes,
        None => match store.get(name).await? {
            Some(legacy) => {
                store
                    .put(&original_key, legacy.clone(), content_type(name))
                    .await?;
                legacy
            }
            None => {
                let why = "the uploaded file is missing from the media store";
                repo::mark_failed(db, name, why).await?;
                return Ok(Processed::Failed(why.to_owned()));
            }
        },
    };
    let (owned_name, opts_owned) = (name.to_owned(), opts.clone());
    // Large images take seconds of CPU: off the async workers.
    let made =
        tokio::task::spawn_blocking(move || pipeline::make(&owned_name, &original, &opts_owned))
            .await?;
    let made = match made {
        Ok(made) => made,
        Err(rejected) => {
            let why = super::sentence(&rejected);
            repo::mark_failed(db, name, &why).await?;
            return Ok(Processed::Failed(why));
        }
    };
    let bytes = made.files.iter().map(|f| f.bytes.len()).sum();
    let files = made.files.len();
    futures_util::future::try_join_all(made.files.into_iter().map(|f| async move {
        store
            .put(&f.key, Bytes::from(f.bytes), f.content_type)
            .await
    }))
    .await?;
    repo::mark_ready(
        db,
        name,
        made.width,
        made.height,
        made.animated,
        &made.widths,
    )
    .await?;
    Ok(Processed::Ready {
        width: made.width,
        height: made.height,
        widths: made.widths,
        files,
        bytes,
    })
}
