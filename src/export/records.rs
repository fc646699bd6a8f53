//! The archive's records, version 1 (`docs/export-format.md` says what each field means and
//! what the version promises): written by `super::archive`, read back by `import::quire`.
//! One type per JSON Lines file, one object per line. Readers of version 1 ignore fields they
//! don't know, so a later Quire may add optional fields without a new version.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    posts::model::{PostKind, PostMeta, PostStatus},
    settings::model::{CommentsMode, Navigation},
};

/// `quire.json`'s `format`: what tells a Quire archive from any other zip.
pub const FORMAT: &str = "quire-export";
/// The schema version this Quire writes and the only one it reads.
pub const VERSION: u32 = 1;

/// The archive's files, by name.
pub mod files {
    pub const MANIFEST: &str = "quire.json";
    pub const ACCOUNTS: &str = "accounts.jsonl";
    pub const TAGS: &str = "tags.jsonl";
    pub const POSTS: &str = "posts.jsonl";
    pub const COMMENTS: &str = "comments.jsonl";
    pub const REDIRECTS: &str = "redirects.jsonl";
    pub const UPLOADS: &str = "uploads.jsonl";
    /// The uploaded files themselves: `uploads/<file_name>`.
    pub const UPLOADS_DIR: &str = "uploads/";
    /// Each post and page as Markdown with front matter: `posts/<slug>.md`, `pages/<slug>.md`.
    pub const POSTS_DIR: &str = "posts/";
    pub const PAGES_DIR: &str = "pages/";
}

/// `quire.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `quire-export`.
    pub format: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// `quire 0.1.0`: which Quire wrote it.
    #[serde(default)]
    pub generator: String,
    pub site: SiteRecord,
    #[serde(default)]
    pub navigation: Navigation,
    #[serde(default)]
    pub counts: Counts,
}

/// Every site setting, and where the site was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteRecord {
    /// `http.base_url` without its trailing slash.
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub posts_per_page: i32,
    #[serde(default)]
    pub footer_text: String,
    #[serde(default)]
    pub accent_color: String,
    #[serde(default)]
    pub logo_url: String,
    #[serde(default)]
    pub icon_url: String,
    #[serde(default)]
    pub registrations_open: bool,
    /// `reader`, `author`, `editor` or `admin`.
    #[serde(default)]
    pub default_role: String,
    pub comments: CommentsMode,
    #[serde(default)]
    pub verify_email: bool,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// How many records each file holds (posts and pages both live in `posts.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub accounts: u64,
    pub tags: u64,
    pub posts: u64,
    pub pages: u64,
    pub comments: u64,
    pub redirects: u64,
    pub uploads: u64,
}

/// `accounts.jsonl`: who someone is, never how they log in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// `reader`, `author`, `editor` or `admin`.
    pub role: String,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `tags.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `posts.jsonl`: posts and pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub id: i64,
    pub kind: PostKind,
    pub title: String,
    pub slug: String,
    /// The author's own excerpt; empty: made from the body.
    #[serde(default)]
    pub excerpt: String,
    pub body_markdown: String,
    pub status: PostStatus,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Account ids, the primary author first (Quire has one author per post today).
    pub author_ids: Vec<i64>,
    /// Tag ids, the primary tag first.
    #[serde(default)]
    pub tag_ids: Vec<i64>,
    #[serde(default)]
    pub featured: bool,
    #[serde(default)]
    pub cover_image: Option<String>,
    #[serde(default)]
    pub meta: PostMeta,
}

/// `comments.jsonl`: by an account (`author_id`) or by a guest (`guest`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    pub post_id: i64,
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub author_id: Option<i64>,
    #[serde(default)]
    pub guest: Option<Guest>,
    pub body_markdown: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `false`: waiting for a moderator.
    #[serde(default = "yes")]
    pub approved: bool,
    /// Hidden by a moderator.
    #[serde(default)]
    pub hidden: bool,
}

fn yes() -> bool {
    true
}

/// Someone who commented without an account (imported comments).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guest {
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub url: String,
}

/// `redirects.jsonl`: an old address and where it leads now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redirect {
    /// A path on the site (`/old/path`, with its query when it had one).
    pub from: String,
    /// A path on the site or an absolute URL.
    pub to: String,
    /// 301 (`true`) or 302.
    #[serde(default = "yes")]
    pub permanent: bool,
}

/// `uploads.jsonl`: an uploaded image; its bytes are `uploads/<file_name>` in the archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub bytes: i64,
    pub uploader_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
