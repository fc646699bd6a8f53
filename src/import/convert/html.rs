//! HTML to CommonMark/GFM, for imported posts (WordPress's rendered content, Ghost's `html`).
//!
//! The HTML is parsed by html5ever (through scraper, the parser ammonia already uses), so
//! broken markup is repaired the way browsers repair it; then the tree is walked once. Blocks
//! become Markdown blocks separated by blank lines; text is escaped so it reads as typed.
//! What Markdown can't say is kept as its text; scripts, styles and forms are dropped,
//! frames and embedded media become links to their address. The result still goes through
//! Quire's sanitizer when the post is written: this module only aims for clean Markdown.

use std::collections::BTreeSet;

use scraper::{ElementRef, Html, Node};

type NodeRef<'a> = ego_tree::NodeRef<'a, Node>;

/// Markdown, and what could not be carried over as such (for the import's report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    pub markdown: String,
    pub notes: Vec<String>,
}

/// Deeper than this, elements are read as plain text: a hostile file of nested `<div>`s must
/// not exhaust the stack.
const MAX_DEPTH: usize = 120;

/// Deeper than this (estimated before parsing), the HTML is kept as its text: html5ever's
/// tree builder, like a browser's, slows quadratically with the depth of open elements.
const MAX_NESTING: usize = 1500;

pub fn html_to_markdown(html: &str) -> Converted {
    if nesting(html) > MAX_NESTING {
        let text = escape_text(&collapse(&strip_tags(html)));
        let mut markdown = text.trim().to_owned();
        if !markdown.is_empty() {
            markdown.push('\n');
        }
        return Converted {
            markdown,
            notes: vec![format!(
                "the HTML nests more than {MAX_NESTING} elements deep: kept as plain text"
            )],
        };
    }
    let doc = Html::parse_fragment(html);
    let mut w = Walker::default();
    let blocks = w.blocks(*doc.root_element(), 0);
    let mut markdown = join_blocks(&blocks, false);
    if !markdown.is_empty() {
        markdown.push('\n');
    }
    Converted {
        markdown,
        notes: w.notes.into_iter().collect(),
    }
}

/// How deep elements nest, counting start tags of elements that can contain others, less
/// end tags (elements the parser closes by itself, `<p>`, `<li>`, are not counted).
fn nesting(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + at + 1;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = if closing { start + 1 } else { start };
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let end = bytes[name_start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(bytes.len(), |e| name_start + e);
        i = end.min(bytes.len().saturating_sub(1)).max(start);
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            if end >= bytes.len() {
                break;
            }
            continue;
        }
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        let opens_nothing = matches!(
            name.as_str(),
            "area"
                | "base"
                | "br"
                | "col"
                | "embed"
                | "hr"
                | "img"
                | "input"
                | "link"
                | "meta"
                | "param"
                | "source"
                | "track"
                | "wbr"
                | "p"
                | "li"
                | "dt"
                | "dd"
                | "tr"
                | "td"
                | "th"
                | "option"
                | "optgroup"
                | "thead"
                | "tbody"
                | "tfoot"
        );
        if closing {
            depth = depth.saturating_sub(usize::from(!opens_nothing));
        } else if !opens_nothing && bytes.get(end.wrapping_sub(1)) != Some(&b'/') {
            depth += 1;
            deepest = deepest.max(depth);
        }
        if end >= bytes.len() {
            break;
        }
    }
    deepest
}

/// The text of some HTML without parsing it: tags dropped, the common references decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Inline content between blocks (no `<p>`): joined tightly to a following list.
    Loose,
    List,
    Other,
}

struct Block {
    text: String,
    kind: Kind,
}

fn join_blocks(blocks: &[Block], in_item: bool) -> String {
    let mut out = String::new();
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            // "text<ul>…" inside a list item stays a tight nested list.
            let tight = in_item && b.kind == Kind::List && blocks[i - 1].kind == Kind::Loose;
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        out.push_str(&b.text);
    }
    out
}

/// Elements that always start a block of their own.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "main"
            | "aside"
            | "nav"
            | "address"
            | "center"
            | "hgroup"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "menu"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "table"
            | "hr"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
            | "fieldset"
            | "legend"
            | "caption"
            | "iframe"
            | "embed"
            | "object"
            | "video"
            | "audio"
            | "body"
            | "html"
    )
}

/// Elements dropped with everything in them.
fn is_dropped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "head"
            | "title"
            | "meta"
            | "link"
            | "base"
            | "form"
            | "input"
            | "select"
            | "textarea"
            | "button"
            | "svg"
            | "math"
            | "canvas"
            | "map"
            | "param"
            | "track"
            | "source"
    )
}

#[derive(Default)]
struct Walker {
    notes: BTreeSet<String>,
    /// Emphasis already open (`<i><em>x</em></i>` is `*x*`, not `**x**`): strong, em, del.
    open: [usize; 3],
}

impl Walker {
    fn note(&mut self, s: impl Into<String>) {
        self.notes.insert(s.into());
    }

