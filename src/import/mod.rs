//! Imports: setlist.fm JSON files, catalog files (CSV or JSON), and online imports from MusicBrainz and
//! setlist.fm. These are domain-level operations: they validate with the domain's rules and write through
//! the domain's transaction helpers (`domain::tx`, `resolve_entries`, `store_actual`), never through HTTP.
//!
//! Every import is idempotent (running it twice changes nothing the second time) and returns a
//! [`Report`] that lists what was created, updated, left unchanged or skipped, with the reason and the
//! place in the input for every skipped item. Each item is applied in its own savepoint: an item is
//! either written completely or not at all.

mod batch;
pub mod catalog;

mod error;
pub(crate) mod http_client;
mod importer;
pub(crate) mod jobs;
pub(crate) mod musicbrainz;
pub(crate) mod online;
mod progress;
mod report;
pub mod setlistfm;
mod timezones;

pub(crate) use error::ImportError;
pub(crate) use importer::{Importer, record_in_audit_log};
pub(crate) use progress::Progress;
pub use progress::Silent;
pub use report::{Entry, Kind, Outcome, Report};
