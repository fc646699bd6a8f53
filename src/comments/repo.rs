//! Every statement on `comments`.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::{
    accounts::model::UserId,
    posts::model::PostId,
    render::{SafeHtml, page::human_date_time},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub post_id: PostId,
    pub post_slug: String,
    pub post_author_id: UserId,
    /// Readers see the post (the `published_posts` view): drafts, scheduled and trashed
    /// posts' comments can't be changed by their authors.
    pub post_published: bool,
    /// `None` for a guest's comment (no account: an imported one).
    pub author_id: Option<UserId>,
    /// The account's display name, or the guest's name.
    pub author_name: String,
    /// `None` for a guest: there is no author page to link.
    pub author_username: Option<String>,
    /// The address a guest left (shown only through `guest_link`).
    pub author_url: Option<String>,
    pub body_markdown: String,
    pub body_html: SafeHtml,
    pub hidden: bool,
    pub pending: bool,
    pub created_at: OffsetDateTime,
    pub edited: bool,
}

impl Comment {
    /// Where a guest's name links to (see `model::guest_link`).
    pub fn guest_link(&self) -> Option<&str> {
        super::model::guest_link(self.author_id, self.author_url.as_deref())
    }

    pub fn when(&self) -> String {
        human_date_time(&self.created_at)
    }

    pub fn iso(&self) -> String {
        crate::render::page::iso_date(&self.created_at)
    }
}

const SELECT: &str = "SELECT c.id, c.post_id, p.slug AS post_slug, p.author_id AS post_author_id,
            EXISTS (SELECT 1 FROM published_posts pp WHERE pp.id = c.post_id) AS post_published,
            c.author_id, COALESCE(u.display_name, c.guest_name) AS author_name,
            u.username AS author_username, c.guest_url AS author_url,
            c.body_markdown, c.body_html, c.hidden_at IS NOT NULL AS hidden,
            c.approved_at IS NULL AS pending, c.created_at,
            c.updated_at > c.created_at + interval '1 second' AS edited
       FROM comments c
       JOIN posts p ON p.id = c.post_id
       LEFT JOIN users u ON u.id = c.author_id";

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A new comment; `held`: it waits for approval.
pub async fn insert(
    db: impl PgExecutor<'_>,
    post: PostId,
    author: UserId,
    body_markdown: &str,
    body_html: &SafeHtml,
    held: bool,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO comments (post_id, author_id, body_markdown, body_html, approved_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN NULL ELSE now() END) RETURNING id",
    )
    .bind(post)
    .bind(author)
    .bind(body_markdown)
    .bind(body_html)
    .bind(held)
    .fetch_one(db)
    .await
}

/// Whether `author` has had a comment approved (then theirs are trusted).
pub async fn is_trusted(db: impl PgExecutor<'_>, author: UserId) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM comments WHERE author_id = $1 AND approved_at IS NOT NULL)",
    )
    .bind(author)
    .fetch_one(db)
    .await
}

/// Approve these comments (waiting ones; others are left as they are); the changed ones,
/// with their posts.
pub async fn approve(db: impl PgExecutor<'_>, ids: &[i64]) -> sqlx::Result<Vec<(PostId, i64)>> {
    sqlx::query_as(
        "UPDATE comments SET approved_at = now() WHERE id = ANY($1) AND approved_at IS NULL
         RETURNING post_id, id",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Hide (or show again) these comments; those found, with their posts.
pub async fn set_hidden_many(
    db: impl PgExecutor<'_>,
    ids: &[i64],
    hidden: bool,
) -> sqlx::Result<Vec<(PostId, i64)>> {
    sqlx::query_as(
        "UPDATE comments SET hidden_at = CASE WHEN $2 THEN COALESCE(hidden_at, now()) END
          WHERE id = ANY($1)
          RETURNING post_id, id",
    )
    .bind(ids)
    .bind(hidden)
    .fetch_all(db)
    .await
}

/// Delete these comments; those found, with their posts.
pub async fn delete_many(db: impl PgExecutor<'_>, ids: &[i64]) -> sqlx::Result<Vec<(PostId, i64)>> {
    sqlx::query_as("DELETE FROM comments WHERE id = ANY($1) RETURNING post_id, id")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Which comments the moderation list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Pending,
    Visible,
    Hidden,
}

impl Queue {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "pending" => Some(Self::Pending),
            "visible" => Some(Self::Visible),
            "hidden" => Some(Self::Hidden),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Visible => "visible",
            Self::Hidden => "hidden",
        }
    }
}

