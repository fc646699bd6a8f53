//! The site-wide facts every page shows (`Site`): the site settings as they are now, the
//! address, and the content-hashed assets. A leaf: it knows the settings' shape and nothing
//! else; where the current settings come from (`settings::live`) is the wiring's business,
//! reached through `Current`.

use std::sync::Arc;

/// Where the site settings as they are now come from: `settings::live::Live` in the app,
/// registered by the wiring, so the state that holds it names no feature.
pub trait Current: Send + Sync {
    /// The site settings and facts pages show, fresh for this request.
    fn site(&self) -> Arc<Site>;
    /// The newest site-settings version this instance knows of: kept pages are keyed by it,
    /// so a change of the settings, by anyone, makes them anew (see `cache`).
    fn version(&self) -> i64;
}

/// The static files every page links (content-hashed URLs).
#[derive(Debug, Clone)]
pub struct SiteAssets {
    pub css_url: String,
    /// Highlighted code's colours (`render::highlight`).
    pub highlight_css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
    /// The editor's enhancements, and the library they patch the preview with.
    pub editor_js: String,
    pub morphdom_js: String,
    /// New comments on the post page as they are posted (`ws`).
    pub live_comments_js: String,
    /// The media library's picker and the editor's image dialog (`media::admin`).
    pub media_js: String,
    /// The site sends email (`mail.smtp_host`), so readers may subscribe to new posts.
    pub newsletter: bool,
}

/// Site-wide facts every page shows: the site settings (`settings`) as they are now, and the
/// address and assets, which never change while the process runs.
#[derive(Debug)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// `http.base_url` without the trailing slash.
    pub base: String,
    pub per_page: u32,
    pub footer_text: String,
    pub navigation: crate::settings::model::Navigation,
    /// The header shows it instead of the title when set.
    pub logo_url: Option<String>,
    /// The site's own icon is SVG; an admin's may be anything.
    pub favicon_is_svg: bool,
    /// `/theme.css?v=N` when an admin chose an accent colour.
    pub theme_css_url: Option<String>,
    pub css_url: String,
    pub highlight_css_url: String,
    pub favicon_url: String,
    pub local_time_js: String,
    pub editor_js: String,
    pub morphdom_js: String,
    pub live_comments_js: String,
    pub media_js: String,
    pub newsletter: bool,
    pub settings: crate::settings::model::SiteSettings,
}

impl Site {
    pub fn new(
        assets: &SiteAssets,
        base: &str,
        settings: crate::settings::model::SiteSettings,
    ) -> Self {
        Self {
            title: settings.title.clone(),
            description: settings.description.clone(),
            base: base.to_owned(),
            per_page: u32::try_from(settings.posts_per_page.max(1)).unwrap_or(10),
            footer_text: settings.footer_text.clone(),
            navigation: settings.navigation.0.clone(),
            logo_url: Some(settings.logo_url.clone()).filter(|u| !u.is_empty()),
            favicon_is_svg: settings.icon_url.is_empty(),
            theme_css_url: (!settings.accent_color.is_empty())
                .then(|| format!("/theme.css?v={}", settings.version)),
            css_url: assets.css_url.clone(),
            highlight_css_url: assets.highlight_css_url.clone(),
            favicon_url: match settings.icon_url.as_str() {
                "" => assets.favicon_url.clone(),
                icon => icon.to_owned(),
            },
            local_time_js: assets.local_time_js.clone(),
            editor_js: assets.editor_js.clone(),
            morphdom_js: assets.morphdom_js.clone(),
            live_comments_js: assets.live_comments_js.clone(),
            media_js: assets.media_js.clone(),
            newsletter: assets.newsletter,
            settings,
        }
    }

    /// Whether readers may comment now.
    pub fn comments_open(&self) -> bool {
        self.settings.comments != crate::settings::model::CommentsMode::Off
    }
}
