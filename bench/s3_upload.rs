//! Upload throughput to an S3 server through Quire's own `media::Store` (the path every
//! upload's original and made files take): `OBJECTS` objects of 1 MB, 8 `put`s at a time,
//! into a fresh bucket of `s3s-fs` (the tests' S3 server, installed by scripts/test.sh into
//! `<target>/s3s-fs`), started here on a free port over a temporary folder.
//!
//! `cargo run --release --example s3_upload -- [OBJECTS]` prints
//! `objects mb seconds mb_per_s objects_per_s`.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use quire::{config::S3Settings, media::Store};

const MB: usize = 1 << 20;
const AT_ONCE: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let objects: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| "target".into(), std::path::PathBuf::from);
    let bin = target.join("s3s-fs/bin/s3s-fs");
    anyhow::ensure!(
        bin.is_file(),
        "{} missing: run scripts/test.sh once",
        bin.display()
    );
    let root = tempfile::tempdir()?;
    std::fs::create_dir(root.path().join("bench-media"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = std::process::Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--access-key",
            "bench",
            "--secret-key",
            "bench-secret-0123456789",
        ])
        .arg(root.path())
        .spawn()
        .context("starting s3s-fs")?;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let store = Arc::new(Store::s3(
        &S3Settings {
            bucket: "bench-media".into(),
            region: "us-east-1".into(),
            endpoint: format!("http://127.0.0.1:{port}"),
            path_style: true,
            access_key_id: "bench".into(),
            secret_access_key: "bench-secret-0123456789".to_owned().into(),
            presign_secs: 900,
            timeout_secs: 30,
        },
        "",
    )?);
    // Distinct bytes per object (a counter in the first 8), as content-addressed files are.
    let body = vec![0x5a_u8; MB];
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..objects)
        .map(|i| {
            let store = store.clone();
            let mut bytes = body.clone();
            bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
            async move {
                store
                    .put(&format!("{i:064x}.jpg"), Bytes::from(bytes), "image/jpeg")
                    .await
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    for r in results {
        r?;
    }
    let mb = objects as f64;
    println!(
        "{objects} {mb:.0} {seconds:.2} {:.1} {:.1}",
        mb / seconds,
        objects as f64 / seconds
    );
    Ok(())
}
