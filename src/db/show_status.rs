//! A show's status, the word every layer says about a show: stored as its lowercase name (the
//! `shows.status` column), shown and parsed from forms and imports by the same names. What a status
//! allows (whether voting is open) is the domain's rule: `ShowStatus::voting_open` in `domain::votes`.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowStatus {
    /// Before the show: fans vote (until it starts).
    #[default]
    Upcoming,
    /// The show has started: votes are frozen, the setlist is not in yet.
    Locked,
    /// Over: the real setlist can be compared with the fans' prediction.
    Completed,
    /// Will not take place; kept for the record, never locked or completed.
    Cancelled,
}

impl ShowStatus {
    pub const ALL: [ShowStatus; 4] = [Self::Upcoming, Self::Locked, Self::Completed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upcoming => "upcoming",
            Self::Locked => "locked",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status named `name` (as stored and as forms and imports write it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for ShowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ShowStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ShowStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::parse(name).ok_or_else(|| FromSqlError::Other(format!("unknown show status {name:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::ShowStatus;

    #[test]
    fn every_status_reads_back_from_its_stored_name() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for status in ShowStatus::ALL {
            let back: ShowStatus = conn.query_row("SELECT ?1", [status], |r| r.get(0)).unwrap();
            assert_eq!(back, status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let unknown: rusqlite::Result<ShowStatus> = conn.query_row("SELECT 'postponed'", [], |r| r.get(0));
        assert!(unknown.is_err(), "an unknown stored status is an error, not a silent default");
    }
}
