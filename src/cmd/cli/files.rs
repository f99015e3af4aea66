//! The files the flags name (`--creds`, `--tls-ca`, `--tls-cert`,
//! `--tls-key`): read with a size limit, and checked to hold what they
//! should, before anything connects.

use super::*;

pub(super) fn creds_file(path: PathBuf) -> Result<PathBuf, String> {
    check_file(path, Holds::Creds)
}

pub(super) fn ca_file(path: PathBuf) -> Result<PathBuf, String> {
    check_file(path, Holds::Certificate)
}

pub(super) fn cert_file(path: PathBuf) -> Result<PathBuf, String> {
    check_file(path, Holds::Certificate)
}

pub(super) fn key_file(path: PathBuf) -> Result<PathBuf, String> {
    check_file(path, Holds::Key)
}

/// Checks the file a flag names before anything is sent: at most 1 MiB, and
/// PEM of the right kind for a certificate or key. A file that cannot be
/// opened is left for the connection to report.
pub(super) fn check_file(path: PathBuf, holds: Holds) -> Result<PathBuf, String> {
    use async_nats::rustls::pki_types::pem::PemObject as _;
    use async_nats::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    if std::fs::File::open(&path).is_err() {
        return Ok(path);
    }
    let (limit, why) = match holds {
        Holds::Creds => (MAX_CREDS_BYTES, connection::CREDS_LIMIT),
        Holds::Certificate => (MAX_PEM_BYTES, "the most a certificate file may be"),
        Holds::Key => (MAX_PEM_BYTES, "the most a key file may be"),
    };
    let bytes = connection::read_at_most(&path, limit, why)?;
    let shown = path.display();
    match holds {
        // Its seed is hidden like a password, should anything quote it.
        Holds::Creds => crate::mask::register_creds(&bytes),
        Holds::Certificate => {
            let certificates = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| format!("{shown} is not a valid PEM file: {err}"))?;
            if certificates.is_empty() {
                return Err(format!(
                    "{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                ));
            }
        }
        Holds::Key => {
            PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
                format!("{shown} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
            })?;
        }
    }
    Ok(path)
}
