//! When to renew and when to retry. Pure functions of times, so they are tested directly.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Without renewal information from the CA: renew when a third of the lifetime remains
/// (Let's Encrypt's advice for 90-day certificates), or half of it for certificates
/// shorter than 10 days, whose third would leave too little room for retries.
pub(crate) fn default_renewal_time(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> DateTime<Utc> {
    let lifetime = (not_after - not_before).max(TimeDelta::zero());
    let remaining = if lifetime < TimeDelta::days(10) { lifetime / 2 } else { lifetime / 3 };
    not_after - remaining
}

/// RFC 9773 §4.2: a uniformly random point in what is left of the suggested window, or
/// now if the window is over. `fraction` is the random draw in [0, 1).
pub(crate) fn time_in_window(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    fraction: f64,
) -> DateTime<Utc> {
    if end <= now || end <= start {
        return now.max(start.min(end));
    }
    let start = start.max(now);
    let span_ms = (end - start).num_milliseconds() as f64;
    let offset = TimeDelta::milliseconds((span_ms * fraction.clamp(0.0, 1.0)) as i64);
    start + offset
}

/// Delay before retry number `failures` (1 = first failure): doubles from `base`, capped
/// at `max`, with ±10% jitter (`fraction` in [0, 1)) so many instances do not align.
pub(crate) fn retry_delay(failures: u32, base: Duration, max: Duration, fraction: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exponent).min(max);
    let jitter = 0.9 + 0.2 * fraction.clamp(0.0, 1.0);
    raw.mul_f64(jitter).min(max).max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn long_certificates_renew_with_a_third_left() {
        let day = 86_400;
        let renew = default_renewal_time(at(0), at(90 * day));
        assert_eq!(renew, at(60 * day));
    }

    #[test]
    fn short_certificates_renew_at_half_life() {
        let day = 86_400;
        assert_eq!(default_renewal_time(at(0), at(6 * day)), at(3 * day));
        assert_eq!(default_renewal_time(at(0), at(60)), at(30));
        // exactly 10 days is not "shorter than 10 days"
        let renew = default_renewal_time(at(0), at(10 * day));
        assert_eq!(renew, at(10 * day) - TimeDelta::days(10) / 3);
    }

    #[test]
    fn window_point_is_inside_or_now() {
        let now = at(100);
        assert_eq!(time_in_window(at(200), at(300), now, 0.0), at(200));
        assert_eq!(time_in_window(at(200), at(300), now, 0.5), at(250));
        // window already open: from now to end
        assert_eq!(time_in_window(at(50), at(300), now, 0.0), now);
        // window over: at once
        assert_eq!(time_in_window(at(10), at(20), now, 0.7), now);
    }

    #[test]
    fn retries_back_off_and_cap() {
        let base = Duration::from_secs(120);
        let max = Duration::from_secs(6 * 3600);
        let mid = 0.5; // no jitter
        assert_eq!(retry_delay(1, base, max, mid), base);
        assert_eq!(retry_delay(2, base, max, mid), base * 2);
        assert_eq!(retry_delay(4, base, max, mid), base * 8);
        assert_eq!(retry_delay(50, base, max, mid), max);
        assert!(retry_delay(1, base, max, 0.0) >= base.mul_f64(0.9));
        assert!(retry_delay(1, base, max, 0.999) <= base.mul_f64(1.1));
    }
}
