//! `quire import ghost FILE.json [--images DIR]`: Ghost's export (Settings → Import/Export,
//! versions 2 to 6) read into the import model.
//!
//! The file is `{"db":[{"meta":…,"data":{"posts":[…],…}}]}` (or the same without `db`); it
//! is parsed whole in `check` (Ghost exports are moderate in size: the content, not the
//! images) into the few tables read here, everything else skipped unparsed. A file that is
//! not JSON is refused with its line and column, one of the wrong shape with the path where
//! it went wrong.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::convert::{ghost as editor, html_to_markdown};
use super::model::{Author, Item, OldRole, Post, Tag};
use super::{Emit, Format, ImageDir, Malformed, ReadError, Site};
use crate::posts::model::{PostKind, PostStatus};

/// Ghost writes its own address as this placeholder in links and images since 4.0: made
/// site-relative here, so links between posts stay links on the new site.
const GHOST_URL: &str = "__GHOST_URL__";

pub struct Ghost {
    path: PathBuf,
    images: Option<ImageDir>,
    data: Option<Data>,
}

impl Ghost {
    /// `images`: a copy of the old site's `content/images` (`--images DIR`).
    pub fn open(path: impl Into<PathBuf>, images: Option<&Path>) -> std::io::Result<Self> {
        let images = images
            .map(|dir| {
                ImageDir::new(
                    dir,
                    vec![
                        format!("{GHOST_URL}/content/images/"),
                        "/content/images/".into(),
                        "content/images/".into(),
                    ],
                )
            })
            .transpose()?;
        Ok(Ghost {
            path: path.into(),
            images,
            data: None,
        })
    }

    fn file_name(&self) -> String {
        self.path.display().to_string()
    }
}

impl Format for Ghost {
    fn check(&mut self) -> Result<Site, ReadError> {
        let bytes = std::fs::read(&self.path).map_err(|e| Malformed::File {
            file: self.file_name(),
            message: e.to_string(),
        })?;
        let data = parse(&bytes, &self.file_name())?;
        let setting = |key: &str| {
            data.settings
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.value.as_ref())
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let site = Site {
            format: "ghost".into(),
            // Ghost's exports name no address; `db_hash` is one per installation, so two
            // Ghost sites never share keys.
            url: match setting("url") {
                url if !url.is_empty() => url,
                _ => match setting("db_hash") {
                    hash if !hash.is_empty() => format!("db_hash:{hash}"),
                    _ => String::new(),
                },
            },
            title: setting("title"),
            description: setting("description"),
        };
        // Absolute addresses of the old site's images (`https://old.example/content/images/…`)
        // are found in the folder too.
        if let Some(images) = &mut self.images {
            let mut hosts: Vec<String> = data
                .posts
                .iter()
                .flat_map(|p| [p.html.as_deref(), p.feature_image.as_deref()])
                .flatten()
                .flat_map(image_hosts)
                .collect();
            hosts.sort();
            hosts.dedup();
            let mut prefixes = vec![
                format!("{GHOST_URL}/content/images/"),
                "/content/images/".into(),
                "content/images/".into(),
            ];
            prefixes.extend(
                hosts
                    .into_iter()
                    .map(|h| format!("https://{h}/content/images/")),
            );
            *images = ImageDir::new(images.root(), prefixes).map_err(anyhow::Error::from)?;
        }
        self.data = Some(data);
        Ok(site)
    }

    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        if self.data.is_none() {
            self.check()?;
        }
        let Some(data) = self.data.take() else {
            return Ok(());
        };
        items(&data, emit)?;
        Ok(())
    }

    fn images(&self) -> Option<&ImageDir> {
        self.images.as_ref()
    }
}

