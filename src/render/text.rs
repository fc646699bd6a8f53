//! Characters that XML 1.0 forbids (C0 controls but tab, newline and carriage return, and
//! U+FFFE/U+FFFF). One of them in a title would make the Atom feed unreadable for every
//! subscriber, so forms drop them on the way in and the feed drops them on the way out.

use std::borrow::Cow;

pub fn is_xml_forbidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'
    )
}

/// `s` without the characters XML 1.0 forbids; borrowed when there were none.
pub fn strip_xml_forbidden(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_xml_forbidden) {
        Cow::Owned(s.chars().filter(|c| !is_xml_forbidden(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_and_whitespace_and_drops_what_xml_forbids() {
        assert!(matches!(strip_xml_forbidden("a\tb\nc\r"), Cow::Borrowed(_)));
        assert_eq!(
            strip_xml_forbidden("a\u{0}b\u{b}c\u{1}d\u{1b}e\u{fffe}f\u{ffff}g\u{7f}é"),
            "abcdefg\u{7f}é"
        );
    }
}
