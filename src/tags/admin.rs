//! `/admin/tags` (editors and admins): list tags with their post counts; create, edit,
//! delete and merge them (issue 27, item 9). Fields go through `TagInput::parse`; deleting
//! and merging ask first (a page of their own, which changes nothing), then work through the
//! tag's posts in batches (`jobs`).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    jobs,
    model::{Field, Tag, TagFields, TagId, TagInput},
    repo::{self, JobRow, TagRow},
};
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, header},
    input::Problems,
    render::{Layout, confirm::Confirm, form::FormErrors, number::count},
    state::AppState,
};

fn layout(state: &AppState, session: &AuthSession, user: &CurrentUser, title: &str) -> Layout {
    Layout::new(&state.site(), title, "", "/admin/tags")
        .noindex()
        .header(Some(header(user, session)))
}

#[derive(Template)]
#[template(path = "tags/admin/index.html")]
struct IndexPage {
    layout: Layout,
    tags: Vec<TagRow>,
    /// Renames, merges and deletes still working through their posts.
    jobs: Vec<JobRow>,
}

/// `GET /admin/tags`
pub async fn index(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tags = repo::list_with_counts(&state.db).await?;
    let jobs = repo::jobs(&state.db).await?;
    let layout = layout(&state, &session, &user, "Tags");
    render(StatusCode::OK, IndexPage { layout, tags, jobs })
}

/// The new and edit forms' fields: a tag's, and the colour picker beside the accent's hex
/// field. Without script the two can't follow each other, so the picker wins only when it
/// was moved (its value differs from the one the page showed); otherwise the hex field is
/// the accent (empty: the site's own).
#[derive(Debug, Default, Deserialize)]
pub struct TagForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    meta_title: String,
    #[serde(default)]
    meta_description: String,
    #[serde(default)]
    image: String,
    /// An image picked in the library's picker (`media::chosen`).
    #[serde(default)]
    image_pick: String,
    #[serde(default)]
    accent: String,
    #[serde(default)]
    accent_pick: String,
    #[serde(default)]
    accent_shown: String,
}

impl TagForm {
    /// The tag's fields, the picked image put in its field (a forged pick: the mistake).
    fn fields(mut self) -> (TagFields, FormErrors) {
        let mut picks = FormErrors::default();
        crate::media::admin::apply_pick(&mut picks, "image", &mut self.image, &mut self.image_pick);
        let fields = TagFields {
            name: self.name,
            slug: self.slug,
            description: self.description,
            meta_title: self.meta_title,
            meta_description: self.meta_description,
            image: self.image,
            accent: crate::settings::model::chosen_color(
                &self.accent,
                &self.accent_pick,
                &self.accent_shown,
            ),
        };
        (fields, picks)
    }
}

/// The form's messages, under its input names.
fn form_errors(problems: &Problems<Field>) -> FormErrors {
    let mut errors = FormErrors::default();
    for (field, message) in problems.iter() {
        errors.add(field.name(), message);
    }
    errors
}

/// The new and edit page: the tag's fields, and for an existing tag, merging and deleting.
#[derive(Template)]
#[template(path = "tags/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    /// `None` on the new tag's page.
    tag: Option<Tag>,
    form: TagFields,
    errors: FormErrors,
    /// Tags this one may be merged into, and the one picked.
    targets: Vec<TagRow>,
    into: i64,
    posts: i64,
    /// The images the image field's picker offers.
    choices: crate::media::admin::Choices,
}

impl EditPage {}

async fn edit_page(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    tag: Option<Tag>,
    form: TagFields,
    errors: FormErrors,
) -> Result<EditPage, Error> {
    let (title, targets, posts) = match &tag {
        Some(tag) => (
            "Edit tag",
            repo::merge_targets(&state.db, tag.id).await?,
            repo::post_count(&state.db, tag.id).await?,
        ),
        None => ("New tag", Vec::new(), 0),
    };
    Ok(EditPage {
        layout: layout(state, session, user, title),
        csrf_token: session.csrf_token(),
        tag,
        form,
        errors,
        targets,
        into: 0,
        posts,
        choices: crate::media::admin::Choices::load(state, user).await?,
    })
}

async fn load(state: &AppState, id: i64) -> Result<Tag, Error> {
    repo::find(&state.db, TagId(id))
        .await?
        .ok_or(Error::NotFound)
}

/// `GET /admin/tags/new`
pub async fn new(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let page = edit_page(
        &state,
        &session,
        &user,
        None,
        TagFields::default(),
        FormErrors::default(),
    )
    .await?;
    render(StatusCode::OK, page)
}

