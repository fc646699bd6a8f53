//! What a domain input layer (`posts::input`, `accounts::change`) answers when it refuses
//! input: each problem keyed by the owning module's field and said in its words. Every
//! front door (the HTML forms, the JSON API, later importers, GraphQL, the CLI) gets the
//! same verdicts from there and only renames the fields its own way (a form's input names,
//! RealWorld's camelCase keys). A leaf: it imports nothing of the crate.

/// The problems found in one input, in the order they were found; at most one per field
/// (the first, which is the one to fix first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems<F> {
    list: Vec<(F, String)>,
}

impl<F> Default for Problems<F> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<F: Copy + PartialEq> Problems<F> {
    /// Note `message` against `field`, unless that field already has one.
    pub fn add(&mut self, field: F, message: impl Into<String>) {
        if !self.has(field) {
            self.list.push((field, message.into()));
        }
    }

    /// Keep the parsed value, or note the parse error against `field` (in the newtype's
    /// words, which start in lower case: a door that shows sentences uses `capitalise`).
    pub fn check<T>(&mut self, field: F, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn has(&self, field: F) -> bool {
        self.list.iter().any(|(f, _)| *f == field)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (F, &str)> {
        self.list.iter().map(|(f, m)| (*f, m.as_str()))
    }

    /// `Ok(value)` when nothing was noted; the problems otherwise. (`value` is `None` only
    /// when a problem was noted for it.)
    pub fn into_result<T>(self, value: Option<T>) -> Result<T, Self> {
        match value {
            Some(value) if self.is_empty() => Ok(value),
            _ => Err(self),
        }
    }
}

/// A message as a sentence: its first letter in upper case.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A size as people read it in a message: "1 MiB", "1.5 MiB", "64 KiB", "12 bytes".
pub fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}
