//! Leaving Quire (issue 26): the archive and the WXR hold the whole blog and no secret, the
//! admin downloads them, and the archive reader refuses hostile archives in words.

use std::io::{Cursor, Read, Write};

use indicatif::ProgressBar;
use quire::{
    accounts::model::Role,
    export::records::Manifest,
    import::{
        Format, Item, Malformed, ReadError,
        quire::{Limits, QuireArchive},
    },
    posts::model::PostKind,
};
use reqwest::{StatusCode, multipart};
use zip::{ZipArchive, ZipWriter, write::SimpleFileOptions};

use crate::{
    harness::{PostSpec, TestApp, spawn_app},
    uploads::PNG,
};

/// A blog with a bit of everything, made through the app's own use-cases; the admin's
/// browser (who has a password: a hash that must never leave).
pub(crate) async fn a_blog(app: &TestApp) -> (TestApp, String) {
    let admin = app.signed_in("boss", Role::Admin).await;
    let ann = app.author("ann").await;
    let first = app
        .post(
            ann,
            PostSpec {
                title: "First post",
                body: "Hello **world**, with an image: ![x](/uploads/x.png)",
                tags: &["Rust", "Web"],
                excerpt: "My own excerpt",
                ..Default::default()
            },
        )
        .await;
    app.post(
        ann,
        PostSpec {
            title: "Tricky ]]> & <title>",
            body: "Ends in ]]> and & <b>bold</b>",
            tags: &["Rust"],
            ..Default::default()
        },
    )
    .await;
    app.post(
        ann,
        PostSpec {
            title: "Unfinished",
            status: quire::posts::model::PostStatus::Draft,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ann,
        PostSpec {
            title: "About",
            body: "Who we are.",
            kind: PostKind::Page,
            ..Default::default()
        },
    )
    .await;
    // An old address, as an admin adds it on /admin/redirects.
    let old_address = quire::redirects::model::NewRedirect::parse(
        "/2019/05/first/",
        &format!("/posts/{first}"),
        true,
        "manual",
        &app.settings.http.base_url,
    )
    .unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    quire::redirects::save(&mut conn, None, old_address)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let rita = app.signed_in("rita", Role::Reader).await;
    let res = rita
        .submit(
            &format!("/posts/{first}"),
            &format!("/posts/{first}/comments"),
            &[("body", "Nice *post*")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "comment posted");
    let token = admin.csrf_token("/admin/media").await;
    let form = multipart::Form::new().text("csrf_token", token).part(
        "file",
        multipart::Part::bytes(PNG.to_vec()).file_name("dot.png"),
    );
    let res = admin
        .client
        .post(admin.url("/admin/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "image uploaded");
    (admin, first)
}

/// Every entry of a zip, decompressed.
pub(crate) fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (entry.name().unwrap().into_owned(), content)
        })
        .collect()
}

pub(crate) fn text<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let (_, bytes) = entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in the archive"));
    std::str::from_utf8(bytes).unwrap()
}