/// The file's tables, or where it is malformed.
fn parse(bytes: &[u8], file: &str) -> Result<Data, Malformed> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let export: Export = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Malformed::At {
                file: file.to_owned(),
                line: inner.line() as u64,
                column: inner.column() as u64,
                message: inner.to_string(),
            }
        } else {
            Malformed::Path {
                file: file.to_owned(),
                path,
                message: inner.to_string(),
            }
        }
    })?;
    de.end().map_err(|e| Malformed::At {
        file: file.to_owned(),
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    })?;
    let (data, at) = match export {
        Export {
            db: Some(mut db), ..
        } if !db.is_empty() => (db.swap_remove(0).data, "db[0].data"),
        Export {
            data: Some(data), ..
        } => (data, "data"),
        _ => {
            return Err(Malformed::Path {
                file: file.to_owned(),
                path: ".".into(),
                message: "not a Ghost export: no \"db\" nor \"data\"".into(),
            });
        }
    };
    // The editor documents of posts without HTML must be readable: found now, not halfway
    // through the import.
    for (i, post) in data.posts.iter().enumerate() {
        if post.html.as_deref().is_some_and(|h| !h.trim().is_empty()) {
            continue;
        }
        for (name, doc) in [("lexical", &post.lexical), ("mobiledoc", &post.mobiledoc)] {
            if let Some(doc) = doc.as_deref().filter(|d| !d.trim().is_empty()) {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(doc) {
                    return Err(Malformed::Path {
                        file: file.to_owned(),
                        path: format!("{at}.posts[{i}].{name}"),
                        message: e.to_string(),
                    });
                }
                break;
            }
        }
    }
    Ok(data)
}

/// Hosts of absolute image addresses under `/content/images/` in some text.
fn image_hosts(text: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for part in text.split("://").skip(1) {
        let host: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            .collect();
        if !host.is_empty() && part[host.len()..].starts_with("/content/images/") {
            hosts.push(host.to_ascii_lowercase());
        }
    }
    hosts
}

fn site_relative(s: &str) -> String {
    s.replace(GHOST_URL, "")
}

/// Every item of the export, in the model's order: authors, tags, then posts, each
/// converted when it is handed over (only one post's Markdown is held at a time).
fn items(data: &Data, emit: Emit<'_>) -> anyhow::Result<()> {
    let roles: HashMap<&str, &str> = data
        .roles
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    for user in &data.users {
        let role = data
            .roles_users
            .iter()
            .filter(|ru| ru.user_id == user.id)
            .filter_map(|ru| roles.get(ru.role_id.as_str()))
            .map(|name| old_role(name))
            .min_by_key(|r| rank(*r))
            .unwrap_or(OldRole::Author);
        emit(Item::Author(Author {
            source_id: user.id.clone(),
            login: user.slug.clone().unwrap_or_default(),
            email: user.email.clone().unwrap_or_default(),
            display_name: user.name.clone().unwrap_or_default(),
            bio: user.bio.clone().unwrap_or_default(),
            avatar: user
                .profile_image
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(site_relative),
            old_role: role,
        }))?;
    }
    let internal = |t: &GhostTag| {
        t.name.as_deref().unwrap_or("").starts_with('#')
            || t.visibility.as_deref() == Some("internal")
    };
    for tag in data.tags.iter().filter(|t| !internal(t)) {
        emit(Item::Tag(Tag {
            source_id: tag.id.clone(),
            name: tag.name.clone().unwrap_or_default(),
            slug: tag.slug.clone().unwrap_or_default(),
            description: tag.description.clone().unwrap_or_default(),
            // Ghost's tag pages.
            old_urls: tag
                .slug
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| format!("/tag/{s}/"))
                .collect(),
        }))?;
    }
    let public_tags: HashMap<&str, ()> = data
        .tags
        .iter()
        .filter(|t| !internal(t))
        .map(|t| (t.id.as_str(), ()))
        .collect();
    let users: HashMap<&str, ()> = data.users.iter().map(|u| (u.id.as_str(), ())).collect();
    let meta: HashMap<&str, &PostMeta> = data
        .posts_meta
        .iter()
        .map(|m| (m.post_id.as_str(), m))
        .collect();
    let mut authors_of: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for pa in &data.posts_authors {
        authors_of
            .entry(pa.post_id.as_str())
            .or_default()
            .push((pa.sort_order.unwrap_or(0), pa.author_id.as_str()));
    }
    let mut tags_of: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for pt in &data.posts_tags {
        tags_of
            .entry(pt.post_id.as_str())
            .or_default()
            .push((pt.sort_order.unwrap_or(0), pt.tag_id.as_str()));
    }
    for post in &data.posts {
        let mut authors = authors_of.remove(post.id.as_str()).unwrap_or_default();
        authors.sort_by_key(|(order, _)| *order);
        let mut authors: Vec<String> = authors
            .into_iter()
            .map(|(_, id)| id.to_owned())
            .filter(|id| users.contains_key(id.as_str()))
            .collect();
        if authors.is_empty() {
            authors.extend(
                post.author_id
                    .clone()
                    .filter(|id| users.contains_key(id.as_str())),
            );
        }
        let mut tags = tags_of.remove(post.id.as_str()).unwrap_or_default();
        tags.sort_by_key(|(order, _)| *order);
        let tags = tags
            .into_iter()
            .map(|(_, id)| id.to_owned())
            .filter(|id| public_tags.contains_key(id.as_str()))
            .collect();
        emit(Item::Post(Box::new(post_item(
            post,
            meta.get(post.id.as_str()).copied(),
            authors,
            tags,
        ))))?;
    }
    Ok(())
}

