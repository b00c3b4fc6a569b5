//! The certificate record kept in the store and its parsed, servable form.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use instant_acme::CertificateIdentifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use super::error::TlsError;

/// A PEM private key. Its `Debug` output never shows the key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SecretPem(String);

impl SecretPem {
    pub fn new(pem: String) -> Self {
        Self(pem)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPem([redacted])")
    }
}

/// What is saved under [`super::CERTIFICATE_KEY`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredCertificate {
    /// The CA that issued it; a certificate from another directory (say, staging) is replaced.
    pub directory_url: String,
    pub domains: Vec<String>,
    pub chain_pem: String,
    pub key_pem: SecretPem,
    pub obtained_at: DateTime<Utc>,
}

impl StoredCertificate {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a certificate record always serialises")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TlsError> {
        serde_json::from_slice(bytes)
            .map_err(|err| TlsError::BadCertificate(format!("stored record is not readable: {err}")))
    }
}

/// A certificate ready to serve, with the facts the renewal schedule needs.
#[derive(Clone)]
pub(crate) struct LoadedCertificate {
    pub certified: Arc<CertifiedKey>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub names: Vec<String>,
    pub serial_hex: String,
    /// RFC 9773 identifier (authority key id + serial) used for renewal information.
    pub ari_id: Option<CertificateIdentifier<'static>>,
    pub record: StoredCertificate,
}

impl fmt::Debug for LoadedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCertificate")
            .field("names", &self.names)
            .field("serial", &self.serial_hex)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl LoadedCertificate {
    pub fn from_record(record: StoredCertificate) -> Result<Self, TlsError> {
        let bad = |what: String| TlsError::BadCertificate(what);
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(record.chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|err| bad(format!("certificate chain is not valid PEM: {err}")))?;
        let leaf = chain.first().ok_or_else(|| bad("certificate chain is empty".into()))?.clone();
        let key = PrivateKeyDer::from_pem_slice(record.key_pem.expose().as_bytes()).map_err(|err| match err {
            rustls::pki_types::pem::Error::NoItemsFound => bad("private key is missing".into()),
            _ => bad("private key is not valid PEM".into()),
        })?;
        let provider = super::server_config::crypto_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider)
            .map_err(|err| bad(format!("certificate and private key do not fit: {err}")))?;

        let (_, parsed) = x509_parser::parse_x509_certificate(&leaf)
            .map_err(|err| bad(format!("leaf certificate does not parse: {err}")))?;
        let validity = parsed.validity();
        let not_before = timestamp(validity.not_before.timestamp())?;
        let not_after = timestamp(validity.not_after.timestamp())?;
        let names = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let serial_hex = hex::encode(parsed.tbs_certificate.raw_serial());
        let ari_id = CertificateIdentifier::try_from(&leaf).ok().map(CertificateIdentifier::into_owned);
        Ok(Self { certified: Arc::new(certified), not_before, not_after, names, serial_hex, ari_id, record })
    }

    /// Whether every configured domain is on the certificate.
    pub fn covers(&self, domains: &[String]) -> bool {
        domains.iter().all(|domain| self.names.contains(domain))
    }
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, TlsError> {
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| TlsError::BadCertificate(format!("validity time {seconds} out of range")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed record for the given names, as the CA would return it.
    pub(crate) fn self_signed_record(names: &[&str], days: u64) -> StoredCertificate {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let unix_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let now = rcgen::date_time_ymd(1970, 1, 1) + unix_now;
        params.not_before = now - std::time::Duration::from_secs(60);
        params.not_after = now + std::time::Duration::from_secs(days * 86_400);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        StoredCertificate {
            directory_url: "https://ca.test/dir".into(),
            domains: names.iter().map(|n| n.to_string()).collect(),
            chain_pem: cert.pem(),
            key_pem: SecretPem::new(key.serialize_pem()),
            obtained_at: Utc::now(),
        }
    }

    #[test]
    fn parses_names_and_validity() {
        let loaded = LoadedCertificate::from_record(self_signed_record(&["vote.test", "www.vote.test"], 90)).unwrap();
        assert!(loaded.covers(&["vote.test".into(), "www.vote.test".into()]));
        assert!(!loaded.covers(&["other.test".into()]));
        let days = (loaded.not_after - loaded.not_before).num_days();
        assert!((89..=90).contains(&days), "{days}");
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let record = self_signed_record(&["vote.test"], 90);
        let key_body = record.key_pem.expose().lines().nth(1).unwrap().to_owned();
        let loaded = LoadedCertificate::from_record(record.clone()).unwrap();
        for text in [format!("{record:?}"), format!("{loaded:?}")] {
            assert!(!text.contains(&key_body), "{text}");
            assert!(!text.contains("PRIVATE KEY"), "{text}");
        }
    }

    #[test]
    fn mismatched_key_is_refused() {
        let mut record = self_signed_record(&["vote.test"], 90);
        record.key_pem = self_signed_record(&["vote.test"], 90).key_pem;
        let err = LoadedCertificate::from_record(record).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
    }
}
