//! The forms that take an address and mail it (`/password/forgot`, `/subscribe`): one flow,
//! so each answers the same way whether or not the address is known, and refuses alike.

use actix_web::{HttpResponse, http::StatusCode};
use askama::Template;

use super::model::Email;
use crate::{
    error::Error,
    mail::Asked,
    render::{
        form::FormErrors,
        page::{in_minutes, personal as render, see_other, too_many},
    },
    state::AppState,
};

/// What one form says besides the shared flow.
pub struct AddressForm<'a> {
    /// Where a request that was taken goes (the form again, saying what happens next).
    pub sent: &'a str,
    /// Said before "Try again in N minutes." once over a limit.
    pub too_many: &'a str,
}

impl AddressForm<'_> {
    /// The answer to the form's POST: 503 without SMTP (nothing could be sent), 422 for an
    /// address that doesn't parse, else whatever `ask` (count, then queue) says: off to
    /// `sent`, or 429 with `Retry-After`. `again` renders the form with what was typed.
    pub async fn answer<T: Template>(
        &self,
        state: &AppState,
        typed: &str,
        again: impl Fn(FormErrors) -> T,
        ask: impl AsyncFnOnce(Email) -> Result<Asked, Error>,
    ) -> Result<HttpResponse, Error> {
        if !state.settings.mail.is_configured() {
            return render(
                StatusCode::SERVICE_UNAVAILABLE,
                again(FormErrors::default()),
            );
        }
        let mut errors = FormErrors::default();
        let Some(email) = errors.check("email", Email::parse(typed)) else {
            return render(StatusCode::UNPROCESSABLE_ENTITY, again(errors));
        };
        match ask(email).await? {
            Asked::Done => Ok(see_other(self.sent)),
            Asked::TooMany { wait_secs } => {
                let errors = FormErrors::general(format!(
                    "{} Try again in {}.",
                    self.too_many,
                    in_minutes(wait_secs)
                ));
                too_many(again(errors), wait_secs)
            }
        }
    }
}
