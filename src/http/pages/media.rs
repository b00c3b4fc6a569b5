//! `/media/<sha256>.jpg`: uploaded pictures from the database, served from this origin (so the CSP's
//! `img-src 'self'` covers them) and cached forever, since a name is the hash of its bytes.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, handler};

use crate::domain::DomainError;
use crate::http::error::AppError;
use crate::http::state::AppState;

#[handler]
pub async fn media(Data(state): Data<&Arc<AppState>>, Path(name): Path<String>) -> Response {
    match state.domain.media(&name).await {
        Ok(m) => Response::builder()
            .content_type(m.content_type)
            .header("cache-control", "public, max-age=31536000, immutable")
            .header("x-content-type-options", "nosniff")
            .body(m.bytes),
        Err(DomainError::NotFound(_)) => Response::builder().status(StatusCode::NOT_FOUND).body("not found"),
        Err(e) => AppError::from(e).to_problem(),
    }
}
