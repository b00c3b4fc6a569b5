//! `/unsubscribe/<token>`: the one-click unsubscribe link of every follow email. GET shows a button
//! (a link checker that fetches the address must not unsubscribe anyone); POST unsubscribes from
//! every follow email. The POST carries no CSRF token: a mail client's one-click request (RFC 8058,
//! `List-Unsubscribe=One-Click`) cannot have one, and the secret address is the credential. An
//! unknown token is a 404 page.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Response, handler};

use super::{Layout, render, respond};
use crate::domain::DomainError;
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribeTemplate {
    layout: Layout,
    done: bool,
}

fn gone() -> AppError {
    AppError::Domain(DomainError::NotFound("unsubscribe link"))
}

#[handler]
pub async fn unsubscribe_form(
    Data(state): Data<&Arc<AppState>>,
    Path(token): Path<String>,
    mut visitor: Visitor,
) -> Response {
    let result = async {
        if !state.domain.unsubscribe_token_valid(&token).await? {
            return Err(gone());
        }
        render(&UnsubscribeTemplate { layout: Layout::new(&visitor), done: false })
    }
    .await;
    respond(&mut visitor, "/", result)
}

#[handler]
pub async fn unsubscribe(
    Data(state): Data<&Arc<AppState>>,
    Path(token): Path<String>,
    mut visitor: Visitor,
) -> Response {
    let result = async {
        state.domain.unsubscribe(&token).await?;
        render(&UnsubscribeTemplate { layout: Layout::new(&visitor), done: true })
    }
    .await;
    respond(&mut visitor, "/", result)
}