/// `POST /admin/tags`: a new tag, with no posts yet (its page is there at once).
pub async fn create(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    CsrfForm(form): CsrfForm<TagForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let (fields, picks) = form.fields();
    let parsed = match picks.is_empty() {
        true => TagInput::parse(&fields).map_err(|p| form_errors(&p)),
        false => Err(picks),
    };
    let errors = match parsed {
        Ok(input) => match repo::create(&state.db, &input).await? {
            Some(_) => return Ok(see_other("/admin/tags")),
            None => {
                let mut errors = FormErrors::default();
                errors.add(
                    "slug",
                    format!("There is a tag at /tags/{} already", input.slug),
                );
                errors
            }
        },
        Err(errors) => errors,
    };
    let page = edit_page(&state, &session, &user, None, fields, errors).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// `GET /admin/tags/{id}/edit`
pub async fn edit(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    let form = TagFields::from(&tag);
    let page = edit_page(
        &state,
        &session,
        &user,
        Some(tag),
        form,
        FormErrors::default(),
    )
    .await?;
    render(StatusCode::OK, page)
}

/// `POST /admin/tags/{id}`: every field. The tag's page changes at once; after a rename its
/// posts' lists are updated in batches (`jobs`), the first one before this answers, so a tag
/// on up to a thousand posts is done by then and the tag list tells about the rest. A new
/// slug leaves a redirect from the old address (a trigger).
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<TagForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    let (fields, picks) = form.fields();
    let parsed = match picks.is_empty() {
        true => TagInput::parse(&fields).map_err(|p| form_errors(&p)),
        false => Err(picks),
    };
    let errors = match parsed {
        Ok(input) => match repo::update(&state.db, tag.id, &input).await {
            Ok(()) => {
                jobs::start(&state.db, tag.id).await?;
                return Ok(see_other("/admin/tags"));
            }
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("tags_slug_key") => {
                let mut errors = FormErrors::default();
                errors.add("slug", "Another tag has that slug; merge into it instead");
                errors
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let page = edit_page(&state, &session, &user, Some(tag), fields, errors).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// The tag picked to merge into, by id (from the edit page's list of tags).
#[derive(Debug, Default, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    pub into: String,
}

/// The merge's target, or why it can't be.
async fn target(
    state: &AppState,
    tag: &Tag,
    into: &str,
) -> Result<Result<Tag, &'static str>, Error> {
    const PICK: &str = "Pick another tag to merge into";
    let Ok(id) = into.trim().parse::<i64>() else {
        return Ok(Err(PICK));
    };
    let Some(target) = repo::find(&state.db, TagId(id)).await? else {
        return Ok(Err(PICK));
    };
    if target.id == tag.id {
        return Ok(Err(PICK));
    }
    Ok(match repo::job(&state.db, target.id).await? {
        Some(job) if job.merge_into.is_some() || job.deleting => {
            Err("That tag is going away itself; merge into the tag it goes to")
        }
        _ => Ok(target),
    })
}

/// The edit page with a problem on the merge's picker (422).
async fn merge_refused(
    state: &AppState,
    session: &AuthSession,
    user: &CurrentUser,
    tag: Tag,
    into: &str,
    problem: &str,
) -> Result<HttpResponse, Error> {
    let mut errors = FormErrors::default();
    errors.add("into", problem);
    let form = TagFields::from(&tag);
    let mut page = edit_page(state, session, user, Some(tag), form, errors).await?;
    page.into = into.trim().parse().unwrap_or(0);
    render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// `GET /admin/tags/{id}/merge?into={other}`: what the merge will do, and the button that
/// does it. Changes nothing.
pub async fn confirm_merge(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    query: web::Query<MergeForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    match target(&state, &tag, &query.into).await? {
        Ok(target) => {
            let posts = repo::post_count(&state.db, tag.id).await?;
            let moved = count(posts, "post", "posts");
            let mut page = Confirm::new(
                layout(&state, &session, &user, "Merge tags"),
                session.csrf_token(),
                format!("Merge “{}” into “{}”?", tag.name, target.name),
            )
            .says(format!(
                "{moved} will move from “{}” to “{}” and keep their other tags.",
                tag.name, target.name
            ))
            .says(format!(
                "“{}” is then deleted, and /tags/{} leads to /tags/{}. This can't be undone.",
                tag.name, tag.slug, target.slug
            ))
            .button(
                &format!("Merge {moved} into “{}”", target.name),
                &format!("/admin/tags/{}/merge", tag.id.0),
                &format!("/admin/tags/{}/edit", tag.id.0),
            );
            page.fields.push(("into".into(), target.id.0.to_string()));
            render(StatusCode::OK, page)
        }
        Err(problem) => merge_refused(&state, &session, &user, tag, &query.into, problem).await,
    }
}

/// `POST /admin/tags/{id}/merge`: this tag's posts join `into` (keeping their other tags),
/// this tag goes once the last of them has moved, and its address then redirects to the
/// other's (a trigger on the queued job). Like a rename, the posts move in batches (`jobs`).
pub async fn merge(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    match target(&state, &tag, &form.into).await? {
        Ok(target) => {
            repo::queue_merge(&state.db, tag.id, target.id).await?;
            jobs::start(&state.db, tag.id).await?;
            Ok(see_other("/admin/tags"))
        }
        Err(problem) => merge_refused(&state, &session, &user, tag, &form.into, problem).await,
    }
}

/// `GET /admin/tags/{id}/delete`: what deleting will do, and the button that does it.
/// Changes nothing.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    let posts = repo::post_count(&state.db, tag.id).await?;
    let carried = match posts {
        0 => "No post carries it.".to_owned(),
        1 => "1 post carries it; it loses this tag and keeps its others.".to_owned(),
        n => format!(
            "{} carry it; they lose this tag and keep their others.",
            count(n, "post", "posts")
        ),
    };
    let page = Confirm::new(
        layout(&state, &session, &user, "Delete tag"),
        session.csrf_token(),
        format!("Delete the tag “{}”?", tag.name),
    )
    .says(carried)
    .says(format!(
        "Its page, /tags/{}, and its feed go away. This can't be undone.",
        tag.slug
    ))
    .button(
        &format!("Delete “{}”", tag.name),
        &format!("/admin/tags/{}/delete", tag.id.0),
        &format!("/admin/tags/{}/edit", tag.id.0),
    );
    render(StatusCode::OK, page)
}

/// `POST /admin/tags/{id}/delete`: the tag leaves its posts (they keep their other tags),
/// in batches like a merge, then goes; its address is then a 404.
pub async fn delete(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    repo::queue_delete(&state.db, tag.id).await?;
    jobs::start(&state.db, tag.id).await?;
    Ok(see_other("/admin/tags"))
}
