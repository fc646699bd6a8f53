//! The one writer every import goes through: it fits what a reader hands over to Quire's
//! rules (`PostInput::parse`, the account and comment rules), remembers each object by its
//! id at the source (`import_keys`) so importing again changes nothing, copies the images it
//! can find, and writes posts a batch at a time through `posts::create_many_in` (one
//! transaction per batch, with the keys: a killed import resumes without duplicates).
//! A dry run goes through the same steps and writes nothing.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    time::Instant,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::{
    Format, ImageDir, Item, ReadError, Site,
    model::{self, CommentAuthor, OldRole},
    repo::{self, NewKey},
};
use crate::{
    accounts::{
        self,
        model::{Email, NewUser, Role, UserId, Username},
    },
    comments, media,
    posts::{
        self, NewPost,
        input::{self, PostFields},
        model::{PostInput, PostKind, PostStatus, public_path},
    },
    redirects::model::NewRedirect,
    slug::Slug,
    tags,
};

/// Posts written per transaction (with their comments).
const BATCH_POSTS: usize = 200;
/// Comments that make a batch full on their own (a post with thousands of them).
const BATCH_COMMENTS: usize = 2000;
/// Lines of each list the report keeps (the counts are always whole).
const REPORT_LINES: usize = 500;

/// How an import runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The admin running it: author of posts whose authors the file doesn't name, uploader
    /// of the images.
    pub importer: UserId,
    /// Roles the admin chose in the dry run, by the author's `source_id`; everyone else
    /// imported is an author.
    pub roles: HashMap<String, Role>,
    /// Check and count, write nothing.
    pub dry_run: bool,
    /// `posts.max_body_bytes`.
    pub max_body: usize,
    /// Where images go and their limits: imported images take the uploads' one way in
    /// (`media::receive`), so they are checked, stripped and sized as uploads are.
    pub uploads: crate::config::UploadsSettings,
    /// This site's address: old links to it become local paths.
    pub base_url: url::Url,
}

impl Options {
    /// An import by `importer` with this site's limits and folders, everyone imported an
    /// author.
    pub fn new(settings: &crate::config::Settings, importer: UserId, dry_run: bool) -> Self {
        Options {
            importer,
            roles: HashMap::new(),
            dry_run,
            max_body: settings.posts.max_body_bytes,
            uploads: settings.uploads.clone(),
            base_url: settings.http.base_url.clone(),
        }
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub site: Site,
    pub dry_run: bool,
    pub accounts: Vec<AccountLine>,
    /// By kind: `accounts`, `tags`, `posts`, `pages`, `comments`, `images`, `redirects`.
    pub counts: BTreeMap<String, Counts>,
    /// What was left out, and why.
    pub skipped: Lines,
    /// What was changed on the way in (a title cut, a shortcode kept as text, …).
    pub notes: Lines,
    /// Images the posts name that were not found (kept at their old address).
    pub missing_images: Lines,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
}

/// A list that keeps its first `REPORT_LINES` lines and counts the rest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lines {
    pub lines: Vec<String>,
    pub more: u64,
}

impl Lines {
    fn push(&mut self, line: String) {
        if self.lines.len() < REPORT_LINES {
            self.lines.push(line);
        } else {
            self.more += 1;
        }
    }

