//! The import service of a running server: the API clients (one per API, so the admin page and the
//! scheduler share each API's rate limit) and the in-memory registry of running imports.

use std::sync::{Arc, OnceLock};

use serde_json::json;

use super::jobs::{JobProgress, Jobs};
use super::musicbrainz::MusicBrainzClient;
use super::online::{self, ArtistImportLimits, FetchSummary};
use super::setlistfm::SetlistFmClient;
use super::{ImportError, Progress, Report};
use crate::domain::{CurrentUser, Domain, DomainError, Role, validate};

pub struct Importer {
    domain: Arc<Domain>,
    jobs: Arc<Jobs>,
    clients: OnceLock<Clients>,
    limits: ArtistImportLimits,
}

/// Built on first use; a configuration problem is kept and reported (as `NotConfigured`) on every use.
struct Clients {
    musicbrainz: Result<MusicBrainzClient, ImportError>,
    setlistfm: Result<SetlistFmClient, ImportError>,
}

impl Importer {
    pub fn new(domain: Arc<Domain>) -> Arc<Self> {
        Arc::new(Self { domain, jobs: Arc::new(Jobs::default()), clients: OnceLock::new(), limits: Default::default() })
    }

    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    fn clients(&self) -> &Clients {
        self.clients.get_or_init(|| {
            let s = &self.domain.config.settings.import;
            Clients {
                musicbrainz: MusicBrainzClient::new(&s.musicbrainz_base_url, &s.user_agent),
                setlistfm: SetlistFmClient::new(&s.setlistfm_base_url, s.setlistfm_api_key.expose(), &s.user_agent),
            }
        })
    }

    /// Whether setlist.fm can be used (an API key is set).
    pub fn setlistfm_configured(&self) -> bool {
        !self.domain.config.settings.import.setlistfm_api_key.expose().trim().is_empty()
    }

    fn setlistfm(&self) -> Option<&SetlistFmClient> {
        self.clients().setlistfm.as_ref().ok()
    }

    /// Imports an artist now (the background job calls this; tests may too).
    pub async fn import_artist(
        &self,
        name: &str,
        actor: Option<i64>,
        progress: &dyn Progress,
    ) -> Result<Report, ImportError> {
        let mb = self.clients().musicbrainz.as_ref().map_err(|e| ImportError::NotConfigured(e.to_string()))?;
        if let Err(e) = &self.clients().setlistfm
            && self.setlistfm_configured()
        {
            return Err(ImportError::NotConfigured(e.to_string())); // a key is set but something else is wrong
        }
        online::import_artist(&self.domain, mb, self.setlistfm(), name, actor, &self.limits, progress).await
    }

    /// Starts importing an artist in the background (admins only); returns the job id to poll.
    pub fn start_artist_import(self: &Arc<Self>, actor: &CurrentUser, name: &str) -> Result<u64, DomainError> {
        actor.require(Role::Admin)?;
        let name = validate::text("artist", name, validate::MAX_NAME)?;
        let id = self.jobs.start(format!("artist \"{name}\"")).map_err(|running| {
            DomainError::Conflict(format!("import {running} is still running; start the next one when it is done"))
        })?;
        let this = self.clone();
        let actor_id = actor.id;
        tokio::spawn(async move {
            let progress = JobProgress { jobs: this.jobs.clone(), id };
            let result = this.import_artist(&name, Some(actor_id), &progress).await;
            match &result {
                Ok(report) => {
                    if let Err(e) =
                        record_in_audit_log(&this.domain, Some(actor_id), "import.artist", &name, report).await
                    {
                        tracing::warn!(error = %e, "cannot write the audit entry of an import");
                    }
                }
                Err(ImportError::Domain(e @ DomainError::Internal(_))) => {
                    tracing::error!(job = id, error = ?e, "artist import failed");
                }
                Err(e) => tracing::warn!(job = id, error = %e, "artist import failed"),
            }
            this.jobs.finish(id, &result);
        });
        Ok(id)
    }

    /// The scheduler's job: actual setlists of finished shows. Without an API key there is nothing to do.
    pub async fn fetch_finished_setlists(&self) -> Result<Option<FetchSummary>, ImportError> {
        if !self.setlistfm_configured() {
            return Ok(None);
        }
        let sfm = self.clients().setlistfm.as_ref().map_err(|e| ImportError::NotConfigured(e.to_string()))?;
        online::fetch_finished(&self.domain, sfm).await.map(Some)
    }
}

/// One audit entry per import, with its counts (the items themselves are audited as they are written).
pub async fn record_in_audit_log(
    domain: &Domain,
    actor: Option<i64>,
    action: &'static str,
    source: &str,
    report: &Report,
) -> Result<(), DomainError> {
    if !report.changed() {
        return Ok(()); // an import that changed nothing leaves no trace, like the data
    }
    let details = json!({"source": source, "summary": report.summary(), "skipped": report.skipped_count()});
    domain.audit_import(actor, action, details).await
}
