//! A folder of Markdown files with front matter, as Jekyll and Hugo keep a blog: YAML
//! between `---` lines or TOML between `+++` lines (title, date, tags, categories, draft,
//! slug, aliases, description, image). Jekyll's `_posts/2019-05-01-hello.md` gives its date
//! and slug by name; `_drafts/` are drafts; a file with `layout: page` (or outside any posts
//! folder and without a date) is a page. Images are taken from beside the file, or from the
//! folder (Hugo's `static/`, Jekyll's root) for addresses that start with `/`.

use std::{
    collections::{BTreeMap, HashSet},
    path::{Component, Path, PathBuf},
};

use serde::Deserialize;
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, Time, format_description::well_known::Rfc3339,
};

use super::{
    Emit, Format, ImageDir, Item, Malformed, ReadError, Site,
    model::{Author, OldRole, Post, Tag},
};
use crate::{
    posts::model::{PostKind, PostStatus},
    slug::Slug,
};

/// Most Markdown files one import reads.
const MAX_FILES: usize = 200_000;
/// Largest Markdown file read (bigger ones are reported, not read).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Deepest folder nesting followed.
const MAX_DEPTH: usize = 16;
/// Folders whose files are posts.
const POST_FOLDERS: [&str; 5] = ["_posts", "posts", "post", "blog", "articles"];

pub struct Folder {
    root: PathBuf,
    files: Vec<PathBuf>,
    images: Option<ImageDir>,
    too_big: Vec<String>,
}

impl Folder {
    pub fn open(root: &Path) -> Self {
        Folder {
            root: root.to_owned(),
            files: Vec::new(),
            images: None,
            too_big: Vec::new(),
        }
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }
}

/// Front matter, in Jekyll's and Hugo's names.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Front {
    title: Option<String>,
    date: Option<Value>,
    #[serde(alias = "lastmod")]
    updated: Option<Value>,
    tags: Option<Names>,
    categories: Option<Names>,
    #[serde(alias = "category")]
    category_one: Option<String>,
    draft: Option<bool>,
    published: Option<bool>,
    slug: Option<String>,
    aliases: Option<Names>,
    #[serde(alias = "redirect_from")]
    redirects: Option<Names>,
    permalink: Option<String>,
    url: Option<String>,
    #[serde(alias = "excerpt", alias = "summary")]
    description: Option<String>,
    #[serde(alias = "cover", alias = "featured_image", alias = "feature_image")]
    image: Option<Value>,
    author: Option<Names>,
    layout: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    featured: Option<bool>,
}

/// A front-matter value that may be text, a date, a number or a table (Hugo's `cover:
/// {image: …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Toml(toml::value::Datetime),
    Table(BTreeMap<String, Value>),
    Other(serde_json::Value),
}

impl Value {
    fn text(&self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s.clone()),
            Value::Toml(d) => Some(d.to_string()),
            Value::Table(t) => ["image", "src", "url", "path"]
                .iter()
                .find_map(|k| t.get(*k).and_then(Value::text)),
            Value::Other(v) => v.as_str().map(str::to_owned),
        }
    }
}

/// A list of names, or one (`tags: rust`), or a space- or comma-separated string (Jekyll).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Names {
    List(Vec<String>),
    One(String),
}

