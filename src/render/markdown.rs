//! Markdown to sanitized HTML, and the facts derived from a post's text.
//!
//! pulldown-cmark renders, ammonia sanitizes: no script, event handler or `javascript:` URL
//! survives. `SafeHtml` is the only type templates print unescaped, and only this module
//! (or a column this module filled) makes one.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    fmt,
    sync::LazyLock,
};

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};

use super::highlight;

/// HTML that went through the sanitizer. Askama prints it as is (it implements `HtmlSafe`).
/// It is read back only from columns this module filled (a `Decode` from the database, a
/// `Deserialize` from JSON the database built), never from a request.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, sqlx::Type, serde::Serialize, serde::Deserialize,
)]
#[sqlx(transparent)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same HTML with the site's own root-relative links and images (`/uploads/…`) made
    /// absolute under `base`, for an email: still sanitized, only prefixed.
    pub fn with_absolute_links(&self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut rest = self.0.as_str();
        while let Some(at) = rest.find("=\"/") {
            let (head, tail) = rest.split_at(at + 2);
            out.push_str(head);
            // `//host` is protocol-relative already: left alone.
            if !tail.starts_with("//") && (head.ends_with(" src=\"") || head.ends_with(" href=\""))
            {
                out.push_str(base);
            }
            rest = tail;
        }
        out.push_str(rest);
        Self(out)
    }
}

impl fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for SafeHtml {}

/// Text with some words marked: everything escaped except the `<mark>` elements this type
/// adds itself. Made from database text whose matches PostgreSQL wrapped in `\u{1}` and
/// `\u{2}` (characters no stored text contains), with `<`, `>` and `&` as U+E000–U+E002.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Highlighted(String);

impl Highlighted {
    pub fn from_marked(marked: &str) -> Self {
        let mut html = String::with_capacity(marked.len() + 32);
        let mut open = false;
        for c in marked.chars() {
            match c {
                '\u{1}' if !open => {
                    html.push_str("<mark>");
                    open = true;
                }
                '\u{2}' if open => {
                    html.push_str("</mark>");
                    open = false;
                }
                // The database's stand-ins for `<`, `>` and `&` (see `search_display`).
                '&' | '\u{E002}' => html.push_str("&amp;"),
                '<' | '\u{E000}' => html.push_str("&lt;"),
                '>' | '\u{E001}' => html.push_str("&gt;"),
                '"' => html.push_str("&quot;"),
                '\'' => html.push_str("&#39;"),
                c if c.is_control() && c != '\n' => {}
                c => html.push(c),
            }
        }
        if open {
            html.push_str("</mark>");
        }
        Self(html)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Highlighted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Highlighted {}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
}

/// The sanitizer: ammonia's conservative defaults, plus the classes pulldown-cmark puts on
/// fenced code (`language-rust`) so a stylesheet can colour them. Links' `rel` is the
/// author's qualifiers only (`AUTHOR_REL`); `finish` adds the site's own afterwards.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tag_attributes("input", ["type", "checked", "disabled", "aria-label"])
        .add_tags(["input"])
        .add_allowed_classes("code", LANGUAGE_CLASSES.iter().copied())
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        // Not ammonia's `link_rel`, which gives every link the same `rel` (and then refuses
        // to keep an author's): internal links must carry no `nofollow` (issue 27, item 10).
        .link_rel(None)
        .add_tag_attributes("a", ["rel", "aria-label"])
        // Footnotes link to ids; every id an author writes gets the prefix, so none can
        // take the name of one of the page's own.
        .add_tag_attributes("div", ["id"])
        .add_tag_attributes("a", ["id"])
        .id_prefix(Some(ID_PREFIX))
        .add_allowed_classes("div", ["footnote-definition"])
        .add_allowed_classes("sup", ["footnote-reference", "footnote-definition-label"])
        // Highlighted code's spans keep their `hl-` classes and nothing else.
        .add_tag_attributes("span", ["class"])
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("span", "class") => {
                let kept: Vec<&str> = value
                    .split_ascii_whitespace()
                    .filter(|c| c.starts_with(highlight::CLASS_PREFIX))
                    .collect();
                (!kept.is_empty()).then(|| kept.join(" ").into())
            }
            ("a", "rel") => {
                let kept: Vec<String> = value
                    .split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .filter(|r| AUTHOR_REL.contains(&r.as_str()))
                    .collect();
                (!kept.is_empty()).then(|| kept.join(" ").into())
            }
            _ => Some(value.into()),
        });
    b
});

