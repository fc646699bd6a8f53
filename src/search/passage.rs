//! The highlights of a search's results: the passage around a reader's first matched word
//! (`cut`), and a title with every matched word marked (`mark_all`), cut here from the
//! stored text (issues 24 and 29).
//!
//! `ts_headline` did this in PostgreSQL, at about 0.09 ms a call whatever the text's length
//! (two calls a result: most of a page statement's time at 100,000 posts), and read all
//! the text it was given, so it was given only a post's first characters. Scanning the text
//! here is cheap, but only PostgreSQL knows the stemming (query "run", text "running"): the
//! words that could be matches (`candidates`: those starting with a query lexeme's stem) are
//! asked of PostgreSQL, and the words it confirmed are marked.

use std::collections::{BTreeSet, HashSet};

/// Words shown before the first match, and in all: as `ts_headline`'s `MaxWords`.
const WORDS_BEFORE: usize = 8;
const WORDS_IN_ALL: usize = 24;

/// Distinct candidate words asked of PostgreSQL for one text: a query word that starts many
/// other words ("art": "article", "artist", …) gives up before the list grows long.
pub const CANDIDATES_AT_MOST: usize = 100;

/// The words of `text` and where each starts and ends (byte offsets, on char boundaries):
/// runs of letters and digits, as PostgreSQL's parser splits plain prose.
fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.by_ref().find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(at, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = at;
                break;
            }
            chars.next();
        }
        Some((start, end))
    })
}

/// What a word must start with to perhaps be a form of `lexeme`: the stem less its last
/// letter, as stemmers may change it ("happy" is stemmed "happi").
fn stem_prefix(lexeme: &str) -> &str {
    match lexeme.char_indices().nth(3) {
        Some(_) => lexeme
            .char_indices()
            .last()
            .map_or(lexeme, |(last, _)| &lexeme[..last]),
        None => lexeme,
    }
}

/// `word` lower-cased into `buf` (reused: a page's texts have thousands of words).
fn lower<'b>(word: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    buf.extend(word.chars().flat_map(char::to_lowercase));
    buf
}

/// Add to `out` the lower-cased words of `text` that could be a form of one of `lexemes`,
/// in the order they come, at most `CANDIDATES_AT_MOST` of them.
pub fn candidates(text: &str, lexemes: &[String], out: &mut BTreeSet<String>) {
    let prefixes: Vec<&str> = lexemes
        .iter()
        .map(|l| stem_prefix(l))
        .filter(|p| !p.is_empty())
        .collect();
    if prefixes.is_empty() {
        return;
    }
    let mut found = 0;
    let mut buf = String::new();
    for (start, end) in words(text) {
        let word = lower(&text[start..end], &mut buf);
        if prefixes.iter().any(|p| word.starts_with(p)) && !out.contains(word) {
            out.insert(word.to_owned());
            found += 1;
            if found == CANDIDATES_AT_MOST {
                return;
            }
        }
    }
}

/// `text` whole, its words in `matches` (lower-cased words) wrapped in `\u{1}` and `\u{2}`
/// for `Highlighted::from_marked`: a title, as `ts_headline`'s `HighlightAll` marked it.
pub fn mark_all(text: &str, matches: &HashSet<String>) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut buf = String::new();
    let mut at = 0;
    for (start, end) in words(text) {
        push_plain(&mut out, &text[at..start]);
        push_word(&mut out, &text[start..end], matches, &mut buf);
        at = end;
    }
    push_plain(&mut out, &text[at..]);
    out.trim().to_owned()
}

/// `word`, marked if it is one of `matches`.
fn push_word(out: &mut String, word: &str, matches: &HashSet<String>, buf: &mut String) {
    if matches.contains(lower(word, buf)) {
        out.push('\u{1}');
        out.push_str(word);
        out.push('\u{2}');
    } else {
        out.push_str(word);
    }
}

/// The passage of `text` around its first word in `matches` (lower-cased words), those
/// words wrapped in `\u{1}` and `\u{2}` for `Highlighted::from_marked`, and `…` where text
/// was left out; `None` when no word matches.
pub fn cut(text: &str, matches: &HashSet<String>) -> Option<String> {
    if matches.is_empty() {
        return None;
    }
    let mut buf = String::new();
    let all: Vec<(usize, usize)> = words(text).collect();
    let first = all
        .iter()
        .position(|&(s, e)| matches.contains(lower(&text[s..e], &mut buf)))?;
    let from = first.saturating_sub(WORDS_BEFORE);
    let to = (from + WORDS_IN_ALL).min(all.len());
    let mut out = String::new();
    if from > 0 {
        out.push_str("… ");
    }
    let mut at = all[from].0;
    for &(start, end) in &all[from..to] {
        push_plain(&mut out, &text[at..start]);
        push_word(&mut out, &text[start..end], matches, &mut buf);
        at = end;
    }
    // What follows the last word up to the next one: its full stop, say.
    let tail = all.get(to).map_or(text.len(), |&(next, _)| next);
    push_plain(&mut out, text[at..tail].trim_end());
    if to < all.len() {
        out.push_str(" …");
    }
    Some(out)
}

