//! The web layer: pages, JSON API, live updates, assets, health. Talks only to `domain`.

pub(crate) mod api;
mod assets;
mod auth;
mod client_ip;
mod error;
mod forms;
mod health;
mod ics;
mod live_limits;
mod metrics;
mod middleware;
mod pages;
mod rate_limit;
mod sse;
mod state;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route, get};

pub use auth::session_cookie_name;
pub(crate) use metrics::metrics_app;
pub use pages::paths as page_paths;
pub use sse::is_live_stream_path;
pub use state::AppState;
pub(crate) use state::Freshness;

/// Entry points for the cargo-fuzz targets in fuzz/ (not used by the server): the request parsers
/// as a request would reach them.
#[doc(hidden)]
pub mod fuzzing {
    /// A JSON request body, checked and parsed as each API request type.
    pub fn json_bodies(data: &[u8]) {
        super::api::fuzz_json_bodies(data)
    }
    /// An urlencoded form body, extracted as each page form and validated like a submission.
    pub fn page_forms(data: &[u8]) {
        super::pages::fuzz_forms(data)
    }
}

/// The whole application as one endpoint.
pub fn app(state: Arc<AppState>) -> impl Endpoint + 'static {
    let max_body = state.config.settings.http.max_body_bytes;
    let http = &state.config.settings.http;
    let hsts = state.https.then(|| middleware::hsts_value(http.hsts_max_age.as_secs(), http.hsts_preload));
    let api = api::service(&state);
    let spec = api::spec_json(&api);
    let spec_value: serde_json::Value = serde_json::from_str(&spec).expect("the spec is JSON");
    let allow = middleware::AllowHeader::from_spec(&spec_value);
    let docs = Arc::new(pages::ApiDocs::from_spec(&spec_value));
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(spec.clone())
    });
    let mut routes = Route::new()
        .nest("/", pages::routes())
        .nest("/api/v1", api)
        .at("/openapi.json", get(spec))
        .at("/api/docs", get(pages::api_docs_page).data(docs))
        .at("/livez", get(health::livez))
        .at("/readyz", get(health::readyz))
        .at(sse::ROUTE, get(sse::ranking_stream))
        .at("/assets/:name", get(assets::serve))
        .at("/favicon.ico", get(assets::favicon));
    if state.config.metrics_listen.is_none() {
        routes = routes.at("/metrics", get(metrics::metrics));
    }
    let http_metrics = state.obs.metrics.http.clone();
    routes
        .with(middleware::RouteCapture)
        .catch_all_error(|e| async move { crate::http::error::problem_from_poem(e) })
        .with(allow)
        .with(rate_limit::RateLimit::new(&state.config, state.obs.metrics.rate_limits.clone()))
        .with(middleware::BodyLimit::new(max_body))
        .with(middleware::PrivateNoStore)
        .with(middleware::FollowerFreshness(state.clone()))
        .with(middleware::SecurityHeaders::new(hsts))
        .with(middleware::RequestLog::new(Some(http_metrics)))
        .data(state)
}
