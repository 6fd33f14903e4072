//! `robotid submit`: send a robot's CSR, or a production line's folder of
//! CSRs, to the CA and write the certificates with their chain.
//!
//! The answer is checked before it is written (decision 0025): the
//! certificate must chain to the CA the credentials folder trusts
//! (`ca.pem`), and carry the CSR's public key and robot ID. A server that
//! answers garbage, or another robot's certificate, gets nothing written.
//!
//! A batch folder's CSRs are read one by one: a file that cannot be read
//! or is not a CSR is named and counted as refused, and the others are
//! still submitted. DER CSRs are sent as PEM (the batch body is JSON).

use std::path::{Path, PathBuf};

use robotid_issuer::csr::{self, VerifiedCsr};
use robotid_verifier::chain::{Purpose, verify_path};
use robotid_verifier::input::FileKind;
use robotid_verifier::text::terminal;
use robotid_wire::enroll::{BatchRequest, BatchResponse, CertificateResponse};
use rustls_pki_types::CertificateDer;

use crate::cli::Submit;
use crate::client::{Client, TRUST_ANCHORS, describe};
use crate::error::CliError;
use crate::output::write_file;

pub fn run(args: &Submit) -> Result<(), CliError> {
    let credentials = args.server.credentials()?;
    let client = Client::new(&args.server.server, &credentials)?;
    let anchors = robotid_verifier::input::read_certificates(&credentials.join(TRUST_ANCHORS))
        .map_err(|e| CliError::Input(e.to_string()))?;
    match (&args.csr, &args.out, &args.batch, &args.out_dir) {
        (Some(csr), Some(out), None, None) => single(&client, &anchors, csr, out, args.reissue),
        (None, None, Some(dir), Some(out_dir)) => {
            batch(&client, &anchors, dir, out_dir, args.reissue, args.chunk)
        }
        _ => Err(CliError::Input(
            "give either --csr FILE --out FILE, or --batch DIR --out-dir DIR".into(),
        )),
    }
}

/// Why an answer was not written.
fn wrong_answer(server: &str, what: impl std::fmt::Display) -> String {
    format!("the answer of {server} is not the certificate asked for: {what}; nothing written")
}

