//! Search (issue 11): the PostgreSQL full-text backend, through the same functions the
//! site uses, against a real database.

use quire::{
    posts::{model::PostStatus, repo},
    search::{self, MAX_QUERY_CHARS, Query, Results},
};

use reqwest::StatusCode;

use crate::harness::{PostSpec, TestApp, spawn_app};

async fn find(app: &TestApp, query: Query) -> Results {
    search::postgres::search(&app.db, &query, 10, 0)
        .await
        .expect("search answers")
}

async fn titles(app: &TestApp, text: &str) -> Vec<String> {
    find(app, Query::new(text))
        .await
        .hits
        .into_iter()
        .map(|h| h.post.title)
        .collect()
}

async fn post_id(app: &TestApp, slug: &str) -> quire::posts::model::PostId {
    sqlx::query_scalar("SELECT id FROM posts WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .expect("post exists")
}

#[tokio::test]
async fn the_whole_post_is_searched_and_a_title_match_ranks_first() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Notes from the garden",
            body: "Tomatoes again. The **zucchini** took over the *whole* bed.",
            published_in_minutes: -10,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ada,
        PostSpec {
            title: "Zucchini bread",
            body: "A recipe.",
            published_in_minutes: -5,
            ..Default::default()
        },
    )
    .await;
    // A word only deep inside a 1 MiB body, after a megabyte of other words.
    let filler = "lorem ipsum dolor sit amet consectetur ".repeat(1 << 15);
    let deep = format!("{filler}\n\nAt the very end: quokka.");
    assert!(deep.len() > 1 << 20);
    app.post(
        ada,
        PostSpec {
            title: "A long one",
            body: &deep,
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;

    // Stemming: "zucchinis" finds both; the title match comes first.
    assert_eq!(
        titles(&app, "zucchinis").await,
        ["Zucchini bread", "Notes from the garden"]
    );
    assert_eq!(titles(&app, "quokka").await, ["A long one"]);
    // Markup is not text: "strong" (the tag **…** renders to) finds nothing.
    assert!(titles(&app, "strong").await.is_empty());

    let hit = &find(&app, Query::new("zucchini")).await.hits[1];
    assert!(
        hit.snippet.as_str().contains("<mark>zucchini</mark>"),
        "{hit:?}"
    );
    assert!(!hit.snippet.as_str().contains("**"), "{hit:?}");
    let first = &find(&app, Query::new("zucchini")).await.hits[0];
    assert_eq!(first.title.as_str(), "<mark>Zucchini</mark> bread");
}

#[tokio::test]
async fn only_what_readers_can_see_is_found_and_changes_count_at_once() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let draft = app
        .post(
            ada,
            PostSpec {
                title: "Secret draft about walruses",
                status: PostStatus::Draft,
                ..Default::default()
            },
        )
        .await;
    app.post(
        ada,
        PostSpec {
            title: "Walruses tomorrow",
            status: PostStatus::Scheduled,
            published_in_minutes: 60,
            ..Default::default()
        },
    )
    .await;
    let public = app
        .post(
            ada,
            PostSpec {
                title: "Walruses today",
                published_in_minutes: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(titles(&app, "walrus").await, ["Walruses today"]);

    let id = post_id(&app, &public).await;
    assert!(repo::soft_delete(&app.db, id).await.unwrap());
    assert!(titles(&app, "walrus").await.is_empty());
    assert!(repo::restore(&app.db, id).await.unwrap());
    assert_eq!(titles(&app, "walrus").await, ["Walruses today"]);

    // Publishing the draft makes it findable on the next search.
    sqlx::query("UPDATE posts SET status = 'published', published_at = now() WHERE slug = $1")
        .bind(&draft)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        titles(&app, "walrus").await.len(),
        2,
        "{:?}",
        titles(&app, "walrus").await
    );
}

#[tokio::test]
async fn filters_pages_and_the_total() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    let bob = app.author("bob").await;
    for i in 0..12 {
        app.post(
            if i % 3 == 0 { bob } else { ada },
            PostSpec {
                title: &format!("Kayak trip {i}"),
                tags: if i % 2 == 0 { &["Rivers"] } else { &["Lakes"] },
                published_in_minutes: -(i + 1),
                ..Default::default()
            },
        )
        .await;
    }
    let all = find(&app, Query::new("kayak")).await;
    assert_eq!((all.hits.len(), all.total), (10, 12));
    let second = search::postgres::search(&app.db, &Query::new("kayak"), 10, 10)
        .await
        .unwrap();
    assert_eq!((second.hits.len(), second.total), (2, 12));

    let mut rivers = Query::new("kayak");
    rivers.tag = Some("rivers".into());
    assert_eq!(find(&app, rivers).await.total, 6);
    let mut bobs = Query::new("kayak");
    bobs.author = Some("bob".into());
    assert_eq!(find(&app, bobs).await.total, 4);
    let mut nobody = Query::new("kayak");
    nobody.author = Some("nobody".into());
    assert_eq!(find(&app, nobody).await.total, 0);
}

