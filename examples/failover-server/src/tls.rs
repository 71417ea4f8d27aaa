//! TLS for the partner link without any certificate authority: each server has a self-signed
//! certificate (`gen-cert`), and each side trusts exactly the certificates whose SHA-256
//! fingerprints its configuration pins. TLS 1.3 only, mutual authentication always.
//!
//! The verifiers here accept a peer certificate if and only if its fingerprint is pinned, and
//! then check the handshake signatures with that certificate's key (so the peer must hold the
//! private key). Names, validity dates and chains are deliberately not consulted: the pin is the
//! whole trust decision, which is what a pair of servers configured by one operator needs.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use sha2::{Digest, Sha256};

/// A SHA-256 certificate fingerprint, written `sha256:` followed by 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Parses `sha256:HEX` (colons between hex pairs are allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let hexpart = text
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("`{text}` does not start with sha256:"))?;
        let clean: String = hexpart.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&clean).map_err(|e| format!("`{text}`: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("`{text}` is not 32 bytes"))?;
        Ok(Self(arr))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A new self-signed certificate and key, as PEM, with the certificate's fingerprint.
#[derive(Debug)]
pub struct GeneratedCert {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key (PKCS#8), PEM.
    pub key_pem: String,
    /// Fingerprint to pin on the partner.
    pub fingerprint: Fingerprint,
}

/// Generates a key pair and a self-signed certificate naming `name`.
pub fn generate(name: &str) -> Result<GeneratedCert, String> {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()])
        .map_err(|e| format!("generating a certificate: {e}"))?;
    Ok(GeneratedCert {
        cert_pem: ck.cert.pem(),
        key_pem: ck.key_pair.serialize_pem(),
        fingerprint: Fingerprint::of(ck.cert.der()),
    })
}

/// Writes `NAME.crt` and `NAME.key` (mode 0600) into `dir` and returns the fingerprint.
pub fn write_generated(dir: &Path, name: &str) -> Result<Fingerprint, String> {
    let g = generate(name)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    if key.exists() {
        return Err(format!(
            "{} exists: refusing to overwrite a key",
            key.display()
        ));
    }
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .map_err(|e| format!("creating {}: {e}", key.display()))?;
        f.write_all(g.key_pem.as_bytes())
            .map_err(|e| format!("writing {}: {e}", key.display()))?;
    }
    std::fs::write(&cert, &g.cert_pem).map_err(|e| format!("writing {}: {e}", cert.display()))?;
    Ok(g.fingerprint)
}

/// Reads a PEM certificate chain and private key.
pub fn load_identity(
    cert: &Path,
    key: &Path,
) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs = rustls_pemfile::certs(&mut io::BufReader::new(std::fs::File::open(cert)?))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no certificate", cert.display()),
        ));
    }
    let key = rustls_pemfile::private_key(&mut io::BufReader::new(std::fs::File::open(key)?))?
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no private key", key.display()),
            )
        })?;
    Ok((certs, key))
}

/// Accepts exactly the pinned certificates (as server and as client verifier).
#[derive(Debug)]
pub struct PinnedVerifier {
    pins: Vec<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    /// A verifier trusting `pins`.
    pub fn new(pins: Vec<Fingerprint>, provider: Arc<CryptoProvider>) -> Self {
        Self { pins, provider }
    }

    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), Error> {
        let fp = Fingerprint::of(end_entity);
        if self.pins.contains(&fp) {
            Ok(())
        } else {
            Err(Error::General(format!(
                "partner certificate {fp} is not pinned in the configuration"
            )))
        }
    }
}

impl PinnedVerifier {
    /// Checks a TLS 1.2 handshake signature with the provider's algorithms (both verifier roles).
    fn signature_tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    /// Checks a TLS 1.3 handshake signature with the provider's algorithms (both verifier roles).
    fn signature_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature_tls12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature_tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature_tls12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature_tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ServerCertVerifier::supported_verify_schemes(self)
    }
}

