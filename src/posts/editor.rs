//! The post editor: the form, preview, create and update (with the no-lost-update version
//! check). What the form may hold is `posts::input`'s rule, shared with the API.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use super::{
    SaveError,
    admin::{editable, layout},
    diff::{DiffLine, diff_off_thread},
    input::{Field, PostFields},
    model::{PostForEdit, PostId, PostInput, PostKind, PostStatus},
};
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, Writer},
    render::{
        Layout, SafeHtml, budget::Meter, form::FormErrors, markdown, number::thousands,
        page::human_date_time,
    },
    state::AppState,
};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct EditorForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub excerpt: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub cover_image: String,
    /// An image picked from the library for the cover (`media::chosen`).
    #[serde(default, skip_serializing)]
    pub cover_image_pick: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub featured: Option<String>,
    /// "Publish without emailing subscribers": present when ticked.
    #[serde(default)]
    pub no_newsletter: Option<String>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: String,
    /// `YYYY-MM-DDTHH:MM` from a datetime-local input: UTC, or local time when `tz_offset`
    /// came with it.
    #[serde(default)]
    pub publish_at: String,
    /// Minutes to add to `publish_at` to get UTC (JavaScript's `getTimezoneOffset`), set by
    /// static/js/local-time.js; empty without JavaScript, meaning UTC.
    #[serde(default)]
    pub tz_offset: String,
    /// The version the author started from; a string, so a damaged value re-renders the
    /// form (text kept) instead of failing to parse.
    #[serde(default)]
    pub version: String,
    /// "save" or "preview".
    #[serde(default)]
    pub intent: String,
    /// "page" for a new page; read only when creating (a post never changes kind).
    #[serde(default)]
    pub kind: String,
    // Post settings (`PostMeta`): empty means the default.
    #[serde(default)]
    pub meta_title: String,
    #[serde(default)]
    pub meta_description: String,
    #[serde(default)]
    pub social_image: String,
    #[serde(default, skip_serializing)]
    pub social_image_pick: String,
    #[serde(default)]
    pub canonical_url: String,
    #[serde(default)]
    pub cover_alt: String,
    #[serde(default)]
    pub cover_caption: String,
    /// The answer to the newsletter's confirmation step (`newsletter_gate`): "send", "skip"
    /// (publish without sending) or "back" (to the editor, unpublished); empty before it.
    #[serde(default)]
    pub newsletter: String,
    /// The number of subscribers the step named, and the server's signature over it and
    /// the post (`confirm_token`), so a stale or made-up "send" is caught.
    #[serde(default)]
    pub newsletter_count: String,
    #[serde(default)]
    pub newsletter_token: String,
}

pub const DATETIME_LOCAL: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");

impl EditorForm {
    pub fn from_post(post: &PostForEdit) -> Self {
        Self {
            title: post.title.clone(),
            slug: post.slug.clone(),
            excerpt: post.own_excerpt(),
            tags: post.tag_names(),
            cover_image: post.cover_image.clone().unwrap_or_default(),
            featured: post.featured.then(|| "on".to_owned()),
            body: post.body_markdown.clone(),
            status: super::input::status_word(post.status, post.published_at).into(),
            publish_at: post
                .published_at
                .and_then(|t| t.format(DATETIME_LOCAL).ok())
                .unwrap_or_default(),
            version: post.version.to_string(),
            kind: kind_name(post.kind).into(),
            meta_title: post.meta.meta_title.clone(),
            meta_description: post.meta.meta_description.clone(),
            social_image: post.meta.social_image.clone().unwrap_or_default(),
            canonical_url: post.meta.canonical_url.clone().unwrap_or_default(),
            cover_alt: post.meta.cover_alt.clone(),
            cover_caption: post.meta.cover_caption.clone(),
            ..Self::default()
        }
    }

    /// What a new post from this form is: a page only when the form says so.
    pub fn new_kind(&self) -> PostKind {
        match self.kind.as_str() {
            "page" => PostKind::Page,
            _ => PostKind::Post,
        }
    }

