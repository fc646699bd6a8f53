//! Fenced code blocks highlighted once, when a post is saved: syntect's grammars (Sublime
//! Text's), marked with CSS classes (`hl-…`) rather than inline styles, coloured by
//! `static/css/highlight.css` in a light and a dark theme that follow the reader's colour
//! scheme. A language syntect doesn't know, or a block too big to be worth it, stays plain.

use std::sync::LazyLock;

use syntect::{
    highlighting::ThemeSet,
    html::{ClassStyle, css_for_theme_with_class_style},
    parsing::{ParseState, ScopeStack, SyntaxSet},
    util::LinesWithEndings,
};

/// `<span class="hl-keyword hl-rust">`: prefixed, so no class of the site's own is touched.
const CLASS_STYLE: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

/// The class prefix the sanitizer lets through on `span`.
pub const CLASS_PREFIX: &str = "hl-";

/// A block longer than this stays plain: highlighting runs at about a few MiB a second, and
/// a save (or a preview) of a mebibyte of code should not wait for it.
pub const MAX_BLOCK_BYTES: usize = 64 * 1024;

/// All the code of one post that is highlighted; later blocks stay plain.
pub const MAX_POST_BYTES: usize = 256 * 1024;

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// What either theme colours: each CSS selector's last compound (`.hl-string.hl-quoted`), as
/// its classes. A token keeps the classes of the compounds it wholly matches, and no others.
static STYLED: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    let css = stylesheet();
    let mut compounds: Vec<Vec<String>> = Vec::new();
    for rule in css.split('}') {
        let Some((selectors, _)) = rule.split_once('{') else {
            continue;
        };
        for selector in selectors.split(',') {
            let Some(last) = selector.split_whitespace().next_back() else {
                continue;
            };
            let classes: Vec<String> = last
                .split('.')
                .filter(|c| c.starts_with(CLASS_PREFIX))
                .map(str::to_owned)
                .collect();
            if !classes.is_empty() && !compounds.contains(&classes) {
                compounds.push(classes);
            }
        }
    }
    compounds
});

/// The fence's language as a class-safe token: its first word (` ```rust,ignore` is rust).
pub fn language(info: &str) -> Option<&str> {
    let token = info
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
        .next()?;
    let safe = !token.is_empty()
        && token.len() <= 32
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.'));
    safe.then_some(token)
}

/// `code` as highlighted HTML (text escaped, spans with `hl-` classes), or `None` when no
/// grammar answers to `language` or the block is too long.
///
/// One flat span per run of text with the same classes: the scopes' atoms
/// (`storage.type.function.rust` is `hl-storage hl-type hl-function`) that either theme
/// colours, leaving out `meta`, `source` and `text` scopes and the language's own atom.
/// syntect's `ClassedHTMLGenerator` nests a span per scope instead: 30 to 50 times the code's
/// size in HTML, against 3 to 8 times here (dense code most).
pub fn code(language: &str, code: &str) -> Option<String> {
    if code.len() > MAX_BLOCK_BYTES {
        return None;
    }
    let syntax = SYNTAXES
        .find_syntax_by_token(language)
        .or_else(|| SYNTAXES.find_syntax_by_token(&language.to_ascii_lowercase()))?;
    // Plain text needs no spans.
    if syntax.name == "Plain Text" {
        return None;
    }
    let own = syntax.scope.build_string();
    let own = own.rsplit('.').next().unwrap_or_default().to_owned();
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Runs::default();
    // The same stacks come back token after token.
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut classes_of = |stack: &ScopeStack| -> String {
        let key = format!("{stack:?}");
        seen.entry(key)
            .or_insert_with(|| classes(stack, &own))
            .clone()
    };
    for line in LinesWithEndings::from(code) {
        let ops = state.parse_line(line, &SYNTAXES).ok()?;
        let mut at = 0;
        for (index, op) in ops {
            let index = index.min(line.len());
            if index > at {
                out.push(&classes_of(&stack), &line[at..index]);
                at = index;
            }
            stack.apply(&op).ok()?;
        }
        if at < line.len() {
            out.push(&classes_of(&stack), &line[at..]);
        }
    }
    Some(out.finish())
}

