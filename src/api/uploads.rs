//! `/api/uploads`: images sent by API clients, through the same door as the site's
//! (`media::receive`: same limits, same types, decided by the bytes), and direct uploads to
//! the bucket for large files (`media::direct`: presign, PUT to the store, confirm).

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use time::format_description::well_known::Rfc3339;

use super::{ApiJson, auth::ApiUser};
use crate::{
    accounts::model::CurrentUser,
    api::openapi::GenericErrorModel,
    authz::{self, Action},
    error::ApiError,
    media::{self, NotKept, Store, StoreError, direct::Direct, repo::Upload},
    state::AppState,
};

/// An upload as the API shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadJson {
    /// `<sha256>.<ext>`: the name in `/uploads/<name>`, and in `GET /api/uploads/{name}`.
    pub name: String,
    /// Where readers fetch the image (absolute).
    pub url: String,
    pub content_type: String,
    /// Its size as sent.
    pub bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub alt: String,
    /// `pending` (being processed), `ready` or `failed`.
    pub state: String,
    /// The widths made for `srcset`: empty until `state` is `ready`.
    pub variants: Vec<VariantJson>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct VariantJson {
    pub url: String,
    pub width: u32,
    #[serde(rename = "type")]
    pub content_type: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UploadBody {
    pub upload: UploadJson,
}

/// The multipart form of `POST /api/uploads`.
#[derive(Debug, utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the wire format; the handler reads the stream"
)]
pub struct UploadForm {
    /// The image: PNG, JPEG, GIF or WebP, at most `uploads.max_bytes`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresignRequest {
    /// The file's name on the client's machine (kept for the library).
    #[serde(default)]
    pub file_name: String,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub content_type: String,
    /// Its size in bytes: at most `uploads.max_bytes`, and what confirming will hold it to.
    pub size: u64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresignBody {
    /// Send the file's bytes there, with `method`, before `expiresAt`.
    pub upload_url: String,
    pub method: String,
    /// What to confirm with (`POST /api/uploads/confirm`).
    pub key: String,
    /// RFC 3339.
    pub expires_at: String,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ConfirmRequest {
    /// The `key` the presign answer gave.
    pub key: String,
}

fn absolute(state: &AppState, url: String) -> String {
    if url.starts_with('/') {
        format!("{}{url}", state.settings.http.base())
    } else {
        url
    }
}

fn json(state: &AppState, store: &Store, upload: &Upload) -> UploadBody {
    let variants = upload
        .variants(store)
        .into_iter()
        .map(|v| VariantJson {
            url: absolute(state, v.url),
            width: v.width,
            content_type: v.content_type.to_owned(),
        })
        .collect();
    UploadBody {
        upload: UploadJson {
            name: upload.file_name.clone(),
            url: absolute(state, store.url(&upload.file_name)),
            content_type: upload.content_type.clone(),
            bytes: i64::from(upload.bytes),
            width: upload.width,
            height: upload.height,
            alt: upload.alt.clone(),
            state: upload.state.clone(),
            variants,
        },
    }
}

fn may_upload(user: &CurrentUser) -> Result<(), ApiError> {
    if authz::can(user, Action::Write) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("upload"))
    }
}

/// 413 with the site's one size rule (`media::too_large`), for a body over the limit.
fn too_large(state: &AppState) -> ApiError {
    let over = state.settings.uploads.max_bytes as u64 + 1;
    ApiError::TooLarge(media::too_large(&state.settings.uploads, over).unwrap_or_default())
}

impl From<NotKept> for ApiError {
    fn from(e: NotKept) -> Self {
        match e {
            NotKept::TooLarge(message) => ApiError::TooLarge(message),
            NotKept::Refused(why) => ApiError::invalid("file", media::sentence(&why)),
            NotKept::Store(StoreError::Unavailable(_)) => ApiError::Unavailable("media store"),
            NotKept::Store(e) => ApiError::Internal(e.into()),
            NotKept::Db(e) => e.into(),
        }
    }
}

impl From<Direct> for ApiError {
    fn from(e: Direct) -> Self {
        match e {
            Direct::NeedsS3 => ApiError::invalid(
                "storage",
                "Presigned uploads need S3 storage; send the file to POST /api/uploads.",
            ),
            Direct::TooLarge(message) => ApiError::TooLarge(message),
            Direct::Declared(message) => ApiError::invalid("file", message),
            Direct::Unknown => ApiError::NotFound("upload"),
            Direct::NotYours => ApiError::Forbidden("upload"),
            Direct::Missing => {
                ApiError::invalid("key", "Nothing has been uploaded to this key yet.")
            }
            Direct::NotKept(e) => e.into(),
        }
    }
}

/// The `file` part of `form` and its name, at most `max` bytes (`Ok(None)`: more than that).
async fn file_part(
    mut form: Multipart,
    max: usize,
) -> Result<Option<(bytes::Bytes, String)>, ApiError> {
    let broken = |e: actix_multipart::MultipartError| {
        ApiError::BadRequest(format!("the multipart form could not be read: {e}"))
    };
    let mut found = None;
    // Other parts are read past, up to the same allowance in all.
    let mut other = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(broken)?;
        let is_file = field.name() == Some("file") && found.is_none();
        // `filename*=UTF-8''…` (RFC 5987) when sent, else `filename`; cleaned by `receive`.
        let name = field.content_disposition().map_or_else(String::new, |d| {
            d.get_filename_ext().map_or_else(
                || d.get_filename().unwrap_or_default().to_owned(),
                |ext| String::from_utf8_lossy(&ext.value).into_owned(),
            )
        });
        let mut data = bytes::BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(broken)?;
            if is_file {
                if data.len() + chunk.len() > max {
                    return Ok(None);
                }
                data.extend_from_slice(&chunk);
            } else {
                other += chunk.len();
                if other > max {
                    return Ok(None);
                }
            }
        }
        if is_file {
            found = Some((data.freeze(), name));
        }
    }
    found
        .map(Some)
        .ok_or_else(|| ApiError::invalid("file", "can't be blank"))
}

