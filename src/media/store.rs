//! Where media files live: one `ObjectStore` (the `object_store` crate's trait), either the
//! local folder `uploads.dir` or an S3-compatible bucket. Keys are content-addressed names
//! (`<sha256>.jpg`, `<sha256>-960.webp`), so a file never changes once written: whatever
//! serves them (Quire, a CDN, the bucket's website) may cache them forever.
//!
//! `originals/<name>` holds uploads as they were sent, metadata and all: never served.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload,
    RetryConfig, aws::AmazonS3, aws::AmazonS3Builder, local::LocalFileSystem, path::Path,
    signer::Signer,
};
use secrecy::ExposeSecret;

use crate::config::{S3Settings, StorageKind, UploadsSettings};

/// How a file is cached wherever it is served from: its name is its content's hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The prefix of uploads as sent (private: `serve` never reads under it).
pub const ORIGINALS: &str = "originals/";

/// The prefix of direct uploads not yet confirmed (`POST /api/uploads/presign`): private,
/// checked and removed by the confirmation, or by `media.purge_incoming` once expired.
pub const INCOMING: &str = "incoming/";

/// Why the store could not do what was asked, in words for the logs and the library.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store answered that the key or bucket does not exist.
    #[error("not found in the media store")]
    NotFound,
    /// The store refused the credentials (wrong keys, no permission).
    #[error("the media store refused our credentials: {0}")]
    Denied(String),
    /// The store could not be reached or failed (down, timed out, 5xx): worth retrying.
    #[error("the media store is unavailable: {0}")]
    Unavailable(String),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        use object_store::Error as E;
        match e {
            E::NotFound { .. } => Self::NotFound,
            E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => {
                Self::Denied(source.to_string())
            }
            other => {
                let text = other.to_string();
                // S3 says "InvalidAccessKeyId" / "SignatureDoesNotMatch" / "AccessDenied" with
                // a 403 that object_store reports as a generic error. Never a bare "403": the
                // text holds the URL, and a port such as 40347 is not a refusal.
                let denied = [
                    "AccessDenied",
                    "SignatureDoesNotMatch",
                    "InvalidAccessKeyId",
                    "403 Forbidden",
                ]
                .iter()
                .any(|w| text.contains(w));
                if denied {
                    Self::Denied(text)
                } else {
                    Self::Unavailable(text)
                }
            }
        }
    }
}

/// The media store of this instance (a `web::Data<Store>` and the media jobs' context).
#[derive(Debug, Clone)]
pub struct Store {
    objects: Arc<dyn ObjectStore>,
    /// The bucket itself, for presigned addresses (none for the local folder).
    s3: Option<Arc<AmazonS3>>,
    kind: StorageKind,
    /// The local folder, for serving with the OS's file calls (ranges, sendfile).
    dir: Option<std::path::PathBuf>,
    /// Where readers fetch files: `/uploads` or the configured base, without a trailing `/`.
    public_base: String,
}

impl Store {
    /// The store `settings` name (`uploads.storage`).
    pub fn from_settings(settings: &UploadsSettings) -> anyhow::Result<Self> {
        match settings.storage {
            StorageKind::Local => Self::local(&settings.dir, &settings.public_base_url),
            StorageKind::S3 => Self::s3(&settings.s3, &settings.public_base_url),
        }
    }

