//! `/api/articles`: Quire's posts as RealWorld articles, with Quire's additions: `q`
//! (search), `status` and `publishAt` (drafts and scheduling), `version` with `If-Match`
//! (no lost updates), and `/revisions`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    ApiJson, Paging, Profile,
    auth::{ApiUser, MaybeApiUser},
    iso,
};
use crate::{
    accounts::model::CurrentUser,
    api::openapi::GenericErrorModel,
    authz::{self, Action},
    cache::{Key, Keys},
    db::Reads,
    error::{ApiError, FieldErrors},
    posts::{
        self, SaveError,
        input::{Field, PostFields, status_word},
        model::{PostForEdit, PostId, PostInput, PostStatus},
        repo::{self, ArticleFilter, ArticleRow},
    },
    search::Query,
    slug::Slug,
    state::AppState,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub description: String,
    /// The Markdown source; left out of lists, as the spec says.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub body: Option<String>,
    /// Tag names, sorted.
    pub tag_list: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: Profile,
    /// Quire: `draft`, `scheduled` or `published`.
    pub status: &'static str,
    /// Quire: when it went (or goes) public; `null` for drafts.
    #[schema(format = DateTime, required = true)]
    pub publish_at: Option<String>,
    /// Quire: send it back (or as `If-Match`) with an update to refuse lost updates.
    pub version: i32,
}

