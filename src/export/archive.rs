//! The zip `quire export` writes: `quire.json` (the manifest), one JSON Lines file per kind
//! of record, each post and page as Markdown with front matter, and the uploaded files
//! (`docs/export-format.md`). The zip format holds one open entry at a time, so the posts
//! are read twice: once for `posts.jsonl`, once for their Markdown files.

use std::io::{BufWriter, Seek, Write};

use anyhow::Context;
use indicatif::ProgressBar;
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use zip::{
    CompressionMethod, ZipWriter,
    write::{FileOptions, SimpleFileOptions},
};

use super::{
    BATCH, Offload,
    records::{self, Counts, FORMAT, Manifest, SiteRecord, VERSION, files},
    snapshot,
};
use crate::{
    accounts, comments,
    config::Settings,
    media,
    posts::{self, model::PostKind, repo::ExportedPost},
    redirects, tags,
};

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counts: Counts,
    /// Uploads the database lists whose file is not in `uploads.dir` (listed in
    /// `uploads.jsonl`, absent from `uploads/`).
    pub missing_uploads: Vec<String>,
}

/// The zip entries being written, with their shared options.
struct Zip<W: Write + Seek> {
    zip: ZipWriter<W>,
    deflated: SimpleFileOptions,
    stored: SimpleFileOptions,
}

impl<W: Write + Seek> Zip<W> {
    fn new(out: W, at: OffsetDateTime) -> Self {
        // Zip dates are local, without a zone: the export's moment in UTC.
        let when = zip::DateTime::from_date_and_time(
            u16::try_from(at.year()).unwrap_or(1980),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
        )
        .unwrap_or_default();
        let base: SimpleFileOptions = FileOptions::default()
            .last_modified_time(when)
            .unix_permissions(0o644)
            .large_file(false);
        Self {
            zip: ZipWriter::new(out),
            deflated: base.compression_method(CompressionMethod::Deflated),
            // Images are compressed already.
            stored: base.compression_method(CompressionMethod::Stored),
        }
    }

    fn start(&mut self, name: &str) -> anyhow::Result<()> {
        self.zip
            .start_file(name, self.deflated)
            .with_context(|| format!("starting {name} in the archive"))
    }

    /// One record as one line of the open JSON Lines file.
    fn line(&mut self, record: &impl Serialize) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.zip, record)?;
        self.zip.write_all(b"\n")?;
        Ok(())
    }
}

