//! The schema's object types: posts, authors, tags, comments, pages, the site, and the
//! Relay-style connections that page through them. Each type wraps the row its module's
//! repository reads; what a row doesn't hold comes from the request's loaders.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ID, Object, Result, SimpleObject};
use base64::Engine;
use time::OffsetDateTime;

use super::{Caller, Gql, loaders::Loaders};
use crate::{
    accounts::model::{Author as AuthorRow, Role as RoleRow},
    comments::CommentView,
    error::ApiError,
    posts::{
        input::status_word,
        model::{PageView, PostStatus as StatusRow},
        repo::{ArticleFilter, PostNode},
    },
    tags::repo::TagNode,
};

/// Items a connection returns when `first` is not given.
pub const DEFAULT_PAGE: i32 = 10;

/// What a connection of `first` items costs, each costing `child`: the complexity limit
/// counts a list at the size asked for (a negative size costs nothing and is refused when
/// it runs).
pub fn cost(first: Option<i32>, child: usize) -> usize {
    let n = usize::try_from(first.unwrap_or(DEFAULT_PAGE)).unwrap_or(0);
    n.saturating_mul(child).saturating_add(1)
}

/// Where a connection starts: `after` (a cursor it returned) and `first`, checked.
pub fn paging(ctx: &Context<'_>, first: Option<i32>, after: Option<&str>) -> Result<(i64, i64)> {
    let max = ctx.data::<Gql>()?.state.settings.graphql.max_page_size;
    let first = first.unwrap_or(DEFAULT_PAGE);
    if first < 0 || usize::try_from(first).unwrap_or(usize::MAX) > max {
        return Err(
            ApiError::invalid("first", format!("must be between 0 and {max}")).to_graphql(),
        );
    }
    let offset = match after {
        None => 0,
        Some(cursor) => {
            cursor_position(cursor).ok_or_else(|| {
                ApiError::invalid("after", "is not a cursor this list gave").to_graphql()
            })? + 1
        }
    };
    Ok((i64::from(first), offset))
}

/// A cursor: the item's position in its list, opaque to clients (base64 of `o:N`).
pub fn cursor(position: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{position}"))
}

pub fn cursor_position(cursor: &str) -> Option<i64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()?;
    let position: i64 = std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()?;
    (0..1_000_000_000).contains(&position).then_some(position)
}

/// Relay's page info.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// An item of a connection, and where it stands.
pub struct Edge<T> {
    pub node: T,
    pub cursor: String,
}