/// TLS 1.3 client configuration presenting `certs`/`key` and trusting only `pins`.
pub fn client_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pins: Vec<Fingerprint>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedVerifier::new(pins, provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// TLS 1.3 server configuration presenting `certs`/`key` and requiring a client certificate
/// whose fingerprint is in `pins`.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pins: Vec<Fingerprint>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedVerifier::new(pins, provider.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn identity(
        name: &str,
    ) -> (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        Fingerprint,
    ) {
        let g = generate(name).expect("generate");
        let certs = rustls_pemfile::certs(&mut g.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certs");
        let key = rustls_pemfile::private_key(&mut g.key_pem.as_bytes())
            .expect("key")
            .expect("some key");
        assert_eq!(Fingerprint::of(&certs[0]), g.fingerprint);
        (certs, key, g.fingerprint)
    }

    /// Runs one handshake over loopback and a 4-byte exchange; returns (client ok, server ok).
    async fn run(cc: Arc<rustls::ClientConfig>, sc: Arc<rustls::ServerConfig>) -> (bool, bool) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            match tokio_rustls::TlsAcceptor::from(sc).accept(tcp).await {
                Ok(mut s) => {
                    let mut b = [0u8; 4];
                    s.read_exact(&mut b).await.is_ok() && &b == b"ping"
                }
                Err(_) => false,
            }
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("partner").expect("name");
        let client_ok = match tokio_rustls::TlsConnector::from(cc)
            .connect(name, tcp)
            .await
        {
            Ok(mut s) => s.write_all(b"ping").await.is_ok() && s.flush().await.is_ok(),
            Err(_) => false,
        };
        let server_ok = tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        (client_ok, server_ok)
    }

    #[tokio::test]
    async fn pinned_partners_connect_and_a_wrong_key_is_refused() {
        let (ccerts, ckey, cfp) = identity("primary");
        let (scerts, skey, sfp) = identity("secondary");
        let cc = client_config(ccerts.clone(), ckey.clone_key(), vec![sfp]).expect("client config");
        let sc = server_config(scerts.clone(), skey.clone_key(), vec![cfp]).expect("server config");
        assert_eq!(run(cc, sc).await, (true, true), "both pins right");

        // The secondary does not pin the primary's certificate: refused.
        let (_, _, other) = identity("someone-else");
        let cc = client_config(ccerts.clone(), ckey.clone_key(), vec![sfp]).expect("client config");
        let sc =
            server_config(scerts.clone(), skey.clone_key(), vec![other]).expect("server config");
        assert!(!run(cc, sc).await.1, "server refuses an unpinned client");

        // The primary does not pin the secondary's certificate: refused.
        let cc = client_config(ccerts, ckey, vec![other]).expect("client config");
        let sc = server_config(scerts, skey, vec![cfp]).expect("server config");
        assert!(!run(cc, sc).await.0, "client refuses an unpinned server");

        // Identities pinned to nothing never connect.
        let (ccerts, ckey, _) = identity("a");
        let (scerts, skey, _) = identity("b");
        let cc = client_config(ccerts, ckey, vec![]).expect("client config");
        let sc = server_config(scerts, skey, vec![]).expect("server config");
        assert_eq!(run(cc, sc).await, (false, false));
    }

    #[test]
    fn fingerprints_parse_and_print() {
        let fp = Fingerprint::of(b"x");
        assert_eq!(Fingerprint::parse(&fp.to_string()), Ok(fp));
        let with_colons = format!(
            "sha256:{}",
            hex::encode(fp.0)
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(":")
        );
        assert_eq!(Fingerprint::parse(&with_colons), Ok(fp));
        assert!(Fingerprint::parse("md5:00").is_err());
        assert!(Fingerprint::parse("sha256:00").is_err());
    }

    #[test]
    fn gen_cert_writes_files_once() {
        let dir = std::env::temp_dir().join(format!("dhcpv6-gencert-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let fp = write_generated(&dir, "primary").expect("generate");
        let (certs, _key) =
            load_identity(&dir.join("primary.crt"), &dir.join("primary.key")).expect("load");
        assert_eq!(Fingerprint::of(&certs[0]), fp);
        assert!(
            write_generated(&dir, "primary").is_err(),
            "never overwrites a key"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