    /// The children of `node` as Markdown blocks.
    fn blocks(&mut self, node: NodeRef<'_>, depth: usize) -> Vec<Block> {
        let mut out = Vec::new();
        let mut inline = String::new();
        if depth > MAX_DEPTH {
            push_paragraph(
                &mut out,
                &escape_text(&collapse(&text_of(node))),
                Kind::Loose,
            );
            return out;
        }
        for child in node.children() {
            match child.value() {
                Node::Text(t) => inline.push_str(&escape_text(&collapse(&t.text))),
                Node::Element(e) => {
                    let name = e.name();
                    if is_dropped(name) {
                        self.dropped(name);
                    } else if is_block(name) || (!is_inline(name) && has_block(child, depth)) {
                        flush(&mut out, &mut inline);
                        self.block(child, name, depth + 1, &mut out);
                    } else {
                        self.inline(child, depth + 1, &mut inline);
                    }
                }
                _ => {}
            }
        }
        flush(&mut out, &mut inline);
        out
    }

    fn dropped(&mut self, name: &str) {
        if matches!(
            name,
            "script" | "style" | "form" | "svg" | "math" | "canvas"
        ) {
            self.note(format!("<{name}> left out"));
        }
    }

    fn block(&mut self, node: NodeRef<'_>, name: &str, depth: usize, out: &mut Vec<Block>) {
        let Some(el) = ElementRef::wrap(node) else {
            return;
        };
        if is_gallery(&el) {
            self.gallery(node, depth, out);
            return;
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(name.as_bytes()[1] - b'0');
                let text = one_line(&self.inline_of(node, depth));
                if !text.is_empty() {
                    out.push(Block {
                        text: format!("{} {}", "#".repeat(level), text),
                        kind: Kind::Other,
                    });
                }
            }
            "p" => {
                let text = self.inline_of(node, depth);
                push_paragraph(out, &text, Kind::Other);
            }
            "hr" => out.push(Block {
                text: "---".into(),
                kind: Kind::Other,
            }),
            "pre" => out.push(Block {
                text: code_block(node),
                kind: Kind::Other,
            }),
            "ul" | "ol" | "menu" => {
                if let Some(list) = self.list(node, name == "ol", depth) {
                    out.push(list);
                }
            }
            "li" => {
                // A list item outside any list: its content, as a one-item list.
                let body = join_blocks(&self.blocks(node, depth), true);
                out.push(Block {
                    text: prefix_lines(&body, "- ", "  "),
                    kind: Kind::List,
                });
            }
            "blockquote" => {
                let body = join_blocks(&self.blocks(node, depth), false);
                if !body.trim().is_empty() {
                    out.push(Block {
                        text: prefix_lines(&body, "> ", "> "),
                        kind: Kind::Other,
                    });
                }
            }
            "table" => self.table(node, depth, out),
            "figure" => self.figure(node, &el, depth, out),
            "figcaption" | "caption" => {
                let text = one_line(&self.inline_of(node, depth));
                if !text.is_empty() {
                    out.push(Block {
                        text: format!("*{text}*"),
                        kind: Kind::Other,
                    });
                }
            }
            "dt" | "summary" | "legend" => {
                let text = one_line(&self.inline_of(node, depth));
                if !text.is_empty() {
                    out.push(Block {
                        text: format!("**{text}**"),
                        kind: Kind::Other,
                    });
                }
            }
            "iframe" | "embed" | "object" | "video" | "audio" => {
                if let Some(link) = self.media_link(node, name) {
                    out.push(Block {
                        text: link,
                        kind: Kind::Other,
                    });
                }
            }
            _ => out.extend(self.blocks(node, depth)),
        }
    }

    fn inline_of(&mut self, node: NodeRef<'_>, depth: usize) -> String {
        let mut s = String::new();
        if depth > MAX_DEPTH {
            s.push_str(&escape_text(&collapse(&text_of(node))));
            return s;
        }
        for child in node.children() {
            self.inline_node(child, depth, &mut s);
        }
        s
    }

    fn inline_node(&mut self, node: NodeRef<'_>, depth: usize, out: &mut String) {
        match node.value() {
            Node::Text(t) => out.push_str(&escape_text(&collapse(&t.text))),
            Node::Element(e) if is_dropped(e.name()) => self.dropped(e.name()),
            Node::Element(_) => self.inline(node, depth + 1, out),
            _ => {}
        }
    }

    /// An element inside running text.
    fn inline(&mut self, node: NodeRef<'_>, depth: usize, out: &mut String) {
        let Some(el) = ElementRef::wrap(node) else {
            return;
        };
        let name = el.value().name();
        match name {
            "strong" | "b" => self.emphasis(node, depth, 0, "**", out),
            "em" | "i" | "cite" | "dfn" | "var" => self.emphasis(node, depth, 1, "*", out),
            "del" | "s" | "strike" => self.emphasis(node, depth, 2, "~~", out),
            "sup" | "sub" => {
                let inner = self.inline_of(node, depth);
                wrap(out, &inner, &format!("<{name}>"), &format!("</{name}>"));
            }
            "code" | "kbd" | "tt" | "samp" => out.push_str(&code_span(&text_of(node))),
            "br" => out.push_str("\\\n"),
            "img" => out.push_str(&image(&el)),
            "a" => {
                let text = self.inline_of(node, depth);
                out.push_str(&link(&el, &text));
            }
            "iframe" | "embed" | "object" | "video" | "audio" => {
                if let Some(link) = self.media_link(node, name) {
                    out.push_str(&link);
                }
            }
            "q" => {
                let inner = self.inline_of(node, depth);
                out.push('"');
                out.push_str(&inner);
                out.push('"');
            }
            // Block elements met inside inline ones (`<a><div>…</div></a>`): their text,
            // set apart by a space.
            n if is_block(n) => {
                let inner = self.inline_of(node, depth);
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push_str(inner.trim());
                out.push(' ');
            }
            _ => {
                let inner = self.inline_of(node, depth);
                out.push_str(&inner);
            }
        }
    }

    /// Emphasis of one kind, once however deeply it is nested.
    fn emphasis(
        &mut self,
        node: NodeRef<'_>,
        depth: usize,
        kind: usize,
        marker: &str,
        out: &mut String,
    ) {
        self.open[kind] += 1;
        let inner = self.inline_of(node, depth);
        self.open[kind] -= 1;
        if self.open[kind] > 0 {
            out.push_str(&inner);
        } else {
            wrap(out, &inner, marker, marker);
        }
    }

    /// An iframe, embed or player: a link to what it shows, or nothing.
    fn media_link(&mut self, node: NodeRef<'_>, name: &str) -> Option<String> {
        let el = ElementRef::wrap(node)?;
        let src = el
            .value()
            .attr("src")
            .or_else(|| el.value().attr("data"))
            .map(str::to_owned)
            .or_else(|| {
                el.descendants()
                    .filter_map(|d| d.value().as_element())
                    .find(|e| e.name() == "source")
                    .and_then(|e| e.attr("src"))
                    .map(str::to_owned)
            })?;
        let src = src.trim();
        if !(src.starts_with("https://") || src.starts_with("http://") || src.starts_with("//")) {
            return None;
        }
        let src = if src.starts_with("//") {
            format!("https:{src}")
        } else {
            src.to_owned()
        };
        self.note(format!("<{name}> kept as a link to its address"));
        Some(format!("<{}>", src.replace(['<', '>', ' '], "")))
    }

    fn list(&mut self, node: NodeRef<'_>, ordered: bool, depth: usize) -> Option<Block> {
        let el = ElementRef::wrap(node)?;
        let mut number: u64 = el
            .value()
            .attr("start")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        let mut items = Vec::new();
        let mut stray = String::new();
        for child in node.children() {
            match child.value() {
                Node::Element(e) if e.name() == "li" => {
                    if !stray.trim().is_empty() {
                        items.push(std::mem::take(&mut stray).trim().to_owned());
                    }
                    stray.clear();
                    // An empty item (`<li></li>`) says nothing.
                    let item = join_blocks(&self.blocks(child, depth + 1), true);
                    if !item.trim().is_empty() {
                        items.push(item);
                    }
                }
                Node::Element(e) if e.name() == "ul" || e.name() == "ol" => {
                    // A list directly in a list (invalid, common): nested under the last item.
                    if let Some(sub) = self.list(child, e.name() == "ol", depth + 1) {
                        match items.last_mut() {
                            Some(last) => {
                                last.push('\n');
                                last.push_str(&sub.text);
                            }
                            None => items.push(sub.text),
                        }
                    }
                }
                _ => self.inline_node(child, depth, &mut stray),
            }
        }
        if !stray.trim().is_empty() {
            items.push(stray.trim().to_owned());
        }
        if items.is_empty() {
            return None;
        }
        let loose = items.iter().any(|i| i.contains("\n\n"));
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                text.push_str(if loose { "\n\n" } else { "\n" });
            }
            let marker = if ordered {
                let m = format!("{number}. ");
                number = number.saturating_add(1);
                m
            } else {
                "- ".to_owned()
            };
            let indent = " ".repeat(marker.len());
            if item.is_empty() {
                text.push_str(marker.trim_end());
            } else {
                text.push_str(&prefix_lines(item, &marker, &indent));
            }
        }
        Some(Block {
            text,
            kind: Kind::List,
        })
    }

    fn table(&mut self, node: NodeRef<'_>, depth: usize, out: &mut Vec<Block>) {
        let Some(el) = ElementRef::wrap(node) else {
            return;
        };
        let mut rows: Vec<(bool, Vec<Cell>)> = Vec::new();
        let mut caption = None;
        for row in el.descendants().filter_map(ElementRef::wrap) {
            match row.value().name() {
                "caption" => caption = Some(one_line(&self.inline_of(*row, depth))),
                "tr" => {
                    // Rows of a table nested in this one belong to it, not to us.
                    let own = row
                        .ancestors()
                        .filter_map(ElementRef::wrap)
                        .find(|a| a.value().name() == "table")
                        .is_some_and(|t| t.id() == el.id());
                    if !own {
                        continue;
                    }
                    let in_head = row
                        .ancestors()
                        .filter_map(ElementRef::wrap)
                        .any(|a| a.value().name() == "thead");
                    let mut cells = Vec::new();
                    for cell in row.children().filter_map(ElementRef::wrap) {
                        let n = cell.value().name();
                        if n != "td" && n != "th" {
                            continue;
                        }
                        let text = self
                            .inline_of(*cell, depth)
                            .replace("\\\n", "<br>")
                            .replace('\n', " ")
                            .replace('|', "\\|");
                        cells.push((text.trim().to_owned(), align(&cell)));
                    }
                    let all_th = row
                        .children()
                        .filter_map(ElementRef::wrap)
                        .all(|c| c.value().name() == "th");
                    rows.push((in_head || all_th, cells));
                }
                _ => {}
            }
        }
        let width = rows.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        if width == 0 {
            return;
        }
        // GFM needs a header row: the table's own, or an empty one.
        let header_at = rows.iter().position(|(h, _)| *h).filter(|&i| i == 0);
        let mut lines = Vec::new();
        let render = |cells: &[Cell]| {
            let mut line = String::from("|");
            for i in 0..width {
                let text = cells.get(i).map(|c| c.0.as_str()).unwrap_or("");
                line.push(' ');
                line.push_str(text);
                line.push_str(" |");
            }
            line
        };
        let (head, body): (Vec<Cell>, &[(bool, Vec<Cell>)]) = match header_at {
            Some(_) => (rows[0].1.clone(), &rows[1..]),
            None => (Vec::new(), &rows[..]),
        };
        lines.push(render(&head));
        let aligns: Vec<Option<&str>> = (0..width)
            .map(|i| {
                head.get(i)
                    .and_then(|c| c.1)
                    .or_else(|| body.first().and_then(|r| r.1.get(i)).and_then(|c| c.1))
            })
            .collect();
        let mut sep = String::from("|");
        for a in aligns {
            sep.push_str(match a {
                Some("left") => " :--- |",
                Some("center") => " :---: |",
                Some("right") => " ---: |",
                _ => " --- |",
            });
        }
        lines.push(sep);
        for (_, cells) in body {
            lines.push(render(cells));
        }
        out.push(Block {
            text: lines.join("\n"),
            kind: Kind::Other,
        });
        if let Some(c) = caption.filter(|c| !c.is_empty()) {
            out.push(Block {
                text: format!("*{c}*"),
                kind: Kind::Other,
            });
        }
    }

    /// `<figure>`: its image(s) then an italic caption line; a bookmark or embed card, a link;
    /// anything else, its content.
    fn figure(
        &mut self,
        node: NodeRef<'_>,
        el: &ElementRef<'_>,
        depth: usize,
        out: &mut Vec<Block>,
    ) {
        let classes: Vec<&str> = el.value().classes().collect();
        if classes.contains(&"kg-bookmark-card")
            && let Some(a) = el
                .descendants()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().name() == "a" && e.value().attr("href").is_some())
        {
            let title = el
                .descendants()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().classes().any(|c| c == "kg-bookmark-title"))
                .map(|t| escape_text(&collapse(&text_of(*t))))
                .unwrap_or_default();
            out.push(Block {
                text: link(&a, title.trim()),
                kind: Kind::Other,
            });
            self.caption(el, depth, out);
            return;
        }
        let has_img = el
            .descendants()
            .filter_map(ElementRef::wrap)
            .any(|e| e.value().name() == "img");
        if !has_img {
            out.extend(self.blocks(node, depth));
            return;
        }
        let mut images = String::new();
        for child in node.children() {
            if let Some(c) = ElementRef::wrap(child)
                && c.value().name() == "figcaption"
            {
                continue;
            }
            self.inline_node(child, depth, &mut images);
        }
        let images = images.trim();
        if !images.is_empty() {
            out.push(Block {
                text: images.to_owned(),
                kind: Kind::Other,
            });
        }
        self.caption(el, depth, out);
    }

    fn caption(&mut self, el: &ElementRef<'_>, depth: usize, out: &mut Vec<Block>) {
        for c in el.children().filter_map(ElementRef::wrap) {
            if c.value().name() == "figcaption" {
                let text = one_line(&self.inline_of(*c, depth));
                if !text.is_empty() {
                    out.push(Block {
                        text: format!("*{text}*"),
                        kind: Kind::Other,
                    });
                }
            }
        }
    }

    /// A gallery (WordPress's, Ghost's): each image on a line of its own, with its caption,
    /// then the gallery's caption.
    fn gallery(&mut self, node: NodeRef<'_>, depth: usize, out: &mut Vec<Block>) {
        let Some(el) = ElementRef::wrap(node) else {
            return;
        };
        for img in el
            .descendants()
            .filter_map(ElementRef::wrap)
            .filter(|e| e.value().name() == "img")
        {
            let mut text = image(&img);
            if let Some(a) = img
                .parent()
                .and_then(ElementRef::wrap)
                .filter(|p| p.value().name() == "a")
            {
                text = link(&a, &text);
            }
            out.push(Block {
                text,
                kind: Kind::Other,
            });
            // The image's own caption: a figcaption of the figure around it.
            let own = img
                .ancestors()
                .filter_map(ElementRef::wrap)
                .take_while(|a| a.id() != el.id())
                .find(|a| a.value().name() == "figure");
            if let Some(fig) = own {
                self.caption(&fig, depth, out);
            }
        }
        self.caption(&el, depth, out);
    }
}

