//! The stored records the web layer renders, named by the domain so `http` depends on the rules
//! and not on the storage module behind them.

pub use crate::db::artists::Artist;
pub use crate::db::jobs::{JobOutcome, JobRun};
pub use crate::db::search::SearchHit;
pub use crate::db::setlists::SetlistEntry;
pub use crate::db::shows::{Show, ShowStatus};
pub use crate::db::songs::{RankedSong, Song};
pub use crate::db::stats::Totals;
pub use crate::db::venues::Venue;
pub use crate::db::votes::Pick;
