//! Demo content: a few authors, tags and realistic Markdown posts. Idempotent: everything is
//! keyed by username or slug, so running it again adds only what is missing. And the way
//! out again (`find_demo`, `remove_demo`): what counts as demo content is said here, once,
//! for the dashboard's count and button and for `quire demo remove`.

use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::{
    accounts::{
        self,
        model::{Email, NewUser, Role, UserId, Username},
        repo as users,
    },
    posts::{
        self, NewPost,
        model::{PostId, PostInput, PostKind, PostMeta, PostStatus},
    },
    slug::Slug,
    tags,
};

#[derive(Debug, Default)]
pub struct SeedReport {
    pub posts_created: u32,
    pub posts_existing: u32,
}

const AUTHORS: &[(&str, &str, &str)] = &[
    (
        "mara",
        "Mara Quill",
        "Writes about systems programming and the art of small tools. Rust since 2016.",
    ),
    (
        "jonas",
        "Jonas Reed",
        "Database person. Believes most performance problems are missing indexes.",
    ),
    (
        "priya",
        "Priya Nair",
        "Designer and front-end engineer. Typography nerd, accessibility advocate.",
    ),
    (
        "tomas",
        "Tomás Ortega",
        "Runs infrastructure for small teams. Prefers boring technology that works.",
    ),
];

const TAGS: &[(&str, &str)] = &[
    (
        "Rust",
        "Ownership, lifetimes, async and everything else about writing Rust.",
    ),
    (
        "Databases",
        "PostgreSQL, indexes, query plans and keeping data safe.",
    ),
    (
        "Web",
        "HTTP, HTML and building sites that load fast and last.",
    ),
    (
        "Design",
        "Typography, layout and making interfaces people enjoy.",
    ),
    (
        "Operations",
        "Deploying, observing and running software in production.",
    ),
    ("Performance", "Measuring first, then making things faster."),
    (
        "Security",
        "Threat models, safe defaults and the boring details that matter.",
    ),
    ("Craft", "Notes on the practice of writing software well."),
];

const TITLES: &[&str] = &[
    "Why We Render Markdown Once",
    "Reading a Query Plan Without Fear",
    "The Case for Server-Rendered Pages",
    "Typography for People Who Write Code",
    "Graceful Shutdown, Explained",
    "Indexes Are a Promise About Your Queries",
    "A Small Guide to Error Types in Rust",
    "Dark Mode Without JavaScript",
    "What a Health Check Should Really Check",
    "Pagination That Doesn't Lie",
    "Sanitizing User HTML the Boring Way",
    "Measuring Before Optimising",
    "Configuration in Layers",
    "One Log Line per Request",
    "Choosing Boring Technology on Purpose",
    "Designing a Readable Measure",
    "Atom Feeds Still Matter",
    "The Hidden Cost of N+1 Queries",
    "Timeouts Everywhere",
    "Writing Tests That Read Like Sentences",
    "Newtypes at the Edge",
    "What Happens When the Database Goes Away",
    "Caching Headers, Demystified",
    "Async Rust Without Tears",
    "Migrations Are Forward Only",
    "A Tour of PostgreSQL Partial Indexes",
    "Accessible Forms Start With Labels",
    "The Sitemap Nobody Reads (But Crawlers Do)",
    "Small Binaries, Simple Deploys",
    "Load Testing on a Laptop, Honestly",
];

const OPENINGS: &[&str] = &[
    "Most of the work a blog does is the same work, over and over: take a post, wrap it in a \
     layout, send it to a reader. The interesting question is which parts of that work can be \
     done **once**, ahead of time, and which must happen on every request.",
    "There is a particular kind of bug that only shows up in production, at three in the \
     morning, under load. This post is about making that kind of bug *boring*: visible, \
     explainable and cheap to fix.",
    "I used to think this topic was settled. Then I read the code of a dozen projects I admire \
     and found a dozen different answers. Here is what I learned from comparing them.",
    "Good defaults are a form of kindness. They let people who don't care about a detail get \
     it right anyway, and they let people who do care find the knob when they need it.",
];

