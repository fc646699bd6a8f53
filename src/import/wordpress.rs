//! WordPress's export (WXR 1.0–1.2, Tools → Export), streamed with quick-xml: the file is
//! never held whole, a DOCTYPE (the only way to declare entities) is refused, and nothing
//! but the five XML entities and character references is ever expanded.
//!
//! The first pass (`check`) reads the whole file: it refuses a malformed one with its line
//! and column, and keeps where each attachment is (a featured image or a gallery names an
//! attachment that may come after the post). The second pass hands over the site's
//! authors and terms, then each post or page followed by its approved comments.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
};

use quick_xml::{
    events::{BytesRef, Event},
    reader::Reader,
};
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use super::{
    Emit, Format, ImageDir, Item, Malformed, ReadError, Site,
    model::{Author, Comment, CommentAuthor, OldRole, Post, Tag},
};
use crate::posts::model::{PostKind, PostStatus};

/// Deepest nesting a WXR file needs (rss > channel > item > wp:comment > wp:commentmeta >
/// wp:meta_value) with room to spare; deeper is someone's bomb.
const MAX_DEPTH: usize = 32;
/// Longest text one element may hold (a post's content); longer is read and dropped, and
/// the post is reported as too long.
const MAX_TEXT: usize = 32 * 1024 * 1024;

/// Where an attachment is, and which post it belongs to.
#[derive(Debug, Clone)]
struct Attachment {
    url: String,
    parent: String,
}

pub struct Wxr {
    path: PathBuf,
    file_name: String,
    uploads: Option<PathBuf>,
    images: Option<ImageDir>,
    site: Site,
    attachments: HashMap<String, Attachment>,
    /// Author ids (`wp:author_id`) to logins: comments name their author by id.
    logins: HashMap<String, String>,
    size: u64,
    skipped: HashMap<String, u64>,
}

