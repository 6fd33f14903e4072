//! Reading the inspector's files: certificates and CRLs, PEM or DER.
//!
//! A PEM file may hold several certificates (a robot's certificate followed
//! by its chain, or a bundle of trust anchors); a DER file holds one. The
//! format is told by content, not by the file name, so `.crt`, `.cer` and
//! `.pem` all work.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

/// Largest file read as a certificate bundle or CRL. A robot certificate is
/// about 1.5 KiB and a CRL of a million entries about 40 MiB; anything
/// larger is not an inspector's input.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A file that cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Larger than [`MAX_INPUT_BYTES`].
    #[error("{path}: {len} bytes is larger than the {MAX_INPUT_BYTES} accepted")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// PEM armour that cannot be decoded.
    #[error("{path}: malformed PEM: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// The file holds nothing of the kind wanted.
    #[error("{path}: holds no {what} (expected PEM `-----BEGIN {label}-----` blocks or DER)")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was wanted, e.g. `certificate`.
        what: &'static str,
        /// The PEM label expected.
        label: &'static str,
    },
}

/// Reads a whole file, refusing very large ones.
pub fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    let read = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            len,
        });
    }
    std::fs::read(path).map_err(read)
}

/// Whether `bytes` are one DER SEQUENCE filling the whole input, which no
/// PEM file is. Checked first so that a large DER CRL is never scanned as
/// text.
pub fn is_der(bytes: &[u8]) -> bool {
    use der::{Decode, Length, Reader, SliceReader};
    let Ok(mut reader) = SliceReader::new(bytes) else {
        return false;
    };
    match der::Header::decode(&mut reader) {
        Ok(h) => {
            h.tag == der::Tag::Sequence
                && (reader.position() + h.length).ok() == Length::try_from(bytes.len()).ok()
        }
        Err(_) => false,
    }
}

/// Whether `bytes` look like PEM (text with a `-----BEGIN` line, possibly
/// after explanatory text as OpenSSL writes it).
pub fn is_pem(bytes: &[u8]) -> bool {
    !is_der(bytes) && bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The certificates in `bytes`, in order; `path` names the file in errors.
pub fn certificates_from(
    bytes: &[u8],
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let certs = if is_der(bytes) {
        vec![CertificateDer::from(bytes.to_vec())]
    } else if is_pem(bytes) {
        pem_sections(bytes, path, SectionKind::Certificate)?
            .into_iter()
            .map(CertificateDer::from)
            .collect()
    } else {
        Vec::new()
    };
    if certs.is_empty() {
        return Err(InputError::Empty {
            path: path.to_owned(),
            what: "certificate",
            label: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// Reads the certificates in the file at `path`.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, InputError> {
    certificates_from(&read_file(path)?, path)
}

/// Reads one CRL (PEM `X509 CRL` or DER) from the file at `path`.
pub fn read_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>, InputError> {
    let bytes = read_file(path)?;
    let der = if is_der(&bytes) {
        Some(bytes)
    } else if is_pem(&bytes) {
        pem_sections(&bytes, path, SectionKind::Crl)?
            .into_iter()
            .next()
    } else {
        None
    };
    der.map(CertificateRevocationListDer::from)
        .ok_or_else(|| InputError::Empty {
            path: path.to_owned(),
            what: "CRL",
            label: "X509 CRL",
        })
}

/// The contents of every PEM section of `kind`; other sections (a key, a
/// CRL beside certificates) are skipped.
fn pem_sections(bytes: &[u8], path: &Path, kind: SectionKind) -> Result<Vec<Vec<u8>>, InputError> {
    let mut out = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (found, der) = item.map_err(|e| InputError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if found == kind {
            out.push(der);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_pem_from_der_and_names_the_file() {
        let path = Path::new("robot.pem");
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        let certs = certificates_from(pem.as_bytes(), path).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].as_ref(), &[0x30, 0x03, 0x02, 0x01, 0x01]);
        let der = certificates_from(&[0x30, 0x00], path).unwrap();
        assert_eq!(der.len(), 1);
        // A DER SEQUENCE must fill the file; text starting with '0' is not DER.
        assert!(!is_der(b"0\n-----BEGIN CERTIFICATE-----"));
        assert!(is_der(&[0x30, 0x03, 0x02, 0x01, 0x01]));
        assert!(!is_der(&[0x30, 0x03, 0x02, 0x01]));
        let e = certificates_from(b"hello", path).unwrap_err().to_string();
        assert!(e.starts_with("robot.pem: holds no certificate"), "{e}");
        let bad = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        let e = certificates_from(bad.as_bytes(), path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("robot.pem: malformed PEM"), "{e}");
    }
}
