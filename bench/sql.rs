//! Prints the SQL of a reader page with its parameters written in, for pgbench
//! (bench/run.sh measures each page's query alone against the Fortunes query).
//!
//!   cargo run --release --example sql -- post SLUG | home | tag SLUG

use quire::posts::repo::sql;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quoted = |i: usize| {
        let value = args.get(i).map(String::as_str).unwrap_or_default();
        format!("'{}'", value.replace('\'', "''"))
    };
    // A list page fetches one row more than it shows (`Page::from_overfetch`).
    let (limit, offset) = ("11", "0");
    let text = match args.first().map(String::as_str) {
        Some("post") => sql::SHOW.replace("$1", &quoted(1)),
        Some("home") => sql::HOME.replace("$1", limit).replace("$2", offset),
        Some("tag") => sql::BY_TAG
            .replace("$1", limit)
            .replace("$2", offset)
            .replace("$3", &quoted(1)),
        // A search statement for WORD, first page, no filters (`search::postgres::sql`).
        Some("search") => {
            use quire::search::postgres::sql as search;
            let (statement, count) = match args.get(2).map(String::as_str) {
                Some("count") => (search::COUNT, true),
                Some("count_head") => (search::COUNT_HEAD, true),
                Some("count_body_only") => (search::COUNT_BODY_ONLY, true),
                Some("full_text") => (search::FULL_TEXT, false),
                Some("head_ranked") => (search::HEAD_RANKED, false),
                Some("head_newest") => (search::HEAD_NEWEST, false),
                Some("body_few") => (search::BODY_FEW, false),
                Some("body_many") => (search::BODY_MANY, false),
                _ => {
                    eprintln!(
                        "usage: sql search WORD count|count_head|count_body_only|full_text|head_ranked|head_newest|body_few|body_many"
                    );
                    std::process::exit(2);
                }
            };
            let config = "'english'::regconfig::oid";
            let text = if count {
                statement
                    .replace("$5", config)
                    .replace("$4", "1001")
                    .replace("$3", "NULL")
                    .replace("$2", "NULL")
            } else {
                statement
                    .replace("$7", config)
                    .replace("$6", "4000")
                    .replace("$5", "NULL")
                    .replace("$4", "NULL")
                    .replace("$3", offset)
                    .replace("$2", "10")
            };
            text.replace("$1", &quoted(1))
        }
        _ => {
            eprintln!("usage: sql post SLUG | home | tag SLUG | search WORD STATEMENT");
            std::process::exit(2);
        }
    };
    // On one line for pgbench: `--` comments go first, or they would swallow the rest.
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split(" -- ").next().unwrap_or(l))
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    println!(
        "{};",
        lines
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
}
