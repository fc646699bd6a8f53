//! Line diffs between two texts: a revision against the current post, a conflicting save
//! against what its author typed.

/// A line of a comparison between two texts.
pub struct DiffLine {
    pub kind: &'static str,
    pub text: String,
}

/// Line diff of two texts. Bounded: past a second of work, `similar` settles for a coarser
/// diff, so two 1 MiB texts can't hold a thread for long. CPU-bound: see `diff_off_thread`.
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            kind: match c.tag() {
                similar::ChangeTag::Delete => "del",
                similar::ChangeTag::Insert => "ins",
                similar::ChangeTag::Equal => "eq",
            },
            text: c.value().trim_end_matches('\n').to_owned(),
        })
        .collect()
}

/// `diff` on the blocking pool.
pub async fn diff_off_thread(old: String, new: String) -> Vec<DiffLine> {
    tokio::task::spawn_blocking(move || diff(&old, &new))
        .await
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_mark_lines() {
        let d = diff("a\nb\n", "a\nc\n");
        let kinds: Vec<_> = d.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["eq", "del", "ins"]);
    }
}