/// The classes for text under `stack` (see `code`): of all its scopes' atoms, those in a
/// compound the themes colour that the token wholly matches.
fn classes(stack: &ScopeStack, own: &str) -> String {
    let mut all: Vec<String> = Vec::new();
    for scope in stack.as_slice() {
        let name = scope.build_string();
        if matches!(
            name.split('.').next(),
            Some("meta" | "source" | "text") | None
        ) {
            continue;
        }
        for atom in name.split('.').filter(|a| *a != own) {
            let class = format!("{CLASS_PREFIX}{atom}");
            if !all.contains(&class) {
                all.push(class);
            }
        }
    }
    let styled: Vec<&String> = all
        .iter()
        .filter(|class| {
            STYLED.iter().any(|compound| {
                compound.contains(class) && compound.iter().all(|c| all.contains(c))
            })
        })
        .collect();
    styled
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Highlighted HTML built a run at a time: neighbouring text with the same classes shares
/// one span.
#[derive(Default)]
struct Runs {
    html: String,
    class: String,
    text: String,
}

impl Runs {
    fn push(&mut self, class: &str, text: &str) {
        if class != self.class {
            self.flush();
            class.clone_into(&mut self.class);
        }
        self.text.push_str(text);
    }

    fn flush(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let escaped = escape(&self.text);
        match self.class.is_empty() {
            true => self.html.push_str(&escaped),
            false => {
                self.html.push_str("<span class=\"");
                self.html.push_str(&self.class);
                self.html.push_str("\">");
                self.html.push_str(&escaped);
                self.html.push_str("</span>");
            }
        }
        self.text.clear();
    }

    fn finish(mut self) -> String {
        self.flush();
        self.html
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The code background each theme is read on: `static/css/site.css`'s `--code-bg`, light
/// and dark (a test reads both files and checks every colour against it).
pub const LIGHT_CODE_BG: &str = "#f3f1ec";
pub const DARK_CODE_BG: &str = "#202226";

/// WCAG AA asks 4.5:1 of text (1.4.3); a little more, so no rounding lands under it.
const MIN_CONTRAST: f64 = 4.6;

/// A CSS `color: #rrggbb;` line with its colour made readable on `background`, other lines
/// as they are. The themes were made for their own backgrounds, and several of their
/// colours (comments, constants, support functions) fall under 4.5:1 on ours (issue 27).
fn readable_line(line: &str, background: &str) -> String {
    let Some(hex) = line
        .trim()
        .strip_prefix("color: ")
        .and_then(|v| v.strip_suffix(';'))
    else {
        return line.to_owned();
    };
    match (rgb(hex), rgb(background)) {
        (Some(colour), Some(bg)) => {
            let indent = &line[..line.len() - line.trim_start().len()];
            format!("{indent}color: {};", hex_of(readable(colour, bg)))
        }
        _ => line.to_owned(),
    }
}

/// `colour`, or the nearest shade of it (mixed toward black on a light background, white on
/// a dark one) that reaches `MIN_CONTRAST` on `bg`: the hue stays, only lightness moves.
fn readable(colour: [u8; 3], bg: [u8; 3]) -> [u8; 3] {
    let toward: f64 = if luminance(bg) > 0.5 { 0.0 } else { 255.0 };
    let mut shade = colour;
    for step in 0..=50 {
        let t = f64::from(step) / 50.0;
        shade = colour.map(|c| (f64::from(c) + (toward - f64::from(c)) * t).round() as u8);
        if contrast(shade, bg) >= MIN_CONTRAST {
            break;
        }
    }
    shade
}

/// `#rrggbb` (or `#rgb`) as its three channels.
pub fn rgb(hex: &str) -> Option<[u8; 3]> {
    let hex = hex.trim().strip_prefix('#')?;
    let channel = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        6 => Some([
            channel(&hex[0..2])?,
            channel(&hex[2..4])?,
            channel(&hex[4..6])?,
        ]),
        3 => {
            let c: Vec<u8> = hex
                .chars()
                .map(|c| channel(&c.to_string()).map(|v| v * 17))
                .collect::<Option<_>>()?;
            Some([c[0], c[1], c[2]])
        }
        _ => None,
    }
}

fn hex_of(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// WCAG 2's relative luminance of an sRGB colour.
pub fn luminance(c: [u8; 3]) -> f64 {
    let linear = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
}

/// WCAG 2's contrast ratio of two colours, 1 to 21.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// The stylesheet for the classes: `LIGHT` by default, `DARK` for readers whose system is
/// dark. Each theme's own background is left out: code keeps the site's `--code-bg`.
/// `static/css/highlight.css` holds its output; a test keeps the two the same.
pub fn stylesheet() -> String {
    const LIGHT: &str = "InspiredGitHub";
    const DARK: &str = "base16-ocean.dark";
    let themes = ThemeSet::load_defaults();
    let css = |name: &str| {
        let theme = &themes.themes[name];
        let css = css_for_theme_with_class_style(theme, CLASS_STYLE).unwrap_or_default();
        let background = if name == DARK {
            DARK_CODE_BG
        } else {
            LIGHT_CODE_BG
        };
        css.lines()
            .filter(|line| !line.trim_start().starts_with("background-color"))
            .map(|line| readable_line(line, background))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let indent = |css: String| -> String { css.lines().map(|l| format!("  {l}\n")).collect() };
    // Each theme in its own scheme only: a token one theme leaves alone must not keep the
    // other's colour (a dark grey on a dark background).
    format!(
        "/* Highlighted code (src/render/highlight.rs: syntect's {LIGHT} and {DARK} themes).\n   \
         Generated: `UPDATE_SNAPSHOTS=1 cargo nextest run highlight` rewrites it. */\n\
         @media not all and (prefers-color-scheme: dark) {{\n{}}}\n\n\
         @media (prefers-color-scheme: dark) {{\n{}}}\n",
        indent(css(LIGHT)),
        indent(css(DARK))
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_languages_get_classes_and_unknown_ones_stay_plain() {
        let html = code("rust", "fn main() { let x = \"<b>\"; }\n").unwrap();
        assert!(html.contains("class=\"hl-"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "text is escaped: {html}");
        assert!(!html.contains("<b>"));
        assert!(code("no-such-language", "x").is_none());
        assert!(code("text", "just words").is_none());
        assert!(code("rust", &"x".repeat(MAX_BLOCK_BYTES + 1)).is_none());
        // Flat spans, a few times the code's size: not one span per scope.
        let source = "fn main() {\n    let answer: u32 = 42; // the answer\n}\n".repeat(20);
        let html = code("rust", &source).unwrap();
        assert!(!html.contains("<span class=\"hl-meta"), "{html}");
        assert!(
            html.len() < source.len() * 10,
            "{} for {}: {html}",
            html.len(),
            source.len()
        );
        assert!(
            html.contains(r#"<span class="hl-storage hl-type">fn</span>"#),
            "{html}"
        );
        // Names people write: the extension, the name, any case.
        for name in [
            "rs", "Rust", "py", "python", "sql", "sh", "bash", "js", "html", "css",
        ] {
            assert!(code(name, "x = 1\n").is_some(), "{name}");
        }
    }

    #[test]
    fn the_fence_s_first_word_is_its_language() {
        assert_eq!(language("rust,ignore"), Some("rust"));
        assert_eq!(language("python title=x"), Some("python"));
        assert_eq!(language("c++"), Some("c++"));
        assert_eq!(language("\"><script>"), None);
        assert_eq!(language(""), None);
    }

    #[test]
    fn the_stylesheet_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/static/css/highlight.css");
        let css = stylesheet();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &css).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == css,
            "static/css/highlight.css is stale: run with UPDATE_SNAPSHOTS=1"
        );
        assert!(css.contains("prefers-color-scheme: dark"));
        assert!(!css.contains("background-color"));
    }

    /// The value of `--code-bg` in the `:root` block that follows `after` in site.css.
    fn code_bg(site: &str, after: &str) -> [u8; 3] {
        let from = site.find(after).unwrap();
        let rest = &site[from..];
        let value = rest[rest.find("--code-bg:").unwrap() + "--code-bg:".len()..]
            .split(';')
            .next()
            .unwrap();
        rgb(value).unwrap()
    }

    /// Every colour of highlight.css, light and dark, against site.css's `--code-bg` of the
    /// same scheme: both files as they are served, parsed (issue 27, item 4).
    #[test]
    fn every_highlight_colour_reaches_aa_contrast_on_the_code_background() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let site = std::fs::read_to_string(format!("{dir}/static/css/site.css")).unwrap();
        let css = std::fs::read_to_string(format!("{dir}/static/css/highlight.css")).unwrap();
        let light_bg = code_bg(&site, ":root {");
        let dark_bg = code_bg(&site, "@media (prefers-color-scheme: dark) {\n  :root {");
        assert_eq!(hex_of(light_bg), LIGHT_CODE_BG);
        assert_eq!(hex_of(dark_bg), DARK_CODE_BG);
        let split = css.find("@media (prefers-color-scheme: dark)").unwrap();
        let mut checked = 0;
        for (scheme, part, bg) in [
            ("light", &css[..split], light_bg),
            ("dark", &css[split..], dark_bg),
        ] {
            let mut selector = "";
            for line in part.lines() {
                if line.contains('{') {
                    selector = line;
                }
                let Some(value) = line.trim().strip_prefix("color:") else {
                    continue;
                };
                let colour = rgb(value.trim().trim_end_matches(';')).unwrap();
                let ratio = contrast(colour, bg);
                assert!(
                    ratio >= 4.5,
                    "{scheme}: {selector} {value} is {ratio:.2}:1 on {}",
                    hex_of(bg)
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} colours found");
        // The classes the audit named, in both schemes.
        for class in [".hl-comment", ".hl-support", ".hl-constant"] {
            assert!(css[..split].contains(class) && css[split..].contains(class));
        }
        // The WCAG figures themselves.
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        assert!((contrast([0x76, 0x76, 0x76], [255, 255, 255]) - 4.54).abs() < 0.01);
    }
}
