//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! response types (utoipa), served at `/api/openapi.json` with Swagger UI at `/api/docs/`.
//! Its paths are the routes the route table registers (`router`), each from its handler's
//! annotation (`Paths::add`), so the document and the routes can't disagree.
//! Request bodies are documented here as the wire format; the handlers read them more
//! leniently (every field optional) so that each missing field gets its own 422 message.

use std::collections::BTreeMap;

use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};

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
    components(schemas(
        LoginUser, NewUser, UpdateUser, NewArticle, UpdateArticle, NewComment,
        GenericErrorModel
    )),
    modifiers(&TokenScheme),
    tags(
        (name = "Articles"), (name = "Comments"), (name = "Favorites"), (name = "Profile"),
        (name = "Tags"), (name = "Uploads"), (name = "User and Authentication")
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

/// The answers any operation may give beyond its own: 429 (rate limits) and 503 (the
/// database away) everywhere, 401 wherever a token may be sent, and for a body 400 (not
/// JSON), 413 (too large) and 415 (not `application/json`).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
            let content = ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name(
                    "GenericErrorModel",
                )))
                .build();
            ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build()
                .into()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description));
                };
                add("429", "Too many requests: wait `Retry-After` seconds");
                add("503", "The database is out of reach: try again shortly");
                if operation.security.is_some() {
                    add("401", "Missing or bad token");
                }
                if operation.request_body.is_some() {
                    add("400", "The body is not JSON");
                    add("413", "The body is too large");
                    add("415", "The body is not application/json");
                }
            }
        }
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
    /// 2 to 32 letters, digits, `_` or `-`, starting with a letter or digit (kept
    /// lower-case).
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")]
    pub username: String,
    #[schema(format = Email)]
    pub email: String,
    /// At least 10 characters, and not one of the most common passwords.
    #[schema(format = Password, min_length = 10, max_length = 256, pattern = "\\S")]
    pub password: String,
}

#[derive(Debug, ToSchema)]
pub struct NewUserRequest {
    pub user: NewUser,
}

/// Any of the fields; `bio` and `image` `null` or `""` to clear them. The rules are the
/// site's account page's.
#[derive(Debug, ToSchema)]
pub struct UpdateUser {
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[schema(nullable = false)]
    pub password: Option<String>,
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub bio: Option<String>,
    /// A path on this site (`/uploads/…`) or an `https://` address, at most 500 bytes.
    #[schema(
        max_length = 500,
        pattern = "^\\s*(/([^/\\\\][^\\\\]*)?|https://[\\s\\S]*)?\\s*$"
    )]
    pub image: Option<String>,
    /// Quire: the account's password, needed to change `email` or `password` unless the
    /// token came from a login in the last few minutes (`api.recent_auth_minutes`, default
    /// 10); 422 `errors.currentPassword` when it is missing or wrong.
    #[schema(nullable = false)]
    #[schema(rename = "currentPassword")]
    pub current_password: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct UpdateUserRequest {
    pub user: UpdateUser,
}

/// The rules are the site's editor's.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct NewArticle {
    /// A slug is made from it, so it needs a letter or digit (`ã` will do: it becomes `a`).
    #[schema(min_length = 1, max_length = 300, pattern = "\\S")]
    pub title: String,
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub description: String,
    /// Markdown, at most `posts.max_body_bytes` bytes (1 MiB unless the site says otherwise).
    #[schema(min_length = 1, pattern = "\\S")]
    pub body: String,
    /// At most 10 tags (blank names are dropped), each at most 100 characters, no comma.
    #[schema(nullable = false)]
    pub tag_list: Option<Vec<String>>,
    /// Quire: `draft`, `scheduled` or `published` (the default; also `null`).
    pub status: Option<String>,
    /// Quire: RFC 3339, in the future, for `scheduled`.
    #[schema(format = DateTime)]
    pub publish_at: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct NewArticleRequest {
    pub article: NewArticle,
}

/// Any of the fields; a left-out `tagList` keeps the tags, `[]` clears them. `NewArticle`'s
/// limits.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UpdateArticle {
    #[schema(nullable = false, max_length = 300)]
    pub title: Option<String>,
    #[schema(nullable = false, max_length = 500)]
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub body: Option<String>,
    #[schema(nullable = false)]
    pub tag_list: Option<Vec<String>>,
    /// `null`: unchanged.
    pub status: Option<String>,
    #[schema(format = DateTime)]
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
    /// 1 to 5,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 5000, pattern = "\\S")]
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

/// The API's paths as the route table registers them, and the schemas they name.
#[derive(Default)]
pub struct Paths {
    paths: utoipa::openapi::path::Paths,
    schemas: Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
}

impl Paths {
    /// The operation an annotated handler's `#[utoipa::path]` describes.
    pub fn add<P>(&mut self)
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
    {
        let mut operation = P::operation();
        let tags = P::tags();
        if !tags.is_empty() {
            operation.tags = Some(tags.into_iter().map(str::to_owned).collect());
        }
        self.paths
            .add_path_operation(P::path(), P::methods(), operation);
        P::schemas(&mut self.schemas);
    }
}

/// The document, made once at start from the registered routes, served as it is.
pub struct Document {
    pub json: actix_web::web::Bytes,
}

impl Document {
    pub fn new(paths: Paths) -> anyhow::Result<Self> {
        let mut doc = ApiDoc::openapi();
        doc.paths = paths.paths;
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, schema) in paths.schemas {
            components.schemas.entry(name).or_insert(schema);
        }
        CommonResponses.modify(&mut doc);
        Ok(Self {
            json: serde_json::to_vec(&doc)?.into(),
        })
    }
}
