//! The account page: profile, "my votes", followed artists, data export, sign out everywhere,
//! delete account. Changing the profile and the password is in `account_edit`.

use std::sync::Arc;

use poem::web::{Data, Form, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::form_errors::FormErrors;
use super::view::{date, local_time};
use super::{Layout, form_result, render, render_with_status, respond};
use crate::domain::AccountSummary;
use crate::http::auth::{Visitor, cookie_header, session_cookie_name};
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountTemplate {
    layout: Layout,
    account: AccountSummary,
    member_since: String,
    my_votes: Vec<ShowPicks>,
    /// When the calendar feed address was made ("6 Jun 2026"); None without one.
    calendar_since: Option<String>,
    /// The follow-email choices; None while mail is not configured (the section is left out).
    email_prefs: Option<crate::domain::EmailPrefs>,
    forms: AccountForms,
}

/// The account page's forms as they come back: a notice after a change, a refused form's messages
/// (next to its fields) and input (never a password).
#[derive(Default)]
pub struct AccountForms {
    pub notice: Option<&'static str>,
    pub profile: FormErrors,
    /// The display name and email entered in a refused profile form.
    pub profile_input: Option<(String, String)>,
    pub password: FormErrors,
    pub delete: FormErrors,
    /// A calendar feed address just made: shown this once (only its hash is stored).
    pub calendar_url: Option<String>,
}

impl AccountForms {
    fn display_name<'a>(&'a self, account: &'a AccountSummary) -> &'a str {
        self.profile_input.as_ref().map_or(account.display_name.as_str(), |(name, _)| name.as_str())
    }

    fn email<'a>(&'a self, account: &'a AccountSummary) -> &'a str {
        self.profile_input.as_ref().map_or(account.email.as_str(), |(_, email)| email.as_str())
    }
}

/// `?done=...` after a change: a fixed message per code (nothing from the URL is echoed).
#[derive(Deserialize, Default)]
pub struct AccountDone {
    #[serde(default)]
    done: String,
}

impl AccountDone {
    fn notice(&self) -> Option<&'static str> {
        match self.done.as_str() {
            "profile" => Some("Your profile is saved."),
            "password" => Some("Your password is changed. Every other device was signed out."),
            "reset" => Some("Your new password is set, and you are signed in."),
            "emails" => Some("Your email choices are saved."),
            _ => None,
        }
    }
}

/// "My votes" on one show: the songs picked, and after the show how many were played.
pub struct ShowPicks {
    pub slug: String,
    pub artist: String,
    pub venue: String,
    pub when: String,
    pub iso: String,
    pub tz: String,
    /// (title, played)
    pub songs: Vec<(String, bool)>,
    /// Songs picked that were played, once the actual setlist is in.
    pub called: Option<usize>,
}

fn group_picks(picks: &[crate::domain::rows::Pick]) -> Vec<ShowPicks> {
    let mut shows: Vec<(i64, ShowPicks)> = Vec::new();
    for p in picks {
        if shows.last().is_none_or(|(id, _)| *id != p.show_id) {
            let (when, iso) = local_time(p.starts_at, &p.timezone);
            let show = ShowPicks {
                slug: p.show_slug.clone(),
                artist: p.artist.clone(),
                venue: p.venue.clone(),
                when,
                iso,
                tz: p.timezone.clone(),
                songs: Vec::new(),
                called: p.has_setlist.then_some(0),
            };
            shows.push((p.show_id, show));
        }
        if let Some((_, show)) = shows.last_mut() {
            show.songs.push((p.song.clone(), p.played));
            if p.played {
                show.called = show.called.map(|n| n + 1);
            }
        }
    }
    shows.into_iter().map(|(_, s)| s).collect()
}

/// The account page; with `refused`, the status of the error a form came back with.
pub async fn page(
    state: &AppState,
    visitor: &Visitor,
    forms: AccountForms,
    refused: Option<poem::http::StatusCode>,
) -> Result<Response, AppError> {
    let user = visitor.require_user()?;
    let account = state.domain.account(user).await?;
    let email_prefs = if state.domain.mail_enabled() { Some(state.domain.email_prefs(user).await?) } else { None };
    let t = AccountTemplate {
        email_prefs,
        layout: Layout::new(visitor),
        member_since: date(account.created_at),
        my_votes: group_picks(&account.picks),
        calendar_since: account.calendar_feed_since.map(date),
        account,
        forms,
    };
    match refused {
        Some(s) => render_with_status(&t, s),
        None => render(&t),
    }
}

