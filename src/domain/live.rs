//! Live rankings: one broadcast channel per watched show. A vote marks the show dirty; within
//! [`COALESCE`] one ranking is read and serialized once, and the same bytes go to every watcher.
//! Under heavy voting a show therefore publishes at most 1/COALESCE messages per second. How many
//! are watching goes out the same way when watchers come and go, at most once per
//! [`WATCHERS_COALESCE`] (a crowd arriving at once costs one message, not one per arrival).
//!
//! A ranking that did not change is not sent again ([`LastRanking`]): a standby that applied
//! replicated pages marks every watched show, and only the shows whose ranking moved cost a
//! message to their watchers.
//!
//! Messages are shared ([`RankingUpdate`] behind an `Arc`): a watcher's clone is a reference count,
//! so fanning one ranking out to 10,000 watchers copies nothing, and the transport frames each
//! message once for all of them (see [`RankingUpdate::framed`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::Domain;
use super::{DomainError, Ranking};

pub const COALESCE: Duration = Duration::from_millis(25);
pub const WATCHERS_COALESCE: Duration = Duration::from_secs(1);
/// Messages a slow watcher may lag behind before it skips to the newest ranking.
const CHANNEL_DEPTH: usize = 16;

/// What a live message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveEvent {
    /// `{"show_id":..,"ranking":[..]}`
    Ranking,
    /// `{"show_id":..,"watchers":N}`
    Watchers,
}

impl LiveEvent {
    /// The event's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            LiveEvent::Ranking => "ranking",
            LiveEvent::Watchers => "watchers",
        }
    }
}

/// One message as every watcher receives it.
#[derive(Debug)]
pub struct RankingUpdate {
    pub event: LiveEvent,
    pub json: Bytes,
    framed: OnceLock<Bytes>,
}

impl RankingUpdate {
    pub fn new(json: Bytes) -> Arc<Self> {
        Self::of(LiveEvent::Ranking, json)
    }

    pub fn of(event: LiveEvent, json: Bytes) -> Arc<Self> {
        Arc::new(Self { event, json, framed: OnceLock::new() })
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
    watchers_pending: bool,
    last: LastRanking,
}

/// The ranking every watcher of a channel holds, so that the same one is not sent again: the last
/// one sent (a watcher who lags is sent the current one: `http::sse`), or what the only watcher
/// read on joining. A watcher who joins holding another one ([`Hub::joined_with`]) makes it
/// unknown: the next ranking then goes out whatever it says.
#[derive(Debug, Default)]
struct LastRanking {
    json: Option<Bytes>,
    /// Rankings sent on the channel so far.
    sent: u64,
    /// The show's ranking generation (`Domain::ranking_generation`) read before the last ranking
    /// sent or held back: a ranking read at an older one is not sent after it.
    generation: u64,
}

impl LastRanking {
    fn is(&self, json: &Bytes) -> bool {
        self.json.as_ref() == Some(json)
    }

    fn set(&mut self, json: &Bytes) {
        self.json = Some(json.clone());
    }

    fn forget(&mut self) {
        self.json = None;
    }

    /// Whether `json` must go out; it is the last one sent from then on.
    fn is_news(&mut self, json: &Bytes) -> bool {
        if self.is(json) {
            return false;
        }
        self.set(json);
        self.sent += 1;
        true
    }
}

pub struct Hub {
    domain: Weak<Domain>,
    channels: Channels,
    unchanged: Arc<AtomicU64>,
}

impl Hub {
    pub(super) fn new(domain: Weak<Domain>) -> Self {
        Self { domain, channels: Arc::new(Mutex::new(HashMap::new())), unchanged: Arc::new(AtomicU64::new(0)) }
    }

    /// Rankings read for watchers and not sent, since they had not changed (for /metrics).
    pub fn unchanged_rankings(&self) -> u64 {
        self.unchanged.load(Ordering::Relaxed)
    }