/// Write the whole blog to `out` as a zip; `bar` counts the records written.
pub async fn archive<W>(
    db: &PgPool,
    settings: &Settings,
    out: W,
    bar: &ProgressBar,
) -> anyhow::Result<(W, Report)>
where
    W: Write + Seek + Send + 'static,
{
    let site = super::site_settings(db, settings).await?;
    let mut tx = snapshot(db).await?;
    let counts = super::counts(&mut tx).await?;
    // Every record is written once, the posts twice (their JSON, their Markdown file), the
    // uploads twice (their record, their file).
    bar.set_length(
        counts.accounts
            + counts.tags
            + 2 * (counts.posts + counts.pages)
            + counts.comments
            + counts.redirects
            + 2 * counts.uploads,
    );
    let exported_at = OffsetDateTime::now_utc();
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at,
        generator: format!("quire {}", env!("CARGO_PKG_VERSION")),
        site: SiteRecord {
            url: settings.http.base(),
            title: site.title,
            description: site.description,
            timezone: site.timezone,
            posts_per_page: site.posts_per_page,
            footer_text: site.footer_text,
            accent_color: site.accent_color,
            logo_url: site.logo_url,
            icon_url: site.icon_url,
            registrations_open: site.registrations_open,
            default_role: site.default_role.as_str().to_owned(),
            comments: site.comments,
            verify_email: site.verify_email,
        },
        navigation: site.navigation.0,
        counts,
    };
    let mut zip = Offload::new(Zip::new(BufWriter::new(out), exported_at));
    zip.run(move |z| {
        z.start(files::MANIFEST)?;
        serde_json::to_writer_pretty(&mut z.zip, &manifest)?;
        Ok(())
    })
    .await?;

    // accounts.jsonl
    zip.run(|z| z.start(files::ACCOUNTS)).await?;
    let mut after = 0;
    loop {
        let rows = accounts::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for u in rows {
                z.line(&records::Account {
                    id: u.id.0,
                    username: u.username,
                    email: u.email,
                    display_name: u.display_name,
                    bio: u.bio,
                    avatar_url: u.avatar_url,
                    role: u.role.as_str().to_owned(),
                    disabled: u.disabled,
                    email_verified: u.email_verified,
                    created_at: u.created_at,
                })?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // tags.jsonl
    zip.run(|z| z.start(files::TAGS)).await?;
    let mut after = 0;
    loop {
        let rows = tags::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for t in rows {
                z.line(&records::Tag {
                    id: t.id.0,
                    slug: t.slug,
                    name: t.name,
                    description: t.description,
                    created_at: t.created_at,
                })?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // posts.jsonl
    zip.run(|z| z.start(files::POSTS)).await?;
    let mut after = 0;
    loop {
        let rows = posts::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for p in rows {
                z.line(&post_record(p))?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // comments.jsonl, by post then id
    zip.run(|z| z.start(files::COMMENTS)).await?;
    let mut after = (0, 0);
    loop {
        let rows = comments::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = (last.post_id.0, last.id);
        let n = rows.len() as u64;
        zip.run(move |z| {
            for c in rows {
                let guest = c.guest_name.map(|name| records::Guest {
                    name,
                    email: c.guest_email.unwrap_or_default(),
                    url: c.guest_url.unwrap_or_default(),
                });
                z.line(&records::Comment {
                    id: c.id,
                    post_id: c.post_id.0,
                    parent_id: c.parent_id,
                    author_id: c.author_id.map(|a| a.0),
                    guest,
                    body_markdown: c.body_markdown,
                    created_at: c.created_at,
                    approved: c.approved_at.is_some(),
                    hidden: c.hidden,
                })?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // redirects.jsonl (those made when a slug changed too: the old links keep working).
    zip.run(|z| z.start(files::REDIRECTS)).await?;
    let mut after = 0;
    loop {
        let rows = redirects::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for r in rows {
                z.line(&records::Redirect {
                    from: r.from_path,
                    to: r.to_url,
                    permanent: r.permanent,
                })?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // uploads.jsonl
    zip.run(|z| z.start(files::UPLOADS)).await?;
    let mut after = 0;
    loop {
        let rows = media::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for u in rows {
                z.line(&records::Upload {
                    id: u.id,
                    file_name: u.file_name,
                    content_type: u.content_type,
                    bytes: i64::from(u.bytes),
                    uploader_id: u.uploader_id.0,
                    created_at: u.created_at,
                })?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // posts/<slug>.md and pages/<slug>.md
    let mut after = 0;
    loop {
        let rows = posts::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        zip.run(move |z| {
            for p in rows {
                let dir = match p.kind {
                    PostKind::Post => files::POSTS_DIR,
                    PostKind::Page => files::PAGES_DIR,
                };
                z.start(&format!("{dir}{}.md", p.slug))?;
                z.zip.write_all(markdown_file(&p).as_bytes())?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // uploads/<file name>: each upload as it was sent (its name is that content's hash, so
    // importing the archive again gives it the same name and every link still works), read
    // from the media store wherever it is (the local folder, a bucket).
    let store = media::Store::from_settings(&settings.uploads)?;
    let mut missing = Vec::new();
    let mut after = 0;
    loop {
        let rows = media::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let n = rows.len() as u64;
        let mut absent = Vec::new();
        for u in rows {
            let Some(bytes) = media::original(&store, &u.file_name).await? else {
                absent.push(u.file_name);
                continue;
            };
            zip.run(move |z| {
                // Stored names are `<sha256>.<ext>` (the table's CHECK): no path in them.
                let name = format!("{}{}", files::UPLOADS_DIR, u.file_name);
                z.zip
                    .start_file(name.as_str(), z.stored)
                    .with_context(|| format!("starting {name} in the archive"))?;
                z.zip
                    .write_all(&bytes)
                    .with_context(|| format!("copying {}", u.file_name))
            })
            .await?;
        }
        missing.extend(absent);
        bar.inc(n);
    }
    tx.commit().await?;

    let out = zip
        .finish(|z| {
            let buffered = z.zip.finish().context("finishing the archive")?;
            buffered
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing the archive: {}", e.error()))
        })
        .await?;
    Ok((
        out,
        Report {
            counts,
            missing_uploads: missing,
        },
    ))
}

/// A post as `posts.jsonl` holds it.
fn post_record(p: ExportedPost) -> records::Post {
    records::Post {
        excerpt: p.own_excerpt(),
        id: p.id.0,
        kind: p.kind,
        title: p.title,
        slug: p.slug,
        body_markdown: p.body_markdown,
        status: p.status,
        published_at: p.published_at,
        created_at: p.created_at,
        updated_at: p.updated_at,
        author_ids: vec![p.author_id.0],
        tag_ids: p.tag_ids,
        featured: p.featured,
        cover_image: p.cover_image,
        meta: p.meta.0,
    }
}

/// A post as a Markdown file with YAML front matter, as Jekyll and Hugo (and Quire's own
/// Markdown importer) read it. Every string is written JSON-quoted: a JSON string is a valid
/// YAML double-quoted scalar, so no title can break the front matter.
pub fn markdown_file(p: &ExportedPost) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let date = |at: &OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let mut out = String::from("---\n");
    out.push_str(&format!("title: {}\n", q(&p.title)));
    out.push_str(&format!("slug: {}\n", q(&p.slug)));
    out.push_str(&format!(
        "date: {}\n",
        date(p.published_at.as_ref().unwrap_or(&p.created_at))
    ));
    out.push_str(&format!("lastmod: {}\n", date(&p.updated_at)));
    out.push_str(&format!(
        "draft: {}\n",
        p.status == posts::model::PostStatus::Draft
    ));
    if p.kind == PostKind::Post {
        let tags: Vec<String> = p.tags.0.iter().map(|t| q(&t.name)).collect();
        out.push_str(&format!("tags: [{}]\n", tags.join(", ")));
    }
    out.push_str(&format!("author: {}\n", q(&p.author_username)));
    let excerpt = p.own_excerpt();
    if !excerpt.is_empty() {
        out.push_str(&format!("excerpt: {}\n", q(&excerpt)));
    }
    if let Some(cover) = &p.cover_image {
        out.push_str(&format!("cover: {}\n", q(cover)));
    }
    if p.featured {
        out.push_str("featured: true\n");
    }
    out.push_str("---\n");
    out.push_str(&p.body_markdown);
    if !p.body_markdown.ends_with('\n') {
        out.push('\n');
    }
    out
}
