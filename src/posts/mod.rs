//! Posts: the reader pages, the feeds, and the use-cases that write posts.

pub mod admin;
pub mod assist;
pub mod bulk;
pub mod diff;
pub mod editor;
pub mod feeds;
pub mod input;
pub mod live;
pub mod model;
pub mod pages;
pub mod repo;
pub mod revisions;
pub mod trash;

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    accounts::model::UserId,
    render::{SafeHtml, markdown},
    slug::Slug,
    tags,
};
use model::{PostForEdit, PostId, PostInput, PostStatus};

/// Longest excerpt we derive from a body, in characters.
const EXCERPT_CHARS: usize = 220;

/// What a body becomes when saved: the excerpt (given or derived), the sanitized HTML and
/// the reading time. Done here, once: reading a post does no Markdown work.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub excerpt: String,
    pub body_html: SafeHtml,
    /// The body's words without its markup, for the search index.
    pub body_text: String,
    pub reading_minutes: i32,
}

/// The excerpt a post gets when its author gives none: its first paragraph, shortened.
pub fn derived_excerpt(body_markdown: &str) -> String {
    markdown::excerpt(body_markdown, EXCERPT_CHARS)
}

/// The excerpt its author wrote: empty when the stored one is the one made from the body,
/// so that an edit (or an export read back) keeps it following the body.
pub fn own_excerpt(excerpt: &str, body_markdown: &str) -> String {
    if excerpt == derived_excerpt(body_markdown) {
        String::new()
    } else {
        excerpt.to_owned()
    }
}

fn prepare(body_markdown: &str, excerpt: &str) -> Prepared {
    Prepared {
        excerpt: if excerpt.trim().is_empty() {
            derived_excerpt(body_markdown)
        } else {
            markdown::truncate_words(excerpt.trim(), 500)
        },
        body_html: markdown::render(body_markdown),
        body_text: markdown::plain_text(body_markdown),
        reading_minutes: markdown::reading_minutes(body_markdown),
    }
}

/// `prepare` for each `(body, excerpt)`, on a render thread: a 1 MiB body takes a while
/// to render, and the async workers must stay free for readers.
async fn prepare_off_thread(sources: Vec<(String, String)>) -> anyhow::Result<Vec<Prepared>> {
    crate::render::budget::off_thread(move || {
        sources
            .iter()
            .map(|(body, excerpt)| prepare(body, excerpt))
            .collect()
    })
    .await
    .context("rendering posts: the renderer panicked")
}

/// Create a post by `author` with its tags and first revision, in one transaction.
/// `published_at` is the moment it goes (went) public; `None` for drafts. `Ok(None)`: the
/// slug is taken.
pub async fn create(
    db: &PgPool,
    author: UserId,
    post: &PostInput,
    published_at: Option<time::OffsetDateTime>,
) -> anyhow::Result<Option<PostId>> {
    let ids = create_many(
        db,
        &[NewPost {
            author,
            input: post,
            published_at,
        }],
    )
    .await?;
    Ok(ids.into_iter().next().flatten())
}

/// A post to create: who writes it, what it says, and when it goes (went) public (`None`
/// for drafts).
#[derive(Debug, Clone, Copy)]
pub struct NewPost<'a> {
    pub author: UserId,
    pub input: &'a PostInput,
    pub published_at: Option<time::OffsetDateTime>,
}

