//! Spelling suggestions for search: when the words as typed find nothing, each word the index does
//! not know (as a prefix, the way search matches) is replaced by the closest word it does know, by
//! Damerau-Levenshtein distance: "lantren" becomes "lanterns". The vocabulary is every word of the
//! indexed titles and details, built on the first search that needs it and kept for
//! [`VOCABULARY_TTL`] (a new artist is suggested at most that much later; exact searches find it
//! at once).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Domain, DomainError};
use crate::db;

pub const VOCABULARY_TTL: Duration = Duration::from_secs(60);

/// The words of the search index, with how often each occurs.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Sorted, for prefix lookups.
    words: Vec<String>,
    counts: HashMap<String, u32>,
}

/// Lower-case runs of letters and digits (as FTS5's unicode61 tokenizer splits words).
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

impl Vocabulary {
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for text in texts {
            for w in words(text) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut words: Vec<String> = counts.keys().cloned().collect();
        words.sort_unstable();
        Self { words, counts }
    }

    /// Whether some word starts with `prefix` (what a search for it would match).
    fn knows_prefix(&self, prefix: &str) -> bool {
        let at = self.words.partition_point(|w| w.as_str() < prefix);
        self.words.get(at).is_some_and(|w| w.starts_with(prefix))
    }

    /// The known word closest to `word`, if one is close enough: within a third of its length
    /// (at least one edit; words under 3 letters are left alone), ties to the more frequent word.
    fn closest(&self, word: &str) -> Option<&str> {
        let len = word.chars().count();
        if len < 3 {
            return None;
        }
        let allowed = (len / 3).max(1);
        let mut best: Option<(usize, u32, &str)> = None;
        for candidate in &self.words {
            let clen = candidate.chars().count();
            if clen + allowed < len || clen > len + allowed + 2 {
                continue;
            }
            // A word typed in part ("lantre") is compared with the start of the candidate too.
            let whole = strsim::damerau_levenshtein(word, candidate);
            let start: String = candidate.chars().take(len).collect();
            let distance = whole.min(strsim::damerau_levenshtein(word, &start));
            if distance > allowed {
                continue;
            }
            let count = self.counts.get(candidate).copied().unwrap_or(0);
            if best.is_none_or(|(d, c, _)| distance < d || (distance == d && count > c)) {
                best = Some((distance, count, candidate));
            }
        }
        best.map(|(_, _, w)| w)
    }

    /// The input with every unknown word replaced by its closest known word; None when nothing
    /// changed (every word is known, or none has a close neighbour).
    pub fn correct(&self, input: &str) -> Option<String> {
        let mut changed = false;
        let corrected: Vec<String> = words(input)
            .take(8)
            .map(|w| {
                if self.knows_prefix(&w) {
                    return w;
                }
                match self.closest(&w) {
                    Some(known) => {
                        changed = true;
                        known.to_owned()
                    }
                    None => w,
                }
            })
            .collect();
        changed.then(|| corrected.join(" "))
    }
}

/// The cached vocabulary and when it was built.
#[derive(Default)]
pub struct VocabularyCache(parking_lot::Mutex<Option<(Instant, Arc<Vocabulary>)>>);

impl VocabularyCache {
    pub fn forget(&self) {
        *self.0.lock() = None;
    }
}

impl Domain {
    /// The search index's words, rebuilt when older than [`VOCABULARY_TTL`].
    pub(super) async fn vocabulary(&self) -> Result<Arc<Vocabulary>, DomainError> {
        if let Some((built, v)) = self.vocabulary.0.lock().as_ref()
            && built.elapsed() < VOCABULARY_TTL
        {
            return Ok(v.clone());
        }
        let texts = self.db.read(db::search::indexed_texts).await?;
        let vocabulary = Arc::new(Vocabulary::from_texts(texts.iter().map(String::as_str)));
        *self.vocabulary.0.lock() = Some((Instant::now(), vocabulary.clone()));
        Ok(vocabulary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary::from_texts([
            "The Paper Lanterns indie folk",
            "Lantern Festival Hall Berlin DE",
            "Hollow Pines Cedar Smoke",
            "Undertow Cedar Smoke",
        ])
    }

    #[test]
    fn a_typo_becomes_the_closest_known_word() {
        let v = vocabulary();
        // One transposition from "lantern" (which, searched as a prefix, finds "lanterns" too).
        assert_eq!(v.correct("lantren").as_deref(), Some("lantern"));
        assert_eq!(v.correct("paper lantren").as_deref(), Some("paper lantern"), "known words stay");
        assert_eq!(v.correct("lanternss").as_deref(), Some("lanterns"));
        assert_eq!(v.correct("hollwo pines").as_deref(), Some("hollow pines"));
        assert_eq!(v.correct("ceder").as_deref(), Some("cedar"), "the more frequent of equally close words");
    }

    #[test]
    fn known_prefixes_far_words_and_short_words_are_left_alone() {
        let v = vocabulary();
        assert_eq!(v.correct("lan"), None, "a prefix of a known word is what search matches");
        assert_eq!(v.correct("Paper"), None);
        assert_eq!(v.correct("zzzzzzz"), None, "nothing close enough");
        assert_eq!(v.correct("xq"), None, "too short to guess");
        assert_eq!(v.correct(""), None);
    }
}
