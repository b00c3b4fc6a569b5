//! The moderator and admin operations on the catalog: create, update and delete, and the audit log.

use serde_json::json;

use super::inputs::ticket_url;
use super::{ArtistInput, ShowInput, SongInput, VenueInput, audit, parse_status, parse_time, tx, unique_conflict};
use crate::db;
use crate::db::shows::ShowStatus;
use crate::domain::{CurrentUser, Domain, DomainError, Role, validate};

impl Domain {
    pub async fn create_artist(&self, actor: &CurrentUser, input: ArtistInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let a = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_artist(c, a, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_artist(&self, actor: &CurrentUser, id: i64, input: ArtistInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let mut a = input.validate()?;
        let (keep_bio, keep_links) = (input.bio.is_none(), input.links.is_none());
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::artists::by_id(c, id)?.ok_or(DomainError::NotFound("artist"))?;
                if a.slug.is_empty() {
                    a.slug = old.slug;
                }
                if keep_bio {
                    a.bio = old.bio;
                }
                if keep_links {
                    a.links = old.links;
                }
                db::artists::update(c, id, &a, now).map_err(|e| unique_conflict(e, "an artist"))?;
                audit(c, Some(actor_id), "artist.update", "artist", id, json!({"name": a.name}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_artist(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::artists::delete(c, id)? {
                    return Err(DomainError::NotFound("artist"));
                }
                db::media::prune(c)?;
                audit(c, Some(actor_id), "artist.delete", "artist", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_venue(&self, actor: &CurrentUser, input: VenueInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let v = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_venue(c, v, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_venue(&self, actor: &CurrentUser, id: i64, input: VenueInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let mut v = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::venues::by_id(c, id)?.ok_or(DomainError::NotFound("venue"))?;
                if v.slug.is_empty() {
                    v.slug = old.slug;
                }
                db::venues::update(c, id, &v, now).map_err(|e| unique_conflict(e, "a venue"))?;
                audit(c, Some(actor_id), "venue.update", "venue", id, json!({"name": v.name}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_venue(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                match db::venues::delete(c, id) {
                    Ok(true) => {}
                    Ok(false) => return Err(DomainError::NotFound("venue")),
                    Err(db::DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Err(DomainError::Conflict("the venue still has shows; delete them first".into()));
                    }
                    Err(e) => return Err(e.into()),
                }
                audit(c, Some(actor_id), "venue.delete", "venue", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_song(&self, actor: &CurrentUser, artist_id: i64, input: SongInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let s = input.validate(artist_id)?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_song(c, s, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_song(&self, actor: &CurrentUser, id: i64, input: SongInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::songs::by_id(c, id)?.ok_or(DomainError::NotFound("song"))?;
                let s = input.validate(old.artist_id)?;
                db::songs::update(c, id, &s).map_err(|e| unique_conflict(e, "a song"))?;
                audit(c, Some(actor_id), "song.update", "song", id, json!({"title": s.title}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_song(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::songs::delete(c, id)? {
                    return Err(DomainError::NotFound("song"));
                }
                audit(c, Some(actor_id), "song.delete", "song", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_show(&self, actor: &CurrentUser, input: ShowInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let show = db::shows::NewShow {
            artist_id: input.artist_id,
            venue_id: input.venue_id,
            slug: if input.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &input.slug)? },
            title: validate::optional_text("title", &input.title, validate::MAX_NAME)?,
            starts_at: parse_time("starts_at", &input.starts_at)?,
            status: parse_status(&input.status)?,
            setlistfm_id: None,
            setlistfm_url: None,
            ticket_url: ticket_url(input.ticket_url.as_deref())?.flatten(),
        };
        let (actor_id, now) = (actor.id, self.now());
        self.db.write(move |c| tx::create_show(c, show, Some(actor_id), now)).await
    }

    pub async fn update_show(&self, actor: &CurrentUser, id: i64, input: ShowInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let starts_at = parse_time("starts_at", &input.starts_at)?;
        // An update without a status keeps the show's status (a past show must not reopen).
        let status = if input.status.trim().is_empty() { None } else { Some(parse_status(&input.status)?) };
        let title = validate::optional_text("title", &input.title, validate::MAX_NAME)?;
        let slug = if input.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &input.slug)? };
        let ticket = ticket_url(input.ticket_url.as_deref())?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::shows::by_id(c, id)?.ok_or(DomainError::NotFound("show"))?;
                // A completed show's actual setlist and accuracy are final, and voting on it stays
                // closed: "reopening" it would answer 200 and change nothing a fan can see.
                if old.status == ShowStatus::Completed
                    && matches!(status, Some(ShowStatus::Upcoming | ShowStatus::Locked))
                {
                    return Err(DomainError::Conflict(
                        "a completed show cannot be reopened; create a new show, or cancel this one".into(),
                    ));
                }
                let status = status.unwrap_or(old.status);
                db::artists::by_id(c, input.artist_id)?.ok_or(DomainError::NotFound("artist"))?;
                db::venues::by_id(c, input.venue_id)?.ok_or(DomainError::NotFound("venue"))?;
                let s = db::shows::NewShow {
                    artist_id: input.artist_id,
                    venue_id: input.venue_id,
                    slug: if slug.is_empty() { old.slug } else { slug },
                    title,
                    starts_at,
                    status,
                    setlistfm_id: None,
                    setlistfm_url: None,
                    ticket_url: ticket.unwrap_or(old.ticket_url),
                };
                db::shows::update(c, id, &s, now).map_err(|e| unique_conflict(e, "a show"))?;
                audit(
                    c,
                    Some(actor_id),
                    "show.update",
                    "show",
                    id,
                    json!({"starts_at": starts_at, "status": s.status}),
                    now,
                )
            })
            .await?;
        // The show's page changes (time, status, venue): cached copies must go.
        self.ranking_changed(id);
        Ok(())
    }

    pub async fn delete_show(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::shows::delete(c, id)? {
                    return Err(DomainError::NotFound("show"));
                }
                audit(c, Some(actor_id), "show.delete", "show", id, json!({}), now)
            })
            .await?;
        self.ranking_changed(id);
        Ok(())
    }

    pub async fn audit_log(&self, actor: &CurrentUser, limit: i64) -> Result<Vec<db::audit::AuditEntry>, DomainError> {
        actor.require(Role::Admin)?;
        self.db.read(move |c| db::audit::recent(c, limit.clamp(1, 1000))).await.map_err(DomainError::from)
    }
}