    /// Watch a show's ranking (and how many watch it). Keep the [`Watching`] for as long as the
    /// receiver: dropping it tells the other watchers that one left.
    pub fn subscribe(&self, show_id: i64) -> (broadcast::Receiver<Arc<RankingUpdate>>, Watching) {
        let (rx, sent_before) = {
            let mut channels = self.channels.lock();
            let ch = channels.entry(show_id).or_insert_with(|| Channel {
                tx: broadcast::channel(CHANNEL_DEPTH).0,
                pending: false,
                watchers_pending: false,
                last: LastRanking::default(),
            });
            (ch.tx.subscribe(), ch.last.sent)
        };
        publish_watchers(&self.channels, show_id);
        (rx, Watching { channels: Arc::downgrade(&self.channels), show_id, sent_before })
    }

    /// A watcher who subscribed then read `first` as its first ranking. If that is not what the
    /// others hold, it may be behind or ahead of them: the current ranking goes out to everyone.
    pub fn joined_with(&self, watching: &Watching, first: &Bytes) {
        let show_id = watching.show_id;
        let differs = {
            let mut channels = self.channels.lock();
            let Some(ch) = channels.get_mut(&show_id) else { return };
            if ch.last.sent != watching.sent_before || ch.last.is(first) {
                // A ranking sent since it subscribed reaches it after `first`: it holds the last
                // one sent, like everyone else.
                false
            } else if ch.tx.receiver_count() == 1 {
                ch.last.set(first); // the only watcher: what it holds is what all hold
                false
            } else {
                ch.last.forget();
                true
            }
        };
        if differs {
            self.publish(show_id);
        }
    }

