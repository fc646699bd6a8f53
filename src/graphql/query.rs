//! What GraphQL reads: the same posts, pages, tags, authors and search the site shows, by
//! the same visibility rules (`published_posts`, `posts::readable`), and the caller's own
//! account and drafts.

use async_graphql::{Context, Object, Result};

use super::{
    Caller, Gql,
    types::{
        Author, Connection, NavItem, Page, Post, PostStatus, SearchHit, Site, Tag, Viewer, cost,
        paging, posts_page,
    },
};
use crate::{
    accounts::model::Username,
    authz::{self, Action},
    error::ApiError,
    posts::{
        self,
        model::{PostId, PostStatus as StatusRow},
        repo::ArticleFilter,
    },
    slug::Slug,
};

pub struct Query;

fn db_error(e: sqlx::Error) -> async_graphql::Error {
    ApiError::from(e).to_graphql()
}

#[Object]
impl Query {
    /// Posts, newest first (drafts: last edited first). `status` other than `PUBLISHED`
    /// lists the caller's own drafts or scheduled posts (editors and admins: everyone's),
    /// with a token; `q` searches (as the site's search does, published posts only).
    #[graphql(complexity = "cost(first, child_complexity)")]
    #[expect(
        clippy::too_many_arguments,
        reason = "GraphQL's arguments, each its own filter"
    )]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "A tag's slug or name")] tag: Option<String>,
        #[graphql(desc = "An author's username")] author: Option<String>,
        #[graphql(desc = "Words to search for (web-search syntax)")] q: Option<String>,
        featured: Option<bool>,
        status: Option<PostStatus>,
    ) -> Result<Connection<Post>> {
        let caller = ctx.data::<Caller>()?;
        if let Some(words) = q.as_deref().filter(|q| !q.trim().is_empty()) {
            let hits =
                search_page(ctx, words, tag.as_deref(), author.as_deref(), first, after).await?;
            let total = hits.total_count;
            let offset = match hits.edges.first() {
                Some(first) => hits_offset(&first.cursor),
                None => 0,
            };
            let nodes = hits.edges.into_iter().map(|e| e.node.post).collect();
            return Ok(Connection::new(nodes, offset, total));
        }
        let unpublished = match status {
            None | Some(PostStatus::Published) => None,
            Some(status) => {
                let user = caller
                    .user()
                    .ok_or_else(|| ApiError::token_missing().to_graphql())?;
                if !authz::can(user, Action::Write) {
                    return Err(ApiError::Forbidden("post").to_graphql());
                }
                let status = match status {
                    PostStatus::Draft => StatusRow::Draft,
                    _ => StatusRow::Scheduled,
                };
                let mine = (!authz::can(user, Action::EditAnyPost)).then_some(user.id);
                Some((status, mine))
            }
        };
        let filter = ArticleFilter {
            tag: tag.as_deref().map(tag_slug),
            author: author.map(|a| a.trim().to_lowercase()),
            unpublished,
            featured: featured.unwrap_or(false),
            ..ArticleFilter::default()
        };
        posts_page(ctx, &filter, first, after.as_deref()).await
    }

    /// One post: published, or the caller's to edit.
    async fn post(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Post>> {
        let Ok(slug) = Slug::parse(&slug) else {
            return Ok(None);
        };
        let gql = ctx.data::<Gql>()?;
        let node = posts::repo::node_by_slug(&gql.state.db, slug.as_str())
            .await
            .map_err(db_error)?;
        let viewer = ctx.data::<Caller>()?.user();
        Ok(node
            .filter(|n| posts::readable(viewer, n.author_id, n.status, n.published_at))
            .map(Post))
    }

    /// A published page (About, Contact).
    async fn page(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Page>> {
        let Ok(slug) = Slug::parse(&slug) else {
            return Ok(None);
        };
        let gql = ctx.data::<Gql>()?;
        let page = posts::repo::find_page(&gql.state.db, slug.as_str())
            .await
            .map_err(db_error)?;
        Ok(page.map(Page))
    }

    /// Every tag with a published post, most used first.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<Tag>> {
        let gql = ctx.data::<Gql>()?;
        let tags =
            crate::tags::repo::list_public(&gql.state.db, crate::tags::repo::TagOrder::Count)
                .await
                .map_err(db_error)?;
        let slugs: Vec<String> = tags.into_iter().map(|t| t.slug).collect();
        let nodes = crate::tags::repo::nodes_by_slugs(&gql.state.db, &slugs)
            .await
            .map_err(db_error)?;
        // In the index's order.
        let mut nodes: Vec<_> = nodes.into_iter().collect();
        nodes.sort_by_key(|n| slugs.iter().position(|s| *s == n.slug));
        Ok(nodes.into_iter().map(Tag).collect())
    }

    /// A tag by its slug.
    async fn tag(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Tag>> {
        let Ok(slug) = Slug::parse(&slug) else {
            return Ok(None);
        };
        let gql = ctx.data::<Gql>()?;
        let nodes = crate::tags::repo::nodes_by_slugs(&gql.state.db, &[slug.as_str().to_owned()])
            .await
            .map_err(db_error)?;
        Ok(nodes.into_iter().next().map(Tag))
    }

    /// An author by username (accounts that are disabled are not found).
    async fn author(&self, ctx: &Context<'_>, username: String) -> Result<Option<Author>> {
        let Ok(username) = Username::parse(&username.to_lowercase()) else {
            return Ok(None);
        };
        let gql = ctx.data::<Gql>()?;
        let author = crate::accounts::repo::find_author(&gql.state.db, &username)
            .await
            .map_err(db_error)?;
        Ok(author.map(|a| Author(std::sync::Arc::new(a))))
    }

    /// The site's search: best matches first, with the words marked in titles and passages.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        q: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<SearchHit>> {
        search_page(ctx, &q, None, None, first, after).await
    }

    /// The account of the request's token; `null` without one.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<Viewer>> {
        Ok(ctx.data::<Caller>()?.user().map(|u| Viewer {
            username: u.username.clone(),
            name: u.display_name.clone(),
            role: u.role.into(),
        }))
    }

    /// The site: its title, description and navigation.
    async fn site(&self, ctx: &Context<'_>) -> Result<Site> {
        let gql = ctx.data::<Gql>()?;
        let site = gql.state.site();
        let links = |items: &[crate::settings::model::NavItem]| {
            items
                .iter()
                .map(|i| NavItem {
                    label: i.label.clone(),
                    url: i.url.clone(),
                })
                .collect()
        };
        Ok(Site {
            title: site.title.clone(),
            description: site.description.clone(),
            url: gql.base.clone(),
            navigation: links(&site.navigation.header),
            secondary_navigation: links(&site.navigation.footer),
        })
    }
}