fn post_item(
    post: &GhostPost,
    meta: Option<&PostMeta>,
    authors: Vec<String>,
    tags: Vec<String>,
) -> Post {
    let mut notes = Vec::new();
    let (body_markdown, body_notes) = body(post);
    notes.extend(body_notes);
    // Quire has no members-only posts: what Ghost kept for members is public here.
    if let Some(v) = post
        .visibility
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "public")
    {
        notes.push(format!(
            "visible to \"{v}\" members only in Ghost: public here"
        ));
    }
    let kind = match post.kind.as_deref() {
        Some("page") => PostKind::Page,
        Some(_) => PostKind::Post,
        None if post.page.unwrap_or(false) => PostKind::Page,
        None => PostKind::Post,
    };
    let published = post.published_at.or(post.created_at);
    let (status, published_at) = match post.status.as_deref() {
        Some("published") | Some("sent") => (PostStatus::Published, published),
        Some("scheduled") => (PostStatus::Scheduled, post.published_at),
        Some("draft") | None => (PostStatus::Draft, None),
        Some(other) => {
            notes.push(format!("status \"{other}\" imported as a draft"));
            (PostStatus::Draft, None)
        }
    };
    // Ghost 2 keeps these on the post, 3 and later in posts_meta.
    let pick = |from_meta: Option<&Option<String>>, on_post: &Option<String>| {
        from_meta
            .and_then(|v| v.as_deref())
            .or(on_post.as_deref())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let meta_title = pick(meta.map(|m| &m.meta_title), &post.meta_title)
        .or_else(|| pick(meta.map(|m| &m.og_title), &post.og_title))
        .unwrap_or_default();
    let meta_description = pick(meta.map(|m| &m.meta_description), &post.meta_description)
        .or_else(|| pick(meta.map(|m| &m.og_description), &post.og_description))
        .unwrap_or_default();
    let cover_alt =
        pick(meta.map(|m| &m.feature_image_alt), &post.feature_image_alt).unwrap_or_default();
    let cover_caption = pick(
        meta.map(|m| &m.feature_image_caption),
        &post.feature_image_caption,
    )
    .map(|c| caption_text(&c))
    .unwrap_or_default();
    let slug = post.slug.clone().unwrap_or_default();
    Post {
        source_id: post
            .uuid
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| post.id.clone()),
        kind,
        title: post.title.clone().unwrap_or_default(),
        old_urls: if slug.is_empty() {
            Vec::new()
        } else {
            vec![format!("/{slug}/")]
        },
        slug,
        excerpt: post.custom_excerpt.clone().unwrap_or_default(),
        body_markdown,
        status,
        published_at,
        authors,
        tags,
        featured: post.featured.unwrap_or(false),
        cover: post
            .feature_image
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(site_relative),
        cover_alt,
        cover_caption,
        meta_title,
        meta_description,
        canonical_url: post
            .canonical_url
            .as_deref()
            .map(site_relative)
            .unwrap_or_default(),
        notes,
    }
}