/// One page of a list, Relay-style, with how many there are in all.
pub struct Connection<T> {
    pub edges: Vec<Edge<T>>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

/// The connection and edge types of one node type, named as Relay names them.
macro_rules! connection {
    ($node:ty, $connection:literal, $edge:literal) => {
        #[Object(name = $edge)]
        impl Edge<$node> {
            async fn node(&self) -> &$node {
                &self.node
            }
            async fn cursor(&self) -> &str {
                &self.cursor
            }
        }

        #[Object(name = $connection)]
        impl Connection<$node> {
            async fn edges(&self) -> &[Edge<$node>] {
                &self.edges
            }
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            /// How many there are in all.
            async fn total_count(&self) -> i64 {
                self.total_count
            }
        }
    };
}

connection!(Post, "PostConnection", "PostEdge");
connection!(Comment, "CommentConnection", "CommentEdge");
connection!(SearchHit, "SearchHitConnection", "SearchHitEdge");

impl<T> Connection<T> {
    /// `nodes` from `offset` of a list of `total`.
    pub fn new(nodes: Vec<T>, offset: i64, total: i64) -> Self {
        let count = i64::try_from(nodes.len()).unwrap_or(i64::MAX);
        let edges: Vec<Edge<T>> = nodes
            .into_iter()
            .zip(offset..)
            .map(|(node, at)| Edge {
                node,
                cursor: cursor(at),
            })
            .collect();
        Connection {
            page_info: PageInfo {
                has_next_page: offset + count < total,
                has_previous_page: offset > 0,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: total,
        }
    }
}

/// A post's state as readers and writers name it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PostStatus {
    Published,
    Draft,
    /// Published at a time still to come.
    Scheduled,
}

impl PostStatus {
    pub fn of(status: StatusRow, published_at: Option<OffsetDateTime>) -> Self {
        match status_word(status, published_at) {
            "draft" => PostStatus::Draft,
            "scheduled" => PostStatus::Scheduled,
            _ => PostStatus::Published,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            PostStatus::Published => "published",
            PostStatus::Draft => "draft",
            PostStatus::Scheduled => "scheduled",
        }
    }
}

/// A post.
pub struct Post(pub PostNode);

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

#[Object]
impl Post {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// The summary lists show (written by its author, or the body's first words).
    async fn excerpt(&self) -> &str {
        &self.0.excerpt
    }
    /// Its address on the site.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(format!("{}/posts/{}", ctx.data::<Gql>()?.base, self.0.slug))
    }
    /// The body as HTML, sanitized as the site shows it.
    async fn body_html(&self, ctx: &Context<'_>) -> Result<String> {
        let body = loaders(ctx)?.bodies.load_one(self.0.id).await?;
        Ok(body.map(|b| b.as_str().to_owned()).unwrap_or_default())
    }
    async fn status(&self) -> PostStatus {
        PostStatus::of(self.0.status, self.0.published_at)
    }
    /// When it went (or goes) public; `null` for a draft.
    async fn published_at(&self) -> Option<OffsetDateTime> {
        self.0.published_at
    }
    async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
    async fn updated_at(&self) -> OffsetDateTime {
        self.0.updated_at
    }
    async fn featured(&self) -> bool {
        self.0.featured
    }
    /// Send it back with `updatePost` so an edit never overwrites someone else's.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn reading_minutes(&self) -> i32 {
        self.0.reading_minutes
    }
    async fn cover_image(&self) -> Option<&str> {
        self.0.cover_image.as_deref()
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<Author> {
        let author = loaders(ctx)?.authors.load_one(self.0.author_id).await?;
        author
            .map(Author)
            .ok_or_else(|| ApiError::NotFound("author").to_graphql())
    }
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<Tag>> {
        let tags = loaders(ctx)?.tags.load_one(self.0.id).await?;
        Ok(tags.unwrap_or_default().into_iter().map(Tag).collect())
    }
    /// The comments readers see, oldest first.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Comment>> {
        let (limit, offset) = paging(ctx, first, after.as_deref())?;
        let gql = ctx.data::<Gql>()?;
        let total = loaders(ctx)?
            .comment_counts
            .load_one(self.0.id)
            .await?
            .unwrap_or(0);
        let page = match limit {
            0 => Vec::new(),
            _ => crate::comments::repo::visible_page(&gql.state.db, self.0.id, limit, offset)
                .await
                .map_err(|e| ApiError::from(e).to_graphql())?,
        };
        Ok(Connection::new(
            page.into_iter().map(Comment).collect(),
            offset,
            total,
        ))
    }
    async fn comment_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let n = loaders(ctx)?.comment_counts.load_one(self.0.id).await?;
        Ok(n.unwrap_or(0))
    }
    async fn favorites_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let n = loaders(ctx)?.favorites.load_one(self.0.id).await?;
        Ok(n.unwrap_or(0))
    }
}

/// Someone who writes (or comments).
pub struct Author(pub Arc<AuthorRow>);

#[Object]
impl Author {
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn name(&self) -> &str {
        &self.0.display_name
    }
    async fn bio(&self) -> &str {
        &self.0.bio
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Their page on the site.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(format!(
            "{}/authors/{}",
            ctx.data::<Gql>()?.base,
            self.0.username
        ))
    }
    /// Their published posts, newest first.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Post>> {
        let filter = ArticleFilter {
            author: Some(self.0.username.clone()),
            ..ArticleFilter::default()
        };
        posts_page(ctx, &filter, first, after.as_deref()).await
    }
}

/// A tag.
pub struct Tag(pub TagNode);

#[Object]
impl Tag {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(format!("{}/tags/{}", ctx.data::<Gql>()?.base, self.0.slug))
    }
    /// Its published posts, newest first.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Post>> {
        let filter = ArticleFilter {
            tag: Some(self.0.slug.clone()),
            ..ArticleFilter::default()
        };
        posts_page(ctx, &filter, first, after.as_deref()).await
    }
}

