//! The second step of every destructive action (issue 27, item 7): a page that names what
//! will be deleted or disabled and holds the one POST button that does it. Opening it (a
//! GET, or a POST without `confirmed`) changes nothing; every resource's confirmation is
//! this one template with its own words, not a copy of it.

use askama::Template;

use super::Layout;

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct Confirm {
    pub layout: Layout,
    pub csrf_token: String,
    /// The heading: "Delete the redirect from /old?"
    pub question: String,
    /// What will happen, one sentence a line, naming the things it happens to.
    pub consequences: Vec<String>,
    /// Where the button POSTs.
    pub action: String,
    /// The button's words: "Delete redirect".
    pub button: String,
    /// Back, changing nothing.
    pub cancel: String,
    /// Fields the POST carries besides the token (a bulk action's ids).
    pub fields: Vec<(String, String)>,
    /// Show the admin's navigation above (staff screens; not a reader's own comment).
    pub admin: bool,
}

impl Confirm {
    /// A confirmation on a staff screen, its button POSTing to `action`.
    pub fn new(layout: Layout, csrf_token: String, question: impl Into<String>) -> Self {
        Self {
            layout,
            csrf_token,
            question: question.into(),
            consequences: Vec::new(),
            action: String::new(),
            button: String::new(),
            cancel: String::new(),
            fields: Vec::new(),
            admin: true,
        }
    }

    pub fn says(mut self, line: impl Into<String>) -> Self {
        self.consequences.push(line.into());
        self
    }

    /// The button: its words and where it POSTs; `cancel`: back, changing nothing.
    pub fn button(mut self, words: &str, action: &str, cancel: &str) -> Self {
        self.button = words.to_owned();
        self.action = action.to_owned();
        self.cancel = cancel.to_owned();
        self
    }
}