impl From<ArticleRow> for Article {
    fn from(row: ArticleRow) -> Self {
        let mut tag_list: Vec<String> = row.tags.0.into_iter().map(|t| t.name).collect();
        tag_list.sort();
        Article {
            status: status_word(row.status, row.published_at),
            publish_at: row.published_at.map(iso),
            slug: row.slug,
            title: row.title,
            description: row.excerpt,
            body: row.body_markdown,
            tag_list,
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
            favorited: row.favorited,
            favorites_count: row.favorites_count,
            author: Profile {
                username: row.author_username,
                bio: (!row.author_bio.is_empty()).then_some(row.author_bio),
                image: row.author_image,
                following: row.following,
            },
            version: row.version,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleBody {
    pub article: Article,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticlesBody {
    /// Each article without its `body`.
    #[schema(value_type = Vec<super::openapi::ArticleInList>)]
    pub articles: Vec<Article>,
    pub articles_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
    /// Quire: words to search for (the site's search, same ranking and visibility).
    pub q: Option<String>,
    /// Quire: `draft` or `scheduled` lists the caller's own (editors: everyone's).
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// `GET /api/articles`: newest first, filtered by tag, author, favourited-by; `q` searches.
#[utoipa::path(get, path = "/articles", tag = "Articles", operation_id = "GetArticles",
    summary = "Get recent articles globally", security((), ("Token" = [])),
    params(("tag" = Option<String>, Query, description = "Filter by tag"),
           ("author" = Option<String>, Query, description = "Filter by author (username)"),
           ("favorited" = Option<String>, Query, description = "Filter by favorites of a user (username)"),
           ("q" = Option<String>, Query, description = "Quire: search words (web-search syntax)"),
           ("status" = Option<String>, Query, description = "Quire: draft or scheduled (the caller's own; editors: all)"),
           ("offset" = Option<i64>, Query, minimum = 0, maximum = 1000000000, description = "The number of items to skip before starting to collect the result set."),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "The numbers of items to return.")),
    responses((status = 200, description = "Newest first", body = ArticlesBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn index(
    state: web::Data<AppState>,
    reads: Reads,
    backend: web::Data<crate::search::Search>,
    req: HttpRequest,
    viewer: MaybeApiUser,
    query: web::Query<ListQuery>,
    keys: Keys,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (limit, offset) = Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .parse()?;
    let viewer_id = viewer.user().map(|u| u.id);
    if let Some(words) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        if let Some(retry_after) =
            crate::search::over_allowance(&state, &backend, crate::extract::client_ip(&req)).await
        {
            return Err(ApiError::TooMany { retry_after });
        }
        let found = search(
            &reads, &backend, &keys, viewer_id, &query, words, limit, offset,
        );
        return found.await;
    }
    let unpublished = match query.status.as_deref() {
        None | Some("") | Some("published") => None,
        Some(status @ ("draft" | "scheduled")) => {
            let user = viewer.user().ok_or_else(ApiError::token_missing)?;
            if !authz::can(user, Action::Write) {
                return Err(ApiError::Forbidden("article"));
            }
            let status = match status {
                "draft" => PostStatus::Draft,
                _ => PostStatus::Scheduled,
            };
            let mine = (!authz::can(user, Action::EditAnyPost)).then_some(user.id);
            Some((status, mine))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "must be draft, scheduled or published",
            ));
        }
    };
    let filter = ArticleFilter {
        tag: query.tag.as_deref().map(tag_slug),
        author: query.author.clone(),
        favorited: query.favorited.clone(),
        followed_by: None,
        unpublished,
        featured: false,
    };
    list(&reads, &keys, viewer_id, &filter, limit, offset).await
}

/// A tag as clients name it ("Dragons", "dragons") to its slug; a name with no letters
/// or digits matches nothing.
fn tag_slug(name: &str) -> String {
    Slug::from_title(name.trim()).map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned())
}

/// A list of articles; each is named to the edge cache, with the list's own key (`Posts`).
async fn list(
    db: impl sqlx::PgExecutor<'_> + Copy,
    keys: &Keys,
    viewer: Option<crate::accounts::model::UserId>,
    filter: &ArticleFilter,
    limit: i64,
    offset: i64,
) -> Result<HttpResponse, ApiError> {
    let (rows, total) = repo::articles(db, viewer, filter, limit, offset).await?;
    keys.add(Key::Posts).add_all(
        rows.iter()
            .flat_map(|r| [Key::from(r.id), r.author_id.into()]),
    );
    Ok(HttpResponse::Ok().json(ArticlesBody {
        articles: rows.into_iter().map(Article::from).collect(),
        articles_count: total,
    }))
}

/// `?q=`: the site's search backend picks and orders; the rows come from the articles
/// query, in that order.
#[expect(
    clippy::too_many_arguments,
    reason = "the list's parts, each needed once"
)]
async fn search(
    reads: &Reads,
    backend: &crate::search::Search,
    keys: &Keys,
    viewer: Option<crate::accounts::model::UserId>,
    query: &ListQuery,
    words: &str,
    limit: i64,
    offset: i64,
) -> Result<HttpResponse, ApiError> {
    let mut wanted = Query::new(words);
    wanted.tag = query.tag.as_deref().map(tag_slug);
    wanted.author = query.author.as_deref().map(str::to_lowercase);
    let (results, _) = reads
        .with_pool(async |db| backend.search(db, &wanted, limit, offset).await)
        .await?;
    let ids: Vec<PostId> = results.hits.iter().map(|h| h.post.id).collect();
    let mut rows = repo::published_articles(reads, viewer, &ids).await?;
    // In the search's order.
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    keys.add(Key::Posts).add_all(
        rows.iter()
            .flat_map(|r| [Key::from(r.id), r.author_id.into()]),
    );
    let articles = rows.into_iter().map(Article::from).collect();
    Ok(HttpResponse::Ok().json(ArticlesBody {
        articles,
        articles_count: if results.approximate {
            0
        } else {
            results.total
        },
    }))
}