/// Create posts, each with its tags and first revision, in one transaction and two
/// statements however many there are: the editor creates one, `quire seed` a thousand at a
/// time, and both write exactly the same rows. Each distinct body is rendered once. Returns
/// each post's id, `None` where the slug is taken (or repeats an earlier one of `posts`).
pub async fn create_many(
    db: &PgPool,
    posts: &[NewPost<'_>],
) -> anyhow::Result<Vec<Option<PostId>>> {
    let mut tx = db.begin().await?;
    let ids = create_many_in(&mut tx, posts).await?;
    tx.commit().await.context("committing new posts")?;
    Ok(ids)
}

/// `create_many` inside the caller's transaction: an importer writes a batch of posts with
/// what it remembers about them (`import_keys`) in one commit.
pub async fn create_many_in(
    tx: &mut sqlx::PgConnection,
    posts: &[NewPost<'_>],
) -> anyhow::Result<Vec<Option<PostId>>> {
    // Each distinct body is rendered once, all of them off the async workers.
    let mut distinct: HashMap<(&str, &str), usize> = HashMap::new();
    let mut sources = Vec::new();
    for post in posts {
        let (body, excerpt) = (&post.input.body_markdown, &post.input.excerpt);
        distinct.entry((body, excerpt)).or_insert_with(|| {
            sources.push((body.clone(), excerpt.clone()));
            sources.len() - 1
        });
    }
    let rendered = prepare_off_thread(sources).await?;
    let mut rows = repo::NewRows::default();
    let mut tag_names: Vec<String> = Vec::new();
    let mut tag_slugs: HashMap<Slug, usize> = HashMap::new();
    let mut post_tags: Vec<(usize, usize, usize)> = Vec::new();
    let mut slugs = HashSet::new();
    for (i, post) in posts.iter().enumerate() {
        let input = post.input;
        if !slugs.insert(input.slug.as_str()) {
            continue;
        }
        let prepared = distinct
            .get(&(input.body_markdown.as_str(), input.excerpt.as_str()))
            .and_then(|at| rendered.get(*at))
            .context("every body was rendered")?;
        rows.push(i, post, prepared);
        // A post's tags in its order; names with the same slug are one tag.
        let mut own = Vec::new();
        for name in &input.tags {
            let Some(slug) = Slug::from_title(name.trim()) else {
                continue;
            };
            let next = tag_names.len();
            let tag = *tag_slugs.entry(slug).or_insert(next);
            if tag == next {
                tag_names.push(name.trim().to_owned());
            }
            if !own.contains(&tag) {
                post_tags.push((i, tag, own.len()));
                own.push(tag);
            }
        }
    }
    let tag_ids = tags::repo::ensure(&mut *tx, &tag_names).await?;
    for (i, tag, position) in post_tags {
        let id = tag_ids
            .get(tag)
            .context("tags::repo::ensure returns one id per distinct slug")?;
        rows.tag(i, *id, position);
    }
    let created = repo::insert_many(&mut *tx, &rows).await?;
    let mut ids = vec![None; posts.len()];
    for (i, id) in created {
        if let Some(slot) = ids.get_mut(i) {
            *slot = id;
        }
    }
    Ok(ids)
}

/// A new post from the editor, by `author`.
pub async fn create_from_input(
    db: &PgPool,
    author: UserId,
    input: &PostInput,
) -> anyhow::Result<Option<PostId>> {
    let published_at = match input.status {
        PostStatus::Draft => None,
        PostStatus::Published => Some(time::OffsetDateTime::now_utc()),
        PostStatus::Scheduled => input.publish_at,
    };
    create(db, author, input, published_at).await
}

/// `create_from_input`, under a free slug: the input's, else with `-2`, `-3`… (twenty
/// tries), else a random tail. Every door that creates posts by title (the JSON API,
/// GraphQL) gives two posts of one title distinct addresses this way; `None` only if even
/// the random one was taken.
pub async fn create_with_free_slug(
    db: &PgPool,
    author: UserId,
    input: &mut PostInput,
) -> anyhow::Result<Option<PostId>> {
    let base = input.slug.clone();
    for n in 1..=20 {
        if n > 1 {
            input.slug = suffixed(&base, &n.to_string());
        }
        if let Some(created) = create_from_input(db, author, input).await? {
            return Ok(Some(created));
        }
    }
    input.slug = suffixed(&base, &uuid::Uuid::new_v4().simple().to_string()[..8]);
    create_from_input(db, author, input).await
}

/// `base` with `-tail`, cut so the whole stays within a slug's 200 characters.
fn suffixed(base: &Slug, tail: &str) -> Slug {
    let room = 200 - tail.len() - 1;
    let head: String = base.as_str().chars().take(room).collect();
    Slug::parse(&format!("{}-{tail}", head.trim_end_matches('-'))).unwrap_or_else(|_| base.clone())
}

/// May `viewer` read a post by `author` in this state? Readers see what is published and
/// due; its author, editors and admins also see it while it is a draft or scheduled. One
/// rule for the API's and GraphQL's single-post reads (the site's pages read through the
/// `published_posts` view, which says the same for readers).
pub fn readable(
    viewer: Option<&crate::accounts::model::CurrentUser>,
    author: UserId,
    status: PostStatus,
    published_at: Option<time::OffsetDateTime>,
) -> bool {
    let public = status != PostStatus::Draft
        && published_at.is_some_and(|t| t <= time::OffsetDateTime::now_utc());
    public
        || viewer.is_some_and(|u| crate::authz::can(u, crate::authz::Action::EditPost { author }))
}

/// Why an edit was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the slug is taken")]
    SlugTaken,
    /// Someone saved since this edit began: here is the post as it is now.
    #[error("the post changed since you opened it")]
    Conflict(Box<PostForEdit>),
    #[error("the post is gone")]
    Gone,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("posts_slug_key") => {
                SaveError::SlugTaken
            }
            _ => SaveError::Other(e.into()),
        }
    }
}

/// Who asked for a save: a person (Save, Publish, a restore, the API) or the editor's
/// autosave (recorded as an autosave revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    Manual,
    Autosave,
}

/// Save an edit made to `expected` version: post, tags and a revision in one transaction.
/// Every editor open on the post hears of it at once (the revision's trigger, `live`), so
/// its other editors know before they save over it.
/// A stale version is refused (nothing is overwritten) with the post as it is now. A manual
/// save also ends what autosave kept aside for this person: what they saved replaces it.
pub async fn update(
    db: &PgPool,
    editor: UserId,
    id: PostId,
    expected: i32,
    input: &PostInput,
    kind: SaveKind,
) -> Result<i32, SaveError> {
    save(db, editor, id, expected, input, kind, false).await
}