/// A caption is HTML in Ghost; the model wants its text.
fn caption_text(html: &str) -> String {
    html_to_markdown(html).markdown.trim().to_owned()
}

/// The post's Markdown: from its `html`, else rendered from its Lexical or Mobiledoc
/// document (`parse` made sure those read), else from its plain text.
fn body(post: &GhostPost) -> (String, Vec<String>) {
    if let Some(html) = post.html.as_deref().filter(|h| !h.trim().is_empty()) {
        let c = html_to_markdown(&site_relative(html));
        return (c.markdown, c.notes);
    }
    let documents = [
        (
            post.lexical.as_deref(),
            editor::lexical_to_html as fn(&_) -> _,
        ),
        (post.mobiledoc.as_deref(), editor::mobiledoc_to_html),
    ];
    for (doc, render) in documents {
        let Some(doc) = doc.filter(|d| !d.trim().is_empty()) else {
            continue;
        };
        let rendered = serde_json::from_str(doc)
            .map_err(|e| e.to_string())
            .and_then(|v| render(&v));
        match rendered {
            Ok(r) => {
                let c = html_to_markdown(&site_relative(&r.html));
                let mut notes = r.notes;
                notes.extend(c.notes);
                notes.sort();
                notes.dedup();
                return (c.markdown, notes);
            }
            Err(e) => {
                let text = post.plaintext.as_deref().unwrap_or("");
                let c = html_to_markdown(&format!("<pre>{}</pre>", text.replace('<', "&lt;")));
                let markdown = if text.trim().is_empty() {
                    String::new()
                } else {
                    c.markdown
                };
                return (
                    markdown,
                    vec![format!(
                        "the editor document could not be read ({e}): its plain text was kept"
                    )],
                );
            }
        }
    }
    let text = post.plaintext.as_deref().unwrap_or("");
    let paragraphs: String = text
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('&', "&amp;").replace('<', "&lt;")))
        .collect();
    (html_to_markdown(&paragraphs).markdown, Vec::new())
}

fn old_role(name: &str) -> OldRole {
    match name {
        "Administrator" | "Owner" => OldRole::Admin,
        "Editor" | "Super Editor" => OldRole::Editor,
        "Author" => OldRole::Author,
        "Contributor" => OldRole::Contributor,
        _ => OldRole::Other,
    }
}

/// The strongest of a user's roles wins (an Owner is also listed as Administrator).
fn rank(role: OldRole) -> u8 {
    match role {
        OldRole::Admin => 0,
        OldRole::Editor => 1,
        OldRole::Author => 2,
        OldRole::Contributor => 3,
        OldRole::Other => 4,
    }
}

// The export's shape: only what is read, every field optional (Ghost added and moved fields
// between versions), unknown fields and tables skipped.

