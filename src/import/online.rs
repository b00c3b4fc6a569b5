//! Online imports.
//!
//! Artist import (from /admin/import): MusicBrainz artist search -> the artist and its mbid; the
//! artist's MusicBrainz recordings -> the song catalog (one song per title, studio versions preferred);
//! the artist's setlist.fm setlists -> shows (past ones completed with their actual setlist and
//! accuracy, future ones upcoming). Storing a setlist raises song popularity to the number of setlists
//! a song appears in, so new shows are seeded with what the artist really plays.
//!
//! Scheduled lookup: finished shows without an actual setlist are looked up on setlist.fm by artist
//! mbid and date for two weeks after the show, each at most every [`RETRY_EVERY`].

use std::sync::Arc;

use chrono::TimeZone;

use super::batch::{CHUNK, each_in_savepoint};
use super::musicbrainz::{self, MusicBrainzClient, catalog_from_recordings, pick_artist};
use super::report::{Entry, Kind, Outcome};
use super::setlistfm::apply::{Target, apply_and_count_plays, prepare, resolve_artist};
use super::setlistfm::model::Setlist;
use super::setlistfm::{SetlistFmClient, apply_all};
use super::{ImportError, Progress, Report};
use crate::db;
use crate::db::setlist_fetches::LookupOutcome;
use crate::domain::{ArtistInput, Domain, DomainError, SongInput, tx};

/// How much of an artist one import fetches (MusicBrainz at 1 request/s, setlist.fm at 2/s).
#[derive(Debug, Clone)]
pub struct ArtistImportLimits {
    /// Pages of 100 recordings.
    pub recording_pages: u32,
    /// Pages of 20 setlists, newest first.
    pub setlist_pages: i64,
}

impl Default for ArtistImportLimits {
    fn default() -> Self {
        Self { recording_pages: 10, setlist_pages: 5 }
    }
}

/// Finished shows are looked up for this long.
pub const LOOKUP_WINDOW: i64 = 14 * 86_400;
/// A show whose setlist was not online yet is looked up again after this long.
pub const RETRY_EVERY: i64 = 6 * 3600;
/// Lookups per scheduled run (at 2 requests/s: ten seconds).
pub const LOOKUPS_PER_RUN: i64 = 20;

