//! Curating artists, venues, shows and songs (moderator or admin). Every change is audited.
//!
//! The parts: `inputs` checks what a moderator sends, `links` an artist's external links, `tx` the
//! creations that imports share, and `curate` the moderator and admin operations on `Domain`.
//! The helpers below (free slugs, conflicts, the audit trail) serve all of them.

mod curate;
mod inputs;
mod links;
pub(crate) mod tx;

use super::DomainError;
use crate::db::{self, Connection};

pub use inputs::{ArtistInput, ShowInput, SongInput, VenueInput, parse_status, parse_time};
pub use links::{Link, artist_links};

/// Picks a free slug: `base`, `base-2`, `base-3`, ...
fn unique_slug(base: &str, exists: impl Fn(&str) -> Result<bool, db::DbError>) -> Result<String, DomainError> {
    if !exists(base)? {
        return Ok(base.to_owned());
    }
    for n in 2..10_000 {
        let candidate = format!("{base}-{n}");
        if !exists(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(DomainError::Conflict(format!("no free slug for {base}")))
}

fn unique_conflict(e: db::DbError, what: &str) -> DomainError {
    if e.is_unique_violation() {
        DomainError::Conflict(format!("{what} with this slug or id already exists"))
    } else {
        e.into()
    }
}

pub(super) fn audit(
    c: &Connection,
    actor: Option<i64>,
    action: &str,
    kind: &str,
    id: i64,
    details: serde_json::Value,
    now: i64,
) -> Result<(), DomainError> {
    db::audit::append(c, actor, action, kind, &id.to_string(), &details, now).map_err(DomainError::from)
}
