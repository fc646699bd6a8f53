// `sqlx::migrate!` embeds migrations/ at compile time; Cargo must rebuild when files are added.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // The Meilisearch tests run when a server is named at build time, and are reported as
    // skipped otherwise (tests/it/search.rs).
    println!("cargo::rustc-check-cfg=cfg(meili)");
    println!("cargo:rerun-if-env-changed=MEILI_URL");
    if std::env::var_os("MEILI_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=meili");
    }
}
