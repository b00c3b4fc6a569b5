//! MySetlist: fans vote on the setlist of upcoming shows.

pub mod tls;