pub(crate) fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) async fn export_zip(app: &TestApp) -> (Vec<u8>, quire::export::archive::Report) {
    let (out, report) = quire::export::archive(
        &app.db,
        &app.settings,
        Cursor::new(Vec::new()),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    (out.into_inner(), report)
}

#[tokio::test]
async fn the_archive_holds_the_whole_blog_and_no_secret() {
    let app = spawn_app().await;
    let (_admin, first) = a_blog(&app).await;
    let (bytes, report) = export_zip(&app).await;
    assert!(report.missing_uploads.is_empty(), "{report:?}");
    let entries = entries(&bytes);

    let manifest: Manifest = serde_json::from_str(text(&entries, "quire.json")).unwrap();
    assert_eq!(
        (manifest.format.as_str(), manifest.version),
        ("quire-export", 1)
    );
    assert_eq!(manifest.site.url, app.settings.http.base());
    assert!(!manifest.navigation.header.is_empty(), "the menus travel");
    let c = manifest.counts;
    assert_eq!(
        (c.accounts, c.tags, c.posts, c.pages, c.comments, c.uploads),
        (3, 2, 3, 1, 1, 1),
        "{c:?}"
    );

    // One record per line, as many as the manifest says.
    assert_eq!(lines(text(&entries, "accounts.jsonl")).len(), 3);
    assert_eq!(lines(text(&entries, "tags.jsonl")).len(), 2);
    let posts = lines(text(&entries, "posts.jsonl"));
    assert_eq!(posts.len(), 4);
    let post = posts.iter().find(|p| p["slug"] == first).unwrap();
    assert_eq!(post["excerpt"], "My own excerpt");
    assert_eq!(post["status"], "published");
    assert_eq!(post["tag_ids"].as_array().unwrap().len(), 2);
    assert_eq!(post["author_ids"].as_array().unwrap().len(), 1);
    let derived = posts.iter().find(|p| p["slug"] == "about").unwrap();
    assert_eq!(derived["kind"], "page");
    assert_eq!(
        derived["excerpt"], "",
        "an excerpt made from the body is left out"
    );
    let comments = lines(text(&entries, "comments.jsonl"));
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["post_id"], post["id"]);
    assert_eq!(comments[0]["body_markdown"], "Nice *post*");
    assert_eq!(comments[0]["approved"], true);
    let redirects = lines(text(&entries, "redirects.jsonl"));
    assert_eq!(c.redirects, 1);
    assert_eq!(
        redirects,
        [
            serde_json::json!({"from": "/2019/05/first", "to": format!("/posts/{first}"), "permanent": true})
        ]
    );
    let uploads = lines(text(&entries, "uploads.jsonl"));
    let name = uploads[0]["file_name"].as_str().unwrap();
    let (_, image) = entries
        .iter()
        .find(|(n, _)| *n == format!("uploads/{name}"))
        .expect("the uploaded file is in the archive");
    assert_eq!(image.as_slice(), PNG);

    // No secret, however it is looked for.
    let accounts = text(&entries, "accounts.jsonl");
    for secret in ["password", "session_epoch", "identities", "token"] {
        assert!(!accounts.contains(secret), "{secret} in {accounts}");
    }
    for (name, content) in &entries {
        assert!(
            !String::from_utf8_lossy(content).contains("$argon2id$"),
            "a password hash in {name}"
        );
    }
    assert!(!String::from_utf8_lossy(&bytes).contains("$argon2id$"));

    // The post as Markdown with front matter, as Jekyll, Hugo and our importer read it.
    let md = text(&entries, &format!("posts/{first}.md"));
    let (front, body) = md
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .expect("front matter between --- lines");
    let front: serde_json::Value = serde_norway::from_str(front).unwrap();
    assert_eq!(front["title"], "First post");
    assert_eq!(front["slug"], first.as_str());
    assert_eq!(front["tags"], serde_json::json!(["Rust", "Web"]));
    assert_eq!(front["draft"], false);
    assert_eq!(front["author"], "ann");
    assert_eq!(front["excerpt"], "My own excerpt");
    assert!(front["date"].as_str().unwrap().starts_with("20"));
    assert!(body.starts_with("Hello **world**"), "{body}");
    let (_, tricky) = entries
        .iter()
        .find(|(n, _)| n.starts_with("posts/tricky"))
        .expect("the tricky post's file");
    let tricky = std::str::from_utf8(tricky).unwrap();
    let front: serde_json::Value = serde_norway::from_str(
        tricky
            .split("\n---\n")
            .next()
            .unwrap()
            .trim_start_matches("---\n"),
    )
    .unwrap();
    assert_eq!(front["title"], "Tricky ]]> & <title>");
    let draft = text(&entries, "posts/unfinished.md");
    assert!(draft.contains("\ndraft: true\n"), "{draft}");
    assert!(text(&entries, "pages/about.md").contains("Who we are."));
}

