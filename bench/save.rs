//! The cost of saving a post for `bench/run.sh`, through the editor's own use-cases:
//! `posts::create` (a new post) and `posts::update` (an edit), timed against the blog in
//! `DATABASE_URL`. The posts carry the demo's two biggest tags, the case issue 9 (section 7)
//! was about: a save there used to rewrite every post sharing them. The posts it writes are
//! deleted at the end, so the seeded blog stays as it was.
//!
//! `cargo run --release --example save -- [SAVES]` prints
//! `create_p50_ms create_p90_ms update_p50_ms update_p90_ms`.

use std::time::Instant;

use anyhow::Context;
use quire::{
    accounts::model::UserId,
    config::{Environment, Settings},
    db,
    posts::{
        self,
        model::{PostInput, PostStatus},
    },
    slug::Slug,
};

/// Saves not timed first: connections, plans and caches warm up.
const WARM_UP: usize = 20;

const BODY: &str = "Most of the work a blog does is the same work, over and over: take a \
post, wrap it in a layout, send it to a reader.\n\n## A small example\n\n```rust\npub async \
fn show(slug: &str) -> Result<Page, Error> {\n    let post = repo::find_published(slug).await?;\n    \
Ok(Page { post })\n}\n```\n\nThe handler reads like a checklist: load, check, respond.\n\n\
> Make it work, make it right, make it fast, in that order.\n\n## What's next\n\nIn the next \
post we will look at what happens when this meets real traffic.";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let saves: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let settings = Settings::load(Environment::from_env()?)?;
    let pool = db::pool(&settings.database)?;
    let author: UserId = sqlx::query_scalar("SELECT id FROM users ORDER BY id LIMIT 1")
        .fetch_one(&pool)
        .await
        .context("the blog has no users: seed it first")?;
    // The two tags most posts carry.
    let tags: Vec<String> = sqlx::query_scalar(
        "SELECT t.name FROM tags t JOIN post_tags pt ON pt.tag_id = t.id
          GROUP BY t.id ORDER BY count(*) DESC, t.id LIMIT 2",
    )
    .fetch_all(&pool)
    .await?;
    sqlx::query("DELETE FROM posts WHERE slug LIKE 'bench-save-%'")
        .execute(&pool)
        .await?;

    let input = |i: usize, round: usize| PostInput {
        title: format!("Bench save {i}"),
        slug: Slug::parse(&format!("bench-save-{i}")).expect("letters, digits and dashes"),
        excerpt: String::new(),
        body_markdown: format!("{BODY}\n\nRound {round}."),
        cover_image: None,
        featured: false,
        status: PostStatus::Published,
        publish_at: None,
        tags: tags.clone(),
        meta: Default::default(),
        kind: quire::posts::model::PostKind::Post,
    };
    let total = saves + WARM_UP;
    let mut created = Vec::with_capacity(total);
    let mut create_ms = Vec::with_capacity(total);
    for i in 0..total {
        let post = input(i, 0);
        let start = Instant::now();
        let id = posts::create(&pool, author, &post, Some(time::OffsetDateTime::now_utc()))
            .await?
            .context("bench-save slugs are free")?;
        create_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        created.push(id);
    }
    let mut update_ms = Vec::with_capacity(total);
    for (i, id) in created.iter().enumerate() {
        let post = input(i, 1);
        let start = Instant::now();
        posts::update(&pool, author, *id, 1, &post, posts::SaveKind::Manual)
            .await
            .map_err(|e| anyhow::anyhow!("saving bench post {i}: {e}"))?;
        update_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    sqlx::query("DELETE FROM posts WHERE slug LIKE 'bench-save-%'")
        .execute(&pool)
        .await?;

    let (c50, c90) = percentiles(&mut create_ms[WARM_UP..]);
    let (u50, u90) = percentiles(&mut update_ms[WARM_UP..]);
    println!("{c50:.2} {c90:.2} {u50:.2} {u90:.2}");
    Ok(())
}

/// The median and 90th percentile of `ms`.
fn percentiles(ms: &mut [f64]) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}
