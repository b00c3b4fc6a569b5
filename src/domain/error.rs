//! The one error type of the domain layer.

use crate::db::{DbError, WriteRefusal};

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("sign in required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("voting on this show is closed")]
    VotingClosed,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("temporarily unavailable: {reason}")]
    Unavailable { reason: String, retry_after_secs: u64, refusal: Option<WriteRefusal> },
    /// The disk refuses writes (full, read-only, failing): nothing was stored, try again later.
    #[error("the server cannot store changes right now; please try again shortly")]
    Storage { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        DomainError::Invalid { field: field.to_owned(), message: message.into() }
    }
}

impl From<DbError> for DomainError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotDurable(reason) => DomainError::Unavailable {
                reason: format!("replication: {reason}"),
                retry_after_secs: 5,
                refusal: None,
            },
            DbError::ReadOnly(refusal) => {
                DomainError::Unavailable { reason: refusal.to_string(), retry_after_secs: 5, refusal: Some(refusal) }
            }
            e if e.is_storage_failure() => DomainError::Storage { retry_after_secs: 30 },
            other => DomainError::Internal(other.into()),
        }
    }
}
