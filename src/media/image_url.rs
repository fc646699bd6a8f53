//! The one rule for an image address someone types (a post's cover and social image, an
//! avatar, the site's logo), whichever door it comes through. A leaf, so the domain input
//! layers (`posts::input`, `accounts::change`) can use it without the upload handlers.

/// Longest image address, in bytes.
pub const MAX_BYTES: usize = 500;

/// An image address: empty is none; otherwise a path on this site (an upload, `/uploads/…`)
/// or an `https://` URL, at most `MAX_BYTES` as sent. Not `http://`: the site's
/// Content-Security-Policy (`img-src 'self' https: data:`) would block it on every page;
/// nor `javascript:`, `data:` or `//host/…` addresses (issue 25: one rule for both doors).
pub fn parse(sent: &str) -> Result<Option<String>, String> {
    let refused = || "an image is a path on this site (/uploads/…) or an https:// address".into();
    if sent.len() > MAX_BYTES {
        return Err(refused());
    }
    let s = sent.trim();
    let local = s.starts_with('/') && !s.starts_with("//") && !s.contains('\\');
    match s {
        "" => Ok(None),
        s if local || s.starts_with("https://") => Ok(Some(s.to_owned())),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_local_paths_or_https() {
        for (url, ok) in [
            ("", true),
            ("/uploads/a.png", true),
            ("https://x.example/a.png", true),
            ("http://x.example/a.png", false),
            ("javascript:alert(1)", false),
            ("data:image/png;base64,AA", false),
            ("//evil.example/a.png", false),
            ("/\\evil.example/a.png", false),
        ] {
            assert_eq!(parse(url).is_ok(), ok, "{url}");
        }
        assert!(parse(&format!("https://x.example/{}", "a".repeat(500))).is_err());
    }
}
