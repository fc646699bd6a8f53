//! What GraphQL changes, through the same use-cases as the editor, the site's forms and the
//! JSON API: `posts::PostInput::parse` for a post's fields, `posts::update` for revisions and
//! the version check, `comments::add`/`edit`/`delete`, `accounts::set_following`, and
//! `authz` for who may. Every mutation needs the API's token (`Authorization: Bearer …`);
//! cookies are never read here, so there is no cross-site request to forge.

use async_graphql::{Context, ID, InputObject, Object, Result};
use time::OffsetDateTime;

use super::{
    Caller, Gql,
    types::{Author, Comment, Post, PostStatus},
};
use crate::{
    accounts::model::{CurrentUser, Username},
    authz::{self, Action},
    comments::{self, AddError, DeleteError, EditError},
    error::{ApiError, FieldErrors},
    posts::{
        self, SaveError,
        input::{Field, PostFields},
        model::{PostForEdit, PostInput},
        repo::PostNode,
    },
    slug::Slug,
    state::AppState,
};

pub struct Mutation;

/// A new post's fields.
#[derive(InputObject)]
pub struct CreatePostInput {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Blank: the body's first words.
    pub excerpt: Option<String>,
    /// Tag names; new ones are made.
    pub tags: Option<Vec<String>>,
    /// `DRAFT` unless said (as the editor starts).
    pub status: Option<PostStatus>,
    /// For `SCHEDULED`: when it goes public.
    pub publish_at: Option<OffsetDateTime>,
}

/// The fields to change; those left out stay as they are.
#[derive(InputObject, Default)]
pub struct UpdatePostInput {
    pub title: Option<String>,
    pub body: Option<String>,
    pub excerpt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub status: Option<PostStatus>,
    pub publish_at: Option<OffsetDateTime>,
}

fn err(e: impl Into<ApiError>) -> async_graphql::Error {
    e.into().to_graphql()
}

/// The caller, who must have sent a valid token.
fn signed_in<'a>(ctx: &Context<'a>) -> Result<&'a CurrentUser> {
    ctx.data::<Caller>()?
        .user()
        .ok_or_else(|| ApiError::token_missing().to_graphql())
}

fn state<'a>(ctx: &Context<'a>) -> Result<&'a AppState> {
    Ok(&ctx.data::<Gql>()?.state)
}

/// GraphQL's names for the domain's fields (the input's own).
fn field_name(field: Field) -> &'static str {
    match field {
        Field::PublishAt => "publishAt",
        other => other.name(),
    }
}

/// `fields` into a post by the rules every door shares (`PostInput::parse`).
fn parse(state: &AppState, fields: &PostFields) -> Result<PostInput> {
    PostInput::parse(fields, state.settings.posts.max_body_bytes).map_err(|found| {
        let mut problems = FieldErrors::new();
        for (field, message) in found.iter() {
            let message = match field {
                Field::Status => "must be DRAFT, SCHEDULED or PUBLISHED".to_owned(),
                _ => crate::input::capitalise(message),
            };
            problems
                .entry(field_name(field).to_owned())
                .or_default()
                .push(message);
        }
        ApiError::Invalid(problems).to_graphql()
    })
}

/// `work` within the caller's share of the render threads (the editor's and the API's
/// budget), or `RATE_LIMITED` until the minute's allowance starts again.
async fn within_budget<T>(
    state: &AppState,
    user: &CurrentUser,
    work: impl Future<Output = T>,
) -> Result<T> {
    let meter = crate::render::budget::Budget::of(state)
        .admit(user.id.0)
        .await
        .map_err(|spent| {
            ApiError::TooMany {
                retry_after: spent.retry_after,
            }
            .to_graphql()
        })?;
    Ok(meter.measure(work).await)
}

