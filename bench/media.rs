//! The image pipeline's cost: every file `media::pipeline::make` writes for a 12-megapixel
//! photo (4000×3000 JPEG, as a phone takes), with the default widths and quality.
//!
//!   cargo run --release --example media          # 3 runs, the median
//!   RUNS=5 cargo run --release --example media
//!
//! The photo is made here, photo-like (smooth gradients, shapes with edges, sensor noise), so
//! the encoders work as hard as on a real picture; a flat colour would compress to nothing.

use std::time::Instant;

use quire::media::pipeline::{Options, make};

fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 17) as i32 - 8;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        // Sky to ground, a sun, a few hills.
        let mut rgb = if fy < 0.55 {
            [90.0 + 120.0 * fy, 140.0 + 90.0 * fy, 230.0 - 60.0 * fy]
        } else {
            [70.0 + 60.0 * fx, 110.0 + 50.0 * (fx * 12.0).sin(), 50.0]
        };
        let (dx, dy) = (fx - 0.7, fy - 0.25);
        if dx * dx + dy * dy * 0.56 < 0.004 {
            rgb = [250.0, 230.0, 160.0];
        }
        let hill = 0.55 + 0.08 * (fx * 9.0).sin() * (fx * 3.0).cos();
        if fy > hill && fy < hill + 0.02 {
            rgb = [40.0, 70.0, 35.0];
        }
        let px = |c: f32| (c as i32 + noise).clamp(0, 255) as u8;
        image::Rgb([px(rgb[0]), px(rgb[1]), px(rgb[2])])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&pixels)
        .expect("encode the photo");
    out
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    // config/default.toml's [uploads].
    let opts = Options {
        widths: vec![480, 960, 1600, 2400],
        quality: 80,
        max_pixels: 50_000_000,
    };
    let original = photo(4000, 3000);
    let name = format!("{}.jpg", "0".repeat(64));
    println!(
        "original: 4000×3000 JPEG, {} KB; widths {:?}, quality {}",
        original.len() / 1000,
        opts.widths,
        opts.quality
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let made = make(&name, &original, &opts).expect("the photo is made");
        times.push(start.elapsed().as_secs_f64());
        last = Some(made);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let made = last.expect("one run");
    println!(
        "make: median {median:.2} s of {} runs (min {:.2} s, max {:.2} s), {} files, {} KB in all",
        times.len(),
        times[0],
        times[times.len() - 1],
        made.files.len(),
        made.files.iter().map(|f| f.bytes.len()).sum::<usize>() / 1000
    );
    let mut files: Vec<_> = made.files.iter().collect();
    files.sort_by_key(|f| f.bytes.len());
    for f in files {
        let key = f.key.trim_start_matches('0');
        println!("  {:>14}  {:>6} KB", key, f.bytes.len() / 1000);
    }
}
