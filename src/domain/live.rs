//! Live rankings: one broadcast channel per watched show. A vote marks the show dirty; within
//! [`COALESCE`] one ranking is read and serialized once, and the same bytes go to every watcher.
//! Under heavy voting a show therefore publishes at most 1/COALESCE messages per second.
//!
//! Messages are shared ([`RankingUpdate`] behind an `Arc`): a watcher's clone is a reference count,
//! so fanning one ranking out to 10,000 watchers copies nothing, and the transport frames each
//! message once for all of them (see [`RankingUpdate::framed`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::Domain;
use super::{DomainError, Ranking};

pub const COALESCE: Duration = Duration::from_millis(25);
/// Messages a slow watcher may lag behind before it skips to the newest ranking.
const CHANNEL_DEPTH: usize = 16;

/// One ranking as every watcher receives it.
#[derive(Debug)]
pub struct RankingUpdate {
    /// `{"show_id":..,"ranking":[..]}`
    pub json: Bytes,
    framed: OnceLock<Bytes>,
}

impl RankingUpdate {
    pub fn new(json: Bytes) -> Arc<Self> {
        Arc::new(Self { json, framed: OnceLock::new() })
    }

    /// The message in a transport's framing, built by the first watcher that sends it and shared by
    /// the rest: one event frame per message instead of one per watcher.
    pub fn framed(&self, frame: impl FnOnce(&[u8]) -> Bytes) -> Bytes {
        self.framed.get_or_init(|| frame(&self.json)).clone()
    }
}

struct Channel {
    tx: broadcast::Sender<Arc<RankingUpdate>>,
    pending: bool,
}

pub struct Hub {
    domain: Weak<Domain>,
    channels: Arc<Mutex<HashMap<i64, Channel>>>,
}

impl Hub {
    pub(super) fn new(domain: Weak<Domain>) -> Self {
        Self { domain, channels: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Watch a show's ranking. Each message is a JSON document `{"show_id":..,"ranking":[..]}`.
    pub fn subscribe(&self, show_id: i64) -> broadcast::Receiver<Arc<RankingUpdate>> {
        let mut channels = self.channels.lock();
        let ch = channels
            .entry(show_id)
            .or_insert_with(|| Channel { tx: broadcast::channel(CHANNEL_DEPTH).0, pending: false });
        ch.tx.subscribe()
    }

    /// Live connections across all shows (for /metrics).
    pub fn watchers(&self) -> usize {
        self.channels.lock().values().map(|c| c.tx.receiver_count()).sum()
    }

    /// Every watched show may have changed (a standby applied replicated pages).
    pub fn publish_all(&self) {
        let shows: Vec<i64> = self.channels.lock().keys().copied().collect();
        for show_id in shows {
            self.publish(show_id);
        }
    }

    pub fn publish(&self, show_id: i64) {
        {
            let mut channels = self.channels.lock();
            let Some(ch) = channels.get_mut(&show_id) else { return };
            if ch.tx.receiver_count() == 0 {
                channels.remove(&show_id);
                return;
            }
            if ch.pending {
                return; // a flush is already scheduled and will carry this change
            }
            ch.pending = true;
        }
        let (domain, channels) = (self.domain.clone(), self.channels.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        rt.spawn(async move {
            tokio::time::sleep(COALESCE).await;
            if let Some(ch) = channels.lock().get_mut(&show_id) {
                ch.pending = false;
            }
            let Some(domain) = domain.upgrade() else { return };
            let message = match domain.ranking(show_id).await {
                Ok(r) => RankingUpdate::new(ranking_message(show_id, &r)),
                // Deleted: its watchers keep the last ranking they got.
                Err(DomainError::NotFound(_)) => return,
                Err(e) => {
                    tracing::warn!(show_id, error = %e, "could not read ranking for live update");
                    return;
                }
            };
            if let Some(ch) = channels.lock().get(&show_id) {
                let _ = ch.tx.send(message);
            }
        });
    }
}

impl Domain {
    /// How long voting on a show stays open: zero once it has closed (started, or not upcoming).
    pub fn voting_closes_in(&self, show: &crate::db::shows::Show) -> Duration {
        if !self.is_voting_open(show) {
            return Duration::ZERO;
        }
        Duration::from_secs(u64::try_from(show.starts_at - self.now()).unwrap_or(0))
    }
}

/// The JSON document of the `locked` event: `{"show_id":..}`.
pub fn locked_message(show_id: i64) -> Bytes {
    Bytes::from(format!("{{\"show_id\":{show_id}}}"))
}

/// The JSON document of a live update: `{"show_id":..,"ranking":[..]}`, around the ranking's own
/// cached JSON (the same bytes `GET /api/v1/shows/{id}/ranking` sends).
pub fn ranking_message(show_id: i64, ranking: &Ranking) -> Bytes {
    let songs = ranking.json();
    let head = format!("{{\"show_id\":{show_id},\"ranking\":");
    let mut message = Vec::with_capacity(head.len() + songs.len() + 1);
    message.extend_from_slice(head.as_bytes());
    message.extend_from_slice(&songs);
    message.push(b'}');
    Bytes::from(message)
}