/// A page of the posts `filter` picks.
pub async fn posts_page(
    ctx: &Context<'_>,
    filter: &ArticleFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Connection<Post>> {
    let (limit, offset) = paging(ctx, first, after)?;
    let db = &ctx.data::<Gql>()?.state.db;
    let (nodes, total) = crate::posts::repo::nodes(db, filter, limit, offset)
        .await
        .map_err(|e| ApiError::from(e).to_graphql())?;
    Ok(Connection::new(
        nodes.into_iter().map(Post).collect(),
        offset,
        total,
    ))
}

/// A comment, as every reader sees it.
pub struct Comment(pub CommentView);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Sanitized as the site shows it.
    async fn body_html(&self) -> &str {
        self.0.body_html.as_str()
    }
    /// The account's display name, or the name a guest left.
    async fn author_name(&self) -> &str {
        &self.0.author_name
    }
    /// `null` for a guest's comment (an imported one).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Author>> {
        let Some(id) = self.0.author_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?.authors.load_one(id).await?.map(Author))
    }
    async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
    async fn edited(&self) -> bool {
        self.0.edited
    }
}

/// A page (About, Contact): written like a post, never listed with them.
pub struct Page(pub PageView);

#[Object]
impl Page {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn excerpt(&self) -> &str {
        &self.0.excerpt
    }
    async fn body_html(&self) -> &str {
        self.0.body_html.as_str()
    }
    async fn updated_at(&self) -> OffsetDateTime {
        self.0.updated_at
    }
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(format!("{}/{}", ctx.data::<Gql>()?.base, self.0.slug))
    }
}

/// A search result: the post, and where it matched (HTML with `<mark>`).
#[derive(SimpleObject)]
pub struct SearchHit {
    pub post: Post,
    /// The title, its matching words marked.
    pub title_html: String,
    /// A passage of the post around its matches, marked.
    pub snippet_html: String,
}

/// A link of the site's navigation.
#[derive(SimpleObject)]
pub struct NavItem {
    pub label: String,
    pub url: String,
}

/// The site itself.
#[derive(SimpleObject)]
pub struct Site {
    pub title: String,
    pub description: String,
    pub url: String,
    pub navigation: Vec<NavItem>,
    /// The footer's links.
    pub secondary_navigation: Vec<NavItem>,
}

/// An account's role.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Reader,
    Author,
    Editor,
    Admin,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        match r {
            RoleRow::Reader => Role::Reader,
            RoleRow::Author => Role::Author,
            RoleRow::Editor => Role::Editor,
            RoleRow::Admin => Role::Admin,
        }
    }
}

/// The account the request's token belongs to.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Viewer {
    pub username: String,
    pub name: String,
    pub role: Role,
}

#[ComplexObject]
impl Viewer {
    /// Their own drafts, last edited first (editors: everyone's with `all: true`).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn drafts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default = false)] all: bool,
    ) -> Result<Connection<Post>> {
        let user = ctx
            .data::<Caller>()?
            .user()
            .ok_or_else(|| ApiError::token_missing().to_graphql())?;
        let mine = match all && crate::authz::can(user, crate::authz::Action::EditAnyPost) {
            true => None,
            false => Some(user.id),
        };
        let filter = ArticleFilter {
            unpublished: Some((StatusRow::Draft, mine)),
            ..ArticleFilter::default()
        };
        posts_page(ctx, &filter, first, after.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        for n in [0, 1, 99, 999_999_999] {
            assert_eq!(cursor_position(&cursor(n)), Some(n));
        }
        // "o:1" unencoded, "x:1", "o:-1", a NUL, "oz:1", and padding.
        for bad in ["", "o:1", "eDox", "bzotMQ", "\0", "b3o6MQ", "bzox=="] {
            assert_eq!(cursor_position(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_list_costs_its_size_times_its_items() {
        assert_eq!(cost(Some(50), 4), 201);
        assert_eq!(cost(None, 4), 41);
        assert_eq!(cost(Some(-5), 4), 1);
        assert_eq!(cost(Some(i32::MAX), usize::MAX), usize::MAX);
    }
}
