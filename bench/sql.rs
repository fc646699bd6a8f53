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
        _ => {
            eprintln!("usage: sql post SLUG | home | tag SLUG");
            std::process::exit(2);
        }
    };
    println!("{};", text.split_whitespace().collect::<Vec<_>>().join(" "));
}
