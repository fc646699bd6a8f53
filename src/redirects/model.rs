//! A redirect's fields and the one rule that reads them: `from` and `to` parsed and put in
//! one normal form, whichever door they come through (the admin form, the importers, and
//! the database trigger for changed slugs, which writes the same form for `/posts/{slug}`
//! and `/{slug}`). What needs the stored redirects (loops, chains) is `repo::prepare`.

use url::Url;

use crate::input::Problems;

/// The longest `from` or `to` kept (the table's CHECKs say the same).
pub const MAX_LEN: usize = 2000;

/// The query keys an old address keeps: WordPress's `/?p=123` and `/?page_id=45` name a
/// post; every other parameter (`utm_source`…) is dropped.
const KEPT_KEYS: [&str; 2] = ["p", "page_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct RedirectId(pub i64);

/// The fields the problems are about (the admin form names its inputs the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    To,
    Source,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::From => "from",
            Field::To => "to",
            Field::Source => "source",
        }
    }
}

/// A redirect ready to be written: both ends in normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRedirect {
    /// A local path (see `from_path`).
    pub from: String,
    /// A local path, or an absolute http(s) URL of another site.
    pub to: String,
    /// 301 (true) or 302.
    pub permanent: bool,
    /// `manual`, `slug-change` or `import:<source key>`.
    pub source: String,
}

impl NewRedirect {
    /// The one rule for a redirect's fields; what importers call for each old address.
    ///
    /// - `from`: the old address, as a path (`/2019/05/hello/`) or as the old site's full
    ///   URL (`https://old.example/2019/05/hello/`, `https://old.example/?p=123`): reduced to
    ///   its path, plus `?p=N` or `?page_id=N` when present (other query parameters are
    ///   dropped); a trailing slash is dropped, percent-escapes decoded.
    /// - `to`: the new address: a local path (`/posts/hello`) or an absolute http(s) URL; a
    ///   URL on this site's `base_url` becomes its local path.
    /// - `permanent`: true for a 301 (what importers want), false for a 302.
    /// - `source`: `import:<the source key of import_keys>` for importers (`manual` and
    ///   `slug-change` are the admin's and the trigger's).
    /// - `base_url`: `settings.http.base_url`.
    ///
    /// Loops through stored redirects are found when writing (`repo::upsert_many` skips them).
    pub fn parse(
        from: &str,
        to: &str,
        permanent: bool,
        source: &str,
        base_url: &Url,
    ) -> Result<NewRedirect, String> {
        Self::check(from, to, permanent, source, base_url).map_err(|problems| {
            problems
                .iter()
                .map(|(field, message)| format!("{}: {message}", field.name()))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// `parse`, with each problem against its field (for the admin form).
    pub fn check(
        from: &str,
        to: &str,
        permanent: bool,
        source: &str,
        base_url: &Url,
    ) -> Result<NewRedirect, Problems<Field>> {
        let mut problems = Problems::default();
        let from = problems.check(Field::From, from_path(from));
        let to = problems.check(Field::To, to_url(to, base_url));
        let source = problems.check(Field::Source, parse_source(source));
        if let (Some(from), Some(to)) = (&from, &to)
            && from == to
        {
            problems.add(Field::To, "a redirect can't lead to its own address");
        }
        let value = match (from, to, source) {
            (Some(from), Some(to), Some(source)) => Some(NewRedirect {
                from,
                to,
                permanent,
                source,
            }),
            _ => None,
        };
        problems.into_result(value)
    }
}

fn parse_source(source: &str) -> Result<String, String> {
    let ok = match source.strip_prefix("import:") {
        Some(key) => !key.is_empty() && source.len() <= 600 && !key.chars().any(char::is_control),
        None => matches!(source, "manual" | "slug-change"),
    };
    match ok {
        true => Ok(source.to_owned()),
        false => Err("a source is manual, slug-change or import:<source>".into()),
    }
}

/// Text a field may not hold: control characters (a header splitter, a NUL) and backslashes
/// (browsers read `/\evil.example` as `//evil.example`).
fn refuse_hostile(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err("an address can't contain control characters".into());
    }
    if s.contains('\\') {
        return Err("an address can't contain a backslash".into());
    }
    Ok(())
}

fn refuse_too_long(s: &str) -> Result<(), String> {
    match s.chars().count() > MAX_LEN {
        true => Err(format!("an address can be at most {MAX_LEN} characters")),
        false => Ok(()),
    }
}

/// `from` in normal form: a local path or an old site's URL, reduced to its path and the
/// WordPress query that names a post.
pub fn from_path(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("enter the old address, such as /2019/05/hello".into());
    }
    refuse_too_long(input)?;
    refuse_hostile(input)?;
    let (path, query) = if has_http_scheme(input) {
        let url = Url::parse(input).map_err(|_| "the old address is not a valid URL")?;
        (url.path().to_owned(), url.query().map(str::to_owned))
    } else if input.starts_with('/') {
        let (rest, _fragment) = input.split_once('#').unwrap_or((input, ""));
        match rest.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (rest.to_owned(), None),
        }
    } else {
        return Err("the old address is a path starting with / or a full http(s) URL".into());
    };
    let mut out = normal_path(&path)?;
    if let Some(kept) = query.as_deref().and_then(kept_query) {
        out.push('?');
        out.push_str(&kept);
    }
    refuse_too_long(&out)?;
    Ok(out)
}

