//! What imports (crate::import) need from storage: a write transaction per batch, the setlist.fm
//! lookup bookkeeping and the audit entry that sums an import up.

use super::{Domain, DomainError, SHOW_OVER_AFTER};
use crate::db::setlist_fetches::LookupOutcome;
use crate::db::show_lifecycle::AwaitingSetlist;
use crate::db::{self, Connection};

impl Domain {
    /// Runs one batch of an import as one write transaction. The batch applies its rows with the
    /// catalog's transaction steps (`tx`, `resolve_entries`, `store_actual`), which keep the rules
    /// and write the items' audit entries.
    pub(crate) async fn import_batch<T, F>(&self, apply: F) -> Result<T, DomainError>
    where
        F: FnOnce(&Connection) -> Result<T, DomainError> + Send + 'static,
        T: Send + 'static,
    {
        self.db.write(apply).await
    }

    /// Shows that are over (started more than SHOW_OVER_AFTER ago, at most `window` seconds ago)
    /// and still lack an actual setlist, skipping those looked up within `retry_every` seconds.
    pub(crate) async fn shows_awaiting_setlist(
        &self,
        window: i64,
        retry_every: i64,
        limit: i64,
    ) -> Result<Vec<AwaitingSetlist>, DomainError> {
        let now = self.now();
        Ok(self
            .db
            .read(move |c| {
                db::show_lifecycle::awaiting_setlist(c, now - window, now - SHOW_OVER_AFTER, now - retry_every, limit)
            })
            .await?)
    }

    /// Remembers how a show's setlist lookup went, so the next lookup waits.
    pub(crate) async fn record_setlist_lookup(&self, show_id: i64, outcome: LookupOutcome) -> Result<(), DomainError> {
        let now = self.now();
        Ok(self.db.write(move |c| db::setlist_fetches::record(c, show_id, outcome, now)).await?)
    }

    /// The one audit entry that sums an import up (its items are audited as they are written).
    pub(crate) async fn audit_import(
        &self,
        actor: Option<i64>,
        action: &'static str,
        details: serde_json::Value,
    ) -> Result<(), DomainError> {
        let now = self.now();
        Ok(self.db.write(move |c| db::audit::append(c, actor, action, "import", "-", &details, now)).await?)
    }
}
