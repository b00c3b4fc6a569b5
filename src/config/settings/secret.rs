//! A setting that holds a credential: kept in a [`SecretString`] (zeroed when dropped) so that it
//! never reaches a log line or `check-config` by way of `Debug`; readers ask for it by name with
//! [`Secret::expose`].

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    /// The credential itself, for the one place that sends it on.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Unset (the feature that needs it is off).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

/// Empty when unset (so a missing one shows), else `<redacted>`.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.is_empty() { "" } else { "<redacted>" };
        std::fmt::Debug::fmt(shown, f)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(String::deserialize(d)?.into()))
    }
}

/// Settings are serialized to hand the built-in defaults (where every secret is empty) to figment,
/// and by `check-config`, which replaces every key in `config::SECRET_KEYS` before printing.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}