/// The post at `slug` if `user` may change it: `NOT_FOUND` if they can't see it,
/// `FORBIDDEN` if they can see but not change it.
async fn editable(state: &AppState, user: &CurrentUser, slug: &str) -> Result<PostForEdit> {
    let not_found = || ApiError::NotFound("post").to_graphql();
    let slug = Slug::parse(slug).map_err(|_| not_found())?;
    let node = posts::repo::node_by_slug(&state.db, slug.as_str())
        .await
        .map_err(err)?
        .filter(|n| posts::readable(Some(user), n.author_id, n.status, n.published_at))
        .ok_or_else(not_found)?;
    if !authz::can(
        user,
        Action::EditPost {
            author: node.author_id,
        },
    ) {
        return Err(ApiError::Forbidden("post").to_graphql());
    }
    posts::repo::find_for_edit(&state.db, node.id)
        .await
        .map_err(err)?
        .ok_or_else(not_found)
}

/// The post at `slug` as readers (or `user`) may see it.
async fn readable(state: &AppState, user: &CurrentUser, slug: &str) -> Result<PostNode> {
    let not_found = || ApiError::NotFound("post").to_graphql();
    let slug = Slug::parse(slug).map_err(|_| not_found())?;
    posts::repo::node_by_slug(&state.db, slug.as_str())
        .await
        .map_err(err)?
        .filter(|n| posts::readable(Some(user), n.author_id, n.status, n.published_at))
        .ok_or_else(not_found)
}

/// The post as it is now (after a change).
async fn reread(state: &AppState, slug: &str) -> Result<Post> {
    posts::repo::node_by_slug(&state.db, slug)
        .await
        .map_err(err)?
        .map(Post)
        .ok_or_else(|| ApiError::NotFound("post").to_graphql())
}

/// Save `post` with `change` laid over its fields, as of `version` (`None`: as it is now).
async fn save(
    state: &AppState,
    user: &CurrentUser,
    post: PostForEdit,
    version: Option<i32>,
    change: UpdatePostInput,
) -> Result<Post> {
    let base = PostFields::from_post(&post);
    let fields = PostFields {
        title: change.title.unwrap_or(base.title.clone()),
        excerpt: change.excerpt.unwrap_or(base.excerpt.clone()),
        body: change.body.unwrap_or(base.body.clone()),
        tags: change.tags.unwrap_or(base.tags.clone()),
        status: change
            .status
            .map_or(base.status.clone(), |s| s.word().to_owned()),
        publish_at: change.publish_at.or(base.publish_at),
        ..base
    };
    let input = parse(state, &fields)?;
    let expected = version.unwrap_or(post.version);
    let saved = within_budget(
        state,
        user,
        posts::update(
            &state.db,
            user.id,
            post.id,
            expected,
            &input,
            posts::SaveKind::Manual,
        ),
    )
    .await?;
    match saved {
        Ok(_) => reread(state, input.slug.as_str()).await,
        Err(SaveError::Conflict(now)) => Err(ApiError::Stale(Box::new(serde_json::json!({
            "slug": now.slug,
            "title": now.title,
            "body": now.body_markdown,
            "version": now.version,
            "status": PostStatus::of(now.status, now.published_at).word().to_uppercase(),
            "updatedAt": crate::api::iso(now.updated_at),
        })))
        .to_graphql()),
        Err(SaveError::Gone) => Err(ApiError::NotFound("post").to_graphql()),
        Err(SaveError::SlugTaken) => Err(ApiError::Taken("slug").to_graphql()),
        Err(SaveError::Other(e)) => Err(ApiError::Internal(e).to_graphql()),
    }
}

/// A comment `user` refers to by id, on a post they can see.
async fn comment(state: &AppState, id: &ID) -> Result<comments::repo::Comment> {
    let not_found = || ApiError::NotFound("comment").to_graphql();
    let id: i64 = id.parse().map_err(|_| not_found())?;
    comments::repo::find(&state.db, id)
        .await
        .map_err(err)?
        .ok_or_else(not_found)
}

