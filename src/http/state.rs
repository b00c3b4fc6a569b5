//! Shared state of the web layer.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::Config;
use crate::domain::Domain;
use crate::domain::rows::Show;
use crate::health::ReadinessCheck;
use crate::import::Importer;
use crate::observability::Observability;

use super::pages::show_personal::HoledPage;

/// (show id, ranking generation, minutes voting stays open): what a cached show page is filed under.
pub type PageKey = (i64, u64, Option<i64>);

pub struct AppState {
    pub domain: Arc<Domain>,
    pub config: Arc<Config>,
    /// Metrics, the minute time series and alerts (see `observability`).
    pub obs: Arc<Observability>,
    /// Served over HTTPS: cookies get `Secure` and the `__Host-` prefix, HSTS is sent.
    pub https: bool,
    pub readiness: parking_lot::RwLock<Vec<(&'static str, ReadinessCheck)>>,
    /// On a node that follows another: the TXID its copy holds and its lag (see [`Freshness`]).
    pub freshness: parking_lot::RwLock<Option<FreshnessSource>>,
    /// Rendered show pages for signed-out visitors, keyed by (show id, ranking generation, minutes
    /// until voting closes or None once closed). A vote or edit bumps the generation; the minutes
    /// keep the printed countdown current and retire pages rendered before the start.
    pub page_cache: moka::sync::Cache<PageKey, Bytes>,
    /// The show page shared by every signed-in visitor (keyed as above, and by whether the visitor
    /// is staff: the navigation differs), with holes for each visitor's own state.
    pub(crate) personal_pages: moka::sync::Cache<(PageKey, bool), Arc<HoledPage>>,
    /// The show behind a page slug, as last read, so a cached page is found without a database read.
    /// Only ever used to build a `page_cache` key: every change to a show bumps its generation, so a
    /// stale entry finds no page and the request reads the show afresh (see pages/show.rs).
    pub shows_by_slug: moka::sync::Cache<String, Arc<Show>>,
    /// Online imports (admin page) and their progress; shared with the scheduler.
    pub importer: Arc<Importer>,
    /// Open live-ranking streams, capped per client address and in all.
    pub live_streams: Arc<super::live_limits::LiveStreamLimits>,
}

/// How current a following node's copy is. Its responses carry `x-mysetlist-txid` and
/// `x-mysetlist-lag-ms`, and its pages say results may be behind when `stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub txid: crate::replicate::Txid,
    pub lag: std::time::Duration,
    pub stale: bool,
}

/// None while this node leads (or runs alone).
pub type FreshnessSource = Arc<dyn Fn() -> Option<Freshness> + Send + Sync>;

impl AppState {
    pub fn new(domain: Arc<Domain>, obs: Arc<Observability>, https: bool) -> Arc<Self> {
        let http = &domain.config.settings.http;
        let live_streams =
            super::live_limits::LiveStreamLimits::new(http.max_live_streams_per_address, http.max_live_streams);
        Arc::new(Self {
            live_streams,
            config: domain.config.clone(),
            importer: Importer::new(domain.clone()),
            domain,
            obs,
            https,
            readiness: parking_lot::RwLock::new(Vec::new()),
            freshness: parking_lot::RwLock::new(None),
            // The time limit only bounds how long a renamed artist or venue shows its old name.
            page_cache: moka::sync::Cache::builder()
                .max_capacity(2_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
            personal_pages: moka::sync::Cache::builder()
                .max_capacity(2_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
            shows_by_slug: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
        })
    }

    pub fn add_readiness_check(&self, name: &'static str, check: ReadinessCheck) {
        self.readiness.write().push((name, check));
    }
}