/// `POST /api/uploads`: an image (multipart, the file in a field named `file`), checked by
/// its bytes and kept; its widths are made in the background (`state` says when).
#[utoipa::path(post, path = "/uploads", tag = "Uploads", operation_id = "CreateUpload",
    summary = "Upload an image", security(("Token" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The upload (being processed)", body = UploadBody),
              (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 403, description = "The role may not upload", body = GenericErrorModel),
              (status = 413, description = "Over the size limit", body = GenericErrorModel),
              (status = 422, description = "Not an image we take, keyed by `file`", body = GenericErrorModel)))]
pub async fn create(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    caller: ApiUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    may_upload(&user)?;
    let max = state.settings.uploads.max_bytes;
    if crate::extract::announced_length(&req).is_some_and(|n| n > (max + 64 * 1024) as u64) {
        return Err(too_large(&state));
    }
    let (bytes, name) = file_part(form, max)
        .await?
        .ok_or_else(|| too_large(&state))?;
    let upload = media::receive(
        &state.db,
        &store,
        &state.settings.uploads,
        bytes,
        &name,
        user.id,
    )
    .await?;
    Ok(HttpResponse::Created().json(json(&state, &store, &upload)))
}

/// `GET /api/uploads/{name}`: an upload's state and the widths made so far (poll after
/// uploading). Authors see their own; editors and admins all.
#[utoipa::path(get, path = "/uploads/{name}", tag = "Uploads", operation_id = "GetUpload",
    summary = "Get an upload", security(("Token" = [])),
    params(("name" = String, Path, description = "The upload's name, `<sha256>.<ext>`")),
    responses((status = 200, description = "The upload", body = UploadBody),
              (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 403, description = "Someone else's upload", body = GenericErrorModel),
              (status = 404, description = "No such upload", body = GenericErrorModel)))]
pub async fn show(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    caller: ApiUser,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    may_upload(&user)?;
    let upload = media::repo::find(&state.db, &name)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    if upload.uploader_id != user.id && !authz::can(&user, Action::SeeAllUploads) {
        return Err(ApiError::Forbidden("upload"));
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(json(&state, &store, &upload)))
}

/// `POST /api/uploads/presign` (S3 storage only): an address to `PUT` a large file to,
/// straight to the bucket; then `POST /api/uploads/confirm` with the `key`.
#[utoipa::path(post, path = "/uploads/presign", tag = "Uploads", operation_id = "PresignUpload",
    summary = "Start a direct upload to the store", security(("Token" = [])),
    request_body = PresignRequest,
    responses((status = 201, description = "Where to PUT the file", body = PresignBody),
              (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 403, description = "The role may not upload", body = GenericErrorModel),
              (status = 413, description = "The declared size is over the limit", body = GenericErrorModel),
              (status = 422, description = "Not a type we take, or the site keeps files locally (`storage`)", body = GenericErrorModel)))]
pub async fn presign(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    caller: ApiUser,
    ApiJson(body): ApiJson<PresignRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    may_upload(&user)?;
    let presigned = media::direct::presign(
        &state.db,
        &store,
        &state.settings.uploads,
        user.id,
        &body.file_name,
        &body.content_type,
        body.size,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(PresignBody {
            upload_url: presigned.url.to_string(),
            method: "PUT".into(),
            key: presigned.key,
            expires_at: presigned
                .expires_at
                .format(&Rfc3339)
                .map_err(anyhow::Error::from)?,
        }))
}

/// `POST /api/uploads/confirm`: the file PUT to a presigned address, checked as any upload
/// (size, and type by its bytes) and kept; answered as `POST /api/uploads`.
#[utoipa::path(post, path = "/uploads/confirm", tag = "Uploads", operation_id = "ConfirmUpload",
    summary = "Finish a direct upload", security(("Token" = [])),
    request_body = ConfirmRequest,
    responses((status = 201, description = "The upload (being processed)", body = UploadBody),
              (status = 401, description = "Missing or bad token", body = GenericErrorModel),
              (status = 403, description = "Started by another account", body = GenericErrorModel),
              (status = 404, description = "Unknown or expired key", body = GenericErrorModel),
              (status = 413, description = "Larger than declared or than the limit (deleted)", body = GenericErrorModel),
              (status = 422, description = "Not an image we take (deleted), or nothing uploaded yet", body = GenericErrorModel)))]
pub async fn confirm(
    state: web::Data<AppState>,
    store: web::Data<Store>,
    caller: ApiUser,
    ApiJson(body): ApiJson<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user;
    may_upload(&user)?;
    let upload = media::direct::confirm(
        &state.db,
        &store,
        &state.settings.uploads,
        user.id,
        body.key.trim(),
    )
    .await?;
    Ok(HttpResponse::Created().json(json(&state, &store, &upload)))
}
