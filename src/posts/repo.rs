//! Every statement on `posts` and `post_tags`. Readers' queries read `published_posts`, the
//! view that holds the visibility rule, so none of them can forget it.

use sqlx::{FromRow, PgConnection, PgExecutor, Row, types::Json};
use time::OffsetDateTime;

use super::{
    NewPost, Prepared,
    model::{
        AdminRow, PageView, Post, PostForEdit, PostId, PostInput, PostKind, PostMeta, PostStatus,
        PostSummary, Revision, TagRef,
    },
};
use crate::{
    accounts::model::UserId,
    db::{Page, PageNumber},
    render::SafeHtml,
    slug::Slug,
    tags::model::{Tag, TagId},
};

/// The columns of a `PostSummary`, with the author joined. Tags come from `tag_list`, the
/// copy of post_tags that triggers keep, so lists need no join per row.
macro_rules! summary_select {
    () => {
        "SELECT p.id, p.author_id, p.slug, p.title, p.excerpt, p.reading_minutes, p.cover_image,
                p.published_at, u.username AS author_username, u.display_name AS author_name,
                p.tag_list AS tags, p.featured"
    };
}

/// A `PostView` for a feed: the summary, the body, and no comments, favourites or way
/// onward (a feed has no use for them).
macro_rules! feed_select {
    () => {
        concat!(
            summary_select!(),
            ", p.body_html, p.updated_at, u.bio AS author_bio, '[]'::json AS comments,
               0::bigint AS favorites, p.meta, '{}'::json AS onward"
        )
    };
}

/// A post page's way onward (`model::Onward`), as `json_build_object`'s arguments, for the
/// post `p` of published_posts: the posts just before and after it by publish date (the
/// home page's index, walked from `p` one row each way), and up to three related posts, those
/// sharing the most tags with `p`, newest first among ties. A tag's candidates are its 200
/// newest posts (its index, read from the top), so a post with a tag of 50,000 posts still
/// reads a few hundred rows: "related" among a big tag's older posts is left out. The
/// candidates are ranked in `post_tags` alone (it holds `published_at`) and only the best ten
/// joined to the posts: joining all of them first got a Memoize node from PostgreSQL 15 that
/// cost 25 ms for 400 rows (the whole page statement takes 1 ms this way, bench/README.md).
macro_rules! onward {
    () => {
        "'previous', (SELECT json_build_object('id', q.id, 'slug', q.slug, 'title', q.title)
                        FROM published_posts q
                       WHERE (q.published_at, q.id) < (p.published_at, p.id)
                       ORDER BY q.published_at DESC, q.id DESC LIMIT 1),
         'next', (SELECT json_build_object('id', q.id, 'slug', q.slug, 'title', q.title)
                    FROM published_posts q
                   WHERE (q.published_at, q.id) > (p.published_at, p.id)
                   ORDER BY q.published_at, q.id LIMIT 1),
         'related', COALESCE((
             SELECT json_agg(json_build_object('id', r.id, 'slug', r.slug, 'title', r.title)
                             ORDER BY r.shared DESC, r.published_at DESC, r.id DESC)
               FROM (SELECT q.id, q.slug, q.title, q.published_at, c.shared
                       FROM (SELECT x.post_id, count(*) AS shared, max(x.published_at) AS at
                               FROM post_tags mine
                              CROSS JOIN LATERAL (
                                    SELECT x.post_id, x.published_at FROM post_tags x
                                     WHERE x.tag_id = mine.tag_id AND x.post_id <> p.id
                                       AND x.published_at <= now()
                                     ORDER BY x.published_at DESC NULLS LAST, x.post_id DESC
                                     LIMIT 200) x
                              WHERE mine.post_id = p.id
                              GROUP BY x.post_id
                              ORDER BY count(*) DESC, max(x.published_at) DESC, x.post_id DESC
                              LIMIT 10) c
                       JOIN published_posts q ON q.id = c.post_id
                      ORDER BY c.shared DESC, c.at DESC, c.post_id DESC
                      LIMIT 3) r), '[]')"
    };
}

