//! A refused form shown again: each message next to the field it belongs to (the template sets
//! `aria-invalid` and `aria-describedby`), or above the form when it belongs to no field.

use crate::domain::DomainError;
use crate::http::error::AppError;

#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    /// About the whole form.
    pub general: Option<String>,
    /// (field, sentence)
    fields: Vec<(&'static str, String)>,
}

impl FormErrors {
    pub fn general(message: impl Into<String>) -> Self {
        Self { general: Some(message.into()), fields: Vec::new() }
    }

    /// Places `e` next to its field when the form has one of that name (`fields`: name and label),
    /// else above the form. "is not a valid email address" on `email` reads "Email is not a valid
    /// email address."
    pub fn from_error(e: &AppError, fields: &[(&'static str, &str)]) -> Self {
        let AppError::Domain(DomainError::Invalid { field, message }) = e else {
            return Self::general(e.public_message());
        };
        match fields.iter().find(|(name, _)| name == field) {
            Some((name, label)) => Self { general: None, fields: vec![(name, sentence(label, message))] },
            None => Self::general(e.public_message()),
        }
    }

    /// The message for `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(name, _)| *name == field).map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }
}

/// "Label is …." for messages that continue the label, else the message as a sentence.
pub fn sentence(label: &str, message: &str) -> String {
    let mut text = if message.starts_with("is ") || message.starts_with("must ") {
        format!("{label} {message}")
    } else {
        let mut chars = message.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    };
    if !text.ends_with(['.', '?', '!']) {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, &str)] = &[("email", "Email"), ("new_password", "New password")];

    #[test]
    fn a_field_error_sits_next_to_its_field_as_a_sentence() {
        let e = AppError::from(DomainError::invalid("email", "is not a valid email address"));
        let errors = FormErrors::from_error(&e, FIELDS);
        assert_eq!(errors.of("email"), Some("Email is not a valid email address."));
        assert_eq!((errors.general.as_deref(), errors.of("new_password")), (None, None));
        let e = AppError::from(DomainError::invalid("new_password", "too common"));
        assert_eq!(FormErrors::from_error(&e, FIELDS).of("new_password"), Some("Too common."));
    }

    #[test]
    fn an_error_of_no_field_of_the_form_goes_above_it() {
        let e = AppError::from(DomainError::invalid("user_id", "is not yours"));
        let errors = FormErrors::from_error(&e, FIELDS);
        assert!(errors.general.is_some() && errors.of("user_id").is_none());
        assert!(!errors.is_empty() && FormErrors::default().is_empty());
    }
}
