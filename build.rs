// `sqlx::migrate!` embeds migrations/ at compile time; Cargo must rebuild when files are added.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