/// The SQL of each reader list, public so the index test can `EXPLAIN` exactly these.
pub mod sql {
    pub const HOME: &str = concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2"
    );
    /// The tag named by slug `$3` and one page of its posts, in one round trip: the tag's
    /// columns ride on every row, and a tag with no posts on this page is one row of NULL
    /// posts. Ordered by post_tags' copy of published_at, which its index serves directly.
    pub const BY_TAG: &str = concat!(
        "SELECT t.id AS tag_id, t.slug AS tag_slug, t.name AS tag_name,
                t.description AS tag_description, t.meta_title AS tag_meta_title,
                t.meta_description AS tag_meta_description, t.image AS tag_image,
                t.accent AS tag_accent, l.*
           FROM tags t
           LEFT JOIN LATERAL (",
        summary_select!(),
        " FROM post_tags x
          JOIN published_posts p ON p.id = x.post_id
          JOIN users u ON u.id = p.author_id
         WHERE x.tag_id = t.id
         ORDER BY x.published_at DESC NULLS LAST, x.post_id DESC
         LIMIT $1 OFFSET $2) l ON true
          WHERE t.slug = $3"
    );
    /// The home page's first page in one round trip: up to `$3` featured posts (their own
    /// small partial index; `lead` true), then the page as `HOME` reads it.
    pub const HOME_FIRST: &str = concat!(
        "(",
        summary_select!(),
        ", true AS lead FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.featured
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $3)
         UNION ALL (",
        summary_select!(),
        ", false AS lead FROM published_posts p JOIN users u ON u.id = p.author_id
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2)"
    );
    pub const BY_AUTHOR: &str = concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id = $3
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2"
    );
    /// The post and its comments (hidden ones too; the page decides who sees them) in one
    /// round trip: the post page is the site's hottest.
    pub const SHOW: &str = concat!(
        summary_select!(),
        ", p.body_html, p.updated_at, u.bio AS author_bio,
           COALESCE((SELECT json_agg(json_build_object(
                        'id', c.id, 'author_id', c.author_id,
                        'author_name', COALESCE(cu.display_name, c.guest_name),
                        'author_username', cu.username, 'author_url', c.guest_url,
                        'body_html', c.body_html,
                        'hidden', c.hidden_at IS NOT NULL, 'pending', c.approved_at IS NULL,
                        'created_at', c.created_at,
                        'edited', c.updated_at > c.created_at + interval '1 second')
                      ORDER BY c.created_at, c.id)
                       FROM comments c LEFT JOIN users cu ON cu.id = c.author_id
                      WHERE c.post_id = p.id AND cu.disabled_at IS NULL), '[]') AS comments,
           (SELECT count(*) FROM favorites f WHERE f.post_id = p.id) AS favorites, p.meta,
           json_build_object(",
        onward!(),
        ") AS onward
          FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.slug = $1"
    );
    /// How many posts are published now: the listed ones the triggers count
    /// (`post_totals`), less those scheduled for later (a short range of the index).
    pub const LISTED_NOW: &str = "SELECT (SELECT listed FROM post_totals)
             - (SELECT count(*) FROM posts p
                 WHERE p.kind = 'post' AND p.status <> 'draft' AND p.deleted_at IS NULL AND p.published_at > now())";
    /// `$3`'s followed authors' posts; `$1` limit, `$2` offset.
    pub const FOLLOWED: &str = concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id IN (SELECT o.followed_id FROM follows o WHERE o.follower_id = $3)
           AND u.disabled_at IS NULL
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1 OFFSET $2"
    );
    pub const FEED: &str = concat!(
        feed_select!(),
        "
          FROM published_posts p JOIN users u ON u.id = p.author_id
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1"
    );
    /// `FEED` of tag `$2`, along the tag's own index as `BY_TAG` reads it.
    pub const FEED_BY_TAG: &str = concat!(
        feed_select!(),
        "
          FROM post_tags x
          JOIN published_posts p ON p.id = x.post_id
          JOIN users u ON u.id = p.author_id
         WHERE x.tag_id = $2
         ORDER BY x.published_at DESC NULLS LAST, x.post_id DESC
         LIMIT $1"
    );
    /// `FEED` of author `$2`.
    pub const FEED_BY_AUTHOR: &str = concat!(
        feed_select!(),
        "
          FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id = $2
         ORDER BY p.published_at DESC, p.id DESC
         LIMIT $1"
    );
}

/// Whose posts a feed carries.
#[derive(Debug, Clone, Copy)]
pub enum FeedOf {
    Site,
    Tag(TagId),
    Author(UserId),
}

/// The newest published posts, one page (plus one row, see `Page::from_overfetch`).
pub async fn list_published(
    db: impl PgExecutor<'_>,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::HOME)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .fetch_all(db)
        .await
}

/// The home page's first page (overfetched like `list_published`) and up to `featured`
/// featured posts to lead it, in one round trip.
pub async fn list_home_first(
    db: impl PgExecutor<'_>,
    per_page: u32,
    featured: i64,
) -> sqlx::Result<(Vec<PostSummary>, Vec<PostSummary>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        lead: bool,
        #[sqlx(flatten)]
        post: PostSummary,
    }
    let rows: Vec<Row> = sqlx::query_as(sql::HOME_FIRST)
        .bind(Page::<()>::limit(per_page))
        .bind(0_i64)
        .bind(featured)
        .fetch_all(db)
        .await?;
    let (lead, rest): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.lead);
    Ok((
        lead.into_iter().map(|r| r.post).collect(),
        rest.into_iter().map(|r| r.post).collect(),
    ))
}

/// The tag at `slug` and one page of its published posts (overfetched like `list_published`);
/// `None` when there is no such tag.
pub async fn list_published_by_tag(
    db: impl PgExecutor<'_>,
    slug: &Slug,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Option<(Tag, Vec<PostSummary>)>> {
    let rows = sqlx::query(sql::BY_TAG)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .bind(slug.as_str())
        .fetch_all(db)
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let tag = Tag {
        id: first.try_get("tag_id")?,
        slug: first.try_get("tag_slug")?,
        name: first.try_get("tag_name")?,
        description: first.try_get("tag_description")?,
        meta_title: first.try_get("tag_meta_title")?,
        meta_description: first.try_get("tag_meta_description")?,
        image: first.try_get("tag_image")?,
        accent: first.try_get("tag_accent")?,
    };
    let mut posts = Vec::with_capacity(rows.len());
    for row in &rows {
        // The one row of a tag with no posts here has only the tag.
        if row.try_get::<Option<PostId>, _>("id")?.is_some() {
            posts.push(PostSummary::from_row(row)?);
        }
    }
    Ok(Some((tag, posts)))
}

pub async fn list_published_by_author(
    db: impl PgExecutor<'_>,
    author: UserId,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::BY_AUTHOR)
        .bind(Page::<()>::limit(per_page))
        .bind(page.offset(per_page))
        .bind(author)
        .fetch_all(db)
        .await
}

