//! Ghost's editor documents to HTML, for posts whose export carries no `html`: Lexical
//! (Ghost 5 and later) and Mobiledoc (Ghost 1 to 4). The HTML then goes through
//! `html::html_to_markdown` like any other.
//!
//! Cards Markdown can carry (images, code, galleries, embeds, bookmarks, dividers, HTML and
//! Markdown cards) are rendered; members-only and email-only cards are left out; unknown
//! nodes give their text, and a note. A Markdown card's Markdown is rendered here with
//! pulldown-cmark, so it is read back like the rest of the document.

use std::collections::BTreeSet;

use serde_json::Value;

/// HTML, and what could not be carried over as such.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub notes: Vec<String>,
}

/// Past this depth a document's nodes are read as text (a hostile file must not exhaust the
/// stack).
const MAX_DEPTH: usize = 100;

pub fn lexical_to_html(doc: &Value) -> Result<Rendered, String> {
    let root = doc.get("root").ok_or("a Lexical document has a \"root\"")?;
    let children = root
        .get("children")
        .and_then(Value::as_array)
        .ok_or("a Lexical root has \"children\"")?;
    let mut r = Renderer::default();
    let mut html = String::new();
    for child in children {
        r.lexical(child, 0, &mut html);
    }
    Ok(r.finish(html))
}

pub fn mobiledoc_to_html(doc: &Value) -> Result<Rendered, String> {
    let sections = doc
        .get("sections")
        .and_then(Value::as_array)
        .ok_or("a Mobiledoc document has \"sections\"")?;
    let empty = Vec::new();
    let list = |key: &str| doc.get(key).and_then(Value::as_array).unwrap_or(&empty);
    let (markups, atoms, cards) = (list("markups"), list("atoms"), list("cards"));
    let mut r = Renderer::default();
    let mut html = String::new();
    for section in sections {
        let Some(s) = section.as_array() else {
            continue;
        };
        match s.first().and_then(Value::as_u64) {
            // [1, tag, markers]: a paragraph, heading or quote.
            Some(1) => {
                let tag = match str_at(s, 1).to_ascii_lowercase().as_str() {
                    t @ ("p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote") => {
                        t.to_owned()
                    }
                    "aside" | "pull-quote" => "blockquote".to_owned(),
                    _ => "p".to_owned(),
                };
                html.push_str(&format!("<{tag}>"));
                r.markers(s.get(2), markups, atoms, &mut html);
                html.push_str(&format!("</{tag}>"));
            }
            // [2, src]: an image section (Mobiledoc 0.2).
            Some(2) => html.push_str(&format!(
                "<figure><img src=\"{}\" alt=\"\"></figure>",
                escape(str_at(s, 1))
            )),
            // [3, "ul"|"ol", [markers…]…]: a list.
            Some(3) => {
                let tag = if str_at(s, 1) == "ol" { "ol" } else { "ul" };
                html.push_str(&format!("<{tag}>"));
                for item in s.get(2).and_then(Value::as_array).unwrap_or(&empty) {
                    html.push_str("<li>");
                    r.markers(Some(item), markups, atoms, &mut html);
                    html.push_str("</li>");
                }
                html.push_str(&format!("</{tag}>"));
            }
            // [10, index]: a card.
            Some(10) => {
                let card = s
                    .get(1)
                    .and_then(Value::as_u64)
                    .and_then(|i| cards.get(usize::try_from(i).ok()?))
                    .and_then(Value::as_array);
                if let Some(card) = card {
                    let payload = card.get(1).cloned().unwrap_or(Value::Null);
                    r.card(str_at(card, 0), &payload, &mut html);
                }
            }
            _ => r.note("an unknown Mobiledoc section left out"),
        }
    }
    Ok(r.finish(html))
}

/// A button: a link on a line of its own.
fn button(html: &mut String, url: &str, text: &str) {
    if !url.is_empty() {
        let text = if text.trim().is_empty() { url } else { text };
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(text)
        ));
    }
}

fn str_at(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or("")
}

fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct Renderer {
    notes: BTreeSet<String>,
}

impl Renderer {
    fn note(&mut self, s: impl Into<String>) {
        self.notes.insert(s.into());
    }

    fn finish(self, html: String) -> Rendered {
        Rendered {
            html,
            notes: self.notes.into_iter().collect(),
        }
    }

    /// Mobiledoc markers: `[type, opened markups, closed count, value]` (0.3) or
    /// `[opened markups, closed count, text]` (0.2). Markups open and close as a stack.
    fn markers(
        &mut self,
        markers: Option<&Value>,
        markups: &[Value],
        atoms: &[Value],
        html: &mut String,
    ) {
        let mut open: Vec<String> = Vec::new();
        for m in markers.and_then(Value::as_array).into_iter().flatten() {
            let Some(m) = m.as_array() else { continue };
            let (kind, opened, closed, value) = if m.len() >= 4 {
                (
                    m[0].as_u64().unwrap_or(0),
                    &m[1],
                    m[2].as_u64().unwrap_or(0),
                    &m[3],
                )
            } else if m.len() == 3 {
                (0, &m[0], m[1].as_u64().unwrap_or(0), &m[2])
            } else {
                continue;
            };
            for index in opened.as_array().into_iter().flatten() {
                let markup = index
                    .as_u64()
                    .and_then(|i| markups.get(usize::try_from(i).ok()?))
                    .and_then(Value::as_array);
                let Some(markup) = markup else { continue };
                let tag = match str_at(markup, 0).to_ascii_lowercase().as_str() {
                    t @ ("a" | "b" | "strong" | "em" | "i" | "s" | "del" | "code" | "u" | "sup"
                    | "sub") => t.to_owned(),
                    _ => "span".to_owned(),
                };
                let mut attrs = String::new();
                if tag == "a" {
                    let list = markup.get(1).and_then(Value::as_array);
                    let pairs = list.map(|l| l.chunks(2)).into_iter().flatten();
                    for pair in pairs {
                        if let [k, v] = pair
                            && k.as_str() == Some("href")
                        {
                            attrs = format!(" href=\"{}\"", escape(v.as_str().unwrap_or("")));
                        }
                    }
                }
                html.push_str(&format!("<{tag}{attrs}>"));
                open.push(tag);
            }
            match kind {
                0 => html.push_str(&escape(value.as_str().unwrap_or(""))),
                1 => {
                    let atom = value
                        .as_u64()
                        .and_then(|i| atoms.get(usize::try_from(i).ok()?))
                        .and_then(Value::as_array);
                    match atom {
                        Some(a) if str_at(a, 0) == "soft-return" => html.push_str("<br>"),
                        Some(a) => {
                            self.note(format!("Mobiledoc atom {} kept as its text", str_at(a, 0)));
                            html.push_str(&escape(str_at(a, 1)));
                        }
                        None => {}
                    }
                }
                _ => {}
            }
            for _ in 0..closed {
                if let Some(tag) = open.pop() {
                    html.push_str(&format!("</{tag}>"));
                }
            }
        }
        while let Some(tag) = open.pop() {
            html.push_str(&format!("</{tag}>"));
        }
    }

