//! What readers get from an upload: decoded (EXIF orientation applied), every byte of
//! metadata left behind by re-encoding, its widths for `srcset` in its own format and WebP,
//! and a 1200×630 social card. Pure CPU work: the job runs it on the blocking pool.
//!
//! # The files `make` writes, and which exist for which widths
//!
//! For an upload named `<hash>.<ext>` (`ext` one of `jpg`, `png`, `gif`, `webp`) whose
//! pixels, after orientation, are `W`×`H`:
//!
//! - `<hash>.<ext>`: the image at full size in its own format, re-encoded from pixels, so
//!   nothing of the original's metadata survives (no EXIF, GPS, XMP, ICC profile, text
//!   chunks, comments). JPEG and WebP at `quality` (WebP lossy, libwebp); PNG lossless; GIF
//!   through `image`'s encoder (animated GIFs keep every frame and its delay).
//! - **Still images** (every JPEG and PNG, single-frame GIF and WebP): `Made::widths` lists,
//!   smallest first, every configured width strictly smaller than `W`, then `W` itself.
//!   For each width `w` in `widths` **other than the last**, both
//!   `width_key(name, w, ext)` (own format) and `width_key(name, w, "webp")` exist; for the
//!   last (`W`, the full width), only `width_key(name, W, "webp")` exists: the full-size file
//!   in the own format is `name` itself. So a renderer writes
//!   `srcset` = `width_key(name, w, ext) w` for the smaller widths + `name W`, and a WebP
//!   `<source>` with `width_key(name, w, "webp") w` for every `w` in `widths`.
//!   The height of a width `w` is `round(H × w / W)` (at least 1).
//!   A still GIF's smaller widths are GIFs too (one rule for every still image).
//! - **Animated images** (GIF or WebP with more than one frame): `animated = true`,
//!   `widths` is empty: no smaller copies and no WebP copy (an `<img>` of `name` alone).
//!   An animated WebP is re-encoded as an animated WebP (lossy, libwebp).
//! - **Every image** has `og_key(name)`: a 1200×630 JPEG (`OG_SIZE`) cropped from the centre
//!   to cover it (upscaled when the image is smaller: social networks want that size), with
//!   any transparency flattened on white; of an animation, its first frame.
//! - WebP cannot be wider or taller than 16 383 pixels: an image beyond that on either side
//!   has no WebP copy at the sizes past it, and those widths are left out of `widths` (the
//!   rule "a width in `widths` has its files" holds without exceptions). Its base file is
//!   then the full size the page shows.
//!
//! Transparency is kept in PNG, GIF and WebP outputs; JPEG has none (and the social card is
//! flattened on white). A PNG whose alpha channel is opaque everywhere is written as RGB.
//!
//! Decoding is bounded: `image::Limits` from `max_pixels` (each side, and the decoder's
//! allocations), the size read before any pixel is decoded, and an animation's frames
//! together may not hold more than `max_pixels` pixels. A decoder that panics on a hostile
//! file is caught: every failure is a `Rejected::Unreadable` with the decoder's words.

use std::{
    io::Cursor,
    panic::{AssertUnwindSafe, catch_unwind},
};

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{
    AnimationDecoder, ColorType, DynamicImage, Frame, ImageDecoder, ImageFormat, ImageReader,
    Limits, RgbImage,
    codecs::{
        gif::{GifDecoder, GifEncoder, Repeat},
        jpeg::JpegEncoder,
        png::PngEncoder,
        webp::WebPDecoder,
    },
    metadata::Orientation,
};

use super::{OG_SIZE, Rejected, og_key, width_key};

/// The largest side libwebp encodes.
pub const WEBP_MAX_SIDE: u32 = 16_383;

/// How to make the files (from `uploads.widths`, `uploads.quality`, `uploads.max_pixels`).
#[derive(Debug, Clone)]
pub struct Options {
    pub widths: Vec<u32>,
    pub quality: u8,
    pub max_pixels: u64,
}