/// Checks that `certificate_pem` (with `chain_pem` above it) is a robot
/// certificate for `csr`, chaining to `anchors` now.
pub fn check_answer(
    csr: &VerifiedCsr,
    certificate_pem: &str,
    chain_pem: &str,
    anchors: &[CertificateDer<'_>],
) -> Result<(), String> {
    let path = Path::new("answer");
    let certs = robotid_verifier::input::certificates_from(certificate_pem.as_bytes(), path)
        .map_err(|e| e.to_string())?;
    let [leaf] = certs.as_slice() else {
        return Err(format!(
            "{} certificates where one was expected",
            certs.len()
        ));
    };
    let chain = if chain_pem.trim().is_empty() {
        Vec::new()
    } else {
        robotid_verifier::input::certificates_from(chain_pem.as_bytes(), path)
            .map_err(|e| format!("its chain: {e}"))?
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    verify_path(leaf, &chain, anchors, now, Purpose::RobotIdentity)
        .map_err(|e| format!("it does not chain to the CA in {TRUST_ANCHORS}: {e}"))?;
    let robot =
        robotid_verifier::profile::check_robot_certificate(leaf).map_err(|e| e.to_string())?;
    if robot.spki_der != csr.spki_der {
        return Err("its public key is not the CSR's".into());
    }
    if robot.identity.robot_id != csr.identity.robot_id {
        return Err(format!(
            "it is for robot {}, the CSR for {}",
            robot.identity.robot_id, csr.identity.robot_id
        ));
    }
    Ok(())
}

/// The CSR in `bytes` as the CA will read it, to check the answer against.
fn read_csr(bytes: &[u8]) -> Result<VerifiedCsr, csr::CsrError> {
    csr::verify(&csr::decode_pem_or_der(bytes)?)
}

fn single(
    client: &Client,
    anchors: &[CertificateDer<'_>],
    csr_path: &Path,
    out: &Path,
    reissue: bool,
) -> Result<(), CliError> {
    let bytes = FileKind::Csr
        .read(csr_path)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let path = if reissue {
        "/api/v1/enroll?reissue=true"
    } else {
        "/api/v1/enroll"
    };
    let cert: CertificateResponse = client.post_csr(path, bytes.clone())?;
    // The CSR is read after the answer, so a CSR the server refuses is
    // reported by the server's rule; one it accepted must read here too.
    let csr = read_csr(&bytes).map_err(|e| {
        CliError::Refused(wrong_answer(
            client.base(),
            format!("the CSR it certified cannot be read here ({e})"),
        ))
    })?;
    check_answer(&csr, &cert.certificate_pem, &cert.chain_pem, anchors)
        .map_err(|e| CliError::Refused(wrong_answer(client.base(), e)))?;
    write_file(
        out,
        format!("{}{}", cert.certificate_pem, cert.chain_pem).as_bytes(),
        true,
    )?;
    println!(
        "{}",
        terminal(&format!(
            "{} {}: serial {} written to {}",
            cert.robot_id,
            cert.status,
            cert.serial,
            out.display()
        ))
    );
    Ok(())
}

fn csr_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| CliError::Input(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CliError::Input(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "csr") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(CliError::Input(format!(
            "{}: no *.csr files",
            dir.display()
        )));
    }
    Ok(files)
}

/// A batch file as the JSON body carries it: PEM text (DER converted).
fn batch_text(path: &Path) -> Result<(String, VerifiedCsr), String> {
    let bytes = FileKind::Csr.read(path).map_err(|e| e.to_string())?;
    let csr = read_csr(&bytes).map_err(|e| format!("{}: {e} ({})", path.display(), e.rule()))?;
    Ok((
        robotid_issuer::pem::encode("CERTIFICATE REQUEST", &csr.der),
        csr,
    ))
}

fn batch(
    client: &Client,
    anchors: &[CertificateDer<'_>],
    dir: &Path,
    out_dir: &Path,
    reissue: bool,
    chunk: usize,
) -> Result<(), CliError> {
    let files = csr_files(dir)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| CliError::Input(format!("{}: {e}", out_dir.display())))?;
    let bar = indicatif::ProgressBar::new(u64::try_from(files.len()).unwrap_or(u64::MAX));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} CSRs {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut issued, mut existing, mut refused, mut unreadable) = (0usize, 0usize, 0usize, 0usize);
    let report = |bar: &indicatif::ProgressBar, line: String| {
        bar.suspend(|| eprintln!("{}", terminal(&line)));
    };
    for group in files.chunks(chunk.clamp(1, 10_000)) {
        // Each file on its own: one that cannot be read or is not a CSR is
        // named, and the rest are submitted.
        let mut sent: Vec<(&PathBuf, VerifiedCsr)> = Vec::with_capacity(group.len());
        let mut csrs = Vec::with_capacity(group.len());
        for path in group {
            match batch_text(path) {
                Ok((text, csr)) => {
                    csrs.push(text);
                    sent.push((path, csr));
                }
                Err(e) => {
                    unreadable += 1;
                    report(&bar, e);
                    bar.inc(1);
                }
            }
        }
        if csrs.is_empty() {
            continue;
        }
        let body = BatchRequest { csrs, reissue };
        let response: BatchResponse = client.post_json("/api/v1/enroll/batch", &body)?;
        for item in response.results {
            let (source, csr) = sent.get(item.index).ok_or_else(|| {
                CliError::Refused("the server answered for a CSR it was not sent".into())
            })?;
            let stem = source
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match (item.certificate, item.problem) {
                (Some(certificate), _) => {
                    if let Err(e) = check_answer(
                        csr,
                        &certificate.certificate_pem,
                        &response.chain_pem,
                        anchors,
                    ) {
                        return Err(CliError::Refused(format!(
                            "{}: {}",
                            source.display(),
                            wrong_answer(client.base(), e)
                        )));
                    }
                    if certificate.status == "existing" {
                        existing += 1;
                    } else {
                        issued += 1;
                    }
                    let out = out_dir.join(format!("{stem}.pem"));
                    write_file(
                        &out,
                        format!("{}{}", certificate.certificate_pem, response.chain_pem).as_bytes(),
                        true,
                    )?;
                }
                (None, Some(problem)) => {
                    refused += 1;
                    report(
                        &bar,
                        format!("{}: {}", source.display(), describe(&problem)),
                    );
                }
                (None, None) => {
                    return Err(CliError::Refused(format!(
                        "{}: the server gave no result",
                        source.display()
                    )));
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    println!(
        "{}",
        terminal(&format!(
            "{} CSRs: {issued} issued, {existing} already issued (same certificate), {refused} refused, {unreadable} unreadable or not a CSR; certificates in {}",
            files.len(),
            out_dir.display()
        ))
    );
    if refused + unreadable > 0 {
        return Err(CliError::Refused(format!(
            "{} of {} CSRs were not certified (see above)",
            refused + unreadable,
            files.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use robotid_issuer::ceremony::{self, CaConfig};
    use robotid_issuer::signer::SignerConfig;
    use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
    use robotid_verifier::identity::{DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity};
    use robotid_verifier::robot_id::RobotId;
    use robotid_verifier::rules::ModelRules;

    use super::*;

    fn identity(serial: &str) -> RobotIdentity {
        RobotIdentity {
            robot_id: RobotId::new("UBX", "WK5", serial).unwrap().to_string(),
            manufacturer: Manufacturer {
                code: "UBX".into(),
                name: "UBX".into(),
                country: "XX".into(),
            },
            model: "WK5".into(),
            production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
            parameters: vec![],
            components: vec![KeyComponent {
                kind: "main-controller".into(),
                part_number: "MC-9000".into(),
                supplier: "Example Compute Co.".into(),
                serial: "MC9-2026-000812".into(),
                digests: vec![DigestAlgorithm::Sha256.digest(b"firmware")],
            }],
        }
    }

    /// A CA (root PEM, and a signer) in `dir`.
    fn ca(dir: &Path, name: &str) -> (String, robotid_issuer::signer::Signer) {
        let config = CaConfig {
            name: name.into(),
            public_url: "http://127.0.0.1:8080".into(),
        };
        let ca_dir = dir.join(name);
        ceremony::init(&ca_dir, &config).unwrap();
        let loaded = ceremony::load(&ca_dir).unwrap();
        let root = robotid_issuer::pem::encode("CERTIFICATE", &loaded.root_der);
        (
            root,
            loaded
                .into_signer(SignerConfig::new(config.public_url))
                .unwrap(),
        )
    }

    /// A CSR and its certificate (PEM) and chain from `signer`.
    fn issue(
        signer: &robotid_issuer::signer::Signer,
        serial: &str,
    ) -> (VerifiedCsr, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = csr::verify(&csr::create(&identity(serial), &key).unwrap()).unwrap();
        let manufacturer = ManufacturerRecord {
            code: "UBX".into(),
            name: "Example Robotics Ltd".into(),
            country: "CN".into(),
            active: true,
        };
        let model = ModelRecord {
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            rules: ModelRules::from_toml("[components]\nrequired = [\"main-controller\"]\n", "t")
                .unwrap(),
        };
        let vetted = vetting::vet(&csr, &manufacturer, Some(&model)).unwrap();
        let prepared = signer
            .prepare(&vetted, time::OffsetDateTime::now_utc())
            .unwrap();
        let issued = signer.issue(prepared).unwrap();
        (
            csr,
            robotid_issuer::pem::encode("CERTIFICATE", &issued.der),
            robotid_issuer::pem::encode("CERTIFICATE", signer.issuer_der()),
        )
    }

    fn anchors(pem: &str) -> Vec<CertificateDer<'static>> {
        robotid_verifier::input::certificates_from(pem.as_bytes(), Path::new("ca.pem")).unwrap()
    }

    /// A server's answer is written only if it is the certificate asked
    /// for: garbage, another robot's certificate, a certificate for
    /// another key or from another CA are refused (they were written and
    /// `robotid submit` exited 0).
    #[test]
    fn only_the_certificate_asked_for_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let (root, signer) = ca(dir.path(), "Trusted");
        let (other_root, other_signer) = ca(dir.path(), "Other");
        let trusted = anchors(&root);
        let (csr, cert, chain) = issue(&signer, "00000001");
        check_answer(&csr, &cert, &chain, &trusted).unwrap();

        let garbage = check_answer(&csr, "hello", &chain, &trusted).unwrap_err();
        assert!(garbage.contains("holds no certificate"), "{garbage}");

        let (_, cert2, _) = issue(&signer, "00000002");
        let other_robot = check_answer(&csr, &cert2, &chain, &trusted).unwrap_err();
        assert!(
            other_robot.contains("public key is not the CSR's"),
            "{other_robot}"
        );

        // The same robot ID with another key.
        let (_, same_id_other_key, _) = issue(&signer, "00000001");
        let e = check_answer(&csr, &same_id_other_key, &chain, &trusted).unwrap_err();
        assert!(e.contains("public key"), "{e}");

        let (csr3, cert3, chain3) = issue(&other_signer, "00000003");
        check_answer(&csr3, &cert3, &chain3, &anchors(&other_root)).unwrap();
        let foreign = check_answer(&csr3, &cert3, &chain3, &trusted).unwrap_err();
        assert!(foreign.contains("does not chain"), "{foreign}");

        let two = check_answer(&csr, &format!("{cert}{cert}"), &chain, &trusted).unwrap_err();
        assert!(two.contains("2 certificates"), "{two}");
    }
}