/// One page of the moderation list, oldest waiting first (newest first for the others).
pub async fn queue(
    db: impl PgExecutor<'_>,
    queue: Queue,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Comment>> {
    let condition = match queue {
        Queue::Pending => {
            "c.approved_at IS NULL AND c.hidden_at IS NULL ORDER BY c.created_at, c.id"
        }
        Queue::Visible => {
            "c.approved_at IS NOT NULL AND c.hidden_at IS NULL ORDER BY c.created_at DESC, c.id DESC"
        }
        Queue::Hidden => "c.hidden_at IS NOT NULL ORDER BY c.created_at DESC, c.id DESC",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE u.disabled_at IS NULL AND {condition} LIMIT $1 OFFSET $2"
    )))
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// How many comments wait for approval (the admin's badge).
pub async fn pending_count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM comments WHERE approved_at IS NULL AND hidden_at IS NULL",
    )
    .fetch_one(db)
    .await
}

pub async fn update_body(
    db: impl PgExecutor<'_>,
    id: i64,
    body_markdown: &str,
    body_html: &SafeHtml,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET body_markdown = $2, body_html = $3 WHERE id = $1")
        .bind(id)
        .bind(body_markdown)
        .bind(body_html)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_hidden(db: impl PgExecutor<'_>, id: i64, hidden: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET hidden_at = CASE WHEN $2 THEN COALESCE(hidden_at, now()) END WHERE id = $1")
        .bind(id)
        .bind(hidden)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM comments WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Which comments `live` reads.
#[derive(Debug, Clone, Copy)]
pub enum Live<'a> {
    /// These (a change was announced).
    These(&'a [i64]),
    /// Those after this one (a page catching up), oldest first, at most `LIVE_CATCH_UP`.
    After(i64),
}

/// The most comments one catch-up sends.
pub const LIVE_CATCH_UP: i64 = 100;

/// The comments of `post` every reader sees (approved, not hidden, by enabled accounts)
/// among `which`, as the post page shows them.
pub async fn live(
    db: impl PgExecutor<'_>,
    post: PostId,
    which: Live<'_>,
) -> sqlx::Result<Vec<crate::comments::CommentView>> {
    let (ids, after) = match which {
        Live::These(ids) => (Some(ids), 0),
        Live::After(id) => (None, id),
    };
    sqlx::query_as(
        "SELECT c.id, c.author_id, COALESCE(u.display_name, c.guest_name) AS author_name,
                u.username AS author_username, c.guest_url AS author_url, c.body_html, false AS hidden, false AS pending, c.created_at,
                c.updated_at > c.created_at + interval '1 second' AS edited
           FROM comments c LEFT JOIN users u ON u.id = c.author_id
          WHERE c.post_id = $1 AND c.hidden_at IS NULL AND c.approved_at IS NOT NULL
            AND u.disabled_at IS NULL
            AND CASE WHEN $2::bigint[] IS NULL THEN c.id > $3 ELSE c.id = ANY($2) END
          ORDER BY c.id
          LIMIT CASE WHEN $2::bigint[] IS NULL THEN $4 END",
    )
    .bind(post)
    .bind(ids)
    .bind(after)
    .bind(LIVE_CATCH_UP)
    .fetch_all(db)
    .await
}

/// A comment as the JSON API shows it, with its author's profile as the viewer sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiComment {
    pub id: i64,
    /// `None` for a guest's comment.
    pub author_id: Option<UserId>,
    pub body_markdown: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub author_username: String,
    pub author_bio: String,
    pub author_image: Option<String>,
    pub following: bool,
}

const API_SELECT: &str = "SELECT c.id, c.author_id, c.body_markdown, c.created_at, c.updated_at,
            COALESCE(u.username, c.guest_name) AS author_username,
            COALESCE(u.bio, '') AS author_bio, u.avatar_url AS author_image,
            EXISTS (SELECT 1 FROM follows o WHERE o.follower_id = $2 AND o.followed_id = u.id)
                AS following
       FROM comments c LEFT JOIN users u ON u.id = c.author_id";

/// The comments readers see on `post` (not hidden, not by disabled accounts), oldest first.
pub async fn visible_on(
    db: impl PgExecutor<'_>,
    post: PostId,
    viewer: Option<UserId>,
) -> sqlx::Result<Vec<ApiComment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{API_SELECT}
          WHERE c.post_id = $1 AND c.hidden_at IS NULL AND c.approved_at IS NOT NULL
            AND u.disabled_at IS NULL
          ORDER BY c.created_at, c.id"
    )))
    .bind(post)
    .bind(viewer)
    .fetch_all(db)
    .await
}