/// The post at `slug` if readers may see it; `None` for drafts, future posts and unknown slugs.
/// Whether readers see this post now (its page's live comments).
pub async fn is_published(db: impl PgExecutor<'_>, id: PostId) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM published_posts WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Those of `ids` readers no longer see (a draft again, scheduled later, trashed, gone): open
/// post pages' live comments end.
pub async fn unpublished_among(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<PostId>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_scalar(
        "SELECT id FROM unnest($1::bigint[]) AS t(id)
          WHERE NOT EXISTS (SELECT 1 FROM published_posts p WHERE p.id = t.id)",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}

pub async fn find_published(db: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Option<Post>> {
    sqlx::query_as(sql::SHOW)
        .bind(slug)
        .fetch_optional(db)
        .await
}

/// The cards of those of `ids` readers may see (in no particular order): search results
/// found by Meilisearch are shown through the visibility rule like every other list.
pub async fn summaries_by_ids(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<PostSummary>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(concat!(
        summary_select!(),
        " FROM published_posts p JOIN users u ON u.id = p.author_id
         WHERE p.id = ANY($1)"
    ))
    .bind(&ids)
    .fetch_all(db)
    .await
}

/// A post as the search index holds it.
#[derive(Debug, Clone, FromRow)]
pub struct SearchDocument {
    pub id: PostId,
    pub title: String,
    pub excerpt: String,
    pub body_text: String,
    pub tags: sqlx::types::Json<Vec<super::model::TagRef>>,
    pub author_username: String,
    pub published_at: OffsetDateTime,
}

/// Those of `ids` that are or will be public (scheduled ones too: the index filters by
/// time), for the search index. Drafts, deleted and unknown posts are left out.
pub async fn search_documents(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<SearchDocument>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(
        "SELECT p.id, p.title, p.excerpt, p.body_text, p.tag_list AS tags,
                u.username AS author_username, p.published_at
           FROM posts p JOIN users u ON u.id = p.author_id
          WHERE p.id = ANY($1) AND p.kind = 'post' AND p.status <> 'draft'
            AND p.deleted_at IS NULL AND p.published_at IS NOT NULL",
    )
    .bind(&ids)
    .fetch_all(db)
    .await
}

/// The newest `limit` published posts with their bodies, for the Atom feed.
pub async fn feed(db: impl PgExecutor<'_>, of: FeedOf, limit: i64) -> sqlx::Result<Vec<Post>> {
    match of {
        FeedOf::Site => sqlx::query_as(sql::FEED).bind(limit).fetch_all(db).await,
        FeedOf::Tag(tag) => {
            sqlx::query_as(sql::FEED_BY_TAG)
                .bind(limit)
                .bind(tag)
                .fetch_all(db)
                .await
        }
        FeedOf::Author(author) => {
            sqlx::query_as(sql::FEED_BY_AUTHOR)
                .bind(limit)
                .bind(author)
                .fetch_all(db)
                .await
        }
    }
}

/// Sitemap entries: the path and last change of published pages, then posts newest first.
pub async fn sitemap(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<(String, OffsetDateTime)>> {
    sqlx::query_as(
        "(SELECT '/' || slug, updated_at FROM published_pages ORDER BY slug)
         UNION ALL
         (SELECT '/posts/' || slug, updated_at FROM published_posts
           ORDER BY published_at DESC, id DESC
           LIMIT $1)",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// New posts, their tags and first revisions as columns: `insert_many` sends each column as
/// one array, so a thousand posts cost one round trip.
#[derive(Debug, Default)]
pub struct NewRows {
    ord: Vec<i64>,
    author: Vec<i64>,
    title: Vec<String>,
    slug: Vec<String>,
    excerpt: Vec<String>,
    body_markdown: Vec<String>,
    body_html: Vec<String>,
    body_text: Vec<String>,
    reading_minutes: Vec<i32>,
    cover_image: Vec<Option<String>>,
    featured: Vec<bool>,
    meta: Vec<Json<PostMeta>>,
    kind: Vec<PostKind>,
    status: Vec<PostStatus>,
    published_at: Vec<Option<OffsetDateTime>>,
    // post_tags: the post (by `ord`), the tag, its position among the post's tags.
    tag_ord: Vec<i64>,
    tag_id: Vec<TagId>,
    tag_position: Vec<i16>,
}

impl NewRows {
    /// Add post number `ord` (of the caller's list), rendered.
    pub fn push(&mut self, ord: usize, post: &NewPost<'_>, prepared: &Prepared) {
        let input = post.input;
        self.ord.push(ord as i64);
        self.author.push(post.author.0);
        self.title.push(input.title.clone());
        self.slug.push(input.slug.as_str().to_owned());
        self.excerpt.push(prepared.excerpt.clone());
        self.body_markdown.push(input.body_markdown.clone());
        self.body_html.push(prepared.body_html.as_str().to_owned());
        self.body_text.push(prepared.body_text.clone());
        self.reading_minutes.push(prepared.reading_minutes);
        self.cover_image.push(input.cover_image.clone());
        self.featured.push(input.featured);
        self.meta.push(Json(input.meta.clone()));
        self.kind.push(input.kind);
        self.status.push(input.status);
        self.published_at.push(post.published_at);
    }

    /// Tag post number `ord` with `tag`, at `position` among its tags (0: the primary one).
    pub fn tag(&mut self, ord: usize, tag: TagId, position: usize) {
        self.tag_ord.push(ord as i64);
        self.tag_id.push(tag);
        self.tag_position
            .push(i16::try_from(position).unwrap_or(i16::MAX));
    }
}

/// Insert posts whose Markdown is already rendered, with their tags and first revisions, in
/// one statement. `ON CONFLICT DO NOTHING` on the slug: a taken slug gives `None` and writes
/// nothing for that post. Returns (ord, id) for each post. Triggers copy `published_at` onto
/// post_tags and build `tag_list`, once for the whole statement.
pub async fn insert_many(
    conn: &mut PgConnection,
    rows: &NewRows,
) -> sqlx::Result<Vec<(usize, Option<PostId>)>> {
    let created: Vec<(i64, Option<PostId>)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::int[], $9::text[],
                                  $10::post_status[], $11::timestamptz[], $15::text[],
                                  $16::bool[], $17::jsonb[], $18::post_kind[])
                 AS i(ord, author_id, title, slug, excerpt, body_markdown, body_html,
                      reading_minutes, cover_image, status, published_at, body_text, featured,
                      meta, kind)
         ),
         created AS (
             INSERT INTO posts (author_id, title, slug, excerpt, body_markdown, body_html,
                                reading_minutes, cover_image, status, published_at,
                                body_text, featured, meta, kind)
             SELECT author_id, title, slug, excerpt, body_markdown, body_html,
                    reading_minutes, cover_image, status, published_at, body_text, featured,
                    meta, kind
               FROM input ORDER BY ord
             ON CONFLICT (slug) DO NOTHING
             RETURNING id, slug
         ),
         tagged AS (
             INSERT INTO post_tags (post_id, tag_id, position)
             SELECT c.id, t.tag_id, t.position
               FROM unnest($12::bigint[], $13::bigint[], $14::smallint[])
                        AS t(ord, tag_id, position)
               JOIN input i ON i.ord = t.ord
               JOIN created c ON c.slug = i.slug
         ),
         revised AS (
             INSERT INTO post_revisions (post_id, editor_id, version, title, excerpt,
                                         body_markdown)
             SELECT c.id, i.author_id, 1, i.title, i.excerpt, i.body_markdown
               FROM created c JOIN input i ON i.slug = c.slug
         )
         SELECT i.ord, c.id FROM input i LEFT JOIN created c ON c.slug = i.slug ORDER BY i.ord",
    )
    .bind(&rows.ord)
    .bind(&rows.author)
    .bind(&rows.title)
    .bind(&rows.slug)
    .bind(&rows.excerpt)
    .bind(&rows.body_markdown)
    .bind(&rows.body_html)
    .bind(&rows.reading_minutes)
    .bind(&rows.cover_image)
    .bind(&rows.status)
    .bind(&rows.published_at)
    .bind(&rows.tag_ord)
    .bind(&rows.tag_id)
    .bind(&rows.tag_position)
    .bind(&rows.body_text)
    .bind(&rows.featured)
    .bind(&rows.meta)
    .bind(&rows.kind)
    .fetch_all(&mut *conn)
    .await?;
    Ok(created
        .into_iter()
        .map(|(ord, id)| (usize::try_from(ord).unwrap_or(usize::MAX), id))
        .collect())
}

/// Replace a post's tags with `tags`, keeping their order. Rows that stay as they are are not
/// written, so saving a post without touching its tags rewrites nothing here.
pub async fn set_tags(conn: &mut PgConnection, post: PostId, tags: &[TagId]) -> sqlx::Result<()> {
    let positions: Vec<i16> = (0..tags.len())
        .map(|i| i16::try_from(i).unwrap_or(i16::MAX))
        .collect();
    sqlx::query("DELETE FROM post_tags WHERE post_id = $1 AND tag_id <> ALL($2)")
        .bind(post)
        .bind(tags)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO post_tags (post_id, tag_id, position)
         SELECT $1, tag_id, position FROM UNNEST($2::bigint[], $3::smallint[]) AS t(tag_id, position)
         ON CONFLICT (post_id, tag_id) DO UPDATE SET position = EXCLUDED.position
          WHERE post_tags.position IS DISTINCT FROM EXCLUDED.position",
    )
    .bind(post)
    .bind(tags)
    .bind(&positions)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many posts exist at all (drafts included): seeding checks this.
pub async fn count_all(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(db)
        .await
}

// ---- the admin's statements ----

const FOR_EDIT: &str = "SELECT p.id, p.author_id, u.display_name AS author_name, p.title, p.slug,
            p.excerpt, p.body_markdown, p.cover_image, p.featured, p.status, p.published_at,
            p.version, p.tag_list AS tags, p.updated_at, p.deleted_at, p.meta, p.kind
       FROM posts p JOIN users u ON u.id = p.author_id
      WHERE p.id = $1";

/// Any post by id, drafts and deleted ones included.
pub async fn find_for_edit(
    db: impl PgExecutor<'_>,
    id: PostId,
) -> sqlx::Result<Option<PostForEdit>> {
    sqlx::query_as(FOR_EDIT).bind(id).fetch_optional(db).await
}

/// Filters of the admin's post list; each is optional.
#[derive(Debug, Default, Clone)]
pub struct AdminFilter {
    pub status: Option<PostStatus>,
    /// Scheduled posts are stored as published or scheduled with a future date.
    pub scheduled: bool,
    pub author: Option<UserId>,
    pub tag: Option<String>,
    pub title: Option<String>,
    pub deleted: bool,
    /// Only featured posts.
    pub featured: bool,
    /// Posts or pages: the admin lists each on its own screen.
    pub kind: Option<PostKind>,
    /// Posts by whoever has this username, or a display name containing it.
    pub author_name: Option<String>,
    pub sort: AdminSort,
}

/// The orders of the admin's post list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AdminSort {
    /// Last changed first.
    #[default]
    Changed,
    /// Newest publication date first; drafts (no date) last.
    Date,
    /// A to Z.
    Title,
    /// Most read first (all-time views, as the dashboard counts them).
    Views,
}

impl AdminSort {
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "" | "changed" => Self::Changed,
            "date" => Self::Date,
            "title" => Self::Title,
            "views" => Self::Views,
            _ => return None,
        })
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Changed => " ORDER BY p.updated_at DESC, p.id DESC",
            Self::Date => " ORDER BY p.published_at DESC NULLS LAST, p.id DESC",
            Self::Title => " ORDER BY lower(p.title), p.id",
            Self::Views => " ORDER BY views DESC, p.id DESC",
        }
    }
}