#[tokio::test]
async fn hostile_queries_answer_and_snippets_stay_escaped() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Escaping <b>bold</b> & friends",
            body: "Write `<script>alert(1)</script>` in code, then \"quote\" it & go.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    let long = "x".repeat(10 * 1024);
    for q in [
        "\"",
        "(",
        ")",
        ":*",
        "!!",
        "&|",
        "\\",
        "'",
        "%00",
        "\0",
        "🦀 crab",
        "a:* & !b",
        "-",
        "or",
        "\"unclosed phrase",
        long.as_str(),
        "\t\r\n",
    ] {
        let query = Query::new(q);
        assert!(query.text.chars().count() <= MAX_QUERY_CHARS);
        search::postgres::search(&app.db, &query, 10, 0)
            .await
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    let hit = &find(&app, Query::new("script alert")).await.hits[0];
    let html = format!("{} {}", hit.title, hit.snippet);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;<mark>script</mark>&gt;"), "{html}");
    let marks = html.matches("<mark>").count();
    assert!(
        marks >= 1 && marks == html.matches("</mark>").count(),
        "{html}"
    );
    assert_eq!(
        html.replace("<mark>", "")
            .replace("</mark>", "")
            .matches('<')
            .count(),
        0
    );
}

#[tokio::test]
async fn the_search_page_finds_highlights_and_pages() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    for i in 0..12 {
        app.post(
            ada,
            PostSpec {
                title: &format!("Lighthouse log {i}"),
                body: "The `<lamp>` & the lens, kept by hand.",
                tags: &["Coast"],
                published_in_minutes: -(i + 1),
                ..Default::default()
            },
        )
        .await;
    }

    // Every page's header has a labelled search form that lands here.
    let home = app.page("/", StatusCode::OK).await;
    assert_eq!(
        home.attr("header form[role=search]", "action").as_deref(),
        Some("/search")
    );
    assert_eq!(
        home.attr("header form[role=search] input", "name")
            .as_deref(),
        Some("q")
    );
    let id = home.attr("header form[role=search] input", "id").unwrap();
    assert_eq!(home.texts(&format!("label[for={id}]")).len(), 1);

    let empty = app.page("/search", StatusCode::OK).await;
    assert!(empty.texts(".result").is_empty());
    assert_eq!(empty.attr("#search-q", "value").as_deref(), Some(""));

    let first = app.page("/search?q=lighthouse", StatusCode::OK).await;
    assert_eq!(first.text(".result-count"), "12 results for “lighthouse”");
    assert_eq!(first.texts(".result").len(), 10);
    assert_eq!(first.text(".result h2"), "Lighthouse log 0");
    assert!(first.contains("<mark>Lighthouse</mark> log 0"));
    assert!(first.contains("&lt;lamp&gt; &amp; the lens"));
    assert!(first.contains("<meta name=\"robots\" content=\"noindex\">"));
    let next = first.attr(".pager a[rel=next]", "href").unwrap();
    assert_eq!(next, "/search?q=lighthouse&page=2");
    let second = app.page(&next, StatusCode::OK).await;
    assert_eq!(second.texts(".result").len(), 2);
    assert!(second.attr(".pager a[rel=next]", "href").is_none());

    // Filters, a query with nothing found, a page past the end.
    let filtered = app
        .page("/search?q=lens&tag=coast&author=ada", StatusCode::OK)
        .await;
    assert!(filtered.text(".result-count").starts_with("12 results"));
    let none = app
        .page("/search?q=lighthouse&author=nobody", StatusCode::OK)
        .await;
    assert!(none.text(".empty").starts_with("No posts match"));
    app.page("/search?q=lighthouse&page=9", StatusCode::OK)
        .await;
}

