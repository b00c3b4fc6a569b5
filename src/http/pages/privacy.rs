//! The privacy notice: what is stored, for how long (from the running settings), what erasure does,
//! and the two formulas the site publishes (accuracy, trending).

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem::{Response, handler};

use super::{Layout, render, respond};
use crate::domain::trending;
use crate::http::auth::Visitor;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "privacy.html")]
struct PrivacyTemplate {
    layout: Layout,
    idle: String,
    absolute: String,
    ip_data: String,
    audit_log: String,
    anonymous: bool,
    per_show: u32,
    per_day: u32,
    half_life_hours: f64,
}

/// "14 days", "90 days", "12 hours": durations as people write them.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[handler]
pub fn privacy_page(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let s = &state.config.settings;
    let t = PrivacyTemplate {
        layout: Layout::new(&visitor),
        idle: human(s.sessions.idle_timeout),
        absolute: human(s.sessions.absolute_timeout),
        ip_data: human(s.retention.ip_data),
        audit_log: human(s.retention.audit_log),
        anonymous: s.voting.anonymous,
        per_show: s.voting.anonymous_votes_per_show,
        per_day: s.voting.anonymous_votes_per_day,
        half_life_hours: trending::HALF_LIFE_SECS / 3600.0,
    };
    let result = render(&t);
    respond(&mut visitor, "/privacy", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(14 * 86_400)), "14 days");
        assert_eq!(human(Duration::from_secs(86_400)), "1 day");
        assert_eq!(human(Duration::from_secs(36 * 3_600)), "36 hours");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
    }
}
