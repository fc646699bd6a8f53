//! The command line: `serve` (default), `worker`, `migrate`, `seed`, `reindex`, `rerender`,
//! `export`, `user create`, `user role`, `mail test`, `media regenerate`.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::{
    accounts::{
        self,
        model::{Email, NewUser, Password, Role, Username, parse_display_name},
    },
    app::App,
    config::{Environment, Settings},
    db, seed, telemetry,
};

#[derive(Debug, Parser)]
#[command(name = "quire", version, about = "A multi-role blogging platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if missing, migrate, and serve the site (the default).
    Serve {
        /// Add demo authors, tags and posts first if the blog has no posts yet.
        #[arg(long)]
        demo: bool,
    },
    /// Run background jobs only (no web server), until SIGTERM or Ctrl-C; for instances
    /// that serve with `jobs.enabled = false`.
    Worker,
    /// Create the database if missing and apply pending migrations.
    Migrate,
    /// Add demo content (idempotent: running it twice adds nothing the second time).
    Seed {
        /// How many demo posts the blog should have.
        #[arg(long, default_value_t = 30)]
        posts: u32,
    },
    /// The demo content `quire seed` made.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Write the whole blog to one file, to rebuild it elsewhere (docs/export-format.md):
    /// Quire's archive (a zip), or WordPress's WXR. Safe while the site serves.
    Export {
        /// Where to write (default: quire-export-DATE.zip, or .xml, here).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// `zip`: Quire's archive, which `quire import quire` reads back; `wxr`: WordPress's
        /// export format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Zip)]
        format: ExportFormat,
    },
    /// Rebuild the Meilisearch index from PostgreSQL (safe while the site serves).
    Reindex,
    /// Render every post's Markdown again with this version's renderer (after an upgrade:
    /// highlighted code). Safe while the site serves; nobody's edit dates change.
    Rerender,
    /// Images and the store they are kept in.
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Email.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Move a blog in: WordPress, Ghost, a folder of Markdown files, or a Quire archive.
    /// Importing the same file again changes nothing; a newer export updates what changed.
    Import {
        #[command(subcommand)]
        source: ImportSource,
        /// Check and report what would be imported; write nothing.
        #[arg(long, global = true)]
        dry_run: bool,
        /// The admin the import is done as (author of posts whose author isn't in the
        /// file); defaults to the first admin.
        #[arg(long = "as", global = true, value_name = "USERNAME")]
        as_user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// WordPress's export file (Tools → Export, WXR 1.0–1.2).
    Wordpress {
        file: std::path::PathBuf,
        /// A copy of the old site's `wp-content/uploads`, to bring the images along.
        #[arg(long)]
        uploads: Option<std::path::PathBuf>,
    },
    /// Ghost's export file (Settings → Import/Export, Ghost 2–6).
    Ghost {
        file: std::path::PathBuf,
        /// A copy of the old site's `content/images`, to bring the images along.
        #[arg(long)]
        images: Option<std::path::PathBuf>,
    },
    /// A folder of Markdown files with front matter (Jekyll, Hugo).
    Markdown { dir: std::path::PathBuf },
    /// A Quire archive (`quire export`).
    Quire { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Make every upload's files again from its original (widths, WebP copies, social card),
    /// with this configuration. Safe while the site serves; running it twice is harmless.
    Regenerate {
        /// Only uploads whose processing has not run yet.
        #[arg(long)]
        only_pending: bool,
    },
    /// Copy every file of the local folder (`uploads.dir`) into the bucket of
    /// `[uploads.s3]` (or back, `--to local`), with progress. Safe while the site serves;
    /// resumable: files already there (same size) are skipped. Switch `uploads.storage`
    /// afterwards.
    Migrate {
        #[arg(long, value_enum)]
        to: MediaTarget,
    },
}

/// Where `quire media migrate` copies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MediaTarget {
    S3,
    Local,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Delete the demo posts, About page, authors and tags that nobody has changed since;
    /// what someone edited or commented on stays (and is listed).
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Zip,
    Wxr,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message to ADDRESS now, through the configured SMTP server.
    Test { address: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Create(CreateUser),
    /// Give an account another role (never the last admin's: `accounts::keep_an_admin`, the
    /// users screen's rule).
    Role(SetRole),
}

#[derive(Debug, Args)]
pub struct SetRole {
    #[arg(long)]
    pub username: String,
    /// reader, author, editor or admin.
    #[arg(long)]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct CreateUser {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// At least 10 characters. Prefer `QUIRE_PASSWORD` in the environment to keep it out of
    /// shell history.
    #[arg(long, env = "QUIRE_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// reader, author, editor or admin.
    #[arg(long, default_value = "reader")]
    pub role: String,
    /// Shown on posts; defaults to the username.
    #[arg(long)]
    pub display_name: Option<String>,
}

/// Demo posts `serve --demo` adds to an empty blog.
const DEMO_POSTS: u32 = 30;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(Environment::from_env()?)?;
    telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => {
            let pool = wait_for_database(&settings).await?;
            if demo && crate::posts::repo::count_all(&pool).await? == 0 {
                let report =
                    seed::run(&pool, DEMO_POSTS, &indicatif::ProgressBar::hidden()).await?;
                stale_pages(&settings).await?;
                tracing::info!(posts = report.posts_created, "added demo content");
            }
            let unclaimed = !accounts::repo::admin_exists(&pool).await?;
            let app = App::build_with_pool(settings.clone(), pool).await?;
            tracing::info!(
                address = %format!("{}:{}", settings.http.host, app.port()),
                base_url = %settings.http.base_url,
                env = settings.env.as_str(),
                "serving"
            );
            if unclaimed {
                // The one way into a new site, where whoever started it looks first.
                let setup = format!("{}/setup", settings.http.base());
                tracing::warn!(setup = %setup, "no admin yet: open {setup} to create one");
            }
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Worker => {
            let pool = wait_for_database(&settings).await?;
            let redis = crate::kv::Kv::new(&settings.redis)?;
            // Runs as long as the worker does.
            let _watch = redis.watch();
            // Jobs that make pages stale note their writes first (`db::replica`).
            let pages = crate::cache::Pages::new(&redis, &settings.redis).noting(
                crate::db::replica::Writes::new(pool.clone(), redis.clone(), &settings),
            );
            let metrics = crate::metrics::Metrics::new(settings.database.max_connections)?;
            let meili =
                crate::search::meili::Meili::new(&settings.search)?.map(std::sync::Arc::new);
            let _probe = meili.clone().map(crate::search::outbox::spawn_probe);
            let registry = crate::job_registry::build(&settings, pages, meili)?;
            // The event triggers record every event from now on, with a broker configured.
            crate::events::announce(&pool, &settings.events).await?;
            let runner =
                crate::jobs::Runner::start(pool, std::sync::Arc::new(settings), metrics, registry)?;
            stop_signal().await;
            tracing::info!("stopping: running jobs get their grace period");
            runner.shutdown().await;
        }
        Command::Mail {
            command: MailCommand::Test { address },
        } => {
            let mailer = crate::mail::Mailer::new(&settings.mail)?;
            anyhow::ensure!(
                mailer.is_configured(),
                "no SMTP server is configured: set mail.smtp_host (or SMTP_HOST)"
            );
            let pool = prepare_database(&settings).await?;
            let site = crate::mail::Site::load(&pool, &settings.http.base()).await?;
            crate::mail::send_test(&mailer, &site, &address)
                .await
                .with_context(|| {
                    format!(
                        "sending through {}:{}",
                        settings.mail.smtp_host, settings.mail.smtp_port
                    )
                })?;
            println!("sent a test message to {address}");
        }
        Command::Migrate => {
            prepare_database(&settings).await?;
            println!("database is up to date");
        }
        Command::Seed { posts } => {
            let pool = prepare_database(&settings).await?;
            let report = seed::run(&pool, posts, &seed::progress_bar()).await?;
            stale_pages(&settings).await?;
            println!(
                "demo content ready: {} posts created, {} already there",
                report.posts_created, report.posts_existing
            );
        }
        Command::Demo {
            command: DemoCommand::Remove,
        } => {
            let pool = prepare_database(&settings).await?;
            let removed = seed::remove_demo(&pool).await?;
            if removed.is_empty() {
                println!("no demo content to remove");
            } else {
                stale_pages(&settings).await?;
                println!("removed the demo content: {}", removed.count());
            }
            for kept in &removed.kept {
                println!("kept {kept}");
            }
        }
        Command::Media {
            command: MediaCommand::Migrate { to },
        } => migrate_media(&settings, to).await?,
        Command::Rerender => {
            let pool = prepare_database(&settings).await?;
            let bar = seed::progress_bar();
            bar.set_length(crate::posts::repo::count_all(&pool).await?.unsigned_abs());
            let (read, changed) = crate::posts::rerender(&pool, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            stale_pages(&settings).await?;
            println!("re-rendered {read} posts: {changed} changed");
        }
        Command::Export { out, format } => {
            let pool = prepare_database(&settings).await?;
            export(&pool, &settings, out, format).await?;
        }
        Command::Media {
            command: MediaCommand::Regenerate { only_pending },
        } => {
            let pool = prepare_database(&settings).await?;
            regenerate_media(&pool, &settings, only_pending).await?;
        }
        Command::Reindex => {
            let pool = prepare_database(&settings).await?;
            reindex(&pool, &settings).await?;
        }
        Command::Import {
            source,
            dry_run,
            as_user,
        } => {
            let pool = prepare_database(&settings).await?;
            import(&pool, &settings, source, dry_run, as_user).await?;
        }
        Command::User {
            command: UserCommand::Create(args),
        } => {
            let pool = prepare_database(&settings).await?;
            let user = NewUser {
                username: Username::parse(&args.username)
                    .map_err(|e| anyhow::anyhow!("--username: {e}"))?,
                email: Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {e}"))?,
                display_name: match args.display_name {
                    Some(name) => parse_display_name(&name)
                        .map_err(|e| anyhow::anyhow!("--display-name: {e}"))?,
                    None => args.username.clone(),
                },
                bio: String::new(),
                password: Some(
                    Password::parse(&args.password, &settings.accounts.password_policy())
                        .map_err(|e| anyhow::anyhow!("--password: {e}"))?,
                ),
                role: args
                    .role
                    .parse::<Role>()
                    .map_err(|e| anyhow::anyhow!("--role: {e}"))?,
            };
            let id = accounts::create_user(&pool, &user).await?;
            if user.role == Role::Admin {
                // The home page's "no administrator yet" notice goes.
                stale_pages(&settings).await?;
            }
            println!(
                "created user {} (id {}, role {:?})",
                user.username, id.0, user.role
            );
        }
        Command::User {
            command: UserCommand::Role(args),
        } => {
            let username =
                Username::parse(&args.username).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
            let role = args
                .role
                .parse::<Role>()
                .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let pool = prepare_database(&settings).await?;
            let id = accounts::repo::find_id_by_username(&pool, &username)
                .await?
                .with_context(|| format!("no account is called {username}"))?;
            accounts::manage(&pool, id, Some(role), None).await?;
            println!("{username} is now {}", role.as_str());
        }
    }
    Ok(())
}

/// `quire import …`: the file checked whole, then imported with a progress bar, then the
/// report.
async fn import(
    pool: &sqlx::PgPool,
    settings: &Settings,
    source: ImportSource,
    dry_run: bool,
    as_user: Option<String>,
) -> anyhow::Result<()> {
    use crate::import::write;
    let importer = match as_user {
        Some(name) => {
            let username = Username::parse(&name).map_err(|e| anyhow::anyhow!("--as: {e}"))?;
            accounts::repo::find_id_by_username(pool, &username)
                .await?
                .with_context(|| format!("--as: no account is called {username}"))?
        }
        None => accounts::repo::first_admin(pool).await?.context(
            "the import needs an admin to act as: create one (quire user create --role admin) \
             or name one with --as",
        )?,
    };
    let (format, path, images) = match &source {
        ImportSource::Wordpress { file, uploads } => ("wordpress", file, uploads.as_deref()),
        ImportSource::Ghost { file, images } => ("ghost", file, images.as_deref()),
        ImportSource::Markdown { dir } => ("markdown", dir, None),
        ImportSource::Quire { file } => ("quire", file, None),
    };
    let format = crate::import::open(format, path, images)?;
    let opts = write::Options::new(settings, importer, dry_run);
    let bar = seed::progress_bar();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} posts and comments  {per_sec}  {eta} left",
    ) {
        bar.set_style(style);
    }
    let report = write::run(pool, format, &opts, &|done, total| {
        bar.set_length(total.max(done));
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    if !dry_run {
        stale_pages(settings).await?;
    }
    println!(
        "{} {} ({}) in {:.1} s",
        if dry_run { "checked" } else { "imported" },
        report.site.url,
        report.site.format,
        report.seconds
    );
    for line in report.summary() {
        println!("  {line}");
    }
    for (title, lines) in [
        ("skipped", &report.skipped),
        ("notes", &report.notes),
        (
            "images not found (kept at their old address)",
            &report.missing_images,
        ),
    ] {
        if !lines.is_empty() {
            println!("{title}:");
            for line in &lines.lines {
                println!("  {line}");
            }
            if lines.more > 0 {
                println!("  … and {} more", lines.more);
            }
        }
    }
    Ok(())
}

/// SIGTERM (what a supervisor sends) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `quire reindex`: every post queued in the search outbox and sent, with a progress bar.
/// `quire media regenerate`: `media::job::process` on every upload (or every pending one), a
/// batch of names at a time, with a progress bar; then kept pages are made stale.
async fn regenerate_media(
    pool: &sqlx::PgPool,
    settings: &Settings,
    only_pending: bool,
) -> anyhow::Result<()> {
    use crate::media::{self, job::Processed};
    let store = media::Store::from_settings(&settings.uploads)?;
    let opts = media::pipeline::Options::from_settings(&settings.uploads);
    let bar = seed::progress_bar();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} images  {per_sec}  {eta} left",
    ) {
        bar.set_style(style);
    }
    bar.set_length(media::repo::count(pool).await?.unsigned_abs());
    let (mut made, mut failed, mut skipped, mut files) = (0u64, 0u64, 0u64, 0usize);
    let mut after = String::new();
    loop {
        let names = media::repo::names_after(pool, &after, 100).await?;
        let Some(last) = names.last() else { break };
        after.clone_from(last);
        for name in &names {
            bar.inc(1);
            if only_pending {
                let pending = media::repo::find(pool, name)
                    .await?
                    .is_some_and(|u| u.state == "pending");
                if !pending {
                    skipped += 1;
                    continue;
                }
            }
            match media::job::process(pool, &store, &opts, name)
                .await
                .with_context(|| format!("processing {name}"))?
            {
                Processed::Ready { files: n, .. } => {
                    made += 1;
                    files += n;
                }
                Processed::Failed(why) => {
                    failed += 1;
                    bar.println(format!("failed: {name}: {why}"));
                }
            }
        }
    }
    bar.finish_and_clear();
    if made > 0 {
        stale_pages(settings).await?;
    }
    let skipped = if only_pending {
        format!(", {skipped} not pending left as they were")
    } else {
        String::new()
    };
    println!("regenerated {made} images ({files} files), {failed} failed{skipped}");
    Ok(())
}

