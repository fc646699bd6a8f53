//! Uploaded images: checked by their bytes (PNG, JPEG, GIF, WebP only), stored under the
//! SHA-256 of their content in `uploads.dir`, served at `/uploads/{name}` for a year.

pub mod admin;
pub mod image_url;
pub mod repo;

use std::path::Path;

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, CacheControl, CacheDirective},
    web,
};
use sha2::{Digest, Sha256};

use crate::{error::Error, state::AppState};

/// The image kinds we accept, by what their bytes say they are.
const ACCEPTED: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];

/// What is wrong with an upload, in words for the person who sent it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("the file is empty")]
    Empty,
    #[error("only PNG, JPEG, GIF and WebP images can be uploaded (this looks like {0})")]
    NotAnImage(String),
}

/// A checked image: its stored name and content type.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub file_name: String,
    pub content_type: &'static str,
}

/// Decide from the bytes alone (never the name or the claimed type) what the file is.
pub fn check(bytes: &[u8]) -> Result<Checked, Rejected> {
    if bytes.is_empty() {
        return Err(Rejected::Empty);
    }
    let kind = infer::get(bytes);
    let found = kind.map(|k| k.mime_type());
    let Some((content_type, ext)) = ACCEPTED.iter().find(|(m, _)| Some(*m) == found) else {
        let markup =
            found.is_some_and(|m| m.contains("html") || m.contains("svg") || m.contains("xml"));
        let what = match found {
            _ if markup || looks_like_markup(bytes) => "HTML or SVG".to_owned(),
            Some(m) => m.to_owned(),
            None => "an unknown kind of file".to_owned(),
        };
        return Err(Rejected::NotAnImage(what));
    };
    let hash: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Checked {
        file_name: format!("{hash}.{ext}"),
        content_type,
    })
}

fn looks_like_markup(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    head.trim_start().starts_with('<')
}

/// Write `bytes` under their checked name (once: the same bytes have the same name).
pub async fn store(dir: &Path, checked: &Checked, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(&checked.file_name);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(());
    }
    // Write then rename, so a reader never sees half a file.
    let tmp = dir.join(format!(".{}.tmp", checked.file_name));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await
}

/// Stored names are exactly `<64 hex>.<ext>`: nothing else can name a file, so no path
/// can climb out of the uploads folder.
fn valid_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((hash, ext)) => {
            hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && ACCEPTED.iter().any(|(_, e)| *e == ext)
        }
        None => false,
    }
}

/// `GET /uploads/{name}`
pub async fn serve(
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    if !valid_name(&name) {
        return Err(Error::NotFound);
    }
    let path = state.settings.uploads.dir.join(name.as_str());
    let file = web::block(move || NamedFile::open(path))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|_| Error::NotFound)?;
    let mut res = file
        .use_last_modified(true)
        .disable_content_disposition()
        .into_response(&req);
    let headers = res.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ])
        .to_string()
        .parse::<header::HeaderValue>()
        .map_err(anyhow::Error::from)?,
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];

    #[test]
    fn images_are_known_by_their_bytes() {
        let c = check(PNG).expect("a png");
        assert_eq!(c.content_type, "image/png");
        assert!(c.file_name.ends_with(".png") && c.file_name.len() == 68);
        assert_eq!(check(b""), Err(Rejected::Empty));
        assert!(matches!(
            check(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(Rejected::NotAnImage(_))
        ));
        assert!(matches!(
            check(b"<html><script>x</script>"),
            Err(Rejected::NotAnImage(_))
        ));
        assert!(matches!(check(b"%PDF-1.4"), Err(Rejected::NotAnImage(_))));
    }

    #[test]
    fn only_hash_names_are_served() {
        let good = format!("{}.png", "a".repeat(64));
        assert!(valid_name(&good));
        for bad in [
            "../etc/passwd",
            "x.png",
            &format!("{}.svg", "a".repeat(64)),
            &format!("{}.png", "A".repeat(64)),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