const ID_PREFIX: &str = "user-content-";

/// The link qualifiers an author may put on a link they write as HTML
/// (`<a href="…" rel="sponsored">`): search engines' words for "don't vouch for this".
/// Markdown links carry none, so an author's links are followed unless they choose.
const AUTHOR_REL: &[&str] = &["nofollow", "sponsored", "ugc"];

/// What every link off the site carries besides the author's qualifiers: the page it opens
/// gets no handle on this one, and no `Referer`.
const EXTERNAL_REL: &str = "noopener noreferrer";

const LANGUAGE_CLASSES: &[&str] = &[
    "language-rust",
    "language-sql",
    "language-toml",
    "language-sh",
    "language-bash",
    "language-shell",
    "language-js",
    "language-javascript",
    "language-ts",
    "language-typescript",
    "language-python",
    "language-go",
    "language-html",
    "language-css",
    "language-json",
    "language-yaml",
    "language-text",
    "language-diff",
    "language-c",
    "language-cpp",
];

/// Render a post body (the full CommonMark set plus tables, footnotes, task lists).
/// CPU-bound: in a request, call it through `render_off_thread`.
pub fn render(markdown: &str) -> SafeHtml {
    let markdown = limit_nesting(markdown);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(
        &mut raw,
        with_task_labels(with_highlighting(with_footnote_ids(Parser::new_ext(
            &markdown,
            options(),
        )))),
    );
    SafeHtml(finish(&SANITIZER.clean(&raw).to_string(), Links::Post))
}

/// Fenced code in a language syntect knows, highlighted (see `highlight`), up to
/// `highlight::MAX_POST_BYTES` of code a post; other code blocks as they were.
fn with_highlighting<'a>(
    events: impl Iterator<Item = Event<'a>>,
) -> impl Iterator<Item = Event<'a>> {
    // The open fenced block: its info string and its text so far.
    let mut open: Option<(CowStr<'a>, String)> = None;
    let mut budget = highlight::MAX_POST_BYTES;
    events.flat_map(move |event| -> Vec<Event<'a>> {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if open.is_none() && highlight::language(&info).is_some() =>
            {
                open = Some((info, String::new()));
                Vec::new()
            }
            Event::Text(text) if open.is_some() => {
                if let Some((_, code)) = open.as_mut() {
                    code.push_str(&text);
                }
                Vec::new()
            }
            Event::End(TagEnd::CodeBlock) if open.is_some() => {
                let Some((info, code)) = open.take() else {
                    return Vec::new();
                };
                let language = highlight::language(&info).unwrap_or_default();
                let html = (code.len() <= budget)
                    .then(|| highlight::code(language, &code))
                    .flatten();
                match html {
                    Some(html) => {
                        budget -= code.len();
                        vec![Event::Html(CowStr::from(format!(
                            "<pre><code class=\"language-{language}\">{html}</code></pre>\n"
                        )))]
                    }
                    None => vec![
                        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))),
                        Event::Text(CowStr::from(code)),
                        Event::End(TagEnd::CodeBlock),
                    ],
                }
            }
            other => vec![other],
        }
    })
}

/// `render` on a render thread (`budget::off_thread`), so a long post never stalls the
/// async workers that serve readers.
pub async fn render_off_thread(markdown: String) -> SafeHtml {
    // If rendering panicked (a parser bug), show nothing rather than take the request down.
    super::budget::off_thread(move || render(&markdown))
        .await
        .unwrap_or_default()
}

