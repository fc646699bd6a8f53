//! Reader pages for posts: the home page and a single post.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use askama::Template;
use sqlx::PgExecutor;

use super::{
    model::{Post, PostSummary},
    repo,
};
use crate::{
    cache::{Key, Keys},
    db::{Page, PageNumber, PageQuery, Reads},
    error::Error,
    extract::{CsrfForm, SignedIn, TokenOnly, Visitor},
    media::{self, images::Images},
    render::{Layout, page, page::Pager},
    site::Site,
    slug::Slug,
    state::AppState,
};

/// One page of a post list, ready for a template: shared by home, tag and author pages.
pub struct Listing {
    pub layout: Layout,
    pub posts: Vec<PostSummary>,
    pub pager: Pager,
}

impl Listing {
    /// The uploads the list shows (its cards' covers) and `more` (an author's avatar, a tag's
    /// image, the featured posts' covers), in one query.
    pub async fn images(
        &self,
        db: impl PgExecutor<'_>,
        state: &AppState,
        more: &[&str],
    ) -> Result<Images, Error> {
        let covers = self.posts.iter().filter_map(|p| p.cover_image.as_deref());
        Ok(Images::load(
            db,
            &state.settings.uploads,
            covers.chain(more.iter().copied()),
        )
        .await?)
    }

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
    images: Images,
    /// On the first page: the featured posts, before the rest.
    featured: Vec<PostSummary>,
    posts: Vec<PostSummary>,
    pager: Pager,
    /// No admin exists yet: the page says how to start (`/setup`).
    unclaimed: bool,
}

/// How many featured posts the home page leads with.
const FEATURED_ON_HOME: i64 = 3;

/// `GET /`: published posts, newest first, `site.posts_per_page` at a time.
pub async fn index(
    state: web::Data<AppState>,
    reads: Reads,
    visitor: Visitor,
    query: web::Query<PageQuery>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let number = query.number();
    let per_page = state.site().per_page;
    let (featured, rows) = match number.get() {
        1 => repo::list_home_first(&reads, per_page, FEATURED_ON_HOME).await?,
        _ => (
            Vec::new(),
            repo::list_published(&reads, number, per_page).await?,
        ),
    };
    let site = &state.site();
    let listing = Listing::new(site, "/", &site.title, &site.description, rows, number)?;
    let featured_covers: Vec<&str> = featured
        .iter()
        .filter_map(|p| p.cover_image.as_deref())
        .collect();
    let images = listing.images(&reads, &state, &featured_covers).await?;
    let Listing {
        layout,
        mut posts,
        pager,
    } = listing;
    // Shown once: first, among the featured.
    posts.retain(|p| !featured.iter().any(|f| f.id == p.id));
    keys.add(Key::Home)
        .add(Key::Posts)
        .add_all(featured.iter().chain(&posts).map(|p| p.id));
    // A new site's first visitor learns how to claim it (the kept page changes with the
    // settings `/setup` saves, so the notice goes with the first admin).
    let unclaimed = number.get() == 1 && !crate::accounts::repo::admin_exists(&reads).await?;
    page(IndexPage {
        layout: layout.header(visitor.header),
        images,
        featured,
        posts,
        pager,
        unclaimed,
    })
}

#[derive(Template)]
#[template(path = "posts/show.html")]
struct ShowPage {
    layout: Layout,
    /// The cover's and the body's uploads.
    images: Images,
    post: Post,
    comments: Vec<crate::comments::CommentView>,
    /// The viewer moderates this post's comments (its author, an editor, an admin).
    moderator: bool,
    viewer: Option<crate::accounts::model::CurrentUser>,
    /// The viewer favourites this post.
    favorited: bool,
}

impl ShowPage {
    fn may_edit(&self, c: &crate::comments::CommentView) -> bool {
        // This page shows published posts only.
        self.viewer
            .as_ref()
            .is_some_and(|v| crate::comments::may_edit(v, c.author_id, c.created_at, true))
    }

    /// Its author or a moderator (`comments::CommentDeletion`, the API's rule too).
    fn may_delete(&self, c: &crate::comments::CommentView) -> bool {
        let deletion = crate::comments::CommentDeletion {
            author: c.author_id,
            post_author: self.post.summary.author_id,
            // This page shows published posts only.
            post_published: true,
        };
        self.viewer.as_ref().is_some_and(|v| deletion.allowed(v))
    }

