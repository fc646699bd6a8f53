//! Media: uploaded images, kept in one store (`store`: the local folder or an S3-compatible
//! bucket) under the SHA-256 of their bytes, served at `/uploads/{name}` for a year.
//!
//! Every door (the admin's form and the editor's paste, `POST /api/uploads`, a presigned
//! upload's confirmation, the importers) calls `receive`: the bytes are checked (PNG, JPEG,
//! GIF, WebP, by what they are; at most `uploads.max_pixels`), kept as sent under
//! `originals/`, recorded, and `media.process` (`job`) makes what readers get: the image
//! without metadata, its widths and WebP copies, a social card (`pipeline`). Pages show them
//! through `images` (`srcset`, `width`/`height`, lazy loading).

pub mod admin;
pub mod direct;
pub mod image_url;
pub mod images;
pub mod job;
pub mod migrate;
pub mod pipeline;
pub mod repo;
pub mod store;
pub mod variants;

use std::io::Cursor;

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderValue},
    web,
};
use bytes::Bytes;
use sha2::{Digest, Sha256};

pub use store::{Store, StoreError};

use crate::{accounts::model::UserId, config::UploadsSettings, error::Error, state::AppState};

/// The image kinds we accept, by what their bytes say they are.
pub const ACCEPTED: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];

/// The content type of a stored file, by its name's extension.
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit('.').next().unwrap_or_default();
    ACCEPTED
        .iter()
        .find(|(_, e)| *e == ext)
        .map_or("application/octet-stream", |(m, _)| m)
}

/// What is wrong with an upload, in words for the person who sent it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("the file is empty")]
    Empty,
    #[error("only PNG, JPEG, GIF and WebP images can be uploaded (this looks like {0})")]
    NotAnImage(String),
    #[error("the image is {width}×{height} pixels; at most {max} megapixels can be uploaded")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image could not be read ({0})")]
    Unreadable(String),
}

/// A checked image: its stored name, content type and size as its header says.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub file_name: String,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Decide from the bytes alone (never the name or the claimed type) what the file is; read
/// its size from its header only, so a decompression bomb is refused before any decoding.
pub fn check(bytes: &[u8], max_pixels: u64) -> Result<Checked, Rejected> {
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
    let (width, height) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Rejected::Unreadable(e.to_string()))?
        .into_dimensions()
        .map_err(|e| Rejected::Unreadable(e.to_string()))?;
    if width == 0 || height == 0 {
        return Err(Rejected::Unreadable("it has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Rejected::TooManyPixels {
            width,
            height,
            max: max_pixels / 1_000_000,
        });
    }
    let hash: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Checked {
        file_name: format!("{hash}.{ext}"),
        content_type,
        width,
        height,
    })
}

fn looks_like_markup(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    head.trim_start().starts_with('<')
}

/// The one size rule for an image, whatever the door: the message when `bytes` is over
/// `uploads.max_bytes` (doors that stream a body apply it as the bytes arrive; `receive`
/// applies it again).
pub fn too_large(settings: &UploadsSettings, bytes: u64) -> Option<String> {
    (bytes > settings.max_bytes as u64).then(|| {
        format!(
            "Images can be at most {}.",
            crate::input::human_bytes(settings.max_bytes)
        )
    })
}

/// Why `receive` could not keep an upload: the person's mistake, or the store's or the
/// database's trouble.
#[derive(Debug, thiserror::Error)]
pub enum NotKept {
    /// Over `uploads.max_bytes` (413): the message says the limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Refused(#[from] Rejected),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<NotKept> for Error {
    fn from(e: NotKept) -> Self {
        match e {
            NotKept::TooLarge(message) => Error::TooLarge(message),
            NotKept::Refused(r) => Error::BadRequest(sentence(&r)),
            NotKept::Store(StoreError::Unavailable(_)) => Error::Unavailable,
            NotKept::Store(e) => Error::Internal(anyhow::Error::from(e)),
            NotKept::Db(e) => e.into(),
        }
    }
}

