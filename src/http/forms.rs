//! Helpers for HTML form handlers: redirects with a flash message, form parsing errors.

use poem::Response;
use poem::http::{HeaderValue, StatusCode};

/// 303 See Other to `location` (the Post/Redirect/Get pattern).
pub fn see_other(location: &str) -> Response {
    let mut r = Response::builder().status(StatusCode::SEE_OTHER).finish();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert("location", v);
    }
    r
}

/// Only same-site relative paths may be redirect targets (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 300 => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn no_open_redirects() {
        assert_eq!(safe_next(Some("/shows/x")), "/shows/x");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
