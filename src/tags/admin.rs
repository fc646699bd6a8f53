//! `/admin/tags` (editors and admins): rename, describe and merge tags.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    jobs,
    model::{Tag, TagId},
    repo::{self, JobRow, TagRow},
};
use crate::render::page::personal as render;
use crate::render::page::see_other;
use crate::{
    accounts::{model::CurrentUser, session::AuthSession},
    authz::{self, Action},
    error::Error,
    extract::{CsrfForm, SignedIn, header},
    render::{Layout, form::FormErrors},
    slug::Slug,
    state::AppState,
};

#[derive(Template)]
#[template(path = "tags/admin/index.html")]
struct IndexPage {
    layout: Layout,
    tags: Vec<TagRow>,
    /// Renames and merges still working through their posts.
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
    let layout = Layout::new(&state.site(), "Tags", "", "/admin/tags")
        .noindex()
        .header(Some(header(&user, &session)));
    render(StatusCode::OK, IndexPage { layout, tags, jobs })
}

#[derive(Debug, Default, Deserialize)]
pub struct TagForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MergeForm {
    /// The slug of the tag that absorbs this one.
    #[serde(default)]
    pub into: String,
}

#[derive(Template)]
#[template(path = "tags/admin/edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    tag: Tag,
    form: TagForm,
    into: String,
    errors: FormErrors,
}

fn edit_page(
    state: &AppState,
    session: &AuthSession,
    user: CurrentUser,
    tag: Tag,
    form: TagForm,
    errors: FormErrors,
) -> EditPage {
    EditPage {
        layout: Layout::new(
            &state.site(),
            "Edit tag",
            "",
            &format!("/admin/tags/{}/edit", tag.id.0),
        )
        .noindex()
        .header(Some(header(&user, session))),
        csrf_token: session.csrf_token(),
        tag,
        form,
        into: String::new(),
        errors,
    }
}

async fn load(state: &AppState, id: i64) -> Result<Tag, Error> {
    repo::find(&state.db, TagId(id))
        .await?
        .ok_or(Error::NotFound)
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
    let form = TagForm {
        name: tag.name.clone(),
        slug: tag.slug.clone(),
        description: tag.description.clone(),
    };
    render(
        StatusCode::OK,
        edit_page(&state, &session, user, tag, form, FormErrors::default()),
    )
}

/// `POST /admin/tags/{id}`: rename and describe. The tag's page changes at once; its posts'
/// lists are updated in batches (`jobs`), the first one before this answers, so a tag on up to
/// a thousand posts is done by then and the tag list tells about the rest.
pub async fn update(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<TagForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    let mut errors = FormErrors::default();
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "A tag name is 1 to 100 characters");
    }
    let slug = if form.slug.trim().is_empty() {
        Slug::from_title(&name)
            .ok_or_else(|| "Give the tag a name with letters or digits".to_owned())
    } else {
        Slug::parse(form.slug.trim())
    };
    let slug = errors.check("slug", slug);
    if form.description.chars().count() > super::model::DESCRIPTION_MAX {
        errors.add(
            "description",
            "A description can be at most 1,000 characters",
        );
    }
    if let (Some(slug), true) = (&slug, errors.is_empty()) {
        match repo::update(&state.db, tag.id, &name, slug, form.description.trim()).await {
            Ok(()) => {
                jobs::start(&state.db, tag.id).await?;
                return Ok(see_other("/admin/tags"));
            }
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("tags_slug_key") => {
                errors.add("slug", "Another tag has that slug; merge into it instead");
            }
            Err(e) => return Err(e.into()),
        }
    }
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        edit_page(&state, &session, user, tag, form, errors),
    )
}

/// `POST /admin/tags/{id}/merge`: this tag's posts join `into`, and this tag goes once the
/// last of them has moved. Like a rename, the posts move in batches (`jobs`).
pub async fn merge(
    state: web::Data<AppState>,
    session: AuthSession,
    SignedIn(user): SignedIn,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<HttpResponse, Error> {
    authz::require(&user, Action::ManageTags)?;
    let tag = load(&state, *id).await?;
    let target = match Slug::parse(form.into.trim()) {
        Ok(slug) => repo::find_by_slug(&state.db, &slug).await?,
        Err(_) => None,
    };
    const ANOTHER: &str = "Name another existing tag by its slug";
    let target = match target {
        Some(target) if target.id == tag.id => Err(ANOTHER),
        Some(target) => match repo::job(&state.db, target.id).await? {
            Some(job) if job.merge_into.is_some() => {
                Err("That tag is being merged itself; merge into the tag it goes to")
            }
            _ => Ok(target),
        },
        None => Err(ANOTHER),
    };
    match target {
        Ok(target) => {
            repo::queue_merge(&state.db, tag.id, target.id).await?;
            jobs::start(&state.db, tag.id).await?;
            Ok(see_other("/admin/tags"))
        }
        Err(problem) => {
            let mut errors = FormErrors::default();
            errors.add("into", problem);
            let form_values = TagForm {
                name: tag.name.clone(),
                slug: tag.slug.clone(),
                description: tag.description.clone(),
            };
            let mut page = edit_page(&state, &session, user, tag, form_values, errors);
            page.into = form.into;
            render(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}