/// A page of the admin's post list, newest change first.
pub async fn admin_list(
    db: impl PgExecutor<'_>,
    filter: &AdminFilter,
    page: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<AdminRow>> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT p.id, p.title, p.slug, p.status, p.published_at, p.updated_at, p.deleted_at,
                p.author_id, u.display_name AS author_name, p.kind,
                (SELECT COALESCE(sum(v.views), 0)::bigint FROM post_views v
                  WHERE v.post_id = p.id) AS views
           FROM posts p JOIN users u ON u.id = p.author_id WHERE ",
    );
    // The trash holds both kinds; each list its own.
    if !filter.deleted {
        q.push("p.kind = ")
            .push_bind(filter.kind.unwrap_or(PostKind::Post))
            .push(" AND ");
    }
    q.push(if filter.deleted {
        "p.deleted_at > now() - interval '30 days'"
    } else {
        "p.deleted_at IS NULL"
    });
    if filter.scheduled {
        q.push(" AND p.status <> 'draft' AND p.published_at > now()");
    } else if let Some(status) = filter.status {
        q.push(" AND p.status = ").push_bind(status);
        if status != PostStatus::Draft {
            q.push(" AND p.published_at <= now()");
        }
    }
    if let Some(author) = filter.author {
        q.push(" AND p.author_id = ").push_bind(author);
    }
    if let Some(name) = &filter.author_name {
        q.push(" AND (u.username = lower(")
            .push_bind(name.clone())
            .push(") OR u.display_name ILIKE ")
            .push_bind(crate::db::contains_pattern(name))
            .push(")");
    }
    if filter.featured {
        q.push(" AND p.featured");
    }
    if let Some(tag) = &filter.tag {
        q.push(" AND EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.slug = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(title) = &filter.title {
        q.push(" AND p.title ILIKE ")
            .push_bind(crate::db::contains_pattern(title));
    }
    q.push(if filter.deleted {
        " ORDER BY p.deleted_at DESC, p.id DESC"
    } else {
        filter.sort.order_by()
    });
    q.push(" LIMIT ").push_bind(Page::<()>::limit(per_page));
    q.push(" OFFSET ").push_bind(page.offset(per_page));
    q.build_query_as().fetch_all(db).await
}