#[tokio::test]
async fn the_wxr_is_well_formed_and_carries_every_item() {
    let app = spawn_app().await;
    let (_admin, first) = a_blog(&app).await;
    let (xml, counts) =
        quire::export::wxr(&app.db, &app.settings, Vec::new(), &ProgressBar::hidden())
            .await
            .unwrap();
    assert_eq!(
        (counts.posts, counts.pages, counts.comments, counts.uploads),
        (3, 1, 1, 1)
    );
    let xml = String::from_utf8(xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    const WP: &str = "http://wordpress.org/export/1.2/";
    let child_text = |node: roxmltree::Node, ns: &str, name: &str| {
        node.children()
            .find(|c| match ns {
                "" => c.has_tag_name(name),
                _ => c.has_tag_name((ns, name)),
            })
            // A text with `]]>` comes in two CDATA sections.
            .map(|c| c.children().filter_map(|t| t.text()).collect::<String>())
            .unwrap_or_default()
    };
    let channel = doc.root_element().first_element_child().unwrap();
    assert_eq!(child_text(channel, WP, "wxr_version"), "1.2");
    let items: Vec<_> = channel
        .children()
        .filter(|n| n.has_tag_name("item"))
        .collect();
    let of_type = |t: &str| {
        items
            .iter()
            .filter(|i| child_text(**i, WP, "post_type") == t)
            .count()
    };
    assert_eq!(
        (of_type("post"), of_type("page"), of_type("attachment")),
        (3, 1, 1)
    );
    let authors = channel
        .children()
        .filter(|n| n.has_tag_name((WP, "author")));
    assert_eq!(authors.count(), 1, "ann wrote; boss and rita didn't");
    assert_eq!(
        channel
            .children()
            .filter(|n| n.has_tag_name((WP, "tag")))
            .count(),
        2
    );

    let post = items
        .iter()
        .find(|i| child_text(**i, WP, "post_name") == first)
        .unwrap();
    assert_eq!(child_text(*post, WP, "status"), "publish");
    assert!(child_text(*post, WP, "post_date_gmt").starts_with("20"));
    let html = child_text(*post, "http://purl.org/rss/1.0/modules/content/", "encoded");
    assert!(
        html.contains("<strong>world</strong>"),
        "rendered HTML: {html}"
    );
    assert!(
        html.contains(&format!("{}/uploads/x.png", app.settings.http.base())),
        "upload addresses made absolute: {html}"
    );
    assert_eq!(
        child_text(*post, "http://wordpress.org/export/1.2/excerpt/", "encoded"),
        "My own excerpt"
    );
    let categories: Vec<_> = post
        .children()
        .filter(|c| c.has_tag_name("category"))
        .map(|c| {
            (
                c.attribute("domain").unwrap(),
                c.attribute("nicename").unwrap(),
                c.text().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [("post_tag", "rust", "Rust"), ("post_tag", "web", "Web")]
    );
    let comment = post
        .children()
        .find(|c| c.has_tag_name((WP, "comment")))
        .expect("the comment inside its post");
    assert_eq!(child_text(comment, WP, "comment_parent"), "0");
    assert_eq!(child_text(comment, WP, "comment_approved"), "1");
    assert_eq!(child_text(comment, WP, "comment_author"), "Rita Display");
    assert_eq!(
        child_text(comment, WP, "comment_author_IP"),
        "",
        "empty, not a line break"
    );

    // A title with a CDATA end and markup survives whole.
    let tricky = items
        .iter()
        .find(|i| child_text(**i, "", "title") == "Tricky ]]> & <title>");
    assert!(tricky.is_some(), "the tricky title, whole");
    let draft = items
        .iter()
        .find(|i| child_text(**i, WP, "post_name") == "unfinished")
        .unwrap();
    assert_eq!(child_text(*draft, WP, "status"), "draft");
}

#[tokio::test]
async fn admins_download_the_export_and_nobody_else_may() {
    let app = spawn_app().await;
    let (admin, _) = a_blog(&app).await;
    let page = admin.page("/admin/export", StatusCode::OK).await;
    assert!(page.contains("Download the archive"));
    let token = admin.csrf_token("/admin/export").await;
    for (path, kind) in [
        ("/admin/export/archive", "application/zip"),
        ("/admin/export/wxr", "application/rss+xml"),
    ] {
        let res = admin
            .client
            .post(admin.url(path))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert_eq!(res.headers()["cache-control"], "private, no-store");
        let body = res.bytes().await.unwrap();
        if kind == "application/zip" {
            let entries = entries(&body);
            let manifest: Manifest = serde_json::from_str(text(&entries, "quire.json")).unwrap();
            assert_eq!(manifest.counts.posts, 3);
        } else {
            roxmltree::Document::parse(std::str::from_utf8(&body).unwrap()).unwrap();
        }
    }
    // Without the form's token: refused.
    let res = admin
        .client
        .post(admin.url("/admin/export/archive"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let editor = app.signed_in("eddie", Role::Editor).await;
    editor.page("/admin/export", StatusCode::FORBIDDEN).await;
    let token = editor.csrf_token("/admin").await;
    let res = editor
        .client
        .post(editor.url("/admin/export/archive"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let stranger = TestApp::sharing(&app);
    let res = stranger.get("/admin/export").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test]
async fn quire_export_writes_the_archive_from_the_command_line() {
    let app = spawn_app().await;
    a_blog(&app).await;
    let dir = tempfile::tempdir().unwrap();
    for (format, file) in [("zip", "blog.zip"), ("wxr", "blog.xml")] {
        let out = dir.path().join(file);
        let result = app
            .quire_command()
            .env("QUIRE__UPLOADS__DIR", &app.settings.uploads.dir)
            .args(["export", "--format", format, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            result.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(
            stdout.contains("exported 3 posts, 1 pages, 1 comments"),
            "{stdout}"
        );
        let bytes = std::fs::read(&out).unwrap();
        assert!(!dir.path().join(format!("{file}.partial")).exists());
        if format == "zip" {
            let entries = entries(&bytes);
            assert!(entries.iter().any(|(n, _)| n.starts_with("uploads/")));
        } else {
            roxmltree::Document::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        }
    }
}

#[tokio::test]
async fn the_quire_reader_reads_back_what_the_export_wrote() {
    let app = spawn_app().await;
    let (_admin, first) = a_blog(&app).await;
    let (bytes, _) = export_zip(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blog.zip");
    std::fs::write(&path, &bytes).unwrap();

    let mut archive = QuireArchive::new(&path);
    let site = archive.check().unwrap();
    assert_eq!(site.format, "quire");
    assert_eq!(site.url, app.settings.http.base());
    let mut items = Vec::new();
    archive
        .read(&mut |item| {
            items.push(item);
            Ok(())
        })
        .unwrap();
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| match i {
            Item::Author(_) => "author",
            Item::Tag(_) => "tag",
            Item::Post(_) => "post",
            Item::Comment(_) => "comment",
            Item::Redirect(_) => "redirect",
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "author").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "tag").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "post").count(), 4);
    // The comment comes right after its post.
    let at = kinds.iter().position(|k| *k == "comment").unwrap();
    let Item::Post(post) = &items[at - 1] else {
        panic!("a comment after {:?}", items[at - 1]);
    };
    assert_eq!(post.slug, first);
    assert_eq!(post.excerpt, "My own excerpt");
    assert!(post.old_urls.is_empty());
    let Item::Comment(comment) = &items[at] else {
        unreachable!()
    };
    assert_eq!(comment.post, post.source_id);
    // The uploads, unpacked, are where the posts' addresses say.
    let name: String = sqlx::query_scalar("SELECT file_name FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let images = archive.images().expect("the unpacked uploads");
    let found = images.locate(&format!("/uploads/{name}")).unwrap();
    assert_eq!(std::fs::read(found).unwrap(), PNG);
    assert!(images.locate("/uploads/../../etc/passwd").is_none());
}

// ---- hostile archives ----

const MANIFEST: &str = r#"{"format": "quire-export", "version": 1,
  "exported_at": "2026-01-01T00:00:00Z",
  "site": {"url": "https://old.example", "title": "Old", "comments": "on"}}"#;
const ACCOUNT: &str = r#"{"id": 1, "username": "ann", "email": "ann@example.com", "display_name": "Ann", "role": "author", "created_at": "2026-01-01T00:00:00Z"}"#;
const POST: &str = r#"{"id": 1, "kind": "post", "title": "Hi", "slug": "hi", "body_markdown": "x", "status": "published", "published_at": "2026-01-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "author_ids": [1]}"#;

/// A zip of these entries (deflated).
pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    for (name, content) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// What `check` says of this archive.
fn check(bytes: &[u8], limits: Limits) -> Result<quire::import::Site, ReadError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.zip");
    std::fs::write(&path, bytes).unwrap();
    QuireArchive::with_limits(&path, limits).check()
}

fn malformed(result: Result<quire::import::Site, ReadError>) -> Malformed {
    match result {
        Err(ReadError::Malformed(m)) => m,
        Err(other) => panic!("refused, but not as malformed: {other:#}"),
        Ok(site) => panic!("accepted: {site:?}"),
    }
}

#[test]
fn a_small_valid_archive_is_accepted() {
    let bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("accounts.jsonl", ACCOUNT.as_bytes()),
        ("posts.jsonl", POST.as_bytes()),
    ]);
    let site = check(&bytes, Limits::default()).unwrap();
    assert_eq!(site.url, "https://old.example");
}

#[test]
fn hostile_archives_are_refused_in_words() {
    // An entry that climbs out of the folder it is unpacked into.
    let bytes = zip_of(&[("quire.json", MANIFEST.as_bytes()), ("../../x", b"boo")]);
    let m = malformed(check(&bytes, Limits::default()));
    assert!(
        matches!(&m, Malformed::File { file, .. } if file == "../../x"),
        "{m}"
    );
    assert!(m.to_string().contains("leads out of the archive"), "{m}");
    let bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("uploads/../../../x.png", b"boo"),
    ]);
    assert!(
        malformed(check(&bytes, Limits::default()))
            .to_string()
            .contains("leads out")
    );

    // A zip bomb: 20 MiB of zeros in a few KiB.
    let zeros = vec![0u8; 20 << 20];
    let bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("uploads/a.png", &zeros),
    ]);
    let m = malformed(check(&bytes, Limits::default()));
    assert!(m.to_string().contains("zip bomb"), "{m}");

    // An entry declaring more than an entry may hold.
    let big = vec![b'x'; 4096];
    let bytes = zip_of(&[("quire.json", MANIFEST.as_bytes()), ("uploads/b.png", &big)]);
    let m = malformed(check(
        &bytes,
        Limits {
            entry_bytes: 1000,
            ..Limits::default()
        },
    ));
    assert!(m.to_string().contains("says it is 4096 bytes"), "{m}");

    // A huge size declared in the central directory (the file is small): refused before
    // anything is unpacked.
    let mut bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("uploads/c.png", b"tiny"),
    ]);
    let central = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .expect("the last central directory header");
    bytes[central + 24..central + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let m = malformed(check(&bytes, Limits::default()));
    assert!(m.to_string().contains("uploads/c.png"), "{m}");

    // A broken JSON line: its file, line and column.
    let posts = format!("{POST}\n{{\"id\": 2, \"kind\": \"post\", \"title\": }}\n");
    let bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("accounts.jsonl", ACCOUNT.as_bytes()),
        ("posts.jsonl", posts.as_bytes()),
    ]);
    let m = malformed(check(&bytes, Limits::default()));
    match &m {
        Malformed::At {
            file, line, column, ..
        } => {
            assert_eq!((file.as_str(), *line), ("posts.jsonl", 2), "{m}");
            assert!(*column > 30, "{m}");
        }
        other => panic!("{other}"),
    }

    // A post whose author isn't in the archive.
    let bytes = zip_of(&[
        ("quire.json", MANIFEST.as_bytes()),
        ("posts.jsonl", POST.as_bytes()),
    ]);
    let m = malformed(check(&bytes, Limits::default()));
    assert!(
        m.to_string().contains("author 1 is not in accounts.jsonl"),
        "{m}"
    );

    // A version this Quire doesn't know, and something that isn't an archive of ours.
    let v2 = MANIFEST.replace("\"version\": 1", "\"version\": 2");
    let m = malformed(check(
        &zip_of(&[("quire.json", v2.as_bytes())]),
        Limits::default(),
    ));
    assert!(
        matches!(&m, Malformed::Path { path, .. } if path == "version"),
        "{m}"
    );
    assert!(
        m.to_string()
            .contains("version 2 is not one this Quire reads"),
        "{m}"
    );
    let m = malformed(check(&zip_of(&[("notes.txt", b"hi")]), Limits::default()));
    assert!(m.to_string().contains("quire.json"), "{m}");
    let m = malformed(check(b"not a zip at all", Limits::default()));
    assert!(m.to_string().contains("not a zip archive"), "{m}");
}

#[tokio::test]
async fn a_site_never_served_exports_with_its_config_files_settings() {
    let db = crate::harness::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.zip");
    let result = crate::harness::quire_command(&db)
        .args(["export", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let entries = entries(&std::fs::read(&out).unwrap());
    let manifest: Manifest = serde_json::from_str(text(&entries, "quire.json")).unwrap();
    assert_eq!(manifest.site.title, db.settings.site.title);
    assert_eq!(manifest.counts, quire::export::Counts::default());
}
