//! Showing uploads well: what a page needs to know of each image it shows (`Images`, loaded
//! in one query per page), and the markup made from it — `srcset` in WebP and the image's own
//! format, `width`/`height` so nothing jumps while it loads, lazy loading below the fold.

use std::collections::HashMap;

use super::repo::Upload;

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
        store: &super::Store,
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
            base: store.url("").trim_end_matches('/').to_owned(),
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
}

/// The upload name in an address of this site's uploads (`/uploads/<name>`).
pub fn upload_name(url: &str) -> Option<&str> {
    let name = url.strip_prefix("/uploads/")?;
    super::valid_name(name).then_some(name)
}
