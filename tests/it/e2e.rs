//! The browser flow (tests/e2e/flow.mjs) against the real app: headless Chromium driven by
//! playwright-core. `scripts/test.sh` installs both before running the tests.

use std::process::Command;

use crate::{
    harness::spawn_app_with,
    oauth_provider::{Person, TestProvider},
};

#[tokio::test]
async fn the_whole_story_works_in_a_real_browser() {
    let root = env!("CARGO_MANIFEST_DIR");
    let e2e = format!("{root}/tests/e2e");
    assert!(
        std::path::Path::new(&format!("{e2e}/node_modules/playwright-core")).exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "run `bash scripts/test.sh` once: it installs Chromium and playwright-core"
    );
    // GitHub login goes to the test's own provider, where Octo Cat approves.
    let provider = TestProvider::start().await;
    provider.approve_as(Person {
        id: "31337",
        login: "octocat",
        name: "Octo Cat",
        email: "octo@example.com",
        verified: true,
    });
    let app = spawn_app_with(|s| provider.configure(s)).await;
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("flow.mjs")
            .current_dir(&e2e)
            .env("BASE_URL", base)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("e2e flow passed"));
    for shot in [
        "editor.png",
        "post.png",
        "comment.png",
        "login.png",
        "account.png",
        "signin-refused.png",
        "link-taken.png",
    ] {
        let path = format!("{root}/tests/e2e/artifacts/{shot}");
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 10_000),
            "screenshot {shot}"
        );
    }
}
