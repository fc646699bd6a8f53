//! Showing uploads well: what a page needs to know of each image it shows (`Images`, loaded
//! in one query per page), and the markup made from it — `<picture>` with a WebP `srcset`
//! and one in the image's own format, `width`/`height` so nothing jumps while it loads, lazy
//! loading below the fold, `decoding="async"`.
//!
//! The files are those `pipeline` made: for each width `w` in the row's `widths` (the image's
//! own width last), `<hash>-<w>.webp`, and `<hash>-<w>.<ext>` — except the own width, whose
//! file in its format is `<hash>.<ext>` itself. Animated GIFs have no widths.

use std::{collections::HashMap, fmt, fmt::Write as _};

use super::repo::Upload;
use crate::config::UploadsSettings;

/// Markup this module made: attribute values escaped here, alt text from sanitized HTML
/// kept as it was. Askama prints it as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Markup {}

/// The `sizes` of an image in a post's column (`--measure`, 42rem, less the padding).
pub const IN_COLUMN: &str = "(min-width: 44.5rem) 42rem, calc(100vw - 2.5rem)";

/// The uploads a page shows, by name (`<hash>.<ext>`), with where readers fetch them.
#[derive(Debug, Clone, Default)]
pub struct Images {
    by_name: HashMap<String, Upload>,
    /// `/uploads` or the configured public base, without a trailing `/`.
    base: String,
}