    /// A Ghost card (Mobiledoc's and Lexical's share their names and fields).
    fn card(&mut self, name: &str, p: &Value, html: &mut String) {
        let caption = |html: &mut String| {
            let c = field(p, "caption");
            if !c.is_empty() {
                // Ghost stores captions as HTML.
                html.push_str(&format!("<figcaption>{c}</figcaption>"));
            }
        };
        match name {
            "image" => {
                let img = format!(
                    "<img src=\"{}\" alt=\"{}\"{}>",
                    escape(field(p, "src")),
                    escape(field(p, "alt")),
                    match field(p, "title") {
                        "" => String::new(),
                        t => format!(" title=\"{}\"", escape(t)),
                    }
                );
                html.push_str("<figure>");
                match field(p, "href") {
                    "" => html.push_str(&img),
                    href => html.push_str(&format!("<a href=\"{}\">{img}</a>", escape(href))),
                }
                caption(html);
                html.push_str("</figure>");
            }
            "gallery" => {
                html.push_str("<figure class=\"kg-gallery-card\">");
                for image in p
                    .get("images")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    html.push_str(&format!(
                        "<figure><img src=\"{}\" alt=\"{}\">",
                        escape(field(image, "src")),
                        escape(field(image, "alt"))
                    ));
                    if !field(image, "caption").is_empty() {
                        html.push_str(&format!(
                            "<figcaption>{}</figcaption>",
                            field(image, "caption")
                        ));
                    }
                    html.push_str("</figure>");
                }
                caption(html);
                html.push_str("</figure>");
            }
            "code" | "codeblock" => {
                let lang = field(p, "language");
                let class = if lang.is_empty() {
                    String::new()
                } else {
                    format!(" class=\"language-{}\"", escape(lang))
                };
                html.push_str(&format!(
                    "<pre><code{class}>{}</code></pre>",
                    escape(field(p, "code"))
                ));
                if !field(p, "caption").is_empty() {
                    html.push_str(&format!("<p><em>{}</em></p>", field(p, "caption")));
                }
            }
            "markdown" | "card-markdown" => {
                let md = field(p, "markdown");
                let parser = pulldown_cmark::Parser::new_ext(
                    md,
                    pulldown_cmark::Options::ENABLE_TABLES
                        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
                        | pulldown_cmark::Options::ENABLE_FOOTNOTES,
                );
                pulldown_cmark::html::push_html(html, parser);
            }
            "html" => html.push_str(field(p, "html")),
            "hr" | "horizontalrule" | "divider" => html.push_str("<hr>"),
            "embed" | "bookmark" | "video" | "audio" | "file" => {
                let url = match field(p, "url") {
                    "" => field(p, "src"),
                    u => u,
                };
                let title = [
                    p.get("metadata").map(|m| field(m, "title")).unwrap_or(""),
                    field(p, "fileTitle"),
                    field(p, "title"),
                    field(p, "fileName"),
                ]
                .into_iter()
                .find(|t| !t.is_empty())
                .unwrap_or(url);
                if !url.is_empty() {
                    html.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>",
                        escape(url),
                        escape(title)
                    ));
                    caption(html);
                    if !field(p, "fileCaption").is_empty() {
                        html.push_str(&format!(
                            "<p><em>{}</em></p>",
                            escape(field(p, "fileCaption"))
                        ));
                    }
                }
            }
            "product" => {
                if !field(p, "productImageSrc").is_empty() {
                    html.push_str(&format!(
                        "<figure><img src=\"{}\" alt=\"\"></figure>",
                        escape(field(p, "productImageSrc"))
                    ));
                }
                html.push_str(&format!(
                    "<p><strong>{}</strong></p>{}",
                    field(p, "productTitle"),
                    field(p, "productDescription")
                ));
                button(html, field(p, "productUrl"), field(p, "productButton"));
            }
            "header" => {
                html.push_str(&format!(
                    "<h2>{}</h2><p>{}</p>",
                    field(p, "header"),
                    field(p, "subheader")
                ));
                if p.get("buttonEnabled").and_then(Value::as_bool) == Some(true) {
                    button(html, field(p, "buttonUrl"), field(p, "buttonText"));
                }
            }
            "call-to-action" => {
                html.push_str(field(p, "textValue"));
                if p.get("showButton").and_then(Value::as_bool) != Some(false) {
                    button(html, field(p, "buttonUrl"), field(p, "buttonText"));
                }
            }
            "signup" => self.note("Ghost's signup form left out"),
            "button" => {
                let url = field(p, "buttonUrl");
                let text = field(p, "buttonText");
                if !url.is_empty() {
                    html.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>",
                        escape(url),
                        escape(text)
                    ));
                }
            }
            "callout" => {
                html.push_str(&format!(
                    "<blockquote>{}</blockquote>",
                    field(p, "calloutText")
                ));
            }
            "toggle" => {
                html.push_str(&format!(
                    "<p><strong>{}</strong></p>{}",
                    field(p, "heading"),
                    field(p, "content")
                ));
            }
            "paywall" => self.note("the members-only divider left out: the whole post is public"),
            "email" | "email-cta" => self.note("email-only content left out"),
            other => {
                self.note(format!("Ghost card \"{other}\" left out"));
                // Whatever text it holds, so nothing written is lost.
                let mut text = Vec::new();
                collect_strings(p, &mut text);
                if !text.is_empty() {
                    html.push_str(&format!("<p>{}</p>", escape(&text.join(" "))));
                }
            }
        }
    }

    fn lexical(&mut self, node: &Value, depth: usize, html: &mut String) {
        if depth > MAX_DEPTH {
            let mut text = Vec::new();
            collect_strings(node, &mut text);
            html.push_str(&escape(&text.join(" ")));
            return;
        }
        let kind = field(node, "type");
        let children = |r: &mut Self, html: &mut String| {
            for child in node
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                r.lexical(child, depth + 1, html);
            }
        };
        let wrapped = |r: &mut Self, html: &mut String, tag: &str| {
            html.push_str(&format!("<{tag}>"));
            children(r, html);
            html.push_str(&format!("</{tag}>"));
        };
        match kind {
            "paragraph" | "extended-paragraph" => wrapped(self, html, "p"),
            "heading" | "extended-heading" => {
                let tag = match field(node, "tag") {
                    t @ ("h1" | "h2" | "h3" | "h4" | "h5" | "h6") => t,
                    _ => "h2",
                };
                wrapped(self, html, tag);
            }
            "quote" | "extended-quote" | "aside" => wrapped(self, html, "blockquote"),
            "list" => {
                let tag = if field(node, "listType") == "number" || field(node, "tag") == "ol" {
                    "ol"
                } else {
                    "ul"
                };
                match node
                    .get("start")
                    .and_then(Value::as_u64)
                    .filter(|s| *s != 1)
                {
                    Some(start) if tag == "ol" => {
                        html.push_str(&format!("<ol start=\"{start}\">"));
                        children(self, html);
                        html.push_str("</ol>");
                    }
                    _ => wrapped(self, html, tag),
                }
            }
            "listitem" => wrapped(self, html, "li"),
            "text" | "extended-text" | "code-highlight" => {
                let format = node.get("format").and_then(Value::as_u64).unwrap_or(0);
                let mut text = escape(field(node, "text"));
                for (bit, tag) in [
                    (16, "code"),
                    (32, "sub"),
                    (64, "sup"),
                    (128, "mark"),
                    (8, "u"),
                    (4, "s"),
                    (2, "em"),
                    (1, "strong"),
                ] {
                    if format & bit != 0 {
                        text = format!("<{tag}>{text}</{tag}>");
                    }
                }
                html.push_str(&text);
            }
            "linebreak" => html.push_str("<br>"),
            "tab" => html.push('\t'),
            "link" | "autolink" => {
                html.push_str(&format!("<a href=\"{}\">", escape(field(node, "url"))));
                children(self, html);
                html.push_str("</a>");
            }
            // Lexical's own code node: its children are highlighted runs and line breaks.
            "code" => {
                let lang = field(node, "language");
                let mut code = String::new();
                for child in node
                    .get("children")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match field(child, "type") {
                        "linebreak" => code.push('\n'),
                        "tab" => code.push('\t'),
                        _ => code.push_str(field(child, "text")),
                    }
                }
                let class = if lang.is_empty() {
                    String::new()
                } else {
                    format!(" class=\"language-{}\"", escape(lang))
                };
                html.push_str(&format!("<pre><code{class}>{}</code></pre>", escape(&code)));
            }
            "horizontalrule" => html.push_str("<hr>"),
            "image" | "gallery" | "codeblock" | "markdown" | "html" | "embed" | "bookmark"
            | "video" | "audio" | "file" | "button" | "callout" | "toggle" | "paywall"
            | "email" | "email-cta" | "product" | "header" | "call-to-action" | "signup" => {
                self.card(kind, node, html)
            }
            "root" => children(self, html),
            other => {
                self.note(format!("Lexical node \"{other}\" kept as its text"));
                if node.get("children").is_some() {
                    wrapped(self, html, "div");
                } else {
                    let mut text = Vec::new();
                    collect_strings(node, &mut text);
                    if !text.is_empty() {
                        html.push_str(&format!("<p>{}</p>", escape(&text.join(" "))));
                    }
                }
            }
        }
    }
}

