//! `quire export --format wxr`: the blog as WordPress eXtended RSS 1.2, the file WordPress's
//! importer (Tools → Import → WordPress) reads: authors, tags, the uploads as attachments,
//! then posts and pages with their rendered HTML and, inside each, its comments with their
//! parents. Written with quick-xml's writer, so every text is escaped; control characters
//! XML can't carry are dropped (`xml_safe`).

use std::{
    collections::VecDeque,
    io::{BufWriter, Write},
};

use indicatif::ProgressBar;
use quick_xml::{
    Writer,
    events::{BytesCData, BytesDecl, BytesEnd, BytesStart, BytesText, Event},
};
use sqlx::PgPool;
use time::{OffsetDateTime, format_description::well_known::Rfc2822};

use super::{BATCH, Offload, records::Counts, snapshot, xml_safe};
use crate::{
    accounts,
    comments::{self, repo::ExportedComment},
    config::Settings,
    media,
    posts::{
        self,
        model::{PostKind, PostStatus, public_path},
        repo::ExportedPost,
    },
    tags,
};

type Xml<W> = Writer<BufWriter<W>>;

/// Comments read per query (they are short).
const COMMENT_BATCH: i64 = 2 * BATCH;

/// Write the whole blog to `out` as WXR 1.2; `bar` counts the items written.
pub async fn wxr<W>(
    db: &PgPool,
    settings: &Settings,
    out: W,
    bar: &ProgressBar,
) -> anyhow::Result<(W, Counts)>
where
    W: Write + Send + 'static,
{
    let site = super::site_settings(db, settings).await?;
    let mut tx = snapshot(db).await?;
    let base = settings.http.base();
    let zone = jiff::tz::TimeZone::get(&site.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let (post_count, page_count) = posts::repo::export_counts(&mut *tx).await?;
    let upload_count = media::repo::count(&mut *tx).await?;
    bar.set_length((post_count + page_count + upload_count).unsigned_abs());
    let mut counts = Counts::default();

    let mut xml = Offload::new(Writer::new_with_indent(BufWriter::new(out), b' ', 1));
    let head = Head {
        title: site.title,
        description: site.description,
        link: base.clone(),
        now: OffsetDateTime::now_utc(),
    };
    xml.run(move |x| head.write(x)).await?;

    // The authors: every account with a post or page (readers stay behind).
    let mut after = 0;
    loop {
        let rows = accounts::repo::export_authors_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        counts.accounts += rows.len() as u64;
        xml.run(move |x| {
            for u in rows {
                start(x, "wp:author")?;
                leaf(x, "wp:author_id", &u.id.0.to_string())?;
                cdata(x, "wp:author_login", &u.username)?;
                cdata(x, "wp:author_email", &u.email)?;
                cdata(x, "wp:author_display_name", &u.display_name)?;
                cdata(x, "wp:author_first_name", "")?;
                cdata(x, "wp:author_last_name", "")?;
                end(x, "wp:author")?;
            }
            Ok(())
        })
        .await?;
    }

    let mut after = 0;
    loop {
        let rows = tags::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        counts.tags += rows.len() as u64;
        xml.run(move |x| {
            for t in rows {
                start(x, "wp:tag")?;
                leaf(x, "wp:term_id", &t.id.0.to_string())?;
                cdata(x, "wp:tag_slug", &t.slug)?;
                cdata(x, "wp:tag_name", &t.name)?;
                cdata(x, "wp:tag_description", &t.description)?;
                end(x, "wp:tag")?;
            }
            Ok(())
        })
        .await?;
    }

    // WordPress numbers attachments and posts in one sequence: the uploads come after the
    // highest post id, so no number is used twice.
    let upload_base = posts::repo::max_id(&mut *tx).await?;
    let mut after = 0;
    loop {
        let rows = media::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let n = rows.len() as u64;
        counts.uploads += n;
        let (base, zone) = (base.clone(), zone.clone());
        xml.run(move |x| {
            for u in rows {
                let url = format!("{base}/uploads/{}", u.file_name);
                start(x, "item")?;
                cdata(x, "title", &u.file_name)?;
                leaf(x, "link", &url)?;
                leaf(x, "pubDate", &rfc2822(&u.created_at))?;
                leaf(x, "guid", &url)?;
                cdata(x, "content:encoded", "")?;
                cdata(x, "excerpt:encoded", "")?;
                leaf(x, "wp:post_id", &(upload_base + u.id).to_string())?;
                leaf(x, "wp:post_date", &local(&u.created_at, &zone))?;
                leaf(x, "wp:post_date_gmt", &gmt(&u.created_at))?;
                leaf(x, "wp:comment_status", "closed")?;
                leaf(x, "wp:ping_status", "closed")?;
                cdata(
                    x,
                    "wp:post_name",
                    u.file_name.split('.').next().unwrap_or(""),
                )?;
                leaf(x, "wp:status", "inherit")?;
                leaf(x, "wp:post_parent", "0")?;
                leaf(x, "wp:menu_order", "0")?;
                leaf(x, "wp:post_type", "attachment")?;
                leaf(x, "wp:post_mime_type", &u.content_type)?;
                leaf(x, "wp:attachment_url", &url)?;
                end(x, "item")?;
            }
            Ok(())
        })
        .await?;
        bar.inc(n);
    }

    // Posts and pages, each with its comments inside it.
    let mut after = 0;
    loop {
        let rows = posts::repo::export_after(&mut *tx, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.0;
        let n = rows.len() as u64;
        let ids: Vec<i64> = rows.iter().map(|p| p.id.0).collect();
        // The batch's comments come by post, then id: each post takes those at the front.
        let mut waiting = VecDeque::new();
        let mut cursor = (0, 0);
        let mut exhausted = false;
        for post in rows {
            match post.kind {
                PostKind::Post => counts.posts += 1,
                PostKind::Page => counts.pages += 1,
            }
            let id = post.id.0;
            let (item_base, item_zone) = (base.clone(), zone.clone());
            xml.run(move |x| item(x, &post, &item_base, &item_zone))
                .await?;
            loop {
                let mut mine = Vec::new();
                while waiting
                    .front()
                    .is_some_and(|c: &ExportedComment| c.post_id.0 == id)
                {
                    mine.extend(waiting.pop_front());
                }
                counts.comments += mine.len() as u64;
                let zone = zone.clone();
                xml.run(move |x| {
                    for c in &mine {
                        comment(x, c, &zone)?;
                    }
                    Ok(())
                })
                .await?;
                if !waiting.is_empty() || exhausted {
                    break;
                }
                let more = comments::repo::export_on(&mut *tx, &ids, cursor, COMMENT_BATCH).await?;
                exhausted = more.len() < COMMENT_BATCH as usize;
                if let Some(c) = more.last() {
                    cursor = (c.post_id.0, c.id);
                }
                waiting.extend(more);
            }
            xml.run(|x| end(x, "item")).await?;
        }
        bar.inc(n);
    }

    tx.commit().await?;
    let out = xml
        .finish(|mut x| {
            end(&mut x, "channel")?;
            end(&mut x, "rss")?;
            x.get_mut().write_all(b"\n")?;
            x.into_inner()
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing the WXR: {}", e.error()))
        })
        .await?;
    Ok((out, counts))
}

/// The channel's opening: the namespaces WordPress's own exports declare, and the site.
struct Head {
    title: String,
    description: String,
    link: String,
    now: OffsetDateTime,
}

impl Head {
    fn write<W: Write>(self, x: &mut Xml<W>) -> anyhow::Result<()> {
        x.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        x.write_event(Event::Comment(quick_xml::events::BytesText::from_escaped(
            " WordPress eXtended RSS (WXR) 1.2, written by Quire: import it in WordPress \
             with Tools > Import > WordPress. ",
        )))?;
        let rss = BytesStart::new("rss").with_attributes([
            ("version", "2.0"),
            ("xmlns:excerpt", "http://wordpress.org/export/1.2/excerpt/"),
            ("xmlns:content", "http://purl.org/rss/1.0/modules/content/"),
            ("xmlns:wfw", "http://wellformedweb.org/CommentAPI/"),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
            ("xmlns:wp", "http://wordpress.org/export/1.2/"),
        ]);
        x.write_event(Event::Start(rss))?;
        start(x, "channel")?;
        leaf(x, "title", &self.title)?;
        leaf(x, "link", &self.link)?;
        leaf(x, "description", &self.description)?;
        leaf(x, "pubDate", &rfc2822(&self.now))?;
        leaf(x, "language", "en")?;
        leaf(x, "wp:wxr_version", "1.2")?;
        leaf(x, "wp:base_site_url", &self.link)?;
        leaf(x, "wp:base_blog_url", &self.link)?;
        leaf(
            x,
            "generator",
            &format!("Quire {}", env!("CARGO_PKG_VERSION")),
        )?;
        Ok(())
    }
}

/// A post or page's `<item>`, left open for its comments.
fn item<W: Write>(
    x: &mut Xml<W>,
    p: &ExportedPost,
    base: &str,
    zone: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    let link = format!("{base}{}", public_path(p.kind, &p.slug));
    let date = p.published_at.unwrap_or(p.created_at);
    let status = match (p.status, p.published_at) {
        (PostStatus::Draft, _) => "draft",
        (_, Some(at)) if at > OffsetDateTime::now_utc() => "future",
        _ => "publish",
    };
    start(x, "item")?;
    cdata(x, "title", &p.title)?;
    leaf(x, "link", &link)?;
    leaf(x, "pubDate", &rfc2822(&date))?;
    cdata(x, "dc:creator", &p.author_username)?;
    x.write_event(Event::Start(
        BytesStart::new("guid").with_attributes([("isPermaLink", "false")]),
    ))?;
    x.write_event(Event::Text(BytesText::new(&format!(
        "{base}/?p={}",
        p.id.0
    ))))?;
    end(x, "guid")?;
    leaf(x, "description", "")?;
    cdata(
        x,
        "content:encoded",
        &absolute_uploads(p.body_html.as_str(), base),
    )?;
    cdata(x, "excerpt:encoded", &p.own_excerpt())?;
    leaf(x, "wp:post_id", &p.id.0.to_string())?;
    leaf(x, "wp:post_date", &local(&date, zone))?;
    // WordPress writes 0000-00-00 00:00:00 for drafts that never had a date.
    let gmt_date = match p.published_at {
        Some(at) => gmt(&at),
        None => "0000-00-00 00:00:00".to_owned(),
    };
    leaf(x, "wp:post_date_gmt", &gmt_date)?;
    leaf(x, "wp:post_modified", &local(&p.updated_at, zone))?;
    leaf(x, "wp:post_modified_gmt", &gmt(&p.updated_at))?;
    leaf(x, "wp:comment_status", "open")?;
    leaf(x, "wp:ping_status", "closed")?;
    cdata(x, "wp:post_name", &p.slug)?;
    leaf(x, "wp:status", status)?;
    leaf(x, "wp:post_parent", "0")?;
    leaf(x, "wp:menu_order", "0")?;
    leaf(
        x,
        "wp:post_type",
        match p.kind {
            PostKind::Post => "post",
            PostKind::Page => "page",
        },
    )?;
    leaf(x, "wp:post_password", "")?;
    leaf(x, "wp:is_sticky", if p.featured { "1" } else { "0" })?;
    if p.kind == PostKind::Post {
        for tag in &p.tags.0 {
            x.write_event(Event::Start(BytesStart::new("category").with_attributes([
                ("domain", "post_tag"),
                ("nicename", xml_safe(&tag.slug).as_ref()),
            ])))?;
            write_cdata(x, &tag.name)?;
            end(x, "category")?;
        }
    }
    for (key, value) in [
        ("_yoast_wpseo_title", p.meta.0.meta_title.as_str()),
        ("_yoast_wpseo_metadesc", p.meta.0.meta_description.as_str()),
    ] {
        if !value.is_empty() {
            start(x, "wp:postmeta")?;
            cdata(x, "wp:meta_key", key)?;
            cdata(x, "wp:meta_value", value)?;
            end(x, "wp:postmeta")?;
        }
    }
    Ok(())
}

/// One `<wp:comment>`: hidden comments go as WordPress's trash, waiting ones as unapproved.
fn comment<W: Write>(
    x: &mut Xml<W>,
    c: &ExportedComment,
    zone: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    let approved = match (c.hidden, c.approved_at.is_some()) {
        (true, _) => "trash",
        (false, true) => "1",
        (false, false) => "0",
    };
    start(x, "wp:comment")?;
    leaf(x, "wp:comment_id", &c.id.to_string())?;
    cdata(x, "wp:comment_author", &c.author_name)?;
    cdata(x, "wp:comment_author_email", &c.author_email)?;
    leaf(
        x,
        "wp:comment_author_url",
        c.guest_url.as_deref().unwrap_or(""),
    )?;
    cdata(x, "wp:comment_author_IP", "")?;
    leaf(x, "wp:comment_date", &local(&c.created_at, zone))?;
    leaf(x, "wp:comment_date_gmt", &gmt(&c.created_at))?;
    cdata(x, "wp:comment_content", c.body_html.as_str())?;
    leaf(x, "wp:comment_approved", approved)?;
    leaf(x, "wp:comment_type", "comment")?;
    leaf(
        x,
        "wp:comment_parent",
        &c.parent_id.unwrap_or(0).to_string(),
    )?;
    leaf(x, "wp:comment_user_id", "0")?;
    end(x, "wp:comment")?;
    Ok(())
}

/// Our HTML points at `/uploads/…` on this site; WordPress's importer rewrites the
/// attachments' absolute addresses to their new ones, so the posts say them in full.
fn absolute_uploads(html: &str, base: &str) -> String {
    html.replace("src=\"/uploads/", &format!("src=\"{base}/uploads/"))
        .replace("href=\"/uploads/", &format!("href=\"{base}/uploads/"))
}

fn start<W: Write>(x: &mut Xml<W>, name: &str) -> anyhow::Result<()> {
    x.write_event(Event::Start(BytesStart::new(name)))?;
    Ok(())
}

fn end<W: Write>(x: &mut Xml<W>, name: &str) -> anyhow::Result<()> {
    x.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

/// `<name>text</name>`, escaped.
fn leaf<W: Write>(x: &mut Xml<W>, name: &str, text: &str) -> anyhow::Result<()> {
    x.create_element(name)
        .write_text_content(BytesText::new(&xml_safe(text)))?;
    Ok(())
}

/// `<name><![CDATA[text]]></name>`, as WordPress writes its texts.
fn cdata<W: Write>(x: &mut Xml<W>, name: &str, text: &str) -> anyhow::Result<()> {
    start(x, name)?;
    write_cdata(x, text)?;
    end(x, name)
}

/// `text` as CDATA sections: a `]]>` inside is split across two, the way it must be.
fn write_cdata<W: Write>(x: &mut Xml<W>, text: &str) -> anyhow::Result<()> {
    let text = xml_safe(text);
    if text.is_empty() {
        // Nothing, but as text: the indenting writer would put a line break in an element
        // left without content, and the importer would read that as its value.
        x.write_event(Event::Text(BytesText::new("")))?;
        return Ok(());
    }
    for part in BytesCData::escaped(&text) {
        x.write_event(Event::CData(part))?;
    }
    Ok(())
}

fn rfc2822(at: &OffsetDateTime) -> String {
    at.format(&Rfc2822).unwrap_or_default()
}

/// `2024-05-01 12:30:00`, in UTC.
fn gmt(at: &OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The same moment on the site's clock (`wp:post_date` is local time).
fn local(at: &OffsetDateTime, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => ts
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => gmt(at),
    }
}
