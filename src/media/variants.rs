//! The files processing made of an upload, as the API lists them: each width in
//! `Upload::widths` in the image's own format and in WebP (`pipeline::Made::widths`), keyed
//! by `width_key`. Empty until the upload is `ready`.

use super::{Store, content_type, repo::Upload, width_key};

/// One made file: where readers fetch it, how wide it is, its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub url: String,
    pub width: u32,
    pub content_type: &'static str,
}

impl Upload {
    /// The key of this image's file `width` pixels wide in `format` (its own extension or
    /// `webp`): `<hash>-<w>.<format>`, except the full width in its own format, which is the
    /// upload's own name (see `pipeline`'s module doc: the one rule renderers and the API
    /// follow).
    pub fn file_key(&self, width: u32, format: &str) -> String {
        let own = self.file_name.rsplit_once('.').map_or("", |(_, ext)| ext);
        let full = self.width.and_then(|w| u32::try_from(w).ok()) == Some(width);
        if full && format == own {
            self.file_name.clone()
        } else {
            width_key(&self.file_name, width, format)
        }
    }

    /// Every width made, smallest first, own format before WebP; empty while pending.
    pub fn variants(&self, store: &Store) -> Vec<Variant> {
        if !self.is_ready() {
            return Vec::new();
        }
        let ext = self.file_name.rsplit_once('.').map_or("", |(_, ext)| ext);
        let mut widths: Vec<u32> = self
            .widths
            .iter()
            .filter_map(|w| u32::try_from(*w).ok())
            .collect();
        widths.sort_unstable();
        // A WebP upload's widths are WebP already: one file each.
        let formats: &[&str] = if ext == "webp" {
            &["webp"]
        } else {
            &[ext, "webp"]
        };
        widths
            .into_iter()
            .flat_map(|w| {
                formats.iter().map(move |e| {
                    let key = self.file_key(w, e);
                    Variant {
                        url: store.url(&key),
                        width: w,
                        content_type: content_type(&key),
                    }
                })
            })
            .collect()
    }
}
