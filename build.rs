// `sqlx::migrate!` embeds migrations/ at compile time; Cargo must rebuild when files are added.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // Worktrees of this repository may share one target directory, where their units have
    // the same names and Cargo judges freshness by the checkout's file times: the checkout a
    // build runs in is part of the build, so a build never reuses another checkout's code.
    println!("cargo:rerun-if-env-changed=PWD");
    // The Meilisearch tests run when a server is named at build time, and are reported as
    // skipped otherwise (tests/it/search.rs).
    println!("cargo::rustc-check-cfg=cfg(meili)");
    println!("cargo:rerun-if-env-changed=MEILI_URL");
    if std::env::var_os("MEILI_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=meili");
    }
}