    /// How many watch a show now.
    pub fn watchers_of(&self, show_id: i64) -> usize {
        self.channels.lock().get(&show_id).map_or(0, |c| c.tx.receiver_count())
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
        let (domain, channels, unchanged) = (self.domain.clone(), self.channels.clone(), self.unchanged.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        rt.spawn(async move {
            tokio::time::sleep(COALESCE).await;
            if let Some(ch) = channels.lock().get_mut(&show_id) {
                ch.pending = false;
            }
            let Some(domain) = domain.upgrade() else { return };
            // Before the read: the ranking read is at least as new. Flushes of one show may
            // overlap (a change during a read schedules the next), and a slow one must not send
            // its older ranking after a newer one went out.
            let generation = domain.ranking_generation(show_id);
            let json = match domain.ranking(show_id).await {
                Ok(r) => ranking_message(show_id, &r),
                // Deleted: its watchers keep the last ranking they got.
                Err(DomainError::NotFound(_)) => return,
                Err(e) => {
                    tracing::warn!(show_id, error = %e, "could not read ranking for live update");
                    return;
                }
            };
            send_if_news(&channels, &unchanged, show_id, json, generation);
        });
    }
}

/// Sends a show's ranking, read at `generation`, to its watchers unless they hold it already
/// (counted in `unchanged`) or a ranking read later went out before it.
fn send_if_news(channels: &Channels, unchanged: &AtomicU64, show_id: i64, json: Bytes, generation: u64) {
    if let Some(ch) = channels.lock().get_mut(&show_id) {
        if generation < ch.last.generation {
            return;
        }
        ch.last.generation = generation;
        if ch.last.is_news(&json) {
            let _ = ch.tx.send(RankingUpdate::new(json));
        } else {
            unchanged.fetch_add(1, Ordering::Relaxed);
        }
    }
}

type Channels = Arc<Mutex<HashMap<i64, Channel>>>;

/// A watcher's place in a show's audience; dropping it (the stream ended) counts it out.
pub struct Watching {
    channels: Weak<Mutex<HashMap<i64, Channel>>>,
    show_id: i64,
    /// Rankings the channel had sent when it subscribed.
    sent_before: u64,
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(channels) = self.channels.upgrade() {
            publish_watchers(&channels, self.show_id);
        }
    }
}

/// Sends the show's watcher count once [`WATCHERS_COALESCE`] has passed (one message for every
/// arrival and departure in that time; none when nobody is left to tell).
fn publish_watchers(channels: &Channels, show_id: i64) {
    {
        let mut channels = channels.lock();
        let Some(ch) = channels.get_mut(&show_id) else { return };
        if ch.watchers_pending {
            return;
        }
        ch.watchers_pending = true;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
    let channels = Arc::downgrade(channels);
    rt.spawn(async move {
        tokio::time::sleep(WATCHERS_COALESCE).await;
        let Some(channels) = channels.upgrade() else { return };
        let mut channels = channels.lock();
        let Some(ch) = channels.get_mut(&show_id) else { return };
        ch.watchers_pending = false;
        match ch.tx.receiver_count() {
            0 => {
                if !ch.pending {
                    channels.remove(&show_id);
                }
            }
            n => {
                let _ = ch.tx.send(RankingUpdate::of(LiveEvent::Watchers, watchers_message(show_id, n)));
            }
        }
    });
}

/// The JSON document of a `watchers` event: `{"show_id":..,"watchers":N}`.
pub fn watchers_message(show_id: i64, watchers: usize) -> Bytes {
    Bytes::from(format!("{{\"show_id\":{show_id},\"watchers\":{watchers}}}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ranking_goes_out_once_unless_it_is_unknown_what_watchers_hold() {
        let mut last = LastRanking::default();
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        assert!(last.is_news(&a), "the first ranking goes out");
        assert!(!last.is_news(&a), "the same again does not");
        assert!(last.is_news(&b));
        assert!(last.is_news(&a), "back to an earlier one is news to those who have the later");
        last.forget();
        assert!(last.is_news(&a), "once unknown, whatever comes goes out");
        assert!(!last.is_news(&a));
    }

    fn ranking_of(rx: &mut broadcast::Receiver<Arc<RankingUpdate>>) -> Option<Bytes> {
        let mut newest = None;
        while let Ok(m) = rx.try_recv() {
            if m.event == LiveEvent::Ranking {
                newest = Some(m.json.clone());
            }
        }
        newest
    }

    /// A lone watcher whose first read is newer than a ranking sent after it subscribed holds that
    /// sent one in the end (it arrives after the first): the next ranking, its first one again,
    /// must still go out to it.
    #[test]
    fn a_ranking_sent_while_a_watcher_joins_is_what_it_holds() {
        let hub = Hub::new(Weak::new());
        let (x, f) = (Bytes::from_static(b"x"), Bytes::from_static(b"f"));
        let (mut rx, watching) = hub.subscribe(1);
        send_if_news(&hub.channels, &hub.unchanged, 1, x.clone(), 1);
        hub.joined_with(&watching, &f);
        assert_eq!(ranking_of(&mut rx), Some(x), "the ranking sent after it subscribed");
        send_if_news(&hub.channels, &hub.unchanged, 1, f.clone(), 2);
        assert_eq!(ranking_of(&mut rx), Some(f), "what it read first goes out, since it holds x");
        assert_eq!(hub.unchanged_rankings(), 0);
    }

    /// A lone watcher that joined with nothing sent since holds its first read: the same ranking is
    /// not sent to it again. A second watcher holding another one makes the next one go out.
    #[test]
    fn a_watcher_that_joins_holding_what_others_hold_costs_no_message() {
        let hub = Hub::new(Weak::new());
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        let (mut first, watching) = hub.subscribe(1);
        hub.joined_with(&watching, &a);
        send_if_news(&hub.channels, &hub.unchanged, 1, a.clone(), 1);
        assert_eq!(ranking_of(&mut first), None);
        assert_eq!(hub.unchanged_rankings(), 1);
        let (mut second, watching) = hub.subscribe(1);
        hub.joined_with(&watching, &b);
        send_if_news(&hub.channels, &hub.unchanged, 1, a.clone(), 1);
        assert_eq!(ranking_of(&mut second), Some(a.clone()), "the second read b: a goes out again");
        assert_eq!(ranking_of(&mut first), Some(a));
    }

    /// Two overlapping flushes of one show: the one that read earlier finishes last, and its older
    /// ranking does not replace the newer one its watchers hold.
    #[test]
    fn a_ranking_read_before_one_already_sent_is_not_sent_after_it() {
        let hub = Hub::new(Weak::new());
        let (older, newer) = (Bytes::from_static(b"older"), Bytes::from_static(b"newer"));
        let (mut rx, _watching) = hub.subscribe(1);
        send_if_news(&hub.channels, &hub.unchanged, 1, newer.clone(), 5);
        send_if_news(&hub.channels, &hub.unchanged, 1, older, 4);
        assert_eq!(ranking_of(&mut rx), Some(newer.clone()));
        send_if_news(&hub.channels, &hub.unchanged, 1, newer, 5);
        assert_eq!(ranking_of(&mut rx), None, "held back: the watchers have it");
    }
}
