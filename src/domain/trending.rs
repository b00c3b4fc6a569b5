//! Trending shows.
//!
//! Formula (documented in the README): each show keeps an activity score that decays exponentially with
//! a half-life of 24 h. A vote adds 1 (a vote taken back subtracts 1, never below 0):
//!   activity(t) = activity(t0) × 2^(−(t − t0)/24h) + Δ
//! The trending rank multiplies the decayed activity by a proximity weight that favours shows that are
//! soon:  trending = activity(now) × 1 / (1 + days_until_show / 7).
//! Both are O(1) per vote and evaluated on a few hundred upcoming shows per read, so it is recomputed on
//! every read of the home page cache miss — no batch job needed.

pub const HALF_LIFE_SECS: f64 = 24.0 * 3600.0;

pub fn decayed(score: f64, at: i64, now: i64) -> f64 {
    if now <= at {
        return score;
    }
    score * (-((now - at) as f64) / HALF_LIFE_SECS * std::f64::consts::LN_2).exp()
}

/// New activity after a vote (`delta` = +1 or −1) at `now`.
pub fn after_vote(score: f64, at: i64, now: i64, delta: f64) -> f64 {
    (decayed(score, at, now) + delta).max(0.0)
}

pub fn proximity_weight(starts_at: i64, now: i64) -> f64 {
    let days = ((starts_at - now).max(0) as f64) / 86_400.0;
    1.0 / (1.0 + days / 7.0)
}

pub fn trending_score(score: f64, at: i64, starts_at: i64, now: i64) -> f64 {
    decayed(score, at, now) * proximity_weight(starts_at, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_every_day() {
        let s = decayed(8.0, 0, 86_400);
        assert!((s - 4.0).abs() < 1e-9);
        assert!((after_vote(4.0, 0, 86_400, 1.0) - 3.0).abs() < 1e-9);
        assert_eq!(after_vote(0.2, 0, 0, -1.0), 0.0);
    }

    #[test]
    fn sooner_shows_rank_higher_for_equal_activity() {
        let now = 1_000_000;
        let soon = trending_score(10.0, now, now + 86_400, now);
        let later = trending_score(10.0, now, now + 60 * 86_400, now);
        assert!(soon > later);
    }
}
