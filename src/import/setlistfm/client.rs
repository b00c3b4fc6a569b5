//! The setlist.fm API 1.0 client: `x-api-key` header, JSON, at most 2 requests per second.

use std::time::Duration;

use chrono::NaiveDate;

use super::model::SetlistPage;
use crate::import::ImportError;
use crate::import::http_client::ApiClient;

/// setlist.fm's documented limit for standard keys is about 2 requests per second.
pub const PERIOD: Duration = Duration::from_millis(500);

pub struct SetlistFmClient {
    api: ApiClient,
    base: String,
    key: String,
}

impl std::fmt::Debug for SetlistFmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetlistFmClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl SetlistFmClient {
    pub fn new(base: &str, key: &str, user_agent: &str) -> Result<Self, ImportError> {
        if key.trim().is_empty() {
            return Err(ImportError::NotConfigured("setlist.fm needs an API key: set import.setlistfm_api_key".into()));
        }
        url::Url::parse(base)
            .map_err(|_| ImportError::NotConfigured(format!("import.setlistfm_base_url `{base}` is not a URL")))?;
        Ok(Self {
            api: ApiClient::new("setlist.fm", user_agent, PERIOD)?,
            base: base.trim_end_matches('/').to_owned(),
            key: key.trim().to_owned(),
        })
    }

    async fn get(&self, path_and_query: &str) -> Result<SetlistPage, ImportError> {
        let url = format!("{}{path_and_query}", self.base);
        let headers = [("x-api-key", self.key.as_str()), ("accept-language", "en")];
        Ok(self.api.get_json::<SetlistPage>(&url, &headers).await?.unwrap_or_default())
    }

    /// `GET /artist/{mbid}/setlists?p=N`: an artist's setlists, newest first, 20 per page.
    pub async fn artist_setlists(&self, mbid: &str, page: i64) -> Result<SetlistPage, ImportError> {
        self.get(&format!("/artist/{}/setlists?p={page}", encode(mbid))).await
    }

    /// `GET /search/setlists?artistMbid=..&date=dd-MM-yyyy`: an artist's setlists on one day (an empty
    /// page when there is none yet).
    pub async fn setlists_on(&self, mbid: &str, date: NaiveDate) -> Result<SetlistPage, ImportError> {
        self.get(&format!("/search/setlists?artistMbid={}&date={}&p=1", encode(mbid), date.format("%d-%m-%Y"))).await
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