impl Options {
    pub fn from_settings(settings: &crate::config::UploadsSettings) -> Self {
        Self {
            widths: settings.widths.clone(),
            quality: settings.quality,
            max_pixels: settings.max_pixels,
        }
    }
}

/// One file to store: its key, bytes and content type.
#[derive(Debug)]
pub struct File {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// What `make` made.
#[derive(Debug)]
pub struct Made {
    /// Pixels after orientation.
    pub width: u32,
    pub height: u32,
    pub animated: bool,
    /// The widths made, smallest first, the full width last (see the module's doc for which
    /// keys exist for each); empty for an animation.
    pub widths: Vec<u32>,
    /// `name` itself (full size, no metadata), each width, the social card.
    pub files: Vec<File>,
}

/// Make every file readers get of the upload `name` (`<hash>.<ext>`) from its `original` bytes.
pub fn make(name: &str, original: &[u8], opts: &Options) -> Result<Made, Rejected> {
    // The decoders are written not to panic, but a hostile file is exactly where one would:
    // it is a refused file then, not a dead worker.
    catch_unwind(AssertUnwindSafe(|| make_unguarded(name, original, opts))).unwrap_or_else(|_| {
        Err(Rejected::Unreadable(
            "the decoder could not make sense of it".into(),
        ))
    })
}

/// The formats we make, by what the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jpeg,
    Png,
    Gif,
    WebP,
}

impl Kind {
    fn of(bytes: &[u8]) -> Result<(Self, ImageFormat), Rejected> {
        let format = image::guess_format(bytes)
            .map_err(|_| Rejected::NotAnImage("an unknown kind of file".into()))?;
        let kind = match format {
            ImageFormat::Jpeg => Self::Jpeg,
            ImageFormat::Png => Self::Png,
            ImageFormat::Gif => Self::Gif,
            ImageFormat::WebP => Self::WebP,
            other => return Err(Rejected::NotAnImage(format!("{other:?}"))),
        };
        Ok((kind, format))
    }

    fn ext(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::WebP => "webp",
        }
    }
}

fn make_unguarded(name: &str, original: &[u8], opts: &Options) -> Result<Made, Rejected> {
    if original.is_empty() {
        return Err(Rejected::Empty);
    }
    let (kind, format) = Kind::of(original)?;
    let named = name.rsplit_once('.').map(|(_, ext)| ext);
    if named != Some(kind.ext()) {
        return Err(Rejected::Unreadable(format!(
            "its name says {}, its bytes say {}",
            named.unwrap_or("nothing"),
            kind.ext()
        )));
    }
    let decoded = match kind {
        Kind::Gif => {
            let mut decoder = GifDecoder::new(Cursor::new(original)).map_err(unreadable)?;
            decoder.set_limits(limits(opts)).map_err(unreadable)?;
            let (w, h) = decoder.dimensions();
            guard_pixels(w, h, opts)?;
            frames(decoder.into_frames(), w, h, opts)?
        }
        Kind::WebP => {
            let mut decoder = WebPDecoder::new(Cursor::new(original)).map_err(unreadable)?;
            decoder.set_limits(limits(opts)).map_err(unreadable)?;
            let (w, h) = decoder.dimensions();
            guard_pixels(w, h, opts)?;
            if decoder.has_animation() {
                frames(decoder.into_frames(), w, h, opts)?
            } else {
                Decoded::Still(still(original, format, opts)?)
            }
        }
        Kind::Jpeg | Kind::Png => Decoded::Still(still(original, format, opts)?),
    };
    let mut resizer = Resizer::new();
    match decoded {
        Decoded::Still(image) => make_still(name, kind, normalize(image), opts, &mut resizer),
        Decoded::Animation(frames) => make_animation(name, kind, frames, opts, &mut resizer),
    }
}

enum Decoded {
    Still(DynamicImage),
    /// Two frames or more, each the whole canvas.
    Animation(Vec<Frame>),
}

