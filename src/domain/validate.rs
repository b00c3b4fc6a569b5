//! Input validation shared by all operations. Every error names the field.

use super::DomainError;

pub const MAX_NAME: usize = 200;
pub const MAX_URL: usize = 2000;

/// Trims and checks the length (in characters) of a required text field; refuses control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    optional_text(field, v, max)
}

pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

pub fn email(value: &str) -> Result<String, DomainError> {
    let v = value.trim().to_lowercase();
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(v) } else { Err(DomainError::invalid("email", "is not a valid email address")) }
}

/// A URL-safe slug from a name (ASCII, lowercase, dashes).
pub fn slugify(name: &str) -> String {
    let s = slug::slugify(name);
    if s.is_empty() { "item".into() } else { s.chars().take(80).collect() }
}

pub fn slug(field: &str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 100 || !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(DomainError::invalid(field, "must be 1-100 characters of a-z, 0-9 and -"));
    }
    Ok(v.to_owned())
}

pub fn country(value: &str) -> Result<String, DomainError> {
    let v = value.trim().to_uppercase();
    if v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(v)
    } else {
        Err(DomainError::invalid("country", "must be a two-letter ISO 3166 code like GB"))
    }
}

pub fn timezone(value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    let v = if v.is_empty() { "UTC" } else { v };
    v.parse::<chrono_tz::Tz>()
        .map_err(|_| DomainError::invalid("timezone", format!("`{v}` is not an IANA time zone")))?;
    Ok(v.to_owned())
}

/// An optional http(s) link of at most [`MAX_URL`] bytes: empty is None; `javascript:`, `data:` and
/// anything with a control character are refused (the link ends up in `href`s and calendar files).
pub fn url(field: &str, value: &str) -> Result<Option<String>, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match url::Url::parse(v) {
        Ok(u)
            if (u.scheme() == "https" || u.scheme() == "http")
                && v.len() <= MAX_URL
                && !v.chars().any(char::is_control) =>
        {
            Ok(Some(v.to_owned()))
        }
        _ => Err(DomainError::invalid(field, "must be an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(text("name", "  Ok  ", 10).unwrap(), "Ok");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Fan@Example.ORG ").unwrap(), "fan@example.org");
        for bad in ["", "nope", "a@b", "@x.org", "a b@x.org", "a@.org"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_http_or_https_only() {
        assert_eq!(
            url("u", " https://tickets.example/a?b=1 ").unwrap().as_deref(),
            Some("https://tickets.example/a?b=1")
        );
        assert_eq!(url("u", "").unwrap(), None);
        for bad in ["javascript:alert(1)", "data:text/html,x", "ftp://x.org/", "/relative", "https://x.org/\u{7}"] {
            assert!(url("u", bad).is_err(), "{bad}");
        }
        assert!(url("u", &format!("https://x.org/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn slugs_and_zones() {
        assert_eq!(slugify("Sigur Rós — Live!"), "sigur-ros-live");
        assert!(slug("slug", "Bad Slug").is_err());
        assert!(timezone("Europe/Berlin").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
        assert_eq!(country("gb").unwrap(), "GB");
    }
}
