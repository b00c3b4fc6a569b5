//! One conversation with the CA: load or create the account, order a certificate for all
//! domains, answer the challenges, finalize and download the chain.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, RetryPolicy,
};

use super::certificate::{SecretPem, StoredCertificate};
use super::challenge::{Http01Responder, tls_alpn01_certificate};
use super::error::{TlsError, from_acme, from_problem};
use super::http_client::AcmeHttpClient;
use super::options::{Challenge, ValidOptions};
use super::resolver::CertResolver;
use super::store::{CertStore, account_key};

/// How long the CA may take to validate, and then to issue.
const VALIDATION_WAIT: Duration = Duration::from_secs(120);
const ISSUANCE_WAIT: Duration = Duration::from_secs(120);

/// What an issuance needs; shared by the manager's task.
pub(crate) struct Issuer {
    pub options: Arc<ValidOptions>,
    pub http: AcmeHttpClient,
    pub store: Arc<dyn CertStore>,
    pub resolver: Arc<CertResolver>,
    pub http01: Http01Responder,
}

impl Issuer {
    fn directory_error(&self, err: instant_acme::Error) -> TlsError {
        match err {
            instant_acme::Error::Json(cause) => TlsError::NotADirectory {
                url: self.options.directory_url.clone(),
                cause: format!("the response is not an ACME directory document ({cause})"),
            },
            other => from_acme(other, &self.options.directory_url),
        }
    }