    /// Whether the form has a mistake in its "Post settings" (the section opens to show it).
    pub fn settings_errors(errors: &FormErrors) -> bool {
        [
            "meta_title",
            "meta_description",
            "social_image",
            "canonical_url",
            "cover_alt",
            "cover_caption",
        ]
        .iter()
        .any(|f| errors.get(f).is_some())
    }

    /// The images picked in the library's pickers, put in their fields (`media::chosen`);
    /// a forged pick is the field's mistake.
    pub fn take_picks(&mut self) -> FormErrors {
        let mut errors = FormErrors::default();
        crate::media::admin::apply_pick(
            &mut errors,
            "cover_image",
            &mut self.cover_image,
            &mut self.cover_image_pick,
        );
        crate::media::admin::apply_pick(
            &mut errors,
            "social_image",
            &mut self.social_image,
            &mut self.social_image_pick,
        );
        errors
    }

    /// The Publish button is Save with the status set to published.
    fn with_intent(mut self) -> Self {
        if self.intent == "publish" {
            self.status = "published".into();
            self.intent = "save".into();
        }
        self
    }

    /// The form's fields as the domain takes them (`posts::input`): the tags split at
    /// commas, the datetime-local read with the browser's offset.
    pub fn fields(&self, kind: PostKind) -> PostFields {
        // Real offsets lie within ±14 hours; anything else is treated as UTC.
        let offset: i64 = self.tz_offset.trim().parse().unwrap_or(0);
        let offset = if offset.abs() <= 14 * 60 { offset } else { 0 };
        let publish_at = PrimitiveDateTime::parse(self.publish_at.trim(), DATETIME_LOCAL)
            .ok()
            .map(|t| t.assume_utc() + time::Duration::minutes(offset));
        PostFields {
            title: self.title.clone(),
            slug: self.slug.clone(),
            excerpt: self.excerpt.clone(),
            body: self.body.clone(),
            tags: self.tags.split(',').map(str::to_owned).collect(),
            cover_image: self.cover_image.clone(),
            featured: self.featured.is_some(),
            // No status sent (a new post's form) is a draft.
            status: match self.status.trim() {
                "" => "draft".to_owned(),
                status => status.to_owned(),
            },
            publish_at,
            meta_title: self.meta_title.clone(),
            meta_description: self.meta_description.clone(),
            social_image: self.social_image.clone(),
            canonical_url: self.canonical_url.clone(),
            cover_alt: self.cover_alt.clone(),
            cover_caption: self.cover_caption.clone(),
            kind,
        }
    }

    /// The post this form makes (`PostInput::parse`, the rules every door shares), or the
    /// problems under the form's field names (`max_body`: `posts.max_body_bytes`).
    pub fn parse(&self, max_body: usize, kind: PostKind) -> Result<PostInput, FormErrors> {
        PostInput::parse(&self.fields(kind), max_body).map_err(|problems| {
            let mut errors = FormErrors::default();
            for (field, message) in problems.iter() {
                match field {
                    // The editor's words: the text is kept in the form.
                    Field::Body => errors.add("body", too_long(max_body, self.body.len())),
                    _ => errors.add(field.name(), crate::input::capitalise(message)),
                }
            }
            errors
        })
    }
}

pub fn kind_name(kind: PostKind) -> &'static str {
    match kind {
        PostKind::Post => "post",
        PostKind::Page => "page",
    }
}

pub(super) fn too_long(max_body: usize, len: usize) -> String {
    format!(
        "{} Your text is below, unsaved.",
        super::input::body_too_long(max_body, len)
    )
}

/// The editor's words when the account's render budget is spent (`render::budget`).
pub(super) fn over_budget(retry_after: u64) -> String {
    format!(
        "You are previewing and saving very fast: the server needs a moment. Wait \
         {retry_after} seconds and try again; your text is kept."
    )
}

/// Admit `user` to the render threads, or put the reason on `page` (429).
async fn admitted<'a>(
    state: &'a AppState,
    user: &CurrentUser,
    page: &mut EditPage,
) -> Result<Meter<'a>, StatusCode> {
    crate::render::budget::Budget::of(state)
        .admit(user.id.0)
        .await
        .map_err(|spent| {
            page.errors = FormErrors::general(over_budget(spent.retry_after));
            StatusCode::TOO_MANY_REQUESTS
        })
}

