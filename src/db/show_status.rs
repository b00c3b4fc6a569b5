//! A show's status, the word every layer says about a show: stored as its lowercase name (the
//! `shows.status` column), shown and parsed from forms and imports by the same names. What a status
//! allows (whether voting is open) is the domain's rule: `ShowStatus::voting_open` in `domain::votes`.

use super::stored_words::stored_as_words;

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

stored_as_words!(ShowStatus, "show status", {
    Upcoming => "upcoming",
    Locked => "locked",
    Completed => "completed",
    Cancelled => "cancelled",
});