#[derive(Deserialize)]
struct Export {
    db: Option<Vec<Db>>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Db {
    data: Data,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Data {
    posts: Vec<GhostPost>,
    tags: Vec<GhostTag>,
    users: Vec<User>,
    posts_tags: Vec<PostTag>,
    posts_authors: Vec<PostAuthor>,
    posts_meta: Vec<PostMeta>,
    roles: Vec<Role>,
    roles_users: Vec<RoleUser>,
    settings: Vec<Setting>,
}

#[derive(Deserialize)]
struct GhostPost {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    lexical: Option<String>,
    #[serde(default)]
    mobiledoc: Option<String>,
    #[serde(default)]
    plaintext: Option<String>,
    #[serde(default)]
    feature_image: Option<String>,
    #[serde(default)]
    feature_image_alt: Option<String>,
    #[serde(default)]
    feature_image_caption: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    featured: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    page: Option<bool>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    meta_title: Option<String>,
    #[serde(default)]
    meta_description: Option<String>,
    #[serde(default)]
    og_title: Option<String>,
    #[serde(default)]
    og_description: Option<String>,
    #[serde(default)]
    canonical_url: Option<String>,
    #[serde(default)]
    custom_excerpt: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    author_id: Option<String>,
    #[serde(default, deserialize_with = "date")]
    published_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "date")]
    created_at: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
struct PostMeta {
    #[serde(deserialize_with = "id")]
    post_id: String,
    #[serde(default)]
    meta_title: Option<String>,
    #[serde(default)]
    meta_description: Option<String>,
    #[serde(default)]
    og_title: Option<String>,
    #[serde(default)]
    og_description: Option<String>,
    #[serde(default)]
    feature_image_alt: Option<String>,
    #[serde(default)]
    feature_image_caption: Option<String>,
}

#[derive(Deserialize)]
struct GhostTag {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
}

#[derive(Deserialize)]
struct User {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    bio: Option<String>,
    #[serde(default)]
    profile_image: Option<String>,
}

#[derive(Deserialize)]
struct PostTag {
    #[serde(deserialize_with = "id")]
    post_id: String,
    #[serde(deserialize_with = "id")]
    tag_id: String,
    #[serde(default)]
    sort_order: Option<i64>,
}

#[derive(Deserialize)]
struct PostAuthor {
    #[serde(deserialize_with = "id")]
    post_id: String,
    #[serde(deserialize_with = "id")]
    author_id: String,
    #[serde(default)]
    sort_order: Option<i64>,
}

#[derive(Deserialize)]
struct Role {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct RoleUser {
    #[serde(deserialize_with = "id")]
    role_id: String,
    #[serde(deserialize_with = "id")]
    user_id: String,
}

#[derive(Deserialize)]
struct Setting {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
}

/// Ids are strings since Ghost 1, numbers before.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    S(String),
    N(i64),
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match RawId::deserialize(d)? {
        RawId::S(s) => s,
        RawId::N(n) => n.to_string(),
    })
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<RawId>::deserialize(d)?.map(|r| match r {
        RawId::S(s) => s,
        RawId::N(n) => n.to_string(),
    }))
}

/// `true`, or `1` as Ghost 2 wrote it.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        B(bool),
        N(i64),
    }
    Ok(Option::<Flag>::deserialize(d)?.map(|f| match f {
        Flag::B(b) => b,
        Flag::N(n) => n != 0,
    }))
}