/// Render a preview of `body` off the async workers, within the person's render budget.
async fn preview(
    state: &AppState,
    user: &CurrentUser,
    page: &mut EditPage,
) -> Result<StatusCode, Error> {
    let max = state.settings.posts.max_body_bytes;
    if page.form.body.len() > max {
        page.errors.add("body", too_long(max, page.form.body.len()));
        page.errors.general = Some(TOO_LONG.replace("Not saved", "No preview"));
        return Ok(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let meter = match admitted(state, user, page).await {
        Ok(meter) => meter,
        Err(status) => return Ok(status),
    };
    let html = meter
        .measure(markdown::render_off_thread(page.form.body.clone()))
        .await;
    page.preview = Some(html);
    Ok(StatusCode::OK)
}

/// What the author sent: a save of `PostInput` (admitted to the render threads), or
/// `Err(status)` when the page goes back to them as it now is (a preview, the form with
/// what to fix and their text, or their render budget spent).
async fn submitted<'a>(
    state: &'a AppState,
    user: &CurrentUser,
    page: &mut EditPage,
) -> Result<Result<(PostInput, Meter<'a>), StatusCode>, Error> {
    let picks = page.form.take_picks();
    if !picks.is_empty() {
        page.errors = picks;
        return Ok(Err(StatusCode::UNPROCESSABLE_ENTITY));
    }
    if page.form.intent == "preview" {
        return Ok(Err(preview(state, user, page).await?));
    }
    let max_body = state.settings.posts.max_body_bytes;
    let kind = page.post.as_ref().map_or(page.form.new_kind(), |p| p.kind);
    match page.form.parse(max_body, kind) {
        Ok(input) => Ok(admitted(state, user, page)
            .await
            .map(|meter| (input, meter))),
        Err(errors) => {
            let (status, errors) = rejected(&page.form, max_body, errors);
            page.errors = errors;
            Ok(Err(status))
        }
    }
}

/// Why a save didn't parse, with the status to answer: 413 when the body is over the limit.
fn rejected(
    form: &EditorForm,
    max_body: usize,
    mut errors: FormErrors,
) -> (StatusCode, FormErrors) {
    if form.body.len() > max_body {
        errors.general.get_or_insert_with(|| TOO_LONG.to_owned());
        (StatusCode::PAYLOAD_TOO_LARGE, errors)
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, errors)
    }
}

/// The summary at the top of the editor when the body is over the limit (the body field
/// says by how much).
const TOO_LONG: &str = "Not saved: the body is longer than a post may be. Your text is kept below.";

/// Another person's save that beat this one: who, when, and how their text differs.
pub struct ConflictInfo {
    pub when: String,
    pub title: String,
    pub diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "posts/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    /// `None` for a new post.
    post: Option<PostForEdit>,
    form: EditorForm,
    errors: FormErrors,
    preview: Option<SafeHtml>,
    conflict: Option<ConflictInfo>,
    /// Text autosave kept aside (a published post's, or one that met a newer save), shown
    /// in the form instead of the post's.
    aside: Option<Aside>,
    /// What the last request did ("Saved.", "Published. Emailing 1,204 subscribers …").
    flash: Option<String>,
    /// The newsletter, when the site sends email: what became of this post's.
    newsletter: Option<NewsletterNote>,
    /// How many subscribers the Publish button emails unless "Publish without emailing" is
    /// ticked (`newsletter::audience`); `None` when publishing sends nothing anyway.
    publish_reach: Option<i64>,
    /// The images the cover and social image pickers offer.
    choices: crate::media::admin::Choices,
}

/// How a post's newsletter stands, for the editor.
pub enum NewsletterNote {
    /// Not published yet (or not yet emailed): the checkbox decides.
    Open,
    /// Going out: to `recipients` (`None` until sending starts), `sent` so far.
    Sending { recipients: Option<i64>, sent: i64 },
    /// Gone to its subscribers: nothing to choose any more.
    Sent { recipients: i64 },
}

