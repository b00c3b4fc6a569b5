//! Why an import as a whole could not run (single items are skipped and reported instead).

use crate::domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input as a whole is unusable: not JSON, not the expected shape, unreadable file.
    #[error("{0}")]
    Input(String),
    /// A remote API failed (after retries) or answered something unexpected.
    #[error("{0}")]
    Remote(String),
    /// Online import is not configured (e.g. no setlist.fm API key).
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::db::DbError> for ImportError {
    fn from(e: crate::db::DbError) -> Self {
        ImportError::Domain(e.into())
    }
}
