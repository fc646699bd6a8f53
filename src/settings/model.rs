//! The settings' types and their checks.

use serde::{Deserialize, Serialize};

use sqlx::types::Json;

use crate::{accounts::model::Role, config::Settings};

/// The header and footer menus (`settings::navigation` edits them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Navigation {
    pub header: Vec<NavItem>,
    pub footer: Vec<NavItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavItem {
    pub label: String,
    pub url: String,
}

impl Navigation {
    /// A new site's menus (the column's default says the same).
    pub fn starter() -> Self {
        let item = |label: &str, url: &str| NavItem {
            label: label.to_owned(),
            url: url.to_owned(),
        };
        Self {
            header: vec![item("Home", "/"), item("Feed", "/feed.xml")],
            footer: vec![
                item("Atom feed", "/feed.xml"),
                item("Sitemap", "/sitemap.xml"),
            ],
        }
    }
}

/// Whether readers may comment, and whether a new commenter's first comment waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize, Deserialize)]
#[sqlx(type_name = "comments_mode", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum CommentsMode {
    Off,
    On,
    /// A new commenter's first comment waits for approval.
    Held,
}

impl CommentsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Held => "held",
        }
    }
}

/// The row of `site_settings`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteSettings {
    pub title: String,
    pub description: String,
    pub posts_per_page: i32,
    pub footer_text: String,
    /// `#rrggbb`, or empty for the theme's own.
    pub accent_color: String,
    pub registrations_open: bool,
    pub default_role: Role,
    pub comments: CommentsMode,
    /// The header and footer menus (`settings::navigation`).
    pub navigation: Json<Navigation>,
    /// Empty for the site's title in the header.
    pub logo_url: String,
    /// Empty for the theme's icon.
    pub icon_url: String,
    /// IANA name (`Europe/Berlin`) of the zone dates are shown in.
    pub timezone: String,
    /// Password accounts verify their address (a link by email) before they may comment.
    pub verify_email: bool,
    pub version: i64,
}

impl SiteSettings {
    /// A new site's settings: the config file's.
    pub fn defaults(settings: &Settings) -> Self {
        Self {
            title: settings.site.title.clone(),
            description: settings.site.description.clone(),
            posts_per_page: i32::try_from(settings.site.posts_per_page).unwrap_or(10),
            footer_text: String::new(),
            accent_color: String::new(),
            registrations_open: true,
            default_role: settings.accounts.default_role,
            comments: CommentsMode::On,
            navigation: Json(Navigation::starter()),
            logo_url: String::new(),
            icon_url: String::new(),
            timezone: "UTC".to_owned(),
            verify_email: false,
            version: 0,
        }
    }
}

/// An accent colour as admins may write it (`#B4441F`, `b4441f`, `#abc`): `#rrggbb`, or empty.
pub fn parse_color(input: &str) -> Result<String, String> {
    let hex = input.trim().trim_start_matches('#').to_ascii_lowercase();
    let hex = match hex.len() {
        0 => return Ok(String::new()),
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        _ => hex,
    };
    match hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        true => Ok(format!("#{hex}")),
        false => Err("An accent colour is a hex colour such as #b4441f".to_owned()),
    }
}

/// A hex field with a colour picker beside it (the `color_field` form macro): the picker
/// counts only when it was moved off the colour it was shown with, so what was typed (or an
/// emptied field, for "none") wins, and it all works without JavaScript.
pub fn chosen_color(typed: &str, picked: &str, shown: &str) -> String {
    match !picked.is_empty() && picked != shown {
        true => picked.to_owned(),
        false => typed.to_owned(),
    }
}

/// Where the picker starts: the typed colour when it is one, else the theme's accent.
pub fn picker_color(typed: impl AsRef<str>) -> String {
    match parse_color(typed.as_ref()) {
        Ok(c) if !c.is_empty() => c,
        _ => "#b4441f".to_owned(),
    }
}

/// A timezone as admins may write it: an IANA name (`Europe/Berlin`, `UTC`); empty is UTC.
pub fn parse_timezone(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Ok("UTC".to_owned());
    }
    match name.len() <= 64 && jiff::tz::TimeZone::get(name).is_ok() {
        true => Ok(name.to_owned()),
        false => Err(
            "A timezone is a name from the IANA database, such as Europe/Berlin or America/New_York"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_picker_counts_only_when_moved_off_where_it_started() {
        // Typed, picker untouched (or no picker: a client without it): the typed value.
        assert_eq!(chosen_color("#123456", "#b4441f", "#b4441f"), "#123456");
        assert_eq!(chosen_color("", "#b4441f", "#b4441f"), "");
        assert_eq!(chosen_color("#123456", "", ""), "#123456");
        // Picked: the picker's.
        assert_eq!(chosen_color("#123456", "#00ff00", "#123456"), "#00ff00");
        assert_eq!(picker_color("#abc"), "#aabbcc");
        assert_eq!(picker_color("not a colour"), "#b4441f");
    }

    use super::{chosen_color, parse_color, parse_timezone, picker_color};

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(
            parse_timezone("Europe/Berlin").as_deref(),
            Ok("Europe/Berlin")
        );
        assert_eq!(parse_timezone(" ").as_deref(), Ok("UTC"));
        for bad in [
            "Mars/Olympus",
            "CEST+2",
            "../../etc/passwd",
            "Europe/Berl in",
        ] {
            assert!(parse_timezone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colours_are_hex_or_nothing() {
        assert_eq!(parse_color("#B4441F").as_deref(), Ok("#b4441f"));
        assert_eq!(parse_color("b4441f").as_deref(), Ok("#b4441f"));
        assert_eq!(parse_color("#abc").as_deref(), Ok("#aabbcc"));
        assert_eq!(parse_color("  ").as_deref(), Ok(""));
        for bad in ["red", "#12345", "#1234567", "#ggg", "url(x)", "#fff;}body{"] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }
}