/// Those of `ids` that name a post or page (in the trash or not).
pub async fn existing(db: impl PgExecutor<'_>, ids: &[PostId]) -> sqlx::Result<Vec<PostId>> {
    sqlx::query_scalar("SELECT id FROM posts WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Everyone who has written a post (trash aside), for the list's author filter:
/// (username, display name), by name.
pub async fn post_authors(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT u.username, u.display_name FROM users u
          WHERE EXISTS (SELECT 1 FROM posts p
                         WHERE p.author_id = u.id AND p.kind = 'post' AND p.deleted_at IS NULL)
          ORDER BY lower(u.display_name), u.id",
    )
    .fetch_all(db)
    .await
}

/// Save an edit if the post is still at `expected` version; `None` if someone saved first
/// (or the post is gone). Returns the new version.
pub async fn update(
    conn: &mut PgConnection,
    id: PostId,
    expected: i32,
    input: &PostInput,
    prepared: &Prepared,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "UPDATE posts
            SET title = $3, slug = $4, excerpt = $5, body_markdown = $6, body_html = $7,
                reading_minutes = $8, cover_image = $9, status = $10, body_text = $12,
                featured = $13, meta = $14,
                published_at = CASE
                    WHEN $10::post_status = 'published' THEN
                        CASE WHEN published_at IS NOT NULL AND published_at <= now()
                             THEN published_at ELSE now() END
                    WHEN $10::post_status = 'scheduled' THEN $11
                    ELSE published_at END,
                version = version + 1
          WHERE id = $1 AND version = $2 AND deleted_at IS NULL
          RETURNING version",
    )
    .bind(id)
    .bind(expected)
    .bind(&input.title)
    .bind(input.slug.as_str())
    .bind(&prepared.excerpt)
    .bind(&input.body_markdown)
    .bind(&prepared.body_html)
    .bind(prepared.reading_minutes)
    .bind(&input.cover_image)
    .bind(input.status)
    .bind(input.publish_at)
    .bind(&prepared.body_text)
    .bind(input.featured)
    .bind(Json(&input.meta))
    .fetch_optional(&mut *conn)
    .await
}

/// Record a save as a revision. An autosave replaces the one before it when that was an
/// autosave by the same person in the last 10 minutes: a run of typing keeps a checkpoint
/// every 10 minutes, not a copy of the post every few seconds.
#[allow(clippy::too_many_arguments)]
pub async fn insert_revision(
    conn: &mut PgConnection,
    post: PostId,
    editor: UserId,
    version: i32,
    title: &str,
    excerpt: &str,
    body_markdown: &str,
    autosave: bool,
) -> sqlx::Result<()> {
    if autosave {
        let replaced = sqlx::query(
            "UPDATE post_revisions r
                SET version = $3, title = $4, excerpt = $5, body_markdown = $6, created_at = now()
              WHERE r.id = (SELECT id FROM post_revisions
                             WHERE post_id = $1 ORDER BY version DESC LIMIT 1)
                AND r.autosave AND r.editor_id = $2
                AND r.created_at > now() - interval '10 minutes'",
        )
        .bind(post)
        .bind(editor)
        .bind(version)
        .bind(title)
        .bind(excerpt)
        .bind(body_markdown)
        .execute(&mut *conn)
        .await?;
        if replaced.rows_affected() == 1 {
            return Ok(());
        }
    }
    sqlx::query(
        "INSERT INTO post_revisions
                (post_id, editor_id, version, title, excerpt, body_markdown, autosave)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(post)
    .bind(editor)
    .bind(version)
    .bind(title)
    .bind(excerpt)
    .bind(body_markdown)
    .bind(autosave)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What someone typed into a published or scheduled post, kept aside by autosave.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeptAside {
    pub base_version: i32,
    pub form: Json<serde_json::Value>,
    pub saved_at: time::OffsetDateTime,
}

/// Keep `form` aside for `editor` (replacing what was kept before).
pub async fn keep_aside(
    db: impl PgExecutor<'_>,
    post: PostId,
    editor: UserId,
    base_version: i32,
    form: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO post_autosaves (post_id, editor_id, base_version, form)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (post_id, editor_id)
         DO UPDATE SET base_version = EXCLUDED.base_version, form = EXCLUDED.form,
                       saved_at = now()",
    )
    .bind(post)
    .bind(editor)
    .bind(base_version)
    .bind(Json(form))
    .execute(db)
    .await?;
    Ok(())
}

pub async fn kept_aside(
    db: impl PgExecutor<'_>,
    post: PostId,
    editor: UserId,
) -> sqlx::Result<Option<KeptAside>> {
    sqlx::query_as(
        "SELECT base_version, form, saved_at FROM post_autosaves
          WHERE post_id = $1 AND editor_id = $2",
    )
    .bind(post)
    .bind(editor)
    .fetch_optional(db)
    .await
}

/// Forget what autosave kept aside for `editor` (they saved, or discarded it).
pub async fn forget_kept_aside(
    db: impl PgExecutor<'_>,
    post: PostId,
    editor: UserId,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM post_autosaves WHERE post_id = $1 AND editor_id = $2")
        .bind(post)
        .bind(editor)
        .execute(db)
        .await?;
    Ok(())
}

const REVISION_SELECT: &str = "SELECT r.id, r.version, r.title, r.excerpt, r.body_markdown,
            r.created_at, r.autosave, u.display_name AS editor_name
       FROM post_revisions r JOIN users u ON u.id = r.editor_id";

pub async fn revisions(db: impl PgExecutor<'_>, post: PostId) -> sqlx::Result<Vec<Revision>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REVISION_SELECT} WHERE r.post_id = $1 ORDER BY r.version DESC"
    )))
    .bind(post)
    .fetch_all(db)
    .await
}