/// One comment in the API's shape.
pub async fn api_comment(
    db: impl PgExecutor<'_>,
    id: i64,
    viewer: Option<UserId>,
) -> sqlx::Result<Option<ApiComment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{API_SELECT} WHERE c.id = $1")))
        .bind(id)
        .bind(viewer)
        .fetch_optional(db)
        .await
}

/// Who wrote an imported comment.
#[derive(Debug, Clone)]
pub enum ImportedAuthor {
    Account(UserId),
    /// Someone who left a name (the address is kept private).
    Guest {
        name: String,
        email: Option<String>,
        url: Option<String>,
    },
}

/// An approved comment from an import, already checked (`super::parse_body`) and rendered,
/// with its id given beforehand (`next_ids`), so a reply can name a parent written in the
/// same statement.
#[derive(Debug, Clone)]
pub struct ImportedComment {
    pub id: i64,
    pub parent: Option<i64>,
    pub post: PostId,
    pub author: ImportedAuthor,
    pub body_markdown: String,
    pub body_html: SafeHtml,
    pub created_at: OffsetDateTime,
}

/// `n` fresh comment ids.
pub async fn next_ids(conn: &mut sqlx::PgConnection, n: usize) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('comments', 'id')) FROM generate_series(1, $1)",
    )
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await
}