/// A comment as readers see it now.
async fn shown_comment(state: &AppState, post: posts::model::PostId, id: i64) -> Result<Comment> {
    let found = comments::repo::live(&state.db, post, comments::repo::Live::These(&[id]))
        .await
        .map_err(err)?;
    found.into_iter().next().map(Comment).ok_or_else(|| {
        // Held for approval: its author sees it once a moderator approves it.
        ApiError::Refused {
            key: "comment",
            message: "is held for approval",
        }
        .to_graphql()
    })
}

/// The author at `username` (enabled accounts only).
async fn author(state: &AppState, username: &str) -> Result<crate::accounts::model::Author> {
    let not_found = || ApiError::NotFound("author").to_graphql();
    let username = Username::parse(&username.to_lowercase()).map_err(|_| not_found())?;
    crate::accounts::repo::find_author(&state.db, &username)
        .await
        .map_err(err)?
        .ok_or_else(not_found)
}

#[Object]
impl Mutation {
    /// Write a post (authors, editors, admins). Two posts of one title get distinct slugs.
    async fn create_post(&self, ctx: &Context<'_>, input: CreatePostInput) -> Result<Post> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        if !authz::can(user, Action::Write) {
            return Err(ApiError::Forbidden("post").to_graphql());
        }
        let fields = PostFields {
            title: input.title,
            body: input.body,
            excerpt: input.excerpt.unwrap_or_default(),
            tags: input.tags.unwrap_or_default(),
            status: input.status.unwrap_or(PostStatus::Draft).word().to_owned(),
            publish_at: input.publish_at,
            ..PostFields::default()
        };
        let mut input = parse(state, &fields)?;
        let created = within_budget(
            state,
            user,
            posts::create_with_free_slug(&state.db, user.id, &mut input),
        )
        .await?
        .map_err(|e| ApiError::Internal(e).to_graphql())?;
        created.ok_or_else(|| ApiError::Taken("slug").to_graphql())?;
        reread(state, input.slug.as_str()).await
    }

    /// Change a post (its author, editors, admins). With `version`, refused with
    /// `CONFLICT` (and the post as it is now) if someone saved since.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        slug: String,
        version: Option<i32>,
        input: UpdatePostInput,
    ) -> Result<Post> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let post = editable(state, user, &slug).await?;
        save(state, user, post, version, input).await
    }

    /// Publish a post now.
    async fn publish_post(
        &self,
        ctx: &Context<'_>,
        slug: String,
        version: Option<i32>,
    ) -> Result<Post> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let post = editable(state, user, &slug).await?;
        let change = UpdatePostInput {
            status: Some(PostStatus::Published),
            ..UpdatePostInput::default()
        };
        save(state, user, post, version, change).await
    }

    /// Take a post back to draft (readers no longer see it).
    async fn unpublish_post(
        &self,
        ctx: &Context<'_>,
        slug: String,
        version: Option<i32>,
    ) -> Result<Post> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let post = editable(state, user, &slug).await?;
        let change = UpdatePostInput {
            status: Some(PostStatus::Draft),
            ..UpdatePostInput::default()
        };
        save(state, user, post, version, change).await
    }

    /// Move a post to the trash (editors restore it for 30 days).
    async fn delete_post(&self, ctx: &Context<'_>, slug: String) -> Result<bool> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let post = editable(state, user, &slug).await?;
        posts::repo::soft_delete(&state.db, post.id)
            .await
            .map_err(err)
    }

    /// Comment on a published post. With comments held for approval, a first comment
    /// waits (`FORBIDDEN`, "held for approval") until a moderator approves it.
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        post_slug: String,
        body: String,
    ) -> Result<Comment> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let post = readable(state, user, &post_slug).await?;
        if !posts::readable(None, post.author_id, post.status, post.published_at) {
            return Err(ApiError::NotFound("post").to_graphql());
        }
        if !authz::can(user, Action::Comment) {
            return Err(ApiError::Forbidden("comment").to_graphql());
        }
        let id = match comments::add(state, user, post.id, post.author_id, &body).await {
            Ok(id) => id,
            Err(AddError::Invalid(_)) if body.trim().is_empty() => {
                return Err(ApiError::invalid("body", "can't be blank").to_graphql());
            }
            Err(AddError::Invalid(message)) => {
                return Err(ApiError::invalid("body", message).to_graphql());
            }
            Err(AddError::TooFast) => {
                return Err(ApiError::TooMany { retry_after: 60 }.to_graphql());
            }
            Err(AddError::Closed) => {
                return Err(ApiError::Refused {
                    key: "comment",
                    message: "comments are closed on this site",
                }
                .to_graphql());
            }
            Err(AddError::Unverified) => {
                return Err(ApiError::Refused {
                    key: "email",
                    message: "must be verified before commenting: follow the link we emailed you",
                }
                .to_graphql());
            }
            Err(AddError::Redis(e)) => return Err(err(e)),
            Err(AddError::Db(e)) => return Err(err(e)),
        };
        shown_comment(state, post.id, id).await
    }

    /// Change one's own comment (within the edit window).
    async fn edit_comment(&self, ctx: &Context<'_>, id: ID, body: String) -> Result<Comment> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let found = comment(state, &id).await?;
        match comments::edit(state, user, &found, &body).await {
            Ok(()) => shown_comment(state, found.post_id, found.id).await,
            Err(EditError::Forbidden) => Err(ApiError::Forbidden("comment").to_graphql()),
            Err(EditError::TooFast) => Err(ApiError::TooMany { retry_after: 60 }.to_graphql()),
            Err(EditError::Invalid(message)) => {
                Err(ApiError::invalid("body", message).to_graphql())
            }
            Err(EditError::Redis(e)) => Err(err(e)),
            Err(EditError::Db(e)) => Err(err(e)),
        }
    }

    /// Delete a comment: its author, the post's author, editors and admins.
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let (state, user) = (state(ctx)?, signed_in(ctx)?);
        let found = comment(state, &id).await?;
        match comments::delete(state, user, &found).await {
            Ok(()) => Ok(id),
            Err(DeleteError::Forbidden) => Err(ApiError::Forbidden("comment").to_graphql()),
            Err(DeleteError::Db(e)) => Err(err(e)),
        }
    }

    /// Favourite a post (again: no change).
    async fn favorite_post(&self, ctx: &Context<'_>, slug: String) -> Result<Post> {
        set_favorite(ctx, &slug, true).await
    }

    async fn unfavorite_post(&self, ctx: &Context<'_>, slug: String) -> Result<Post> {
        set_favorite(ctx, &slug, false).await
    }

    /// Follow an author (not oneself).
    async fn follow_author(&self, ctx: &Context<'_>, username: String) -> Result<Author> {
        set_following(ctx, &username, true).await
    }

    async fn unfollow_author(&self, ctx: &Context<'_>, username: String) -> Result<Author> {
        set_following(ctx, &username, false).await
    }
}

async fn set_favorite(ctx: &Context<'_>, slug: &str, on: bool) -> Result<Post> {
    let (state, user) = (state(ctx)?, signed_in(ctx)?);
    let post = readable(state, user, slug).await?;
    match on {
        true => posts::repo::favorite(&state.db, user.id, post.id).await,
        false => posts::repo::unfavorite(&state.db, user.id, post.id).await,
    }
    .map_err(err)?;
    Ok(Post(post))
}

async fn set_following(ctx: &Context<'_>, username: &str, on: bool) -> Result<Author> {
    let (state, user) = (state(ctx)?, signed_in(ctx)?);
    let them = author(state, username).await?;
    match crate::accounts::set_following(&state.db, user.id, them.id, on).await {
        Ok(()) => Ok(Author(std::sync::Arc::new(them))),
        Err(crate::accounts::FollowError::Yourself) => {
            Err(ApiError::invalid("username", "can't follow yourself").to_graphql())
        }
        Err(crate::accounts::FollowError::Db(e)) => Err(err(e)),
    }
}