impl Names {
    fn names(&self) -> Vec<String> {
        match self {
            Names::List(v) => v.iter().map(|s| s.trim().to_owned()).collect::<Vec<_>>(),
            Names::One(s) if s.contains(',') => s.split(',').map(|t| t.trim().to_owned()).collect(),
            Names::One(s) => s.split_whitespace().map(str::to_owned).collect(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
}

/// A file split into its front matter and its Markdown.
struct Parsed {
    front: Front,
    body: String,
}

fn parse(file: &str, text: &str) -> Result<Parsed, Malformed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (fence, toml) = if text.starts_with("---") {
        ("---", false)
    } else if text.starts_with("+++") {
        ("+++", true)
    } else {
        return Ok(Parsed {
            front: Front::default(),
            body: text.to_owned(),
        });
    };
    let after_open = text[3..].trim_start_matches([' ', '\t']);
    let Some(after_open) = after_open
        .strip_prefix("\r\n")
        .or_else(|| after_open.strip_prefix('\n'))
    else {
        return Ok(Parsed {
            front: Front::default(),
            body: text.to_owned(),
        });
    };
    let mut end = None;
    let mut at = 0;
    for line in after_open.split_inclusive('\n') {
        if line.trim_end() == fence {
            end = Some((at, at + line.len()));
            break;
        }
        at += line.len();
    }
    let Some((front_end, body_start)) = end else {
        return Err(Malformed::At {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: format!("the front matter opened by {fence} is never closed"),
        });
    };
    let source = &after_open[..front_end];
    let front: Front = if source.trim().is_empty() {
        Front::default()
    } else if toml {
        toml::from_str(source).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(source, s.start))
                .unwrap_or((0, 0));
            Malformed::At {
                file: file.to_owned(),
                line: line + 1,
                column,
                message: e.message().to_owned(),
            }
        })?
    } else {
        serde_norway::from_str(source).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as u64, l.column() as u64))
                .unwrap_or((0, 0));
            Malformed::At {
                file: file.to_owned(),
                // The front matter starts on the file's second line.
                line: line + 1,
                column,
                message: e.to_string(),
            }
        })?
    };
    Ok(Parsed {
        front,
        body: after_open[body_start..].to_owned(),
    })
}

fn line_column(text: &str, at: usize) -> (u64, u64) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
    (line, column)
}

/// Dates as Jekyll and Hugo write them: RFC 3339, `2019-05-01 10:00:00 +0200`,
/// `2019-05-01 10:00`, `2019-05-01`.
fn parse_date(s: &str) -> Option<OffsetDateTime> {
    use time::macros::format_description as fd;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let offsets = [
        fd!(
            "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
        ),
        fd!(
            "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
        ),
    ];
    if let Some(t) = offsets
        .iter()
        .find_map(|f| OffsetDateTime::parse(s, f).ok())
    {
        return Some(t);
    }
    let locals = [
        fd!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        fd!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        fd!("[year]-[month]-[day] [hour]:[minute]"),
    ];
    if let Some(t) = locals
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(s, f).ok())
    {
        return Some(t.assume_utc());
    }
    Date::parse(s.get(..10)?, fd!("[year]-[month]-[day]"))
        .ok()
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
}

/// Jekyll's `2019-05-01-hello-world.md`: the date and the slug.
fn dated_name(stem: &str) -> Option<(OffsetDateTime, &str)> {
    let date = parse_date(stem.get(..10)?)?;
    let rest = stem.get(10..)?.strip_prefix('-')?;
    Some((date, rest))
}

