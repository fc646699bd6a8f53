//! A blog being moved in, as every reader (WordPress, Ghost, a Markdown folder, a Quire
//! archive) hands it over: plain values, in the order the writer needs them (the site, then
//! authors and tags, then posts each followed by its comments, then loose redirects). A
//! reader turns its format into these and nothing else; the writer (`super::write`) checks
//! them with the same rules as typed posts, finds what an earlier import already brought
//! (`import_keys`) and writes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::posts::model::{PostKind, PostStatus};

/// One object of the blog being imported.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Author(Author),
    Tag(Tag),
    Post(Box<Post>),
    Comment(Comment),
    Redirect(Redirect),
}

/// Where the blog comes from, read before any item: what `import_keys.source` is keyed by.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Site {
    /// `wordpress`, `ghost`, `markdown` or `quire`.
    pub format: String,
    /// The old site's address (`https://old.example`), when the file says it; with the
    /// format, what tells one source from another.
    pub url: String,
    pub title: String,
    pub description: String,
}

impl Site {
    /// `import_keys.source`: the same site imported twice is found again.
    pub fn key(&self) -> String {
        format!("{}:{}", self.format, self.url.trim_end_matches('/'))
    }
}

/// What the account was on the old site: only shown in the dry run, where the admin may
/// make someone staff. Imported accounts are authors unless the admin says otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldRole {
    Admin,
    Editor,
    #[default]
    Author,
    Contributor,
    Other,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Author {
    pub source_id: String,
    /// The login on the old site, as it was (the writer makes a valid, free username).
    pub login: String,
    /// Empty when the file has none.
    pub email: String,
    pub display_name: String,
    pub bio: String,
    /// An image reference as in the source (resolved like every other image).
    pub avatar: Option<String>,
    pub old_role: OldRole,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tag {
    pub source_id: String,
    pub name: String,
    /// As on the old site; empty: made from the name.
    pub slug: String,
    pub description: String,
    /// Addresses of the tag's page on the old site (`/category/news/`): each becomes a
    /// redirect to its page here.
    #[serde(default)]
    pub old_urls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub source_id: String,
    pub kind: PostKind,
    pub title: String,
    /// As on the old site; kept when free here, else the writer picks a free one.
    pub slug: String,
    /// The author's own excerpt; empty: derived from the body, as for typed posts.
    pub excerpt: String,
    /// Markdown, with image and link addresses as in the source: the writer copies the
    /// images it can find and rewrites their addresses.
    pub body_markdown: String,
    pub status: PostStatus,
    /// When it went (or goes) public; `None` for drafts.
    pub published_at: Option<OffsetDateTime>,
    /// The authors' `source_id`s, the primary one first. Empty: the importing admin.
    pub authors: Vec<String>,
    /// The tags' `source_id`s, the primary one first (a page's are ignored).
    pub tags: Vec<String>,
    pub featured: bool,
    /// The cover image's address, as in the source.
    pub cover: Option<String>,
    pub cover_alt: String,
    pub cover_caption: String,
    pub meta_title: String,
    pub meta_description: String,
    pub canonical_url: String,
    /// Addresses this post had (absolute URLs or paths, with a query where it mattered:
    /// `/?p=12`): each becomes a redirect to its new address.
    pub old_urls: Vec<String>,
    /// What the reader could not carry over as such (a shortcode kept as text, say), for
    /// the report.
    pub notes: Vec<String>,
}

impl Default for Post {
    fn default() -> Self {
        Post {
            source_id: String::new(),
            kind: PostKind::Post,
            title: String::new(),
            slug: String::new(),
            excerpt: String::new(),
            body_markdown: String::new(),
            status: PostStatus::Draft,
            published_at: None,
            authors: Vec::new(),
            tags: Vec::new(),
            featured: false,
            cover: None,
            cover_alt: String::new(),
            cover_caption: String::new(),
            meta_title: String::new(),
            meta_description: String::new(),
            canonical_url: String::new(),
            old_urls: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Who wrote a comment: an imported account, or someone who only left a name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum CommentAuthor {
    /// An `Author`'s `source_id`.
    Account { source_id: String },
    Guest {
        name: String,
        email: String,
        url: String,
    },
}

/// An approved comment (readers' spam and trash are left behind by the readers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub source_id: String,
    /// Its post's `source_id`.
    pub post: String,
    /// The comment it answers, by `source_id`.
    pub parent: Option<String>,
    pub author: CommentAuthor,
    pub body_markdown: String,
    pub created_at: OffsetDateTime,
}

/// A redirect of the old site's own (Ghost's redirects, a Quire archive's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redirect {
    pub from: String,
    pub to: RedirectTarget,
    /// 301 (true) or 302.
    pub permanent: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum RedirectTarget {
    /// A post or page of this import, by `source_id`.
    Post(String),
    /// A path on this site or an absolute URL.
    Url(String),
}

/// Where a malformed file broke: a line and column (XML, JSON, front matter) or a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("{file}: line {line}, column {column}: {message}")]
    At {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{file}: at {path}: {message}")]
    Path {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}
