//! Moving between Quires (issue 26): a blog exported, imported into an empty site and
//! exported again holds the same content; importing the archive again changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use quire::{
    accounts::model::Role,
    import::{quire::QuireArchive, write},
};
use serde_json::{Value, json};

use crate::{
    export::{a_blog, entries, export_zip, lines, text},
    harness::{PostSpec, TestApp, spawn_app},
};

/// What an archive says of the blog, without the ids that link its records (they are the
/// database's own): posts by slug with their tags' names and author's username, comments by
/// post and author, tags, the uploads' names, and the accounts (roles aside: imported
/// accounts are authors unless the importing admin chooses otherwise).
fn content(bytes: &[u8]) -> Value {
    let entries = entries(bytes);
    let accounts: HashMap<i64, Value> = lines(text(&entries, "accounts.jsonl"))
        .into_iter()
        .map(|a| (a["id"].as_i64().unwrap(), a))
        .collect();
    let tags: HashMap<i64, Value> = lines(text(&entries, "tags.jsonl"))
        .into_iter()
        .map(|t| (t["id"].as_i64().unwrap(), t))
        .collect();
    let username = |id: &Value| accounts[&id.as_i64().unwrap()]["username"].clone();
    let mut slugs = HashMap::new();
    let posts: BTreeMap<String, Value> = lines(text(&entries, "posts.jsonl"))
        .into_iter()
        .map(|p| {
            slugs.insert(p["id"].as_i64().unwrap(), p["slug"].clone());
            let tag_names: Vec<Value> = p["tag_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| tags[&t.as_i64().unwrap()]["name"].clone())
                .collect();
            let authors: Vec<Value> = p["author_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(username)
                .collect();
            let mut p = p.clone();
            let fields = p.as_object_mut().unwrap();
            for id in ["id", "tag_ids", "author_ids", "created_at", "updated_at"] {
                fields.remove(id);
            }
            fields.insert("tags".into(), tag_names.into());
            fields.insert("authors".into(), authors.into());
            (p["slug"].as_str().unwrap().to_owned(), p)
        })
        .collect();
    let bodies: HashMap<i64, Value> = lines(text(&entries, "comments.jsonl"))
        .into_iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["body_markdown"].clone()))
        .collect();
    let comments: BTreeSet<String> = lines(text(&entries, "comments.jsonl"))
        .into_iter()
        .map(|c| {
            json!({
                "post": slugs[&c["post_id"].as_i64().unwrap()],
                "author": if c["author_id"].is_null() { c["guest"]["name"].clone() } else { username(&c["author_id"]) },
                "parent": c["parent_id"].as_i64().map(|p| bodies[&p].clone()),
                "body": c["body_markdown"],
                "created_at": c["created_at"],
                "approved": c["approved"],
                "hidden": c["hidden"],
            })
            .to_string()
        })
        .collect();
    let tags: BTreeSet<String> = tags
        .values()
        .map(|t| json!([t["slug"], t["name"], t["description"]]).to_string())
        .collect();
    let uploads: BTreeSet<String> = lines(text(&entries, "uploads.jsonl"))
        .into_iter()
        .map(|u| json!([u["file_name"], u["content_type"], u["bytes"]]).to_string())
        .collect();
    let redirects: BTreeSet<String> = lines(text(&entries, "redirects.jsonl"))
        .into_iter()
        .map(|r| r.to_string())
        .collect();
    let accounts: BTreeMap<String, Value> = accounts
        .values()
        .map(|a| {
            (
                a["username"].as_str().unwrap().to_owned(),
                json!([a["email"], a["display_name"], a["bio"]]),
            )
        })
        .collect();
    json!({
        "posts": posts,
        "comments": comments,
        "tags": tags,
        "uploads": uploads,
        "redirects": redirects,
        "accounts": accounts,
    })
}

async fn import(
    app: &TestApp,
    importer: quire::accounts::model::UserId,
    archive: &std::path::Path,
) -> write::Report {
    let opts = write::Options {
        importer,
        roles: Default::default(),
        dry_run: false,
        max_body: app.settings.posts.max_body_bytes,
        uploads_dir: app.settings.uploads.dir.clone(),
        upload_max_bytes: app.settings.uploads.max_bytes,
    };
    write::run(
        &app.db,
        Box::new(QuireArchive::new(archive)),
        &opts,
        &|_, _| {},
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_exported_blog_imported_into_an_empty_site_exports_the_same() {
    let old = spawn_app().await;
    a_blog(&old).await;
    // A post with the uploaded image as its cover and in its text, so the image travels.
    let image: String = sqlx::query_scalar("SELECT file_name FROM uploads")
        .fetch_one(&old.db)
        .await
        .unwrap();
    let ann = old.author("pictures").await;
    let body = format!("A dot: ![dot](/uploads/{image})");
    let cover = format!("/uploads/{image}");
    old.post(
        ann,
        PostSpec {
            title: "Pictured",
            body: &body,
            cover: Some(&cover),
            tags: &["Photos"],
            ..Default::default()
        },
    )
    .await;
    let (first, _) = export_zip(&old).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("old.zip");
    std::fs::write(&archive, &first).unwrap();

    let new = spawn_app().await;
    let importer = new.user("importer", Role::Admin).await;
    let report = import(&new, importer, &archive).await;
    assert_eq!(report.site.format, "quire");
    let (second, _) = export_zip(&new).await;

    let (before, mut after) = (content(&first), content(&second));
    // The importing admin is the new site's own.
    after["accounts"]
        .as_object_mut()
        .unwrap()
        .remove("importer");
    // TODO(issue 26): compare "redirects" too once the writer stores them
    // (`write::Writer::write_redirects` only counts them on main at c9b50ae); meanwhile the
    // archive's redirect reaches the writer:
    assert_eq!(
        report.counts["redirects"].created,
        1,
        "{:?}",
        report.summary()
    );
    for part in ["posts", "comments", "tags", "uploads", "accounts"] {
        assert_eq!(
            before[part], after[part],
            "{part} differ after the round trip\nbefore: {:#}\nafter: {:#}",
            before[part], after[part]
        );
    }

    // The same archive again: nothing created, nothing changed.
    let again = import(&new, importer, &archive).await;
    for (kind, counts) in &again.counts {
        if kind == "redirects" {
            continue; // the stub counts every redirect as created (see the TODO above)
        }
        assert_eq!(
            (counts.created, counts.updated),
            (0, 0),
            "{kind} on the second import: {:?}",
            again.summary()
        );
    }
    let (third, _) = export_zip(&new).await;
    assert_eq!(content(&third), content(&second));

    // And from the command line, a dry run of the same.
    let out = new
        .quire_command()
        .args(["import", "--dry-run", "quire"])
        .arg(&archive)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("checked "), "{stdout}");
    assert!(stdout.contains("(quire)"), "{stdout}");
}