/// Footnote references and definitions with ids the sanitizer keeps (`user-content-fn-…`),
/// numbered in order of first appearance, as pulldown-cmark numbers them.
fn with_footnote_ids<'a>(events: Parser<'a>) -> impl Iterator<Item = Event<'a>> {
    let mut numbers: HashMap<CowStr<'a>, usize> = HashMap::new();
    events.map(move |event| {
        let mut number = |name: &CowStr<'a>| {
            let next = numbers.len() + 1;
            *numbers.entry(name.clone()).or_insert(next)
        };
        match event {
            Event::FootnoteReference(name) => {
                let n = number(&name);
                let id = escape_attr(&name);
                Event::InlineHtml(CowStr::from(format!(
                    "<sup class=\"footnote-reference\"><a href=\"#{ID_PREFIX}fn-{id}\" \
                     id=\"{ID_PREFIX}fnref-{id}\" aria-label=\"Footnote {n}\">{n}</a></sup>"
                )))
            }
            Event::Start(Tag::FootnoteDefinition(name)) => {
                let n = number(&name);
                let id = escape_attr(&name);
                Event::Html(CowStr::from(format!(
                    "<div class=\"footnote-definition\" id=\"{ID_PREFIX}fn-{id}\">\
                     <sup class=\"footnote-definition-label\">\
                     <a href=\"#{ID_PREFIX}fnref-{id}\" aria-label=\"Back to the text of footnote {n}\">{n}</a></sup>\n"
                )))
            }
            Event::End(TagEnd::FootnoteDefinition) => Event::Html(CowStr::from("</div>\n")),
            other => other,
        }
    })
}

/// Task-list checkboxes named by their item's text (`aria-label`): a checkbox without a name
/// is announced as "checkbox, not checked" and nothing more (issue 27, item 4). They stay
/// disabled: a post's list is not a form.
fn with_task_labels<'a>(
    events: impl Iterator<Item = Event<'a>>,
) -> impl Iterator<Item = Event<'a>> {
    let events: Vec<Event<'a>> = events.collect();
    // Each marker's label, read ahead first, so the events then move out without clones.
    let mut labels: Vec<String> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::TaskListMarker(_)))
        .map(|(i, _)| item_text(&events[i + 1..]))
        .collect();
    labels.reverse();
    events.into_iter().map(move |event| match event {
        Event::TaskListMarker(checked) => {
            let label = labels.pop().unwrap_or_default();
            Event::InlineHtml(CowStr::from(format!(
                "<input type=\"checkbox\" disabled=\"\"{} aria-label=\"{}\">",
                if checked { " checked=\"\"" } else { "" },
                escape_text(&label)
            )))
        }
        other => other,
    })
}