/// The decoders' limits: each side and the allocations, from `max_pixels`.
fn limits(opts: &Options) -> Limits {
    let mut limits = Limits::default();
    let side = u32::try_from(opts.max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // 16-bit RGBA is 8 bytes a pixel; the decoders' own buffers on top.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    limits
}

fn guard_pixels(width: u32, height: u32, opts: &Options) -> Result<(), Rejected> {
    if width == 0 || height == 0 {
        return Err(Rejected::Unreadable("it has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(Rejected::TooManyPixels {
            width,
            height,
            max: opts.max_pixels / 1_000_000,
        });
    }
    Ok(())
}

fn unreadable(e: image::ImageError) -> Rejected {
    Rejected::Unreadable(e.to_string())
}

/// A still image, oriented as its EXIF data says.
fn still(bytes: &[u8], format: ImageFormat, opts: &Options) -> Result<DynamicImage, Rejected> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(opts));
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (w, h) = decoder.dimensions();
    guard_pixels(w, h, opts)?;
    // A broken EXIF block is no reason to refuse the pixels.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Every frame of an animation (bounded: `max_pixels` across them all); a single frame is a
/// still image.
fn frames(
    frames: image::Frames<'_>,
    width: u32,
    height: u32,
    opts: &Options,
) -> Result<Decoded, Rejected> {
    let per_frame = u64::from(width) * u64::from(height);
    let mut total = 0u64;
    let mut out = Vec::new();
    for frame in frames {
        let frame = frame.map_err(unreadable)?;
        total = total.saturating_add(per_frame);
        if total > opts.max_pixels {
            return Err(Rejected::Unreadable(format!(
                "the animation is too long: its frames add up to more than {} megapixels",
                opts.max_pixels / 1_000_000
            )));
        }
        out.push(frame);
    }
    match out.len() {
        0 => Err(Rejected::Unreadable("it has no frames".into())),
        1 => {
            let frame = out.pop().map(Frame::into_buffer);
            frame
                .map(DynamicImage::ImageRgba8)
                .map(Decoded::Still)
                .ok_or_else(|| Rejected::Unreadable("it has no frames".into()))
        }
        _ => Ok(Decoded::Animation(out)),
    }
}

/// 8-bit RGB, or RGBA when some pixel is not opaque.
fn normalize(image: DynamicImage) -> DynamicImage {
    if image.color().has_alpha() {
        let rgba = image.into_rgba8();
        if rgba.pixels().all(|p| p[3] == u8::MAX) {
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).into_rgb8())
        } else {
            DynamicImage::ImageRgba8(rgba)
        }
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    }
}

fn make_still(
    name: &str,
    kind: Kind,
    image: DynamicImage,
    opts: &Options,
    resizer: &mut Resizer,
) -> Result<Made, Rejected> {
    let (width, height) = (image.width(), image.height());
    let ext = kind.ext();
    let mut files = vec![File {
        key: name.to_owned(),
        bytes: encode(&image, kind, opts.quality)?,
        content_type: super::content_type(name),
    }];
    let mut widths = Vec::new();
    if let Some(top) = webp(&image, opts.quality) {
        files.push(file(width_key(name, width, "webp"), top));
        widths.push(width);
    }
    let mut smaller: Vec<u32> = opts
        .widths
        .iter()
        .copied()
        .filter(|w| *w > 0 && *w < width)
        .collect();
    smaller.sort_unstable();
    smaller.dedup();
    // Largest first, each made from the one before: far less work than from the full size
    // every time, and no visible difference at these ratios.
    let mut source = image;
    let mut card = None;
    for w in smaller.into_iter().rev() {
        let h = scaled_height(width, height, w);
        let resized = resize(resizer, &source, w, h)?;
        if let Some(webp) = webp(&resized, opts.quality) {
            files.push(file(
                width_key(name, w, ext),
                encode(&resized, kind, opts.quality)?,
            ));
            files.push(file(width_key(name, w, "webp"), webp));
            widths.push(w);
        }
        // The card from the smallest copy that still covers it.
        if card.is_none() && !covers_card(&resized) {
            card = Some(og_card(resizer, &source, opts.quality)?);
        }
        source = resized;
    }
    widths.sort_unstable();
    let card = match card {
        Some(card) => card,
        None => og_card(resizer, &source, opts.quality)?,
    };
    files.push(file(og_key(name), card));
    Ok(Made {
        width,
        height,
        animated: false,
        widths,
        files,
    })
}