impl Wxr {
    /// The export at `path`; `uploads`: a copy of the old site's `wp-content/uploads`.
    pub fn open(path: &Path, uploads: Option<&Path>) -> Self {
        Wxr {
            path: path.to_owned(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            uploads: uploads.map(Path::to_owned),
            images: None,
            site: Site::default(),
            attachments: HashMap::new(),
            logins: HashMap::new(),
            size: 0,
            skipped: HashMap::new(),
        }
    }

    fn malformed(&self, at: u64, message: String) -> ReadError {
        let (line, column) = line_and_column(&self.path, at);
        ReadError::Malformed(Malformed::At {
            file: self.file_name.clone(),
            line,
            column,
            message,
        })
    }

    /// Walk the file, calling `on` with each element that closes (its path from the root,
    /// its attributes, its text).
    fn walk(
        &self,
        mut on: impl FnMut(&[String], &Element) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let file = File::open(&self.path).map_err(|e| {
            ReadError::Malformed(Malformed::File {
                file: self.file_name.clone(),
                message: format!("can't be read: {e}"),
            })
        })?;
        let mut reader = Reader::from_reader(BufReader::with_capacity(1 << 16, file));
        reader.config_mut().check_end_names = true;
        let mut buf = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let mut open: Vec<Element> = Vec::new();
        let mut seen_root = false;
        loop {
            let at = reader.buffer_position();
            let event = match reader.read_event_into(&mut buf) {
                Ok(event) => event,
                Err(e) => return Err(self.malformed(reader.error_position(), e.to_string())),
            };
            match event {
                Event::DocType(_) => {
                    return Err(self.malformed(
                        at,
                        "a DOCTYPE is not allowed in a WordPress export (it could declare entities)"
                            .into(),
                    ));
                }
                Event::Start(start) => {
                    if path.is_empty() && seen_root {
                        return Err(self.malformed(at, "a second root element".into()));
                    }
                    seen_root = true;
                    if path.len() >= MAX_DEPTH {
                        return Err(self.malformed(at, "elements nested too deep".into()));
                    }
                    let (name, element) = opened(&start);
                    path.push(name);
                    open.push(element);
                }
                Event::Empty(start) => {
                    let (name, element) = opened(&start);
                    path.push(name);
                    on(&path, &element)?;
                    path.pop();
                }
                Event::End(_) => {
                    let element = open.pop().unwrap_or_default();
                    on(&path, &element)?;
                    path.pop();
                }
                Event::Text(text) => {
                    if let Some(element) = open.last_mut() {
                        element.push(&text.xml10_content());
                    }
                }
                Event::CData(data) => {
                    if let Some(element) = open.last_mut() {
                        element.push(&data.xml10_content());
                    }
                }
                Event::GeneralRef(reference) => {
                    if let Some(element) = open.last_mut() {
                        element.push(&resolve(&reference));
                    }
                }
                Event::Eof => {
                    if !path.is_empty() {
                        return Err(self.malformed(
                            at,
                            format!(
                                "the file ends inside <{}>: is it cut short?",
                                path.join("><")
                            ),
                        ));
                    }
                    if !seen_root {
                        return Err(self.malformed(at, "the file is empty".into()));
                    }
                    return Ok(());
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
            buf.clear();
        }
    }
}

/// An element's name, and the element with its attributes and no text yet.
fn opened(start: &quick_xml::events::BytesStart<'_>) -> (String, Element) {
    let mut element = Element::default();
    for attribute in start.attributes().flatten() {
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.into_owned())
            .unwrap_or_default();
        element
            .attributes
            .push((attribute.key.as_ref().to_owned(), value));
    }
    (start.name().as_ref().to_owned(), element)
}

/// An element being read: its attributes and its text so far.
#[derive(Debug, Default)]
struct Element {
    attributes: Vec<(String, String)>,
    text: String,
    too_long: bool,
}

impl Element {
    fn push(&mut self, s: &str) {
        if self.text.len() + s.len() > MAX_TEXT {
            self.too_long = true;
        } else {
            self.text.push_str(s);
        }
    }

    fn attribute(&self, name: &str) -> &str {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The text a reference stands for: the five XML entities and character references;
/// anything else (a DTD's entity) is kept as written.
fn resolve(reference: &BytesRef<'_>) -> String {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        return c.to_string();
    }
    let name = reference.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("&{name};"))
}

/// The line and column (both from 1) of byte `at` of the file.
fn line_and_column(path: &Path, at: u64) -> (u64, u64) {
    let Ok(file) = File::open(path) else {
        return (0, 0);
    };
    let mut reader = BufReader::new(file);
    let (mut line, mut column, mut read) = (1u64, 1u64, 0u64);
    let mut chunk = Vec::new();
    while read < at {
        chunk.clear();
        let Ok(n) = reader.read_until(b'\n', &mut chunk) else {
            break;
        };
        if n == 0 {
            break;
        }
        let n = n as u64;
        if read + n <= at && chunk.ends_with(b"\n") {
            line += 1;
            read += n;
            column = 1;
        } else {
            let within = &chunk[..(at - read).min(n) as usize];
            column = String::from_utf8_lossy(within).chars().count() as u64 + 1;
            break;
        }
    }
    (line, column)
}

/// What an `<item>` holds, gathered as its elements close.
#[derive(Debug, Default)]
struct ItemParts {
    title: String,
    link: String,
    creator: String,
    content: String,
    content_too_long: bool,
    excerpt: String,
    post_id: String,
    date_gmt: String,
    date: String,
    slug: String,
    status: String,
    parent: String,
    post_type: String,
    password: String,
    sticky: bool,
    attachment_url: String,
    terms: Vec<(String, String, String)>,
    meta: Vec<(String, String)>,
    meta_key: String,
    comments: Vec<CommentParts>,
    comment: CommentParts,
}

#[derive(Debug, Default, Clone)]
struct CommentParts {
    id: String,
    author: String,
    email: String,
    url: String,
    date_gmt: String,
    date: String,
    content: String,
    approved: String,
    kind: String,
    parent: String,
    user_id: String,
}

#[derive(Debug, Default)]
struct AuthorParts {
    id: String,
    login: String,
    email: String,
    display_name: String,
    first: String,
    last: String,
}

#[derive(Debug, Default)]
struct TermParts {
    slug: String,
    name: String,
    description: String,
}

/// WXR's element names, without the namespace prefix WordPress gives them (`wp:`,
/// `content:`…), where the local name alone is unambiguous.
fn local(name: &str) -> &str {
    match name {
        "content:encoded" => "content",
        "excerpt:encoded" => "excerpt",
        _ => name.rsplit(':').next().unwrap_or(name),
    }
}

impl Format for Wxr {
    fn check(&mut self) -> Result<Site, ReadError> {
        let mut site = Site {
            format: "wordpress".into(),
            ..Site::default()
        };
        let mut version = String::new();
        let (mut blog_url, mut site_url, mut link) = (String::new(), String::new(), String::new());
        let mut channel = false;
        let mut attachments = HashMap::new();
        let mut logins = HashMap::new();
        let mut author = AuthorParts::default();
        let (mut posts, mut comments) = (0u64, 0u64);
        let mut skipped: HashMap<String, u64> = HashMap::new();
        let mut item = ItemParts::default();
        self.walk(|path, element| {
            let names: Vec<&str> = path.iter().map(|n| local(n)).collect();
            match names.as_slice() {
                ["rss", "channel"] => channel = true,
                ["rss", "channel", "title"] => site.title = element.text.trim().to_owned(),
                ["rss", "channel", "description"] => {
                    site.description = element.text.trim().to_owned()
                }
                ["rss", "channel", "link"] => link = element.text.trim().to_owned(),
                ["rss", "channel", "wxr_version"] => version = element.text.trim().to_owned(),
                ["rss", "channel", "base_site_url"] => site_url = element.text.trim().to_owned(),
                ["rss", "channel", "base_blog_url"] => blog_url = element.text.trim().to_owned(),
                ["rss", "channel", "author", "author_id"] => author.id = element.text.clone(),
                ["rss", "channel", "author", "author_login"] => author.login = element.text.clone(),
                ["rss", "channel", "author"] => {
                    if !author.id.trim().is_empty() {
                        logins.insert(author.id.trim().to_owned(), author.login.trim().to_owned());
                    }
                    author = AuthorParts::default();
                }
                ["rss", "channel", "item", "comment", "comment_approved"] => {
                    item.comment.approved = element.text.trim().to_owned()
                }
                ["rss", "channel", "item", "comment"] => {
                    if item.comment.approved == "1" {
                        comments += 1;
                    }
                    item.comment = CommentParts::default();
                }
                ["rss", "channel", "item", field] => match *field {
                    "post_id" => item.post_id = element.text.trim().to_owned(),
                    "post_type" => item.post_type = element.text.trim().to_owned(),
                    "post_parent" => item.parent = element.text.trim().to_owned(),
                    "attachment_url" => item.attachment_url = element.text.trim().to_owned(),
                    _ => {}
                },
                ["rss", "channel", "item"] => {
                    match item.post_type.as_str() {
                        "attachment" => {
                            attachments.insert(
                                item.post_id.clone(),
                                Attachment {
                                    url: item.attachment_url.clone(),
                                    parent: item.parent.clone(),
                                },
                            );
                        }
                        "post" | "page" => posts += 1,
                        other => *skipped.entry(other.to_owned()).or_default() += 1,
                    }
                    item = ItemParts::default();
                }
                _ => {}
            }
            Ok(())
        })?;
        if !channel {
            return Err(ReadError::Malformed(Malformed::File {
                file: self.file_name.clone(),
                message: "not a WordPress export: it has no <rss><channel>".into(),
            }));
        }
        if !matches!(version.as_str(), "1.0" | "1.1" | "1.2") {
            return Err(ReadError::Malformed(Malformed::File {
                file: self.file_name.clone(),
                message: format!(
                    "not a WordPress export this importer knows: WXR version {version:?} (1.0, 1.1 and 1.2 are)"
                ),
            }));
        }
        site.url = [blog_url, site_url, link]
            .into_iter()
            .find(|u| !u.is_empty())
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        if let Some(dir) = &self.uploads {
            let images =
                ImageDir::new(dir, upload_prefixes(&site.url, &attachments)).map_err(|e| {
                    ReadError::Malformed(Malformed::File {
                        file: dir.display().to_string(),
                        message: format!("the uploads folder can't be read: {e}"),
                    })
                })?;
            self.images = Some(images);
        }
        self.attachments = attachments;
        self.logins = logins;
        self.size = posts + comments;
        self.skipped = skipped;
        self.site = site.clone();
        Ok(site)
    }

    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        let mut author = AuthorParts::default();
        let mut term = TermParts::default();
        let mut item = ItemParts::default();
        let mut terms_seen: HashSet<String> = HashSet::new();
        let this = &*self;
        this.walk(|path, element| {
            let names: Vec<&str> = path.iter().map(|n| local(n)).collect();
            let text = || element.text.clone();
            match names.as_slice() {
                ["rss", "channel", "author", field] => match *field {
                    "author_id" => author.id = text(),
                    "author_login" => author.login = text(),
                    "author_email" => author.email = text(),
                    "author_display_name" => author.display_name = text(),
                    "author_first_name" => author.first = text(),
                    "author_last_name" => author.last = text(),
                    _ => {}
                },
                ["rss", "channel", "author"] => {
                    let a = std::mem::take(&mut author);
                    let login = a.login.trim().to_owned();
                    if !login.is_empty() {
                        let name = [
                            a.display_name.trim(),
                            &format!("{} {}", a.first.trim(), a.last.trim()),
                        ]
                        .into_iter()
                        .map(str::trim)
                        .find(|n| !n.is_empty())
                        .unwrap_or(&login)
                        .to_owned();
                        emit(Item::Author(Author {
                            source_id: login.clone(),
                            login,
                            email: a.email.trim().to_owned(),
                            display_name: name,
                            bio: String::new(),
                            avatar: None,
                            old_role: OldRole::Author,
                        }))?;
                    }
                }
                ["rss", "channel", "category" | "tag" | "term", field] => match *field {
                    "category_nicename" | "tag_slug" | "term_slug" => term.slug = text(),
                    "cat_name" | "tag_name" | "term_name" => term.name = text(),
                    "category_description" | "tag_description" | "term_description" => {
                        term.description = text()
                    }
                    _ => {}
                },
                ["rss", "channel", kind @ ("category" | "tag")] => {
                    let t = std::mem::take(&mut term);
                    let domain = if *kind == "category" {
                        "category"
                    } else {
                        "post_tag"
                    };
                    if let Some(tag) = tag_of(domain, &t.slug, &t.name, &t.description) {
                        terms_seen.insert(tag.source_id.clone());
                        emit(Item::Tag(tag))?;
                    }
                }
                ["rss", "channel", "term"] => term = TermParts::default(),
                ["rss", "channel", "item", "comment"] => {
                    let c = std::mem::take(&mut item.comment);
                    item.comments.push(c);
                }
                ["rss", "channel", "item", field] => match *field {
                    "title" => item.title = text(),
                    "link" => item.link = text(),
                    "creator" => item.creator = text(),
                    "content" => {
                        item.content = text();
                        item.content_too_long = element.too_long;
                    }
                    "excerpt" => item.excerpt = text(),
                    "post_id" => item.post_id = text().trim().to_owned(),
                    "post_date_gmt" => item.date_gmt = text(),
                    "post_date" => item.date = text(),
                    "post_name" => item.slug = text(),
                    "status" => item.status = text().trim().to_owned(),
                    "post_parent" => item.parent = text().trim().to_owned(),
                    "post_type" => item.post_type = text().trim().to_owned(),
                    "post_password" => item.password = text(),
                    "is_sticky" => item.sticky = element.text.trim() == "1",
                    "category" => item.terms.push((
                        element.attribute("domain").to_owned(),
                        element.attribute("nicename").to_owned(),
                        text(),
                    )),
                    _ => {}
                },
                ["rss", "channel", "item", "postmeta", "meta_key"] => item.meta_key = text(),
                ["rss", "channel", "item", "postmeta", "meta_value"] => {
                    let key = std::mem::take(&mut item.meta_key);
                    item.meta.push((key, text()));
                }
                ["rss", "channel", "item", "comment", field] => {
                    let c = &mut item.comment;
                    match *field {
                        "comment_id" => c.id = text().trim().to_owned(),
                        "comment_author" => c.author = text(),
                        "comment_author_email" => c.email = text(),
                        "comment_author_url" => c.url = text(),
                        "comment_date_gmt" => c.date_gmt = text(),
                        "comment_date" => c.date = text(),
                        "comment_content" => c.content = text(),
                        "comment_approved" => c.approved = text().trim().to_owned(),
                        "comment_type" => c.kind = text().trim().to_owned(),
                        "comment_parent" => c.parent = text().trim().to_owned(),
                        "comment_user_id" => c.user_id = text().trim().to_owned(),
                        _ => {}
                    }
                }
                ["rss", "channel", "item"] => {
                    let parts = std::mem::take(&mut item);
                    this.item(parts, &mut terms_seen, emit)?;
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn images(&self) -> Option<&ImageDir> {
        self.images.as_ref()
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn skipped(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .skipped
            .iter()
            .map(|(kind, n)| {
                let what = match kind.as_str() {
                    "nav_menu_item" => "menu items (menus are set up in Navigation)",
                    "revision" => "revisions",
                    "wp_block" | "wp_template" | "wp_template_part" | "wp_global_styles"
                    | "wp_navigation" => "theme and block-editor records",
                    _ => kind.as_str(),
                };
                format!("{n} {what} of type {kind:?}: not posts or pages")
            })
            .collect();
        lines.sort();
        lines
    }
}

impl Wxr {
    /// One `<item>` that closed: a post or page (and its comments) handed over; anything
    /// else was counted by `check`.
    fn item(
        &self,
        item: ItemParts,
        terms_seen: &mut HashSet<String>,
        emit: Emit<'_>,
    ) -> Result<(), ReadError> {
        let kind = match item.post_type.as_str() {
            "post" => PostKind::Post,
            "page" => PostKind::Page,
            _ => return Ok(()),
        };
        let mut notes = Vec::new();
        let date = wp_date(&item.date_gmt).or_else(|| wp_date(&item.date));
        let mut status = match item.status.as_str() {
            "publish" => PostStatus::Published,
            "future" => PostStatus::Scheduled,
            "draft" | "pending" | "private" | "auto-draft" | "" => PostStatus::Draft,
            // Trashed (or unknown) on the old site: left there.
            _ => return Ok(()),
        };
        if !item.password.trim().is_empty() && status != PostStatus::Draft {
            notes.push("was password-protected; imported as a draft".into());
            status = PostStatus::Draft;
        }
        if item.status == "private" {
            notes.push("was private; imported as a draft".into());
        }
        let mut tags = Vec::new();
        for (domain, nicename, name) in &item.terms {
            if domain != "category" && domain != "post_tag" {
                continue;
            }
            let Some(tag) = tag_of(domain, nicename, name, "") else {
                continue;
            };
            if !terms_seen.contains(&tag.source_id) {
                terms_seen.insert(tag.source_id.clone());
                emit(Item::Tag(tag.clone()))?;
            }
            tags.push(tag.source_id);
        }
        let meta = |key: &str| {
            item.meta
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let cover = meta("_thumbnail_id")
            .and_then(|id| self.attachments.get(&id))
            .map(|a| a.url.clone())
            .filter(|u| !u.is_empty());
        let children: Vec<String> = {
            let mut c: Vec<(&String, &Attachment)> = self
                .attachments
                .iter()
                .filter(|(_, a)| a.parent == item.post_id && !a.url.is_empty())
                .collect();
            c.sort_by_key(|(id, _)| id.parse::<u64>().unwrap_or(u64::MAX));
            c.into_iter().map(|(_, a)| a.url.clone()).collect()
        };
        let converted = body_markdown(
            &item.content,
            &|id: &str| self.attachments.get(id).map(|a| a.url.clone()),
            &children,
        );
        notes.extend(converted.1);
        let body = if item.content_too_long {
            notes.push("its content is larger than 32 MiB".into());
            String::new()
        } else {
            converted.0
        };
        let post_id = item.post_id.clone();
        let mut old_urls = Vec::new();
        if !item.link.trim().is_empty() {
            old_urls.push(item.link.trim().to_owned());
        }
        if !post_id.is_empty() {
            old_urls.push(match kind {
                PostKind::Post => format!("/?p={post_id}"),
                PostKind::Page => format!("/?page_id={post_id}"),
            });
        }
        let slug = item.slug.trim().to_owned();
        if let (PostKind::Post, Some(date), false) = (kind, date, slug.is_empty()) {
            let (y, m, d) = (date.year(), date.month() as u8, date.day());
            old_urls.push(format!("/{y}/{m:02}/{d:02}/{slug}/"));
            old_urls.push(format!("/{y}/{m:02}/{slug}/"));
        }
        let post = Post {
            source_id: if post_id.is_empty() {
                item.link.clone()
            } else {
                post_id.clone()
            },
            kind,
            title: item.title.trim().to_owned(),
            slug,
            excerpt: item.excerpt.trim().to_owned(),
            body_markdown: body,
            status,
            published_at: match status {
                PostStatus::Draft => None,
                _ => date,
            },
            authors: vec![item.creator.trim().to_owned()]
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            tags,
            featured: item.sticky,
            cover,
            old_urls,
            notes,
            ..Post::default()
        };
        let source_id = post.source_id.clone();
        emit(Item::Post(Box::new(post)))?;
        for c in item.comments {
            // Approved comments only: spam, trash and those still waiting stay behind;
            // pingbacks and trackbacks are not comments anyone wrote here.
            if c.approved != "1" || matches!(c.kind.as_str(), "pingback" | "trackback") {
                continue;
            }
            let author = match self.logins.get(&c.user_id) {
                Some(login) if c.user_id != "0" && !login.is_empty() => CommentAuthor::Account {
                    source_id: login.clone(),
                },
                _ => CommentAuthor::Guest {
                    name: c.author.trim().to_owned(),
                    email: c.email.trim().to_owned(),
                    url: c.url.trim().to_owned(),
                },
            };
            let body = comment_markdown(&c.content);
            emit(Item::Comment(Comment {
                source_id: c.id.clone(),
                post: source_id.clone(),
                parent: Some(c.parent.clone()).filter(|p| !p.is_empty() && p != "0"),
                author,
                body_markdown: body,
                created_at: wp_date(&c.date_gmt)
                    .or_else(|| wp_date(&c.date))
                    .unwrap_or_else(OffsetDateTime::now_utc),
            }))?;
        }
        Ok(())
    }
}

/// A term as a tag; "Uncategorized" (WordPress's default category, on every post nobody
/// filed) is left out.
fn tag_of(domain: &str, slug: &str, name: &str, description: &str) -> Option<Tag> {
    let slug = slug.trim();
    let name = name.trim();
    if name.is_empty() || (domain == "category" && slug == "uncategorized") {
        return None;
    }
    Some(Tag {
        source_id: format!(
            "{}:{}",
            if domain == "category" {
                "category"
            } else {
                "tag"
            },
            if slug.is_empty() { name } else { slug }
        ),
        name: name.to_owned(),
        slug: slug.to_owned(),
        description: description.trim().to_owned(),
        // WordPress's archive of the term (default permalinks: /category/…, /tag/…).
        old_urls: if slug.is_empty() {
            Vec::new()
        } else if domain == "category" {
            vec![format!("/category/{slug}/")]
        } else {
            vec![format!("/tag/{slug}/")]
        },
    })
}

/// WordPress's dates: `2019-05-01 10:00:00` (GMT fields); `0000-00-00 00:00:00` is none.
fn wp_date(s: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s.trim(), format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// The addresses that mean "the uploads folder": the site's own `wp-content/uploads/`, and
/// wherever the attachments say their files are (a CDN, WordPress.com's file host), up to
/// the `/YYYY/MM/` folders WordPress files uploads in.
fn upload_prefixes(site: &str, attachments: &HashMap<String, Attachment>) -> Vec<String> {
    let mut prefixes = vec![
        format!("{}/wp-content/uploads/", site.trim_end_matches('/')),
        "/wp-content/uploads/".to_owned(),
    ];
    for attachment in attachments.values() {
        if let Some(prefix) = year_month_prefix(&attachment.url)
            && !prefixes.contains(&prefix)
            && prefixes.len() < 16
        {
            prefixes.push(prefix);
        }
    }
    prefixes
}

/// `https://cdn.example/files/` for `https://cdn.example/files/2019/05/a.jpg`.
fn year_month_prefix(url: &str) -> Option<String> {
    let bytes = url.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let window = &bytes[i..i + 9];
        let digits = |r: std::ops::Range<usize>| window[r].iter().all(u8::is_ascii_digit);
        (window[0] == b'/'
            && digits(1..5)
            && window[5] == b'/'
            && digits(6..8)
            && window[8] == b'/')
            .then(|| url[..=i].to_owned())
    })
}

/// A post's content as Markdown, and notes on what could not be carried over.
fn body_markdown(
    content: &str,
    attachment: &dyn Fn(&str) -> Option<String>,
    children: &[String],
) -> (String, Vec<String>) {
    let c = super::convert::wordpress::content_to_markdown(content, attachment, children);
    (c.markdown, c.notes)
}

/// A comment's text (WordPress keeps its paragraphs as blank lines and allows a little
/// HTML) as Markdown: WordPress shows it through the same automatic paragraphs.
fn comment_markdown(content: &str) -> String {
    super::convert::wordpress::content_to_markdown(content, &|_| None, &[])
        .markdown
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wordpress")
            .join(name)
    }

    fn read_all(name: &str) -> (Site, Vec<Item>) {
        let mut wxr = Wxr::open(&fixture(name), None);
        let site = wxr.check().expect("the fixture is a valid export");
        let mut items = Vec::new();
        wxr.read(&mut |item| {
            items.push(item);
            Ok(())
        })
        .expect("the fixture reads");
        (site, items)
    }

    #[test]
    fn the_theme_unit_test_data_reads_whole() {
        let (site, items) = read_all("theme-unit-test-data.xml");
        assert_eq!(site.url, "https://wpthemetestdata.wordpress.com");
        let posts: Vec<&Post> = items
            .iter()
            .filter_map(|i| match i {
                Item::Post(p) => Some(&**p),
                _ => None,
            })
            .collect();
        let comments = items
            .iter()
            .filter(|i| matches!(i, Item::Comment(_)))
            .count();
        let authors = items
            .iter()
            .filter(|i| matches!(i, Item::Author(_)))
            .count();
        assert!(posts.len() > 30, "{}", posts.len());
        assert!(comments > 10, "{comments}");
        assert!(authors >= 1);
        let pages = posts.iter().filter(|p| p.kind == PostKind::Page).count();
        assert!(pages > 5, "{pages}");
        // Every post names its old addresses.
        assert!(
            posts
                .iter()
                .all(|p| p.old_urls.iter().any(|u| u.starts_with("/?")))
        );
        // Replies keep their parents.
        assert!(
            items
                .iter()
                .any(|i| matches!(i, Item::Comment(c) if c.parent.is_some()))
        );
        // Sticky posts are featured; a featured image became a cover.
        assert!(posts.iter().any(|p| p.featured));
        assert!(posts.iter().any(|p| p.cover.is_some()));
    }

    #[test]
    fn every_export_version_reads() {
        for name in [
            "valid-wxr-1.0.xml",
            "valid-wxr-1.1.xml",
            "wxr-utf-8-challenges.xml",
        ] {
            let (site, items) = read_all(name);
            assert_eq!(site.format, "wordpress");
            assert!(items.iter().any(|i| matches!(i, Item::Post(_))), "{name}");
        }
    }

    #[test]
    fn malformed_exports_are_refused_with_where() {
        let mut wxr = Wxr::open(&fixture("malformed.xml"), None);
        assert!(matches!(wxr.check(), Err(ReadError::Malformed(_))));
        let dir = std::env::temp_dir().join(format!("quire-wxr-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cases = [
            (
                "cut.xml",
                "<rss><channel><wp:wxr_version>1.2</wp:wxr_version>\n<item><title>x",
            ),
            (
                "bad.xml",
                "<rss><channel>\n  <item></title></item></channel></rss>",
            ),
            (
                "bomb.xml",
                "<!DOCTYPE rss [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n<rss><channel>&b;</channel></rss>",
            ),
            ("empty.xml", ""),
        ];
        for (name, text) in cases {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            match Wxr::open(&path, None).check() {
                Err(ReadError::Malformed(Malformed::At { line, .. })) => {
                    assert!(line >= 1, "{name}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn upload_folders_are_found_in_attachment_urls() {
        assert_eq!(
            year_month_prefix("https://wpthemetestdata.files.wordpress.com/2008/06/a.jpg")
                .as_deref(),
            Some("https://wpthemetestdata.files.wordpress.com/")
        );
        assert_eq!(year_month_prefix("https://x.example/a.jpg"), None);
    }
}