/// A table cell's Markdown and its alignment.
type Cell = (String, Option<&'static str>);

fn is_gallery(el: &ElementRef<'_>) -> bool {
    el.value().classes().any(|c| {
        matches!(
            c,
            "wp-block-gallery" | "blocks-gallery-grid" | "kg-gallery-card" | "gallery"
        )
    })
}

fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "strong"
            | "b"
            | "em"
            | "i"
            | "code"
            | "kbd"
            | "tt"
            | "samp"
            | "img"
            | "br"
            | "del"
            | "s"
            | "strike"
            | "sup"
            | "sub"
            | "q"
    )
}

/// Whether a block element sits somewhere under this node (within the depth limit).
fn has_block(node: NodeRef<'_>, depth: usize) -> bool {
    depth <= MAX_DEPTH
        && node
            .descendants()
            .any(|d| d.value().as_element().is_some_and(|e| is_block(e.name())))
}

fn flush(out: &mut Vec<Block>, inline: &mut String) {
    let text = std::mem::take(inline);
    push_paragraph(out, &text, Kind::Loose);
}

/// A paragraph of inline Markdown: trimmed, with escapes a line's start needs.
fn push_paragraph(out: &mut Vec<Block>, text: &str, kind: Kind) {
    // Line breaks at either end of a paragraph break nothing: dropped. (Text's own
    // backslashes are escaped in pairs: an odd one at the end is a break.)
    let mut text = text.trim();
    loop {
        let mut t = text.trim_start_matches("\\\n").trim();
        let trailing = t.len() - t.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            t = t[..t.len() - 1].trim_end();
        }
        if t.len() == text.len() {
            break;
        }
        text = t;
    }
    if text.is_empty() || text == "\\" {
        return;
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| escape_line_start(l.trim_start()))
        .collect();
    out.push(Block {
        text: lines.join("\n"),
        kind,
    });
}

