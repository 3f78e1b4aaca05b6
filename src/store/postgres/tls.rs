//! TLS to PostgreSQL with libpq's `sslmode` meanings, which tokio-postgres
//! only partly understands: `prefer` (the default) and `require` encrypt
//! without checking the certificate; `verify-ca` and `verify-full` check it
//! (and the host name) against the system's roots plus `sslrootcert`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A database URL split into what tokio-postgres parses and how to verify.
pub struct TlsUrl {
    /// The URL with the libpq-only parameters taken out.
    pub url: String,
    pub verify: bool,
    pub root_cert: Option<String>,
}

/// Takes `sslrootcert` and the `verify-*` modes out of the URL.
pub fn split(url: &str) -> TlsUrl {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut verify = false;
    let mut root_cert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => root_cert = Some(path.to_owned()),
            Some(("sslmode", "verify-ca" | "verify-full")) => {
                verify = true;
                kept.push("sslmode=require".to_owned());
            }
            _ => kept.push(pair.to_owned()),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    TlsUrl {
        url,
        verify,
        root_cert,
    }
}

pub fn connector(tls: &TlsUrl) -> anyhow::Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &tls.root_cert {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| anyhow::anyhow!("cannot read sslrootcert {path}: {e}"))?
        {
            roots.add(cert.map_err(|e| anyhow::anyhow!("bad certificate in {path}: {e}"))?)?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !tls.verify {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(EncryptOnly(provider)));
    }
    Ok(MakeRustlsConnect::new(config))
}

/// libpq's `require`: the channel is encrypted, the peer is not checked.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_taken_out_and_translated() {
        let t =
            split("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x");
        assert_eq!(
            t.url,
            "postgres://u:p@h/db?sslmode=require&application_name=x"
        );
        assert!(t.verify);
        assert_eq!(t.root_cert.as_deref(), Some("/ca.pem"));
        let t = split("postgres://u@h/db?sslmode=require");
        assert_eq!(t.url, "postgres://u@h/db?sslmode=require");
        assert!(!t.verify);
        let t = split("postgres://u@h/db?sslrootcert=/x");
        assert_eq!(t.url, "postgres://u@h/db");
    }
}