impl Format for Folder {
    fn check(&mut self) -> Result<Site, ReadError> {
        let root = self.root.canonicalize().map_err(|e| Malformed::File {
            file: self.root.display().to_string(),
            message: format!("the folder can't be read: {e}"),
        })?;
        self.root = root.clone();
        let mut files = Vec::new();
        walk(&root, 0, &mut files).map_err(|e| Malformed::File {
            file: root.display().to_string(),
            message: format!("the folder can't be read: {e}"),
        })?;
        if files.len() > MAX_FILES {
            return Err(Malformed::File {
                file: root.display().to_string(),
                message: format!("more than {MAX_FILES} Markdown files"),
            }
            .into());
        }
        files.sort();
        let mut kept = Vec::new();
        for path in files {
            let file = self.relative(&path);
            if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > MAX_FILE_BYTES {
                self.too_big.push(format!("{file}: larger than 16 MiB"));
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| Malformed::File {
                file: file.clone(),
                message: format!("can't be read: {e}"),
            })?;
            let text = String::from_utf8(bytes).map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                let (line, column) =
                    line_column(std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or(""), at);
                Malformed::At {
                    file: file.clone(),
                    line,
                    column,
                    message: "not UTF-8 text".into(),
                }
            })?;
            parse(&file, &text)?;
            kept.push(path);
        }
        self.files = kept;
        // Images: beside each file, or under the folder (Hugo's `static/` is served at /).
        self.images = ImageDir::new(&root, Vec::new()).ok();
        // The folder's name, not where it happens to be: the same site imported again from
        // elsewhere (the admin unpacks each upload anew) is found again.
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut site = Site {
            format: "markdown".into(),
            url: name,
            ..Site::default()
        };
        if let Some((title, url)) = site_config(&root) {
            site.title = title;
            if !url.is_empty() {
                site.url = url;
            }
        }
        Ok(site)
    }

    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError> {
        let mut tags_seen: HashSet<String> = HashSet::new();
        let mut authors_seen: HashSet<String> = HashSet::new();
        for path in &self.files {
            let file = self.relative(path);
            let text = std::fs::read_to_string(path).map_err(anyhow::Error::from)?;
            let Parsed { front, body } = parse(&file, &text)?;
            let post = self.post(path, &file, front, body);
            for name in post.tags.iter() {
                if tags_seen.insert(name.clone()) {
                    emit(Item::Tag(Tag {
                        source_id: name.clone(),
                        name: name.clone(),
                        slug: String::new(),
                        description: String::new(),
                        old_urls: Vec::new(),
                    }))?;
                }
            }
            for name in &post.authors {
                if authors_seen.insert(name.clone()) {
                    emit(Item::Author(Author {
                        source_id: name.clone(),
                        login: name.clone(),
                        display_name: name.clone(),
                        old_role: OldRole::Author,
                        ..Author::default()
                    }))?;
                }
            }
            emit(Item::Post(Box::new(post)))?;
        }
        Ok(())
    }

    fn images(&self) -> Option<&ImageDir> {
        self.images.as_ref()
    }

    fn size(&self) -> u64 {
        self.files.len() as u64
    }

    fn skipped(&self) -> Vec<String> {
        self.too_big.clone()
    }
}