/// `between` (what separates two words), its whitespace made one space and any control
/// character (which would read as a marker) dropped.
fn push_plain(out: &mut String, between: &str) {
    let mut space = false;
    for c in between.chars() {
        if c.is_whitespace() {
            space = true;
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> HashSet<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        let text = "Café—crème, 2 rôles! ☕x";
        let found: Vec<&str> = words(text).map(|(s, e)| &text[s..e]).collect();
        assert_eq!(found, ["Café", "crème", "2", "rôles", "x"]);
    }

    #[test]
    fn candidates_start_with_a_stem_less_its_last_letter() {
        let mut out = BTreeSet::new();
        let lexemes = ["run".to_owned(), "happi".to_owned()];
        candidates("Running, runway; happy Happiness. Rum!", &lexemes, &mut out);
        let out: Vec<&str> = out.iter().map(String::as_str).collect();
        assert_eq!(out, ["happiness", "happy", "running", "runway"]);
    }

    #[test]
    fn candidates_are_bounded() {
        let text: String = (0..500).map(|i| format!("art{i} ")).collect();
        let mut out = BTreeSet::new();
        candidates(&text, &["art".to_owned()], &mut out);
        assert_eq!(out.len(), CANDIDATES_AT_MOST);
    }

    #[test]
    fn the_passage_is_around_the_first_match_marked_and_elided() {
        let filler = "é ☕ 🦀 word. ".repeat(100);
        let text = format!("{filler}The otters Otters\nwere  running. {filler}");
        let cut = cut(&text, &set(&["otters"])).expect("otters is in the text");
        assert!(cut.starts_with("… "), "{cut}");
        assert!(cut.ends_with(" …"), "{cut}");
        assert!(
            cut.contains("The \u{1}otters\u{2} \u{1}Otters\u{2} were running. é"),
            "{cut}"
        );
        assert_eq!(cut.matches('\u{1}').count(), 2);
    }

    #[test]
    fn a_short_text_is_whole() {
        let text = "  Otters <b>swim</b> & dive.\n";
        assert_eq!(
            cut(text, &set(&["swim"])).as_deref(),
            Some("Otters <b>\u{1}swim\u{2}</b> & dive.")
        );
        assert_eq!(cut(text, &set(&["fly"])), None);
    }

    #[test]
    fn control_characters_in_the_text_are_not_markers() {
        let text = "a \u{1}b\u{2} otter";
        assert_eq!(
            cut(text, &set(&["otter"])).as_deref(),
            Some("a b \u{1}otter\u{2}")
        );
    }

    #[test]
    fn a_title_is_whole_with_every_match_marked() {
        let title = "Zucchini <b>bread</b> & zucchini's \u{1}cake";
        assert_eq!(
            mark_all(title, &set(&["zucchini"])),
            "\u{1}Zucchini\u{2} <b>bread</b> & \u{1}zucchini\u{2}'s cake"
        );
        assert_eq!(mark_all("  Two  words ", &set(&[])), "Two words");
    }

    #[test]
    fn hostile_text_is_cut_on_char_boundaries_and_stays_plain() {
        // Unicode that lower-cases to more characters, long words, markup.
        let long = "Ω".repeat(100_000);
        let text = format!("İstanbul {long} <script>alert(1)</script> ǅemal ÉCOLE école");
        let istanbul = "İstanbul".to_lowercase();
        let matches: HashSet<String> = ["école".to_owned(), istanbul].into();
        let marked = cut(&text, &matches).expect("école is in the text");
        assert!(marked.starts_with("\u{1}İstanbul\u{2} Ω"));
        assert!(marked.contains("\u{1}ÉCOLE\u{2} \u{1}école\u{2}"));
        let html = crate::render::markdown::Highlighted::from_marked(&marked);
        assert!(
            html.as_str()
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
        assert_eq!(html.as_str().matches("<mark>").count(), 3);
        let mut out = BTreeSet::new();
        candidates(&text, &["ecol".to_owned(), "ω".to_owned()], &mut out);
        assert!(out.contains(&"ω".repeat(100_000)));
        assert!(
            !out.contains("école"),
            "a stem prefix is matched as written"
        );
    }

    #[test]
    fn a_mebibyte_body_is_cut_around_its_last_word() {
        let body = format!("{}quokka.", "lorem ipsum dolor sit amet ".repeat(40_000));
        assert!(body.len() > 1 << 20);
        let mut out = BTreeSet::new();
        candidates(&body, &["quokka".to_owned()], &mut out);
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ["quokka"]);
        let marked = cut(&body, &set(&["quokka"])).expect("quokka is in the body");
        assert!(marked.starts_with("… "), "{marked}");
        assert!(marked.ends_with("\u{1}quokka\u{2}."), "{marked}");
        assert_eq!(marked.split(' ').count(), 10, "{marked}");
        assert_eq!(cut(&body, &set(&[])), None);
    }
}
