//! Site settings: what admins change in `/admin/settings` (title, description, posts per
//! page, footer, accent colour, registrations, new accounts' role, comments), stored in
//! PostgreSQL. The config file's values fill them when the site is new. Any change, by
//! whoever makes it, takes effect on the next request of every instance (`live`).

pub mod admin;
pub mod live;
pub mod model;
pub mod navigation;
pub mod repo;

use serde::Deserialize;

use crate::error::Error;

/// `?saved=1` on a settings screen after a save (the redirect's way of saying so).
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

impl SavedQuery {
    pub fn saved(&self) -> bool {
        self.saved.is_some()
    }
}

/// After a save: every instance holds `saved` on its next request. Kept pages (which show
/// the settings) are keyed by the settings' version, so none shows the old ones.
pub async fn apply(live: &live::Live, saved: model::SiteSettings) {
    live.saved(saved).await;
}

/// How a save that names the version it edited went (`repo::update*`).
pub enum Saved {
    /// Saved, and every instance told.
    Done,
    /// Another admin saved in between: nothing was written. These are the settings now
    /// (held here already), for the form to show with what the conflict means for it.
    Conflict(Box<model::SiteSettings>),
}

/// Every settings screen's save: `write` is one of the `repo::update*` statements, which
/// write only if the stored version is still the one the form was opened at. Either the
/// save is applied everywhere (`apply`), or the settings as another admin saved them are
/// read back, so a 409 page shows theirs and its next save starts from their version.
pub async fn save(
    db: &sqlx::PgPool,
    live: &live::Live,
    write: impl Future<Output = sqlx::Result<Option<model::SiteSettings>>>,
) -> Result<Saved, Error> {
    if let Some(saved) = write.await? {
        apply(live, saved).await;
        return Ok(Saved::Done);
    }
    let current = repo::load(db).await?.ok_or(Error::NotFound)?;
    live.hold(current.clone());
    Ok(Saved::Conflict(Box::new(current)))
}
