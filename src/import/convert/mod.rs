//! Content converters for the importers: pure functions from a source's text to Markdown
//! that Quire's renderer shows right. No database, no files: the readers call them.
//!
//! - `html`: any HTML (Ghost's `html`, WordPress's content once its own syntax is gone);
//! - `wordpress`: WordPress's post content (automatic paragraphs, block comments,
//!   shortcodes) to HTML, then Markdown;
//! - `ghost`: Ghost's editor documents (Lexical, Mobiledoc) to HTML, for posts exported
//!   without it.

pub mod ghost;
pub mod html;
pub mod wordpress;

pub use html::{Converted, html_to_markdown};
