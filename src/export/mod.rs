//! Leaving Quire (issue 26): `quire export` and `/admin/export`. Everything needed to rebuild
//! the blog elsewhere, as one zip (`archive`: JSON Lines with a versioned schema, `records`,
//! plus each post as Markdown with front matter and the uploaded files), or as WordPress's
//! WXR (`wxr`), so the blog can move to WordPress.
//!
//! Both read the database in pages by id inside one read-only, repeatable-read transaction
//! (one snapshot: counts, posts and comments agree however long the export takes) and write
//! each record as it comes, so memory stays bounded at any size. The writing (compression,
//! copying the uploads) runs on the blocking pool (`Offload`), never on a server worker.

pub mod admin;
pub mod archive;
pub mod records;
pub mod wxr;

use anyhow::Context;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{
    accounts, comments, config::Settings, media, posts, redirects, settings::model::SiteSettings,
    tags,
};

pub use archive::archive;
pub use records::Counts;
pub use wxr::wxr;

/// Rows read per query: enough to keep round trips few, few enough to keep memory flat.
const BATCH: i64 = 500;

/// The command line's progress bar (hidden when stderr is not a terminal).
pub fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} records  {per_sec}  {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

/// How many records an export writes of each kind (the trash left out).
pub async fn counts(conn: &mut PgConnection) -> sqlx::Result<Counts> {
    let (posts, pages) = posts::repo::export_counts(&mut *conn).await?;
    Ok(Counts {
        accounts: accounts::repo::count(&mut *conn).await?.unsigned_abs(),
        tags: tags::repo::count(&mut *conn).await?.unsigned_abs(),
        posts: posts.unsigned_abs(),
        pages: pages.unsigned_abs(),
        comments: comments::repo::export_count(&mut *conn)
            .await?
            .unsigned_abs(),
        redirects: redirects::repo::count(&mut *conn).await?.unsigned_abs(),
        uploads: media::repo::count(&mut *conn).await?.unsigned_abs(),
    })
}

/// The site settings, as a new site gets them from the config file if it was never served
/// (a snapshot is read-only, so they are made before it).
async fn site_settings(db: &PgPool, settings: &Settings) -> sqlx::Result<SiteSettings> {
    crate::settings::repo::load_or_create(db, &SiteSettings::defaults(settings)).await
}

/// A snapshot of the database: every read of one export sees the same moment.
async fn snapshot(db: &PgPool) -> anyhow::Result<Transaction<'static, Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A writer whose (blocking) writes run on tokio's blocking pool, one batch at a time.
struct Offload<W> {
    inner: Option<W>,
}

impl<W: Send + 'static> Offload<W> {
    fn new(inner: W) -> Self {
        Self { inner: Some(inner) }
    }

    /// Run `write` on the writer away from the async workers.
    async fn run<R: Send + 'static>(
        &mut self,
        write: impl FnOnce(&mut W) -> anyhow::Result<R> + Send + 'static,
    ) -> anyhow::Result<R> {
        let mut inner = self
            .inner
            .take()
            .context("the export's writer failed earlier")?;
        let (inner, result) = tokio::task::spawn_blocking(move || {
            let result = write(&mut inner);
            (inner, result)
        })
        .await
        .context("the export's writer panicked")?;
        self.inner = Some(inner);
        result
    }

    /// Run `finish` on the writer, giving it up.
    async fn finish<R: Send + 'static>(
        mut self,
        finish: impl FnOnce(W) -> anyhow::Result<R> + Send + 'static,
    ) -> anyhow::Result<R> {
        let inner = self
            .inner
            .take()
            .context("the export's writer failed earlier")?;
        tokio::task::spawn_blocking(move || finish(inner))
            .await
            .context("the export's writer panicked")?
    }
}

/// XML 1.0 can't carry most control characters, even escaped: they are dropped from text
/// (PostgreSQL text may hold them).
pub(crate) fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        (!c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            && !matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    if text.chars().all(allowed) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}
