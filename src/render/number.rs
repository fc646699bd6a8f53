//! Numbers as people read them: grouped ("1,204") and counted ("1 subscriber", "3 drafts").

/// `1234567` as "1,234,567".
pub fn thousands(n: i64) -> String {
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

/// `n` things, grouped, with the word that fits: "1 subscriber", "1,204 subscribers".
pub fn count(n: i64, one: &str, many: &str) -> String {
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
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1204), "-1,204");
    }

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1, "subscriber", "subscribers"), "1 subscriber");
        assert_eq!(count(0, "subscriber", "subscribers"), "0 subscribers");
        assert_eq!(
            count(1204, "subscriber", "subscribers"),
            "1,204 subscribers"
        );
    }
}
