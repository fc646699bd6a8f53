//! Reader pages for posts: the home page and a single post.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{
    model::{Post, PostSummary},
    repo,
};
use crate::{
    accounts::session::AuthSession,
    db::{Page, PageNumber, PageQuery},
    error::Error,
    extract::Viewer,
    render::{Layout, page, page::Pager},
    slug::Slug,
    state::{AppState, Site},
};

/// One page of a post list, ready for a template: shared by home, tag and author pages.
pub struct Listing {
    pub layout: Layout,
    pub posts: Vec<PostSummary>,
    pub pager: Pager,
}

impl Listing {
    /// `rows` were fetched with one extra (see `Page::from_overfetch`). A page past the end
    /// of the list is a 404.
    pub fn new(
        site: &Arc<Site>,
        path: &str,
        title: &str,
        description: &str,
        rows: Vec<PostSummary>,
        number: PageNumber,
    ) -> Result<Self, Error> {
        let list = Page::from_overfetch(rows, number, site.per_page);
        if list.is_past_the_end() {
            return Err(Error::NotFound);
        }
        let mut layout = Layout::new(
            site,
            title,
            description,
            &crate::render::page::page_href(path, number.get()),
        )
        .paginated(path, list.prev(), list.next());
        if number.get() > 1 {
            layout.title = format!("{} (page {})", layout.title, number.get());
        }
        Ok(Self {
            layout,
            pager: Pager::new(path, &list),
            posts: list.items,
        })
    }
}

#[derive(Template)]
#[template(path = "posts/index.html")]
struct IndexPage {
    layout: Layout,
    posts: Vec<PostSummary>,
    pager: Pager,
}

/// `GET /`: published posts, newest first, `site.posts_per_page` at a time.
pub async fn index(
    state: web::Data<AppState>,
    viewer: Viewer,
    session: AuthSession,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let number = query.number();
    let rows = repo::list_published(&state.db, number, state.site.per_page).await?;
    let site = &state.site;
    let Listing {
        layout,
        posts,
        pager,
    } = Listing::new(site, "/", &site.title, &site.description, rows, number)?;
    page(IndexPage {
        layout: layout.viewer(viewer, &session),
        posts,
        pager,
    })
}

#[derive(Template)]
#[template(path = "posts/show.html")]
struct ShowPage {
    layout: Layout,
    post: Post,
    comments: Vec<crate::comments::CommentView>,
    /// The viewer moderates this post's comments (its author, an editor, an admin).
    moderator: bool,
    viewer_id: Option<crate::accounts::model::UserId>,
}

impl ShowPage {
    fn may_edit(&self, c: &crate::comments::CommentView) -> bool {
        self.layout
            .viewer
            .as_ref()
            .is_some_and(|v| crate::comments::may_edit(v, c.author_id, c.created_at))
    }
}

/// `GET /posts/{slug}`: one published post, as readers see it.
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    session: AuthSession,
    slug: web::Path<Slug>,
) -> Result<HttpResponse, Error> {
    let post = repo::find_published(&state.db, slug.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    let s = &post.summary;
    let moderator = viewer.0.as_ref().is_some_and(|v| {
        let post_author = s.author_id;
        crate::authz::can(v, crate::authz::Action::ModerateCommentsOn { post_author })
    });
    let viewer_id = viewer.0.as_ref().map(|v| v.id);
    // Readers see visible comments; the post's author, editors and admins all of them.
    let comments = post
        .comments
        .0
        .iter()
        .filter(|c| moderator || !c.hidden)
        .cloned()
        .collect();
    let layout = Layout::new(
        &state.site,
        &s.title,
        &s.excerpt,
        &format!("/posts/{}", s.slug),
    )
    .article(s.cover_image.as_deref())
    .viewer(viewer, &session);
    page(ShowPage {
        layout,
        post,
        comments,
        moderator,
        viewer_id,
    })
}
