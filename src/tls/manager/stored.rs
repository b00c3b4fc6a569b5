//! Reading the certificate the store holds, and judging whether it can be served.

use chrono::Utc;

use crate::tls::certificate::{LoadedCertificate, StoredCertificate};
use crate::tls::error::TlsError;
use crate::tls::store::{CERTIFICATE_KEY, CertStore};

/// What the store holds under [`CERTIFICATE_KEY`].
pub(super) enum Stored {
    Nothing,
    Usable(Box<LoadedCertificate>),
    /// Expired or unreadable: why.
    Unusable(String),
}

pub(super) async fn read_stored(store: &dyn CertStore) -> Result<Stored, TlsError> {
    let Some(bytes) = store.load(CERTIFICATE_KEY).await? else {
        return Ok(Stored::Nothing);
    };
    let loaded = StoredCertificate::from_bytes(&bytes).and_then(LoadedCertificate::from_record);
    Ok(match loaded {
        Ok(loaded) if loaded.not_after > Utc::now() => Stored::Usable(Box::new(loaded)),
        Ok(loaded) => Stored::Unusable(format!("the stored certificate expired at {}", loaded.not_after)),
        Err(err) => Stored::Unusable(format!("the stored certificate is unusable: {err}")),
    })
}
