//! What a page of posts needs beyond its own rows, read for the whole page at once: the
//! DataLoaders. Each field's resolver asks for one post's (or one account's) part; the
//! loader gathers every key asked for in the same moment and reads them in one statement,
//! so a page of 50 posts with their authors, tags, bodies and counts costs the same few
//! statements as a page of 5 (`tests/it/graphql.rs` counts them).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use sqlx::PgPool;

use crate::{
    accounts::{self, model::UserId},
    comments,
    error::ApiError,
    posts::{self, model::PostId},
    render::SafeHtml,
    tags::{self, repo::TagNode},
};

/// A failed read, as every field that waited for it reports it.
type Failed = async_graphql::Error;

fn failed(e: sqlx::Error) -> Failed {
    ApiError::from(e).to_graphql()
}

/// Accounts by id (posts' and comments' authors).
pub struct Authors(PgPool);

impl Loader<UserId> for Authors {
    type Value = Arc<accounts::model::Author>;
    type Error = Failed;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, Failed> {
        let found = accounts::repo::authors_by_ids(&self.0, keys)
            .await
            .map_err(failed)?;
        Ok(found.into_iter().map(|a| (a.id, Arc::new(a))).collect())
    }
}

/// Each post's tags, in its author's order.
pub struct Tags(PgPool);

impl Loader<PostId> for Tags {
    type Value = Vec<TagNode>;
    type Error = Failed;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Self::Value>, Failed> {
        let rows = tags::repo::for_posts(&self.0, keys).await.map_err(failed)?;
        let mut by_post: HashMap<PostId, Vec<TagNode>> = HashMap::new();
        for (post, tag) in rows {
            by_post.entry(post).or_default().push(tag);
        }
        Ok(by_post)
    }
}

/// Each post's rendered body (read only when asked for: a list rarely shows them).
pub struct Bodies(PgPool);

impl Loader<PostId> for Bodies {
    type Value = SafeHtml;
    type Error = Failed;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Self::Value>, Failed> {
        let rows = posts::repo::bodies(&self.0, keys).await.map_err(failed)?;
        Ok(rows.into_iter().collect())
    }
}

/// How many people favourite each post.
pub struct Favorites(PgPool);

impl Loader<PostId> for Favorites {
    type Value = i64;
    type Error = Failed;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Self::Value>, Failed> {
        let rows = posts::repo::favorite_counts(&self.0, keys)
            .await
            .map_err(failed)?;
        Ok(rows.into_iter().collect())
    }
}

/// How many comments readers see on each post.
pub struct CommentCounts(PgPool);

impl Loader<PostId> for CommentCounts {
    type Value = i64;
    type Error = Failed;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Self::Value>, Failed> {
        let rows = comments::repo::visible_counts(&self.0, keys)
            .await
            .map_err(failed)?;
        Ok(rows.into_iter().collect())
    }
}

/// One request's loaders (their caches last as long as the request).
pub struct Loaders {
    pub authors: DataLoader<Authors>,
    pub tags: DataLoader<Tags>,
    pub bodies: DataLoader<Bodies>,
    pub favorites: DataLoader<Favorites>,
    pub comment_counts: DataLoader<CommentCounts>,
}

impl Loaders {
    pub fn new(db: &PgPool) -> Self {
        Self {
            authors: DataLoader::new(Authors(db.clone()), tokio::spawn),
            tags: DataLoader::new(Tags(db.clone()), tokio::spawn),
            bodies: DataLoader::new(Bodies(db.clone()), tokio::spawn),
            favorites: DataLoader::new(Favorites(db.clone()), tokio::spawn),
            comment_counts: DataLoader::new(CommentCounts(db.clone()), tokio::spawn),
        }
    }
}