/// Insert imported comments in one statement, approved when they were written.
pub async fn insert_imported(
    conn: &mut sqlx::PgConnection,
    rows: &[ImportedComment],
) -> sqlx::Result<()> {
    let mut id = Vec::with_capacity(rows.len());
    let mut parent = Vec::with_capacity(rows.len());
    let mut post = Vec::with_capacity(rows.len());
    let mut author = Vec::with_capacity(rows.len());
    let mut name = Vec::with_capacity(rows.len());
    let mut email = Vec::with_capacity(rows.len());
    let mut url = Vec::with_capacity(rows.len());
    let mut markdown = Vec::with_capacity(rows.len());
    let mut html = Vec::with_capacity(rows.len());
    let mut at = Vec::with_capacity(rows.len());
    for row in rows {
        id.push(row.id);
        parent.push(row.parent);
        post.push(row.post);
        match &row.author {
            ImportedAuthor::Account(user) => {
                author.push(Some(*user));
                name.push(None);
                email.push(None);
                url.push(None);
            }
            ImportedAuthor::Guest {
                name: n,
                email: e,
                url: u,
            } => {
                author.push(None);
                name.push(Some(n.as_str()));
                email.push(e.as_deref());
                url.push(u.as_deref());
            }
        }
        markdown.push(row.body_markdown.as_str());
        html.push(row.body_html.as_str());
        at.push(row.created_at);
    }
    sqlx::query(
        "INSERT INTO comments (id, parent_id, post_id, author_id, guest_name, guest_email,
                               guest_url, body_markdown, body_html, created_at, updated_at,
                               approved_at)
         OVERRIDING SYSTEM VALUE
         SELECT id, parent_id, post_id, author_id, guest_name, guest_email, guest_url,
                body_markdown, body_html, created_at, created_at, created_at
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
                AS i(id, parent_id, post_id, author_id, guest_name, guest_email, guest_url,
                     body_markdown, body_html, created_at)",
    )
    .bind(&id)
    .bind(&parent)
    .bind(&post)
    .bind(&author)
    .bind(&name)
    .bind(&email)
    .bind(&url)
    .bind(&markdown)
    .bind(&html)
    .bind(&at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A comment as `quire export` writes it: by an account, or by a guest (imported comments).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedComment {
    pub id: i64,
    pub post_id: PostId,
    pub parent_id: Option<i64>,
    pub author_id: Option<UserId>,
    /// The account's display name and address, or the guest's.
    pub author_name: String,
    pub author_email: String,
    pub guest_name: Option<String>,
    pub guest_email: Option<String>,
    pub guest_url: Option<String>,
    pub body_markdown: String,
    pub body_html: SafeHtml,
    pub created_at: OffsetDateTime,
    /// `None`: waiting for a moderator.
    pub approved_at: Option<OffsetDateTime>,
    pub hidden: bool,
}

macro_rules! exported_select {
    () => {
        "SELECT c.id, c.post_id, c.parent_id, c.author_id,
                COALESCE(u.display_name, c.guest_name, '') AS author_name,
                COALESCE(u.email, c.guest_email, '') AS author_email,
                c.guest_name, c.guest_email, c.guest_url, c.body_markdown, c.body_html,
                c.created_at, c.approved_at, c.hidden_at IS NOT NULL AS hidden
           FROM comments c
           JOIN posts p ON p.id = c.post_id AND p.deleted_at IS NULL
           LEFT JOIN users u ON u.id = c.author_id"
    };
}

/// The next `limit` comments after `(post, id)`, by post then id, those on trashed posts
/// left out (as their posts are): the export reads them in pages, in the order an import
/// wants them (each post's comments together, after it).
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<ExportedComment>> {
    sqlx::query_as(concat!(
        exported_select!(),
        " WHERE (c.post_id, c.id) > ($1, $2) ORDER BY c.post_id, c.id LIMIT $3"
    ))
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The next `limit` comments on `posts` after `(post, id)`, by post then id: the WXR writes
/// each post's comments inside it.
pub async fn export_on(
    db: impl PgExecutor<'_>,
    posts: &[i64],
    after: (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<ExportedComment>> {
    sqlx::query_as(concat!(
        exported_select!(),
        " WHERE c.post_id = ANY($1) AND (c.post_id, c.id) > ($2, $3)
          ORDER BY c.post_id, c.id LIMIT $4"
    ))
    .bind(posts)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many comments the export writes.
pub async fn export_count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM comments c JOIN posts p ON p.id = c.post_id AND p.deleted_at IS NULL",
    )
    .fetch_one(db)
    .await
}

/// How many comments readers see on each of `posts` (those with none left out).
pub async fn visible_counts(
    db: impl PgExecutor<'_>,
    posts: &[PostId],
) -> sqlx::Result<Vec<(PostId, i64)>> {
    let ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
    sqlx::query_as(
        "SELECT c.post_id, count(*) FROM comments c LEFT JOIN users u ON u.id = c.author_id
          WHERE c.post_id = ANY($1) AND c.hidden_at IS NULL AND c.approved_at IS NOT NULL
            AND u.disabled_at IS NULL
          GROUP BY c.post_id",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}

/// A page of the comments readers see on `post`, oldest first (as the post page shows them).
pub async fn visible_page(
    db: impl PgExecutor<'_>,
    post: PostId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<crate::comments::CommentView>> {
    sqlx::query_as(
        "SELECT c.id, c.author_id, COALESCE(u.display_name, c.guest_name) AS author_name,
                u.username AS author_username, c.guest_url AS author_url, c.body_html,
                false AS hidden, false AS pending, c.created_at,
                c.updated_at > c.created_at + interval '1 second' AS edited
           FROM comments c LEFT JOIN users u ON u.id = c.author_id
          WHERE c.post_id = $1 AND c.hidden_at IS NULL AND c.approved_at IS NOT NULL
            AND u.disabled_at IS NULL
          ORDER BY c.id
          LIMIT $2 OFFSET $3",
    )
    .bind(post)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// The newest comment's id on `post` (0 for none): where a live subscription starts.
pub async fn newest_id(db: impl PgExecutor<'_>, post: PostId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM comments WHERE post_id = $1")
        .bind(post)
        .fetch_one(db)
        .await
}
