//! Direct uploads to the bucket, for large files (S3 storage only): `presign` checks the
//! declared size and type up front and hands out an address to `PUT` the file to, under
//! `incoming/<uuid>`, recorded for the account that asked; `confirm` reads what arrived,
//! holds it to the limits, and passes it through `receive`, the one door every upload goes
//! through (its type is decided by its bytes there, never by what was declared); the
//! incoming object is deleted either way. `PurgeIncoming` removes what was never confirmed.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ACCEPTED, NotKept, Rejected, Store, StoreError, repo, store::INCOMING};
use crate::{
    accounts::model::UserId,
    config::{StorageKind, UploadsSettings},
    jobs::{BackgroundJob, Outcome, context::Run},
};

/// Where the client sends its file, and until when.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub url: url::Url,
    pub key: String,
    pub expires_at: OffsetDateTime,
}

/// Why a direct upload was not accepted (`NotKept` covers the store's and database's
/// trouble, and refusals of the bytes themselves).
#[derive(Debug, thiserror::Error)]
pub enum Direct {
    #[error("presigned uploads need S3 storage")]
    NeedsS3,
    /// Over `uploads.max_bytes`, or over what was declared; the message says which.
    #[error("{0}")]
    TooLarge(String),
    /// The declared type or size is not one we take.
    #[error("{0}")]
    Declared(String),
    /// No such key, or its address has expired.
    #[error("no such upload, or its address has expired")]
    Unknown,
    /// The key was handed to another account.
    #[error("this upload was started by another account")]
    NotYours,
    /// Confirmed before the file arrived.
    #[error("nothing has been uploaded to this key yet")]
    Missing,
    #[error(transparent)]
    NotKept(#[from] NotKept),
}

impl From<StoreError> for Direct {
    fn from(e: StoreError) -> Self {
        Self::NotKept(e.into())
    }
}

impl From<sqlx::Error> for Direct {
    fn from(e: sqlx::Error) -> Self {
        Self::NotKept(e.into())
    }
}

/// An address `user` may `PUT` a file of `size` bytes, said to be `content_type`, to, for
/// `uploads.s3.presign_secs`.
pub async fn presign(
    db: &sqlx::PgPool,
    store: &Store,
    settings: &UploadsSettings,
    user: UserId,
    file_name: &str,
    content_type: &str,
    size: u64,
) -> Result<Presigned, Direct> {
    if store.kind() != StorageKind::S3 {
        return Err(Direct::NeedsS3);
    }
    if size == 0 {
        return Err(Direct::Declared(super::sentence(&Rejected::Empty)));
    }
    if let Some(message) = super::too_large(settings, size) {
        return Err(Direct::TooLarge(message));
    }
    let content_type = content_type.trim().to_ascii_lowercase();
    if !ACCEPTED.iter().any(|(m, _)| *m == content_type) {
        return Err(Direct::Declared(
            "Only PNG, JPEG, GIF and WebP images can be uploaded.".into(),
        ));
    }
    let key = format!("{INCOMING}{}", uuid::Uuid::new_v4().simple());
    let lasts = Duration::from_secs(settings.s3.presign_secs.max(1));
    let url = store
        .presigned_put(&key, lasts)
        .await?
        .ok_or(Direct::NeedsS3)?;
    let expires_at = OffsetDateTime::now_utc() + lasts;
    repo::insert_intent(
        db,
        &repo::Intent {
            object_key: key.clone(),
            user_id: user,
            file_name: super::clean_name(file_name),
            content_type,
            declared_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            expires_at,
        },
    )
    .await?;
    Ok(Presigned {
        url,
        key,
        expires_at,
    })
}

/// What `user` uploaded to `key`, received as any upload is; the incoming object is gone
/// afterwards, unless the store or the database failed (then confirming again may work).
pub async fn confirm(
    db: &sqlx::PgPool,
    store: &Store,
    settings: &UploadsSettings,
    user: UserId,
    key: &str,
) -> Result<repo::Upload, Direct> {
    let intent = repo::find_intent(db, key).await?.ok_or(Direct::Unknown)?;
    if intent.user_id != user {
        return Err(Direct::NotYours);
    }
    if intent.expires_at < OffsetDateTime::now_utc() {
        return Err(Direct::Unknown);
    }
    let size = store.size(key).await?.ok_or(Direct::Missing)?;
    let declared = u64::try_from(intent.declared_bytes).unwrap_or(0);
    let over = super::too_large(settings, size).or_else(|| {
        (size > declared)
            .then(|| format!("The file is {size} bytes, more than the {declared} declared."))
    });
    if let Some(message) = over {
        discard(db, store, key).await?;
        return Err(Direct::TooLarge(message));
    }
    let bytes: Bytes = store.get(key).await?.ok_or(Direct::Missing)?;
    match super::receive(db, store, settings, bytes, &intent.file_name, user).await {
        Ok(upload) => {
            discard(db, store, key).await?;
            Ok(upload)
        }
        Err(NotKept::Refused(why)) => {
            discard(db, store, key).await?;
            Err(NotKept::Refused(why).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The incoming object and its record, gone.
async fn discard(db: &sqlx::PgPool, store: &Store, key: &str) -> Result<(), Direct> {
    store.delete(key).await?;
    repo::delete_intent(db, key).await?;
    Ok(())
}

/// How long after its address expired an unconfirmed upload is purged (a PUT begun just in
/// time has ended by then).
const GRACE: Duration = Duration::from_secs(3600);

/// `media.purge_incoming`, hourly: direct uploads never confirmed, their objects and records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeIncoming {}

impl BackgroundJob for PurgeIncoming {
    const KIND: &'static str = "media.purge_incoming";
    const TITLE: &'static str = "Clean-up of unconfirmed uploads";
    type Context = Store;

    async fn run(&self, run: &Run<'_>, store: &Store) -> anyhow::Result<Outcome> {
        loop {
            let keys = repo::expired_intents(&run.db, GRACE.as_secs_f64(), 100).await?;
            for key in &keys {
                store.delete(key).await?;
                repo::delete_intent(&run.db, key).await?;
            }
            if keys.len() < 100 {
                return Ok(Outcome::Done);
            }
            if run.is_stopping() {
                return Ok(Outcome::Later(Duration::ZERO));
            }
        }
    }
}