#[tokio::test]
async fn hostile_search_addresses_answer_with_a_page_never_a_500() {
    let app = spawn_app().await;
    let long = format!("/search?q={}", "a".repeat(10 * 1024));
    for (path, status) in [
        ("/search?q=%22", StatusCode::OK),
        ("/search?q=(", StatusCode::OK),
        ("/search?q=%3A*", StatusCode::OK),
        ("/search?q=!!", StatusCode::OK),
        ("/search?q=%26%7C", StatusCode::OK),
        ("/search?q=%5C", StatusCode::OK),
        ("/search?q='", StatusCode::OK),
        ("/search?q=%F0%9F%A6%80", StatusCode::OK),
        ("/search?q=%FF%FE", StatusCode::OK),
        ("/search?q=a%00b", StatusCode::BAD_REQUEST),
        ("/search?q=x&page=0", StatusCode::BAD_REQUEST),
        ("/search?q=x&page=abc", StatusCode::BAD_REQUEST),
        ("/search?q=x&tag=%22%3E%3Cscript%3E", StatusCode::OK),
        (long.as_str(), StatusCode::OK),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("</html>"), "{path}: {body}");
        assert!(!body.contains("<script>"), "{path}");
    }
}

#[tokio::test]
async fn searching_too_fast_is_a_429_page_with_the_form() {
    let app = crate::harness::spawn_app_with(|s| s.search.requests_per_minute = 3).await;
    // Each a new search: a result page the cache already holds is served without counting.
    for i in 0..3 {
        let res = app.get(&format!("/search?q=anything{i}")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app.get("/search?q=anything-else").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = res.text().await.unwrap();
    assert!(body.contains("Try again in"), "{body}");
    assert!(body.contains("id=\"search-q\""), "{body}");
    // The empty form is never counted.
    assert_eq!(app.get("/search").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_result_matched_only_by_its_title_shows_its_excerpt() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Albatross",
            excerpt: "A seabird's long journey, told in five short chapters.",
            body: "Nothing here names the bird.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    let hit = &find(&app, Query::new("albatross")).await.hits[0];
    assert_eq!(
        hit.snippet.as_str(),
        "A seabird&#39;s long journey, told in five short chapters."
    );
}

#[tokio::test]
async fn a_misspelled_word_still_finds_the_title_and_suggests_the_spelling() {
    let app = spawn_app().await;
    let ada = app.author("ada").await;
    app.post(
        ada,
        PostSpec {
            title: "Zucchini bread",
            body: "A recipe.",
            published_in_minutes: -1,
            ..Default::default()
        },
    )
    .await;
    app.post(
        ada,
        PostSpec {
            title: "Sourdough starter",
            body: "Flour and water.",
            published_in_minutes: -2,
            ..Default::default()
        },
    )
    .await;

    let results = find(&app, Query::new("zuchini")).await;
    assert!(results.approximate);
    assert_eq!(results.total, 1);
    assert_eq!(results.hits[0].post.title, "Zucchini bread");
    assert_eq!(results.suggestion.as_deref(), Some("zucchini"));
    // A correct query has no suggestion; a query like nothing finds nothing.
    let exact = find(&app, Query::new("zucchini")).await;
    assert!(!exact.approximate && exact.suggestion.is_none());
    let nothing = find(&app, Query::new("qwxzv")).await;
    assert_eq!((nothing.total, nothing.suggestion), (0, None));

    let page = app.page("/search?q=sourdogh+startr", StatusCode::OK).await;
    assert_eq!(page.text(".suggestion a"), "sourdough starter");
    assert_eq!(
        page.attr(".suggestion a", "href").as_deref(),
        Some("/search?q=sourdough+starter")
    );
    assert_eq!(page.text(".result h2"), "Sourdough starter");
    assert!(page.text(".result-count").starts_with("No posts contain"));
}