impl NewsletterNote {
    /// "Emailing 1,204 subscribers: 3 sent so far." for the progress line.
    fn progress(&self) -> Option<String> {
        match self {
            Self::Open => None,
            Self::Sending {
                recipients: Some(n),
                sent,
            } => Some(format!(
                "Emailing {}: {} sent so far.",
                subscribers(*n),
                thousands(*sent)
            )),
            Self::Sending {
                recipients: None, ..
            } => Some("Emailing subscribers: starting.".into()),
            Self::Sent { recipients } => Some(format!(
                "Emailed to {} when it was published.",
                subscribers(*recipients)
            )),
        }
    }
}

/// The Publish button when publishing emails nobody.
const QUIET: &str = "Publish now";

/// "1 subscriber", "1,204 subscribers".
fn subscribers(n: i64) -> String {
    crate::render::number::count(n, "subscriber", "subscribers")
}

impl EditPage {
    /// A page (About, Contact): no tags, excerpt or featuring; served at `/{slug}`.
    fn is_page(&self) -> bool {
        self.post
            .as_ref()
            .map_or(self.form.new_kind() == PostKind::Page, |p| p.is_page())
    }

    /// What the editor calls the thing it edits.
    fn noun(&self) -> &'static str {
        if self.is_page() { "page" } else { "post" }
    }

    fn settings_open(&self) -> bool {
        EditorForm::settings_errors(&self.errors)
    }

    /// A new post's editor starts in its Title (issue 27, item 5), unless the page came back
    /// with a mistake to show.
    fn autofocus_title(&self) -> bool {
        self.post.is_none() && self.errors.general.is_none() && self.form.title.is_empty()
    }

    /// "Address, tags, cover and excerpt" opens to show a mistake in it.
    fn details_open(&self) -> bool {
        ["slug", "tags", "cover_image", "excerpt"]
            .iter()
            .any(|f| self.errors.get(f).is_some())
    }

    /// "Publishing" opens for a scheduled post (its time matters) or a mistake in it.
    fn publishing_open(&self) -> bool {
        self.form.status == "scheduled" || self.errors.get("publish_at").is_some()
    }

    /// The Publish button says what it does: "Publish and email 1,204 subscribers".
    fn publish_label(&self) -> String {
        match self.form.no_newsletter {
            Some(_) => QUIET.into(),
            None => self.publish_label_loud(),
        }
    }

    /// The label when sending (the script switches labels as "without emailing" changes).
    fn publish_label_loud(&self) -> String {
        match self.publish_reach {
            Some(n) if n > 0 => format!("Publish and email {}", subscribers(n)),
            _ => QUIET.into(),
        }
    }

    fn publish_label_quiet(&self) -> &'static str {
        QUIET
    }

    fn newsletter_progress(&self) -> Option<String> {
        self.newsletter.as_ref().and_then(NewsletterNote::progress)
    }

    /// The search-result preview: the address, title and description readers' pages give.
    fn serp_url(&self) -> String {
        let path = match &self.post {
            Some(p) if self.form.slug.trim().is_empty() => p.public_path(),
            _ => {
                let slug = match self.form.slug.trim() {
                    "" => crate::slug::Slug::from_title(&self.form.title)
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    slug => slug.to_owned(),
                };
                let kind = self.post.as_ref().map_or(self.form.new_kind(), |p| p.kind);
                super::model::public_path(kind, &slug)
            }
        };
        match self.form.canonical_url.trim() {
            "" => format!("{}{path}", self.layout.site.base),
            canonical => canonical.to_owned(),
        }
    }

    fn serp_title(&self) -> String {
        match (self.form.meta_title.trim(), self.form.title.trim()) {
            ("", "") => self.layout.site.title.clone(),
            ("", title) => format!("{title} · {}", self.layout.site.title),
            (meta, _) => meta.to_owned(),
        }
    }

    fn serp_description(&self) -> String {
        let saved = self.post.as_ref().map(|p| p.excerpt.as_str()).unwrap_or("");
        [
            self.form.meta_description.trim(),
            self.form.excerpt.trim(),
            saved,
        ]
        .into_iter()
        .find(|d| !d.is_empty())
        .map_or_else(|| self.layout.site.description.clone(), str::to_owned)
    }
}

/// What autosave kept aside, as the editor announces it.
pub struct Aside {
    pub when: String,
    /// Someone saved the post after this text's version: saving shows both.
    pub stale: bool,
}

