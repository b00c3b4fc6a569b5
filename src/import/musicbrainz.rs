//! The MusicBrainz web service (ws/2, JSON): artist search and an artist's recordings. MusicBrainz
//! asks for at most one request per second and a meaningful User-Agent.

use std::time::Duration;

use serde::Deserialize;

use super::ImportError;
use super::http_client::ApiClient;

pub const PERIOD: Duration = Duration::from_secs(1);
/// Recordings per browse request (MusicBrainz's maximum).
pub const PAGE: u32 = 100;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MbArtist {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub tags: Vec<MbTag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MbTag {
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ArtistSearch {
    #[serde(default)]
    pub artists: Vec<MbArtist>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MbRecording {
    #[serde(default)]
    pub title: String,
    /// Milliseconds.
    #[serde(default)]
    pub length: Option<i64>,
    #[serde(default)]
    pub disambiguation: String,
    #[serde(default)]
    pub video: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordingPage {
    #[serde(default, rename = "recording-count")]
    pub count: i64,
    #[serde(default)]
    pub recordings: Vec<MbRecording>,
}

pub struct MusicBrainzClient {
    api: ApiClient,
    base: String,
}

impl MusicBrainzClient {
    pub fn new(base: &str, user_agent: &str) -> Result<Self, ImportError> {
        url::Url::parse(base)
            .map_err(|_| ImportError::NotConfigured(format!("import.musicbrainz_base_url `{base}` is not a URL")))?;
        Ok(Self {
            api: ApiClient::new("MusicBrainz", user_agent, PERIOD)?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `GET /artist?query=artist:"NAME"&fmt=json`: best matches first (with a `score`).
    pub async fn search_artist(&self, name: &str) -> Result<Vec<MbArtist>, ImportError> {
        let query = format!("artist:\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
        let url = format!("{}/artist?query={}&fmt=json&limit=10", self.base, encode(&query));
        Ok(self.api.get_json::<ArtistSearch>(&url, &[]).await?.unwrap_or_default().artists)
    }

    /// `GET /recording?artist=MBID&fmt=json&limit=100&offset=N`: one page of an artist's recordings.
    pub async fn recordings(&self, mbid: &str, offset: u32) -> Result<RecordingPage, ImportError> {
        let url = format!("{}/recording?artist={}&fmt=json&limit={PAGE}&offset={offset}", self.base, encode(mbid));
        Ok(self.api.get_json::<RecordingPage>(&url, &[]).await?.unwrap_or_default())
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The search result meant by `name`: an exact (case-insensitive) name match with the best score, else
/// the top result if MusicBrainz is confident (score >= 90).
pub fn pick_artist<'a>(name: &str, found: &'a [MbArtist]) -> Option<&'a MbArtist> {
    let wanted = name.trim().to_lowercase();
    found
        .iter()
        .filter(|a| a.name.trim().to_lowercase() == wanted)
        .max_by_key(|a| a.score)
        .or_else(|| found.iter().max_by_key(|a| a.score).filter(|a| a.score >= 90))
}

/// A song for the catalog distilled from recordings.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogSong {
    pub title: String,
    pub duration_s: Option<i64>,
    pub is_live: bool,
    pub is_remix: bool,
}

fn mentions(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

/// One song per title (case-insensitive), preferring a studio recording: MusicBrainz lists every live
/// version, remix and re-release as its own recording. Videos are left out.
pub fn catalog_from_recordings(recordings: &[MbRecording]) -> Vec<CatalogSong> {
    let mut out: Vec<CatalogSong> = Vec::new();
    for r in recordings.iter().filter(|r| !r.video && !r.title.trim().is_empty()) {
        let title = r.title.trim().to_owned();
        let is_live = mentions(&r.disambiguation, "live") || mentions(&title, "(live");
        let is_remix = mentions(&r.disambiguation, "remix") || mentions(&title, "remix") || mentions(&title, " mix)");
        let song =
            CatalogSong { duration_s: r.length.filter(|l| *l > 0).map(|l| (l + 500) / 1000), title, is_live, is_remix };
        match out.iter_mut().find(|s| s.title.to_lowercase() == song.title.to_lowercase()) {
            Some(existing) => {
                let existing_studio = !existing.is_live && !existing.is_remix;
                let new_studio = !song.is_live && !song.is_remix;
                if new_studio && !existing_studio {
                    *existing = song;
                } else if existing.duration_s.is_none() && new_studio == existing_studio {
                    existing.duration_s = song.duration_s;
                }
            }
            None => out.push(song),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(title: &str, dis: &str, len: Option<i64>) -> MbRecording {
        MbRecording { title: title.into(), disambiguation: dis.into(), length: len, ..Default::default() }
    }

    #[test]
    fn studio_versions_win_and_titles_are_unique() {
        let songs = catalog_from_recordings(&[
            rec("Alive", "live, 1992-06-05: Pinkpop", Some(300_000)),
            rec("alive", "", Some(341_400)),
            rec("Even Flow (Remix)", "", None),
            rec("Jeremy", "", None),
            rec("Jeremy", "", Some(318_000)),
        ]);
        assert_eq!(songs.len(), 3);
        assert_eq!(
            songs[0],
            CatalogSong { title: "alive".into(), duration_s: Some(341), is_live: false, is_remix: false }
        );
        assert!(songs[1].is_remix);
        assert_eq!(songs[2].duration_s, Some(318));
    }

    #[test]
    fn picks_the_meant_artist() {
        let found = vec![
            MbArtist { id: "1".into(), name: "Pearl Jam Tribute".into(), score: 100, ..Default::default() },
            MbArtist { id: "2".into(), name: "Pearl Jam".into(), score: 95, ..Default::default() },
        ];
        assert_eq!(pick_artist("pearl jam", &found).unwrap().id, "2");
        assert_eq!(pick_artist("Perl Jam", &found).unwrap().id, "1");
        let weak = vec![MbArtist { id: "3".into(), name: "Something".into(), score: 40, ..Default::default() }];
        assert!(pick_artist("Nothing", &weak).is_none());
    }
}