async fn reindex(pool: &sqlx::PgPool, settings: &Settings) -> anyhow::Result<()> {
    use crate::search::{meili::Meili, outbox};
    let meili = Meili::new(&settings.search)?
        .context("quire reindex rebuilds the Meilisearch index: set MEILI_URL")?;
    meili
        .configure()
        .await
        .context("applying the Meilisearch index settings")?;
    let (posts, orphans) = outbox::queue_everything(pool, &meili).await?;
    let queued = posts + orphans;
    let bar = seed::progress_bar();
    bar.set_length(queued);
    outbox::drain_or_wait(pool, &meili, |left| {
        bar.set_position(queued.saturating_sub(u64::try_from(left).unwrap_or(0)));
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "reindexed {posts} posts, removed {orphans} documents of deleted posts, in Meilisearch \
         index {:?}",
        meili.index_name()
    );
    Ok(())
}

/// `quire export`: written beside the destination first, then renamed, so a failed export
/// never leaves a file that looks whole.
async fn export(
    pool: &sqlx::PgPool,
    settings: &Settings,
    out: Option<std::path::PathBuf>,
    format: ExportFormat,
) -> anyhow::Result<()> {
    let extension = match format {
        ExportFormat::Zip => "zip",
        ExportFormat::Wxr => "xml",
    };
    let out = out.unwrap_or_else(|| {
        format!(
            "quire-export-{}.{extension}",
            time::OffsetDateTime::now_utc().date()
        )
        .into()
    });
    let mut partial = out.clone().into_os_string();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let bar = crate::export::progress_bar();
    let written = match format {
        ExportFormat::Zip => crate::export::archive(pool, settings, file, &bar)
            .await
            .map(|(file, report)| (file, report.counts, report.missing_uploads)),
        ExportFormat::Wxr => crate::export::wxr(pool, settings, file, &bar)
            .await
            .map(|(file, counts)| (file, counts, Vec::new())),
    };
    bar.finish_and_clear();
    let (file, counts, missing) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    file.sync_all()?;
    std::fs::rename(&partial, &out)
        .with_context(|| format!("renaming {} to {}", partial.display(), out.display()))?;
    println!(
        "exported {} posts, {} pages, {} comments, {} tags, {} accounts, {} uploads to {}",
        counts.posts,
        counts.pages,
        counts.comments,
        counts.tags,
        counts.accounts,
        counts.uploads,
        out.display()
    );
    for name in missing {
        eprintln!(
            "warning: upload {name} is listed but not in uploads.dir; its file is not in the archive"
        );
    }
    Ok(())
}

/// Pages kept by running instances show what changed here (a failure is logged, not fatal).
/// With a read replica, running instances first learn how far it must have replayed before
/// they read it again (`db::replica::Writes`).
async fn stale_pages(settings: &Settings) -> anyhow::Result<()> {
    let redis = crate::kv::Kv::new(&settings.redis)?;
    let primary = crate::db::pool(&settings.database)?;
    crate::cache::Pages::new(&redis, &settings.redis)
        .noting(crate::db::replica::Writes::new(
            primary,
            redis.clone(),
            settings,
        ))
        .stale()
        .await;
    Ok(())
}

/// `prepare_database` (or without migrating, per `database.migrate_on_start`), retried while
/// PostgreSQL is out of reach: a supervisor that starts
/// the database and Quire together needn't order them. Any other failure (a migration that
/// doesn't apply, a bad name) stops start-up at once.
async fn wait_for_database(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    let mut delay = Duration::from_millis(500);
    loop {
        // A database that accepts connections but never answers counts as unreachable.
        let prepared = migrated_if(settings, settings.database.migrate_on_start);
        let attempt = tokio::time::timeout(Duration::from_secs(30), prepared)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the database did not answer in 30 s")));
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if is_unreachable(&e) || e.to_string().contains("did not answer") => {
                tracing::warn!(error = format!("{e:#}"), retry_in = ?delay, "waiting for the database");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
        ) || cause
            .downcast_ref::<sqlx::migrate::MigrateError>()
            .is_some_and(|m| {
                matches!(
                    m,
                    sqlx::migrate::MigrateError::Execute(
                        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut
                    )
                )
            })
    })
}