fn edit_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    post: Option<PostForEdit>,
    form: EditorForm,
) -> EditPage {
    let (title, path) = match &post {
        Some(p) => (
            format!("Edit “{}”", p.title),
            format!("/admin/posts/{}/edit", p.id.0),
        ),
        None if form.new_kind() == PostKind::Page => {
            ("New page".to_owned(), "/admin/pages/new".to_owned())
        }
        None => ("New post".to_owned(), "/admin/posts/new".to_owned()),
    };
    EditPage {
        layout: layout(state, session, user, &title, &path),
        csrf_token: session.csrf_token(),
        post,
        form,
        errors: FormErrors::default(),
        preview: None,
        conflict: None,
        aside: None,
        flash: None,
        newsletter: state
            .settings
            .mail
            .is_configured()
            .then_some(NewsletterNote::Open),
        publish_reach: None,
        choices: Default::default(),
    }
}

/// When the post would come out if published now: a post published before and unpublished
/// keeps its first time (as `repo::update` does), any other now.
fn published_at_if_published(post: Option<&PostForEdit>) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    post.and_then(|p| p.published_at)
        .filter(|t| *t <= now)
        .unwrap_or(now)
}

/// Whether the post is out (readers see it) now.
fn is_public(post: Option<&PostForEdit>) -> bool {
    post.is_some_and(|p| {
        p.status != PostStatus::Draft
            && p.published_at
                .is_some_and(|t| t <= OffsetDateTime::now_utc())
    })
}

/// How many subscribers publishing the form emails, `send` being the author's choice.
async fn reach(state: &AppState, page: &EditPage, send: bool) -> sqlx::Result<Option<i64>> {
    let kind = page.post.as_ref().map_or(page.form.new_kind(), |p| p.kind);
    crate::newsletter::audience(
        state,
        page.post.as_ref().map(|p| p.id),
        kind,
        Some(published_at_if_published(page.post.as_ref())),
        send,
    )
    .await
}

/// The editor page with its Publish button's audience (a page that is not yet out).
async fn show(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    mut page: EditPage,
) -> Result<HttpResponse, Error> {
    page.choices = crate::media::admin::Choices::load(state, user).await?;
    if !is_public(page.post.as_ref()) {
        // As if sending: the script switches the label when "without emailing" is ticked.
        page.publish_reach = reach(state, &page, true).await?;
    }
    render(status, page)
}

/// The signature a confirmation step puts on its count: for this post (or a new one), this
/// person, and this many subscribers.
fn confirm_token(state: &AppState, user: &CurrentUser, post: Option<PostId>, count: i64) -> String {
    crate::accounts::verify::sign(
        &state.settings,
        "publish-newsletter",
        &[&target(post), &user.id.0.to_string(), &count.to_string()],
    )
}

fn target(post: Option<PostId>) -> String {
    post.map_or_else(|| "new".into(), |id| id.0.to_string())
}

/// Publishing that emails subscribers waits for the author's yes (issue 27, item 6; Ghost
/// asks too): the first press answers the confirmation step, which names how many get it
/// and offers to publish without sending. `Ok(None)`: go on and save; `Ok(Some(response))`:
/// the step, or the editor again (back, or a confirmation that doesn't hold).
async fn newsletter_gate(
    state: &AppState,
    user: &CurrentUser,
    mut page: EditPage,
    input: &PostInput,
) -> Result<Result<EditPage, HttpResponse>, Error> {
    if input.status != PostStatus::Published || page.is_page() || is_public(page.post.as_ref()) {
        return Ok(Ok(page));
    }
    match page.form.newsletter.as_str() {
        "skip" => {
            page.form.no_newsletter = Some("on".into());
            return Ok(Ok(page));
        }
        "back" => {
            // Back to writing, not published: the status the post has.
            page.form.status = page.post.as_ref().map_or_else(
                || "draft".to_owned(),
                |p| super::input::status_word(p.status, p.published_at).to_owned(),
            );
            return show(state, user, StatusCode::OK, page).await.map(Err);
        }
        _ => {}
    }
    let send = page.form.no_newsletter.is_none();
    let Some(count) = reach(state, &page, send).await?.filter(|n| *n > 0) else {
        return Ok(Ok(page));
    };
    let post = page.post.as_ref().map(|p| p.id);
    if page.form.newsletter != "send" {
        return confirm(state, user, page, count, None).map(Err);
    }
    let asked = page.form.newsletter_count.trim().parse::<i64>().ok();
    let genuine = asked.is_some_and(|asked| {
        crate::accounts::verify::signed(
            &state.settings,
            "publish-newsletter",
            &[&target(post), &user.id.0.to_string(), &asked.to_string()],
            page.form.newsletter_token.trim(),
        )
    });
    match asked {
        _ if !genuine => {
            page.errors = FormErrors::general(
                "Not published, and nothing was emailed: that confirmation is not one this                  site asked you for. Your text is below; publish again to be asked.",
            );
            show(state, user, StatusCode::BAD_REQUEST, page)
                .await
                .map(Err)
        }
        Some(asked) if asked != count => confirm(state, user, page, count, Some(asked)).map(Err),
        _ => Ok(Ok(page)),
    }
}

