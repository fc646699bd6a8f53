//! Turning data into bytes for people: Markdown to safe HTML, templates to pages.

pub mod budget;
pub mod confirm;
pub mod form;
pub mod highlight;
pub mod markdown;
pub mod number;
pub mod page;
pub mod text;

pub use markdown::SafeHtml;
pub use page::{Layout, page};
