//! Which catalog song a typed title means (adding a song to a show is a type-ahead over the
//! catalog; without JavaScript the browser's own `<datalist>` suggests, and the server decides).

use super::DomainError;
use crate::db::songs::Song;

/// Suggestions listed when several titles match.
const LISTED: usize = 5;

/// The song `typed` names: the one titled so (any case; the most popular if several are), else the
/// only one whose title contains it. Otherwise an error on `title` that suggests the closest title
/// (Damerau-Levenshtein, within a third of the length) or lists the titles that contain it.
pub fn pick(songs: &[Song], typed: &str) -> Result<i64, DomainError> {
    let wanted = typed.trim().to_lowercase();
    let most_popular = |candidates: Vec<&Song>| candidates.into_iter().max_by_key(|s| s.popularity).map(|s| s.id);
    let exact: Vec<&Song> = songs.iter().filter(|s| s.title.to_lowercase() == wanted).collect();
    if let Some(id) = most_popular(exact) {
        return Ok(id);
    }
    let containing: Vec<&Song> = songs.iter().filter(|s| s.title.to_lowercase().contains(&wanted)).collect();
    match containing.len() {
        1 => return Ok(containing[0].id),
        0 => {}
        n => {
            let titles: Vec<String> = containing.iter().take(LISTED).map(|s| format!("“{}”", s.title)).collect();
            let more = if n > LISTED { format!(" and {} more", n - LISTED) } else { String::new() };
            return Err(DomainError::invalid(
                "title",
                format!("{n} songs match “{}”: {}{more}; pick one from the list", typed.trim(), titles.join(", ")),
            ));
        }
    }
    let allowed = (wanted.chars().count() / 3).max(1);
    let closest = songs
        .iter()
        .map(|s| (strsim::damerau_levenshtein(&wanted, &s.title.to_lowercase()), s))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, s)| (*d, -s.popularity));
    Err(DomainError::invalid(
        "title",
        match closest {
            Some((_, s)) => format!("no song is called “{}”; did you mean “{}”?", typed.trim(), s.title),
            None => format!("no song called “{}” is in the catalog (or it is on the list already)", typed.trim()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(id: i64, title: &str, popularity: i64) -> Song {
        Song {
            id,
            artist_id: 1,
            title: title.into(),
            album: String::new(),
            duration_s: None,
            is_live: false,
            is_remix: false,
            popularity,
        }
    }

    fn catalog() -> Vec<Song> {
        vec![
            song(1, "Harbour Light", 50),
            song(2, "Lantern Light", 80),
            song(3, "Undertow", 10),
            song(4, "undertow", 90),
        ]
    }

    fn message(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, message } if field == "title" => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_exact_title_or_the_only_one_containing_the_words_is_taken() {
        assert_eq!(pick(&catalog(), "harbour light").unwrap(), 1);
        assert_eq!(pick(&catalog(), "  LANTERN ").unwrap(), 2);
        assert_eq!(pick(&catalog(), "Undertow").unwrap(), 4, "the most popular of two equal titles");
    }

    #[test]
    fn several_matches_are_listed_and_a_typo_gets_a_suggestion() {
        let several = message(pick(&catalog(), "light").unwrap_err());
        assert!(several.starts_with("2 songs match “light”: “Harbour Light”, “Lantern Light”"), "{several}");
        let typo = message(pick(&catalog(), "harbor lihgt").unwrap_err());
        assert!(typo.contains("did you mean “Harbour Light”?"), "{typo}");
        let none = message(pick(&catalog(), "completely different").unwrap_err());
        assert!(none.starts_with("no song called “completely different”"), "{none}");
    }
}