/// The confirmation step: publish and email `count` subscribers, publish without sending,
/// or go back; every field of the form carried along, so nothing typed is lost.
/// `changed_from`: the count the author was shown before, now out of date (409).
fn confirm(
    state: &AppState,
    user: &CurrentUser,
    page: EditPage,
    count: i64,
    changed_from: Option<i64>,
) -> Result<HttpResponse, Error> {
    let post = page.post.as_ref().map(|p| p.id);
    let mut form = page.form;
    form.newsletter_count = count.to_string();
    form.newsletter_token = confirm_token(state, user, post, count);
    form.newsletter.clear();
    let fields = match serde_json::to_value(&form) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(v) if k != "newsletter" => Some((k, v)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let title = match form.title.trim() {
        "" => "Untitled".to_owned(),
        t => t.to_owned(),
    };
    let mut layout = page.layout;
    layout.title = format!("Publish “{title}”?");
    let step = ConfirmPublish {
        layout,
        csrf_token: page.csrf_token,
        action: post.map_or_else(
            || "/admin/posts".into(),
            |id| format!("/admin/posts/{}", id.0),
        ),
        fields,
        title,
        audience: subscribers(count),
        changed_from: changed_from.map(subscribers),
    };
    let status = if changed_from.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    render(status, step)
}

/// `templates/posts/admin/confirm_publish.html`: the newsletter's confirmation step.
#[derive(Template)]
#[template(path = "posts/admin/confirm_publish.html")]
struct ConfirmPublish {
    layout: Layout,
    csrf_token: String,
    action: String,
    /// The editor's fields, as hidden inputs.
    fields: Vec<(String, String)>,
    title: String,
    /// "1,204 subscribers"
    audience: String,
    changed_from: Option<String>,
}

/// What the editor says after publishing: what became of the newsletter.
fn published_flash(note: Option<&NewsletterNote>, skipped: bool) -> String {
    match note {
        Some(NewsletterNote::Sending {
            recipients: Some(n),
            ..
        }) => format!("Published. Emailing {} — progress below.", subscribers(*n)),
        Some(NewsletterNote::Sending { .. }) => {
            "Published. Emailing subscribers — progress below.".into()
        }
        Some(NewsletterNote::Sent { recipients }) => {
            format!("Published. Emailed to {}.", subscribers(*recipients))
        }
        _ if skipped => "Published, without emailing subscribers.".into(),
        _ => "Published.".into(),
    }
}

/// After a save of a post: the author's newsletter choice recorded, and a look for newly
/// published posts queued.
async fn newsletter_after_save(
    state: &AppState,
    id: PostId,
    form: &EditorForm,
) -> Result<(), Error> {
    if !state.settings.mail.is_configured() || form.new_kind() == PostKind::Page {
        return Ok(());
    }
    crate::newsletter::choose(&state.db, id, form.no_newsletter.is_none()).await?;
    crate::newsletter::scan_soon(&state.db).await?;
    Ok(())
}

/// `GET /admin/posts/new`
pub async fn new(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
) -> Result<HttpResponse, Error> {
    let page = edit_page(&state, &session, &user, None, EditorForm::default());
    show(&state, &user, StatusCode::OK, page).await
}

/// `GET /admin/pages/new` (editors and admins)
pub async fn new_page(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManagePages)?;
    let form = EditorForm {
        kind: "page".into(),
        ..EditorForm::default()
    };
    let page = edit_page(&state, &session, &user, None, form);
    show(&state, &user, StatusCode::OK, page).await
}