/// `GET /api/articles/feed`: articles by the authors the caller follows.
#[utoipa::path(get, path = "/articles/feed", tag = "Articles",
    operation_id = "GetArticlesFeed", summary = "Get recent articles from users you follow",
    security(("Token" = [])),
    params(("offset" = Option<i64>, Query, minimum = 0, maximum = 1000000000, description = "The number of items to skip before starting to collect the result set."),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "The numbers of items to return.")),
    responses((status = 200, description = "Newest first", body = ArticlesBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn feed(
    state: web::Data<AppState>,
    caller: ApiUser,
    paging: web::Query<Paging>,
    keys: Keys,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = paging.into_inner().parse()?;
    let filter = ArticleFilter {
        followed_by: Some(caller.user.id),
        ..ArticleFilter::default()
    };
    list(
        &state.db,
        &keys,
        Some(caller.user.id),
        &filter,
        limit,
        offset,
    )
    .await
}

/// The article at `slug` if `viewer` may see it: published, or theirs to edit.
async fn visible(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Option<&CurrentUser>,
    slug: &str,
) -> Result<ArticleRow, ApiError> {
    // Parsed, so a NUL or any other byte no slug has never reaches SQL.
    let slug = Slug::parse(slug).map_err(|_| ApiError::NotFound("article"))?;
    let row = repo::article(db, viewer.map(|u| u.id), slug.as_str())
        .await?
        .ok_or(ApiError::NotFound("article"))?;
    match posts::readable(viewer, row.author_id, row.status, row.published_at) {
        true => Ok(row),
        false => Err(ApiError::NotFound("article")),
    }
}

/// `GET /api/articles/{slug}`.
#[utoipa::path(get, path = "/articles/{slug}", tag = "Articles", operation_id = "GetArticle",
    summary = "Get an article", security((), ("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 200, description = "The article", body = ArticleBody), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn show(
    reads: Reads,
    viewer: MaybeApiUser,
    slug: web::Path<String>,
    keys: Keys,
) -> Result<HttpResponse, ApiError> {
    let row = visible(&reads, viewer.user(), &slug).await?;
    keys.add(row.id).add(row.author_id);
    Ok(HttpResponse::Ok().json(ArticleBody {
        article: row.into(),
    }))
}

/// What a create or update may send; every field optional here, required ones checked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticleFields {
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
    /// Left out: keep (on update); `null`: 422; `[]`: none.
    #[serde(default, deserialize_with = "present_tags")]
    pub tag_list: Option<Option<Vec<String>>>,
    pub status: Option<String>,
    /// RFC 3339, for `status: "scheduled"`.
    pub publish_at: Option<String>,
    pub version: Option<i32>,
}

fn present_tags<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
pub struct Wrapped {
    #[serde(default, deserialize_with = "super::object")]
    pub article: Option<ArticleFields>,
}

impl Wrapped {
    fn into_inner(self) -> Result<ArticleFields, ApiError> {
        self.article
            .ok_or_else(|| ApiError::invalid("article", "is missing"))
    }
}

fn note(problems: &mut FieldErrors, field: &str, message: &str) {
    problems
        .entry(field.to_owned())
        .or_default()
        .push(message.to_owned());
}

/// The domain's post fields as the API calls them (RealWorld's names).
fn api_field(field: Field) -> &'static str {
    match field {
        Field::Excerpt => "description",
        Field::Tags => "tagList",
        Field::PublishAt => "publishAt",
        other => other.name(),
    }
}

/// `fields` over `base` (the post as it is, for an update; `None` when creating) into a
/// post, by the rules every door shares (`PostInput::parse`): the API and the editor refuse
/// the same things. What is the API's own is its wire format (RFC 3339 times, a tag list,
/// RealWorld's required fields) and its words for the status.
fn to_input(
    state: &AppState,
    fields: ArticleFields,
    base: Option<&PostForEdit>,
) -> Result<PostInput, ApiError> {
    let mut problems = FieldErrors::new();
    let creating = base.is_none();
    if creating {
        // RealWorld requires all three; the site's editor derives a blank description from
        // the body, the API doesn't (spec 2.0.0: 422 "can't be blank").
        for (field, value) in [
            ("title", &fields.title),
            ("description", &fields.description),
            ("body", &fields.body),
        ] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                note(&mut problems, field, "can't be blank");
            }
        }
    }
    let base = base
        .map(PostFields::from_post)
        .unwrap_or_else(|| PostFields {
            status: "published".into(),
            ..PostFields::default()
        });
    let tags = match fields.tag_list {
        None => base.tags.clone(),
        Some(None) => {
            note(
                &mut problems,
                "tagList",
                "must be a list of tag names, not null",
            );
            Vec::new()
        }
        Some(Some(tags)) => tags,
    };
    let publish_at = match fields.publish_at.as_deref() {
        None => base.publish_at,
        Some(at) => match OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        {
            Ok(t) => Some(t.to_offset(time::UtcOffset::UTC)),
            Err(_) => {
                note(
                    &mut problems,
                    "publishAt",
                    "must be a date and time like 2030-01-01T09:00:00Z",
                );
                None
            }
        },
    };
    let fields = PostFields {
        title: fields.title.unwrap_or(base.title),
        excerpt: fields.description.unwrap_or(base.excerpt),
        body: fields.body.unwrap_or(base.body),
        status: fields.status.unwrap_or(base.status),
        tags,
        publish_at,
        ..base
    };
    let parsed = PostInput::parse(&fields, state.settings.posts.max_body_bytes);
    if let Err(found) = &parsed {
        for (field, message) in found.iter() {
            let message = match field {
                Field::Status => "must be draft, scheduled or published".to_owned(),
                _ => crate::input::capitalise(message),
            };
            // "can't be blank" already says what the domain's words would.
            if !problems.contains_key(api_field(field)) {
                note(&mut problems, api_field(field), &message);
            }
        }
    }
    match (parsed, problems.is_empty()) {
        (Ok(input), true) => Ok(input),
        _ => Err(ApiError::Invalid(problems)),
    }
}

