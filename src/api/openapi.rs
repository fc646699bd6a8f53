//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! response types (utoipa), served at `/api/openapi.json` with Swagger UI at `/api/docs/`.
//! Request bodies are documented here as the wire format; the handlers read them more
//! leniently (every field optional) so that each missing field gets its own 422 message.

use std::collections::BTreeMap;

use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};

use super::{articles, comments, profiles, tags, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quire API",
        version = "1.0.0",
        description = "RealWorld (Conduit) API spec 2.0.0, with Quire's additions: search \
                       (`q`), drafts and scheduling (`status`, `publishAt`), versions \
                       (`version`, `If-Match`) and revisions. Version 1: changes within it \
                       are additive only.",
        license(name = "MIT License", url = "https://opensource.org/licenses/MIT")
    ),
    servers((url = "/api")),
    paths(
        users::log_in,
        users::register,
        users::current,
        users::update,
        profiles::show,
        profiles::follow,
        profiles::unfollow,
        articles::feed,
        articles::index,
        articles::create,
        articles::show,
        articles::update,
        articles::delete,
        articles::revisions,
        comments::index,
        comments::create,
        comments::delete,
        articles::favorite,
        articles::unfavorite,
        tags::index,
    ),
    components(schemas(
        LoginUser, NewUser, UpdateUser, NewArticle, UpdateArticle, NewComment,
        GenericErrorModel
    )),
    modifiers(&TokenScheme),
    tags(
        (name = "Articles"), (name = "Comments"), (name = "Favorites"), (name = "Profile"),
        (name = "Tags"), (name = "User and Authentication")
    )
)]
pub struct ApiDoc;

/// `Authorization: Token <jwt>`, as the spec names it (`Bearer` works too).
struct TokenScheme;

impl Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "Token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <jwt>` (or `Bearer <jwt>`), the token from /users or /users/login",
            ))),
        );
    }
}

/// Every error: `{"errors": {"<field or resource>": ["<message>"]}}`.
#[derive(Debug, ToSchema)]
pub struct GenericErrorModel {
    pub errors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, ToSchema)]
pub struct LoginUser {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Debug, ToSchema)]
pub struct LoginUserRequest {
    pub user: LoginUser,
}

#[derive(Debug, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Debug, ToSchema)]
pub struct NewUserRequest {
    pub user: NewUser,
}

/// Any of the fields; `bio` and `image` `null` or `""` to clear them.
#[derive(Debug, ToSchema)]
pub struct UpdateUser {
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[schema(nullable = false)]
    pub password: Option<String>,
    #[schema(nullable = false)]
    pub username: Option<String>,
    pub bio: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct UpdateUserRequest {
    pub user: UpdateUser,
}

#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct NewArticle {
    pub title: String,
    /// Blank: made from the body's start.
    pub description: String,
    /// Markdown.
    pub body: String,
    #[schema(nullable = false)]
    pub tag_list: Option<Vec<String>>,
    /// Quire: `draft`, `scheduled` or `published` (the default).
    #[schema(nullable = false)]
    pub status: Option<String>,
    /// Quire: RFC 3339, in the future, for `scheduled`.
    #[schema(nullable = false, format = DateTime)]
    pub publish_at: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct NewArticleRequest {
    pub article: NewArticle,
}

/// Any of the fields; a left-out `tagList` keeps the tags, `[]` clears them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UpdateArticle {
    #[schema(nullable = false)]
    pub title: Option<String>,
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub body: Option<String>,
    #[schema(nullable = false)]
    pub tag_list: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub status: Option<String>,
    #[schema(nullable = false, format = DateTime)]
    pub publish_at: Option<String>,
    /// Quire: the version this edit started from (or send `If-Match`).
    #[schema(nullable = false)]
    pub version: Option<i32>,
}

#[derive(Debug, ToSchema)]
pub struct UpdateArticleRequest {
    pub article: UpdateArticle,
}

#[derive(Debug, ToSchema)]
pub struct NewComment {
    pub body: String,
}

#[derive(Debug, ToSchema)]
pub struct NewCommentRequest {
    pub comment: NewComment,
}

/// An article in a list: `Article` without its body (the list shape of the spec).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ArticleInList {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub tag_list: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: super::Profile,
    pub status: String,
    #[schema(format = DateTime, required = true)]
    pub publish_at: Option<String>,
    pub version: i32,
}

/// The document, made once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(ApiDoc::openapi);
    &DOC
}