impl Images {
    /// Load the uploads named by `urls` (`/uploads/<name>` addresses; others are ignored).
    pub async fn load<'u>(
        db: impl sqlx::PgExecutor<'_>,
        settings: &UploadsSettings,
        urls: impl IntoIterator<Item = &'u str>,
    ) -> sqlx::Result<Self> {
        let mut names: Vec<String> = urls
            .into_iter()
            .filter_map(upload_name)
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        names.dedup();
        let found = if names.is_empty() {
            Vec::new()
        } else {
            super::repo::find_many(db, &names).await?
        };
        Ok(Self {
            by_name: found
                .into_iter()
                .map(|u| (u.file_name.clone(), u))
                .collect(),
            base: super::store::public_base(&settings.public_base_url),
        })
    }

    /// Where readers fetch the file `key` (`<base>/<key>`).
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    /// The processed upload an address names, if any.
    pub fn get(&self, url: &str) -> Option<&Upload> {
        upload_name(url)
            .and_then(|n| self.by_name.get(n))
            .filter(|u| u.is_ready())
    }

    /// The social card (1200×630) of the image at `url` with its size, when it has one;
    /// else `url`, size unknown.
    pub fn social(&self, url: &str) -> (String, Option<(u32, u32)>) {
        match self.get(url) {
            Some(u) => (self.url(&super::og_key(&u.file_name)), Some(super::OG_SIZE)),
            None => (url.to_owned(), None),
        }
    }

    /// The address of the smallest file of the image at `url` at least `width` pixels wide
    /// (an avatar, a thumbnail); `url` itself when unknown.
    pub fn at_least(&self, url: &str, width: i32) -> String {
        let Some(u) = self.get(url) else {
            return self.rebased(url);
        };
        match u.widths.iter().copied().find(|w| *w >= width) {
            Some(w) => self.url(&u.file_key(w.unsigned_abs(), "webp")),
            None => self.url(&u.file_name),
        }
    }

    /// `<img>` (a `<picture>` when the image has widths) for the image at `url`: `alt` is
    /// plain text (escaped here), `sizes` how wide it is shown, `eager` for one at the top of
    /// the page (its largest content), else lazy.
    pub fn picture(
        &self,
        url: &str,
        alt: &str,
        sizes: &str,
        eager: impl std::borrow::Borrow<bool>,
    ) -> Markup {
        let mut out = String::new();
        self.write_picture(&mut out, url, &escape(alt), "", sizes, *eager.borrow());
        Markup(out)
    }

    /// Sanitized post HTML with each `<img>` of an upload made a `<picture>` (and every
    /// image given lazy loading; the first eager when `eager_first`: a post without a cover).
    pub fn decorate(&self, html: &str, eager_first: bool) -> Markup {
        let mut out = String::with_capacity(html.len() + 512);
        let mut rest = html;
        let mut first = eager_first;
        while let Some(at) = rest.find("<img ") {
            let Some(len) = rest[at..].find('>') else {
                break;
            };
            out.push_str(&rest[..at]);
            let tag = &rest[at..at + len + 1];
            let src = attr(tag, "src").unwrap_or_default();
            let alt = attr(tag, "alt").unwrap_or_default();
            let title = attr(tag, "title")
                .map(|t| format!(" title=\"{t}\""))
                .unwrap_or_default();
            self.write_picture(&mut out, src, alt, &title, IN_COLUMN, first);
            first = false;
            rest = &rest[at + len + 1..];
        }
        out.push_str(rest);
        Markup(out)
    }

    /// `src`/`alt`/`title` as they go in the attribute (escaped already).
    fn write_picture(
        &self,
        out: &mut String,
        src: &str,
        alt: &str,
        title: &str,
        sizes: &str,
        eager: bool,
    ) {
        let loading = if eager {
            " fetchpriority=\"high\""
        } else {
            " loading=\"lazy\""
        };
        let Some(u) = self.get(src) else {
            // Not one of ours, or not processed yet: as it was, lazily.
            let _ = write!(
                out,
                "<img src=\"{}\" alt=\"{alt}\"{title}{loading} decoding=\"async\">",
                self.rebased(src)
            );
            return;
        };
        let (w, h) = (u.width.unwrap_or(1), u.height.unwrap_or(1));
        let dims = format!(" width=\"{w}\" height=\"{h}\"");
        if u.widths.is_empty() || u.animated {
            let _ = write!(
                out,
                "<img src=\"{}\" alt=\"{alt}\"{title}{dims}{loading} decoding=\"async\">",
                self.url(&u.file_name)
            );
            return;
        }
        let ext = u.file_name.rsplit('.').next().unwrap_or("jpg");
        let set = |format: &str| {
            u.widths
                .iter()
                .map(|&w| format!("{} {w}w", self.url(&u.file_key(w.unsigned_abs(), format))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // The fallback `src`: a width a desktop column needs, for browsers without srcset.
        let middle = u.widths.iter().copied().find(|w| *w >= 960).unwrap_or(w);
        let _ = write!(
            out,
            "<picture><source type=\"image/webp\" srcset=\"{}\" sizes=\"{sizes}\">\
             <img src=\"{}\" srcset=\"{}\" sizes=\"{sizes}\" alt=\"{alt}\"{title}{dims}{loading} \
             decoding=\"async\"></picture>",
            set("webp"),
            self.url(&u.file_key(middle.unsigned_abs(), ext)),
            set(ext),
        );
    }

    /// A `/uploads/…` address under the public base (a CDN), others as they are.
    fn rebased(&self, url: &str) -> String {
        match upload_name(url) {
            Some(name) => self.url(name),
            None => url.to_owned(),
        }
    }
}

/// The upload name in an address of this site's uploads (`/uploads/<name>`).
pub fn upload_name(url: &str) -> Option<&str> {
    let name = url.strip_prefix("/uploads/")?;
    super::valid_name(name).then_some(name)
}

/// The addresses of the images in sanitized HTML (`src="…"` of each `<img>`).
pub fn sources(html: &str) -> impl Iterator<Item = &str> {
    html.split("<img ").skip(1).filter_map(|tag| {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        attr(tag, "src")
    })
}

/// The value of `name="…"` in one tag as the sanitizer wrote it (double quotes, escaped).
fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let key = format!("{name}=\"");
    let at = tag
        .match_indices(&key)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || tag.as_bytes()[i - 1] == b' ')?;
    let start = at + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str, width: i32, height: i32, widths: &[i32]) -> Upload {
        Upload {
            id: 1,
            file_name: name.to_owned(),
            content_type: "image/jpeg".into(),
            bytes: 1,
            uploader_id: crate::accounts::model::UserId(1),
            original_name: String::new(),
            alt: String::new(),
            width: Some(width),
            height: Some(height),
            animated: false,
            widths: widths.to_vec(),
            state: "ready".into(),
            error: String::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            processed_at: None,
        }
    }

    fn images(uploads: Vec<Upload>, base: &str) -> Images {
        Images {
            by_name: uploads
                .into_iter()
                .map(|u| (u.file_name.clone(), u))
                .collect(),
            base: base.to_owned(),
        }
    }

    #[test]
    fn body_images_of_uploads_become_pictures_with_every_width() {
        let h = "a".repeat(64);
        let name = format!("{h}.jpg");
        let imgs = images(
            vec![upload(&name, 4000, 3000, &[480, 960, 4000])],
            "/uploads",
        );
        let html = format!(
            "<p>x</p><p><img src=\"/uploads/{name}\" alt=\"A &quot;cat&quot;\"></p>\
             <p><img src=\"https://e.example/x.png\" alt=\"\"></p>"
        );
        let out = imgs.decorate(&html, false).0;
        assert!(out.contains(&format!(
            "<source type=\"image/webp\" srcset=\"/uploads/{h}-480.webp 480w, /uploads/{h}-960.webp 960w, /uploads/{h}-4000.webp 4000w\""
        )), "{out}");
        assert!(out.contains(&format!(
            "srcset=\"/uploads/{h}-480.jpg 480w, /uploads/{h}-960.jpg 960w, /uploads/{name} 4000w\""
        )), "{out}");
        assert!(
            out.contains(&format!("src=\"/uploads/{h}-960.jpg\"")),
            "{out}"
        );
        assert!(out.contains("alt=\"A &quot;cat&quot;\" width=\"4000\" height=\"3000\" loading=\"lazy\" decoding=\"async\""), "{out}");
        // Someone else's image: lazily, as it was.
        assert!(
            out.contains(
                "<img src=\"https://e.example/x.png\" alt=\"\" loading=\"lazy\" decoding=\"async\">"
            ),
            "{out}"
        );
        assert_eq!(sources(&html).count(), 2);
        // The first image of a post without a cover is its largest content: not lazy.
        assert!(
            imgs.decorate(&html, true)
                .0
                .contains("fetchpriority=\"high\"")
        );
    }

    #[test]
    fn pending_and_unknown_uploads_stay_plain_and_a_cdn_base_is_used() {
        let h = "b".repeat(64);
        let name = format!("{h}.png");
        let mut pending = upload(&name, 800, 600, &[480, 800]);
        pending.state = "pending".into();
        let imgs = images(vec![pending], "https://cdn.example/m");
        let out = imgs
            .picture(&format!("/uploads/{name}"), "<b>", IN_COLUMN, true)
            .0;
        assert_eq!(
            out,
            format!(
                "<img src=\"https://cdn.example/m/{name}\" alt=\"&lt;b&gt;\" fetchpriority=\"high\" decoding=\"async\">"
            )
        );
        assert_eq!(
            imgs.social("/uploads/x.png"),
            ("/uploads/x.png".into(), None)
        );
    }
}
