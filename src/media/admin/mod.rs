//! The media library for staff: `/admin/media` (the grid, search, upload; `index`), one
//! image's page (alt text, where it is used, delete; `show`), and the picker every image
//! field offers (`Choices`, the `image_field` macro in templates/macros_form.html).
//! Authors see their own uploads; editors and admins everyone's (`Action::SeeAllUploads`).

pub mod index;
pub mod show;

pub use index::{config, index, json, paste, redirect_old, upload};
pub use show::{confirm_delete, delete, show, update};

use super::{Store, repo::Upload};
use crate::{
    accounts::model::{CurrentUser, UserId},
    authz::{self, Action},
    render::form::FormErrors,
    state::AppState,
};

/// Whose uploads `user` sees: `None` for everyone's.
pub fn whose(user: &CurrentUser) -> Option<UserId> {
    (!authz::can(user, Action::SeeAllUploads)).then_some(user.id)
}

/// Whether `user` may describe or delete `upload`: its uploader, or who sees them all.
pub fn may_change(user: &CurrentUser, upload: &Upload) -> bool {
    upload.uploader_id == user.id || authz::can(user, Action::SeeAllUploads)
}

/// The smallest copy worth showing as a thumbnail: the 480 px WebP once processing made
/// it, else the image itself.
pub fn thumb(state: &AppState, u: &Upload) -> String {
    let key = match u.is_ready() && u.widths.contains(&480) {
        true => super::width_key(&u.file_name, 480, "webp"),
        false => u.file_name.clone(),
    };
    Store::url_in(&state.settings.uploads, &key)
}

/// What to call an upload: the name it was sent with, else its hash, shortened.
pub fn display_name(u: &Upload) -> String {
    match u.original_name.trim() {
        "" => {
            let (stem, ext) = u.file_name.split_once('.').unwrap_or((&u.file_name, ""));
            format!("{}….{ext}", stem.get(..10).unwrap_or(stem))
        }
        name => name.to_owned(),
    }
}

/// One image the picker offers.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `<hash>.<ext>`: the radio's value (`media::chosen`).
    pub name: String,
    /// `/uploads/<name>`: what the script puts in the text field.
    pub url: String,
    pub thumb: String,
    /// The alt text, else the file's name: the radio's words.
    pub label: String,
    pub width: i32,
    pub height: i32,
}

/// The images every image field's picker offers this viewer: their recent processed ones
/// (everyone's for editors and admins).
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub items: Vec<Choice>,
}

impl Choices {
    /// How many the picker shows; older ones are a search away in the library.
    pub const SHOWN: i64 = 24;

    pub async fn load(state: &AppState, user: &CurrentUser) -> sqlx::Result<Self> {
        let filter = super::repo::Filter {
            uploader: whose(user),
            ready: true,
            ..Default::default()
        };
        let rows = super::repo::list(&state.db, &filter, Self::SHOWN, 0).await?;
        Ok(Self {
            items: rows
                .into_iter()
                .map(|l| {
                    let u = l.upload;
                    Choice {
                        label: match u.alt.trim() {
                            "" => display_name(&u),
                            alt => alt.to_owned(),
                        },
                        thumb: thumb(state, &u),
                        url: u.url(),
                        width: u.width.unwrap_or(480),
                        height: u.height.unwrap_or(480),
                        name: u.file_name,
                    }
                })
                .collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Put the picker's choice for `field` (`<field>_pick`) into the typed address, by the one
/// rule (`media::chosen`), and forget the pick; a pick that names no upload is the field's
/// mistake. Every form with an image field calls this before its own checks.
pub fn apply_pick(
    errors: &mut FormErrors,
    field: &'static str,
    typed: &mut String,
    picked: &mut String,
) {
    match super::chosen(typed, picked) {
        Ok(address) => *typed = address,
        Err(message) => errors.add(field, crate::input::capitalise(&message)),
    }
    picked.clear();
}
