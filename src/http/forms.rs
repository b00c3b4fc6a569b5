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

/// Only same-origin paths may be redirect targets (no open redirects). The value is checked as given
/// and again after each round of percent-decoding: it must start with exactly one `/` and hold no
/// control character (browsers drop tabs and newlines from URLs, so `/\t/evil` would become
/// `//evil`, another site) and no backslash (read as `/`). Anything else falls back to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.len() < 300 && local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn local_path(raw: &str) -> bool {
    let plain = |s: &str| s.starts_with('/') && !s.starts_with("//") && !s.chars().any(|c| c.is_control() || c == '\\');
    let mut current = raw.to_owned();
    // Three rounds cover double and triple encoding; a value still changing after that is refused.
    for _ in 0..3 {
        if !plain(&current) {
            return false;
        }
        let decoded = percent_decode(&current);
        if decoded == current {
            return true;
        }
        current = decoded;
    }
    false
}

/// `%XX` sequences decoded (invalid ones kept as they are), the bytes read as UTF-8 lossily.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
        assert_eq!(safe_next(Some("/shows/a%20b?x=1")), "/shows/a%20b?x=1");
        for hostile in [
            "/\t/evil.example",
            "/%09/evil.example",
            "/%2F/evil.example",
            "/%252F/evil.example",
            "/\\evil",
            "/%5Cevil.example",
            "\n//evil.example",
            "/\r\n/evil",
            "/%0a/evil",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
    }
}