/// `update` for one post of a bulk change (`bulk`), saved as a person's save. `quiet`: a
/// post this publishes is recorded as published without its newsletter in the same
/// transaction, so the minute's `newsletter.scan` never mails it (nobody was shown the
/// audience; issue 27, item 7).
pub async fn update_in_bulk(
    db: &PgPool,
    editor: UserId,
    id: PostId,
    expected: i32,
    input: &PostInput,
    quiet: bool,
) -> Result<i32, SaveError> {
    save(db, editor, id, expected, input, SaveKind::Manual, quiet).await
}

/// Render the body off the async workers, then save in one transaction; `quiet`: record
/// "published without the newsletter" with it.
async fn save(
    db: &PgPool,
    editor: UserId,
    id: PostId,
    expected: i32,
    input: &PostInput,
    kind: SaveKind,
    quiet: bool,
) -> Result<i32, SaveError> {
    let sources = vec![(input.body_markdown.clone(), input.excerpt.clone())];
    let Some(prepared) = prepare_off_thread(sources).await?.pop() else {
        return Err(SaveError::Other(anyhow::anyhow!("a post was not rendered")));
    };
    let mut tx = db.begin().await.map_err(anyhow::Error::from)?;
    if quiet {
        crate::newsletter::choose(&mut *tx, id, false).await?;
    }
    let version = update_in(&mut tx, editor, id, expected, input, &prepared, kind).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(version)
}

/// The statements of a save, in the caller's transaction, the body already `prepare`d.
async fn update_in(
    tx: &mut sqlx::PgConnection,
    editor: UserId,
    id: PostId,
    expected: i32,
    input: &PostInput,
    prepared: &Prepared,
    kind: SaveKind,
) -> Result<i32, SaveError> {
    let saved = repo::update(&mut *tx, id, expected, input, prepared).await?;
    let Some(version) = saved else {
        return match repo::find_for_edit(&mut *tx, id).await? {
            Some(current) if current.deleted_at.is_none() => {
                Err(SaveError::Conflict(Box::new(current)))
            }
            _ => Err(SaveError::Gone),
        };
    };
    let tag_ids = tags::repo::ensure(&mut *tx, &input.tags).await?;
    repo::set_tags(&mut *tx, id, &tag_ids).await?;
    repo::insert_revision(
        &mut *tx,
        id,
        editor,
        version,
        &input.title,
        &prepared.excerpt,
        &input.body_markdown,
        kind == SaveKind::Autosave,
    )
    .await?;
    if kind == SaveKind::Manual {
        repo::forget_kept_aside(&mut *tx, id, editor).await?;
    }
    Ok(version)
}

/// A slug for a new post: the one asked for, or one made from the title.
pub fn slug_for(title: &str, asked: &str) -> Result<Slug, String> {
    if asked.trim().is_empty() {
        Slug::from_title(title).ok_or_else(|| "give the post a title with letters or digits".into())
    } else {
        Slug::parse(asked.trim())
    }
}

/// Every post's HTML made again from its Markdown with today's renderer (`quire rerender`),
/// a batch at a time; `progress` hears how many were read. Returns (read, changed). Kept
/// pages are made stale by the caller.
pub async fn rerender(db: &PgPool, progress: impl Fn(u64)) -> anyhow::Result<(u64, u64)> {
    const BATCH: i64 = 200;
    let (mut read, mut changed) = (0u64, 0u64);
    let mut after = PostId(0);
    loop {
        let sources = repo::sources_after(db, after, BATCH).await?;
        let Some((last, _)) = sources.last() else {
            break;
        };
        after = *last;
        read += sources.len() as u64;
        // Rendering is CPU work: off the async threads, one batch at a time.
        let rendered = tokio::task::spawn_blocking(move || {
            sources
                .into_iter()
                .map(|(id, markdown)| (id, markdown::render(&markdown)))
                .collect::<Vec<_>>()
        })
        .await
        .context("rendering a batch of posts")?;
        let mut tx = db.begin().await?;
        changed += repo::store_rendered(&mut tx, &rendered).await?;
        tx.commit().await?;
        progress(read);
    }
    Ok((read, changed))
}

/// `posts.rerender`: `rerender` on the job runner, then kept pages made stale. A migration
/// queues it when the renderer's output changes for existing posts (links' `rel`, focusable
/// code blocks, named checkboxes: `20261226000000_rerender_for_links_and_reading.sql`), so a
/// deploy brings old posts up to date without anyone running `quire rerender`. Posts whose
/// HTML comes out the same are not written; a run cut short starts over, harmlessly.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Rerender {}

impl crate::jobs::BackgroundJob for Rerender {
    const KIND: &'static str = "posts.rerender";
    const TITLE: &'static str = "Rendering posts again";
    type Context = crate::cache::Pages;

    async fn run(
        &self,
        ctx: &crate::jobs::Run<'_>,
        pages: &crate::cache::Pages,
    ) -> anyhow::Result<crate::jobs::Outcome> {
        let (read, changed) = rerender(&ctx.db, |_| {}).await?;
        tracing::info!(read, changed, "posts rendered again");
        if changed > 0 {
            pages.stale().await;
        }
        Ok(crate::jobs::Outcome::Done)
    }
}