/// The key a request is looked up under: its path (normalized as `from_path` does) and,
/// when the query names a WordPress post, the same path with that query first. `None` for
/// a path no redirect can have (control characters, `..`).
pub fn request_keys(path: &str, query: &str) -> Option<Vec<String>> {
    let path = normal_path(path).ok()?;
    let mut keys = Vec::with_capacity(2);
    if let Some(kept) = kept_query(query) {
        keys.push(format!("{path}?{kept}"));
    }
    keys.push(path);
    Some(keys)
}

/// Whether a query names a WordPress post (`p` or `page_id`): only then does a page that
/// answers (the home page, for `/?p=12`) look for a redirect first.
pub fn names_old_post(query: &str) -> bool {
    !query.is_empty() && kept_query(query).is_some()
}

/// `p=N` or `page_id=N` (the first of them present, digits only).
fn kept_query(query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    KEPT_KEYS.iter().find_map(|key| {
        pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty() && v.len() <= 20)
            .filter(|(_, v)| v.bytes().all(|b| b.is_ascii_digit()))
            .map(|(k, v)| format!("{k}={v}"))
    })
}

fn has_http_scheme(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A path in normal form: one leading `/`, percent-escapes decoded (but `%2F`, `%3F`,
/// `%23` and `%25`, which would change its meaning, kept and upper-cased), no `.` or `..`
/// segments, no empty segments, and no trailing slash (but `/` itself).
pub fn normal_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Err("a path starts with a single /".into());
    }
    let decoded = decode(path)?;
    refuse_hostile(&decoded)?;
    let trimmed = decoded.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok("/".into());
    }
    if trimmed[1..]
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("a path can't have empty, . or .. segments".into());
    }
    Ok(trimmed.to_owned())
}

/// Percent-decoding, keeping the escapes of `/ ? # %` (upper-cased).
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b @ (b'/' | b'?' | b'#' | b'%')) => {
                    out.extend_from_slice(format!("%{b:02X}").as_bytes())
                }
                Some(b) => out.push(b),
                None => return Err("a path has a malformed %-escape".into()),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a path's %-escapes must be UTF-8".into())
}

/// `to` in normal form: a local path (normalized as `from`, keeping its query and fragment)
/// or an absolute http(s) URL; one on this site's `base_url` becomes local.
pub fn to_url(input: &str, base_url: &Url) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("enter the new address, such as /posts/hello".into());
    }
    refuse_too_long(input)?;
    refuse_hostile(input)?;
    let out = if has_http_scheme(input) {
        let url = Url::parse(input).map_err(|_| "the new address is not a valid URL")?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the new address needs a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the new address can't carry a user name or password".into());
        }
        if url.origin() == base_url.origin() {
            let base_path = base_url.path().trim_end_matches('/');
            let path = url.path().strip_prefix(base_path).unwrap_or(url.path());
            let mut local = String::from(if path.is_empty() { "/" } else { path });
            if let Some(q) = url.query() {
                local.push('?');
                local.push_str(q);
            }
            if let Some(f) = url.fragment() {
                local.push('#');
                local.push_str(f);
            }
            return local_target(&local);
        }
        url.to_string()
    } else if input.starts_with('/') {
        return local_target(input);
    } else {
        return Err("the new address is a path starting with / or a full http(s) URL".into());
    };
    refuse_too_long(&out)?;
    Ok(out)
}