pub(crate) async fn import_artist(
    domain: &Arc<Domain>,
    mb: &MusicBrainzClient,
    sfm: Option<&SetlistFmClient>,
    name: &str,
    actor: Option<i64>,
    limits: &ArtistImportLimits,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::default();
    progress.phase("MusicBrainz: finding the artist", None);
    let found = mb.search_artist(name).await?;
    let artist = pick_artist(name, &found).ok_or_else(|| {
        let closest = found.first().map(|a| format!("; the closest match is {} (score {})", a.name, a.score));
        ImportError::Input(format!("MusicBrainz has no artist named {name}{}", closest.unwrap_or_default()))
    })?;
    progress.note(&format!("MusicBrainz artist: {} ({})", artist.name, artist.id));
    let mut tags = artist.tags.clone();
    tags.sort_by_key(|t| std::cmp::Reverse(t.count));
    let genres = tags.iter().take(3).map(|t| t.name.clone()).collect::<Vec<_>>().join(", ");
    let new_artist =
        ArtistInput { name: artist.name.clone(), mbid: artist.id.clone(), genres, ..Default::default() }.validate()?;
    let now = domain.now();
    let (artist_id, entries) = domain
        .import_batch(move |c| {
            let mut out = Vec::new();
            let id = resolve_artist(c, &new_artist, actor, now, &mut out)?;
            Ok::<_, DomainError>((id, out))
        })
        .await?;
    if entries.is_empty() {
        report.push(Entry::new(Kind::Artist, Outcome::Unchanged, &artist.name));
    }
    report.extend(entries);

    progress.phase("MusicBrainz: song catalog", None);
    let mut recordings = Vec::new();
    let mut offset = 0u32;
    for _ in 0..limits.recording_pages {
        let page = mb.recordings(&artist.id, offset).await?;
        let got = page.recordings.len() as u32;
        recordings.extend(page.recordings);
        progress.phase("MusicBrainz: song catalog", Some(page.count.max(0) as u64));
        progress.advance(recordings.len() as u64);
        offset += got;
        if got < musicbrainz::PAGE || i64::from(offset) >= page.count {
            break;
        }
    }
    let songs = catalog_from_recordings(&recordings);
    progress.note(&format!("{} recordings, {} distinct songs", recordings.len(), songs.len()));
    progress.phase("catalog: saving songs", Some(songs.len() as u64));
    for chunk in songs.chunks(CHUNK) {
        let work = chunk.to_vec();
        let now = domain.now();
        let results = domain
            .import_batch(move |c| {
                each_in_savepoint(c, &work, |c, s| {
                    if db::songs::by_title(c, artist_id, &s.title)?.is_some() {
                        return Ok(Outcome::Unchanged);
                    }
                    let song = SongInput {
                        title: s.title.clone(),
                        duration_s: s.duration_s.filter(|d| (0..=86_400).contains(d)),
                        is_live: s.is_live,
                        is_remix: s.is_remix,
                        ..Default::default()
                    }
                    .validate(artist_id)?;
                    tx::create_song(c, song, actor, now)?;
                    Ok(Outcome::Created)
                })
            })
            .await?;
        for (s, r) in chunk.iter().zip(results) {
            report.push(match r {
                Ok(outcome) => Entry::new(Kind::Song, outcome, &s.title),
                Err(e) => Entry::skipped(Kind::Song, &s.title, "MusicBrainz", e.to_string()),
            });
        }
        progress.advance(chunk.len() as u64);
    }

    match sfm {
        None => progress.note("setlist.fm skipped: no API key configured (import.setlistfm_api_key)"),
        Some(sfm) => {
            progress.phase("setlist.fm: setlists", None);
            let first = sfm.artist_setlists(&artist.id, 1).await?;
            let pages = first.pages().min(limits.setlist_pages.max(1));
            let expected = (first.total.max(0) as u64).min(pages as u64 * first.items_per_page.max(1) as u64);
            progress.phase("setlist.fm: setlists", Some(expected));
            let mut page = Some(first);
            for n in 1..=pages {
                let current = match page.take() {
                    Some(p) => p,
                    None => sfm.artist_setlists(&artist.id, n).await?,
                };
                let mut ready = Vec::new();
                for s in &current.setlist {
                    let at = format!("setlist.fm {}", s.id);
                    match prepare(s) {
                        Ok(p) => ready.push((at, p)),
                        Err(reason) => {
                            report.push(Entry::skipped(
                                Kind::Setlist,
                                format!("setlist {}", s.id),
                                at,
                                reason.to_string(),
                            ));
                            progress.advance(1);
                        }
                    }
                }
                apply_all(domain, ready, actor, progress, &mut report).await?;
                if current.setlist.is_empty() {
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// Which of a day's setlists belongs to our show: the one at the same venue, else the only one with songs.
fn pick_setlist<'a>(setlists: &'a [Setlist], venue_name: &str) -> Option<&'a Setlist> {
    let with_songs: Vec<&Setlist> =
        setlists.iter().filter(|s| s.all_sets().iter().any(|set| !set.song.is_empty())).collect();
    with_songs
        .iter()
        .find(|s| s.venue.as_ref().is_some_and(|v| v.name.trim().eq_ignore_ascii_case(venue_name.trim())))
        .or_else(|| (with_songs.len() == 1).then(|| &with_songs[0]))
        .copied()
}

/// What a scheduled lookup run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FetchSummary {
    pub looked_up: usize,
    pub found: usize,
}

/// Looks up the actual setlists of finished shows. Stops at the first API failure (the scheduler
/// retries the job with backoff); a setlist that cannot be stored is logged and the run goes on.
pub(crate) async fn fetch_finished(domain: &Arc<Domain>, sfm: &SetlistFmClient) -> Result<FetchSummary, ImportError> {
    let due = domain.shows_awaiting_setlist(LOOKUP_WINDOW, RETRY_EVERY, LOOKUPS_PER_RUN).await?;
    let mut summary = FetchSummary::default();
    for show in due {
        summary.looked_up += 1;
        let zone: chrono_tz::Tz = show.venue_timezone.parse().unwrap_or(chrono_tz::UTC);
        let Some(date) = zone.timestamp_opt(show.starts_at, 0).single().map(|t| t.date_naive()) else { continue };
        let show_id = show.show_id;
        let page = match sfm.setlists_on(&show.artist_mbid, date).await {
            Ok(p) => p,
            Err(e) => {
                domain.record_setlist_lookup(show_id, LookupOutcome::Failed).await?;
                return Err(e);
            }
        };
        let outcome = match pick_setlist(&page.setlist, &show.venue_name).map(prepare) {
            None => LookupOutcome::NotFound,
            Some(Err(reason)) => {
                tracing::warn!(show_id, %reason, "setlist.fm setlist for the show is unusable");
                LookupOutcome::Failed
            }
            Some(Ok(p)) => {
                let now = domain.now();
                match domain.import_batch(move |c| apply_and_count_plays(c, &p, Target::Show(show_id), None, now)).await
                {
                    Ok(applied) => {
                        if let Some(id) = applied.stored_show {
                            domain.ranking_changed(id);
                        }
                        summary.found += 1;
                        LookupOutcome::Found
                    }
                    Err(e) if !super::batch::is_fatal(&e) => {
                        tracing::warn!(show_id, error = %e, "cannot store the setlist.fm setlist of the show");
                        LookupOutcome::Failed
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        domain.record_setlist_lookup(show_id, outcome).await?;
    }
    Ok(summary)
}
