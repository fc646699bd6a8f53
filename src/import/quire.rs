//! `quire import quire FILE`: a Quire archive (`quire export`, `docs/export-format.md`) read
//! back. `check` opens the zip and refuses anything hostile or broken before a thing is
//! written: an entry whose path leaves the archive, an entry larger than the limits (as
//! declared, or as it turns out while read: zip bombs), an unknown format or version, a
//! line of a JSON Lines file that is not its record (with its line and column), a record
//! that names one that isn't there, files out of their promised order. It then unpacks
//! `uploads/` into a temporary folder, which `images` offers to the writer.
//!
//! `read` streams the files again: accounts, tags, then each post followed by its comments
//! (both files are ordered by post, so the two are merged without holding either), then the
//! redirects. Comments waiting for a moderator or hidden by one stay behind, as the model
//! carries approved comments only (`model::Comment`).

use std::{
    collections::HashSet,
    fs::File,
    io::{BufRead, BufReader, Read},
    path::{Component, Path, PathBuf},
};

use serde::de::DeserializeOwned;
use zip::ZipArchive;

use super::{
    Emit, Format, ImageDir, ReadError,
    model::{self, CommentAuthor, Item, Malformed, OldRole, RedirectTarget, Site},
};
use crate::export::records::{self, FORMAT, Manifest, VERSION, files};

/// What an archive may hold: beyond these it is refused as a bomb.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes of any one entry.
    pub entry_bytes: u64,
    /// Uncompressed bytes of all entries together.
    pub total_bytes: u64,
    /// How many times larger than its compressed size an entry of more than a MiB may be
    /// (text compresses some tens of times, a bomb a thousand).
    pub ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            entry_bytes: 2 << 30,
            total_bytes: 32 << 30,
            ratio: 200,
        }
    }
}

/// A Quire archive on disk.
pub struct QuireArchive {
    path: PathBuf,
    limits: Limits,
    /// `uploads/`, unpacked by `check` into a temporary folder that lives as long as the
    /// `ImageDir` (and the writer's copy of it) does.
    images: Option<ImageDir>,
    /// The comments `read` leaves behind (waiting or hidden), so replies to them lose only
    /// their parent.
    left_behind: HashSet<i64>,
    /// Posts, pages and comments `read` hands over, and comments it leaves behind, as
    /// `check` counted them.
    size: u64,
    comments_left: u64,
}

impl QuireArchive {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_limits(path, Limits::default())
    }

    pub fn with_limits(path: impl Into<PathBuf>, limits: Limits) -> Self {
        Self {
            path: path.into(),
            limits,
            images: None,
            left_behind: HashSet::new(),
            size: 0,
            comments_left: 0,
        }
    }

    fn archive_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    fn open(&self) -> Result<ZipArchive<BufReader<File>>, ReadError> {
        let file = File::open(&self.path).map_err(|e| {
            anyhow::Error::new(e).context(format!("opening {}", self.path.display()))
        })?;
        ZipArchive::new(BufReader::new(file)).map_err(|e| {
            Malformed::File {
                file: self.archive_name(),
                message: format!("not a zip archive: {e}"),
            }
            .into()
        })
    }
}

/// The entry's path inside the archive, if it stays inside: relative, plain names only (no
/// `..`, no root, no drive, no NUL, no backslash that another system would read as a folder).
fn safe_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\0') || name.contains('\\') {
        return None;
    }
    let path = Path::new(name);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| path.to_path_buf())
}

fn refused(file: &str, message: impl Into<String>) -> ReadError {
    Malformed::File {
        file: file.to_owned(),
        message: message.into(),
    }
    .into()
}

/// An entry's bytes, never more than it declared (nor than the limit).
fn capped<'a, R: Read>(entry: &'a mut zip::read::ZipFile<'_, R>) -> impl Read + 'a {
    let declared = entry.size();
    entry.take(declared.saturating_add(1))
}