    fn viewer_id(&self) -> Option<crate::accounts::model::UserId> {
        self.viewer.as_ref().map(|v| v.id)
    }
}

/// `GET /posts/{slug}`: one published post, as readers see it.
pub async fn show(
    state: web::Data<AppState>,
    reads: Reads,
    visitor: Visitor,
    slug: web::Path<Slug>,
    keys: Keys,
) -> Result<HttpResponse, Error> {
    let post = repo::find_published(&reads, slug.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    let s = &post.summary;
    // The post, its author and commenters, and its neighbours (`Key::Posts`: which they are
    // changes whenever a post comes or goes).
    keys.add(s.id)
        .add(s.author_id)
        .add(Key::Posts)
        .add_all(post.comments.0.iter().filter_map(|c| c.author_id))
        .add_all(post.onward.0.ids().map(Key::Post));
    let moderator = visitor.user.as_ref().is_some_and(|v| {
        let post_author = s.author_id;
        crate::authz::can(v, crate::authz::Action::ModerateCommentsOn { post_author })
    });
    // Readers see visible comments (and their own waiting for approval); the post's author,
    // editors and admins all of them.
    let viewer_id = visitor.user.as_ref().map(|v| v.id);
    let comments = post
        .comments
        .0
        .iter()
        .filter(|c| {
            moderator
                || (!c.hidden && (!c.pending || (viewer_id.is_some() && c.author_id == viewer_id)))
        })
        .cloned()
        .collect();
    let layout = Layout::new(
        &state.site(),
        &s.title,
        &s.excerpt,
        &format!("/posts/{}", s.slug),
    )
    .header(visitor.header);
    let images = Images::load(
        &reads,
        &state.settings.uploads,
        media::images::sources(post.body_html.as_str())
            .chain(s.cover_image.as_deref())
            .chain(post.meta.0.social_image.as_deref()),
    )
    .await?;
    let layout = post.meta.0.apply(layout, s.cover_image.as_deref(), &images);
    let favorited = match &visitor.user {
        Some(v) => repo::is_favorite(&reads, v.id, s.id).await?,
        None => false,
    };
    // The author reading their own post is not a reader's view.
    let own = visitor.user.as_ref().is_some_and(|v| v.id == s.author_id);
    let mut res = page(ShowPage {
        layout,
        images,
        post,
        comments,
        moderator,
        viewer: visitor.user,
        favorited,
    })?;
    if own {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(crate::stats::NOT_COUNTED),
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    Ok(res)
}

/// `POST /posts/{slug}/favorite` and `/unfavorite`: a signed-in reader's favourite, then
/// back to the post.
pub async fn set_favorite(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    path: web::Path<(Slug, String)>,
    _form: CsrfForm<TokenOnly>,
) -> Result<HttpResponse, Error> {
    let (slug, action) = path.into_inner();
    let post = repo::find_published(&state.db, slug.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    match action.as_str() {
        "favorite" => repo::favorite(&state.db, user.id, post.summary.id).await?,
        "unfavorite" => repo::unfavorite(&state.db, user.id, post.summary.id).await?,
        _ => return Err(Error::NotFound),
    }
    Ok(crate::render::page::see_other(&format!(
        "/posts/{}#favorite",
        post.summary.slug
    )))
}

#[derive(Template)]
#[template(path = "posts/following.html")]
struct FollowingPage {
    layout: Layout,
    images: Images,
    posts: Vec<PostSummary>,
    pager: Pager,
}

/// `GET /following`: the newest posts by the authors the reader follows.
pub async fn following(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let user = visitor
        .user
        .clone()
        .ok_or_else(|| Error::LoginRequired("/following".into()))?;
    let number = query.number();
    let rows = repo::list_followed(&state.db, user.id, number, state.site().per_page).await?;
    let listing = Listing::new(
        &state.site(),
        "/following",
        "Following",
        "The newest posts by the authors you follow.",
        rows,
        number,
    )?;
    let images = listing.images(&state.db, &state, &[]).await?;
    let Listing {
        layout,
        posts,
        pager,
    } = listing;
    crate::render::page::personal(
        actix_web::http::StatusCode::OK,
        FollowingPage {
            layout: layout.header(visitor.header).noindex(),
            images,
            posts,
            pager,
        },
    )
}
