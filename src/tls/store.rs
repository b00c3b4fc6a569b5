//! Where the ACME account and the certificate live between restarts. The application
//! implements [`CertStore`] over its database (table `tls_store`); [`MemoryCertStore`]
//! serves tests and runs without persistence.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;

/// Key of the current certificate record (JSON: PEM chain, PEM key, domains, directory).
pub const CERTIFICATE_KEY: &str = "acme/certificate";
/// Prefix of account records; the directory URL follows, since an account belongs to one CA.
pub const ACCOUNT_KEY_PREFIX: &str = "acme/account/";

/// A small key-value store for the ACME account credentials and the certificate.
/// Values hold private keys: implementations must not log them.
pub trait CertStore: Send + Sync + 'static {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), StoreError>>;
}

#[derive(Debug, thiserror::Error)]
#[error("certificate store: {0}")]
pub struct StoreError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(cause.into())
    }
}

/// An in-memory store; clones share the same contents.
#[derive(Clone, Default)]
pub struct MemoryCertStore {
    values: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl MemoryCertStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for MemoryCertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys only: the values hold private keys.
        let keys: Vec<String> = self.values.lock().keys().cloned().collect();
        f.debug_struct("MemoryCertStore").field("keys", &keys).finish()
    }
}

impl CertStore for MemoryCertStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let value = self.values.lock().get(key).cloned();
        Box::pin(async move { Ok(value) })
    }

    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), StoreError>> {
        self.values.lock().insert(key.to_owned(), value);
        Box::pin(async { Ok(()) })
    }
}

pub(crate) fn account_key(directory_url: &str) -> String {
    format!("{ACCOUNT_KEY_PREFIX}{directory_url}")
}
