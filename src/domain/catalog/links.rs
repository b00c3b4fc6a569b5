//! An artist's external links: checking the links field and listing them for display.

use crate::domain::{DomainError, validate};

/// The most external links an artist may have (besides the MusicBrainz page).
pub const MAX_LINKS: usize = 5;
const MAX_LABEL: usize = 60;

/// An external link of an artist page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Link {
    /// One line, "Label https://...": the address is the last word; without a label, its host.
    fn parse(line: &str) -> Result<Link, DomainError> {
        let line = line.trim();
        let (label, address) = line.rsplit_once(char::is_whitespace).unwrap_or(("", line));
        let url = validate::url("links", address)?.unwrap_or_default();
        let label = validate::optional_text("links", label, MAX_LABEL)?;
        let label = if label.is_empty() {
            url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| url.clone())
        } else {
            label
        };
        Ok(Link { label, url })
    }
}

/// Checks the links field and writes it back normalised (one "Label url" per line).
pub fn parse_links(text: &str) -> Result<String, DomainError> {
    let links = text.lines().filter(|l| !l.trim().is_empty()).map(Link::parse).collect::<Result<Vec<_>, _>>()?;
    if links.len() > MAX_LINKS {
        return Err(DomainError::invalid("links", format!("at most {MAX_LINKS} links")));
    }
    Ok(links.iter().map(|l| format!("{} {}", l.label, l.url)).collect::<Vec<_>>().join("\n"))
}

/// An artist's links for display: MusicBrainz first when the artist has an id, then the stored ones
/// (checked again: a line that no longer passes is left out).
pub fn artist_links(mbid: Option<&str>, stored: &str) -> Vec<Link> {
    let musicbrainz = mbid
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .map(|m| Link { label: "MusicBrainz".into(), url: format!("https://musicbrainz.org/artist/{m}") });
    musicbrainz.into_iter().chain(stored.lines().filter_map(|l| Link::parse(l).ok())).collect()
}
