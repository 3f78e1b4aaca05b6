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
    Ok(MakeRustlsConnect::new(client_config(tls)?))
}

fn client_config(tls: &TlsUrl) -> anyhow::Result<rustls::ClientConfig> {
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
    Ok(config)
}

/// libpq's `require`: the channel is encrypted, the peer is not checked.
/// The handshake is still signed with the key of the certificate the server
/// sent, whatever that certificate's X.509 version: Citus gives each node a
/// self-signed version 1 certificate, which libpq (OpenSSL) accepts and
/// webpki, which reads only version 3, refuses.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl EncryptOnly {
    /// Checks a handshake signature against the certificate's public key
    /// with the algorithms the provider has for its scheme.
    fn verify(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        use x509_cert::der::Decode;
        let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let key = parsed
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let algorithms = self
            .0
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .unwrap_or_default();
        if algorithms
            .iter()
            .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok())
        {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadSignature,
            ))
        }
    }
}

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
        self.verify(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;

    const V1_CERT: &str = include_str!("../../../tests/fixtures/tls-v1/cert.pem");
    const V1_KEY: &str = include_str!("../../../tests/fixtures/tls-v1/key.pem");
    const OTHER_KEY: &str = include_str!("../../../tests/fixtures/tls-v1/other-key.pem");

    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);

    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    /// A TLS handshake in memory between `client` and a server presenting
    /// the version 1 certificate and signing with `key`.
    fn handshake(client: rustls::ClientConfig, key: &str) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = CertificateDer::from_pem_slice(V1_CERT.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        // Not `with_single_cert`: it checks the key against the certificate
        // with webpki, which reads no version 1 certificate.
        let signing = provider.key_provider.load_private_key(key).unwrap();
        let certified = Arc::new(rustls::sign::CertifiedKey::new(vec![cert], signing));
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(certified)));
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut c = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
        let mut s = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            c.write_tls(&mut wire).unwrap();
            s.read_tls(&mut wire.as_slice()).unwrap();
            if let Err(e) = s.process_new_packets() {
                // Let the client read the server's alert, if any.
                let mut alert = Vec::new();
                let _ = s.write_tls(&mut alert);
                let _ = c.read_tls(&mut alert.as_slice());
                return c.process_new_packets().map(|_| ()).and(Err(e));
            }
            let mut wire = Vec::new();
            s.write_tls(&mut wire).unwrap();
            c.read_tls(&mut wire.as_slice()).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn require_connects_to_a_version_1_certificate_and_verify_modes_do_not() {
        let require = client_config(&split("postgres://h/db?sslmode=require")).unwrap();
        handshake(require, V1_KEY).expect("sslmode=require encrypts whatever the certificate");
        let full = client_config(&split("postgres://h/db?sslmode=verify-full")).unwrap();
        assert!(
            handshake(full, V1_KEY).is_err(),
            "verify-full checks the certificate"
        );
    }

    #[test]
    fn require_still_refuses_a_handshake_not_signed_with_the_certificates_key() {
        let require = client_config(&split("postgres://h/db?sslmode=require")).unwrap();
        let e = handshake(require, OTHER_KEY).unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
            ),
            "{e:?}"
        );
    }

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
