//! setlist.fm: the API's JSON model, matching a setlist to the catalog, file imports and the API client.

pub(crate) mod apply;
pub(crate) mod client;
mod file;
pub(crate) mod model;

pub(crate) use client::SetlistFmClient;
pub use file::import_json;
pub(crate) use file::{apply_all, line_of};
