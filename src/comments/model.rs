//! Comments as readers see them.

use time::OffsetDateTime;

/// A comment as the post page shows it; read in the post's own query (see
/// `posts::repo::sql::SHOW`), so a post page is one round trip to the database; live
/// updates read them with `repo::live`.
#[derive(Debug, Clone, serde::Deserialize, sqlx::FromRow)]
pub struct CommentView {
    pub id: i64,
    /// `None` for a guest's comment (no account: an imported one).
    pub author_id: Option<crate::accounts::model::UserId>,
    /// The account's display name, or the guest's name.
    pub author_name: String,
    /// `None` for a guest: there is no author page to link.
    pub author_username: Option<String>,
    /// The address a guest left (shown only through `guest_link`).
    #[serde(default)]
    pub author_url: Option<String>,
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
    /// Where a guest's name links to (see `guest_link`).
    pub fn guest_link(&self) -> Option<&str> {
        guest_link(self.author_id, self.author_url.as_deref())
    }

    pub fn when(&self) -> String {
        crate::render::page::human_date_time(&self.created_at)
    }

    pub fn iso(&self) -> String {
        crate::render::page::iso_date(&self.created_at)
    }
}

/// Where a guest's name may link: their own address when it is a whole http(s) URL (no
/// spaces, quotes or control characters), never for an account's comment (its name links
/// to the author page). Pages give it `rel="nofollow ugc noopener"`.
pub fn guest_link(
    author: Option<crate::accounts::model::UserId>,
    url: Option<&str>,
) -> Option<&str> {
    let url = url.filter(|_| author.is_none())?.trim();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme = lower.starts_with("http://") || lower.starts_with("https://");
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'));
    (scheme && clean && url::Url::parse(url).is_ok_and(|u| u.host_str().is_some())).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::guest_link;
    use crate::accounts::model::UserId;

    #[test]
    fn only_a_guests_http_address_is_linked() {
        assert_eq!(
            guest_link(None, Some("https://ann.example/")),
            Some("https://ann.example/")
        );
        assert_eq!(guest_link(None, Some("javascript:alert(1)")), None);
        assert_eq!(
            guest_link(None, Some("https://a.example/\"onmouseover=x")),
            None
        );
        assert_eq!(guest_link(None, Some("//ann.example")), None);
        assert_eq!(
            guest_link(Some(UserId(1)), Some("https://ann.example/")),
            None
        );
    }
}