/// A local target: its path normalized, its query and fragment kept as given.
fn local_target(input: &str) -> Result<String, String> {
    if input.starts_with("//") {
        return Err("a local address starts with a single / (//… is another site)".into());
    }
    let (rest, fragment) = match input.split_once('#') {
        Some((rest, f)) => (rest, Some(f)),
        None => (input, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut out = normal_path(path)?;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        out.push('#');
        out.push_str(f);
    }
    refuse_too_long(&out)?;
    Ok(out)
}

/// The `Location` header for a stored target: a local path percent-encoded where a header
/// needs it (stored targets are decoded); an absolute URL as stored.
pub fn location(to: &str) -> Option<String> {
    if has_http_scheme(to) {
        return Url::parse(to).ok().map(String::from);
    }
    if !to.starts_with('/') || to.starts_with("//") || to.contains('\\') {
        return None;
    }
    let base = Url::parse("http://local.invalid/").ok()?;
    let url = base.join(to).ok()?;
    Some(url[url::Position::BeforePath..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://blog.example/").expect("a URL")
    }

    #[test]
    fn old_addresses_are_reduced_to_one_form() {
        let cases = [
            ("/2019/05/hello/", "/2019/05/hello"),
            ("https://old.example/2019/05/hello/", "/2019/05/hello"),
            ("https://old.example/?p=123", "/?p=123"),
            ("https://old.example/?page_id=45&utm=x", "/?page_id=45"),
            ("/?utm_source=x&p=7", "/?p=7"),
            ("/index.php?p=5", "/index.php?p=5"),
            ("/?p=abc", "/"),
            ("/caf%C3%A9/", "/café"),
            ("/a%2fb", "/a%2Fb"),
            ("/old#frag", "/old"),
            ("/", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(from_path(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn hostile_addresses_are_refused() {
        for bad in [
            "//evil.example",
            "\\\\evil.example",
            "/\\evil.example",
            "/a\nb",
            "/a%0Ab",
            "/a/../b",
            "javascript:alert(1)",
            "evil.example",
            "/%ff",
            "http://",
        ] {
            assert!(to_url(bad, &base()).is_err(), "to {bad:?}");
            assert!(from_path(bad).is_err(), "from {bad:?}");
        }
        assert!(to_url(&format!("/{}", "a".repeat(MAX_LEN)), &base()).is_err());
        assert!(to_url("https://u:p@other.example/", &base()).is_err());
    }

    #[test]
    fn targets_on_this_site_become_local() {
        assert_eq!(
            to_url("https://blog.example/posts/hi/?x=1#c", &base()).as_deref(),
            Ok("/posts/hi?x=1#c")
        );
        assert_eq!(
            to_url("https://other.example/posts/hi/", &base()).as_deref(),
            Ok("https://other.example/posts/hi/")
        );
        assert_eq!(to_url("/posts/é", &base()).as_deref(), Ok("/posts/é"));
        assert_eq!(location("/posts/é a").as_deref(), Some("/posts/%C3%A9%20a"));
        assert_eq!(location("//evil.example"), None);
    }

    #[test]
    fn a_redirect_to_itself_or_from_an_unknown_source_is_refused() {
        let same = NewRedirect::parse("/a/", "https://blog.example/a", true, "manual", &base());
        assert!(same.is_err());
        assert!(NewRedirect::parse("/a", "/b", true, "elsewhere", &base()).is_err());
        assert!(NewRedirect::parse("/a", "/b", false, "import:wordpress:x", &base()).is_ok());
    }

    #[test]
    fn requests_look_up_their_path_and_old_post_query() {
        assert_eq!(
            request_keys("/", "p=12&x=1"),
            Some(vec!["/?p=12".into(), "/".into()])
        );
        assert_eq!(request_keys("/old/", ""), Some(vec!["/old".into()]));
        assert_eq!(request_keys("/a/../b", ""), None);
        assert!(names_old_post("p=12") && !names_old_post("page=2"));
    }
}
