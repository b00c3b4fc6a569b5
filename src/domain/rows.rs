//! The stored records the web layer renders, named by the domain so `http` depends on the rules
//! and not on the storage module behind them.

pub(crate) use crate::db::artists::Artist;
pub(crate) use crate::db::jobs::{JobOutcome, JobRun};
pub(crate) use crate::db::search::SearchHit;
pub(crate) use crate::db::setlists::SetlistEntry;
pub(crate) use crate::db::shows::{Show, ShowStatus};
pub(crate) use crate::db::songs::{RankedSong, Song};
pub(crate) use crate::db::stats::Totals;
pub(crate) use crate::db::venues::Venue;
pub(crate) use crate::db::votes::Pick;
