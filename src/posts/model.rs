//! Posts as readers see them, and what creating one needs.

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::{
    accounts::model::UserId,
    media::images::Images,
    render::{
        Layout, SafeHtml,
        page::{human_date, iso_date},
    },
    slug::Slug,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
pub struct PostId(pub i64);

/// A post's page and every page that shows it, as the edge cache knows them (`cache::key`).
impl From<PostId> for crate::cache::key::Key {
    fn from(id: PostId) -> Self {
        Self::Post(id.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize, Deserialize)]
#[sqlx(type_name = "post_status", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    Scheduled,
    Published,
}

/// A post, or a page (About, Contact): written the same way, served at `/{slug}`, never
/// listed with posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::Type, Serialize, Deserialize)]
#[sqlx(type_name = "post_kind", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    #[default]
    Post,
    Page,
}

/// What an author sets beyond the text (the editor's "Post settings"), stored as
/// `posts.meta` and read only with the post itself. Empty means "use the default": the
/// title, the excerpt, the cover, the post's own address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostMeta {
    pub meta_title: String,
    pub meta_description: String,
    pub social_image: Option<String>,
    pub canonical_url: Option<String>,
    pub cover_alt: String,
    pub cover_caption: String,
}

impl PostMeta {
    /// The page's head with these settings over its defaults: the meta title as the whole
    /// `<title>`, the meta description, the canonical override, the social image (else
    /// `cover`).
    pub fn apply(&self, layout: Layout, cover: Option<&str>, images: &Images) -> Layout {
        // An upload is shared as its 1200×630 social card.
        let shared = self
            .social_image
            .as_deref()
            .or(cover)
            .map(|i| images.social(i));
        let mut layout = layout.article(shared.as_ref().map(|(url, _)| url.as_str()));
        layout.og_image_size = shared.and_then(|(_, size)| size);
        if !self.meta_title.is_empty() {
            layout.title = self.meta_title.clone();
        }
        if !self.meta_description.is_empty() {
            layout.description = self.meta_description.clone();
        }
        if let Some(canonical) = &self.canonical_url {
            layout.canonical = canonical.clone();
        }
        layout
    }
}

/// A tag as a post lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct TagRef {
    pub slug: String,
    pub name: String,
}

/// One entry of a list: everything a card on the home page shows, nothing more.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostSummary {
    pub id: PostId,
    pub author_id: UserId,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub reading_minutes: i32,
    pub cover_image: Option<String>,
    pub published_at: OffsetDateTime,
    pub author_username: String,
    pub author_name: String,
    pub tags: Json<Vec<TagRef>>,
    /// Shown first and marked on the home page.
    #[sqlx(default)]
    pub featured: bool,
}

impl PostSummary {
    pub fn date(&self) -> String {
        human_date(&self.published_at)
    }

    pub fn iso_date(&self) -> String {
        iso_date(&self.published_at)
    }

    pub fn tags(&self) -> &[TagRef] {
        &self.tags.0
    }
}

/// A whole published post.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Post {
    #[sqlx(flatten)]
    pub summary: PostSummary,
    pub body_html: SafeHtml,
    pub updated_at: OffsetDateTime,
    pub author_bio: String,
    /// Every comment, hidden ones included (the feed reads none).
    pub comments: Json<Vec<crate::comments::model::CommentView>>,
    /// How many readers favourite it (the feed reads none).
    pub favorites: i64,
    pub meta: Json<PostMeta>,
    /// Where a reader goes next (the feed reads none).
    pub onward: Json<Onward>,
}

/// The end of a post page (issue 27, item 12): the posts published just before and after
/// it, and up to three that share the most tags with it (`repo::sql::SHOW` reads them).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Onward {
    pub previous: Option<PostLink>,
    pub next: Option<PostLink>,
    #[serde(default)]
    pub related: Vec<PostLink>,
}

/// Another post, as a link to it.
#[derive(Debug, Clone, Deserialize)]
pub struct PostLink {
    /// The page shows it: its key for the edge cache.
    pub id: i64,
    pub slug: String,
    pub title: String,
}