pub async fn revision(
    db: impl PgExecutor<'_>,
    post: PostId,
    id: i64,
) -> sqlx::Result<Option<Revision>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REVISION_SELECT} WHERE r.post_id = $1 AND r.id = $2"
    )))
    .bind(post)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The published page at `slug`, if readers may see it.
pub async fn find_page(db: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Option<PageView>> {
    sqlx::query_as(
        "SELECT id, author_id, title, slug, excerpt, body_html, cover_image, meta, updated_at
           FROM published_pages WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(db)
    .await
}

/// Move to the trash (soft delete); `false` if it was not there to delete.
pub async fn soft_delete(db: impl PgExecutor<'_>, id: PostId) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Bring back from the trash, within 30 days of deletion.
pub async fn restore(db: impl PgExecutor<'_>, id: PostId) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE posts SET deleted_at = NULL
          WHERE id = $1 AND deleted_at > now() - interval '30 days'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Delete for good those of `ids` that are in the trash, at once (removing the demo content,
/// `seed::remove_demo`): their comments, revisions and views go with them, as in the purge.
pub async fn purge(db: impl PgExecutor<'_>, ids: &[PostId]) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM posts WHERE id = ANY($1) AND deleted_at IS NOT NULL")
            .bind(ids)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Delete for good up to `limit` posts (and pages) that have been in the trash for 30 days:
/// their comments, revisions and views go with them (the hourly purge chore).
pub async fn purge_trash(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM posts WHERE id IN (
            SELECT id FROM posts WHERE deleted_at < now() - interval '30 days' LIMIT $1)",
    )
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}

/// (drafts, scheduled, published) counts, of one author's posts or of all.
pub async fn counts(
    db: impl PgExecutor<'_>,
    author: Option<UserId>,
) -> sqlx::Result<(i64, i64, i64)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'draft'),
                count(*) FILTER (WHERE status <> 'draft' AND published_at > now()),
                count(*) FILTER (WHERE status <> 'draft' AND published_at <= now())
           FROM posts
          WHERE kind = 'post' AND deleted_at IS NULL AND ($1::bigint IS NULL OR author_id = $1)",
    )
    .bind(author)
    .fetch_one(db)
    .await
}

// ---- the JSON API's articles (issue 12) ----

/// A post as the JSON API lists it: with its favourites and its author as the viewer sees
/// them. `body_markdown` only for a single article.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: PostId,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub body_markdown: Option<String>,
    pub tags: Json<Vec<TagRef>>,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i32,
    pub favorites_count: i64,
    pub favorited: bool,
    pub author_id: UserId,
    pub author_username: String,
    pub author_bio: String,
    pub author_image: Option<String>,
    pub following: bool,
}

/// Which articles a list shows.
#[derive(Debug, Default, Clone)]
pub struct ArticleFilter {
    /// Tag slug.
    pub tag: Option<String>,
    /// Author username.
    pub author: Option<String>,
    /// Username of someone who favourited them.
    pub favorited: Option<String>,
    /// Only authors this account follows (the feed).
    pub followed_by: Option<UserId>,
    /// Drafts or scheduled posts instead of published ones: their authors' own (`mine`
    /// set) or everyone's (editors).
    pub unpublished: Option<(PostStatus, Option<UserId>)>,
    /// Only featured posts (GraphQL's `featured: true`).
    pub featured: bool,
}

/// `$1` viewer; the row's columns, `p` a post and `u` its author.
const ARTICLE_COLUMNS: &str = "p.id, p.slug, p.title, p.excerpt, p.tag_list AS tags, p.status,
        p.published_at, p.created_at, p.updated_at, p.version,
        (SELECT count(*) FROM favorites f WHERE f.post_id = p.id) AS favorites_count,
        EXISTS (SELECT 1 FROM favorites f WHERE f.post_id = p.id AND f.user_id = $1) AS favorited,
        u.id AS author_id, u.username AS author_username, u.bio AS author_bio,
        u.avatar_url AS author_image,
        EXISTS (SELECT 1 FROM follows o WHERE o.follower_id = $1 AND o.followed_id = u.id)
            AS following";

/// The rows `filter` picks (`p` a post, and `u` its author `with_authors`), written with only the conditions
/// it sets: each combination is its own prepared statement, planned for what it asks (a
/// `$2 IS NULL OR …` condition would keep the index that orders the list out of the plan).
fn push_filter(
    q: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    filter: &ArticleFilter,
    with_authors: bool,
) {
    // The count reads no author column: without the join it is an index-only scan (a seq
    // scan with it: 125 ms at 100,000 posts).
    q.push(match with_authors {
        true => " FROM posts p JOIN users u ON u.id = p.author_id",
        false => " FROM posts p",
    });
    q.push(" WHERE p.kind = 'post' AND p.deleted_at IS NULL AND ");
    let mine = match filter.unpublished {
        None => {
            q.push("p.status <> 'draft' AND p.published_at <= now()");
            None
        }
        Some((PostStatus::Draft, mine)) => {
            q.push("p.status = 'draft'");
            mine
        }
        Some((_, mine)) => {
            q.push("p.status <> 'draft' AND p.published_at > now()");
            mine
        }
    };
    if let Some(mine) = mine {
        q.push(" AND p.author_id = ").push_bind(mine);
    }
    if let Some(tag) = &filter.tag {
        q.push(
            " AND p.id IN (SELECT x.post_id FROM post_tags x JOIN tags t ON t.id = x.tag_id
                            WHERE t.slug = ",
        )
        .push_bind(tag.as_str())
        .push(")");
    }
    if let Some(author) = &filter.author {
        q.push(" AND p.author_id = (SELECT a.id FROM users a WHERE a.username = lower(")
            .push_bind(author.as_str())
            .push("))");
    }
    if let Some(fan) = &filter.favorited {
        q.push(
            " AND p.id IN (SELECT f.post_id FROM favorites f JOIN users fu ON fu.id = f.user_id
                            WHERE fu.username = lower(",
        )
        .push_bind(fan.as_str())
        .push("))");
    }
    if let Some(reader) = filter.followed_by {
        q.push(" AND p.author_id IN (SELECT o.followed_id FROM follows o WHERE o.follower_id = ")
            .push_bind(reader)
            .push(")");
    }
    if filter.featured {
        q.push(" AND p.featured");
    }
}

/// One page of articles matching `filter`, newest first (drafts: last edited first), and
/// how many match in all.
pub async fn articles(
    db: impl PgExecutor<'_> + Copy,
    viewer: Option<UserId>,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ArticleRow>, i64)> {
    // The viewer is `$1`, which ARTICLE_COLUMNS refers to. The total rides on every row
    // (computed once): one round trip, unless the page is past the end.
    let mut list = sqlx::QueryBuilder::new("WITH viewer AS (SELECT ");
    list.push_bind(viewer).push("::bigint AS id) SELECT (");
    push_count(&mut list, filter);
    list.push(") AS total, ")
        .push(ARTICLE_COLUMNS)
        .push(", NULL::text AS body_markdown");
    push_filter(&mut list, filter, true);
    push_page(&mut list, filter, limit, offset);
    let rows: Vec<Counted> = list.build_query_as().fetch_all(db).await?;
    let total = total(db, filter, rows.first().map(|r| r.total)).await?;
    Ok((rows.into_iter().map(|r| r.row).collect(), total))
}

/// A list's order (drafts: last edited first; the rest newest first) and page.
fn push_page(
    q: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
) {
    q.push(match filter.unpublished {
        Some((PostStatus::Draft, _)) => " ORDER BY p.updated_at DESC, p.id DESC",
        _ => " ORDER BY p.published_at DESC, p.id DESC",
    });
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
}

/// The list's total: as it rode on the page's first row, or counted when the page is past
/// the end.
async fn total(
    db: impl PgExecutor<'_>,
    filter: &ArticleFilter,
    on_first_row: Option<i64>,
) -> sqlx::Result<i64> {
    match on_first_row {
        Some(total) => Ok(total),
        None => {
            let mut count = sqlx::QueryBuilder::new("");
            push_count(&mut count, filter);
            count.build_query_scalar().fetch_one(db).await
        }
    }
}

/// An article and the list's total.
#[derive(sqlx::FromRow)]
struct Counted {
    total: i64,
    #[sqlx(flatten)]
    row: ArticleRow,
}

/// How many articles `filter` picks: for the whole published list, the triggers' count
/// (`sql::LISTED_NOW`) rather than counting every post.
fn push_count(q: &mut sqlx::QueryBuilder<sqlx::Postgres>, filter: &ArticleFilter) {
    let unfiltered = filter.tag.is_none()
        && filter.author.is_none()
        && filter.favorited.is_none()
        && filter.followed_by.is_none()
        && filter.unpublished.is_none()
        && !filter.featured;
    match unfiltered {
        true => {
            q.push(sql::LISTED_NOW);
        }
        false => {
            q.push("SELECT count(*)");
            push_filter(q, filter, false);
        }
    }
}

/// One article by slug, whatever its status (the caller decides who may see it), unless
/// deleted.
pub async fn article(
    db: impl PgExecutor<'_>,
    viewer: Option<UserId>,
    slug: &str,
) -> sqlx::Result<Option<ArticleRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ARTICLE_COLUMNS}, p.body_markdown
           FROM posts p JOIN users u ON u.id = p.author_id
          WHERE p.slug = $2 AND p.kind = 'post' AND p.deleted_at IS NULL"
    )))
    .bind(viewer)
    .bind(slug)
    .fetch_optional(db)
    .await
}

