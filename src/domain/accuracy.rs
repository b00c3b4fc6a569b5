//! Prediction accuracy.
//!
//! Formula (documented in the README): let A be the set of songs actually performed (tape intros and
//! unmatched titles count as performed songs; tape entries are excluded), N = |A|, and P the top N songs
//! of the fans' ranking (fewer if fewer were predicted). accuracy = 100 × |P ∩ A| / N, rounded to one
//! decimal. It is the share of the real setlist that the fans' top-N predicted: 100 means the fans'
//! top N were exactly the songs played. With no actual songs, or no votes (a ranking of songs nobody
//! voted for predicts nothing; it used to score the seeded catalog order), the accuracy is undefined
//! (None).

use std::collections::HashSet;

/// `ranking`: the ids of songs with at least one vote, best first. `actual`: song ids performed (None for titles not in the catalog).
pub fn accuracy(ranking: &[i64], actual: &[Option<i64>]) -> Option<f64> {
    let n = actual.len();
    if n == 0 || ranking.is_empty() {
        return None;
    }
    let played: HashSet<i64> = actual.iter().flatten().copied().collect();
    let hits = ranking.iter().take(n).filter(|id| played.contains(id)).count();
    Some(((hits as f64) * 1000.0 / n as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::accuracy;

    #[test]
    fn perfect_partial_and_empty() {
        assert_eq!(accuracy(&[1, 2, 3], &[Some(3), Some(2), Some(1)]), Some(100.0));
        assert_eq!(accuracy(&[1, 2, 3, 4], &[Some(1), Some(9)]), Some(50.0));
        // Only the top N count: song 3 is predicted but ranked below the cut.
        assert_eq!(accuracy(&[1, 2, 3], &[Some(3), Some(8)]), Some(0.0));
        // An unmatched title still counts toward N.
        assert_eq!(accuracy(&[1, 2, 3], &[Some(1), None, Some(2)]), Some(66.7));
        assert_eq!(accuracy(&[1], &[]), None);
        // Nobody voted: no prediction, no score.
        assert_eq!(accuracy(&[], &[Some(1)]), None);
    }
}