fn make_animation(
    name: &str,
    kind: Kind,
    frames: Vec<Frame>,
    opts: &Options,
    resizer: &mut Resizer,
) -> Result<Made, Rejected> {
    let first = frames
        .first()
        .map(|f| DynamicImage::ImageRgba8(f.buffer().clone()))
        .ok_or_else(|| Rejected::Unreadable("it has no frames".into()))?;
    let (width, height) = (first.width(), first.height());
    let bytes = match kind {
        Kind::WebP => animated_webp(&frames, width, height, opts.quality)?,
        _ => {
            let mut out = Vec::new();
            {
                let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
                encoder.set_repeat(Repeat::Infinite).map_err(unreadable)?;
                encoder.encode_frames(frames).map_err(unreadable)?;
            }
            out
        }
    };
    let card = og_card(resizer, &first, opts.quality)?;
    Ok(Made {
        width,
        height,
        animated: true,
        widths: Vec::new(),
        files: vec![
            File {
                key: name.to_owned(),
                bytes,
                content_type: super::content_type(name),
            },
            file(og_key(name), card),
        ],
    })
}

fn animated_webp(
    frames: &[Frame],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, Rejected> {
    let mut config = webp::WebPConfig::new()
        .map_err(|()| Rejected::Unreadable("libwebp would not start".into()))?;
    config.lossless = 0;
    config.quality = f32::from(quality);
    let mut encoder = webp::AnimEncoder::new(width, height, &config);
    encoder.set_loop_count(0);
    let mut at_ms = 0i32;
    for frame in frames {
        let buffer = frame.buffer();
        encoder.add_frame(webp::AnimFrame::from_rgba(
            buffer.as_raw(),
            buffer.width(),
            buffer.height(),
            at_ms,
        ));
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay = numer.checked_div(denom).unwrap_or(100).max(10);
        at_ms = at_ms.saturating_add(i32::try_from(delay).unwrap_or(i32::MAX));
    }
    encoder
        .try_encode()
        .map(|m| m.to_vec())
        .map_err(|e| Rejected::Unreadable(format!("could not encode the animation: {e:?}")))
}

fn file(key: String, bytes: Vec<u8>) -> File {
    let content_type = super::content_type(&key);
    File {
        key,
        bytes,
        content_type,
    }
}

fn scaled_height(width: u32, height: u32, w: u32) -> u32 {
    let h = (u64::from(height) * u64::from(w) + u64::from(width) / 2) / u64::from(width);
    u32::try_from(h).unwrap_or(u32::MAX).max(1)
}

fn resize(
    resizer: &mut Resizer,
    source: &DynamicImage,
    width: u32,
    height: u32,
) -> Result<DynamicImage, Rejected> {
    let mut out = DynamicImage::new(width, height, source.color());
    resizer
        .resize(
            source,
            &mut out,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|e| Rejected::Unreadable(format!("could not resize it: {e}")))?;
    Ok(out)
}

/// Whether `image` is big enough to crop the social card from without upscaling.
fn covers_card(image: &DynamicImage) -> bool {
    image.width() >= OG_SIZE.0 && image.height() >= OG_SIZE.1
}

/// The social card: `OG_SIZE`, covered from the centre, on white.
fn og_card(resizer: &mut Resizer, source: &DynamicImage, quality: u8) -> Result<Vec<u8>, Rejected> {
    let flat = DynamicImage::ImageRgb8(flatten(source));
    let (w, h) = OG_SIZE;
    let mut card = DynamicImage::new(w, h, ColorType::Rgb8);
    resizer
        .resize(
            &flat,
            &mut card,
            &ResizeOptions::new()
                .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
                .fit_into_destination(None),
        )
        .map_err(|e| Rejected::Unreadable(format!("could not resize it: {e}")))?;
    jpeg(&card.into_rgb8(), quality)
}

/// RGB, any transparency composed over white.
fn flatten(image: &DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb.clone(),
        other => {
            let rgba = other.to_rgba8();
            let mut out = RgbImage::new(rgba.width(), rgba.height());
            for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
                let a = u16::from(p[3]);
                for c in 0..3 {
                    let v = (u16::from(p[c]) * a + 255 * (255 - a) + 127) / 255;
                    o[c] = u8::try_from(v).unwrap_or(u8::MAX);
                }
            }
            out
        }
    }
}