impl Onward {
    /// The posts it links to.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.previous
            .iter()
            .chain(&self.next)
            .chain(&self.related)
            .map(|l| l.id)
    }
}

impl Post {
    pub fn onward(&self) -> &Onward {
        &self.onward.0
    }

    pub fn iso_updated(&self) -> String {
        iso_date(&self.updated_at)
    }
}

/// A published page as readers see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageView {
    pub id: PostId,
    pub author_id: UserId,
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub body_html: SafeHtml,
    pub cover_image: Option<String>,
    pub meta: Json<PostMeta>,
    pub updated_at: OffsetDateTime,
}

/// A post as the editor shows it: every field, whatever its status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostForEdit {
    pub id: PostId,
    pub author_id: UserId,
    pub author_name: String,
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub body_markdown: String,
    pub cover_image: Option<String>,
    pub featured: bool,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub version: i32,
    pub tags: Json<Vec<TagRef>>,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    pub meta: Json<PostMeta>,
    pub kind: PostKind,
}

impl PostForEdit {
    /// The excerpt its author wrote: empty when it is the one made from the body, so that an
    /// edit keeps it following the body.
    pub fn own_excerpt(&self) -> String {
        super::own_excerpt(&self.excerpt, &self.body_markdown)
    }

    /// Where readers find it once published.
    pub fn public_path(&self) -> String {
        public_path(self.kind, &self.slug)
    }

    pub fn is_page(&self) -> bool {
        self.kind == PostKind::Page
    }

    pub fn tag_names(&self) -> String {
        self.tags
            .0
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One row of the admin's post list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRow {
    pub id: PostId,
    pub title: String,
    pub slug: String,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    pub author_id: UserId,
    pub author_name: String,
    pub kind: PostKind,
    /// Readers' views, all time (`stats`).
    pub views: i64,
}

/// Where readers find a post or page of `slug`.
pub fn public_path(kind: PostKind, slug: &str) -> String {
    match kind {
        PostKind::Post => format!("/posts/{slug}"),
        PostKind::Page => format!("/{slug}"),
    }
}

impl AdminRow {
    pub fn public_path(&self) -> String {
        public_path(self.kind, &self.slug)
    }

    pub fn updated(&self) -> String {
        human_date(&self.updated_at)
    }

    /// "Draft", "Published", or "Scheduled" for a future date, whatever the stored status.
    pub fn state(&self) -> &'static str {
        state_label(self.status, self.published_at)
    }
}

pub fn state_label(status: PostStatus, published_at: Option<OffsetDateTime>) -> &'static str {
    match (status, published_at) {
        (PostStatus::Draft, _) => "Draft",
        (_, Some(at)) if at > OffsetDateTime::now_utc() => "Scheduled",
        _ => "Published",
    }
}

/// A saved version of a post's text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Revision {
    pub id: i64,
    pub version: i32,
    pub title: String,
    pub excerpt: String,
    pub body_markdown: String,
    pub created_at: OffsetDateTime,
    /// Saved by the editor's autosave, not by the author pressing Save.
    pub autosave: bool,
    pub editor_name: String,
}

impl Revision {
    pub fn when(&self) -> String {
        crate::render::page::human_date_time(&self.created_at)
    }
}

/// A post's fields, parsed: what the editor submits, and what seeding and tests create.
#[derive(Debug, Clone)]
pub struct PostInput {
    pub title: String,
    pub slug: Slug,
    pub excerpt: String,
    pub body_markdown: String,
    pub cover_image: Option<String>,
    /// Shown first and marked on the home page.
    pub featured: bool,
    pub status: PostStatus,
    /// For scheduled posts; published ones get "now" unless they already have a date.
    pub publish_at: Option<OffsetDateTime>,
    pub tags: Vec<String>,
    pub meta: PostMeta,
    /// Fixed when the post is created.
    pub kind: PostKind,
}
