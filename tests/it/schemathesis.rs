//! A property-based run of schemathesis (PyPI, installed by `scripts/test.sh`) against the
//! generated `/api/openapi.json`: no 5xx, no undocumented status, no answer that violates
//! the document, over every operation, with a fixed seed.

use std::process::Command;

use quire::accounts::model::Role;
use serde_json::json;

use crate::harness::spawn_app_with;

#[tokio::test]
async fn schemathesis_finds_nothing() {
    let root = env!("CARGO_MANIFEST_DIR");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{root}/target"));
    let st = format!("{target}/schemathesis/bin/st");
    assert!(
        std::path::Path::new(&st).exists(),
        "run `bash scripts/test.sh` once: it installs schemathesis"
    );
    let app = spawn_app_with(|s| {
        s.accounts.default_role = Role::Author;
        s.accounts.registrations_per_hour = 1_000_000;
        s.api.requests_per_minute = 1_000_000;
        s.api.account_requests_per_minute = 1_000_000;
    })
    .await;
    let res = app
        .client
        .post(app.url("/api/users"))
        .json(
            &json!({"user": {"username": "fuzzer", "email": "fuzzer@example.com",
                               "password": "a long fuzzing passphrase"}}),
        )
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["user"]["token"].as_str().unwrap().to_owned();
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .args(["run", &format!("{base}/api/openapi.json")])
            .args(["--url", &format!("{base}/api")])
            .args(["-H", &format!("Authorization: Token {token}")])
            .args(["--checks", "all"])
            // Refusing a well-shaped request is sometimes right: a taken username, following
            // oneself, a common password, a stale version. Those 4xx are tested in api.rs.
            .args(["--exclude-checks", "positive_data_acceptance"])
            // NUL can't be stored by PostgreSQL: refused with 422 by design (api.rs).
            .args(["--generation-allow-x00", "false"])
            .args(["--max-examples", "30", "--seed", "20261202"])
            .args(["--no-color"])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found:\n{stdout}\n{stderr}"
    );
    // How many cases ran, for the log (bench/README and the issue note quote it).
    let cases = stdout
        .lines()
        .find(|l| {
            let l = l.trim_start();
            l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(" generated")
        })
        .unwrap_or_default();
    println!("schemathesis: {}", cases.trim());
    assert!(cases.contains("generated"), "{stdout}");
}

/// The same against `/graphql`, from its introspected schema: queries and mutations built
/// from every field and argument, with an author's token; no answer may be a 5xx, an
/// `INTERNAL` error or a resolver error without a code.
#[tokio::test]
async fn schemathesis_finds_nothing_in_graphql() {
    let root = env!("CARGO_MANIFEST_DIR");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{root}/target"));
    let st = format!("{target}/schemathesis/bin/st");
    assert!(
        std::path::Path::new(&st).exists(),
        "run `bash scripts/test.sh` once: it installs schemathesis"
    );
    let app = spawn_app_with(|s| {
        s.accounts.registrations_per_hour = 1_000_000;
        s.api.requests_per_minute = 1_000_000;
        s.api.account_requests_per_minute = 1_000_000;
        s.search.requests_per_minute = 1_000_000;
    })
    .await;
    let author = app.author("ada").await;
    app.posts(author, 3, &["Fuzz"]).await;
    let token = crate::graphql::token_of(&app, "fuzzer", Role::Author).await;
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .args(["run", &format!("{base}/graphql")])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            // Quire's own check (tests/schemathesis/graphql_checks.py) instead of
            // `not_a_server_error`, which counts "not found" and the like as failures.
            .env("PYTHONPATH", format!("{root}/tests/schemathesis"))
            .env("SCHEMATHESIS_HOOKS", "graphql_checks")
            .args(["--checks", "quire_graphql_errors"])
            .args(["--generation-allow-x00", "false"])
            .args(["--max-examples", "20", "--seed", "20261207"])
            .args(["--no-color"])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found:\n{stdout}\n{stderr}"
    );
    let cases = stdout
        .lines()
        .find(|l| {
            let l = l.trim_start();
            l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(" generated")
        })
        .unwrap_or_default();
    println!("schemathesis (graphql): {}", cases.trim());
    assert!(cases.contains("generated"), "{stdout}");
}