/// A refusal as a sentence ("The file is empty.").
pub fn sentence(r: &Rejected) -> String {
    let mut message = r.to_string();
    message[..1].make_ascii_uppercase();
    format!("{message}.")
}

/// The one way in for an image, whatever the door: check it, keep it as sent (privately),
/// record it for `uploader` and queue its processing. The same bytes sent again are the same
/// upload: its row is returned as it is.
pub async fn receive(
    db: &sqlx::PgPool,
    store: &Store,
    settings: &UploadsSettings,
    bytes: Bytes,
    original_name: &str,
    uploader: UserId,
) -> Result<repo::Upload, NotKept> {
    if let Some(message) = too_large(settings, bytes.len() as u64) {
        return Err(NotKept::TooLarge(message));
    }
    let checked = check(&bytes, settings.max_pixels)?;
    if let Some(known) = repo::find(db, &checked.file_name).await? {
        return Ok(known);
    }
    let size = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    store
        .put(
            &format!("{}{}", store::ORIGINALS, checked.file_name),
            bytes,
            checked.content_type,
        )
        .await?;
    let mut tx = db.begin().await?;
    let row = repo::insert(
        &mut *tx,
        &repo::NewUpload {
            file_name: &checked.file_name,
            content_type: checked.content_type,
            bytes: size,
            uploader,
            original_name: &clean_name(original_name),
            width: checked.width,
            height: checked.height,
        },
    )
    .await?;
    job::Process::queue(&mut *tx, &row.file_name).await?;
    tx.commit().await?;
    Ok(row)
}

/// An upload's bytes as they were sent: `originals/<name>`, or, for one stored before
/// originals were kept apart (and not processed since), `<name>` itself. `None` if neither.
pub async fn original(store: &Store, name: &str) -> Result<Option<Bytes>, StoreError> {
    if let Some(bytes) = store.get(&format!("{}{name}", store::ORIGINALS)).await? {
        return Ok(Some(bytes));
    }
    store.get(name).await
}

/// A file name as people sent it, fit to show: no path, no control characters, ≤ 255 bytes.
pub fn clean_name(sent: &str) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out: String = base.chars().filter(|c| !c.is_control()).collect();
    while out.len() > 255 {
        out.pop();
    }
    out.trim().to_owned()
}

/// Longest alt text, in characters (the column's limit).
pub const ALT_MAX: usize = 1000;

/// An image's alt text as the library keeps it: control characters dropped (a newline
/// would break the Markdown it is inserted into), trimmed, at most `ALT_MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alt(String);