/// A tag as clients name it ("Dragons", "dragons") to its slug, as the API does.
fn tag_slug(name: &str) -> String {
    Slug::from_title(name.trim()).map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned())
}

/// The position a search cursor names (0 for one it didn't give).
fn hits_offset(cursor: &str) -> i64 {
    super::types::cursor_position(cursor).unwrap_or(0)
}

/// A page of the site's search, within the search allowance of the caller's address.
async fn search_page(
    ctx: &Context<'_>,
    words: &str,
    tag: Option<&str>,
    author: Option<&str>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<SearchHit>> {
    let (limit, offset) = paging(ctx, first, after.as_deref())?;
    let gql = ctx.data::<Gql>()?;
    if words.trim().is_empty() {
        return Ok(Connection::new(Vec::new(), 0, 0));
    }
    if let Some(retry_after) =
        crate::search::over_allowance(&gql.state, &gql.search, gql.client_ip).await
    {
        return Err(ApiError::TooMany { retry_after }.to_graphql());
    }
    let mut wanted = crate::search::Query::new(words);
    wanted.tag = tag.map(tag_slug);
    wanted.author = author.map(str::to_lowercase);
    let (results, _) = gql
        .search
        .search(&gql.state.db, &wanted, limit.max(1), offset)
        .await
        .map_err(|e| ApiError::from(e).to_graphql())?;
    let ids: Vec<PostId> = results.hits.iter().map(|h| h.post.id).collect();
    let nodes = posts::repo::published_nodes(&gql.state.db, &ids)
        .await
        .map_err(db_error)?;
    let mut hits = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        if let Some(node) = nodes.iter().find(|n| n.id == hit.post.id) {
            hits.push(SearchHit {
                post: Post(node.clone()),
                title_html: hit.title.as_str().to_owned(),
                snippet_html: hit.snippet.as_str().to_owned(),
            });
        }
    }
    if limit == 0 {
        hits.clear();
    }
    let total = if results.approximate {
        i64::try_from(hits.len()).unwrap_or(0)
    } else {
        results.total
    };
    Ok(Connection::new(hits, offset, total))
}
