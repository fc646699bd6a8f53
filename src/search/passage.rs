//! The passage around a reader's first matched word, cut from a post's whole text (issue 24).
//!
//! `ts_headline` reads all the text it is given, so the PostgreSQL backend gives it only a
//! post's first characters; a word found further in showed the excerpt, nothing marked, and
//! the reader could not see why the post was found. For such posts the text is scanned
//! here instead, which is cheap, but only PostgreSQL knows the stemming (query "run", text
//! "running"): the words that could be matches (`candidates`: those starting with a query
//! lexeme's stem) are asked of PostgreSQL, and `cut` takes the passage around the first word
//! it confirmed.

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

/// Add to `out` the lower-cased words of `text` that could be a form of one of `lexemes`,
/// in the order they come, at most `CANDIDATES_AT_MOST` of them.
pub fn candidates(text: &str, lexemes: &[String], out: &mut BTreeSet<String>) {
    let prefixes: Vec<&str> = lexemes
        .iter()
        .map(|l| stem_prefix(l))
        .filter(|p| !p.is_empty())
        .collect();
    let mut found = 0;
    for (start, end) in words(text) {
        let word = text[start..end].to_lowercase();
        if prefixes.iter().any(|p| word.starts_with(p)) && out.insert(word) {
            found += 1;
            if found == CANDIDATES_AT_MOST {
                return;
            }
        }
    }
}

/// The passage of `text` around its first word in `matches` (lower-cased words), those
/// words wrapped in `\u{1}` and `\u{2}` for `Highlighted::from_marked`, and `…` where text
/// was left out; `None` when no word matches.
pub fn cut(text: &str, matches: &HashSet<String>) -> Option<String> {
    let all: Vec<(usize, usize)> = words(text).collect();
    let first = all
        .iter()
        .position(|&(s, e)| matches.contains(&text[s..e].to_lowercase()))?;
    let from = first.saturating_sub(WORDS_BEFORE);
    let to = (from + WORDS_IN_ALL).min(all.len());
    let mut out = String::new();
    if from > 0 {
        out.push_str("… ");
    }
    let mut at = all[from].0;
    for &(start, end) in &all[from..to] {
        push_plain(&mut out, &text[at..start]);
        let word = &text[start..end];
        if matches.contains(&word.to_lowercase()) {
            out.push('\u{1}');
            out.push_str(word);
            out.push('\u{2}');
        } else {
            out.push_str(word);
        }
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
}
