//! Numbers as people read them: "1,073" and "1 draft" / "3 drafts".

use std::borrow::Borrow;

/// `1234567` as "1,234,567". (`Borrow`: templates hand over references.)
pub fn thousands(n: impl Borrow<i64>) -> String {
    let n = *n.borrow();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "1 draft", "1,073 views": the count, grouped, with the word that fits it.
pub fn count(n: impl Borrow<i64>, one: &str, many: &str) -> String {
    let n = *n.borrow();
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "draft", "drafts"), "1 draft");
        assert_eq!(count(0, "draft", "drafts"), "0 drafts");
        assert_eq!(count(1073, "view", "views"), "1,073 views");
    }
}