/// `2021-03-24T05:57:56.000Z`, `2021-03-24 05:57:56` (UTC), or milliseconds since 1970.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(i64),
    }
    let Some(raw) = Option::<Raw>::deserialize(d)? else {
        return Ok(None);
    };
    let bad = |s: &str| serde::de::Error::custom(format!("not a date: {s:?}"));
    match raw {
        Raw::N(ms) => OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map(Some)
            .map_err(|_| bad(&ms.to_string())),
        Raw::S(s) if s.trim().is_empty() => Ok(None),
        Raw::S(s) => {
            let t = s.trim();
            OffsetDateTime::parse(t, &Rfc3339)
                .or_else(|_| {
                    OffsetDateTime::parse(&format!("{}Z", t.replacen(' ', "T", 1)), &Rfc3339)
                })
                .map(Some)
                .map_err(|_| bad(t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ghost")
            .join(name)
    }

    fn read_all(path: &Path) -> Result<(Site, Vec<Item>), ReadError> {
        let mut g = Ghost::open(path, None).map_err(anyhow::Error::from)?;
        let site = g.check()?;
        let mut items = Vec::new();
        g.read(&mut |item| {
            items.push(item);
            Ok(())
        })?;
        Ok((site, items))
    }

    fn posts(items: &[Item]) -> Vec<&Post> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Post(p) => Some(p.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn temp(name: &str, body: &str) -> std::io::Result<PathBuf> {
        let path =
            std::env::temp_dir().join(format!("quire-ghost-{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, body)?;
        Ok(path)
    }

    #[test]
    fn ghost_4s_export_is_read_whole() -> Result<(), Box<dyn std::error::Error>> {
        let (site, items) = read_all(&fixture("v4_export.json"))?;
        assert_eq!(site.format, "ghost");
        assert_eq!(site.title, "Testing Export Fixtures");
        assert_eq!(site.description, "Thoughts, stories and ideas.");
        let authors: Vec<&Author> = items
            .iter()
            .filter_map(|i| match i {
                Item::Author(a) => Some(a),
                _ => None,
            })
            .collect();
        let logins: Vec<(&str, OldRole)> = authors
            .iter()
            .map(|a| (a.login.as_str(), a.old_role))
            .collect();
        assert_eq!(
            logins,
            [("fixture", OldRole::Admin), ("ghost", OldRole::Contributor)]
        );
        assert_eq!(authors[1].email, "ghost-author@example.com");
        assert_eq!(
            authors[1].bio,
            "You can delete this user to remove all the welcome posts"
        );
        let tags: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Tag(t) => Some(t.slug.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(tags, ["getting-started"]);
        let posts = posts(&items);
        let kinds: Vec<(&str, PostKind)> =
            posts.iter().map(|p| (p.slug.as_str(), p.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("sell", PostKind::Post),
                ("about", PostKind::Page),
                ("contact", PostKind::Page)
            ]
        );
        let sell = posts[0];
        assert_eq!(sell.source_id, "fd81262a-c93d-4361-8e06-c88673f0c3a7");
        assert_eq!(
            sell.title,
            "Selling premium memberships with recurring revenue"
        );
        assert_eq!(sell.status, PostStatus::Published);
        assert_eq!(
            sell.published_at,
            Some(time::macros::datetime!(2021-03-24 04:34:11 UTC))
        );
        assert_eq!(sell.authors, ["5951f5fca366002ebd5dbef7"]);
        assert_eq!(sell.tags, ["605ac140a2d5a6aa9e101e63"]);
        assert_eq!(
            sell.cover.as_deref(),
            Some("https://static.ghost.org/v4.0.0/images/organizing-your-content.png")
        );
        assert_eq!(sell.old_urls, ["/sell/"]);
        assert!(sell.body_markdown.starts_with(
            "For creators and aspiring entrepreneurs looking to generate a sustainable recurring revenue stream"
        ));
        assert!(
            sell.body_markdown
                .contains("Connect your [Stripe](https://stripe.com) account to Ghost")
        );
        assert!(sell.body_markdown.contains(
            "[![](https://static.ghost.org/v4.0.0/images/thebrowser.jpg)](https://thebrowser.com)\n\n*The Browser has over 10,000 paying subscribers*\n\n"
        ));
        assert!(
            sell.body_markdown
                .contains("that's a good time to...\n\nHold back some")
        );
        let about = posts[1];
        assert!(about.body_markdown.contains(
            "> **Tip:** If you're reading any post or page on your site and you notice something you want to edit, you can add `/edit` to the end of the URL"
        ), "{}", about.body_markdown);
        assert_eq!(about.excerpt, "");
        assert!(posts[2].body_markdown.contains(
            "- [@Ghost](https://twitter.com/ghost) on Twitter\n- [@Ghost](https://www.facebook.com/ghost) on Facebook\n"
        ));
        Ok(())
    }

    #[test]
    fn ghost_2s_export_is_read_whole() -> Result<(), Box<dyn std::error::Error>> {
        let (site, items) = read_all(&fixture("v2_export.json"))?;
        assert_eq!(site.title, "Testing Export Fixtures");
        let posts = posts(&items);
        assert_eq!(posts.len(), 1);
        let apps = posts[0];
        // `page: 0` and `featured: 0` as Ghost 2 wrote them.
        assert_eq!((apps.kind, apps.featured), (PostKind::Post, false));
        assert_eq!(
            apps.excerpt,
            "There are three primary ways to work with third-party services in Ghost: using Zapier, editing your theme, or using the Ghost API."
        );
        assert_eq!(apps.authors, ["5951f5fca366002ebd5dbef7"]);
        let md = &apps.body_markdown;
        assert!(md.contains("\n\n# Zapier\n\n"), "{md}");
        assert!(
            !md.contains("script") && !md.contains("zapier.com/apps"),
            "{md}"
        );
        assert!(md.contains("**Here are the most popular Ghost<>Zapier automation templates:**"));
        assert!(md.contains("- Include comments on a Ghost blog with [Disqus](https://help.ghost.org/article/15-disqus) or [Discourse](https://help.ghost.org/article/35-discourse)\n"));
        assert!(md.ends_with("here are [some more details](/themes/) on how that works.\n"));
        assert_eq!(apps.notes, ["<script> left out"]);
        Ok(())
    }

    #[test]
    fn authors_and_tags_keep_their_order_and_internal_tags_stay_behind()
    -> Result<(), Box<dyn std::error::Error>> {
        let export = serde_json::json!({"meta": {"version": "5.2.0"}, "data": {
            "users": [{"id": "a"}, {"id": "b"}, {"id": "c", "slug": "c"}],
            "roles": [{"id": "r1", "name": "Editor"}, {"id": "r2", "name": "Administrator"}],
            "roles_users": [{"role_id": "r1", "user_id": "b"}, {"role_id": "r2", "user_id": "b"}],
            "tags": [{"id": "t1", "name": "One"}, {"id": "t2", "name": "#hidden"},
                     {"id": "t3", "name": "Three", "visibility": "public"}],
            "posts": [
                {"id": "p1", "uuid": "u1", "title": "A", "slug": "a", "html": "<p>x</p>",
                 "status": "sent", "published_at": "2022-05-01 10:00:00", "page": true,
                 "meta_title": "On the post", "featured": true},
                {"id": 2, "title": "B", "slug": "b", "html": "", "plaintext": "Just <text>\n\nTwo",
                 "status": "draft", "author_id": "c", "canonical_url": "__GHOST_URL__/elsewhere/"}
            ],
            "posts_authors": [
                {"post_id": "p1", "author_id": "b", "sort_order": 1},
                {"post_id": "p1", "author_id": "a", "sort_order": 0},
                {"post_id": "p1", "author_id": "gone", "sort_order": 2}
            ],
            "posts_tags": [
                {"post_id": "p1", "tag_id": "t3", "sort_order": 0},
                {"post_id": "p1", "tag_id": "t2", "sort_order": 1},
                {"post_id": "p1", "tag_id": "t1", "sort_order": 2}
            ],
            "posts_meta": [{"post_id": "p1", "meta_title": "From posts_meta", "meta_description": null,
                            "og_description": "OG"}]
        }});
        let path = temp("order.json", &export.to_string())?;
        let (_, items) = read_all(&path)?;
        std::fs::remove_file(&path)?;
        let tags: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Tag(t) => Some(t.source_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(tags, ["t1", "t3"]);
        let roles: Vec<OldRole> = items
            .iter()
            .filter_map(|i| match i {
                Item::Author(a) => Some(a.old_role),
                _ => None,
            })
            .collect();
        assert_eq!(roles, [OldRole::Author, OldRole::Admin, OldRole::Author]);
        let posts = posts(&items);
        let a = posts[0];
        assert_eq!(a.authors, ["a", "b"]);
        assert_eq!(a.tags, ["t3", "t1"]);
        assert_eq!(
            (a.kind, a.status, a.featured),
            (PostKind::Page, PostStatus::Published, true)
        );
        assert_eq!(
            a.published_at,
            Some(time::macros::datetime!(2022-05-01 10:00 UTC))
        );
        assert_eq!(
            (a.meta_title.as_str(), a.meta_description.as_str()),
            ("From posts_meta", "OG")
        );
        let b = posts[1];
        assert_eq!(b.source_id, "2");
        assert_eq!(b.authors, ["c"]);
        assert_eq!((b.status, b.published_at), (PostStatus::Draft, None));
        assert_eq!(b.body_markdown, "Just \\<text>\n\nTwo\n");
        assert_eq!(b.canonical_url, "/elsewhere/");
        Ok(())
    }

    #[test]
    fn malformed_json_is_refused_with_line_and_column() -> Result<(), Box<dyn std::error::Error>> {
        let path = temp("bad.json", "{\"db\": [\n  {\"data\": {\"posts\": [}\n]}")?;
        let err = Ghost::open(&path, None)?.check().err();
        std::fs::remove_file(&path)?;
        match err {
            Some(ReadError::Malformed(Malformed::At { line, column, .. })) => {
                assert_eq!((line, column), (2, 23));
            }
            other => panic!("refused with a place: {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn a_wrong_shape_is_refused_with_its_path() -> Result<(), Box<dyn std::error::Error>> {
        let path = temp(
            "shape.json",
            r#"{"db":[{"meta":{},"data":{"posts":[{"id":"1","title":"ok"},{"id":"2","featured":"yes"}]}}]}"#,
        )?;
        let err = Ghost::open(&path, None)?.check().err();
        std::fs::remove_file(&path)?;
        match err {
            Some(ReadError::Malformed(Malformed::Path { path, .. })) => {
                assert_eq!(path, "db[0].data.posts[1].featured");
            }
            other => panic!("refused with a path: {other:?}"),
        }
        let path = temp("nothing.json", r#"{"posts":[]}"#)?;
        let err = Ghost::open(&path, None)?.check().err();
        std::fs::remove_file(&path)?;
        assert!(
            matches!(err, Some(ReadError::Malformed(Malformed::Path { .. }))),
            "{err:?}"
        );
        let path = temp(
            "lexical.json",
            r#"{"data":{"posts":[{"id":"1","lexical":"{\"root\":"}]}}"#,
        )?;
        let err = Ghost::open(&path, None)?.check().err();
        std::fs::remove_file(&path)?;
        match err {
            Some(ReadError::Malformed(Malformed::Path { path, .. })) => {
                assert_eq!(path, "data.posts[0].lexical");
            }
            other => panic!("refused with a path: {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn a_post_without_html_is_rendered_from_its_lexical() -> Result<(), Box<dyn std::error::Error>>
    {
        let lexical = serde_json::json!({"root": {"type": "root", "children": [
            {"type": "paragraph", "children": [
                {"type": "text", "text": "See ", "format": 0},
                {"type": "link", "url": "__GHOST_URL__/other/", "children": [{"type": "text", "text": "the other post", "format": 2}]}
            ]},
            {"type": "image", "src": "__GHOST_URL__/content/images/2023/01/x.jpg", "alt": "X", "caption": ""}
        ]}});
        let export = serde_json::json!({"db": [{"meta": {"version": "5.0.0"}, "data": {
            "posts": [{"id": "p1", "uuid": "u-1", "title": "T", "slug": "t", "lexical": lexical.to_string(),
                       "html": null, "status": "scheduled", "type": "post",
                       "published_at": "2030-01-02T03:04:05.000Z"}],
            "posts_meta": [{"post_id": "p1", "meta_title": null, "og_title": "OG title",
                            "feature_image_alt": "Alt"}]
        }}]});
        let path = temp("lexical-ok.json", &export.to_string())?;
        let (_, items) = read_all(&path)?;
        std::fs::remove_file(&path)?;
        let post = posts(&items)[0];
        assert_eq!(
            post.body_markdown,
            "See [*the other post*](/other/)\n\n![X](/content/images/2023/01/x.jpg)\n"
        );
        assert_eq!(post.status, PostStatus::Scheduled);
        assert!(post.published_at.is_some());
        assert_eq!(
            (post.meta_title.as_str(), post.cover_alt.as_str()),
            ("OG title", "Alt")
        );
        assert_eq!(post.old_urls, ["/t/"]);
        Ok(())
    }

    #[test]
    fn images_are_found_under_ghosts_addresses() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("quire-ghost-images-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("2021/03"))?;
        std::fs::write(dir.join("2021/03/x.jpg"), b"x")?;
        let export = serde_json::json!({"data": {"posts": [{"id": "1",
            "html": "<img src=\"https://old.example/content/images/2021/03/x.jpg\">"}]}});
        let path = temp("images.json", &export.to_string())?;
        let mut g = Ghost::open(&path, Some(&dir))?;
        g.check()?;
        let images = g.images().ok_or("an image folder")?;
        for found in [
            "__GHOST_URL__/content/images/2021/03/x.jpg",
            "/content/images/2021/03/x.jpg",
            "https://old.example/content/images/2021/03/x.jpg",
        ] {
            assert!(images.locate(found).is_some(), "{found}");
        }
        assert!(
            images
                .locate("https://elsewhere.example/content/images/2021/03/x.jpg")
                .is_none()
        );
        std::fs::remove_file(&path)?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
