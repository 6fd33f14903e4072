//! Reading the inspector's files: certificates and CRLs, PEM or DER.
//!
//! A PEM file may hold several certificates (a robot's certificate followed
//! by its chain, or a bundle of trust anchors); a DER file holds one. The
//! format is told by content, not by the file name, so `.crt`, `.cer` and
//! `.pem` all work.
//!
//! Every file the CLIs read goes through [`FileKind::read`] (or
//! [`open_regular`] for files hashed as a stream): only regular files are
//! opened, so a FIFO, a device such as `/dev/zero` or a directory is
//! refused by name instead of blocking or filling memory, and each kind of
//! file has a size limit, checked on the size the file declares and again
//! while reading (a file may grow, and `/proc` files declare 0). The limits
//! are in the README's "Limits" section.

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
    /// Larger than its kind's limit.
    #[error("{path}: larger than the {limit} bytes accepted for {what}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it was read as, e.g. `a manifest`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// Not a regular file: a FIFO, a device, a directory, a socket.
    #[error("{path}: is {found}, not a regular file; {what} is read from a regular file")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is, e.g. `a FIFO (named pipe)`.
        found: &'static str,
        /// What it was to be read as.
        what: &'static str,
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

impl InputError {
    /// The reason as an [`std::io::Error`], without the path (for errors
    /// that name the path themselves).
    pub fn into_io(self) -> std::io::Error {
        use std::io::{Error, ErrorKind};
        match self {
            Self::Read { source, .. } => source,
            Self::TooLarge { what, limit, .. } => Error::new(
                ErrorKind::FileTooLarge,
                format!("larger than the {limit} bytes accepted for {what}"),
            ),
            Self::NotRegular { found, what, .. } => Error::new(
                ErrorKind::InvalidInput,
                format!("is {found}, not a regular file; {what} is read from a regular file"),
            ),
            other => Error::new(ErrorKind::InvalidData, other.to_string()),
        }
    }
}

/// What a file is read as, and so its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// An identity manifest (TOML): a few KiB.
    Manifest,
    /// A private key (PEM or DER).
    Key,
    /// A CSR (PEM or DER): twice the CA's 64 KiB DER limit, for PEM.
    Csr,
    /// A certificate with its chain.
    Certificate,
    /// Trust anchors, or a bundle of CA certificates.
    TrustAnchors,
    /// A CRL: a million entries are about 40 MiB.
    Crl,
    /// A market-entry policy or model rules (TOML).
    Policy,
    /// A list of robot IDs or serials, one a line (`robotid status --file`):
    /// a million IDs are about 20 MiB.
    IdList,
    /// A possession challenge or response (JSON).
    Challenge,
    /// An exported lifecycle history (JSON).
    History,
    /// A component's file measured into a manifest: hashed as a stream,
    /// so of any size.
    Component,
}

impl FileKind {
    /// The largest file of this kind read, in bytes.
    pub const fn limit(self) -> u64 {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        match self {
            Self::Manifest | Self::Policy | Self::Certificate => MIB,
            Self::Key | Self::Challenge => 64 * KIB,
            Self::Csr => 128 * KIB,
            Self::TrustAnchors => 4 * MIB,
            Self::Crl | Self::IdList => MAX_INPUT_BYTES,
            Self::History => 16 * MIB,
            Self::Component => u64::MAX,
        }
    }

