//! The posts list in bulk (issue 27, item 7): ticked posts published, unpublished, tagged,
//! featured or trashed through the one-post rules; the list sorted and filtered by author
//! name; and every destructive action's confirmation step.

use quire::{accounts::model::Role, posts::model::PostStatus};
use reqwest::StatusCode;

use crate::harness::{Page, PostSpec, TestApp, spawn_app};

async fn id_of(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar::<_, i64>("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .to_string()
}

async fn state_of(app: &TestApp, slug: &str) -> (String, bool, bool, String) {
    sqlx::query_as(
        "SELECT status::text, featured, deleted_at IS NOT NULL,
                array_to_string(ARRAY(SELECT t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                                       WHERE pt.post_id = p.id ORDER BY t.slug), ',')
           FROM posts p WHERE slug = $1",
    )
    .bind(slug)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// POST the list's bulk form; returns the status and, after a redirect, the list page.
async fn bulk(
    browser: &TestApp,
    action: &str,
    tag: &str,
    ids: &[&str],
) -> (StatusCode, Option<Page>, String) {
    let mut fields = vec![
        ("action", action),
        ("tag", tag),
        ("back", "/admin/posts?sort=title"),
    ];
    fields.extend(ids.iter().map(|id| ("id", *id)));
    let res = browser
        .submit("/admin/posts", "/admin/posts/bulk", &fields)
        .await;
    let status = res.status();
    if status == StatusCode::SEE_OTHER {
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let page = browser.page(&location, StatusCode::OK).await;
        (status, Some(page), location)
    } else {
        (status, None, res.text().await.unwrap())
    }
}

#[tokio::test]
async fn an_editor_changes_ticked_posts_and_reads_what_was_done() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let a = app
        .post(
            ann,
            PostSpec {
                title: "Alpha draft",
                status: PostStatus::Draft,
                tags: &["Rust"],
                ..Default::default()
            },
        )
        .await;
    let b = app
        .post(
            ann,
            PostSpec {
                title: "Beta draft",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let c = app
        .post(
            ann,
            PostSpec {
                title: "Gamma live",
                ..Default::default()
            },
        )
        .await;
    let (ia, ib, ic) = (
        id_of(&app, &a).await,
        id_of(&app, &b).await,
        id_of(&app, &c).await,
    );
    let ed = app.signed_in("eddie", Role::Editor).await;

    // The list offers a box per post and the action select.
    let list = ed.page("/admin/posts", StatusCode::OK).await;
    assert_eq!(list.attrs("input[name=id]", "value").len(), 3);
    assert!(list.contains("Publish (no newsletter)"));

    let (status, page, location) = bulk(&ed, "publish", "", &[&ia, &ib, &ic]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location, "/admin/posts?sort=title",
        "back to the list it came from"
    );
    let said = page.unwrap().text(".notice");
    assert!(
        said.contains("2 posts published (no newsletter sent)")
            && said.contains("1 already was: “Gamma live”"),
        "{said}"
    );
    assert_eq!(state_of(&app, &a).await.0, "published");
    assert!(app.get(&format!("/posts/{b}")).await.status().is_success());
    // Said once: the next visit has no message.
    let again = ed.page("/admin/posts", StatusCode::OK).await;
    assert!(again.text(".notice").is_empty());
    // Published in bulk, recorded as "without the newsletter" with the save.
    let skipped: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM newsletter_sends WHERE skipped AND post_id = ANY($1)",
    )
    .bind(vec![ia.parse::<i64>().unwrap(), ib.parse::<i64>().unwrap()])
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(skipped, 2);
    // Through the editor's save: a revision by the editor.
    let revisions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM post_revisions r JOIN users u ON u.id = r.editor_id
          WHERE r.post_id = $1 AND u.username = 'eddie'",
    )
    .bind(ia.parse::<i64>().unwrap())
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(revisions, 1);

    let (_, page, _) = bulk(&ed, "unpublish", "", &[&ia]).await;
    assert!(page.unwrap().text(".notice").contains("1 post unpublished"));
    assert_eq!(state_of(&app, &a).await.0, "draft");

    let (_, page, _) = bulk(&ed, "add_tag", " Databases ", &[&ia, &ib]).await;
    assert!(
        page.unwrap()
            .text(".notice")
            .contains("2 posts tagged “Databases”")
    );
    assert_eq!(state_of(&app, &a).await.3, "databases,rust");
    assert_eq!(state_of(&app, &b).await.3, "databases");

    let (_, page, _) = bulk(&ed, "remove_tag", "rust", &[&ia, &ib]).await;
    let said = page.unwrap().text(".notice");
    assert!(
        said.contains("1 post untagged “rust”; 1 already was"),
        "{said}"
    );
    assert_eq!(state_of(&app, &a).await.3, "databases");

    let (_, page, _) = bulk(&ed, "feature", "", &[&ib, &ic]).await;
    assert!(page.unwrap().text(".notice").contains("2 posts featured"));
    assert!(state_of(&app, &b).await.1 && state_of(&app, &c).await.1);
    let (_, page, _) = bulk(&ed, "unfeature", "", &[&ic]).await;
    assert!(
        page.unwrap()
            .text(".notice")
            .contains("1 post no longer featured")
    );
    assert!(!state_of(&app, &c).await.1);

    let (_, page, _) = bulk(&ed, "trash", "", &[&ib, &ic]).await;
    assert!(
        page.unwrap()
            .text(".notice")
            .contains("2 posts moved to the trash")
    );
    assert!(state_of(&app, &c).await.2);
    assert_eq!(
        app.get(&format!("/posts/{c}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // In the trash: skipped, with why.
    let (_, page, _) = bulk(&ed, "publish", "", &[&ic]).await;
    assert!(
        page.unwrap()
            .text(".notice")
            .contains("“Gamma live” is in the trash")
    );
}

#[tokio::test]
async fn an_author_changes_only_their_own_posts_in_bulk() {
    let app = spawn_app().await;
    let other = app.author("otto").await;
    let theirs = app
        .post(
            other,
            PostSpec {
                title: "Otto's draft",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let their_live = app
        .post(
            other,
            PostSpec {
                title: "Otto live",
                ..Default::default()
            },
        )
        .await;
    let ann = app.signed_in("ann", Role::Author).await;
    let ann_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ann'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let mine = app
        .post(
            quire::accounts::model::UserId(ann_id),
            PostSpec {
                title: "Ann's draft",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let (it, il, im) = (
        id_of(&app, &theirs).await,
        id_of(&app, &their_live).await,
        id_of(&app, &mine).await,
    );
    for action in ["publish", "trash", "feature"] {
        let (status, page, _) = bulk(&ann, action, "", &[&it, &il]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}");
        let said = page.unwrap().text(".notice");
        assert!(said.starts_with("0 posts"), "{action}: {said}");
        assert!(said.contains("2 skipped: you may not"), "{said}");
        // A draft they can't open is not named to them; a live post is public anyway.
        assert!(
            !said.contains("Otto's draft") && said.contains(&format!("post #{it}")),
            "{said}"
        );
        assert!(said.contains("“Otto live”"), "{said}");
    }
    assert_eq!(
        state_of(&app, &theirs).await,
        ("draft".into(), false, false, String::new())
    );
    assert_eq!(state_of(&app, &their_live).await.0, "published");
    assert!(!state_of(&app, &their_live).await.2);
    // Their own: done.
    let (_, page, _) = bulk(&ann, "publish", "", &[&im, &it]).await;
    let said = page.unwrap().text(".notice");
    assert!(
        said.contains("1 post published; ") || said.starts_with("1 post published"),
        "{said}"
    );
    assert!(said.contains("1 skipped: you may not publish"), "{said}");
    assert_eq!(state_of(&app, &mine).await.0, "published");
}

#[tokio::test]
async fn hostile_bulk_requests_are_refused_in_words_and_change_nothing() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Stays a draft",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    let id = id_of(&app, &slug).await;
    let ed = app.signed_in("eddie", Role::Editor).await;
    let many: Vec<String> = (1..=201).map(|n| n.to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let cases: Vec<(&str, &str, Vec<&str>, &str)> = vec![
        (
            "explode",
            "",
            vec![id.as_str()],
            "not something the list can do",
        ),
        ("", "", vec![id.as_str()], "Choose what to do"),
        (
            "publish",
            "",
            vec![id.as_str(), "999999"],
            "No post has the number #999999",
        ),
        ("publish", "", vec!["12abc"], "“12abc” is not a post number"),
        ("publish", "", vec!["-3"], "is not a post number"),
        ("publish", "", vec![], "Tick the posts"),
        ("add_tag", "", vec![id.as_str()], "Type the tag"),
        ("add_tag", "a,b", vec![id.as_str()], "comma"),
        ("publish", "", many, "At most 200 posts"),
    ];
    for (action, tag, ids, says) in cases {
        let (status, _, body) = bulk(&ed, action, tag, &ids).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{action} ({} ids)",
            ids.len()
        );
        assert!(body.contains(says), "{action}: {says} in {body}");
    }
    // 10,000 ids: over the form's size, said as such.
    let huge: Vec<String> = (1..=10_000).map(|n| n.to_string()).collect();
    let huge: Vec<&str> = huge.iter().map(String::as_str).collect();
    let (status, _, body) = bulk(&ed, "publish", "", &huge).await;
    assert!(
        status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST,
        "{status}"
    );
    assert!(body.contains("at most"), "{body}");
    assert_eq!(
        state_of(&app, &slug).await.0,
        "draft",
        "nothing was changed"
    );
    // Without the session's token: refused before anything is read.
    let res = ed
        .client
        .post(ed.url("/admin/posts/bulk"))
        .form(&[("action", "publish"), ("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(state_of(&app, &slug).await.0, "draft");
}

#[tokio::test]
async fn the_list_sorts_by_date_title_and_views_and_filters_by_author_name() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let bob = app.author("bob").await;
    for (who, title, minutes) in [
        (ann, "Banana", -300),
        (bob, "apple", -100),
        (ann, "Cherry", -200),
    ] {
        app.post(
            who,
            PostSpec {
                title,
                published_in_minutes: minutes,
                ..Default::default()
            },
        )
        .await;
    }
    // Views, as the statistics count them.
    for (slug, views) in [("cherry", 9), ("apple", 4), ("banana", 1)] {
        sqlx::query(
            "INSERT INTO post_views (post_id, day, views)
             SELECT id, current_date, $2 FROM posts WHERE slug = $1",
        )
        .bind(slug)
        .bind(views)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let ed = app.signed_in("eddie", Role::Editor).await;
    let titles = |p: &Page| p.texts(".admin-table tbody td:nth-child(2) a");
    for (sort, expected) in [
        ("date", ["apple", "Cherry", "Banana"]),
        ("title", ["apple", "Banana", "Cherry"]),
        ("views", ["Cherry", "apple", "Banana"]),
    ] {
        let page = ed
            .page(&format!("/admin/posts?sort={sort}"), StatusCode::OK)
            .await;
        assert_eq!(titles(&page), expected, "{sort}");
    }
    // By username or by (part of) the display name; with the other filters and the order.
    let page = ed
        .page("/admin/posts?author=ann&sort=title", StatusCode::OK)
        .await;
    assert_eq!(titles(&page), ["Banana", "Cherry"]);
    let page = ed
        .page(
            "/admin/posts?author=Bob+Disp&status=published",
            StatusCode::OK,
        )
        .await;
    assert_eq!(titles(&page), ["apple"]);
    // Nobody of that name: an empty list that says so.
    let page = ed
        .page("/admin/posts?author=nobody-here", StatusCode::OK)
        .await;
    assert!(titles(&page).is_empty());
    assert!(page.text(".empty").contains("Nobody called “nobody-here”"));
    // The pager keeps the filters and the order.
    for n in 0..21 {
        app.post(
            ann,
            PostSpec {
                title: &format!("More {n}"),
                ..Default::default()
            },
        )
        .await;
    }
    let page = ed
        .page("/admin/posts?author=ann&sort=title", StatusCode::OK)
        .await;
    let next = page.attrs("a[rel=next]", "href");
    assert_eq!(
        next,
        ["/admin/posts?author=ann&sort=title&page=2"],
        "{next:?}"
    );
    let second = ed.page(&next[0], StatusCode::OK).await;
    assert_eq!(titles(&second).len(), 3);
    assert_eq!(
        ed.get("/admin/posts?sort=sideways").await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// Every destructive action's confirmation: the GET names what will go and changes
/// nothing; its button's POST does it.
#[tokio::test]
async fn confirmations_ask_first_and_their_button_does_it() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let slug = app
        .post(
            ann,
            PostSpec {
                title: "Talked about",
                ..Default::default()
            },
        )
        .await;
    let post: i64 = id_of(&app, &slug).await.parse().unwrap();
    let admin = app.signed_in("root", Role::Admin).await;
    let rita = app.user("rita", Role::Reader).await;
    let comment: i64 = sqlx::query_scalar(
        "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
         VALUES ($1, $2, 'First words', '<p>First words</p>') RETURNING id",
    )
    .bind(post)
    .bind(rita)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, state, attempts, finished_at, last_error)
         VALUES ('noop', 'failed', 10, now(), 'boom') RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let webhook: i64 = sqlx::query_scalar(
        "INSERT INTO webhooks (url, events, secret)
         VALUES ('https://hooks.example.invalid/x', '{post.published}', repeat('s', 40))
         RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let redirect: i64 = sqlx::query_scalar(
        "INSERT INTO redirects (from_path, to_url) VALUES ('/old-home', '/') RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let left = || async {
        sqlx::query_as::<_, (i64, i64, i64, i64, bool, i64)>(
            "SELECT (SELECT count(*) FROM comments), (SELECT count(*) FROM jobs WHERE kind = 'noop'),
                    (SELECT count(*) FROM webhooks), (SELECT count(*) FROM redirects),
                    (SELECT disabled_at IS NOT NULL FROM users WHERE username = 'rita'),
                    (SELECT count(*) FROM posts WHERE deleted_at IS NULL)",
        )
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let before = left().await;
    assert_eq!(before, (1, 1, 1, 1, false, 1));
    let rows = [
        (
            format!("/comments/{comment}/delete"),
            "Delete Rita Display’s comment?",
            "First words",
        ),
        (
            format!("/admin/jobs/{job}/discard?state=failed"),
            "Discard job",
            "Test job",
        ),
        (
            format!("/admin/webhooks/{webhook}/delete"),
            "Delete the webhook to https://hooks.example.invalid/x?",
            "post.published",
        ),
        (
            format!("/admin/users/{}/disable", rita.0),
            "Disable Rita Display (@rita)?",
            "logged out everywhere",
        ),
        (
            format!("/admin/redirects/{redirect}/delete"),
            "Delete the redirect from /old-home?",
            "/old-home",
        ),
        (
            format!("/admin/posts/{post}/delete"),
            "Delete “Talked about”?",
            "trash",
        ),
    ];
    // Looking changes nothing.
    let mut forms = Vec::new();
    for (path, question, names) in &rows {
        let page = admin.page(path, StatusCode::OK).await;
        assert!(
            page.text("h1").starts_with(question),
            "{path}: {}",
            page.text("h1")
        );
        assert!(page.contains(names), "{path} names {names}");
        let action = page.attr(".confirm-actions", "action").unwrap();
        let fields: Vec<(String, String)> = page
            .attrs(".confirm-actions input[type=hidden]", "name")
            .into_iter()
            .zip(page.attrs(".confirm-actions input[type=hidden]", "value"))
            .collect();
        forms.push((path.clone(), action, fields));
    }
    assert_eq!(left().await, before, "a GET changed something");
    // The button does it.
    for (path, action, fields) in forms {
        let res = admin
            .client
            .post(admin.url(&action))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    assert_eq!(left().await, (0, 0, 0, 0, true, 0));
}

#[tokio::test]
async fn deleting_ticked_comments_asks_first() {
    let app = spawn_app().await;
    let ann = app.author("ann").await;
    let slug = app.post(ann, PostSpec::default()).await;
    let post: i64 = id_of(&app, &slug).await.parse().unwrap();
    let mut ids = Vec::new();
    for words in ["One thing", "Another thing"] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO comments (post_id, author_id, body_markdown, body_html)
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(post)
        .bind(ann)
        .bind(words)
        .fetch_one(&app.db)
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    let ed = app.signed_in("eddie", Role::Editor).await;
    let res = ed
        .submit(
            "/admin/comments?status=visible",
            "/admin/comments/bulk",
            &[
                ("action", "delete"),
                ("status", "visible"),
                ("id", &ids[0]),
                ("id", &ids[1]),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = Page::parse(&res.text().await.unwrap());
    assert_eq!(page.text("h1"), "Delete 2 comments?");
    assert!(page.contains("One thing") && page.contains("Another thing"));
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM comments")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 2, "asking deleted nothing");
    let fields: Vec<(String, String)> = page
        .attrs(".confirm-actions input[type=hidden]", "name")
        .into_iter()
        .zip(page.attrs(".confirm-actions input[type=hidden]", "value"))
        .collect();
    let res = ed
        .client
        .post(ed.url("/admin/comments/bulk"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(count().await, 0);
}