/// `POST /api/articles` (authors, editors, admins): published now unless `status` says
/// otherwise. Two articles with one title get distinct slugs (`-2`, `-3`, …).
#[utoipa::path(post, path = "/articles", tag = "Articles", operation_id = "CreateArticle",
    summary = "Create an article", security(("Token" = [])),
    request_body = super::openapi::NewArticleRequest,
    responses((status = 201, description = "The new article", body = ArticleBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel),
              (status = 409, description = "Already exists", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiUser,
    ApiJson(body): ApiJson<Wrapped>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    if !authz::can(&user, Action::Write) {
        return Err(ApiError::Forbidden("article"));
    }
    let mut input = to_input(&state, body.into_inner()?, None)?;
    let meter = admit(&state, &user).await?;
    let id = meter
        .measure(posts::create_with_free_slug(&state.db, user.id, &mut input))
        .await?;
    id.ok_or_else(|| ApiError::Taken("slug"))?;
    let row = repo::article(&state.db, Some(user.id), input.slug.as_str())
        .await?
        .ok_or(ApiError::NotFound("article"))?;
    Ok(HttpResponse::Created().json(ArticleBody {
        article: row.into(),
    }))
}

/// Admit `user` to the render threads (`render::budget`, shared with the site's editor),
/// or 429 until the minute's allowance starts again.
async fn admit<'a>(
    state: &'a AppState,
    user: &CurrentUser,
) -> Result<crate::render::budget::Meter<'a>, ApiError> {
    crate::render::budget::Budget::of(state)
        .admit(user.id.0)
        .await
        .map_err(|spent| ApiError::TooMany {
            retry_after: spent.retry_after,
        })
}

/// The version an update says it edits: `If-Match` (`"3"`, `W/"3"` or `3`), else the
/// body's `version`; `None`: neither (the update applies to the current version).
fn expected_version(req: &HttpRequest, body: Option<i32>) -> Result<Option<i32>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(body);
    };
    let value = value.to_str().unwrap_or_default().trim();
    let value = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
    value
        .parse()
        .map(Some)
        .map_err(|_| ApiError::invalid("If-Match", "must be the article's version, e.g. \"3\""))
}