    /// The stored account, or a new one (saved at once so it is created only once).
    pub async fn account(&self) -> Result<Account, TlsError> {
        let key = account_key(&self.options.directory_url);
        if let Some(bytes) = self.store.load(&key).await? {
            match serde_json::from_slice::<AccountCredentials>(&bytes) {
                Ok(credentials) => {
                    return Account::builder_with_http(Box::new(self.http.clone()))
                        .from_credentials(credentials)
                        .await
                        .map_err(|err| self.directory_error(err));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "stored ACME account is unreadable; creating a new one");
                }
            }
        }
        self.create_account().await
    }

    async fn create_account(&self) -> Result<Account, TlsError> {
        let contact = match self.options.email.as_str() {
            "" => Vec::new(),
            email => vec![format!("mailto:{email}")],
        };
        let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = Account::builder_with_http(Box::new(self.http.clone()))
            .create(
                &NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false },
                self.options.directory_url.clone(),
                None,
            )
            .await
            .map_err(|err| self.directory_error(err))?;
        let bytes = serde_json::to_vec(&credentials)
            .map_err(|err| TlsError::Acme(format!("cannot serialise the account: {err}")))?;
        self.store.save(&account_key(&self.options.directory_url), bytes).await?;
        tracing::info!(account = account.id(), directory = %self.options.directory_url, "ACME account created");
        Ok(account)
    }

    /// Orders, validates and downloads a certificate for all configured domains.
    /// `replaces` is the RFC 9773 identifier of the certificate being renewed, if the CA
    /// offers renewal information.
    pub async fn obtain(
        &self,
        account: &mut Account,
        replaces: Option<CertificateIdentifier<'static>>,
    ) -> Result<StoredCertificate, TlsError> {
        let mut order = self.new_order(account, replaces).await?;
        let mut pending = PendingChallenges {
            resolver: &self.resolver,
            http01: &self.http01,
            domains: Vec::new(),
            tokens: Vec::new(),
        };
        self.answer_challenges(&mut order, &mut pending).await?;

        let ready = order.poll_ready(&RetryPolicy::new().timeout(VALIDATION_WAIT)).await;
        match ready {
            Ok(OrderStatus::Ready) => {}
            Ok(status) => {
                return Err(explain_failed_order(&mut order, format!("order is {status:?}")).await);
            }
            Err(instant_acme::Error::Api(problem)) => {
                let fallback = from_problem(&problem, None).to_string();
                return Err(explain_failed_order(&mut order, fallback).await);
            }
            Err(err) => return Err(from_acme(err, &self.options.directory_url)),
        }

        let key_pem =
            SecretPem::new(order.finalize().await.map_err(|err| from_acme(err, &self.options.directory_url))?);
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(ISSUANCE_WAIT))
            .await
            .map_err(|err| from_acme(err, &self.options.directory_url))?;
        drop(pending);
        Ok(StoredCertificate {
            directory_url: self.options.directory_url.clone(),
            domains: self.options.domains.clone(),
            chain_pem,
            key_pem,
            obtained_at: Utc::now(),
        })
    }

    async fn new_order(
        &self,
        account: &mut Account,
        replaces: Option<CertificateIdentifier<'static>>,
    ) -> Result<Order, TlsError> {
        let identifiers: Vec<Identifier> =
            self.options.domains.iter().map(|domain| Identifier::Dns(domain.clone())).collect();
        let mut recreated = false;
        let mut replaces = replaces;
        loop {
            let mut request = NewOrder::new(&identifiers);
            if let Some(id) = &replaces {
                request = request.replaces(id.clone());
            }
            match account.new_order(&request).await {
                Ok(order) => return Ok(order),
                Err(instant_acme::Error::Api(problem)) if !recreated && problem_is(&problem, "accountDoesNotExist") => {
                    // The CA forgot the account (a test CA restarted, or it was deactivated).
                    tracing::warn!("the CA does not know the stored ACME account; creating a new one");
                    *account = self.create_account().await?;
                    recreated = true;
                }
                Err(instant_acme::Error::Api(problem)) if replaces.is_some() => {
                    // "replaces" is a courtesy (RFC 9773 §5); a CA refusing it (say, the old
                    // certificate was already replaced) must not block the renewal.
                    tracing::info!(problem = %problem, "CA refused the ARI 'replaces' hint; ordering without it");
                    replaces = None;
                }
                Err(instant_acme::Error::Api(problem)) => {
                    let domain = self.domain_named_in(&problem);
                    return Err(from_problem(&problem, domain));
                }
                Err(err) => return Err(from_acme(err, &self.options.directory_url)),
            }
        }
    }

    /// For a refused order without per-identifier subproblems: the configured domain the
    /// CA's text mentions, or the only one we have.
    fn domain_named_in(&self, problem: &instant_acme::Problem) -> Option<&str> {
        let domains = &self.options.domains;
        let detail = problem.detail.as_deref().unwrap_or("");
        domains
            .iter()
            .filter(|domain| detail.contains(domain.as_str()))
            .max_by_key(|domain| domain.len())
            .or(if domains.len() == 1 { domains.first() } else { None })
            .map(String::as_str)
    }

    async fn answer_challenges(&self, order: &mut Order, pending: &mut PendingChallenges<'_>) -> Result<(), TlsError> {
        let directory = &self.options.directory_url;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|err| from_acme(err, directory))?;
            let domain = authz.identifier().to_string();
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => {
                    return Err(TlsError::DomainRefused { domain, detail: format!("authorization is {status:?}") });
                }
            }
            let wanted = match self.options.challenge {
                Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
                Challenge::Http01 => ChallengeType::Http01,
            };
            let Some(mut challenge) = authz.challenge(wanted.clone()) else {
                return Err(TlsError::DomainRefused {
                    domain,
                    detail: format!("the CA offers no {wanted:?} challenge; try the other acme.challenge"),
                });
            };
            let key_authorization = challenge.key_authorization();
            match self.options.challenge {
                Challenge::TlsAlpn01 => {
                    let certified = tls_alpn01_certificate(&domain, key_authorization.digest().as_ref())?;
                    self.resolver.add_challenge(&domain, certified);
                    pending.domains.push(domain.clone());
                }
                Challenge::Http01 => {
                    let token = challenge.token.clone();
                    self.http01.insert(token.clone(), key_authorization.as_str().to_owned());
                    pending.tokens.push(token);
                }
            }
            challenge.set_ready().await.map_err(|err| match err {
                instant_acme::Error::Api(problem) => from_problem(&problem, Some(&domain)),
                other => from_acme(other, directory),
            })?;
        }
        Ok(())
    }
}

fn problem_is(problem: &instant_acme::Problem, kind: &str) -> bool {
    problem.r#type.as_deref().is_some_and(|t| t.strip_prefix("urn:ietf:params:acme:error:") == Some(kind))
}

/// After a failed validation the useful reason sits in the challenge's error, not in the
/// order: fetch the authorizations again and report the first refusal with its domain.
async fn explain_failed_order(order: &mut Order, fallback: String) -> TlsError {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        let domain = state.identifier().to_string();
        if let Some(problem) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
            return from_problem(problem, Some(&domain));
        }
        if state.status == AuthorizationStatus::Invalid {
            return TlsError::DomainRefused { domain, detail: "validation failed without a reason".into() };
        }
    }
    if let Some(problem) = &order.state().error {
        return from_problem(problem, None);
    }
    TlsError::OrderRefused(fallback)
}

/// Challenge answers published for the CA; withdrawn when the attempt ends, however it ends.
struct PendingChallenges<'a> {
    resolver: &'a CertResolver,
    http01: &'a Http01Responder,
    domains: Vec<String>,
    tokens: Vec<String>,
}

impl Drop for PendingChallenges<'_> {
    fn drop(&mut self) {
        for domain in &self.domains {
            self.resolver.remove_challenge(domain);
        }
        for token in &self.tokens {
            self.http01.remove(token);
        }
    }
}
