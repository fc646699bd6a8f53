//! Comments as readers see them.

use time::OffsetDateTime;

/// A comment as the post page shows it; read in the post's own query (see
/// `posts::repo::sql::SHOW`), so a post page is one round trip to the database; live
/// updates read them with `repo::live`.
#[derive(Debug, Clone, serde::Deserialize, sqlx::FromRow)]
pub struct CommentView {
    pub id: i64,
    pub author_id: crate::accounts::model::UserId,
    pub author_name: String,
    pub author_username: String,
    pub body_html: crate::render::SafeHtml,
    pub hidden: bool,
    /// Waiting for approval: shown to its author and to moderators only.
    #[serde(default)]
    pub pending: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub edited: bool,
}

impl CommentView {
    pub fn when(&self) -> String {
        crate::render::page::human_date_time(&self.created_at)
    }

    pub fn iso(&self) -> String {
        crate::render::page::iso_date(&self.created_at)
    }
}