/// `POST /admin/posts`: create a post (or, from the new page form, a page), or show a
/// preview of what would be created.
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    if form.new_kind() == PostKind::Page {
        authz::require(&user, Action::ManagePages)?;
    }
    let mut page = edit_page(&state, &session, &user, None, form.with_intent());
    let (input, meter) = match submitted(&state, &user, &mut page).await? {
        Ok(admitted) => admitted,
        Err(status) => return show(&state, &user, status, page).await,
    };
    let mut page = match newsletter_gate(&state, &user, page, &input).await? {
        Ok(page) => page,
        Err(answer) => return Ok(answer),
    };
    let created = meter
        .measure(super::create_from_input(&state.db, user.id, &input))
        .await?;
    match created {
        Some(id) => {
            newsletter_after_save(&state, id, &page.form).await?;
            Ok(see_other(&saved_path(
                id,
                input.status == PostStatus::Published,
            )))
        }
        None => {
            page.errors
                .add("slug", "That slug is taken; choose another");
            show(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, page).await
        }
    }
}

/// Where a save leads: the editor, saying it saved, or that it published and what became
/// of the newsletter.
fn saved_path(id: PostId, published_now: bool) -> String {
    let published = if published_now { "&published=1" } else { "" };
    format!("/admin/posts/{}/edit?saved=1{published}", id.0)
}

#[derive(Debug, Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    pub saved: Option<u8>,
    /// This save published the post.
    #[serde(default)]
    pub published: Option<u8>,
}

/// `GET /admin/posts/{id}/edit`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    if post.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    let mut form = EditorForm::from_post(&post);
    let mut aside = None;
    let mut page_note = None;
    if let Some(kept) = super::repo::kept_aside(&state.db, post.id, user.id).await? {
        // A form from an older build that no longer parses is simply not offered.
        if let Ok(kept_form) = serde_json::from_value::<EditorForm>(kept.form.0) {
            form = EditorForm {
                version: kept.base_version.to_string(),
                ..kept_form
            };
            aside = Some(Aside {
                when: human_date_time(&kept.saved_at),
                stale: kept.base_version != post.version,
            });
        }
    }
    let mut skipped = false;
    if state.settings.mail.is_configured() && !post.is_page() {
        match crate::newsletter::repo::progress(&state.db, post.id).await? {
            Some(p) if p.skipped => {
                skipped = true;
                form.no_newsletter = Some("on".into());
            }
            Some(p) if p.finished => {
                page_note = Some(NewsletterNote::Sent {
                    recipients: p.recipients.into(),
                });
            }
            Some(p) => {
                page_note = Some(NewsletterNote::Sending {
                    recipients: p.started.then_some(p.recipients.into()),
                    sent: p.sent,
                });
            }
            None => {}
        }
    }
    let mut page = edit_page(&state, &session, &user, Some(post), form);
    if page_note.is_none() && is_public(page.post.as_ref()) {
        // Out, and due by the send's rule: the scan is about to claim it.
        let send = page.form.no_newsletter.is_none();
        if let Some(n) = reach(&state, &page, send).await?.filter(|n| *n > 0) {
            page_note = Some(NewsletterNote::Sending {
                recipients: Some(n),
                sent: 0,
            });
        }
    }
    if page_note.is_some() {
        page.newsletter = page_note;
    }
    page.aside = aside;
    page.flash = match (query.saved, query.published) {
        (_, Some(_)) => Some(published_flash(page.newsletter.as_ref(), skipped)),
        (Some(_), None) => Some("Saved.".into()),
        (None, None) => None,
    };
    show(&state, &user, StatusCode::OK, page).await
}

