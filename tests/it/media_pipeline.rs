//! The image pipeline end to end: an upload through `/admin/media`, its `media.process` job,
//! the files readers then get (widths, WebP, the social card, no metadata), a corrupt file's
//! clear failure, the inline processing of an image fetched before its job ran, and
//! `quire media regenerate`.

use quire::{accounts::model::Role, media};
use reqwest::{StatusCode, multipart};

use crate::harness::{TestApp, spawn_app_with};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Photo-like pixels (gradients and noise), as a JPEG.
fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_u32;
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 20) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).saturating_add(noise),
            ((y * 255 / height) as u8).saturating_add(noise),
            128u8.saturating_add(noise),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&pixels)
        .unwrap();
    out
}

/// Three GPS rationals (48/1, 51/1, 29/1) as an EXIF block carries them.
const GPS_LATITUDE: [u8; 24] = [
    0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0, 29, 0, 0, 0, 1,
];

/// `jpeg` with a phone's APP1 EXIF block: IFD0 pointing at a GPS IFD (latitude N 48 51 29).
fn with_gps(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    // GPS IFD at 26: reference and latitude (its rationals at 56).
    tiff.extend_from_slice(&[0, 2, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 56, 0, 0, 0, 0]);
    assert_eq!(tiff.len(), 56);
    tiff.extend_from_slice(&GPS_LATITUDE);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn upload(browser: &TestApp, name: &str, bytes: &[u8]) -> reqwest::Response {
    let token = browser.csrf_token("/admin/media").await;
    let form = multipart::Form::new().text("csrf_token", token).part(
        "file",
        multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    browser
        .client
        .post(browser.url("/admin/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn row(app: &TestApp, original_name: &str) -> media::repo::Upload {
    let id: i64 = sqlx::query_scalar("SELECT id FROM uploads WHERE original_name = $1")
        .bind(original_name)
        .fetch_one(&app.db)
        .await
        .unwrap();
    media::repo::get(&app.db, id).await.unwrap().unwrap()
}

async fn fetch(app: &TestApp, key: &str) -> (StatusCode, String, String, Vec<u8>) {
    let res = app.get(&format!("/uploads/{key}")).await;
    let status = res.status();
    let header = |h: &str| {
        res.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (kind, cache) = (header("content-type"), header("cache-control"));
    (status, kind, cache, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn an_upload_gets_its_widths_webp_copies_and_card_without_gps() {
    let app = spawn_app_with(|s| s.uploads.widths = vec![480, 960, 2400]).await;
    let ann = app.signed_in("ann", Role::Author).await;
    let sent = with_gps(&photo_jpeg(1200, 800));
    assert!(contains(&sent, &GPS_LATITUDE));
    assert_eq!(
        upload(&ann, "holiday.jpg", &sent).await.status(),
        StatusCode::SEE_OTHER
    );
    app.until_jobs_ran().await;
    let upload = row(&app, "holiday.jpg").await;
    assert_eq!(upload.state, "ready", "{}", upload.error);
    assert_eq!((upload.width, upload.height), (Some(1200), Some(800)));
    assert_eq!(upload.widths, vec![480, 960, 1200]);
    assert!(!upload.animated && upload.processed_at.is_some());
    let name = upload.file_name.clone();
    let mut keys = vec![
        (name.clone(), "image/jpeg", 1200),
        (media::og_key(&name), "image/jpeg", 1200),
        (media::width_key(&name, 1200, "webp"), "image/webp", 1200),
    ];
    for w in [480, 960] {
        keys.push((media::width_key(&name, w, "jpg"), "image/jpeg", w));
        keys.push((media::width_key(&name, w, "webp"), "image/webp", w));
    }
    for (key, kind, width) in keys {
        let (status, content_type, cache, bytes) = fetch(&app, &key).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(content_type, kind, "{key}");
        assert_eq!(cache, IMMUTABLE, "{key}");
        assert!(!contains(&bytes, b"Exif"), "{key} has EXIF");
        assert!(
            !contains(&bytes, &GPS_LATITUDE),
            "{key} has the GPS position"
        );
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(decoded.width(), width, "{key}");
    }
    // No 2400 (wider than the photo), and the original as sent is never served.
    assert_eq!(
        fetch(&app, &media::width_key(&name, 2400, "jpg")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/uploads/originals/{name}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // …but kept, metadata and all.
    let kept = std::fs::read(app.settings.uploads.dir.join("originals").join(&name)).unwrap();
    assert_eq!(kept, sent);
}

#[tokio::test]
async fn a_corrupt_jpeg_ends_failed_with_a_reason_and_no_error_page() {
    let app = spawn_app_with(|_| {}).await;
    let ann = app.signed_in("ann", Role::Author).await;
    // The header reads well (so it is taken), the pixels refer to a table that isn't there.
    let whole = photo_jpeg(64, 48);
    let sof = whole.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut broken = whole.clone();
    broken[sof + 12] = 3;
    assert_eq!(
        upload(&ann, "broken.jpg", &broken).await.status(),
        StatusCode::SEE_OTHER
    );
    app.until_jobs_ran().await;
    let upload = row(&app, "broken.jpg").await;
    assert_eq!(upload.state, "failed");
    assert!(
        upload.error.starts_with("The image could not be read")
            && upload.error.contains("quantization"),
        "{}",
        upload.error
    );
    // The job is done (a file that won't decode is not retried), nothing is served.
    let job: String = sqlx::query_scalar("SELECT state FROM jobs WHERE kind = 'media.process'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(job, "done");
    assert_eq!(
        fetch(&app, &upload.file_name).await.0,
        StatusCode::NOT_FOUND
    );
    let page = ann.get("/admin/media").await;
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_image_fetched_before_its_job_ran_is_processed_then_served() {
    let app = spawn_app_with(|s| {
        s.jobs.enabled = false;
        s.uploads.widths = vec![100];
    })
    .await;
    let ann = app.signed_in("ann", Role::Author).await;
    let sent = with_gps(&photo_jpeg(300, 200));
    assert_eq!(
        upload(&ann, "pasted.jpg", &sent).await.status(),
        StatusCode::SEE_OTHER
    );
    let name = row(&app, "pasted.jpg").await.file_name;
    assert_eq!(row(&app, "pasted.jpg").await.state, "pending");
    // A width isn't made on demand: only the image itself.
    assert_eq!(
        fetch(&app, &media::width_key(&name, 100, "webp")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, kind, cache, bytes) = fetch(&app, &name).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((kind.as_str(), cache.as_str()), ("image/jpeg", IMMUTABLE));
    assert!(!contains(&bytes, &GPS_LATITUDE));
    let upload = row(&app, "pasted.jpg").await;
    assert_eq!(upload.state, "ready");
    assert_eq!(upload.widths, vec![100, 300]);
    assert_eq!(
        fetch(&app, &media::width_key(&name, 100, "webp")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn quire_media_regenerate_remakes_every_upload() {
    let app = spawn_app_with(|s| {
        s.jobs.enabled = false;
        s.uploads.widths = vec![100];
    })
    .await;
    let ann = app.signed_in("ann", Role::Author).await;
    upload(&ann, "one.jpg", &photo_jpeg(300, 200)).await;
    upload(&ann, "two.jpg", &photo_jpeg(240, 160)).await;
    let whole = photo_jpeg(64, 48);
    let sof = whole.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut broken = whole.clone();
    broken[sof + 12] = 3;
    upload(&ann, "broken.jpg", &broken).await;
    // A file from before the media library: kept as sent at its name, no `originals/` copy.
    let legacy = row(&app, "two.jpg").await.file_name;
    let dir = app.settings.uploads.dir.clone();
    std::fs::rename(dir.join("originals").join(&legacy), dir.join(&legacy)).unwrap();

    let run = |only_pending: bool, widths: &str| {
        let mut cmd = app.quire_command();
        cmd.env("QUIRE__UPLOADS__DIR", &dir)
            .env("QUIRE__UPLOADS__WIDTHS", widths)
            .env("QUIRE__REDIS__KEY_PREFIX", &app.settings.redis.key_prefix)
            .args(["media", "regenerate"]);
        if only_pending {
            cmd.arg("--only-pending");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = run(true, "[100]");
    assert!(said.contains("regenerated 2 images"), "{said}");
    assert!(said.contains("1 failed"), "{said}");
    assert!(dir.join("originals").join(&legacy).exists());
    assert_eq!(row(&app, "two.jpg").await.widths, vec![100, 240]);
    assert_eq!(row(&app, "broken.jpg").await.state, "failed");
    // Nothing pending any more; then every upload again, with other widths.
    assert!(run(true, "[100]").contains("regenerated 0 images"));
    let said = run(false, "[50, 120]");
    assert!(said.contains("regenerated 2 images"), "{said}");
    assert_eq!(row(&app, "one.jpg").await.widths, vec![50, 120, 300]);
    assert_eq!(row(&app, "two.jpg").await.widths, vec![50, 120, 240]);
    let (status, _, _, bytes) = fetch(&app, &media::width_key(&legacy, 120, "webp")).await;
    assert_eq!(status, StatusCode::OK);
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!(decoded.width(), 120);
}