impl Folder {
    fn post(&self, path: &Path, file: &str, front: Front, body: String) -> Post {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Hugo's page bundles: `posts/hello/index.md` is the post `hello`.
        let stem = if stem == "index" || stem == "_index" {
            path.parent()
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or(stem)
        } else {
            stem
        };
        let folders: Vec<String> = Path::new(file)
            .parent()
            .map(|p| {
                p.components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let in_posts = folders.iter().any(|f| POST_FOLDERS.contains(&f.as_str()));
        let in_drafts = folders.iter().any(|f| f == "_drafts" || f == "drafts");
        let named = dated_name(&stem);
        let date = front
            .date
            .as_ref()
            .and_then(Value::text)
            .and_then(|d| parse_date(&d))
            .or(named.map(|(d, _)| d));
        let page = matches!(front.layout.as_deref(), Some("page"))
            || matches!(front.kind.as_deref(), Some("page"))
            || (!in_posts && !in_drafts && date.is_none() && named.is_none());
        let kind = if page { PostKind::Page } else { PostKind::Post };
        let slug_source = named
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or(stem.clone());
        let slug = front.slug.clone().unwrap_or_else(|| slug_source.clone());
        let draft = front.draft == Some(true) || front.published == Some(false) || in_drafts;
        let status = match (draft, date) {
            (true, _) => PostStatus::Draft,
            (false, Some(d)) if d > OffsetDateTime::now_utc() => PostStatus::Scheduled,
            (false, _) => PostStatus::Published,
        };
        let mut tags: Vec<String> = Vec::new();
        for name in front
            .categories
            .iter()
            .flat_map(Names::names)
            .chain(front.category_one.clone())
            .chain(front.tags.iter().flat_map(Names::names))
        {
            if !tags.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
                tags.push(name);
            }
        }
        if page {
            tags.clear();
        }
        let title = front.title.clone().unwrap_or_else(|| {
            first_heading(&body).unwrap_or_else(|| slug_source.replace('-', " "))
        });
        let mut old_urls: Vec<String> = front
            .aliases
            .iter()
            .chain(front.redirects.iter())
            .flat_map(Names::names)
            .collect();
        old_urls.extend(front.permalink.clone());
        old_urls.extend(front.url.clone());
        let old_slug = Slug::parse(&slug)
            .ok()
            .or_else(|| Slug::from_title(&slug))
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if !old_slug.is_empty() {
            if let Some(section) = folders
                .iter()
                .find(|f| !f.starts_with('_') && *f != "content")
            {
                old_urls.push(format!("/{section}/{old_slug}/"));
            }
            if let (PostKind::Post, Some(d)) = (kind, date) {
                let (y, m, day) = (d.year(), d.month() as u8, d.day());
                old_urls.push(format!("/{y}/{m:02}/{day:02}/{old_slug}.html"));
                old_urls.push(format!("/{y}/{m:02}/{day:02}/{old_slug}/"));
            }
            if kind == PostKind::Page {
                old_urls.push(format!("/{old_slug}.html"));
            }
        }
        let body = self.local_images(path, &body);
        let cover = front
            .image
            .as_ref()
            .and_then(Value::text)
            .map(|a| self.local_address(path, &a));
        Post {
            source_id: file.to_owned(),
            kind,
            title,
            slug,
            excerpt: front.description.clone().unwrap_or_default(),
            body_markdown: body,
            status,
            published_at: date,
            authors: front.author.iter().flat_map(Names::names).take(1).collect(),
            tags,
            featured: front.featured.unwrap_or(false),
            cover,
            old_urls,
            ..Post::default()
        }
    }

    /// `body` with image addresses made relative to the folder (the writer's image folder).
    fn local_images(&self, path: &Path, body: &str) -> String {
        let found: std::collections::HashMap<String, String> = super::write::image_addresses(body)
            .into_iter()
            .filter(|(a, _)| !a.contains("://") && !a.starts_with("//") && !a.starts_with("data:"))
            .map(|(a, _)| {
                let local = self.local_address(path, &a);
                (a, local)
            })
            .collect();
        super::write::rewrite_addresses(body, &found)
    }

    /// An image address in `path` as an address under the folder: relative ones from the
    /// file's own folder; absolute ones from `static/` (Hugo) or the folder (Jekyll).
    fn local_address(&self, path: &Path, address: &str) -> String {
        if address.contains("://") || address.starts_with("//") {
            return address.to_owned();
        }
        let dir = path.parent().unwrap_or(&self.root);
        let candidate = if let Some(absolute) = address.strip_prefix('/') {
            let in_static = self.root.join("static").join(absolute);
            if in_static.is_file() {
                in_static
            } else {
                self.root.join(absolute)
            }
        } else {
            dir.join(address)
        };
        candidate
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| address.to_owned())
    }
}

