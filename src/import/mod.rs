//! Moving in (issue 26): `quire import wordpress|ghost|markdown|quire` and `/admin/import`.
//! A reader per format turns a file into `model::Item`s; the one writer (`write`) checks and
//! stores them, so every import goes through the rules typed posts go through.
//!
//! Every import reads its source twice: `Format::check` reads it whole without keeping it
//! (a malformed file is refused, with where it broke, before anything is written), then
//! `Format::read` hands the items over one by one to the writer, which writes them in
//! batches: memory stays bounded however large the file.

pub mod admin;
pub mod convert;
pub mod ghost;
pub mod job;
pub mod markdown;
pub mod model;
pub mod quire;
pub mod repo;
pub mod wordpress;
pub mod write;

use std::path::{Component, Path, PathBuf};

pub use model::{Item, Malformed, Site};

/// The formats an import can read: (name, what it is, the file it takes).
pub const FORMATS: [(&str, &str, &str); 4] = [
    (
        "wordpress",
        "WordPress",
        "the export file from Tools → Export (.xml)",
    ),
    (
        "ghost",
        "Ghost",
        "the export file from Settings → Import/Export (.json)",
    ),
    (
        "markdown",
        "Markdown folder",
        "a folder of Markdown files with front matter",
    ),
    (
        "quire",
        "Quire",
        "an archive from quire export or /admin/export (.zip)",
    ),
];

/// The reader for `format` over `path` (a file, or a folder for Markdown); `images`: where
/// the old site's images are.
pub fn open(
    format: &str,
    path: &Path,
    images: Option<&Path>,
) -> Result<Box<dyn Format>, ReadError> {
    let unreadable = |e: std::io::Error| Malformed::File {
        file: images.map(|i| i.display().to_string()).unwrap_or_default(),
        message: format!("the images folder can't be read: {e}"),
    };
    Ok(match format {
        "wordpress" => Box::new(wordpress::Wxr::open(path, images)),
        "ghost" => Box::new(ghost::Ghost::open(path, images).map_err(unreadable)?),
        "markdown" => Box::new(markdown::Folder::open(path)),
        "quire" => Box::new(quire::QuireArchive::new(path)),
        other => {
            return Err(Malformed::File {
                file: path.display().to_string(),
                message: format!("{other:?} is not a format Quire imports"),
            }
            .into());
        }
    })
}

/// Where a reader's items go; an error stops the reading (the writer failed).
pub type Emit<'a> = &'a mut dyn FnMut(Item) -> anyhow::Result<()>;

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is not what it says it is; nothing was written.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The writer (or the file system) failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// One source format.
pub trait Format: Send {
    /// Read the whole source, keeping only what the second pass needs (WordPress: where
    /// each attachment is): a malformed file is refused here, before anything is written.
    fn check(&mut self) -> Result<Site, ReadError>;
    /// Hand every item over, in `model::Item`'s order.
    fn read(&mut self, emit: Emit<'_>) -> Result<(), ReadError>;
    /// How many posts and comments `read` will hand over, when `check` counted them: the
    /// progress bar's end (0: unknown).
    fn size(&self) -> u64 {
        0
    }
    /// What `check` saw and the import leaves out (menu items, say), for the report.
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }
    /// Where the images the items name can be found (`--uploads DIR`, `--images DIR`,
    /// the folder itself); `None`: images stay where they are.
    fn images(&self) -> Option<&ImageDir> {
        None
    }
}

/// A folder of the old site's images (`wp-content/uploads`, Ghost's `content/images`, a
/// Markdown folder), and the addresses that point into it. Only files under the folder are
/// ever opened: `..`, absolute paths, NUL and links out of the folder find nothing.
#[derive(Debug, Clone)]
pub struct ImageDir {
    root: PathBuf,
    /// Address prefixes that mean "this folder" (`https://old.example/wp-content/uploads/`,
    /// `/content/images/`); a relative address is taken from the folder too.
    prefixes: Vec<String>,
    /// A folder unpacked for this import (a Quire archive's uploads): removed when the last
    /// copy of this `ImageDir` goes, which is after the writer, not after the reader.
    _unpacked: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl ImageDir {
    pub fn new(root: impl Into<PathBuf>, prefixes: Vec<String>) -> std::io::Result<Self> {
        let root = root.into().canonicalize()?;
        Ok(ImageDir {
            root,
            prefixes,
            _unpacked: None,
        })
    }

    /// `new` over a temporary folder, which lives as long as this (and its copies) do.
    pub fn unpacked(dir: tempfile::TempDir, prefixes: Vec<String>) -> std::io::Result<Self> {
        let mut images = Self::new(dir.path(), prefixes)?;
        images._unpacked = Some(std::sync::Arc::new(dir));
        Ok(images)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file an image address names, if it is in the folder.
    pub fn locate(&self, address: &str) -> Option<PathBuf> {
        let address = address.trim();
        // Query and fragment never name another file (`photo.jpg?w=640`).
        let address = address.split(['?', '#']).next()?;
        let relative = self
            .prefixes
            .iter()
            .find_map(|p| {
                address
                    .strip_prefix(p.as_str())
                    .or_else(|| strip_prefix_any_scheme(address, p))
            })
            .or_else(|| {
                (!address.contains("://") && !address.starts_with("//")).then_some(address)
            })?;
        let relative = percent_decode(relative.trim_start_matches('/'))?;
        let path = Path::new(&relative);
        if relative.is_empty()
            || relative.contains('\0')
            || path
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        let found = self.root.join(path).canonicalize().ok()?;
        (found.starts_with(&self.root) && found.is_file()).then_some(found)
    }
}

/// `http://old.example/x` for the prefix `https://old.example/`, and the other way round:
/// old posts mix both.
fn strip_prefix_any_scheme<'a>(address: &'a str, prefix: &str) -> Option<&'a str> {
    let bare = |s: &'a str| {
        s.strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .or_else(|| s.strip_prefix("//"))
    };
    let prefix_bare = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))?;
    bare(address)?.strip_prefix(prefix_bare)
}

/// `%20` and friends decoded; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_found_only_inside_their_folder() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("quire-images-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("uploads/2019/05"))?;
        std::fs::write(dir.join("uploads/2019/05/a b.jpg"), b"x")?;
        std::fs::write(dir.join("secret.txt"), b"x")?;
        let images = ImageDir::new(
            dir.join("uploads"),
            vec!["https://old.example/wp-content/uploads/".into()],
        )?;
        for found in [
            "https://old.example/wp-content/uploads/2019/05/a%20b.jpg",
            "http://old.example/wp-content/uploads/2019/05/a b.jpg?w=300",
            "2019/05/a b.jpg",
        ] {
            assert!(images.locate(found).is_some(), "{found}");
        }
        for refused in [
            "https://old.example/wp-content/uploads/../secret.txt",
            "https://old.example/wp-content/uploads/2019/%2e%2e/%2e%2e/../secret.txt",
            "/etc/passwd",
            "../secret.txt",
            "https://elsewhere.example/2019/05/a b.jpg",
            "2019/05/a b.jpg\0.png",
            "2019/05",
        ] {
            assert!(images.locate(refused).is_none(), "{refused}");
        }
        std::fs::remove_dir_all(&dir)
    }
}