/// A line's own text that Markdown would read as syntax at the start of a line (`# `, `- `,
/// `1. `, `> `, `===`): escaped.
fn escape_line_start(line: &str) -> String {
    let bytes = line.as_bytes();
    let first = bytes.first().copied();
    let needs = match first {
        Some(b'#') | Some(b'>') => true,
        Some(b'-') | Some(b'+') => {
            bytes.get(1).is_none_or(|b| *b == b' ') || line.bytes().all(|b| b == b'-' || b == b' ')
        }
        Some(b'=') => line.bytes().all(|b| b == b'='),
        // A line that could be a table's delimiter row (`| --- |`).
        Some(b'|') | Some(b':') => {
            line.contains('-') && line.bytes().all(|b| matches!(b, b'|' | b'-' | b':' | b' '))
        }
        Some(b'0'..=b'9') => {
            let digits = line.bytes().take_while(u8::is_ascii_digit).count();
            digits <= 9
                && matches!(bytes.get(digits), Some(b'.') | Some(b')'))
                && bytes.get(digits + 1).is_none_or(|b| *b == b' ')
        }
        _ => false,
    };
    if !needs {
        return line.to_owned();
    }
    if let Some(b'0'..=b'9') = first {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        format!("{}\\{}", &line[..digits], &line[digits..])
    } else {
        format!("\\{line}")
    }
}