/// The published articles among `ids`, in no particular order (a search's hits, which the
/// caller puts back in the search's order).
pub async fn published_articles(
    db: impl PgExecutor<'_>,
    viewer: Option<UserId>,
    ids: &[PostId],
) -> sqlx::Result<Vec<ArticleRow>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ARTICLE_COLUMNS}, NULL::text AS body_markdown
           FROM posts p JOIN users u ON u.id = p.author_id
          WHERE p.id = ANY($2) AND p.kind = 'post'
            AND p.status <> 'draft' AND p.deleted_at IS NULL AND p.published_at <= now()"
    )))
    .bind(viewer)
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Whether `user` favourites `post`.
pub async fn is_favorite(
    db: impl PgExecutor<'_>,
    user: UserId,
    post: PostId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM favorites WHERE user_id = $1 AND post_id = $2)",
    )
    .bind(user)
    .bind(post)
    .fetch_one(db)
    .await
}

/// Published posts by the authors `reader` follows, newest first: one page, fetched with
/// one extra (`Page::from_overfetch`).
pub async fn list_followed(
    db: impl PgExecutor<'_>,
    reader: UserId,
    number: PageNumber,
    per_page: u32,
) -> sqlx::Result<Vec<PostSummary>> {
    sqlx::query_as(sql::FOLLOWED)
        .bind(Page::<()>::limit(per_page))
        .bind(number.offset(per_page))
        .bind(reader)
        .fetch_all(db)
        .await
}