/// `POST /admin/posts/{id}`: save an edit (or preview it). A save of a stale version is
/// refused with the other person's change shown and this person's text kept in the form.
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    Writer(user): Writer,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<EditorForm>,
) -> Result<HttpResponse, Error> {
    let post = editable(&state, &user, PostId(*id)).await?;
    let id = post.id;
    let was_public = is_public(Some(&post));
    let mut page = edit_page(&state, &session, &user, Some(post), form.with_intent());
    let (input, meter) = match submitted(&state, &user, &mut page).await? {
        Ok(admitted) => admitted,
        Err(status) => return show(&state, &user, status, page).await,
    };
    let Ok(version) = page.form.version.trim().parse::<i32>() else {
        page.errors = FormErrors::general(
            "The form lost track of which version you started from. Your text is below, \
             unsaved: copy it, reload the post, and paste it back.",
        );
        return show(&state, &user, StatusCode::BAD_REQUEST, page).await;
    };
    let mut page = match newsletter_gate(&state, &user, page, &input).await? {
        Ok(page) => page,
        Err(answer) => return Ok(answer),
    };
    let saved = meter
        .measure(super::update(
            &state.db,
            user.id,
            id,
            version,
            &input,
            super::SaveKind::Manual,
        ))
        .await;
    match saved {
        Ok(_) => {
            if !page.is_page() {
                newsletter_after_save(&state, id, &page.form).await?;
            }
            let published_now = !was_public && input.status == PostStatus::Published;
            Ok(see_other(&saved_path(id, published_now)))
        }
        Err(SaveError::SlugTaken) => {
            page.errors
                .add("slug", "That slug is taken; choose another");
            show(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, page).await
        }
        Err(SaveError::Conflict(current)) => {
            page.conflict = Some(ConflictInfo {
                when: human_date_time(&current.updated_at),
                title: current.title.clone(),
                diff: diff_off_thread(current.body_markdown.clone(), page.form.body.clone()).await,
            });
            page.errors = FormErrors::general(
                "Someone else saved this post after you opened it. Your text is below, unsaved; \
                 compare it with theirs, then save again to replace their version.",
            );
            // Saving again is now a deliberate choice to replace what they wrote.
            page.form.version = current.version.to_string();
            page.post = Some(*current);
            show(&state, &user, StatusCode::CONFLICT, page).await
        }
        Err(SaveError::Gone) => Err(Error::NotFound),
        Err(SaveError::Other(e)) => Err(Error::Internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_post_needs_a_future_time() {
        let form = EditorForm {
            title: "T".into(),
            status: "scheduled".into(),
            publish_at: "2000-01-01T10:00".into(),
            ..EditorForm::default()
        };
        assert!(form.parse(1 << 20, PostKind::Post).is_err());
        let future = EditorForm {
            publish_at: "2999-01-01T10:00".into(),
            ..form
        };
        let input = future.parse(1 << 20, PostKind::Post).expect("valid");
        assert_eq!(input.status, PostStatus::Scheduled);
        assert_eq!(input.slug.as_str(), "t");
    }

    #[test]
    fn a_local_time_with_its_offset_becomes_utc() {
        let form = EditorForm {
            title: "T".into(),
            status: "scheduled".into(),
            publish_at: "2999-01-01T10:00".into(),
            tz_offset: "-60".into(), // UTC+1
            ..EditorForm::default()
        };
        let at = form
            .parse(1 << 20, PostKind::Post)
            .expect("valid")
            .publish_at
            .expect("a time");
        assert_eq!((at.hour(), at.minute()), (9, 0));
        let absurd = EditorForm {
            tz_offset: "100000".into(),
            ..form
        };
        assert_eq!(
            absurd
                .parse(1 << 20, PostKind::Post)
                .expect("valid")
                .publish_at
                .map(|t| t.hour()),
            Some(10)
        );
    }

    #[test]
    fn cover_images_are_local_paths_or_https() {
        for (cover, ok) in [
            ("/uploads/a.png", true),
            ("https://x.example/a.png", true),
            ("javascript:x", false),
            ("//evil/a.png", false),
            ("http://x/a.png", false),
        ] {
            let form = EditorForm {
                title: "T".into(),
                cover_image: cover.into(),
                ..EditorForm::default()
            };
            assert_eq!(form.parse(1 << 20, PostKind::Post).is_ok(), ok, "{cover}");
        }
    }
}