/// The text fields of an unknown node (`text`, `caption`, …), so nothing written is lost;
/// not `type`, `version`, nor addresses. Iterative: a document may nest without limit.
fn collect_strings(v: &Value, out: &mut Vec<String>) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                let mut nested = Vec::new();
                for (k, v) in map {
                    match v {
                        Value::String(s)
                            if matches!(
                                k.as_str(),
                                "text"
                                    | "caption"
                                    | "title"
                                    | "description"
                                    | "content"
                                    | "heading"
                            ) && !s.trim().is_empty() =>
                        {
                            out.push(s.clone());
                        }
                        Value::Object(_) | Value::Array(_) => nested.push(v),
                        _ => {}
                    }
                }
                stack.extend(nested.into_iter().rev());
            }
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::convert::html_to_markdown;

    fn md_from(r: Result<Rendered, String>) -> String {
        html_to_markdown(&r.expect("renders").html).markdown
    }

    #[test]
    fn mobiledoc_from_ghosts_v2_export_renders() {
        // Ghost's v2 export fixture, "Apps & integrations" (shortened): sections, markups,
        // a Markdown card holding a script.
        let doc: Value = serde_json::from_str(r#"{"version":"0.3.1","atoms":[],"cards":[["markdown",{"markdown":"<script src=\"https://zapier.com/apps/embed/widget.js?services=Ghost&container=true&limit=8\"></script>\n"}]],"markups":[["a",["href","https://zapier.com"]],["strong"],["a",["href","https://themes.ghost.org"]],["em"]],"sections":[[1,"p",[[0,[],0,"There are three primary ways to work with third-party services in Ghost: using Zapier, editing your theme, or using the Ghost API."]]],[1,"h1",[[0,[],0,"Zapier"]]],[1,"p",[[0,[],0,"You can connect your Ghost site to over 1,000 external services using the official integration with "],[0,[0],1,"Zapier"],[0,[],0,"."]]],[1,"blockquote",[[0,[1],1,"Example"],[0,[],0,": When someone new subscribes to a newsletter on a Ghost site (Trigger) then the contact information is automatically pushed into MailChimp (Action)."]]],[10,0],[1,"p",[[0,[],0,"You can integrate "],[0,[3],1,"any"],[0,[],0," front end code."]]],[3,"ul",[[[0,[],0,"Include comments on a Ghost blog with "],[0,[2],1,"Disqus"]],[[0,[],0,"Just about anything"]]]]]}"#).expect("json");
        assert_eq!(
            md_from(mobiledoc_to_html(&doc)),
            "There are three primary ways to work with third-party services in Ghost: using Zapier, editing your theme, or using the Ghost API.\n\n# Zapier\n\nYou can connect your Ghost site to over 1,000 external services using the official integration with [Zapier](https://zapier.com).\n\n> **Example**: When someone new subscribes to a newsletter on a Ghost site (Trigger) then the contact information is automatically pushed into MailChimp (Action).\n\nYou can integrate *any* front end code.\n\n- Include comments on a Ghost blog with [Disqus](https://themes.ghost.org)\n- Just about anything\n"
        );
    }

    #[test]
    fn mobiledoc_cards_from_ghosts_v4_export() {
        // The post "sell": an image card with a link and caption, and the paywall.
        let doc: Value = serde_json::from_str(r#"{"version":"0.3.1","atoms":[["soft-return","",{}]],"cards":[["image",{"src":"https://static.ghost.org/v4.0.0/images/thebrowser.jpg","width":1600,"height":2000,"href":"https://thebrowser.com","caption":"The Browser has over 10,000 paying subscribers"}],["paywall",{}],["code",{"code":"{\n  \"a\": 1\n}","language":"json"}],["nft",{"title":"A thing"}]],"markups":[],"sections":[[10,0],[1,"p",[[0,[],0,"line"],[1,[],0,0],[0,[],0,"next"]]],[10,1],[10,2],[10,3]]}"#).expect("json");
        let r = mobiledoc_to_html(&doc).expect("renders");
        assert_eq!(
            html_to_markdown(&r.html).markdown,
            "[![](https://static.ghost.org/v4.0.0/images/thebrowser.jpg)](https://thebrowser.com)\n\n*The Browser has over 10,000 paying subscribers*\n\nline\\\nnext\n\n```json\n{\n  \"a\": 1\n}\n```\n\nA thing\n"
        );
        assert_eq!(
            r.notes,
            [
                "Ghost card \"nft\" left out",
                "the members-only divider left out: the whole post is public"
            ]
        );
    }

    #[test]
    fn lexical_renders_text_formats_lists_and_cards() {
        let doc: Value = serde_json::from_str(r#"{"root":{"children":[
            {"children":[{"detail":0,"format":1,"mode":"normal","style":"","text":"Bold","type":"extended-text","version":1},{"detail":0,"format":0,"mode":"normal","style":"","text":" and ","type":"extended-text","version":1},{"detail":0,"format":18,"mode":"normal","style":"","text":"code","type":"extended-text","version":1},{"children":[{"detail":0,"format":0,"mode":"normal","style":"","text":"a link","type":"extended-text","version":1}],"direction":"ltr","format":"","indent":0,"type":"link","version":1,"rel":null,"target":null,"title":null,"url":"__GHOST_URL__/about/"}],"direction":"ltr","format":"","indent":0,"type":"paragraph","version":1},
            {"children":[{"detail":0,"format":0,"mode":"normal","style":"","text":"A heading","type":"extended-text","version":1}],"direction":"ltr","format":"","indent":0,"type":"extended-heading","version":1,"tag":"h3"},
            {"children":[{"children":[{"detail":0,"format":0,"mode":"normal","style":"","text":"one","type":"extended-text","version":1}],"direction":"ltr","format":"","indent":0,"type":"listitem","version":1,"value":1},{"children":[{"children":[{"children":[{"detail":0,"format":4,"mode":"normal","style":"","text":"nested","type":"extended-text","version":1}],"type":"listitem","version":1,"value":1}],"type":"list","version":1,"listType":"bullet","start":1,"tag":"ul"}],"type":"listitem","version":1,"value":2}],"direction":"ltr","format":"","indent":0,"type":"list","version":1,"listType":"number","start":1,"tag":"ol"},
            {"type":"codeblock","version":1,"code":"fn main() {}","language":"rust","caption":""},
            {"type":"image","version":1,"src":"__GHOST_URL__/content/images/2023/01/x.jpg","width":100,"height":100,"title":"","alt":"An X","caption":"<span style=\"white-space: pre-wrap;\">Its caption</span>","cardWidth":"regular","href":""},
            {"type":"markdown","version":1,"markdown":"Some *markdown* | with\n\n| a | b |\n|---|---|\n| 1 | 2 |"},
            {"type":"horizontalrule","version":1},
            {"type":"bookmark","version":1,"url":"https://ghost.org/","metadata":{"title":"Ghost","description":"d"},"caption":""},
            {"type":"embed","version":1,"url":"https://www.youtube.com/watch?v=1","html":"<iframe></iframe>","embedType":"video","caption":""},
            {"type":"gallery","version":1,"images":[{"src":"/content/images/a.jpg","alt":"A","caption":""},{"src":"/content/images/b.jpg","alt":"","caption":"B"}],"caption":"Both"},
            {"type":"signup","version":1,"header":"Sign up","subheader":"","buttonText":"Go"}
        ],"direction":"ltr","format":"","indent":0,"type":"root","version":1}}"#).expect("json");
        let r = lexical_to_html(&doc).expect("renders");
        assert_eq!(
            html_to_markdown(&r.html).markdown,
            "**Bold** and *`code`*[a link](__GHOST_URL__/about/)\n\n### A heading\n\n1. one\n2. - ~~nested~~\n\n```rust\nfn main() {}\n```\n\n![An X](__GHOST_URL__/content/images/2023/01/x.jpg)\n\n*Its caption*\n\nSome *markdown* | with\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n---\n\n[Ghost](https://ghost.org/)\n\n[https://www.youtube.com/watch?v=1](https://www.youtube.com/watch?v=1)\n\n![A](/content/images/a.jpg)\n\n![](/content/images/b.jpg)\n\n*B*\n\n*Both*\n"
        );
        assert_eq!(r.notes, ["Ghost's signup form left out"]);
    }

    #[test]
    fn ghosts_golden_post_renders_every_card() -> Result<(), Box<dyn std::error::Error>> {
        // Ghost's own Lexical document with every card (tests/fixtures/ghost/README.md).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ghost/golden-post.lexical.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let r = lexical_to_html(&doc)?;
        let md = html_to_markdown(&r.html).markdown;
        println!("{md}");
        for expected in [
            "This is just a simple paragraph, no frills.\n\n> This is block quote\n\n> This is a...different block quote\n\n## This is a heading!\n\n### Here's a smaller heading.\n\n",
            "![Cows eat grass.](https://upload.wikimedia.org/wikipedia/commons/thumb/8/8c/Cow_%28Fleckvieh_breed%29_Oeschinensee_Slaunger_2009-07-07.jpg/1920px-Cow_%28Fleckvieh_breed%29_Oeschinensee_Slaunger_2009-07-07.jpg)\n\n*A lovely cow*\n\n",
            "# A heading\n\nand a paragraph (in markdown!)\n\nA paragraph inside an HTML card.\n\nAnd another one, with some **bold** text.\n\n---\n\n",
            "*A gallery.*\n\n[Ghost: Independent technology for modern publishing](https://ghost.org)\n\n*My favorite website.*\n\n",
            "[Click me, I'm a button!](https://ghost.org)\n\n> I had an idea...\n\n**Spoiler alert!**\n\nJust kidding\n\n",
            "[Sample](https://main.ghost.org/content/media/2023/12/sample.mp3)\n\n",
            "```javascript\nconsole.log('Hello world!');\n```\n\n*A tiny little script.*\n\n[test](https://main.ghost.org/content/files/2023/11/test.txt)\n\n*A tiny text file.*\n\n",
            "## Good news everyone!\n\nThis header renders properly in *all* email clients!\n\n",
            "Here’s a basic CTA card\n\n[Learn more](https://koenig.ghost.org/)\n",
        ] {
            assert!(md.contains(expected), "{expected:?} in\n{md}");
        }
        // Email-only content is not part of the post on the web.
        assert!(
            !md.contains("electronic mail") && !md.contains("first_name"),
            "{md}"
        );
        assert_eq!(
            r.notes,
            [
                "Ghost's signup form left out",
                "email-only content left out",
                "the members-only divider left out: the whole post is public"
            ]
        );
        Ok(())
    }

    #[test]
    fn malformed_documents_are_refused_and_deep_ones_survive() {
        assert!(lexical_to_html(&serde_json::json!({"nope": 1})).is_err());
        assert!(mobiledoc_to_html(&serde_json::json!([])).is_err());
        let mut deep = serde_json::json!({"type": "text", "text": "deep"});
        for _ in 0..1000 {
            deep = serde_json::json!({"type": "paragraph", "children": [deep]});
        }
        let r = lexical_to_html(&serde_json::json!({"root": {"children": [deep]}}));
        assert!(md_from(r).contains("deep"));
        // Junk in every place.
        let junk = serde_json::json!({"sections": [[1], [10, 99], [3, "ol", [[["x"]]]], "s", [1, "p", [[0, [7], 5, "t"]]]], "markups": 3});
        assert_eq!(md_from(mobiledoc_to_html(&junk)), "t\n");
    }
}