/// `user` favourites `post` (again: no change).
pub async fn favorite(db: impl PgExecutor<'_>, user: UserId, post: PostId) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO favorites (user_id, post_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user)
        .bind(post)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn unfavorite(db: impl PgExecutor<'_>, user: UserId, post: PostId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM favorites WHERE user_id = $1 AND post_id = $2")
        .bind(user)
        .bind(post)
        .execute(db)
        .await?;
    Ok(())
}

/// Up to `limit` posts after `after` (by id, trashed ones too): their ids and sources, for
/// `quire rerender`.
pub async fn sources_after(
    db: impl PgExecutor<'_>,
    after: PostId,
    limit: i64,
) -> sqlx::Result<Vec<(PostId, String)>> {
    sqlx::query_as("SELECT id, body_markdown FROM posts WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Store re-rendered HTML for these posts, leaving their `updated_at` alone (nobody edited
/// them); how many changed.
pub async fn store_rendered(
    conn: &mut PgConnection,
    rendered: &[(PostId, SafeHtml)],
) -> sqlx::Result<u64> {
    sqlx::query("SET LOCAL quire.rerendering = 'on'")
        .execute(&mut *conn)
        .await?;
    let ids: Vec<i64> = rendered.iter().map(|(id, _)| id.0).collect();
    let html: Vec<&str> = rendered.iter().map(|(_, h)| h.as_str()).collect();
    let done = sqlx::query(
        "UPDATE posts p SET body_html = v.html
           FROM unnest($1::bigint[], $2::text[]) AS v (id, html)
          WHERE p.id = v.id AND p.body_html IS DISTINCT FROM v.html",
    )
    .bind(ids)
    .bind(html)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Which of `slugs` posts (or pages, trashed ones too) already have.
pub async fn taken_slugs(
    db: impl PgExecutor<'_>,
    slugs: &[String],
) -> sqlx::Result<std::collections::HashSet<String>> {
    let taken: Vec<String> = sqlx::query_scalar("SELECT slug FROM posts WHERE slug = ANY($1)")
        .bind(slugs)
        .fetch_all(db)
        .await?;
    Ok(taken.into_iter().collect())
}

// ---- the export's statements ----

/// A post or page as `quire export` writes it: everything but its history (revisions,
/// autosaves) and its readers' traces (views, favourites).
#[derive(Debug, Clone, FromRow)]
pub struct ExportedPost {
    pub id: PostId,
    pub kind: PostKind,
    pub author_id: UserId,
    pub author_username: String,
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub body_markdown: String,
    /// As readers see it (the WXR carries HTML).
    pub body_html: SafeHtml,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub featured: bool,
    pub cover_image: Option<String>,
    pub meta: Json<PostMeta>,
    /// Its tags' ids, the primary one first.
    pub tag_ids: Vec<i64>,
    /// The same tags' slugs and names, in the same order.
    pub tags: Json<Vec<TagRef>>,
}

impl ExportedPost {
    /// The excerpt its author wrote (empty when it is the one made from the body).
    pub fn own_excerpt(&self) -> String {
        super::own_excerpt(&self.excerpt, &self.body_markdown)
    }
}

/// The next `limit` posts and pages after id `after`, by id, trashed ones left out (the
/// trash is emptied after 30 days anyway): the export reads them in pages.
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedPost>> {
    sqlx::query_as(
        "SELECT p.id, p.kind, p.author_id, u.username AS author_username, p.title, p.slug,
                p.excerpt, p.body_markdown, p.body_html, p.status, p.published_at,
                p.created_at, p.updated_at, p.featured, p.cover_image, p.meta,
                ARRAY(SELECT pt.tag_id FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                       WHERE pt.post_id = p.id ORDER BY pt.position, t.name) AS tag_ids,
                p.tag_list AS tags
           FROM posts p JOIN users u ON u.id = p.author_id
          WHERE p.id > $1 AND p.deleted_at IS NULL
          ORDER BY p.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many posts and pages the export writes (trashed ones left out).
pub async fn export_counts(db: impl PgExecutor<'_>) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE kind = 'post'), count(*) FILTER (WHERE kind = 'page')
           FROM posts WHERE deleted_at IS NULL",
    )
    .fetch_one(db)
    .await
}

/// The highest post id there is (0 for none): the WXR numbers attachments after it.
pub async fn max_id(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM posts")
        .fetch_one(db)
        .await
}

// ---- GraphQL's posts (issue 30) ----

/// A post as GraphQL's `Post` starts: its own columns only. Its author, tags, body and
/// counts are each read for a whole page at once (`graphql::loaders`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostNode {
    pub id: PostId,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub featured: bool,
    pub version: i32,
    pub reading_minutes: i32,
    pub cover_image: Option<String>,
    pub author_id: UserId,
}

const NODE_COLUMNS: &str = "p.id, p.slug, p.title, p.excerpt, p.status, p.published_at,
        p.created_at, p.updated_at, p.featured, p.version, p.reading_minutes, p.cover_image,
        p.author_id";

/// One page of the posts `filter` picks, in the articles' order, and how many in all.
pub async fn nodes(
    db: impl PgExecutor<'_> + Copy,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<PostNode>, i64)> {
    #[derive(sqlx::FromRow)]
    struct Counted {
        total: i64,
        #[sqlx(flatten)]
        node: PostNode,
    }
    let mut list = sqlx::QueryBuilder::new("SELECT (");
    push_count(&mut list, filter);
    list.push(") AS total, ").push(NODE_COLUMNS);
    push_filter(&mut list, filter, false);
    push_page(&mut list, filter, limit, offset);
    let rows: Vec<Counted> = list.build_query_as().fetch_all(db).await?;
    let total = total(db, filter, rows.first().map(|r| r.total)).await?;
    Ok((rows.into_iter().map(|r| r.node).collect(), total))
}

/// The post at `slug`, whatever its status (the caller decides who may see it), unless
/// trashed.
pub async fn node_by_slug(db: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Option<PostNode>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {NODE_COLUMNS} FROM posts p
          WHERE p.slug = $1 AND p.kind = 'post' AND p.deleted_at IS NULL"
    )))
    .bind(slug)
    .fetch_optional(db)
    .await
}

/// The published posts among `ids` (a search's hits), in no particular order.
pub async fn published_nodes(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<PostNode>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {NODE_COLUMNS} FROM posts p JOIN published_posts pp ON pp.id = p.id
          WHERE p.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(db)
    .await
}

/// The rendered bodies of `ids`.
pub async fn bodies(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<(PostId, crate::render::SafeHtml)>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as("SELECT id, body_html FROM posts WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// How many people favourite each of `ids` (those with none are left out).
pub async fn favorite_counts(
    db: impl PgExecutor<'_>,
    ids: &[PostId],
) -> sqlx::Result<Vec<(PostId, i64)>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    sqlx::query_as(
        "SELECT post_id, count(*) FROM favorites WHERE post_id = ANY($1) GROUP BY post_id",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}