/// Wraps `inner` in emphasis markers, moving its outer spaces outside them (`** a **` is no
/// emphasis in CommonMark).
fn wrap(out: &mut String, inner: &str, open: &str, close: &str) {
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        out.push_str(inner);
        return;
    }
    if inner.starts_with(char::is_whitespace) {
        out.push(' ');
    }
    out.push_str(open);
    out.push_str(trimmed);
    out.push_str(close);
    if inner.ends_with(char::is_whitespace) {
        out.push(' ');
    }
}

/// HTML's whitespace rule: any run of spaces, tabs and newlines is one space.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c') {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            if c != '\0' {
                out.push(c);
            }
        }
    }
    if space {
        out.push(' ');
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace("\\\n", " ").replace('\n', " ").trim().to_owned()
}

/// All the text under a node (`<br>` as a newline), for code and for the depth limit.
fn text_of(node: NodeRef<'_>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        match d.value() {
            Node::Text(t) => s.push_str(&t.text),
            Node::Element(e) if e.name() == "br" => s.push('\n'),
            _ => {}
        }
    }
    s.replace('\0', "")
}

/// Text escaped so Markdown shows it as typed.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let escape = match c {
            '\\' | '*' | '`' | '[' | ']' | '~' => true,
            // `snake_case` stays as it is: an underscore inside a word never emphasises.
            '_' => {
                !(prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric))
            }
            '<' => next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            // Only what Markdown would read as a character reference (`&amp;`, `&#32;`).
            '&' => {
                let name: String = chars[i + 1..]
                    .iter()
                    .take(33)
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
                    .collect();
                !name.is_empty() && chars.get(i + 1 + name.len()) == Some(&';')
            }
            '!' => next == Some('['),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn code_span(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    if text.is_empty() {
        return String::new();
    }
    let longest = longest_run(&text, '`');
    let fence = "`".repeat(longest + 1);
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || text.starts_with(' ') && text.ends_with(' ');
    if pad {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        if c == ch {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// `<pre>` as a fenced block, with the language its markup names.
fn code_block(node: NodeRef<'_>) -> String {
    let mut code = text_of(node);
    if code.ends_with('\n') {
        code.pop();
    }
    let language = ElementRef::wrap(node)
        .and_then(|pre| {
            std::iter::once(pre)
                .chain(
                    pre.descendants()
                        .filter_map(ElementRef::wrap)
                        .filter(|e| e.value().name() == "code"),
                )
                .find_map(|e| language_of(&e))
        })
        .unwrap_or_default();
    let fence = "`".repeat(longest_run(&code, '`').max(2) + 1);
    format!("{fence}{language}\n{code}\n{fence}")
}

/// The language an element's attributes name: `class="language-rust"` (also `lang-`),
/// `lang`, `data-lang`, `data-language`, SyntaxHighlighter's `class="brush: php; …"`.
pub(crate) fn language_of(el: &ElementRef<'_>) -> Option<String> {
    let v = el.value();
    let from_class = v.attr("class").and_then(|class| {
        if let Some(rest) = class.split("brush:").nth(1) {
            return rest.split(';').next().map(str::trim).map(str::to_owned);
        }
        class.split_ascii_whitespace().find_map(|c| {
            c.strip_prefix("language-")
                .or_else(|| c.strip_prefix("lang-"))
                .map(str::to_owned)
        })
    });
    let lang = from_class
        .or_else(|| v.attr("data-lang").map(str::to_owned))
        .or_else(|| v.attr("data-language").map(str::to_owned))
        .or_else(|| v.attr("lang").map(str::to_owned))?;
    clean_language(&lang)
}

/// A language name safe on a fence line: letters, digits and `+#-_.` only.
pub(crate) fn clean_language(lang: &str) -> Option<String> {
    let lang = lang.trim().to_ascii_lowercase();
    (!lang.is_empty()
        && lang.len() <= 40
        && lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.')))
    .then_some(lang)
}

fn align(cell: &ElementRef<'_>) -> Option<&'static str> {
    let v = cell.value();
    let from_style = v.attr("style").and_then(|s| {
        let s = s.to_ascii_lowercase();
        let at = s.find("text-align")?;
        let rest = &s[at..];
        ["left", "center", "right"]
            .into_iter()
            .find(|a| rest.split(';').next().is_some_and(|d| d.contains(a)))
    });
    let from_attr = v.attr("align").map(|a| a.trim().to_ascii_lowercase());
    from_style.or(match from_attr.as_deref() {
        Some("left") => Some("left"),
        Some("center") => Some("center"),
        Some("right") => Some("right"),
        _ => None,
    })
}

/// An address as a Markdown link destination: `<…>` when it holds spaces or parentheses.
fn destination(url: &str) -> String {
    let url = url.trim().replace(['\n', '\r', '\0'], "");
    let url = url.replace('<', "%3C").replace('>', "%3E");
    if url.contains([' ', '(', ')']) || url.is_empty() {
        format!("<{url}>")
    } else {
        url
    }
}

fn title_part(title: Option<&str>) -> String {
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => format!(
            " \"{}\"",
            collapse(t).replace('\\', "\\\\").replace('"', "\\\"")
        ),
        None => String::new(),
    }
}

/// Addresses a link may keep: the web, mail, and this site's own paths and anchors.
fn safe_url(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    match u.find(':') {
        Some(colon) if !u[..colon].contains(['/', '?', '#']) => {
            matches!(&u[..colon], "http" | "https" | "mailto")
        }
        _ => true,
    }
}

fn image(img: &ElementRef<'_>) -> String {
    let v = img.value();
    let Some(src) = v
        .attr("src")
        .or_else(|| v.attr("data-src"))
        .filter(|s| !s.trim().is_empty() && safe_url(s))
    else {
        return String::new();
    };
    let alt = escape_text(&collapse(v.attr("alt").unwrap_or("")));
    format!(
        "![{}]({}{})",
        alt.trim(),
        destination(src),
        title_part(v.attr("title"))
    )
}

fn link(a: &ElementRef<'_>, text: &str) -> String {
    let v = a.value();
    let Some(href) = v
        .attr("href")
        .filter(|h| !h.trim().is_empty() && safe_url(h))
    else {
        return text.to_owned();
    };
    let label = text.trim();
    let label = if label.is_empty() {
        escape_text(href.trim())
    } else {
        // A link's text can't hold a line break.
        one_line(label)
    };
    format!(
        "[{label}]({}{})",
        destination(href),
        title_part(v.attr("title"))
    )
}

/// Prefixes the first line with `first` and the others with `rest` (blank lines get the
/// prefix trimmed, so no trailing spaces).
fn prefix_lines(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let p = if i == 0 { first } else { rest };
        if line.is_empty() {
            out.push_str(p.trim_end());
        } else {
            out.push_str(p);
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(html: &str) -> String {
        html_to_markdown(html).markdown
    }

    #[test]
    fn paragraphs_headings_and_emphasis() {
        assert_eq!(
            md(
                "<h2 id=\"x\">Title</h2><p>Some <strong>bold</strong>, <em>it</em> and <del>gone</del>.</p>"
            ),
            "## Title\n\nSome **bold**, *it* and ~~gone~~.\n"
        );
        // Spaces inside emphasis move outside it.
        assert_eq!(md("<p>a<strong> b </strong>c</p>"), "a **b** c\n");
        assert_eq!(md("<p><br>a<br> <br></p>"), "a\n");
        assert_eq!(
            md("<p><i><em>all</em></i> <b><em>x</em></b></p>"),
            "*all* ***x***\n"
        );
    }

    #[test]
    fn text_is_escaped_so_it_reads_as_typed() {
        assert_eq!(
            md("<p>2 * 3 = [six] and snake_case _x_ &lt;b&gt; AT&amp;T &amp;amp;</p>"),
            "2 \\* 3 = \\[six\\] and snake_case \\_x\\_ \\<b> AT&T \\&amp;\n"
        );
        assert_eq!(
            md("<p># not a heading</p><p>1. not a list</p><p>- nor this</p>"),
            "\\# not a heading\n\n1\\. not a list\n\n\\- nor this\n"
        );
    }

    #[test]
    fn links_and_images_keep_their_titles() {
        assert_eq!(
            md(
                r#"<p><a href="https://x.example/a b" title="T">x</a> <img src="/i.png" alt="A [b]" title="It's"></p>"#
            ),
            "[x](<https://x.example/a b> \"T\") ![A \\[b\\]](/i.png \"It's\")\n"
        );
        assert_eq!(md(r#"<a href="javascript:alert(1)">x</a>"#), "x\n");
    }

    #[test]
    fn nested_lists_stay_tight() {
        // theme-unit-test-data.xml, "wp:list".
        assert_eq!(
            md(
                "<ul><li>One</li><li>Two</li><li>Three<ul><li>Four</li></ul></li><li>Five</li></ul>"
            ),
            "- One\n- Two\n- Three\n  - Four\n- Five\n"
        );
        assert_eq!(
            md(r#"<ol start="3"><li><p>a</p><p>b</p></li><li>c</li></ol>"#),
            "3. a\n\n   b\n\n4. c\n"
        );
    }

    #[test]
    fn code_keeps_its_language() {
        assert_eq!(
            md(r#"<pre><code class="language-rust">fn main() {}
</code></pre>"#),
            "```rust\nfn main() {}\n```\n"
        );
        assert_eq!(
            md(r#"<pre class="brush: php; title: ; notranslate">&lt;?php echo 1; ?&gt;</pre>"#),
            "```php\n<?php echo 1; ?>\n```\n"
        );
        assert_eq!(md("<p>use <code>a`b</code></p>"), "use ``a`b``\n");
        // theme-unit-test-data.xml: a code block holding a block comment.
        assert_eq!(
            md(
                "<pre class=\"wp-block-code\"><code>The code block starts with\n&lt;!-- wp:code --&gt;\n&lt;?php echo 'Hello World'; ?&gt;\n</code></pre>"
            ),
            "```\nThe code block starts with\n<!-- wp:code -->\n<?php echo 'Hello World'; ?>\n```\n"
        );
    }

    #[test]
    fn quotes_rules_and_breaks() {
        assert_eq!(
            md(
                r#"<blockquote class="wp-block-quote"><p>Quote</p><cite>Cite</cite></blockquote><hr><p>a<br>b</p>"#
            ),
            "> Quote\n>\n> *Cite*\n\n---\n\na\\\nb\n"
        );
    }

    #[test]
    fn tables_become_gfm() {
        // theme-unit-test-data.xml, "wp:table".
        assert_eq!(
            md(
                r#"<figure class="wp-block-table is-style-regular"><table><tbody><tr><td>table cell</td><td>table cell two</td></tr><tr><td>table cell three</td><td>table cell four</td></tr></tbody></table><figcaption class="wp-element-caption">Table caption</figcaption></figure>"#
            ),
            "|  |  |\n| --- | --- |\n| table cell | table cell two |\n| table cell three | table cell four |\n\n*Table caption*\n"
        );
        assert_eq!(
            md(
                r#"<table><thead><tr><th>a|b</th><th align="right">n</th></tr></thead><tr><td>x</td><td>1</td></tr></table>"#
            ),
            "| a\\|b | n |\n| --- | ---: |\n| x | 1 |\n"
        );
    }

    #[test]
    fn figures_give_the_image_then_its_caption() {
        // Ghost's v4 export, the post "sell".
        assert_eq!(
            md(
                r#"<figure class="kg-card kg-image-card kg-card-hascaption"><a href="https://thebrowser.com"><img src="https://static.ghost.org/v4.0.0/images/thebrowser.jpg" class="kg-image" alt loading="lazy" width="1600" height="2000"></a><figcaption>The Browser has over 10,000 paying subscribers</figcaption></figure>"#
            ),
            "[![](https://static.ghost.org/v4.0.0/images/thebrowser.jpg)](https://thebrowser.com)\n\n*The Browser has over 10,000 paying subscribers*\n"
        );
    }

    #[test]
    fn galleries_give_one_image_a_line() {
        // Ghost's v4 export, the post about the editor.
        let got = md(
            r#"<figure class="kg-card kg-gallery-card kg-width-wide kg-card-hascaption"><div class="kg-gallery-container"><div class="kg-gallery-row"><div class="kg-gallery-image"><img src="https://static.ghost.org/v4.0.0/images/jd-mason-hPiEFq6-Eto-unsplash.jpg" width="5184" height="3888" loading="lazy" alt></div><div class="kg-gallery-image"><img src="https://static.ghost.org/v4.0.0/images/jp-valery-OBpOP9GVH9U-unsplash.jpg" width="5472" height="3648" loading="lazy" alt></div></div></div><figcaption>Peaceful places</figcaption></figure>"#,
        );
        assert_eq!(
            got,
            "![](https://static.ghost.org/v4.0.0/images/jd-mason-hPiEFq6-Eto-unsplash.jpg)\n\n![](https://static.ghost.org/v4.0.0/images/jp-valery-OBpOP9GVH9U-unsplash.jpg)\n\n*Peaceful places*\n"
        );
    }

    #[test]
    fn scripts_go_and_frames_become_links() {
        // Ghost's v2 export, "Apps & integrations".
        let c = html_to_markdown(
            r#"<p><strong>Here are the most popular Ghost&lt;&gt;Zapier automation templates:</strong> </p><script src="https://zapier.com/apps/embed/widget.js?services=Ghost&container=true&limit=8"></script>
<figure class="kg-card kg-embed-card"><iframe width="200" height="113" src="https://www.youtube.com/embed/hmH3XMlms8E?feature=oembed" frameborder="0" allowfullscreen></iframe></figure><style>p{}</style>"#,
        );
        assert_eq!(
            c.markdown,
            "**Here are the most popular Ghost<>Zapier automation templates:**\n\n<https://www.youtube.com/embed/hmH3XMlms8E?feature=oembed>\n"
        );
        assert_eq!(
            c.notes,
            [
                "<iframe> kept as a link to its address",
                "<script> left out",
                "<style> left out"
            ]
        );
    }

    #[test]
    fn ghost_bookmark_cards_become_links() {
        assert_eq!(
            md(
                r#"<figure class="kg-card kg-bookmark-card"><a class="kg-bookmark-container" href="https://opensubscriptionplatforms.com/"><div class="kg-bookmark-content"><div class="kg-bookmark-title">Open Subscription Platforms</div><div class="kg-bookmark-description">A shared movement for independent subscription data.</div></div></a></figure>"#
            ),
            "[Open Subscription Platforms](https://opensubscriptionplatforms.com/)\n"
        );
    }

    #[test]
    fn deep_nesting_and_junk_do_not_break_it() {
        let deep = "<div>".repeat(1000) + "x" + &"</div>".repeat(1000);
        assert_eq!(md(&deep), "x\n");
        let deeper = html_to_markdown(&("<div><blockquote>".repeat(1 << 16) + "a &lt; b"));
        assert_eq!(deeper.markdown, "a < b\n");
        assert_eq!(deeper.notes.len(), 1);
        // Paragraphs close themselves: no depth.
        assert_eq!(nesting(&"<p>x".repeat(5000)), 0);
        let deep = "<ul><li>".repeat(2000) + "y";
        assert!(md(&deep).contains('y'));
        for junk in [
            "",
            "\0",
            "<",
            "</p>",
            "<table><tr>",
            "<pre>",
            "<a href>",
            "&#0;",
            "<img>",
        ] {
            let _ = md(junk);
        }
    }
}