    /// The folder `dir` (made if missing).
    pub fn local(dir: &std::path::Path, public_base_url: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("uploads.dir {}: {e}", dir.display()))?;
        let objects = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            objects: Arc::new(objects),
            s3: None,
            kind: StorageKind::Local,
            dir: Some(dir.to_owned()),
            public_base: public_base(public_base_url),
        })
    }

    /// The bucket `s3` names. Nothing is sent until the first call.
    pub fn s3(s3: &S3Settings, public_base_url: &str) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_virtual_hosted_style_request(!s3.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(s3.timeout_secs.max(1)))
                    .with_connect_timeout(Duration::from_secs(s3.timeout_secs.clamp(1, 5)))
                    .with_allow_http(s3.endpoint.starts_with("http://")),
            )
            // A request waits for at most a few quick retries; the job runner retries the
            // rest with its own backoff, so an upload answers rather than hangs.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(s3.timeout_secs.max(1)),
                ..RetryConfig::default()
            });
        if !s3.endpoint.is_empty() {
            builder = builder.with_endpoint(&s3.endpoint);
        }
        if !s3.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&s3.access_key_id)
                .with_secret_access_key(s3.secret_access_key.expose_secret());
        }
        let bucket = Arc::new(builder.build()?);
        Ok(Self {
            objects: bucket.clone(),
            s3: Some(bucket),
            kind: StorageKind::S3,
            dir: None,
            public_base: public_base(public_base_url),
        })
    }

    pub fn kind(&self) -> StorageKind {
        self.kind
    }

    /// The address readers fetch `key` from: `/uploads/<key>`, or under the public base.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }

    /// `url` without the store at hand: where readers fetch `key` under these settings.
    pub fn url_in(settings: &UploadsSettings, key: &str) -> String {
        format!("{}/{key}", public_base(&settings.public_base_url))
    }

    /// The local file of `key`, when the store is the local folder.
    pub fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.join(key))
    }

    /// Write `bytes` under `key` (overwriting: the same key is the same content).
    pub async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StoreError> {
        let mut opts = PutOptions::default();
        // The local folder keeps no attributes (its files are typed by name when served).
        if self.kind == StorageKind::S3 {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            if !key.starts_with(ORIGINALS) && !key.starts_with(INCOMING) {
                attributes.insert(Attribute::CacheControl, IMMUTABLE.into());
            }
            opts.attributes = attributes;
        }
        self.objects
            .put_opts(&Path::from(key), PutPayload::from(bytes), opts)
            .await?;
        Ok(())
    }

    /// The bytes under `key`; `None` when there is no such file.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.objects.get(&Path::from(key)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The size of the file under `key`; `None` when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.objects.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove `key`; a key already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = Path::from(key);
        match self.objects.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            // object_store deletes through DeleteObjects; some S3-compatible servers (s3s-fs)
            // answer it for a missing key with an empty result that object_store can't read.
            // If the key is gone, the delete did what was asked.
            Err(e) if self.kind == StorageKind::S3 => match self.objects.head(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                _ => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix` (all when empty) with its size, in no particular order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let prefix = (!prefix.is_empty()).then(|| Path::from(prefix));
        self.objects
            .list(prefix.as_ref())
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await
            .map_err(Into::into)
    }

    /// An address a client may `PUT` the bytes of `key` to, directly, for `expires`; `None`
    /// for the local folder (there is nothing to upload to but Quire).
    pub async fn presigned_put(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<url::Url>, StoreError> {
        let Some(s3) = &self.s3 else { return Ok(None) };
        let url = s3
            .signed_url(reqwest::Method::PUT, &Path::from(key), expires)
            .await?;
        Ok(Some(url))
    }
}

/// Where readers fetch files: the configured base without its trailing `/`, else `/uploads`.
pub fn public_base(configured: &str) -> String {
    match configured.trim_end_matches('/') {
        "" => "/uploads".to_owned(),
        base => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    fn generic(text: &str) -> StoreError {
        object_store::Error::Generic {
            store: "S3",
            source: text.to_owned().into(),
        }
        .into()
    }

    #[test]
    fn a_refusal_is_denied_and_a_port_with_403_in_it_is_not() {
        let down = "Error performing PUT http://127.0.0.1:40347/quire-media/a.png - HTTP error: error sending request";
        assert!(matches!(generic(down), StoreError::Unavailable(_)));
        let refused = "Client error with status 403 Forbidden: <Code>SignatureDoesNotMatch</Code>";
        assert!(matches!(generic(refused), StoreError::Denied(_)));
        assert!(matches!(
            generic("status 403 Forbidden: no body"),
            StoreError::Denied(_)
        ));
    }
}