/// The first `# Heading` of a body without a title in its front matter.
fn first_heading(body: &str) -> Option<String> {
    body.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Markdown files under `dir` (hidden folders, `node_modules`, `public` and `_site` are
/// build output or tooling), not following links.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH || out.len() > MAX_FILES {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_symlink() || name.starts_with('.') {
            continue;
        }
        if kind.is_dir() {
            if !matches!(
                name.as_str(),
                "node_modules" | "public" | "_site" | "resources"
            ) {
                walk(&entry.path(), depth + 1, out)?;
            }
        } else if kind.is_file()
            && (name.ends_with(".md") || name.ends_with(".markdown"))
            && !matches!(
                name.to_ascii_lowercase().as_str(),
                "readme.md" | "license.md" | "changelog.md"
            )
        {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The site's title and address from Hugo's or Jekyll's configuration, when there.
fn site_config(root: &Path) -> Option<(String, String)> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Config {
        title: String,
        #[serde(alias = "baseURL", alias = "baseurl")]
        url: String,
    }
    for (name, toml) in [
        ("hugo.toml", true),
        ("config.toml", true),
        ("_config.yml", false),
        ("hugo.yaml", false),
        ("config.yaml", false),
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        let config: Option<Config> = if toml {
            toml::from_str(&text).ok()
        } else {
            serde_norway::from_str(&text).ok()
        };
        if let Some(c) = config {
            return Some((c.title, c.url.trim_end_matches('/').to_owned()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quire-md-{}", uuid::Uuid::new_v4()));
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn read(dir: &Path) -> Vec<Item> {
        let mut f = Folder::open(dir);
        f.check().expect("checks");
        let mut items = Vec::new();
        f.read(&mut |i| {
            items.push(i);
            Ok(())
        })
        .expect("reads");
        items
    }

    fn posts(items: &[Item]) -> Vec<&Post> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Post(p) => Some(&**p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn jekyll_and_hugo_conventions() {
        let dir = folder(&[
            (
                "_posts/2019-05-01-hello-world.md",
                "---\ntitle: \"Hello, world\"\ntags: [rust, web]\ncategories: notes\nredirect_from: /old/hello/\n---\nHi ![pic](pic.png)\n",
            ),
            ("_posts/pic.png", "x"),
            ("_drafts/idea.md", "---\ntitle: An idea\n---\nLater.\n"),
            ("about.md", "---\nlayout: page\ntitle: About\n---\nMe.\n"),
            (
                "content/posts/second/index.md",
                "+++\ntitle = \"Second\"\ndate = 2020-02-03T04:05:06Z\ntags = [\"Rust\"]\ndraft = false\naliases = [\"/2020/second\"]\n+++\nBody\n",
            ),
            ("README.md", "not content"),
        ]);
        let items = read(&dir);
        let posts = posts(&items);
        assert_eq!(posts.len(), 4, "{posts:#?}");
        let hello = posts
            .iter()
            .find(|p| p.title == "Hello, world")
            .expect("hello");
        assert_eq!(hello.slug, "hello-world");
        assert_eq!(hello.status, PostStatus::Published);
        assert_eq!(hello.tags, ["notes", "rust", "web"]);
        assert!(hello.old_urls.contains(&"/old/hello/".to_owned()));
        assert!(
            hello
                .old_urls
                .contains(&"/2019/05/01/hello-world.html".to_owned())
        );
        assert!(
            hello.body_markdown.contains("![pic](_posts/pic.png)"),
            "{}",
            hello.body_markdown
        );
        let idea = posts.iter().find(|p| p.title == "An idea").expect("idea");
        assert_eq!(idea.status, PostStatus::Draft);
        let about = posts.iter().find(|p| p.title == "About").expect("about");
        assert_eq!(about.kind, PostKind::Page);
        let second = posts.iter().find(|p| p.title == "Second").expect("second");
        assert_eq!(second.slug, "second");
        assert!(second.published_at.is_some());
        assert!(second.old_urls.contains(&"/posts/second/".to_owned()));
        // "Rust" and "rust" are one tag.
        let tags = items.iter().filter(|i| matches!(i, Item::Tag(_))).count();
        assert_eq!(tags, 4, "{items:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn broken_front_matter_is_refused_with_its_line() {
        let dir = folder(&[("a.md", "---\ntitle: ok\ntags: [unclosed\n---\nx\n")]);
        match Folder::open(&dir).check() {
            Err(ReadError::Malformed(Malformed::At { file, line, .. })) => {
                assert_eq!(file, "a.md");
                assert!(line >= 2, "{line}");
            }
            other => panic!("{other:?}"),
        }
        let dir2 = folder(&[("b.md", "---\ntitle: never closed\n")]);
        assert!(matches!(
            Folder::open(&dir2).check(),
            Err(ReadError::Malformed(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }

    #[test]
    fn dates_in_every_shape() {
        for s in [
            "2019-05-01",
            "2019-05-01 10:00:00",
            "2019-05-01 10:00:00 +0200",
            "2019-05-01T10:00:00Z",
            "2019-05-01T10:00:00+02:00",
            "2019-05-01 10:00",
        ] {
            assert!(parse_date(s).is_some(), "{s}");
        }
        assert!(parse_date("soon").is_none());
    }
}
