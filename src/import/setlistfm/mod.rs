//! setlist.fm: the API's JSON model, matching a setlist to the catalog, file imports and the API client.

pub(crate) mod apply;
pub mod client;
mod file;
pub mod model;

pub use client::SetlistFmClient;
pub use file::import_json;
pub(crate) use file::{apply_all, line_of};