    /// What the file is read as, for messages: `a manifest`.
    pub const fn what(self) -> &'static str {
        match self {
            Self::Manifest => "a manifest",
            Self::Key => "a key",
            Self::Csr => "a CSR",
            Self::Certificate => "a certificate",
            Self::TrustAnchors => "trust anchors",
            Self::Crl => "a CRL",
            Self::Policy => "a policy or model rules",
            Self::IdList => "a list of IDs",
            Self::Challenge => "a challenge or response",
            Self::History => "a history bundle",
            Self::Component => "a component file",
        }
    }

    /// Reads the regular file at `path`, at most [`FileKind::limit`] bytes.
    pub fn read(self, path: &Path) -> Result<Vec<u8>, InputError> {
        use std::io::Read;
        let file = open_regular(path, self)?;
        let limit = self.limit();
        let declared = file.metadata().map(|m| m.len()).unwrap_or_default();
        if declared > limit {
            return Err(self.too_large(path));
        }
        let mut out = Vec::with_capacity(usize::try_from(declared).unwrap_or_default());
        file.take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|source| InputError::Read {
                path: path.to_owned(),
                source,
            })?;
        if u64::try_from(out.len()).unwrap_or(u64::MAX) > limit {
            return Err(self.too_large(path));
        }
        Ok(out)
    }

    /// [`FileKind::read`] for callers whose errors carry an
    /// [`std::io::Error`] beside the path: the reason without the path.
    pub fn read_io(self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.read(path).map_err(InputError::into_io)
    }

    /// [`FileKind::read_to_string`], as [`FileKind::read_io`] does.
    pub fn read_to_string_io(self, path: &Path) -> std::io::Result<String> {
        self.read_to_string(path).map_err(InputError::into_io)
    }

    /// [`FileKind::read`], as UTF-8 text.
    pub fn read_to_string(self, path: &Path) -> Result<String, InputError> {
        String::from_utf8(self.read(path)?).map_err(|e| InputError::Read {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        })
    }

    fn too_large(self, path: &Path) -> InputError {
        InputError::TooLarge {
            path: path.to_owned(),
            what: self.what(),
            limit: self.limit(),
        }
    }
}

/// What a non-regular file is, for messages.
fn file_type_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading as `kind` if it is a regular file (symbolic
/// links followed). The type is checked before opening, since opening a
/// FIFO blocks until a writer comes, and again on the file opened
/// (non-blocking), in case the name was swapped in between.
pub fn open_regular(path: &Path, kind: FileKind) -> Result<std::fs::File, InputError> {
    use std::os::unix::fs::OpenOptionsExt;
    let read = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };
    let not_regular = |t: std::fs::FileType| InputError::NotRegular {
        path: path.to_owned(),
        found: file_type_name(t),
        what: kind.what(),
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or_default())
        .open(path)
        .map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok(file)
}

/// Reads a whole file as a certificate bundle or CRL: a regular file of at
/// most [`MAX_INPUT_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    FileKind::Crl.read(path)
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

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }

    /// A FIFO, a device and a directory are refused by name, at once (a
    /// FIFO blocked forever, `/dev/zero` filled memory).
    #[test]
    fn special_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("manifest.toml");
        mkfifo(&fifo);
        for (path, found) in [
            (fifo.as_path(), "a FIFO (named pipe)"),
            (Path::new("/dev/zero"), "a character device"),
            (Path::new("/dev/urandom"), "a character device"),
            (dir.path(), "a directory"),
        ] {
            for kind in [FileKind::Manifest, FileKind::Crl, FileKind::Component] {
                let e = kind.read(path).unwrap_err();
                assert!(
                    matches!(&e, InputError::NotRegular { found: f, .. } if *f == found),
                    "{e}"
                );
                let message = e.to_string();
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains(kind.what()), "{message}");
            }
        }
        // A symbolic link to a device is the device.
        let link = dir.path().join("key.pem");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            FileKind::Key.read(&link),
            Err(InputError::NotRegular { .. })
        ));
    }

    /// Each kind's limit holds, on the declared size and while reading
    /// (a /proc file declares 0 bytes).
    #[test]
    fn each_kind_is_read_up_to_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let limit = usize::try_from(FileKind::Key.limit()).unwrap();
        std::fs::write(&path, vec![b'a'; limit]).unwrap();
        assert_eq!(FileKind::Key.read(&path).unwrap().len(), limit);
        std::fs::write(&path, vec![b'a'; limit + 1]).unwrap();
        let e = FileKind::Key.read(&path).unwrap_err().to_string();
        assert!(
            e.contains("larger than the 65536 bytes accepted for a key"),
            "{e}"
        );
        // Declares 0 bytes, holds more than 0: read, and bounded.
        let status = FileKind::Key.read(Path::new("/proc/self/status")).unwrap();
        assert!(!status.is_empty());
        let io = FileKind::Key.read_io(&path).unwrap_err();
        assert_eq!(io.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(!io.to_string().contains("key.pem"), "{io}");
    }

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