/// Create the database if missing and migrate it; the pool is then ready to serve.
async fn prepare_database(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    migrated_if(settings, true).await
}

/// `prepare_database`, but without migrating when `migrate` is false (where a deploy runs
/// `quire migrate` once, before the new release starts: `database.migrate_on_start`).
async fn migrated_if(settings: &Settings, migrate: bool) -> anyhow::Result<sqlx::PgPool> {
    if !migrate {
        let pool = db::pool(&settings.database)?;
        // Reach it now, so that `wait_for_database` waits for it as when migrating.
        pool.acquire().await?;
        return Ok(pool);
    }
    db::create_if_missing(&settings.database).await?;
    let pool = db::pool(&settings.database)?;
    db::migrate(&pool)
        .await
        .context("the database could not be migrated")?;
    if crate::search::postgres::apply_language(&pool, &settings.search.language).await? {
        tracing::info!(language = %settings.search.language, "search index rebuilt for the new language");
    }
    Ok(pool)
}

/// `quire media migrate --to s3|local`.
async fn migrate_media(settings: &Settings, to: MediaTarget) -> anyhow::Result<()> {
    use crate::media::{Store, migrate};
    let uploads = &settings.uploads;
    if uploads.s3.bucket.is_empty() {
        anyhow::bail!(
            "uploads.s3.bucket is empty: configure [uploads.s3] (bucket, region, endpoint, \
             keys) first"
        );
    }
    let local = Store::local(&uploads.dir, &uploads.public_base_url)?;
    let bucket = Store::s3(&uploads.s3, &uploads.public_base_url)?;
    let (from, into, from_name, into_name, storage) = match to {
        MediaTarget::S3 => (
            &local,
            &bucket,
            format!("{}", uploads.dir.display()),
            format!("bucket {}", uploads.s3.bucket),
            "s3",
        ),
        MediaTarget::Local => (
            &bucket,
            &local,
            format!("bucket {}", uploads.s3.bucket),
            format!("{}", uploads.dir.display()),
            "local",
        ),
    };
    println!("copying the media files from {from_name} to {into_name}");
    let bar = seed::progress_bar();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  {eta} left")
    {
        bar.set_style(style);
    }
    let started = std::time::Instant::now();
    let result = migrate::copy_all(from, into, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let copied = match result {
        Ok(copied) => copied,
        Err(stopped) => anyhow::bail!(
            "stopped {}: {}\n{} files were copied before that. Run the same command again to \
             go on: files already copied are skipped.",
            stopped.doing,
            stopped.error,
            stopped.so_far.copied,
        ),
    };
    println!(
        "copied {} files ({}), {} already there, in {:.1} s",
        copied.copied,
        crate::input::human_bytes(usize::try_from(copied.bytes).unwrap_or(usize::MAX)),
        copied.skipped,
        started.elapsed().as_secs_f64(),
    );
    println!(
        "next: set uploads.storage = \"{storage}\" (or QUIRE__UPLOADS__STORAGE={storage}) and \
         restart; run this again just before, to copy what was uploaded meanwhile"
    );
    Ok(())
}
