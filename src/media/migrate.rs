//! `quire media migrate --to s3|local`: copy every file of one store into the other (the
//! local folder `uploads.dir`, originals included, and the bucket of `[uploads.s3]`), so a
//! library moves before `uploads.storage` is switched. Resumable: a file already at the
//! destination with the same size is skipped (names are content hashes, and each write is
//! whole or absent), so running it again after a failure copies only what is missing, and
//! a run with nothing left to do copies nothing.

use futures_util::StreamExt;

use super::{Store, StoreError, content_type, store::INCOMING};

/// How many files are copied at once.
const AT_ONCE: usize = 4;

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Files written to the destination.
    pub copied: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files the destination had already (same key, same size).
    pub skipped: u64,
}

/// Why a run stopped, and how far it got.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {error}")]
pub struct Stopped {
    pub doing: String,
    pub error: StoreError,
    /// What was copied before it stopped (kept: the next run skips it).
    pub so_far: Copied,
}

/// Copy what `from` holds and `to` lacks; `progress(done, total)` after each file.
/// Unconfirmed direct uploads (`incoming/`) stay behind.
pub async fn copy_all(
    from: &Store,
    to: &Store,
    progress: impl Fn(u64, u64),
) -> Result<Copied, Stopped> {
    let stopped = |doing: String, so_far: Copied| {
        move |error: StoreError| Stopped {
            doing,
            error,
            so_far,
        }
    };
    let mut todo = from.list("").await.map_err(stopped(
        "listing the files to copy".into(),
        Copied::default(),
    ))?;
    todo.retain(|(key, _)| !key.starts_with(INCOMING));
    todo.sort();
    let there: std::collections::HashMap<String, u64> = to
        .list("")
        .await
        .map_err(stopped("listing the destination".into(), Copied::default()))?
        .into_iter()
        .collect();
    let total = todo.len() as u64;
    let mut done = Copied::default();
    let (skip, copy): (Vec<_>, Vec<_>) = todo
        .into_iter()
        .partition(|(key, size)| there.get(key) == Some(size));
    done.skipped = skip.len() as u64;
    progress(done.skipped, total);
    let mut copies = futures_util::stream::iter(copy)
        .map(|(key, size)| async move {
            let bytes = from.get(&key).await.map_err(|e| (key.clone(), e))?;
            // Gone since it was listed (deleted meanwhile): nothing to copy.
            let Some(bytes) = bytes else {
                return Ok(0);
            };
            to.put(&key, bytes, content_type(&key))
                .await
                .map_err(|e| (key.clone(), e))?;
            Ok::<u64, (String, StoreError)>(size)
        })
        .buffer_unordered(AT_ONCE);
    while let Some(one) = copies.next().await {
        match one {
            Ok(size) => {
                done.copied += 1;
                done.bytes += size;
                progress(done.copied + done.skipped, total);
            }
            Err((key, error)) => {
                return Err(Stopped {
                    doing: format!("copying {key}"),
                    error,
                    so_far: done,
                });
            }
        }
    }
    Ok(done)
}