impl QuireArchive {
    /// Every entry's path and size, before any is read.
    fn check_entries(&self, zip: &mut ZipArchive<BufReader<File>>) -> Result<(), ReadError> {
        let mut total: u64 = 0;
        for i in 0..zip.len() {
            let entry = zip.by_index_raw(i).map_err(|e| {
                refused(
                    &self.archive_name(),
                    format!("entry {i} can't be read: {e}"),
                )
            })?;
            let name = entry
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| format!("entry {i}"));
            if entry.is_dir() {
                if safe_path(name.trim_end_matches('/')).is_none() {
                    return Err(refused(
                        &name,
                        "this folder's path leads out of the archive",
                    ));
                }
                continue;
            }
            if safe_path(&name).is_none() {
                return Err(refused(&name, "this entry's path leads out of the archive"));
            }
            if entry.is_symlink() {
                return Err(refused(&name, "links are not followed"));
            }
            let size = entry.size();
            if size > self.limits.entry_bytes {
                return Err(refused(
                    &name,
                    format!(
                        "the entry says it is {size} bytes, more than the {} an entry may be",
                        self.limits.entry_bytes
                    ),
                ));
            }
            if size > 1 << 20 && size / entry.compressed_size().max(1) > self.limits.ratio {
                return Err(refused(
                    &name,
                    "the entry is compressed far more than real content is (a zip bomb?)",
                ));
            }
            total = total.saturating_add(size);
            if total > self.limits.total_bytes {
                return Err(refused(
                    &self.archive_name(),
                    format!(
                        "the entries add up to more than the {} bytes an archive may hold",
                        self.limits.total_bytes
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Every file of the zip at `path` whose name starts with `prefix`, into `dest` (the prefix
/// cut off), with an archive's checks first: no path out of it, no link, no bomb. The
/// admin's uploads (a zip of an old site's images, a Markdown folder) are unpacked with it.
pub fn unpack(path: &Path, prefix: &str, dest: &Path) -> Result<(), ReadError> {
    let archive = QuireArchive::new(path);
    let mut zip = archive.open()?;
    archive.check_entries(&mut zip)?;
    unpack_entries(&mut zip, prefix, dest)
}

/// The files under `prefix`, each never more than it declared.
fn unpack_entries(
    zip: &mut ZipArchive<BufReader<File>>,
    prefix: &str,
    dest: &Path,
) -> Result<(), ReadError> {
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| refused("the archive", format!("entry {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(relative) = name.strip_prefix(prefix) else {
            continue;
        };
        if entry.is_dir() || relative.is_empty() {
            continue;
        }
        // Checked in `check_entries` already; checked again where it counts.
        let Some(relative) = safe_path(relative) else {
            return Err(refused(&name, "this entry's path leads out of the archive"));
        };
        let target = dest.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(anyhow::Error::from)?;
        }
        let declared = entry.size();
        let mut out = File::create(&target).map_err(anyhow::Error::from)?;
        let copied = std::io::copy(&mut capped(&mut entry), &mut out)
            .map_err(|e| refused(&name, format!("can't be unpacked: {e}")))?;
        if copied > declared {
            return Err(refused(&name, "larger than the archive says (a zip bomb?)"));
        }
    }
    Ok(())
}

/// `quire.json`, checked: our format, a version we read.
fn manifest(zip: &mut ZipArchive<BufReader<File>>) -> Result<Manifest, ReadError> {
    let mut entry = zip
        .by_name(files::MANIFEST)
        .map_err(|_| refused(files::MANIFEST, "missing: this is not a Quire archive"))?;
    let mut text = String::new();
    capped(&mut entry)
        .read_to_string(&mut text)
        .map_err(|e| refused(files::MANIFEST, format!("can't be read: {e}")))?;
    if text.len() as u64 > entry.size() {
        return Err(refused(files::MANIFEST, "larger than the archive says"));
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Malformed::At {
        file: files::MANIFEST.to_owned(),
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    })?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Malformed::Path {
            file: files::MANIFEST.to_owned(),
            path: "format".to_owned(),
            message: format!("expected \"{FORMAT}\": this is not a Quire archive"),
        }
        .into());
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        other => {
            return Err(Malformed::Path {
                file: files::MANIFEST.to_owned(),
                path: "version".to_owned(),
                message: format!(
                    "version {} is not one this Quire reads (it reads version {VERSION})",
                    other.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
                ),
            }
            .into());
        }
    }
    serde_path_to_error::deserialize::<_, Manifest>(&value).map_err(|e| {
        Malformed::Path {
            file: files::MANIFEST.to_owned(),
            path: e.path().to_string(),
            message: e.inner().to_string(),
        }
        .into()
    })
}

/// Each record of the JSON Lines file `name`, with its line number; a line that isn't one is
/// `Malformed::At` with its line and column. A missing file has no records.
fn each_line<T: DeserializeOwned>(
    zip: &mut ZipArchive<BufReader<File>>,
    name: &str,
    mut each: impl FnMut(u64, T) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let Ok(mut entry) = zip.by_name(name) else {
        return Ok(());
    };
    let declared = entry.size();
    let mut lines = BufReader::new(capped(&mut entry));
    let mut line = String::new();
    let (mut number, mut read) = (0u64, 0u64);
    loop {
        line.clear();
        let n = lines.read_line(&mut line).map_err(|e| {
            let message = match e.kind() {
                std::io::ErrorKind::InvalidData => "not UTF-8 text".to_owned(),
                _ => format!("can't be read: {e}"),
            };
            Malformed::At {
                file: name.to_owned(),
                line: number + 1,
                column: 1,
                message,
            }
        })?;
        if n == 0 {
            break;
        }
        number += 1;
        read += n as u64;
        if read > declared {
            return Err(refused(name, "larger than the archive says (a zip bomb?)"));
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(text).map_err(|e| Malformed::At {
            file: name.to_owned(),
            line: number,
            column: e.column() as u64,
            message: e.to_string(),
        })?;
        each(number, record)?;
    }
    Ok(())
}

fn at(file: &str, line: u64, message: impl Into<String>) -> ReadError {
    Malformed::Path {
        file: file.to_owned(),
        path: format!("line {line}"),
        message: message.into(),
    }
    .into()
}

impl Format for QuireArchive {
    fn check(&mut self) -> Result<Site, ReadError> {
        let mut zip = self.open()?;
        self.check_entries(&mut zip)?;
        let manifest = manifest(&mut zip)?;

        // Every line is its record, every reference found, the promised order kept.
        let mut accounts = HashSet::new();
        each_line(&mut zip, files::ACCOUNTS, |n, a: records::Account| {
            if !accounts.insert(a.id) {
                return Err(at(files::ACCOUNTS, n, format!("account {} twice", a.id)));
            }
            Ok(())
        })?;
        let mut tags = HashSet::new();
        each_line(&mut zip, files::TAGS, |n, t: records::Tag| {
            if !tags.insert(t.id) {
                return Err(at(files::TAGS, n, format!("tag {} twice", t.id)));
            }
            Ok(())
        })?;
        let mut posts = HashSet::new();
        let mut last_post = i64::MIN;
        let (mut size, mut left) = (0u64, 0u64);
        each_line(&mut zip, files::POSTS, |n, p: records::Post| {
            size += 1;
            if p.id <= last_post {
                return Err(at(
                    files::POSTS,
                    n,
                    "posts are not in the order of their ids",
                ));
            }
            last_post = p.id;
            posts.insert(p.id);
            if let Some(a) = p.author_ids.iter().find(|a| !accounts.contains(a)) {
                return Err(at(
                    files::POSTS,
                    n,
                    format!("author {a} is not in accounts.jsonl"),
                ));
            }
            if let Some(t) = p.tag_ids.iter().find(|t| !tags.contains(t)) {
                return Err(at(files::POSTS, n, format!("tag {t} is not in tags.jsonl")));
            }
            Ok(())
        })?;
        let mut comments = HashSet::new();
        let mut last_comment = (i64::MIN, i64::MIN);
        each_line(&mut zip, files::COMMENTS, |n, c: records::Comment| {
            if (c.post_id, c.id) <= last_comment {
                return Err(at(
                    files::COMMENTS,
                    n,
                    "comments are not in the order of their posts, then ids",
                ));
            }
            last_comment = (c.post_id, c.id);
            comments.insert(c.id);
            if c.approved && !c.hidden {
                size += 1;
            } else {
                left += 1;
            }
            if !posts.contains(&c.post_id) {
                return Err(at(
                    files::COMMENTS,
                    n,
                    format!("post {} is not in posts.jsonl", c.post_id),
                ));
            }
            match (&c.author_id, &c.guest) {
                (Some(a), _) if !accounts.contains(a) => Err(at(
                    files::COMMENTS,
                    n,
                    format!("author {a} is not in accounts.jsonl"),
                )),
                (None, None) => Err(at(
                    files::COMMENTS,
                    n,
                    "a comment needs an author_id or a guest",
                )),
                (None, Some(g)) if g.name.trim().is_empty() => {
                    Err(at(files::COMMENTS, n, "a guest needs a name"))
                }
                _ => Ok(()),
            }
        })?;
        each_line(&mut zip, files::REDIRECTS, |_, _: records::Redirect| Ok(()))?;
        each_line(&mut zip, files::UPLOADS, |_, _: records::Upload| Ok(()))?;
        // A parent may come later in the file (another post's order), so it is checked last.
        each_line(
            &mut zip,
            files::COMMENTS,
            |n, c: records::Comment| match c.parent_id {
                Some(p) if !comments.contains(&p) => Err(at(
                    files::COMMENTS,
                    n,
                    format!("parent comment {p} is not in comments.jsonl"),
                )),
                _ => Ok(()),
            },
        )?;
        drop((accounts, tags, posts, comments));
        (self.size, self.comments_left) = (size, left);

        let dir = self.unpack_uploads(&mut zip)?;
        let url = manifest.site.url.trim_end_matches('/').to_owned();
        let prefixes = vec!["/uploads/".to_owned(), format!("{url}/uploads/")];
        self.images = Some(
            ImageDir::unpacked(dir, prefixes)
                .map_err(|e| anyhow::Error::new(e).context("the unpacked uploads"))?,
        );
        Ok(Site {
            format: "quire".to_owned(),
            url,
            title: manifest.site.title,
            description: manifest.site.description,
        })
    }

    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        let mut zip = self.open()?;
        each_line(&mut zip, files::ACCOUNTS, |_, a: records::Account| {
            emit(Item::Author(model::Author {
                source_id: a.id.to_string(),
                login: a.username,
                email: a.email,
                display_name: a.display_name,
                bio: a.bio,
                avatar: a.avatar_url,
                old_role: match a.role.as_str() {
                    "admin" => OldRole::Admin,
                    "editor" => OldRole::Editor,
                    "author" => OldRole::Author,
                    _ => OldRole::Other,
                },
            }))?;
            Ok(())
        })?;
        each_line(&mut zip, files::TAGS, |_, t: records::Tag| {
            emit(Item::Tag(model::Tag {
                source_id: t.id.to_string(),
                name: t.name,
                slug: t.slug,
                description: t.description,
                old_urls: Vec::new(),
            }))?;
            Ok(())
        })?;
        self.left_behind.clear();
        self.read_posts_and_comments(emit)?;
        let mut zip = self.open()?;
        each_line(&mut zip, files::REDIRECTS, |_, r: records::Redirect| {
            emit(Item::Redirect(model::Redirect {
                from: r.from,
                to: RedirectTarget::Url(r.to),
                permanent: r.permanent,
            }))?;
            Ok(())
        })?;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn skipped(&self) -> Vec<String> {
        match self.comments_left {
            0 => Vec::new(),
            n => vec![format!(
                "{n} comments waiting for a moderator or hidden by one (only approved, \
                 visible comments are imported)"
            )],
        }
    }

    fn images(&self) -> Option<&ImageDir> {
        self.images.as_ref()
    }
}

impl QuireArchive {
    /// `uploads/<name>` into a temporary folder, each entry never more than it declared.
    fn unpack_uploads(
        &self,
        zip: &mut ZipArchive<BufReader<File>>,
    ) -> Result<tempfile::TempDir, ReadError> {
        let dir = tempfile::Builder::new()
            .prefix("quire-import-")
            .tempdir()
            .map_err(|e| anyhow::Error::new(e).context("a temporary folder for the uploads"))?;
        unpack_entries(zip, files::UPLOADS_DIR, dir.path())?;
        Ok(dir)
    }

    /// Posts in id order, each followed by its comments (the comments file is ordered by
    /// post, then id: the two are merged line by line).
    fn read_posts_and_comments(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        let mut posts_zip = self.open()?;
        let mut comments_zip = self.open()?;
        let mut comment_lines = match comments_zip.by_name(files::COMMENTS) {
            Ok(entry) => {
                let declared = entry.size();
                Some(BufReader::new(entry.take(declared.saturating_add(1))).lines())
            }
            Err(_) => None,
        };
        let left_behind = &mut self.left_behind;
        let mut pending: Option<records::Comment> = None;
        let mut next_comment = || -> Result<Option<records::Comment>, ReadError> {
            let Some(lines) = comment_lines.as_mut() else {
                return Ok(None);
            };
            for line in lines.by_ref() {
                let line = line.map_err(anyhow::Error::from)?;
                if line.trim().is_empty() {
                    continue;
                }
                // `check` parsed every line already.
                return Ok(Some(
                    serde_json::from_str(&line).map_err(anyhow::Error::from)?,
                ));
            }
            Ok(None)
        };
        each_line(&mut posts_zip, files::POSTS, |_, p: records::Post| {
            let id = p.id;
            emit(Item::Post(Box::new(post_item(p))))?;
            loop {
                let comment = match pending.take() {
                    Some(c) => c,
                    None => match next_comment()? {
                        Some(c) => c,
                        None => break,
                    },
                };
                if comment.post_id != id {
                    pending = Some(comment);
                    break;
                }
                if !comment.approved || comment.hidden {
                    left_behind.insert(comment.id);
                    continue;
                }
                let parent = comment
                    .parent_id
                    .filter(|p| !left_behind.contains(p))
                    .map(|p| p.to_string());
                let author = match (comment.author_id, comment.guest) {
                    (Some(a), _) => CommentAuthor::Account {
                        source_id: a.to_string(),
                    },
                    (None, Some(g)) => CommentAuthor::Guest {
                        name: g.name,
                        email: g.email,
                        url: g.url,
                    },
                    (None, None) => continue,
                };
                emit(Item::Comment(model::Comment {
                    source_id: comment.id.to_string(),
                    post: id.to_string(),
                    parent,
                    author,
                    body_markdown: comment.body_markdown,
                    created_at: comment.created_at,
                }))?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// A post record as the model's post: ids as source ids, no old addresses (the archive's
/// own redirects come as redirects).
fn post_item(p: records::Post) -> model::Post {
    let mut notes = Vec::new();
    if p.meta.social_image.is_some() {
        notes.push("its social image is not carried over (set it again in the editor)".to_owned());
    }
    model::Post {
        source_id: p.id.to_string(),
        kind: p.kind,
        title: p.title,
        slug: p.slug,
        excerpt: p.excerpt,
        body_markdown: p.body_markdown,
        status: p.status,
        published_at: p.published_at,
        authors: p.author_ids.iter().map(i64::to_string).collect(),
        tags: p.tag_ids.iter().map(i64::to_string).collect(),
        featured: p.featured,
        cover: p.cover_image,
        cover_alt: p.meta.cover_alt,
        cover_caption: p.meta.cover_caption,
        meta_title: p.meta.meta_title,
        meta_description: p.meta.meta_description,
        canonical_url: p.meta.canonical_url.unwrap_or_default(),
        old_urls: Vec::new(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::safe_path;

    #[test]
    fn entry_paths_stay_inside_the_archive() {
        for good in ["quire.json", "uploads/ab.png", "posts/hello-world.md"] {
            assert!(safe_path(good).is_some(), "{good}");
        }
        for bad in [
            "../../x",
            "uploads/../../x",
            "/etc/passwd",
            "uploads/..\\..\\x",
            "C:\\x",
            "a\0b",
            "",
            "./quire.json",
        ] {
            assert!(safe_path(bad).is_none(), "{bad:?}");
        }
    }
}