    pub fn len(&self) -> u64 {
        self.lines.len() as u64 + self.more
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One account of the file, and what becomes of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountLine {
    pub source_id: String,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub old_role: OldRole,
    /// `create`, `reuse` (an account here has the address) or `known` (imported before).
    pub action: String,
    /// The role a new account gets.
    pub role: Role,
}

impl Report {
    fn count(&mut self, kind: &str) -> &mut Counts {
        self.counts.entry(kind.to_owned()).or_default()
    }

    /// One line per kind: "posts: 12 created, 3 unchanged, 1 skipped".
    pub fn summary(&self) -> Vec<String> {
        self.counts
            .iter()
            .map(|(kind, c)| {
                let parts: Vec<String> = [
                    ("created", c.created),
                    ("updated", c.updated),
                    ("unchanged", c.unchanged),
                    ("skipped", c.skipped),
                ]
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(what, n)| format!("{n} {what}"))
                .collect();
                let verb = if parts.is_empty() {
                    "none".to_owned()
                } else {
                    parts.join(", ")
                };
                format!("{kind}: {verb}")
            })
            .collect()
    }
}

/// Why an import stopped.
pub type ImportError = ReadError;

/// Import `format` into `db`: check the whole source first (nothing is written if it is
/// malformed), then read it again and write as it goes. `progress(done, total)` hears
/// how many posts and comments were handled (`total` 0: unknown).
pub async fn run(
    db: &PgPool,
    format: Box<dyn Format>,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report, ImportError> {
    let started = Instant::now();
    let (format, site) = tokio::task::spawn_blocking(move || {
        let mut format = format;
        let site = format.check();
        (format, site)
    })
    .await
    .context("the reader panicked")?;
    let site = site?;
    let total = format.size();
    let left_out = format.skipped();
    let images = format.images().cloned();
    let (sender, mut items) = tokio::sync::mpsc::channel::<Item>(256);
    let reader = tokio::task::spawn_blocking(move || {
        let mut format = format;
        format.read(&mut |item| {
            sender
                .blocking_send(item)
                .map_err(|_| anyhow::anyhow!("the writer stopped"))
        })
    });
    repo::analyze(db).await.context("analyzing import_keys")?;
    let mut writer = Writer::new(db, opts, site, images).await?;
    for line in left_out {
        writer.report.skipped.push(line);
    }
    let mut failed = None;
    while let Some(item) = items.recv().await {
        if let Err(e) = writer.put(item).await {
            failed = Some(e);
            break;
        }
        progress(writer.done, total);
    }
    // The reader stops at its next item once nobody receives.
    drop(items);
    let read = reader.await.context("the reader panicked")?;
    if let Some(e) = failed {
        return Err(ReadError::Other(e));
    }
    read?;
    let mut report = writer.finish().await?;
    progress(total.max(report_done(&report)), total);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn report_done(report: &Report) -> u64 {
    ["posts", "pages", "comments"]
        .iter()
        .filter_map(|k| report.counts.get(*k))
        .map(|c| c.created + c.updated + c.unchanged + c.skipped)
        .sum()
}

/// A post waiting for its batch, with the comments that followed it.
struct Pending {
    post: model::Post,
}

/// What the writer knows of a post of this import.
#[derive(Debug, Clone)]
struct Written {
    id: Option<i64>,
    path: String,
}

struct Writer<'a> {
    db: &'a PgPool,
    opts: &'a Options,
    source: String,
    images: Option<ImageDir>,
    authors: HashMap<String, UserId>,
    /// A tag's name by `source_id`, and whether it is written yet.
    tags: HashMap<String, model::Tag>,
    tags_written: HashSet<String>,
    posts: HashMap<String, Written>,
    comments: HashMap<String, i64>,
    pending: Vec<Pending>,
    pending_comments: Vec<model::Comment>,
    redirects: Vec<(String, String, bool)>,
    /// An image address, and its address here (`None`: not found or refused).
    uploads: HashMap<String, Option<String>>,
    /// Slugs given out by this import (a dry run writes none, so the database can't tell).
    slugs: HashSet<String>,
    report: Report,
    done: u64,
    flushes: u64,
}

impl<'a> Writer<'a> {
    async fn new(
        db: &'a PgPool,
        opts: &'a Options,
        site: Site,
        images: Option<ImageDir>,
    ) -> anyhow::Result<Self> {
        Ok(Writer {
            db,
            opts,
            source: site.key(),
            images,
            authors: HashMap::new(),
            tags: HashMap::new(),
            tags_written: HashSet::new(),
            posts: HashMap::new(),
            comments: HashMap::new(),
            pending: Vec::new(),
            pending_comments: Vec::new(),
            redirects: Vec::new(),
            uploads: HashMap::new(),
            slugs: HashSet::new(),
            report: Report {
                site,
                dry_run: opts.dry_run,
                ..Report::default()
            },
            done: 0,
            flushes: 0,
        })
    }

    async fn put(&mut self, item: Item) -> anyhow::Result<()> {
        match item {
            Item::Author(author) => self.author(author).await?,
            Item::Tag(tag) => {
                self.tags.insert(tag.source_id.clone(), tag);
            }
            Item::Post(post) => {
                self.pending.push(Pending { post: *post });
                if self.pending.len() >= BATCH_POSTS {
                    self.flush().await?;
                }
            }
            Item::Comment(comment) => {
                self.pending_comments.push(comment);
                if self.pending_comments.len() >= BATCH_COMMENTS {
                    self.flush().await?;
                }
            }
            Item::Redirect(redirect) => {
                let to = match &redirect.to {
                    model::RedirectTarget::Url(url) => Some(url.clone()),
                    model::RedirectTarget::Post(id) => self.posts.get(id).map(|p| p.path.clone()),
                };
                match to {
                    Some(to) => self.redirects.push((redirect.from, to, redirect.permanent)),
                    // Its post may still wait in the batch: resolved when written.
                    None => self.loose_redirect(redirect),
                }
            }
        }
        Ok(())
    }

    fn loose_redirect(&mut self, redirect: model::Redirect) {
        if let model::RedirectTarget::Post(id) = &redirect.to
            && let Some(pending) = self.pending.iter_mut().find(|p| &p.post.source_id == id)
        {
            pending.post.old_urls.push(redirect.from);
            return;
        }
        self.report.count("redirects").skipped += 1;
        self.report.skipped.push(format!(
            "redirect from {}: its post is not in the file",
            redirect.from
        ));
    }

    async fn finish(mut self) -> anyhow::Result<Report> {
        self.flush().await?;
        Ok(self.report)
    }

    // --- accounts -----------------------------------------------------------------------

    async fn author(&mut self, author: model::Author) -> anyhow::Result<()> {
        let role = self
            .opts
            .roles
            .get(&author.source_id)
            .copied()
            .unwrap_or(Role::Author);
        let digest = digest(&author);
        let known = repo::keys(
            self.db,
            &self.source,
            "user",
            std::slice::from_ref(&author.source_id),
        )
        .await?;
        let mut line = AccountLine {
            source_id: author.source_id.clone(),
            login: author.login.clone(),
            display_name: author.display_name.clone(),
            email: author.email.clone(),
            old_role: author.old_role,
            action: String::new(),
            role,
        };
        if let Some(key) = known.get(&author.source_id) {
            self.authors
                .insert(author.source_id.clone(), UserId(key.target_id));
            line.action = "known".into();
            self.report.count("accounts").unchanged += 1;
            self.report.accounts.push(line);
            return Ok(());
        }
        let email = Email::parse(&author.email).ok();
        let owner = match &email {
            Some(email) => accounts::repo::email_owner(self.db, email.as_str()).await?,
            None => None,
        };
        // An account here with the same address is theirs: reused, never changed.
        let id = if let Some(owner) = owner {
            line.action = "reuse".into();
            self.report.count("accounts").unchanged += 1;
            Some(owner.id)
        } else {
            line.action = "create".into();
            self.report.count("accounts").created += 1;
            if self.opts.dry_run {
                None
            } else {
                Some(self.create_account(&author, email, role).await?)
            }
        };
        if let Some(id) = id {
            self.authors.insert(author.source_id.clone(), id);
            if !self.opts.dry_run {
                let mut tx = self.begin().await?;
                repo::remember(
                    &mut tx,
                    &self.source,
                    "user",
                    &[NewKey {
                        source_id: author.source_id.clone(),
                        target_id: id.0,
                        digest,
                        target_version: None,
                    }],
                )
                .await?;
                tx.commit().await?;
            }
        }
        self.report.accounts.push(line);
        Ok(())
    }

    /// A new account: no password and an unverified address (they claim it with a
    /// password-reset link); a made-up `.invalid` address when the file has none.
    async fn create_account(
        &mut self,
        author: &model::Author,
        email: Option<Email>,
        role: Role,
    ) -> anyhow::Result<UserId> {
        let base = if author.login.trim().is_empty() {
            &author.display_name
        } else {
            &author.login
        };
        let mut tx = self.begin().await?;
        let username = accounts::repo::free_username(&mut *tx, &Username::suggest(base)).await?;
        let email = match email {
            Some(email) => email,
            None => {
                self.report.notes.push(format!(
                    "account {}: no email address in the file; given {}@imported.invalid",
                    username, username
                ));
                Email::parse(&format!("{username}@imported.invalid")).map_err(anyhow::Error::msg)?
            }
        };
        let display_name = accounts::model::parse_display_name(&author.display_name)
            .or_else(|_| accounts::model::parse_display_name(&cut(&author.display_name, 80)))
            .unwrap_or_else(|_| username.as_str().to_owned());
        let bio = cut(author.bio.trim(), accounts::change::BIO_MAX);
        let user = NewUser {
            username,
            email,
            display_name,
            bio,
            password: None,
            role,
        };
        let id = accounts::repo::insert(&mut *tx, &user, None).await?;
        tx.commit().await?;
        Ok(id)
    }

    // --- tags ---------------------------------------------------------------------------

    /// Write the tags not written yet (all of them, before the first batch of posts: a tag
    /// with no posts is still the old site's).
    async fn write_tags(&mut self, tx: &mut PgConnection) -> anyhow::Result<()> {
        let mut fresh: Vec<&model::Tag> = self
            .tags
            .values()
            .filter(|t| !self.tags_written.contains(&t.source_id))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        fresh.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        let names: Vec<String> = fresh.iter().map(|t| tag_name(&t.name)).collect();
        let ids: Vec<String> = fresh.iter().map(|t| t.source_id.clone()).collect();
        let known = repo::keys(&mut *tx, &self.source, "tag", &ids).await?;
        let mut keys = Vec::new();
        let mut described = Vec::new();
        for (tag, name) in fresh.iter().zip(&names) {
            let counts = self.report.count("tags");
            if known.contains_key(&tag.source_id) {
                counts.unchanged += 1;
            } else if Slug::from_title(name).is_none() {
                counts.skipped += 1;
                self.report.skipped.push(format!(
                    "tag {:?}: no letters or digits to make its address",
                    tag.name
                ));
            } else {
                counts.created += 1;
            }
        }
        if !self.opts.dry_run {
            let wanted: Vec<String> = names
                .iter()
                .filter(|n| Slug::from_title(n).is_some())
                .cloned()
                .collect();
            let created = tags::repo::ensure(&mut *tx, &wanted).await?;
            // `ensure` answers one id per distinct slug, in order.
            let mut by_slug: HashMap<String, i64> = HashMap::new();
            let mut seen = Vec::new();
            for name in &wanted {
                if let Some(slug) = Slug::from_title(name)
                    && !seen.contains(&slug.as_str().to_owned())
                {
                    seen.push(slug.as_str().to_owned());
                }
            }
            for (slug, id) in seen.iter().zip(&created) {
                by_slug.insert(slug.clone(), id.0);
            }
            for (tag, name) in fresh.iter().zip(&names) {
                let Some(id) = Slug::from_title(name).and_then(|s| by_slug.get(s.as_str())) else {
                    continue;
                };
                keys.push(NewKey {
                    source_id: tag.source_id.clone(),
                    target_id: *id,
                    digest: digest(tag),
                    target_version: None,
                });
                if !tag.description.trim().is_empty() {
                    described.push((
                        tags::model::TagId(*id),
                        cut(tag.description.trim(), tags::model::DESCRIPTION_MAX),
                    ));
                }
            }
            repo::remember(tx, &self.source, "tag", &keys).await?;
            tags::repo::describe_where_blank(&mut *tx, &described).await?;
        }
        // The old site's tag pages lead to the tags' pages here.
        let mut moved = Vec::new();
        for (tag, name) in fresh.iter().zip(&names) {
            if let Some(slug) = Slug::from_title(name)
                && !tag.old_urls.is_empty()
            {
                moved.push((tag.old_urls.clone(), format!("/tags/{}", slug.as_str())));
            }
        }
        let written: Vec<String> = fresh.iter().map(|t| t.source_id.clone()).collect();
        self.tags_written.extend(written);
        for (old, path) in moved {
            self.queue_redirects(&old, &path);
        }
        Ok(())
    }

    // --- posts --------------------------------------------------------------------------

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.flushes += 1;
        if self.flushes.is_multiple_of(25) && !self.opts.dry_run {
            repo::analyze(self.db).await?;
        }
        let pending = std::mem::take(&mut self.pending);
        let comments = std::mem::take(&mut self.pending_comments);
        let ids: Vec<String> = pending.iter().map(|p| p.post.source_id.clone()).collect();
        let known = repo::keys(self.db, &self.source, "post", &ids).await?;
        let mut creates: Vec<(model::Post, PostInput, String)> = Vec::new();
        for Pending { post } in pending {
            self.done += 1;
            let kind_name = kind_name(post.kind);
            let digest = digest(&post);
            if let Some(key) = known.get(&post.source_id) {
                let path = match (key.kind, &key.slug) {
                    (Some(kind), Some(slug)) => public_path(kind, slug),
                    _ => String::new(),
                };
                self.posts.insert(
                    post.source_id.clone(),
                    Written {
                        id: Some(key.target_id),
                        path: path.clone(),
                    },
                );
                self.queue_redirects(&post.old_urls, &path);
                if key.digest == digest {
                    self.report.count(kind_name).unchanged += 1;
                } else {
                    self.update(&post, key, digest).await?;
                }
                continue;
            }
            match self.fit(&post, None).await? {
                Ok(input) => creates.push((post, input, digest)),
                Err(why) => self.skip(kind_name, &post, &why),
            }
        }
        let mut tx = self.begin().await?;
        self.write_tags(&mut tx).await?;
        self.create(&mut tx, creates).await?;
        self.write_comments(&mut tx, comments).await?;
        self.write_redirects(&mut tx).await?;
        if self.opts.dry_run {
            drop(tx);
        } else {
            tx.commit()
                .await
                .context("committing a batch of the import")?;
        }
        Ok(())
    }

    async fn create(
        &mut self,
        tx: &mut PgConnection,
        creates: Vec<(model::Post, PostInput, String)>,
    ) -> anyhow::Result<()> {
        if creates.is_empty() {
            return Ok(());
        }
        let mut creates = creates;
        self.free_slugs(tx, &mut creates).await?;
        for (post, input, _) in &creates {
            self.posts.insert(
                post.source_id.clone(),
                Written {
                    id: None,
                    path: public_path(post.kind, input.slug.as_str()),
                },
            );
        }
        if self.opts.dry_run {
            for (post, input, _) in &creates {
                self.report.count(kind_name(post.kind)).created += 1;
                let path = public_path(post.kind, input.slug.as_str());
                self.queue_redirects(&post.old_urls, &path);
            }
            return Ok(());
        }
        let new: Vec<NewPost<'_>> = creates
            .iter()
            .map(|(post, input, _)| NewPost {
                author: self.author_of(post),
                input,
                published_at: published_at(post, input),
            })
            .collect();
        let ids = posts::create_many_in(tx, &new).await?;
        let mut keys = Vec::new();
        let mut redirects = Vec::new();
        for ((post, input, digest), id) in creates.iter().zip(ids) {
            let kind = kind_name(post.kind);
            let Some(id) = id else {
                // Taken between our look and the insert (someone typing a post now).
                self.skip(
                    kind,
                    post,
                    "its address was taken while importing; import again",
                );
                continue;
            };
            self.report.count(kind).created += 1;
            let path = public_path(post.kind, input.slug.as_str());
            redirects.push((post.old_urls.clone(), path.clone()));
            self.posts.insert(
                post.source_id.clone(),
                Written {
                    id: Some(id.0),
                    path,
                },
            );
            keys.push(NewKey {
                source_id: post.source_id.clone(),
                target_id: id.0,
                digest: digest.clone(),
                target_version: Some(1),
            });
        }
        repo::remember(tx, &self.source, "post", &keys).await?;
        for (old, path) in redirects {
            self.queue_redirects(&old, &path);
        }
        Ok(())
    }

    /// A post imported before whose source changed: updated through the editor's one
    /// save, unless someone edited it here since (their edit wins; the report says so).
    async fn update(
        &mut self,
        post: &model::Post,
        key: &repo::Key,
        digest: String,
    ) -> anyhow::Result<()> {
        let kind = kind_name(post.kind);
        if key.target_version.is_none() || key.target_version != key.current_version {
            self.report.count(kind).skipped += 1;
            self.report.skipped.push(format!(
                "{kind} {:?}: changed in the file, but edited here since the last import; kept as it is here",
                post.title
            ));
            return Ok(());
        }
        let id = posts::model::PostId(key.target_id);
        let Some(current) = posts::repo::find_for_edit(self.db, id).await? else {
            return Ok(());
        };
        let input = match self.fit(post, Some(current.slug.clone())).await? {
            Ok(input) => input,
            Err(why) => {
                self.skip(kind, post, &why);
                return Ok(());
            }
        };
        if self.opts.dry_run {
            self.report.count(kind).updated += 1;
            return Ok(());
        }
        match posts::update(
            self.db,
            self.opts.importer,
            id,
            current.version,
            &input,
            posts::SaveKind::Manual,
        )
        .await
        {
            Ok(version) => {
                self.report.count(kind).updated += 1;
                let mut tx = self.begin().await?;
                repo::remember(
                    &mut tx,
                    &self.source,
                    "post",
                    &[NewKey {
                        source_id: post.source_id.clone(),
                        target_id: key.target_id,
                        digest,
                        target_version: Some(version),
                    }],
                )
                .await?;
                tx.commit().await?;
            }
            Err(posts::SaveError::Conflict(_)) => self.skip(
                kind,
                post,
                "someone saved it here while importing; kept theirs",
            ),
            Err(posts::SaveError::Gone) => self.skip(kind, post, "deleted here"),
            Err(posts::SaveError::SlugTaken) => self.skip(kind, post, "its address is taken"),
            Err(posts::SaveError::Other(e)) => return Err(e),
        }
        Ok(())
    }

    fn author_of(&self, post: &model::Post) -> UserId {
        post.authors
            .first()
            .and_then(|a| self.authors.get(a))
            .copied()
            .unwrap_or(self.opts.importer)
    }

    fn skip(&mut self, kind: &str, post: &model::Post, why: &str) {
        self.report.count(kind).skipped += 1;
        let title = if post.title.trim().is_empty() {
            format!("#{}", post.source_id)
        } else {
            format!("{:?}", cut(post.title.trim(), 80))
        };
        self.report.skipped.push(format!("{kind} {title}: {why}"));
    }

    /// The post as Quire's rules take it: fitted where a rule would refuse what the old
    /// site allowed (a note says what changed), then checked by `PostInput::parse`, the
    /// editor's and the API's own rule. `slug`: keep this one (an update).
    async fn fit(
        &mut self,
        post: &model::Post,
        slug: Option<String>,
    ) -> anyhow::Result<Result<PostInput, String>> {
        let mut notes: Vec<String> = post.notes.clone();
        // Quire has one author per post: the primary one.
        if post.authors.len() > 1 {
            notes.push(format!(
                "{} authors; kept the primary one ({})",
                post.authors.len(),
                post.authors.join(", ")
            ));
        }
        let body = self.copy_images(&post.body_markdown).await?;
        let cover = match &post.cover {
            Some(address) => self.image(address).await?.or_else(|| {
                let kept = crate::media::image_url::parse(address).ok().flatten();
                if kept.is_none() {
                    notes.push(format!("cover {address} left out (not found, not https)"));
                }
                kept
            }),
            None => None,
        };
        let title = match post.title.trim() {
            "" => {
                notes.push("no title; called \"Untitled\"".into());
                "Untitled".to_owned()
            }
            t => fit_text(t, input::TITLE_MAX, "title", &mut notes),
        };
        let slug = slug.unwrap_or_else(|| {
            wanted_slug(&post.slug, &title)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default()
        });
        let mut tags: Vec<String> = Vec::new();
        for id in &post.tags {
            if let Some(tag) = self.tags.get(id) {
                let name = tag_name(&tag.name);
                if !name.is_empty() && !tags.contains(&name) {
                    tags.push(name);
                }
            }
        }
        if tags.len() > input::TAGS_MAX {
            notes.push(format!(
                "{} tags; kept the first {}",
                tags.len(),
                input::TAGS_MAX
            ));
            tags.truncate(input::TAGS_MAX);
        }
        let status = match (post.status, post.published_at) {
            // Its date passed while it waited: it went out.
            (PostStatus::Scheduled, Some(at)) if at <= OffsetDateTime::now_utc() => "published",
            (PostStatus::Scheduled, Some(_)) => "scheduled",
            (PostStatus::Published, _) | (PostStatus::Scheduled, None) => "published",
            (PostStatus::Draft, _) => "draft",
        };
        let canonical_url = if post.canonical_url.trim().starts_with("http") {
            post.canonical_url.clone()
        } else {
            String::new()
        };
        let fields = PostFields {
            title,
            slug,
            excerpt: fit_text(&post.excerpt, input::EXCERPT_MAX, "excerpt", &mut notes),
            body,
            tags,
            cover_image: cover.unwrap_or_default(),
            featured: post.featured,
            status: status.to_owned(),
            publish_at: post.published_at,
            meta_title: fit_text(
                &post.meta_title,
                input::META_TITLE_MAX,
                "meta title",
                &mut notes,
            ),
            meta_description: fit_text(
                &post.meta_description,
                input::META_DESCRIPTION_MAX,
                "meta description",
                &mut notes,
            ),
            social_image: String::new(),
            canonical_url,
            cover_alt: fit_text(
                &post.cover_alt,
                input::COVER_ALT_MAX,
                "alt text",
                &mut notes,
            ),
            cover_caption: fit_text(
                &post.cover_caption,
                input::COVER_CAPTION_MAX,
                "caption",
                &mut notes,
            ),
            kind: post.kind,
        };
        let title = fields.title.clone();
        for note in notes {
            self.report
                .notes
                .push(format!("{:?}: {note}", cut(&title, 80)));
        }
        Ok(
            PostInput::parse(&fields, self.opts.max_body).map_err(|problems| {
                problems
                    .iter()
                    .map(|(_, message)| message.to_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        )
    }

    /// Give each new post a free address: its own when free, else `-2`, `-3`… (pages also
    /// keep off the site's own addresses).
    async fn free_slugs(
        &mut self,
        tx: &mut PgConnection,
        creates: &mut [(model::Post, PostInput, String)],
    ) -> anyhow::Result<()> {
        let wanted: Vec<String> = creates
            .iter()
            .map(|(_, input, _)| input.slug.as_str().to_owned())
            .collect();
        let mut taken = posts::repo::taken_slugs(&mut *tx, &wanted).await?;
        taken.extend(self.slugs.iter().cloned());
        for (_, input, _) in creates.iter_mut() {
            let base = input.slug.as_str().to_owned();
            let mut n: u32 = 1;
            let mut slug = base.clone();
            while taken.contains(&slug)
                || (input.kind == PostKind::Page
                    && Slug::parse(&slug)
                        .ok()
                        .and_then(|s| crate::pages::free_slug(s).ok())
                        .is_none())
            {
                n += 1;
                let suffix = format!("-{n}");
                let mut stem = base.clone();
                stem.truncate(Slug::MAX_LEN - suffix.len());
                slug = format!("{}{suffix}", stem.trim_end_matches('-'));
                if n.is_multiple_of(20) {
                    let more: Vec<String> = (n..n + 20)
                        .map(|k| format!("{}-{k}", stem.trim_end_matches('-')))
                        .collect();
                    taken.extend(posts::repo::taken_slugs(&mut *tx, &more).await?);
                } else if n == 2 {
                    let more: Vec<String> = (2..20)
                        .map(|k| format!("{}-{k}", stem.trim_end_matches('-')))
                        .collect();
                    taken.extend(posts::repo::taken_slugs(&mut *tx, &more).await?);
                }
            }
            if slug != base {
                self.report.notes.push(format!(
                    "{:?}: /{base} is taken here; given /{slug}",
                    cut(&input.title, 80)
                ));
                input.slug = Slug::parse(&slug).map_err(anyhow::Error::msg)?;
            }
            taken.insert(slug.clone());
            self.slugs.insert(slug);
        }
        Ok(())
    }

    // --- images -------------------------------------------------------------------------

    /// `markdown` with each image it names (and each link to an image) copied here, when
    /// found, and its address rewritten.
    async fn copy_images(&mut self, markdown: &str) -> anyhow::Result<String> {
        let addresses = image_addresses(markdown);
        if addresses.is_empty() {
            return Ok(markdown.to_owned());
        }
        let mut found = HashMap::new();
        for (address, is_image) in &addresses {
            if let Some(here) = self.image_if(address, *is_image).await? {
                found.insert(address.clone(), here);
            }
        }
        Ok(rewrite_addresses(markdown, &found))
    }

    async fn image(&mut self, address: &str) -> anyhow::Result<Option<String>> {
        self.image_if(address, true).await
    }

    /// The address here of the image at `address`: copied into the uploads when found in
    /// the image folder. `must`: an image's own address (a link to a file that isn't found
    /// is not reported: it may be a page).
    async fn image_if(&mut self, address: &str, must: bool) -> anyhow::Result<Option<String>> {
        if let Some(known) = self.uploads.get(address) {
            return Ok(known.clone());
        }
        let Some(images) = &self.images else {
            return Ok(None);
        };
        let Some(path) = images.locate(address) else {
            if must && is_old_site_image(address) {
                self.report.missing_images.push(address.to_owned());
                self.report.count("images").skipped += 1;
            }
            self.uploads.insert(address.to_owned(), None);
            return Ok(None);
        };
        let here = self.copy_file(address, path).await?;
        self.uploads.insert(address.to_owned(), here.clone());
        Ok(here)
    }

    async fn copy_file(&mut self, address: &str, path: PathBuf) -> anyhow::Result<Option<String>> {
        let size = tokio::fs::metadata(&path).await?.len();
        if media::too_large(&self.opts.uploads, size).is_some() {
            self.report.count("images").skipped += 1;
            self.report.skipped.push(format!(
                "image {address}: {} is larger than uploads.max_bytes",
                crate::input::human_bytes(size as usize)
            ));
            return Ok(None);
        }
        let bytes = tokio::fs::read(&path).await?;
        let checked = match media::check(&bytes, self.opts.uploads.max_pixels) {
            Ok(checked) => checked,
            Err(why) => {
                self.report.count("images").skipped += 1;
                self.report.skipped.push(format!("image {address}: {why}"));
                return Ok(None);
            }
        };
        let here = format!("/uploads/{}", checked.file_name);
        if self.opts.dry_run {
            self.report.count("images").created += 1;
            return Ok(Some(here));
        }
        let created = media::repo::find(self.db, &checked.file_name)
            .await?
            .is_none();
        let store = media::Store::from_settings(&self.opts.uploads)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        media::receive(
            self.db,
            &store,
            &self.opts.uploads,
            bytes.into(),
            name,
            self.opts.importer,
        )
        .await?;
        let counts = self.report.count("images");
        if created {
            counts.created += 1;
        } else {
            counts.unchanged += 1;
        }
        Ok(Some(here))
    }

    // --- comments -----------------------------------------------------------------------

    async fn write_comments(
        &mut self,
        tx: &mut PgConnection,
        comments: Vec<model::Comment>,
    ) -> anyhow::Result<()> {
        if comments.is_empty() {
            return Ok(());
        }
        self.done += comments.len() as u64;
        let ids: Vec<String> = comments.iter().map(|c| c.source_id.clone()).collect();
        let known = repo::keys(&mut *tx, &self.source, "comment", &ids).await?;
        let mut fresh = Vec::new();
        for comment in comments {
            if let Some(key) = known.get(&comment.source_id) {
                self.comments
                    .insert(comment.source_id.clone(), key.target_id);
                self.report.count("comments").unchanged += 1;
                continue;
            }
            // A dry run creates nothing: its posts have no ids yet.
            let post = match self.posts.get(&comment.post) {
                Some(Written { id: Some(id), .. }) => Some(*id),
                Some(_) if self.opts.dry_run => Some(0),
                _ => None,
            };
            let Some(post) = post else {
                self.report.count("comments").skipped += 1;
                self.report.skipped.push(format!(
                    "comment #{}: its post was not imported",
                    comment.source_id
                ));
                continue;
            };
            let body = match comments::parse_body(&comment.body_markdown) {
                Ok(body) => body,
                Err(why) => {
                    self.report.count("comments").skipped += 1;
                    self.report
                        .skipped
                        .push(format!("comment #{}: {why}", comment.source_id));
                    continue;
                }
            };
            let author = match &comment.author {
                CommentAuthor::Account { source_id } => match self.authors.get(source_id) {
                    Some(id) => comments::repo::ImportedAuthor::Account(*id),
                    None if self.opts.dry_run => {
                        comments::repo::ImportedAuthor::Account(self.opts.importer)
                    }
                    None => {
                        self.report.count("comments").skipped += 1;
                        self.report.skipped.push(format!(
                            "comment #{}: its author's account is not in the file",
                            comment.source_id
                        ));
                        continue;
                    }
                },
                CommentAuthor::Guest { name, email, url } => {
                    let name = cut(
                        &name.chars().filter(|c| !c.is_control()).collect::<String>(),
                        200,
                    );
                    comments::repo::ImportedAuthor::Guest {
                        name: if name.trim().is_empty() {
                            "Anonymous".into()
                        } else {
                            name.trim().to_owned()
                        },
                        email: Email::parse(email).ok().map(|e| e.as_str().to_owned()),
                        url: url::Url::parse(url.trim())
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https"))
                            .map(|u| cut(u.as_str(), 2000)),
                    }
                }
            };
            fresh.push((comment, post, body, author));
        }
        self.report.count("comments").created += fresh.len() as u64;
        if self.opts.dry_run || fresh.is_empty() {
            for (comment, _, _, _) in &fresh {
                self.comments.insert(comment.source_id.clone(), 0);
            }
            return Ok(());
        }
        let bodies: Vec<String> = fresh.iter().map(|(_, _, b, _)| b.clone()).collect();
        let html = tokio::task::spawn_blocking(move || {
            bodies
                .iter()
                .map(|b| crate::render::markdown::render_comment(b))
                .collect::<Vec<_>>()
        })
        .await
        .context("rendering imported comments")?;
        let ids = comments::repo::next_ids(&mut *tx, fresh.len()).await?;
        for ((comment, ..), id) in fresh.iter().zip(&ids) {
            self.comments.insert(comment.source_id.clone(), *id);
        }
        let mut keys = Vec::new();
        let rows: Vec<comments::repo::ImportedComment> = fresh
            .iter()
            .zip(html)
            .zip(&ids)
            .map(|(((comment, post, body, author), html), id)| {
                keys.push(NewKey {
                    source_id: comment.source_id.clone(),
                    target_id: *id,
                    digest: digest(comment),
                    target_version: None,
                });
                comments::repo::ImportedComment {
                    id: *id,
                    // A reply names the comment it answers (in this batch or an earlier one).
                    parent: comment
                        .parent
                        .as_ref()
                        .and_then(|p| self.comments.get(p))
                        .copied(),
                    post: posts::model::PostId(*post),
                    author: author.clone(),
                    body_markdown: body.clone(),
                    body_html: html,
                    created_at: comment.created_at,
                }
            })
            .collect();
        comments::repo::insert_imported(&mut *tx, &rows).await?;
        repo::remember(tx, &self.source, "comment", &keys).await?;
        Ok(())
    }

    // --- redirects ----------------------------------------------------------------------

    fn queue_redirects(&mut self, old_urls: &[String], path: &str) {
        for from in old_urls {
            self.redirects.push((from.clone(), path.to_owned(), true));
        }
    }

    /// The old addresses queued since the last batch, each a 301 to its post's address
    /// here (`redirects`' own rule: loops and chains are its business). An old address that
    /// is already the new one (a page's `/about/`) needs none.
    async fn write_redirects(&mut self, tx: &mut PgConnection) -> anyhow::Result<()> {
        let queued = std::mem::take(&mut self.redirects);
        if queued.is_empty() {
            return Ok(());
        }
        let source = format!("import:{}", self.source);
        let mut rows = Vec::with_capacity(queued.len());
        for (from, to, permanent) in queued {
            match NewRedirect::parse(&from, &to, permanent, &source, &self.opts.base_url) {
                Ok(row) => rows.push(row),
                Err(why) if !why.contains("its own address") => {
                    self.report.count("redirects").skipped += 1;
                    self.report
                        .skipped
                        .push(format!("redirect from {from}: {why}"));
                }
                Err(_) => {}
            }
        }
        if self.opts.dry_run {
            self.report.count("redirects").created += rows.len() as u64;
            return Ok(());
        }
        let written = crate::redirects::repo::upsert_many(tx, &rows).await?;
        let counts = self.report.count("redirects");
        counts.created += written;
        counts.unchanged += (rows.len() as u64).saturating_sub(written);
        Ok(())
    }

    async fn begin(&self) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.db.begin().await?;
        // History, not news: no webhooks for what an import writes (`webhook_event`).
        sqlx::query("SELECT set_config('quire.origin', 'import', true)")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

fn kind_name(kind: PostKind) -> &'static str {
    match kind {
        PostKind::Post => "posts",
        PostKind::Page => "pages",
    }
}

/// When a created post went (or goes) public.
fn published_at(post: &model::Post, input: &PostInput) -> Option<OffsetDateTime> {
    match input.status {
        PostStatus::Draft => None,
        PostStatus::Scheduled => input.publish_at,
        PostStatus::Published => Some(post.published_at.unwrap_or_else(OffsetDateTime::now_utc)),
    }
}

/// What an object was at the source, as a short fingerprint: a later import of the same
/// object with another digest is an update.
fn digest<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// `s` trimmed, cut to `max` characters with a note when longer.
fn fit_text(s: &str, max: usize, what: &str, notes: &mut Vec<String>) -> String {
    let s = s.trim();
    let n = s.chars().count();
    if n > max {
        notes.push(format!("{what} cut to {max} characters (it had {n})"));
        cut(s, max).trim_end().to_owned()
    } else {
        s.to_owned()
    }
}

/// A tag's name as Quire takes it: no comma (the editor's separator), at most
/// `TAG_MAX` characters.
fn tag_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| if c == ',' || c.is_control() { ' ' } else { c })
        .collect();
    cut(
        name.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
        input::TAG_MAX,
    )
}

/// The old site's slug when it is one Quire can keep (percent-encoded letters decoded and
/// made ASCII), else one made from the title.
fn wanted_slug(old: &str, title: &str) -> Option<Slug> {
    let decoded = url::form_urlencoded::parse(format!("s={}", old.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Slug::parse(old.trim())
        .ok()
        .or_else(|| Slug::from_title(&decoded))
        .or_else(|| Slug::from_title(title))
}

/// Whether an address looks like one of the old site's images (worth reporting when not
/// found), rather than a picture hosted elsewhere on the web.
fn is_old_site_image(address: &str) -> bool {
    !address.starts_with("data:") && !address.starts_with("/uploads/")
}

/// The image addresses (true) and link addresses (false) in `markdown`, in order, once
/// each; and `src` attributes in raw HTML.
pub fn image_addresses(markdown: &str) -> Vec<(String, bool)> {
    use pulldown_cmark::{Event, Options as MdOptions, Parser, Tag};
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut add = |address: &str, image: bool| {
        let address = address.trim();
        if address.is_empty() || address.starts_with('#') {
            return;
        }
        if let Some(entry) = seen.iter_mut().find(|(a, _)| a == address) {
            entry.1 |= image;
        } else {
            seen.push((address.to_owned(), image));
        }
    };
    for event in Parser::new_ext(markdown, MdOptions::all()) {
        match event {
            Event::Start(Tag::Image { dest_url, .. }) => add(&dest_url, true),
            Event::Start(Tag::Link { dest_url, .. }) if looks_like_image(&dest_url) => {
                add(&dest_url, false)
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                for src in html_sources(&html) {
                    add(src, true);
                }
            }
            _ => {}
        }
    }
    seen
}

fn looks_like_image(address: &str) -> bool {
    let path = address
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// `src="…"` values in a piece of raw HTML.
fn html_sources(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("src=") {
        rest = &rest[at + 4..];
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        rest = &rest[1..];
        if let Some(end) = rest.find(quote) {
            found.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    found
}

/// `markdown` with each address in `found` replaced where it stands as an address (inside
/// `(…)` after `]`, or a quoted `src`), nowhere else.
pub fn rewrite_addresses(markdown: &str, found: &HashMap<String, String>) -> String {
    if found.is_empty() {
        return markdown.to_owned();
    }
    let mut out = markdown.to_owned();
    for (old, new) in found {
        for (open, close) in [("](", ""), ("](<", ">"), ("src=\"", "\""), ("src='", "'")] {
            let from = format!("{open}{old}{close}");
            if out.contains(&from) {
                out = out.replace(&from, &format!("{open}{new}{close}"));
            }
            let titled = format!("{open}{old} ");
            if out.contains(&titled) {
                out = out.replace(&titled, &format!("{open}{new} "));
            }
            let closed = format!("{open}{old})");
            if close.is_empty() && out.contains(&closed) {
                out = out.replace(&closed, &format!("{open}{new})"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_addresses_are_found_and_rewritten_only_as_addresses() {
        let md = "![a](https://old.example/wp-content/uploads/a.jpg \"t\") and \
                  [![b](https://old.example/b-300x200.png)](https://old.example/b.png)\n\n\
                  <img src=\"https://old.example/c.gif\">\n\n\
                  The text https://old.example/wp-content/uploads/a.jpg stays.\n\n\
                  [a page](https://old.example/about/)";
        let found = image_addresses(md);
        assert_eq!(
            found,
            vec![
                (
                    "https://old.example/wp-content/uploads/a.jpg".to_owned(),
                    true
                ),
                ("https://old.example/b.png".to_owned(), false),
                ("https://old.example/b-300x200.png".to_owned(), true),
                ("https://old.example/c.gif".to_owned(), true),
            ]
        );
        let map: HashMap<String, String> = [
            (
                "https://old.example/wp-content/uploads/a.jpg",
                "/uploads/aa.jpg",
            ),
            ("https://old.example/c.gif", "/uploads/cc.gif"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let out = rewrite_addresses(md, &map);
        assert!(out.contains("![a](/uploads/aa.jpg \"t\")"), "{out}");
        assert!(out.contains("<img src=\"/uploads/cc.gif\">"), "{out}");
        assert!(
            out.contains("The text https://old.example/wp-content/uploads/a.jpg stays."),
            "{out}"
        );
    }

    #[test]
    fn old_slugs_are_kept_when_quire_can_keep_them() {
        let slug = |old: &str, title: &str| wanted_slug(old, title).map(|s| s.as_str().to_owned());
        assert_eq!(slug("hello-world", "x").as_deref(), Some("hello-world"));
        assert_eq!(
            slug("%e4%b8%ad%e6%96%87", "x").as_deref(),
            Some("zhong-wen")
        );
        assert_eq!(slug("", "A Title!").as_deref(), Some("a-title"));
        assert_eq!(slug("", "!!!"), None);
    }

    #[test]
    fn tag_names_lose_commas_and_control_characters() {
        assert_eq!(tag_name(" a, b\tc "), "a b c");
        assert_eq!(tag_name(&"x".repeat(300)).chars().count(), input::TAG_MAX);
    }
}