const MIDDLES: &[&str] = &[
    "## The shape of the problem\n\nBefore changing anything, write down what you expect to \
     happen. A hypothesis you can check beats a hunch you can't. Three questions help:\n\n\
     1. What is the hot path, and how often does it run?\n2. What does it touch: memory, disk, \
     network?\n3. What would *faster* mean, in a number?\n",
    "## A small example\n\nHere is the core of it, trimmed to what matters:\n\n```rust\n\
     pub async fn show(state: web::Data<AppState>, slug: web::Path<Slug>) -> Result<HttpResponse, Error> {\n    \
     let post = repo::find_published(&state.db, &slug).await?.ok_or(Error::NotFound)?;\n    \
     render::page(ShowPage { post })\n}\n```\n\nThe handler reads like a checklist: load, \
     check, respond. Everything else lives somewhere with a name.\n",
    "## Measuring it\n\nNumbers, or it didn't happen. On a two-core machine, with the load \
     generator sharing the cores:\n\n| Page | Requests/s | p99 |\n|---|---:|---:|\n\
     | Fixed body | 91,000 | 3.9 ms |\n| Post page | 40,000 | 4.5 ms |\n| Home page | 30,000 \
     | 6.1 ms |\n\nRatios measured in the same run are the only figures worth comparing.\n",
    "## What the database sees\n\n```sql\nEXPLAIN SELECT id, title FROM published_posts\n \
     ORDER BY published_at DESC LIMIT 10;\n```\n\nAn index scan, walked backwards, stopping \
     after ten rows. No sort, no sequential scan, and the same plan at a thousand rows or a \
     hundred thousand.\n",
];

const ASIDES: &[&str] = &[
    "> Make it work, make it right, make it fast — in that order, and measure between each \
     step.\n",
    "![A diagram of a request flowing from the proxy to the app and the database](/static/img/diagram.svg)\n\n\
     The diagram above is the whole architecture: a proxy, a few identical app instances, \
     and the services they share.\n",
    "Some things worth keeping in mind:\n\n- Prefer *one* obvious place for each fact.\n\
     - Keep handlers thin; give use-cases names.\n- Log causes, show people words.\n\
     - [ ] Write the test first, when you can.\n",
];

const CLOSINGS: &[&str] = &[
    "## Wrapping up\n\nNone of this is clever, and that is the point. The clever version is \
     the one you have to explain at the incident review. Thanks for reading — the \
     [Atom feed](/feed.xml) will tell you when the next post is out.",
    "## Further reading\n\nThe PostgreSQL documentation on \
     [indexes](https://www.postgresql.org/docs/current/indexes.html) is excellent, and \
     so is the [Rust book](https://doc.rust-lang.org/book/). Start there, then read the code \
     of projects you admire.",
    "## What's next\n\nIn the next post we will look at what happens when this meets real \
     traffic, and which of these decisions survive contact with it.",
];

/// Posts per transaction and per round trip: big enough that a round trip costs little per
/// post, small enough that a batch commits in well under a second.
const BATCH: usize = 1000;

/// Make sure the blog has `posts` demo posts (and the authors and tags they use), counting
/// them on `progress`. The posts are written by `posts::create_many`, the editor's own path,
/// a batch at a time.
pub async fn run(db: &PgPool, posts: u32, progress: &ProgressBar) -> anyhow::Result<SeedReport> {
    let authors = ensure_authors(db).await?;
    let mut conn = db.acquire().await?;
    let names: Vec<String> = TAGS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let tag_ids = tags::repo::ensure(&mut conn, &names).await?;
    for (id, (_, description)) in tag_ids.iter().zip(TAGS) {
        tags::repo::set_description(&mut *conn, *id, description).await?;
    }
    drop(conn);

    let now = OffsetDateTime::now_utc();
    let total = posts as usize;
    progress.set_length(total as u64);
    let mut report = SeedReport::default();
    for start in (0..total).step_by(BATCH) {
        let end = (start + BATCH).min(total);
        let batch: Vec<(UserId, PostInput, OffsetDateTime)> =
            (start..end).map(|i| demo_post(i, &authors, now)).collect();
        let new: Vec<NewPost<'_>> = batch
            .iter()
            .map(|(author, input, published_at)| NewPost {
                author: *author,
                input,
                published_at: Some(*published_at),
            })
            .collect();
        for id in posts::create_many(db, &new).await? {
            match id {
                Some(_) => report.posts_created += 1,
                None => report.posts_existing += 1,
            }
        }
        progress.inc((end - start) as u64);
    }
    progress.finish_and_clear();
    about_page(db, authors[0]).await?;
    // Fresh statistics, so the planner picks the indexes right after a bulk load; and the
    // visibility map a bulk load leaves unset, without which index-only scans read the heap.
    sqlx::query("ANALYZE").execute(db).await?;
    sqlx::query("VACUUM posts, post_tags").execute(db).await?;
    Ok(report)
}