fn jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, Rejected> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode_image(image)
        .map_err(unreadable)?;
    Ok(out)
}

/// `image` in `kind`'s format, from its pixels only.
fn encode(image: &DynamicImage, kind: Kind, quality: u8) -> Result<Vec<u8>, Rejected> {
    match kind {
        Kind::Jpeg => jpeg(&flatten(image), quality),
        Kind::Png => {
            let mut out = Vec::new();
            image
                .write_with_encoder(PngEncoder::new(&mut out))
                .map_err(unreadable)?;
            Ok(out)
        }
        Kind::Gif => {
            let mut out = Vec::new();
            {
                let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
                encoder
                    .encode_frame(Frame::new(image.to_rgba8()))
                    .map_err(unreadable)?;
            }
            Ok(out)
        }
        Kind::WebP => webp(image, quality).ok_or_else(|| {
            Rejected::Unreadable(format!(
                "WebP images are at most {WEBP_MAX_SIDE} pixels on a side"
            ))
        }),
    }
}

/// Lossy WebP (libwebp) at `quality`; `None` past WebP's size limit.
fn webp(image: &DynamicImage, quality: u8) -> Option<Vec<u8>> {
    let (w, h) = (image.width(), image.height());
    if w > WEBP_MAX_SIDE || h > WEBP_MAX_SIDE {
        return None;
    }
    let quality = f32::from(quality.clamp(1, 100));
    let encoded = match image {
        DynamicImage::ImageRgb8(rgb) => {
            webp::Encoder::from_rgb(rgb.as_raw(), w, h).encode_simple(false, quality)
        }
        DynamicImage::ImageRgba8(rgba) => {
            webp::Encoder::from_rgba(rgba.as_raw(), w, h).encode_simple(false, quality)
        }
        other => {
            let rgba = other.to_rgba8();
            webp::Encoder::from_rgba(rgba.as_raw(), w, h).encode_simple(false, quality)
        }
    };
    encoded.ok().map(|m| m.to_vec())
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;

    fn opts(widths: &[u32]) -> Options {
        Options {
            widths: widths.to_vec(),
            quality: 80,
            max_pixels: 50_000_000,
        }
    }

    /// Photo-like pixels: gradients and noise (a flat colour compresses to nothing).
    fn photo(width: u32, height: u32) -> RgbImage {
        let mut seed = 0x2545_f491_u32;
        RgbImage::from_fn(width, height, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 24) as u8;
            Rgb([
                ((x * 255 / width.max(1)) as u8).saturating_add(noise),
                ((y * 255 / height.max(1)) as u8).saturating_add(noise),
                (((x + y) * 127 / (width + height)) as u8).saturating_add(noise),
            ])
        })
    }

    fn jpeg_of(image: &RgbImage) -> Vec<u8> {
        jpeg(image, 90).expect("encode")
    }

    fn png_of(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode");
        out
    }

    /// The bytes of three GPS rationals (48/1, 51/1, 29/1), as the EXIF block carries them.
    const GPS_LATITUDE: [u8; 24] = [
        0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0, 29, 0, 0, 0, 1,
    ];

    /// `jpeg` with an APP1 EXIF block right after SOI: orientation `orientation`, and a GPS
    /// IFD (latitude N 48° 51′ 29″), written by hand as a phone would (big-endian TIFF).
    fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
        // IFD0 at 8: two entries, then the next IFD's offset (none).
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1]);
        tiff.extend_from_slice(&38u32.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(tiff.len(), 38);
        // The GPS IFD at 38: latitude's reference and value (its rationals at 68).
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
        tiff.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3]);
        tiff.extend_from_slice(&68u32.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(tiff.len(), 68);
        tiff.extend_from_slice(&GPS_LATITUDE);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&u16::try_from(app1.len() + 2).expect("short").to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn decode(bytes: &[u8]) -> DynamicImage {
        image::load_from_memory(bytes).expect("decodes")
    }

    fn name(ext: &str) -> String {
        format!("{}.{ext}", "a".repeat(64))
    }

    #[test]
    fn no_exif_or_gps_survives_in_any_file() {
        let sent = with_exif(&jpeg_of(&photo(1200, 800)), 1);
        // The fixture is what it claims: EXIF and GPS are there, and image reads them.
        assert!(contains(&sent, b"Exif") && contains(&sent, &GPS_LATITUDE));
        let made = make(&name("jpg"), &sent, &opts(&[480, 960, 1600])).expect("made");
        assert_eq!(made.files.len(), 1 + 1 + 2 * 2 + 1);
        for file in &made.files {
            assert!(!contains(&file.bytes, b"Exif"), "{}", file.key);
            assert!(!contains(&file.bytes, b"MM\0\x2a"), "{}", file.key);
            assert!(!contains(&file.bytes, &GPS_LATITUDE), "{}", file.key);
            decode(&file.bytes);
        }
    }

    #[test]
    fn orientation_six_turns_the_picture() {
        // 40×20, red in the top-left corner, blue elsewhere; orientation 6 = turn 90° clockwise.
        let mut pixels = RgbImage::from_pixel(40, 20, Rgb([0, 0, 255]));
        for x in 0..12 {
            for y in 0..8 {
                pixels.put_pixel(x, y, Rgb([255, 0, 0]));
            }
        }
        let sent = with_exif(&jpeg_of(&pixels), 6);
        let made = make(&name("jpg"), &sent, &opts(&[])).expect("made");
        assert_eq!((made.width, made.height), (20, 40));
        let base = decode(&made.files[0].bytes).into_rgb8();
        assert_eq!(base.dimensions(), (20, 40));
        // The red corner is now top-right.
        let top_right = base.get_pixel(17, 3);
        assert!(top_right[0] > 200 && top_right[2] < 80, "{top_right:?}");
        let top_left = base.get_pixel(2, 3);
        assert!(top_left[2] > 200 && top_left[0] < 80, "{top_left:?}");
    }

    #[test]
    fn widths_are_the_smaller_configured_ones_then_the_full_width() {
        let image = DynamicImage::ImageRgb8(photo(1000, 500));
        let made = make(
            &name("png"),
            &png_of(&image),
            &opts(&[1600, 480, 960, 1000, 0]),
        )
        .expect("made");
        assert_eq!(made.widths, vec![480, 960, 1000]);
        assert!(!made.animated);
        let keys: Vec<&str> = made.files.iter().map(|f| f.key.as_str()).collect();
        let n = name("png");
        let mut expected = vec![
            n.clone(),
            width_key(&n, 1000, "webp"),
            width_key(&n, 960, "png"),
            width_key(&n, 960, "webp"),
            width_key(&n, 480, "png"),
            width_key(&n, 480, "webp"),
            og_key(&n),
        ];
        let mut got = keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        for file in &made.files {
            let img = decode(&file.bytes);
            assert!(img.width() <= 1200, "{}", file.key);
            if file.key.contains("-480.") {
                assert_eq!((img.width(), img.height()), (480, 240));
            }
            if file.key.ends_with("-og.jpg") {
                assert_eq!((img.width(), img.height()), OG_SIZE);
                assert_eq!(file.content_type, "image/jpeg");
            }
        }
        // Smaller than every configured width: only itself.
        let small = png_of(&DynamicImage::ImageRgb8(photo(300, 200)));
        let made = make(&name("png"), &small, &opts(&[480, 960])).expect("made");
        assert_eq!(made.widths, vec![300]);
    }

    #[test]
    fn webp_copies_are_lossy_and_valid() {
        let pixels = photo(800, 600);
        let made = make(&name("jpg"), &jpeg_of(&pixels), &opts(&[480])).expect("made");
        let top = made
            .files
            .iter()
            .find(|f| f.key == width_key(&name("jpg"), 800, "webp"))
            .expect("full-width webp");
        assert_eq!(top.content_type, "image/webp");
        assert_eq!(
            image::guess_format(&top.bytes).ok(),
            Some(ImageFormat::WebP)
        );
        let back = decode(&top.bytes);
        assert_eq!((back.width(), back.height()), (800, 600));
        let lossless = webp::Encoder::from_rgb(pixels.as_raw(), 800, 600).encode_lossless();
        assert!(
            top.bytes.len() * 2 < lossless.len(),
            "{} vs {}",
            top.bytes.len(),
            lossless.len()
        );
        let small = made
            .files
            .iter()
            .find(|f| f.key == width_key(&name("jpg"), 480, "webp"))
            .expect("480 webp");
        assert_eq!(decode(&small.bytes).width(), 480);
    }

    #[test]
    fn transparency_stays_where_it_can() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_fn(600, 400, |x, _| {
            Rgba([200, 30, 30, if x < 300 { 0 } else { 255 }])
        }));
        let made = make(&name("png"), &png_of(&image), &opts(&[480])).expect("made");
        for file in &made.files {
            let back = decode(&file.bytes);
            let alpha = !file.key.ends_with(".jpg");
            assert_eq!(back.color().has_alpha(), alpha, "{}", file.key);
        }
        // The card is flattened on white: the transparent left half is white.
        let card = made
            .files
            .iter()
            .find(|f| f.key.ends_with("-og.jpg"))
            .expect("card");
        let card = decode(&card.bytes).into_rgb8();
        let left = card.get_pixel(20, 300);
        assert!(left.0.iter().all(|c| *c > 235), "{left:?}");
    }

    #[test]
    fn an_animated_gif_keeps_its_frames() {
        let mut gif = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut gif);
            for colour in [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]] {
                let frame = Frame::from_parts(
                    RgbaImage::from_pixel(64, 48, Rgba(colour)),
                    0,
                    0,
                    image::Delay::from_numer_denom_ms(120, 1),
                );
                encoder.encode_frame(frame).expect("frame");
            }
        }
        let made = make(&name("gif"), &gif, &opts(&[32])).expect("made");
        assert!(made.animated);
        assert!(made.widths.is_empty());
        assert_eq!(made.files.len(), 2);
        let frames = GifDecoder::new(Cursor::new(&made.files[0].bytes))
            .expect("gif")
            .into_frames()
            .collect_frames()
            .expect("frames");
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].delay().numer_denom_ms(), (120, 1));
        assert_eq!(decode(&made.files[1].bytes).width(), OG_SIZE.0);

        // A single-frame GIF is a still image: widths in GIF and WebP.
        let mut still = Vec::new();
        GifEncoder::new(&mut still)
            .encode_frame(Frame::new(RgbaImage::from_pixel(
                64,
                48,
                Rgba([9, 9, 9, 255]),
            )))
            .expect("frame");
        let made = make(&name("gif"), &still, &opts(&[32])).expect("made");
        assert!(!made.animated);
        assert_eq!(made.widths, vec![32, 64]);
        assert!(made.files.iter().any(|f| f.key.ends_with("-32.gif")));
    }

    #[test]
    fn an_animated_webp_keeps_its_frames() {
        let mut config = webp::WebPConfig::new().expect("config");
        config.quality = 80.0;
        let frames: Vec<Vec<u8>> = [[255u8, 0, 0, 255], [0, 0, 255, 255]]
            .iter()
            .map(|c| c.repeat(32 * 24))
            .collect();
        let mut encoder = webp::AnimEncoder::new(32, 24, &config);
        encoder.add_frame(webp::AnimFrame::from_rgba(&frames[0], 32, 24, 0));
        encoder.add_frame(webp::AnimFrame::from_rgba(&frames[1], 32, 24, 200));
        let sent = encoder.try_encode().expect("encode").to_vec();
        let made = make(&name("webp"), &sent, &opts(&[16])).expect("made");
        assert!(made.animated);
        let back = WebPDecoder::new(Cursor::new(&made.files[0].bytes)).expect("webp");
        assert!(back.has_animation());
        assert_eq!(
            back.into_frames().collect_frames().expect("frames").len(),
            2
        );
    }

    /// A JPEG whose luma refers to a quantization table it lacks: its header reads well
    /// (`check` lets it in), its pixels never decode.
    pub fn jpeg_without_its_table(whole: &[u8]) -> Vec<u8> {
        let sof = whole
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline SOF");
        let mut broken = whole.to_vec();
        // FFC0, length (2), precision, height (2), width (2), count, then id, sampling, table.
        broken[sof + 12] = 3;
        broken
    }

    #[test]
    fn broken_files_are_refused_without_a_panic() {
        let whole = jpeg_of(&photo(300, 200));
        let sos = whole
            .windows(2)
            .position(|w| w == [0xFF, 0xDA])
            .expect("SOS");
        // Cut before the pixels start: refused.
        assert!(matches!(
            make(&name("jpg"), &whole[..sos], &opts(&[100])),
            Err(Rejected::Unreadable(_))
        ));
        // Cut in the middle of the pixels: the decoder fills the rest (as browsers show such
        // a file), no panic either way.
        for cut in [sos + 14, whole.len() / 2, whole.len() - 2] {
            let _ = make(&name("jpg"), &whole[..cut], &opts(&[100]));
        }
        let broken = jpeg_without_its_table(&whole);
        assert!(super::super::check(&broken, 50_000_000).is_ok());
        let Err(Rejected::Unreadable(why)) = make(&name("jpg"), &broken, &opts(&[100])) else {
            panic!("a JPEG without its quantization table decoded");
        };
        assert!(why.contains("quantization"), "{why}");
        // A valid PNG header, then garbage.
        let mut png = png_of(&DynamicImage::ImageRgb8(photo(50, 50)));
        png.truncate(33);
        png.extend(std::iter::repeat_n(0xA5u8, 500));
        assert!(matches!(
            make(&name("png"), &png, &opts(&[])),
            Err(Rejected::Unreadable(_))
        ));
        assert!(matches!(
            make(&name("png"), b"not an image at all", &opts(&[])),
            Err(Rejected::NotAnImage(_))
        ));
        assert_eq!(
            make(&name("png"), b"", &opts(&[])).err(),
            Some(Rejected::Empty)
        );
        // A name that disagrees with the bytes.
        assert!(make(&name("gif"), &whole, &opts(&[])).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        // A PNG announcing 30000×30000 (900 megapixels) with a few bytes of data.
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .expect("encode");
        out[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        out[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let crc = super::super::tests::crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            make(&name("png"), &out, &opts(&[480])),
            Err(Rejected::TooManyPixels {
                width: 30_000,
                height: 30_000,
                ..
            })
        ));
    }
}