/// `PUT /api/articles/{slug}`: any of the fields; the slug stays (links keep working).
/// Refused with 409 and the current article when someone saved since `version`.
#[utoipa::path(put, path = "/articles/{slug}", tag = "Articles", operation_id = "UpdateArticle",
    summary = "Update an article", security(("Token" = [])),
    params(("slug" = String, Path, description = "Slug of the article"),
           ("If-Match" = Option<String>, Header, description = "Quire: the version edited, e.g. \"3\"")),
    request_body = super::openapi::UpdateArticleRequest,
    responses((status = 200, description = "The article, changed", body = ArticleBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel),
              (status = 404, description = "No such article", body = GenericErrorModel),
              (status = 409, description = "Quire: someone saved since that version (the article as it is now)", body = GenericErrorModel),
              (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: ApiUser,
    slug: web::Path<String>,
    ApiJson(body): ApiJson<Wrapped>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    let row = editable(&state, &user, &slug).await?;
    let post = repo::find_for_edit(&state.db, row.id)
        .await?
        .ok_or(ApiError::NotFound("article"))?;
    let fields = body.into_inner()?;
    let expected = expected_version(&req, fields.version)?.unwrap_or(post.version);
    let input = to_input(&state, fields, Some(&post))?;
    let meter = admit(&state, &user).await?;
    let saved = meter
        .measure(posts::update(
            &state.db,
            user.id,
            row.id,
            expected,
            &input,
            posts::SaveKind::Manual,
        ))
        .await;
    match saved {
        Ok(_) => {}
        Err(SaveError::Conflict(_)) => {
            let now = repo::article(&state.db, Some(user.id), &slug)
                .await?
                .ok_or(ApiError::NotFound("article"))?;
            let now = serde_json::to_value(Article::from(now)).map_err(anyhow::Error::from)?;
            return Err(ApiError::Stale(Box::new(now)));
        }
        Err(SaveError::Gone) => return Err(ApiError::NotFound("article")),
        Err(SaveError::SlugTaken) => return Err(ApiError::Taken("slug")),
        Err(SaveError::Other(e)) => return Err(ApiError::Internal(e)),
    }
    let row = repo::article(&state.db, Some(user.id), input.slug.as_str())
        .await?
        .ok_or(ApiError::NotFound("article"))?;
    Ok(HttpResponse::Ok().json(ArticleBody {
        article: row.into(),
    }))
}

/// The article at `slug` if `user` may change it: 404 if they can't see it, 403 if they
/// can see but not change it.
async fn editable(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> Result<ArticleRow, ApiError> {
    let row = visible(&state.db, Some(user), slug).await?;
    match authz::can(
        user,
        Action::EditPost {
            author: row.author_id,
        },
    ) {
        true => Ok(row),
        false => Err(ApiError::Forbidden("article")),
    }
}

/// `DELETE /api/articles/{slug}`: to the trash, as in the admin (editors can restore it
/// for 30 days).
#[utoipa::path(delete, path = "/articles/{slug}", tag = "Articles", operation_id = "DeleteArticle",
    summary = "Delete an article", security(("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 204, description = "Deleted (to the trash)"), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = editable(&state, &caller.user, &slug).await?;
    if !repo::soft_delete(&state.db, row.id).await? {
        return Err(ApiError::NotFound("article"));
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn set_favorite(
    state: &AppState,
    caller: ApiUser,
    slug: &str,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    let row = visible(&state.db, Some(&user), slug).await?;
    match on {
        true => repo::favorite(&state.db, user.id, row.id).await?,
        false => repo::unfavorite(&state.db, user.id, row.id).await?,
    }
    let row = visible(&state.db, Some(&user), slug).await?;
    Ok(HttpResponse::Ok().json(ArticleBody {
        article: row.into(),
    }))
}

/// `POST /api/articles/{slug}/favorite`.
#[utoipa::path(post, path = "/articles/{slug}/favorite", tag = "Favorites",
    operation_id = "CreateArticleFavorite", summary = "Favorite an article", security(("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 200, description = "The article", body = ArticleBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn favorite(
    state: web::Data<AppState>,
    caller: ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_favorite(&state, caller, &slug, true).await
}

/// `DELETE /api/articles/{slug}/favorite`.
#[utoipa::path(delete, path = "/articles/{slug}/favorite", tag = "Favorites",
    operation_id = "DeleteArticleFavorite", summary = "Unfavorite an article", security(("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 200, description = "The article", body = ArticleBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel), (status = 422, description = "Invalid input, keyed by field", body = GenericErrorModel)))]
pub async fn unfavorite(
    state: web::Data<AppState>,
    caller: ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_favorite(&state, caller, &slug, false).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionJson {
    pub version: i32,
    pub title: String,
    pub description: String,
    pub body: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub editor: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionsBody {
    pub revisions: Vec<RevisionJson>,
}

/// `GET /api/articles/{slug}/revisions` (its author, editors and admins): newest first.
#[utoipa::path(get, path = "/articles/{slug}/revisions", tag = "Articles",
    operation_id = "GetArticleRevisions", summary = "Quire: an article's saved versions, newest first",
    security(("Token" = [])), params(("slug" = String, Path, description = "Slug of the article")),
    responses((status = 200, description = "Its revisions", body = RevisionsBody), (status = 401, description = "Missing or bad token", body = GenericErrorModel), (status = 403, description = "The role may not", body = GenericErrorModel), (status = 404, description = "No such article", body = GenericErrorModel)))]
pub async fn revisions(
    state: web::Data<AppState>,
    caller: ApiUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = editable(&state, &caller.user, &slug).await?;
    let revisions = repo::revisions(&state.db, PostId(row.id.0)).await?;
    let revisions: Vec<RevisionJson> = revisions
        .into_iter()
        .map(|r| RevisionJson {
            version: r.version,
            title: r.title,
            description: r.excerpt,
            body: r.body_markdown,
            created_at: iso(r.created_at),
            editor: r.editor_name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RevisionsBody { revisions }))
}
