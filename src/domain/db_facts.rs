//! What monitoring reads about the database (writer statistics, file and disk sizes, the last
//! integrity check, the scheduled jobs' last runs), so that observability and the status page ask
//! the domain instead of reaching into `db`. Read-only and unaudited: these are facts about the
//! store, not about anybody's data.

use super::{Domain, DomainError};
use crate::db::files::{DiskSpace, FileSizes};
use crate::db::jobs::JobRun;
use crate::db::{IntegrityError, WriterStats};

impl Domain {
    /// The group-commit writer's counters and current state.
    pub fn writer_stats(&self) -> WriterStats {
        self.db.writer_stats()
    }

    /// Sizes of the database file and its WAL.
    pub fn db_file_sizes(&self) -> FileSizes {
        self.db.file_sizes()
    }

    /// Space on the data directory's filesystem (None when the OS cannot tell).
    pub fn disk_space(&self) -> Option<DiskSpace> {
        self.db.disk_space()
    }

    /// The last `quick_check` (None before the first).
    pub fn integrity(&self) -> Option<Result<(), IntegrityError>> {
        self.db.integrity()
    }

    /// Every scheduled job's last run, for `/metrics` (the status page reads
    /// [`Domain::job_runs`], which checks the admin role).
    pub async fn all_job_runs(&self) -> Result<Vec<JobRun>, DomainError> {
        self.db.read(crate::db::jobs::all).await.map_err(DomainError::from)
    }
}