/// The text of a list item after its task marker, up to its end or its first nested list,
/// on one line and at most `MAX` characters.
fn item_text(events: &[Event<'_>]) -> String {
    const MAX: usize = 150;
    let mut text = String::new();
    let mut depth = 0usize;
    for event in events {
        match event {
            Event::Start(Tag::List(_)) => break,
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => break,
            Event::End(_) => depth -= 1,
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
        if text.len() > MAX * 4 {
            break;
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.is_empty() {
        true => "Task".to_owned(),
        false => truncate_words(&text, MAX),
    }
}

/// Text for an attribute or an element: the characters HTML gives meaning escaped.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whose links `finish` is placing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    /// An author's: `rel` by where the link goes (`link_rel`).
    Post,
    /// A commenter's: the comment sanitizer gave each `nofollow ugc` already.
    Comment,
}

/// The last touches on sanitized HTML, which the sanitizer can't make: each link's `rel` by
/// where it goes, and every `<pre>` focusable (`tabindex="0"`), so a reader without a mouse
/// can scroll a wide code block (WCAG 2.1.1). The sanitizer never lets an author's
/// `tabindex` through; this adds it in one shape, on `pre` only.
///
/// Reads ammonia's output, which html5ever serialized: text has every `<` escaped and
/// attribute values are always double-quoted with `"` escaped, so outside a quoted value a
/// `<` always starts a tag.
fn finish(html: &str, links: Links) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tag_end(tail);
        let tag = &tail[..end];
        if tag.starts_with("<pre>") || tag.starts_with("<pre ") {
            out.push_str("<pre tabindex=\"0\"");
            out.push_str(&tag[4..]);
        } else if links == Links::Post && tag.starts_with("<a ") {
            out.push_str(&with_rel(tag));
        } else {
            out.push_str(tag);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where the tag starting `html` ends: just past its `>`, skipping quoted values.
fn tag_end(html: &str) -> usize {
    let mut quoted = false;
    for (i, b) in html.bytes().enumerate().skip(1) {
        match b {
            b'"' => quoted = !quoted,
            b'>' if !quoted => return i + 1,
            _ => {}
        }
    }
    html.len()
}

/// An author's `<a …>` start tag with its `rel` made from the author's qualifiers (the
/// sanitizer kept only `AUTHOR_REL`'s) and, for a link off the site, `EXTERNAL_REL`.
fn with_rel(tag: &str) -> String {
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    let mut rest = tag["<a".len()..].trim_end_matches('>');
    loop {
        rest = rest.trim_start();
        let Some((name, after)) = rest.split_once("=\"") else {
            break;
        };
        let Some((value, after)) = after.split_once('"') else {
            break;
        };
        attrs.push((name, value));
        rest = after;
    }
    let author = attrs
        .iter()
        .find(|(n, _)| *n == "rel")
        .map_or("", |(_, v)| *v);
    let rel = match attrs.iter().find(|(n, _)| *n == "href") {
        Some((_, href)) if leaves_the_site(href) => match author {
            "" => EXTERNAL_REL.to_owned(),
            author => format!("{EXTERNAL_REL} {author}"),
        },
        _ => author.to_owned(),
    };
    let mut out = String::from("<a");
    for (name, value) in attrs.iter().filter(|(n, _)| *n != "rel") {
        out.push_str(&format!(" {name}=\"{value}\""));
    }
    if !rel.is_empty() {
        out.push_str(&format!(" rel=\"{rel}\""));
    }
    out.push('>');
    out
}

/// Whether a link leaves the site: it names a scheme (`https:`, `mailto:`) or a host
/// (`//cdn.example`). A path, a query or a fragment stays. An absolute link to the site's own
/// address counts as leaving: it gets `noopener`, never `nofollow`, so it is still followed.
fn leaves_the_site(href: &str) -> bool {
    if href.starts_with("//") {
        return true;
    }
    let head = href.split(['/', '?', '#']).next().unwrap_or_default();
    head.contains(':')
}

/// A footnote label as an id: characters that could end the attribute become `-`.
fn escape_attr(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Deeper than this, list and quote markers at the start of a line are taken as text.
/// Parsing `- - - - …` costs time quadratic in the depth; no real text nests this far.
pub const MAX_NESTING: usize = 32;

/// Escape the container markers (`>`, `-`, `*`, `+`, `1.`) of a line past `MAX_NESTING`.
fn limit_nesting(markdown: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut done = 0; // bytes of `markdown` already copied to `out`
    let mut line_start = 0;
    for line in markdown.split_inclusive('\n') {
        if let Some(at) = too_deep_at(line) {
            let out = out.get_or_insert_with(|| String::with_capacity(markdown.len() + 64));
            out.push_str(&markdown[done..line_start + at]);
            out.push('\\');
            done = line_start + at;
        }
        line_start += line.len();
    }
    match out {
        None => Cow::Borrowed(markdown),
        Some(mut out) => {
            out.push_str(&markdown[done..]);
            Cow::Owned(out)
        }
    }
}

/// Where in `line` the marker one past `MAX_NESTING` starts, if the line nests that deep.
fn too_deep_at(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let (mut i, mut depth) = (0, 0);
    loop {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let start = i;
        let end = match b.get(i)? {
            b'>' => i + 1,
            b'-' | b'*' | b'+' if matches!(b.get(i + 1), Some(b' ' | b'\t')) => i + 1,
            b'0'..=b'9' => {
                let mut j = i;
                while j - i < 9 && b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                if matches!(b.get(j), Some(b'.' | b')'))
                    && matches!(b.get(j + 1), Some(b' ' | b'\t'))
                {
                    j + 1
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        depth += 1;
        if depth > MAX_NESTING {
            return Some(start);
        }
        i = end;
    }
}

/// Comments get a smaller set: text, emphasis, code, quotes, lists and links. No images,
/// headings or tables, so a comment can't dress up as the post.
static COMMENT_SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(HashSet::from([
        "p",
        "br",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
    ]))
    .link_rel(Some("noopener noreferrer nofollow ugc"))
    .url_schemes(HashSet::from(["http", "https", "mailto"]))
    .add_tag_attributes("a", ["href"]);
    b
});

/// Render a comment: the Markdown subset above, sanitized.
pub fn render_comment(markdown: &str) -> SafeHtml {
    let markdown = limit_nesting(markdown);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(
        &mut raw,
        Parser::new_ext(&markdown, Options::ENABLE_STRIKETHROUGH),
    );
    SafeHtml(finish(
        &COMMENT_SANITIZER.clean(&raw).to_string(),
        Links::Comment,
    ))
}

/// Words per minute used for reading time; the figure Medium and Ghost use.
const WORDS_PER_MINUTE: usize = 265;

/// Reading time in whole minutes, at least 1. Counts words of text, not of markup.
pub fn reading_minutes(markdown: &str) -> i32 {
    let markdown = limit_nesting(markdown);
    let words: usize = Parser::new_ext(&markdown, options())
        .map(|e| match e {
            Event::Text(t) | Event::Code(t) => t.split_whitespace().count(),
            _ => 0,
        })
        .sum();
    let minutes = words.div_ceil(WORDS_PER_MINUTE).max(1);
    i32::try_from(minutes).unwrap_or(i32::MAX)
}

/// The text of a Markdown document without its markup, for the search index: words of
/// text and code, blocks separated by newlines. No HTML written in the Markdown survives.
pub fn plain_text(markdown: &str) -> String {
    let markdown = limit_nesting(markdown);
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(&markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            // A block ends with a line break; inline ends (emphasis, links) add nothing.
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::TableCell
                | TagEnd::FootnoteDefinition,
            ) if !text.ends_with('\n') && !text.is_empty() => text.push('\n'),
            _ => {}
        }
    }
    text.truncate(text.trim_end().len());
    text
}

/// A plain-text excerpt: the first paragraph's text, cut at a word boundary near `max` chars.
pub fn excerpt(markdown: &str, max: usize) -> String {
    let mut text = String::new();
    let mut in_paragraph = false;
    let markdown = limit_nesting(markdown);
    for event in Parser::new_ext(&markdown, options()) {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = true,
            Event::End(TagEnd::Paragraph) if !text.trim().is_empty() => break,
            Event::End(TagEnd::Paragraph) => in_paragraph = false,
            Event::Text(t) | Event::Code(t) if in_paragraph => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if in_paragraph => text.push(' '),
            _ => {}
        }
    }
    truncate_words(text.trim(), max)
}

/// Cut `s` to at most `max` characters at a word boundary, adding an ellipsis if cut.
pub fn truncate_words(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::SafeHtml;

    #[test]
    fn links_for_email_are_made_absolute_and_only_the_sites_own() {
        let html = SafeHtml(
            r#"<p><a href="/posts/a">a</a> <img src="/uploads/x.png" alt=""> <a href="//cdn.example/y">y</a> <a href="https://e.example/z">z</a> <code>x="/not-a-link"</code></p>"#.into(),
        );
        assert_eq!(
            html.with_absolute_links("https://blog.example/").as_str(),
            r#"<p><a href="https://blog.example/posts/a">a</a> <img src="https://blog.example/uploads/x.png" alt=""> <a href="//cdn.example/y">y</a> <a href="https://e.example/z">z</a> <code>x="/not-a-link"</code></p>"#
        );
    }

    use super::*;

    #[test]
    fn plain_text_keeps_words_and_drops_markup() {
        let text = plain_text(
            "# Title\n\nSome *emphasis* and `code <b>`.\n\n<div onclick=x>raw html</div>\n\n- one\n- two",
        );
        assert!(text.contains("Title"), "{text}");
        assert!(text.contains("Some emphasis and code <b>."), "{text}");
        assert!(!text.contains('*') && !text.contains('#'), "{text}");
        assert!(
            !text.contains("onclick") && !text.contains("<div"),
            "{text}"
        );
        assert!(text.contains("one\ntwo"), "{text}");
    }

    #[test]
    fn highlighted_text_escapes_everything_but_its_marks() {
        let h = Highlighted::from_marked("a \u{1}<b>\u{2} & \u{E000}x\u{E001} \"q\" '\u{1}open");
        assert_eq!(
            h.as_str(),
            "a <mark>&lt;b&gt;</mark> &amp; &lt;x&gt; &quot;q&quot; &#39;<mark>open</mark>"
        );
        // A stray close marker or control character is dropped, never printed.
        assert_eq!(Highlighted::from_marked("x\u{2}y\u{7}").as_str(), "xy");
    }

    #[test]
    fn renders_the_common_constructs() {
        let md = "# Title\n\nSome *em* and **strong**.\n\n- a\n- b\n\n1. one\n\n\
                  [link](https://example.com) ![alt](/static/img/x.svg)\n\n\
                  | a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n\n> quoted\n";
        let html = render(md);
        let h = html.as_str();
        for needle in [
            "<h1>Title</h1>",
            "<em>em</em>",
            "<strong>strong</strong>",
            "<ul>",
            "<ol>",
            "<table>",
            "<blockquote>",
            r#"<code class="language-rust">"#,
            r#"<img src="/static/img/x.svg" alt="alt">"#,
            r#"href="https://example.com""#,
        ] {
            assert!(h.contains(needle), "missing {needle} in {h}");
        }
    }

    #[test]
    fn fenced_code_is_highlighted_with_classes_only() {
        let html =
            render("```rust\nfn main() { println!(\"<hi>\"); }\n```\n\n```klingon\nqapla'\n```\n");
        let h = html.as_str();
        assert!(
            h.contains(r#"<code class="language-rust"><span class="hl-"#),
            "{h}"
        );
        assert!(h.contains("&lt;hi&gt;"), "{h}");
        assert!(!h.contains("style="), "classes, not inline styles: {h}");
        // An unknown language stays plain.
        assert!(
            h.contains("<pre tabindex=\"0\"><code class=\"\">qapla'")
                || h.contains("<pre tabindex=\"0\"><code>qapla'"),
            "{h}"
        );
        // A span an author writes keeps only highlighting classes, and no handler.
        let html = render("<span class=\"viewer hl-keyword\" onclick=\"x()\">x</span>");
        assert!(
            html.as_str()
                .contains(r#"<span class="hl-keyword">x</span>"#),
            "{html}"
        );
        let html = render("<span class=\"viewer\">x</span>");
        assert!(html.as_str().contains("<span>x</span>"), "{html}");
    }

    #[test]
    fn a_post_s_code_is_highlighted_up_to_a_budget() {
        let block = format!("```rust\n{}```\n\n", "let x = 1;\n".repeat(5_000));
        let html = render(&block.repeat(8));
        let highlighted = html
            .as_str()
            .matches(r#"<code class="language-rust"><span"#)
            .count();
        assert!(
            (1..8).contains(&highlighted),
            "{highlighted} of 8 blocks highlighted"
        );
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_do_not_survive() {
        let md = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n\
                  [click](javascript:alert(1))\n\n<a href=\"JaVaScRiPt:alert(1)\">x</a>\n\n\
                  <iframe src=\"https://evil\"></iframe><div onclick=\"x()\" style=\"a\">d</div>\n\n\
                  ```evil\" onmouseover=\"x\ncode\n```\n";
        let h = render(md).as_str().to_ascii_lowercase();
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "<iframe",
            "onclick",
            "onmouseover",
            "style=",
        ] {
            assert!(!h.contains(bad), "{bad} survived: {h}");
        }
    }

    #[test]
    fn comments_keep_text_but_lose_images_headings_and_scripts() {
        let h = render_comment(
            "# Big\n\n*ok* ![i](/x.png) <script>x</script> [l](javascript:y) [m](https://a.example)",
        );
        let h = h.as_str();
        assert!(h.contains("<em>ok</em>"), "{h}");
        for bad in ["<h1", "<img", "<script", "javascript:"] {
            assert!(!h.contains(bad), "{bad}: {h}");
        }
        assert!(h.contains("ugc"), "{h}");
    }

    #[test]
    fn footnotes_link_both_ways_with_prefixed_ids() {
        let h = render("Text[^note] and <span id=\"main\">x</span>.\n\n[^note]: The note.\n");
        let h = h.as_str();
        assert!(h.contains(r##"href="#user-content-fn-note""##), "{h}");
        assert!(h.contains(r#"id="user-content-fn-note""#), "{h}");
        assert!(h.contains(r#"id="user-content-fnref-note""#), "{h}");
        assert!(h.contains(r##"href="#user-content-fnref-note""##), "{h}");
        assert!(!h.contains(r#"id="main""#), "{h}");
    }

    #[test]
    fn nesting_is_bounded_and_ordinary_lists_are_untouched() {
        let attack = "- ".repeat(8000) + "x";
        let h = render(&attack);
        assert_eq!(h.as_str().matches("<ul>").count(), MAX_NESTING, "capped");
        let quotes = ">".repeat(5000) + " x";
        assert_eq!(
            render(&quotes).as_str().matches("<blockquote>").count(),
            MAX_NESTING
        );
        let ordinary = "- a\n  - b\n    1. c\n\n> > quoted\n";
        assert!(matches!(limit_nesting(ordinary), Cow::Borrowed(_)));
    }

    #[test]
    fn links_carry_nofollow_only_where_the_author_asks() {
        let h = render(
            "[out](https://example.com) [in](/posts/a) [here](#x) [rel](other?q=1) \
             [cdn](//cdn.example/x) [mail](mailto:a@example.com)\n\n\
             <a href=\"https://ad.example\" rel=\"Sponsored noopener me\" title=\"a > b\">ad</a> \
             <a href=\"/tag\" rel=\"nofollow\">own</a> <a id=\"anchor\">x</a>",
        );
        let page = scraper::Html::parse_fragment(h.as_str());
        let rel_of = |text: &str| {
            let a = scraper::Selector::parse("a").unwrap();
            page.select(&a)
                .find(|a| a.text().collect::<String>() == text)
                .map(|a| a.value().attr("rel").unwrap_or("").to_owned())
                .unwrap()
        };
        assert_eq!(rel_of("out"), "noopener noreferrer", "{h}");
        assert_eq!(rel_of("in"), "", "{h}");
        assert_eq!(rel_of("here"), "", "{h}");
        assert_eq!(rel_of("rel"), "", "{h}");
        assert_eq!(rel_of("cdn"), "noopener noreferrer", "{h}");
        assert_eq!(rel_of("mail"), "noopener noreferrer", "{h}");
        assert_eq!(rel_of("ad"), "noopener noreferrer sponsored", "{h}");
        assert_eq!(rel_of("own"), "nofollow", "{h}");
        assert_eq!(rel_of("x"), "", "{h}");
        assert!(h.as_str().contains(r#"title="a &gt; b""#), "{h}");
    }

    #[test]
    fn code_blocks_are_focusable_and_only_this_way() {
        let h = render(
            "```rust\nfn main() {}\n```\n\n    indented\n\n<pre tabindex=\"5\">raw</pre>\n\n<div tabindex=\"0\">d</div>",
        );
        let h = h.as_str();
        assert_eq!(h.matches("<pre tabindex=\"0\">").count(), 3, "{h}");
        assert_eq!(h.matches("tabindex").count(), 3, "{h}");
        let c = render_comment("```\nwide\n```\n\n[x](/posts/a)");
        assert!(c.as_str().contains("<pre tabindex=\"0\">"), "{c}");
        assert!(c.as_str().contains("nofollow ugc"), "{c}");
    }

    #[test]
    fn task_list_checkboxes_are_named_by_their_text_and_stay_disabled() {
        let h = render(
            "- [ ] Write the *draft* `now`\n- [x] Say \"hi\" & <go>\n  - [ ] nested\n- [ ]\n",
        );
        let h = h.as_str();
        assert!(
            h.contains(r#"<input type="checkbox" disabled="" aria-label="Write the draft now">"#),
            "{h}"
        );
        assert!(
            h.contains(r#"checked="" aria-label="Say “hi” &amp;">"#),
            "{h}"
        );
        assert!(h.contains(r#"aria-label="nested""#), "{h}");
        assert!(h.contains(r#"aria-label="Task""#), "{h}");
        assert_eq!(h.matches("disabled").count(), 4, "{h}");
    }

    #[test]
    fn reading_time_counts_words_and_is_at_least_one_minute() {
        assert_eq!(reading_minutes(""), 1);
        assert_eq!(reading_minutes(&"word ".repeat(265)), 1);
        assert_eq!(reading_minutes(&"word ".repeat(266)), 2);
        assert_eq!(reading_minutes(&"word ".repeat(1000)), 4);
    }

    #[test]
    fn excerpt_takes_the_first_paragraph_as_text() {
        let md = "# Heading\n\nFirst *paragraph* with `code`.\n\nSecond.";
        assert_eq!(excerpt(md, 200), "First paragraph with code.");
    }

    #[test]
    fn truncation_cuts_at_a_word_and_adds_an_ellipsis() {
        assert_eq!(truncate_words("short", 10), "short");
        assert_eq!(truncate_words("hello wonderful world", 12), "hello…");
        assert_eq!(truncate_words("ééééé ééééé ééééé", 13), "ééééé ééééé…");
    }
}