/// A demo About page (once), linked from the header menu if the site has its settings yet.
async fn about_page(db: &PgPool, author: UserId) -> anyhow::Result<()> {
    let page = PostInput {
        title: "About this blog".into(),
        slug: Slug::parse("about").map_err(anyhow::Error::msg)?,
        excerpt: String::new(),
        body_markdown: "This is a demo site made by `quire seed`: posts, tags, authors and \
                        this page, to show what Quire looks like with something in it.\n\n\
                        Pages like this one are written in the same editor as posts, live at \
                        their own address, and are never listed with posts. Admins link them \
                        from the header or the footer in *Admin → Navigation*."
            .into(),
        cover_image: None,
        featured: false,
        status: PostStatus::Published,
        publish_at: None,
        tags: Vec::new(),
        meta: PostMeta::default(),
        kind: PostKind::Page,
    };
    if posts::create(db, author, &page, Some(OffsetDateTime::now_utc()))
        .await?
        .is_some()
    {
        sqlx::query(
            "UPDATE site_settings
                SET navigation = jsonb_set(navigation, '{header}',
                        (navigation -> 'header') || '[{\"label\": \"About\", \"url\": \"/about\"}]'),
                    version = version + 1
              WHERE NOT (navigation -> 'header') @> '[{\"url\": \"/about\"}]'",
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// The bar `quire seed` shows on a terminal (and hides when stderr is not one).
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} posts  {per_sec}  {eta} left")
    {
        bar.set_style(style);
    }
    bar
}

async fn ensure_authors(db: &PgPool) -> anyhow::Result<Vec<UserId>> {
    let mut ids = Vec::with_capacity(AUTHORS.len());
    for (username, name, bio) in AUTHORS {
        let username = Username::parse(username).map_err(anyhow::Error::msg)?;
        if let Some(id) = users::find_id_by_username(db, &username).await? {
            ids.push(id);
            continue;
        }
        let user = NewUser {
            email: Email::parse(&format!("{username}@demo.quire.invalid"))
                .map_err(anyhow::Error::msg)?,
            username,
            display_name: (*name).to_owned(),
            bio: (*bio).to_owned(),
            // Demo authors have no password: nobody can log in as them.
            password: None,
            role: Role::Author,
        };
        ids.push(accounts::create_user(db, &user).await?);
    }
    Ok(ids)
}

/// The `i`th demo post: deterministic, so re-running the seed finds the same slugs.
fn demo_post(
    i: usize,
    authors: &[UserId],
    now: OffsetDateTime,
) -> (UserId, PostInput, OffsetDateTime) {
    let base = TITLES[i % TITLES.len()];
    let round = i / TITLES.len();
    let title = if round == 0 {
        base.to_owned()
    } else {
        format!("{base}, Part {}", round + 1)
    };
    let pick = |list: &[&'static str], salt: usize| list[(i * 7 + salt + round) % list.len()];
    let body = [
        pick(OPENINGS, 0),
        pick(MIDDLES, 1),
        pick(ASIDES, 2),
        pick(MIDDLES, 3),
        pick(CLOSINGS, 4),
    ]
    .join("\n\n");
    let tag_names = [TAGS[i % TAGS.len()].0, TAGS[(i * 3 + 1) % TAGS.len()].0]
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let post = PostInput {
        slug: Slug::from_title(&title).unwrap_or_else(|| fallback_slug(i)),
        title,
        excerpt: String::new(),
        body_markdown: body,
        cover_image: i
            .is_multiple_of(3)
            .then(|| format!("/static/img/cover-{}.svg", i / 3 % 3 + 1)),
        // Two featured posts, not the newest: the home page shows them first.
        featured: i == 4 || i == 9,
        status: PostStatus::Published,
        publish_at: None,
        tags: tag_names,
        meta: PostMeta {
            cover_alt: "An abstract pattern of soft shapes".into(),
            ..PostMeta::default()
        },
        kind: PostKind::Post,
    };
    // Spread over the past: post 0 is the newest.
    let published_at = now - Duration::hours(7 * i as i64 + 1);
    (authors[i % authors.len()], post, published_at)
}

fn fallback_slug(i: usize) -> Slug {
    Slug::from_title(&format!("demo post {i}")).expect("letters and digits make a slug")
}

// ---- removing it (issue 27, item 8) ----

/// Where demo authors' addresses are: a reserved domain no real person has (RFC 2606).
const DEMO_DOMAIN: &str = "demo.quire.invalid";

/// The About page's slug, as `about_page` makes it.
const ABOUT_SLUG: &str = "about";

/// Whether `slug` is one `demo_post` makes: a title of `TITLES`, or one with ", Part N".
fn is_demo_slug(slug: &str) -> bool {
    TITLES
        .iter()
        .filter_map(|t| Slug::from_title(t))
        .any(|base| {
            let base = base.as_str();
            slug == base
                || slug
                    .strip_prefix(base)
                    .and_then(|rest| rest.strip_prefix("-part-"))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// A post or page a demo author wrote, as `find_demo` judges it.
#[derive(Debug, sqlx::FromRow)]
struct Candidate {
    id: PostId,
    title: String,
    slug: String,
    kind: PostKind,
    author_id: UserId,
    /// Someone other than a demo author saved a revision of it.
    edited: bool,
    /// Someone commented on it (demo content has no comments: they are people's words).
    commented: bool,
}

/// What `quire seed` made that nobody has made their own since.
///
/// - **Demo authors**: the accounts of `AUTHORS`, with their `@demo.quire.invalid` address,
///   no password and no linked login. An account someone gave a password or a login to is a
///   person's now, and is not demo.
/// - **Demo posts**: posts by a demo author with a slug `demo_post` makes, and the About
///   page `about_page` makes, whose every revision is by a demo author (nobody edited them)
///   and that have no comments (readers' words are not removed with them).
/// - A demo author goes when none of their posts stays; demo tags (`TAGS`) go when no post
///   is left on them and their description is still the seed's.
///
/// Anything else a demo author wrote is `kept`, with the reason, and so is its author.
#[derive(Debug, Default)]
pub struct Demo {
    pub posts: Vec<PostId>,
    /// Whether the demo About page is among `posts`.
    pub about: bool,
    /// Demo authors who go with the posts.
    pub authors: Vec<UserId>,
    /// What stays, each with why: "“Title” (edited since it was seeded)".
    pub kept: Vec<String>,
}

impl Demo {
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.authors.is_empty()
    }

    /// "30 posts and 4 authors", for the dashboard's button and the command's report.
    pub fn count(&self) -> String {
        let n = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let pages = usize::from(self.about);
        let mut parts = vec![n(self.posts.len() - pages, "post")];
        if self.about {
            parts.push("the About page".into());
        }
        parts.push(n(self.authors.len(), "author"));
        match parts.as_slice() {
            [a, b] => format!("{a} and {b}"),
            [a, b, c] => format!("{a}, {b} and {c}"),
            _ => parts.join(", "),
        }
    }
}

/// The demo content there is now (see `Demo` for what counts).
pub async fn find_demo(db: &PgPool) -> anyhow::Result<Demo> {
    let usernames: Vec<&str> = AUTHORS.iter().map(|(u, _, _)| *u).collect();
    let authors: Vec<UserId> = sqlx::query_scalar(
        "SELECT u.id FROM users u
          WHERE u.username = ANY($1) AND u.email = u.username || '@' || $2
            AND u.password_hash IS NULL
            AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)",
    )
    .bind(&usernames)
    .bind(DEMO_DOMAIN)
    .fetch_all(db)
    .await?;
    let candidates: Vec<Candidate> = sqlx::query_as(
        "SELECT p.id, p.title, p.slug, p.kind, p.author_id,
                EXISTS (SELECT 1 FROM post_revisions r
                         WHERE r.post_id = p.id AND r.editor_id <> ALL($1)) AS edited,
                EXISTS (SELECT 1 FROM comments c WHERE c.post_id = p.id) AS commented
           FROM posts p WHERE p.author_id = ANY($1) ORDER BY p.id",
    )
    .bind(&authors)
    .fetch_all(db)
    .await?;
    let mut demo = Demo::default();
    let mut staying = Vec::new();
    for c in candidates {
        let seeded = match c.kind {
            PostKind::Post => is_demo_slug(&c.slug),
            PostKind::Page => c.slug == ABOUT_SLUG,
        };
        let why = if !seeded {
            Some("written since the demo was made")
        } else if c.edited {
            Some("edited since it was seeded")
        } else if c.commented {
            Some("it has comments")
        } else {
            None
        };
        match why {
            Some(why) => {
                demo.kept.push(format!("“{}” ({why})", c.title));
                staying.push(c.author_id);
            }
            None => {
                demo.about |= c.kind == PostKind::Page;
                demo.posts.push(c.id);
            }
        }
    }
    demo.authors = authors
        .into_iter()
        .filter(|a| !staying.contains(a))
        .collect();
    Ok(demo)
}

/// Remove the demo content there is now (`find_demo`): each post through the Delete
/// button's trash (readers' pages, search and webhooks hear of it as for any deleted post),
/// then purged from it as the trash's own purge does; then the authors and tags nothing
/// uses any more, and the About link `about_page` added. Returns what was found and removed.
/// Kept pages are made stale by the caller (a POST does it by itself).
pub async fn remove_demo(db: &PgPool) -> anyhow::Result<Demo> {
    let demo = find_demo(db).await?;
    for id in &demo.posts {
        posts::repo::soft_delete(db, *id).await?;
    }
    posts::repo::purge(db, &demo.posts).await?;
    for author in &demo.authors {
        users::delete_if_unused(db, *author).await?;
    }
    let slugs: Vec<String> = TAGS
        .iter()
        .filter_map(|(name, _)| Slug::from_title(name).map(|s| s.as_str().to_owned()))
        .collect();
    let descriptions: Vec<&str> = TAGS.iter().map(|(_, d)| *d).collect();
    tags::repo::delete_unused_as_made(db, &slugs, &descriptions).await?;
    if demo.about {
        sqlx::query(
            "UPDATE site_settings
                SET navigation = jsonb_set(navigation, '{header}', COALESCE(
                        (SELECT jsonb_agg(e) FROM jsonb_array_elements(navigation -> 'header') e
                          WHERE e <> '{\"label\": \"About\", \"url\": \"/about\"}'::jsonb),
                        '[]'::jsonb)),
                    version = version + 1
              WHERE (navigation -> 'header') @> '[{\"label\": \"About\", \"url\": \"/about\"}]'",
        )
        .execute(db)
        .await?;
    }
    Ok(demo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_slugs_are_the_seeds_own() {
        assert!(is_demo_slug("why-we-render-markdown-once"));
        assert!(is_demo_slug("why-we-render-markdown-once-part-2"));
        assert!(!is_demo_slug("why-we-render-markdown-once-part-"));
        assert!(!is_demo_slug("why-we-render-markdown-once-again"));
        assert!(!is_demo_slug("my-own-post"));
        let now = OffsetDateTime::now_utc();
        let authors = [UserId(1), UserId(2), UserId(3), UserId(4)];
        for i in [0, 29, 30, 95] {
            let (_, post, _) = demo_post(i, &authors, now);
            assert!(is_demo_slug(post.slug.as_str()), "{}", post.slug.as_str());
        }
    }

    #[test]
    fn the_count_reads_as_words() {
        let demo = Demo {
            posts: (0..31).map(PostId).collect(),
            about: true,
            authors: (0..4).map(UserId).collect(),
            kept: vec![],
        };
        assert_eq!(demo.count(), "30 posts, the About page and 4 authors");
        let one = Demo {
            posts: vec![PostId(1)],
            about: false,
            authors: vec![],
            kept: vec![],
        };
        assert_eq!(one.count(), "1 post and 0 authors");
    }
}