#[handler]
pub async fn account_page(
    Data(state): Data<&Arc<AppState>>,
    Query(done): Query<AccountDone>,
    mut visitor: Visitor,
) -> Response {
    let forms = AccountForms { notice: done.notice(), ..Default::default() };
    let result = page(state, &visitor, forms, None).await;
    respond(&mut visitor, "/account", result)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn clear_session_cookie(state: &AppState, visitor: &mut Visitor) {
    visitor.set_cookie(cookie_header(state.https, session_cookie_name(state.https), "", Some(0)));
}

/// Sign out everywhere: every session of the account ends, this one included.
#[handler]
pub async fn logout_all(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        visitor.check_csrf(&form.csrf)?;
        state.domain.end_all_sessions(user.id).await?;
        clear_session_cookie(state, &mut visitor);
        Ok(see_other("/login"))
    }
    .await;
    respond(&mut visitor, "/account", result)
}

/// "New link" for the calendar feed: the old address stops working; the page shows the new one once.
#[handler]
pub async fn calendar_feed(
    Data(state): Data<&Arc<AppState>>,
    req: &poem::Request,
    mut visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        visitor.check_csrf(&form.csrf)?;
        let token = state.domain.new_calendar_feed(&user).await?;
        // The configured origin; without one (local use) the origin the visitor is using.
        let origin = super::public_origin(state).map(str::to_owned).unwrap_or_else(|| {
            let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if state.https { "https" } else { "http" };
            format!("{scheme}://{host}")
        });
        let forms = AccountForms { calendar_url: Some(format!("{origin}/calendar/{token}.ics")), ..Default::default() };
        page(state, &visitor, forms, None).await
    }
    .await;
    respond(&mut visitor, "/account", result)
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Erasure after password confirmation; the account page shows a wrong password with a 422.
#[handler]
pub async fn delete(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Form(form): Form<DeleteForm>) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        visitor.check_csrf(&form.csrf)?;
        match form_result(state.domain.delete_account(&user, &form.password, visitor.ip).await)? {
            Ok(()) => {
                clear_session_cookie(state, &mut visitor);
                Ok(see_other("/account/deleted"))
            }
            Err(e) => {
                let forms = AccountForms {
                    delete: FormErrors::from_error(&e, &[("password", "Password")]),
                    ..Default::default()
                };
                page(state, &visitor, forms, Some(e.status())).await
            }
        }
    }
    .await;
    respond(&mut visitor, "/account", result)
}

#[derive(askama::Template)]
#[template(path = "deleted.html")]
struct DeletedTemplate {
    layout: Layout,
}

#[handler]
pub fn deleted(mut visitor: Visitor) -> Response {
    let result = render(&DeletedTemplate { layout: Layout::new(&visitor) });
    respond(&mut visitor, "/", result)
}

#[derive(Deserialize)]
pub struct EmailPrefsForm {
    #[serde(default)]
    csrf: String,
    /// Checkboxes: present ("on") when ticked.
    new_show: Option<String>,
    voting_closes: Option<String>,
    setlist_in: Option<String>,
}

/// The follow-email choices (each opt-in).
#[handler]
pub async fn save_email_prefs(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<EmailPrefsForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        visitor.check_csrf(&form.csrf)?;
        if !state.domain.mail_enabled() {
            return Err(AppError::Domain(crate::domain::DomainError::NotFound("page")));
        }
        let prefs = crate::domain::EmailPrefs {
            new_show: form.new_show.is_some(),
            voting_closes: form.voting_closes.is_some(),
            setlist_in: form.setlist_in.is_some(),
        };
        state.domain.set_email_prefs(&user, prefs).await?;
        Ok(see_other("/account?done=emails"))
    }
    .await;
    respond(&mut visitor, "/account", result)
}
