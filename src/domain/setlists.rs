//! The actual setlist of a show and the accuracy of the fans' prediction.

use serde_json::json;

/// A show counts as over this long after its start (seconds): the housekeeping job completes it
/// then, and the setlist import looks for its setlist from then on.
pub const SHOW_OVER_AFTER: i64 = 4 * 3600;

use super::{CurrentUser, Domain, DomainError, Role, accuracy, validate};
use crate::db::{self, Connection};

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ActualEntryInput {
    pub title: String,
    #[serde(default)]
    pub song_id: Option<i64>,
    #[serde(default)]
    pub encore: i64,
    #[serde(default)]
    pub info: String,
    #[serde(default)]
    pub cover_artist: String,
    #[serde(default)]
    pub is_tape: bool,
}

pub const MAX_SETLIST_LEN: usize = 200;

/// Validates entries and matches titles to the artist's catalog (case-insensitive).
pub(crate) fn resolve_entries(
    c: &Connection,
    artist_id: i64,
    input: &[ActualEntryInput],
) -> Result<Vec<db::setlists::SetlistEntry>, DomainError> {
    if input.len() > MAX_SETLIST_LEN {
        return Err(DomainError::invalid("entries", format!("at most {MAX_SETLIST_LEN} songs")));
    }
    let mut out = Vec::with_capacity(input.len());
    for (i, e) in input.iter().enumerate() {
        let field = format!("entries[{i}].title");
        // An entry that names a catalog song needs no title: it takes the song's.
        let catalog_song = match e.song_id {
            Some(id) => {
                let s = db::songs::by_id(c, id)?.ok_or(DomainError::NotFound("song"))?;
                if s.artist_id != artist_id {
                    return Err(DomainError::invalid(&format!("entries[{i}].song_id"), "not in this artist's catalog"));
                }
                Some(s)
            }
            None => None,
        };
        let title = match &catalog_song {
            Some(s) if e.title.trim().is_empty() => s.title.clone(),
            _ if e.is_tape => validate::optional_text(&field, &e.title, validate::MAX_NAME)?,
            _ => validate::text(&field, &e.title, validate::MAX_NAME)?,
        };
        let song_id = match catalog_song {
            Some(s) => Some(s.id),
            None if !title.is_empty() => db::songs::by_title(c, artist_id, &title)?.map(|s| s.id),
            None => None,
        };
        if !(0..=10).contains(&e.encore) {
            return Err(DomainError::invalid(&format!("entries[{i}].encore"), "must be between 0 and 10"));
        }
        out.push(db::setlists::SetlistEntry {
            position: i as i64 + 1,
            song_id,
            title,
            encore: e.encore,
            info: validate::optional_text(&format!("entries[{i}].info"), &e.info, 300)?,
            cover_artist: validate::optional_text(
                &format!("entries[{i}].cover_artist"),
                &e.cover_artist,
                validate::MAX_NAME,
            )?,
            is_tape: e.is_tape,
        });
    }
    Ok(out)
}

/// Stores the setlist, recomputes the accuracy and completes the show if it has started.
pub(crate) fn store_actual(
    c: &Connection,
    show_id: i64,
    entries: &[db::setlists::SetlistEntry],
    now: i64,
) -> Result<Option<f64>, DomainError> {
    let show = db::shows::by_id(c, show_id)?.ok_or(DomainError::NotFound("show"))?;
    db::setlists::replace(c, show_id, entries)?;
    // Songs nobody voted for are on the list (seeded) but predicted by no one.
    let ranking: Vec<i64> = db::songs::ranking(c, show_id)?
        .unwrap_or_default()
        .iter()
        .filter(|r| r.votes + r.anon_votes > 0)
        .map(|r| r.song_id)
        .collect();
    let performed: Vec<Option<i64>> = entries.iter().filter(|e| !e.is_tape).map(|e| e.song_id).collect();
    let acc = accuracy::accuracy(&ranking, &performed);
    db::shows::set_accuracy(c, show_id, acc)?;
    if show.starts_at <= now && show.status != db::shows::ShowStatus::Cancelled {
        db::shows::set_status(c, show_id, db::shows::ShowStatus::Completed, now)?;
    }
    Ok(acc)
}

impl Domain {
    pub async fn set_actual_setlist(
        &self,
        actor: &CurrentUser,
        show_id: i64,
        entries: Vec<ActualEntryInput>,
    ) -> Result<Option<f64>, DomainError> {
        actor.require(Role::Moderator)?;
        let actor_id = actor.id;
        let acc = self
            .db
            .write(move |c| -> Result<Option<f64>, DomainError> {
                let now = db::now();
                let show = db::shows::by_id(c, show_id)?.ok_or(DomainError::NotFound("show"))?;
                let resolved = resolve_entries(c, show.artist_id, &entries)?;
                let acc = store_actual(c, show_id, &resolved, now)?;
                db::audit::append(
                    c,
                    Some(actor_id),
                    "setlist.set_actual",
                    "show",
                    &show_id.to_string(),
                    &json!({"songs": resolved.len(), "accuracy": acc}),
                    now,
                )?;
                Ok(acc)
            })
            .await?;
        self.ranking_changed(show_id);
        Ok(acc)
    }

    pub async fn actual_setlist(&self, show_id: i64) -> Result<Vec<db::setlists::SetlistEntry>, DomainError> {
        self.db.read(move |c| db::setlists::actual(c, show_id)).await.map_err(DomainError::from)
    }
}
