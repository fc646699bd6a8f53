//! The RealWorld project's own API test collection, run unchanged with newman (npm, installed
//! by `scripts/test.sh`) against a fresh Quire with open publishing.

use std::process::Command;

use quire::accounts::model::Role;

use crate::harness::spawn_app_with;

#[tokio::test]
async fn the_realworld_postman_collection_passes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let newman = format!("{root}/tests/e2e/node_modules/.bin/newman");
    assert!(
        std::path::Path::new(&newman).exists(),
        "run `bash scripts/test.sh` once: it installs newman"
    );
    let app = spawn_app_with(|s| s.accounts.default_role = Role::Author).await;
    let api = format!("{}/api", app.base);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(newman)
            .args([
                "run",
                &format!("{root}/tests/realworld/Conduit.postman_collection.json"),
            ])
            .args(["--global-var", &format!("APIURL={api}")])
            .args(["--global-var", "USERNAME=newman"])
            .args(["--global-var", "EMAIL=newman@example.com"])
            // Quire refuses common passwords such as the upstream script's "password".
            .args(["--global-var", "PASSWORD=a long newman passphrase"])
            .args(["--reporters", "cli", "--color", "off", "--bail"])
            .output()
            .expect("newman runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "newman failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("assertions"), "{stdout}");
    // The summary table, for the log: how many requests and assertions ran.
    println!(
        "{}",
        stdout
            .lines()
            .rev()
            .take(16)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