impl Alt {
    pub fn parse(sent: &str) -> Result<Self, String> {
        let clean: String = sent.chars().filter(|c| !c.is_control()).collect();
        let clean = clean.trim();
        if clean.chars().count() > ALT_MAX {
            return Err(format!("alt text is at most {ALT_MAX} characters"));
        }
        Ok(Self(clean.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Markdown that shows an upload with its alt text: `![alt](/uploads/<name>)`. Brackets
/// and backslashes in the alt are escaped, so the text cannot end the image early.
pub fn markdown(alt: &str, name: &str) -> String {
    let mut escaped = String::with_capacity(alt.len());
    for c in alt.chars() {
        if matches!(c, '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("![{escaped}](/uploads/{name})")
}

/// The image address a form's field asks for: an image picked from the library
/// (`<field>_pick`, an upload's name, sent by the picker's radio buttons) wins over the
/// address typed beside it; with nothing picked, the typed address (checked afterwards by
/// `image_url::parse`, as every door does). A pick that names no upload is refused.
pub fn chosen(typed: &str, picked: &str) -> Result<String, String> {
    match picked.trim() {
        "" => Ok(typed.to_owned()),
        name if valid_name(name) && !name.contains('-') => Ok(format!("/uploads/{name}")),
        _ => Err("pick an image from the library, or type its address".into()),
    }
}

/// The key of `name`'s copy `width` pixels wide, in `ext` (`<hash>-960.webp`).
pub fn width_key(name: &str, width: u32, ext: &str) -> String {
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    format!("{stem}-{width}.{ext}")
}

/// The key of `name`'s social card, 1200×630 (`<hash>-og.jpg`).
pub fn og_key(name: &str) -> String {
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    format!("{stem}-og.jpg")
}

/// The size of every social card (OpenGraph, Twitter): 1200×630, cropped from the middle.
pub const OG_SIZE: (u32, u32) = (1200, 630);

/// A name readers may fetch: `<64 hex>.<ext>` (the image), `<64 hex>-<width>.<ext|webp>`
/// (a width), `<64 hex>-og.jpg` (the social card). Nothing else names a file, so no path can
/// climb out of the store, and `originals/` is never served.
pub fn valid_name(name: &str) -> bool {
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    let (hash, variant) = match stem.split_once('-') {
        Some((hash, variant)) => (hash, Some(variant)),
        None => (stem, None),
    };
    let hex = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let known_ext = ACCEPTED.iter().any(|(_, e)| *e == ext);
    let variant_ok = match variant {
        None => true,
        Some("og") => ext == "jpg",
        Some(w) => {
            !w.is_empty()
                && w.len() <= 4
                && w.bytes().all(|b| b.is_ascii_digit())
                && !w.starts_with('0')
        }
    };
    hex && known_ext && variant_ok
}

/// `GET /uploads/{name}`: from the local folder (with ranges and `Last-Modified`), or read
/// from the bucket. Either way cached for a year: the name is the content.
///
/// An image fetched before its `media.process` job ran (the editor shows it right after a
/// paste) is processed here, once, then served: the same `job::process` the job runs.
pub async fn serve(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    if !valid_name(&name) {
        return Err(Error::NotFound);
    }
    let mut res = match fetch(&store, &name, &req).await? {
        Some(res) => res,
        None if process_if_pending(&state, &store, &name).await? => {
            fetch(&store, &name, &req).await?.ok_or(Error::NotFound)?
        }
        None => return Err(Error::NotFound),
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(store::IMMUTABLE),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

/// The response for the stored file `name`; `None` when there is no such file.
async fn fetch(
    store: &Store,
    name: &str,
    req: &HttpRequest,
) -> Result<Option<HttpResponse>, Error> {
    if let Some(path) = store.local_path(name) {
        let Ok(file) = web::block(move || NamedFile::open(path))
            .await
            .map_err(anyhow::Error::from)?
        else {
            return Ok(None);
        };
        return Ok(Some(
            file.use_last_modified(true)
                .disable_content_disposition()
                .into_response(req),
        ));
    }
    let etag = format!("\"{name}\"");
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return Ok(Some(
            HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .finish(),
        ));
    }
    let bytes = match store.get(name).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "media store read failed");
            return Err(Error::Unavailable);
        }
    };
    Ok(Some(
        HttpResponse::Ok()
            .content_type(content_type(name))
            .insert_header((header::ETAG, etag))
            .body(bytes),
    ))
}

/// At most this many images processed inline at once, whatever the number of requests: the
/// rest wait their turn (each is bounded by `uploads.max_pixels`).
static INLINE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// When `name` is an upload's base file (`<hash>.<ext>`) whose upload is still pending, make
/// its files now; `true` when they are there.
async fn process_if_pending(state: &AppState, store: &Store, name: &str) -> Result<bool, Error> {
    if name.contains('-') {
        return Ok(false);
    }
    let pending = repo::find(&state.db, name)
        .await?
        .is_some_and(|u| u.state == "pending");
    if !pending {
        return Ok(false);
    }
    let _turn = INLINE
        .acquire()
        .await
        .map_err(|e| Error::Internal(anyhow::Error::from(e)))?;
    let opts = pipeline::Options::from_settings(&state.settings.uploads);
    match job::process(&state.db, store, &opts, name).await {
        Ok(job::Processed::Ready { .. }) => {
            crate::cache::Pages::of(state).stale().await;
            Ok(true)
        }
        Ok(job::Processed::Failed(_)) => Ok(false),
        Err(job::NotProcessed::Store(StoreError::Unavailable(e))) => {
            tracing::warn!(error = %e, "media store unavailable while processing inline");
            Err(Error::Unavailable)
        }
        Err(job::NotProcessed::Db(e)) => Err(e.into()),
        Err(e) => Err(Error::Internal(anyhow::Error::from(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn images_are_known_by_their_bytes() {
        let c = check(&png(3, 2), 1_000_000).expect("a png");
        assert_eq!(c.content_type, "image/png");
        assert_eq!((c.width, c.height), (3, 2));
        assert!(c.file_name.ends_with(".png") && c.file_name.len() == 68);
        assert_eq!(check(b"", 1), Err(Rejected::Empty));
        for bad in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
            b"<html><script>x</script>",
            b"%PDF-1.4",
        ] {
            assert!(matches!(
                check(bad, 1_000_000),
                Err(Rejected::NotAnImage(_))
            ));
        }
        // A PNG signature with a broken header is unreadable, not a panic.
        let mut broken = png(3, 2);
        broken.truncate(20);
        assert!(matches!(
            check(&broken, 1_000_000),
            Err(Rejected::Unreadable(_))
        ));
    }

    #[test]
    fn too_many_pixels_are_refused_by_the_header() {
        // 20000×20000 announced: refused before a byte of pixels is decoded.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        // The IHDR chunk's CRC (over its type and data), so the header reads as valid.
        let crc = bomb[12..29].iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            c
        });
        bomb[29..33].copy_from_slice(&(!crc).to_be_bytes());
        assert!(matches!(
            check(&bomb, 50_000_000),
            Err(Rejected::TooManyPixels { width: 20_000, .. })
        ));
    }

    /// PNG's CRC-32.
    pub fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn alt_text_drops_control_characters_and_has_a_limit() {
        let alt = Alt::parse("  A cat\n on\u{7} a mat\t ").expect("fine");
        assert_eq!(alt.as_str(), "A cat on a mat");
        assert!(Alt::parse(&"é".repeat(ALT_MAX)).is_ok());
        assert!(Alt::parse(&"é".repeat(ALT_MAX + 1)).is_err());
        assert_eq!(
            markdown("a [b] \\c", "x.png"),
            "![a \\[b\\] \\\\c](/uploads/x.png)"
        );
    }

    #[test]
    fn a_picked_upload_wins_over_the_typed_address() {
        let name = format!("{}.png", "a".repeat(64));
        assert_eq!(chosen("/typed.png", ""), Ok("/typed.png".into()));
        assert_eq!(chosen("/typed.png", &name), Ok(format!("/uploads/{name}")));
        for forged in [
            "https://evil.example/x.png",
            "../x.png",
            "javascript:x",
            &format!("{}-480.webp", "a".repeat(64)),
        ] {
            assert!(chosen("", forged).is_err(), "{forged}");
        }
    }

    #[test]
    fn only_hash_names_are_served() {
        let good = format!("{}.png", "a".repeat(64));
        assert!(valid_name(&good));
        for also in ["-960.png", "-960.webp", "-og.jpg"] {
            assert!(valid_name(&format!("{}{also}", "a".repeat(64))), "{also}");
        }
        for bad in [
            "../etc/passwd",
            "x.png",
            &format!("{}.svg", "a".repeat(64)),
            &format!("{}.png", "A".repeat(64)),
            &format!("originals/{}.png", "a".repeat(64)),
            &format!("{}-og.png", "a".repeat(64)),
            &format!("{}-0960.png", "a".repeat(64)),
            &format!("{}-96000.png", "a".repeat(64)),
            &format!("{}-.png", "a".repeat(64)),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
