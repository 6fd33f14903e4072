//! The issuance core end to end: ceremony, CSR, vetting, prepare, issue.

// Test helpers unwrap: a panic with the error is the failure report.
#![allow(clippy::unwrap_used)]

use robotid_issuer::ceremony::{self, CaConfig};
use robotid_issuer::credentials::CredentialKind;
use robotid_issuer::csr;
use robotid_issuer::delegated::Purpose;
use robotid_issuer::key::{CaKey, KeyFailure, SoftwareKey};
use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_issuer::signer::{
    CertificateKind, CrlEntry, CrlRequest, IssueError, Signer, SignerConfig,
};
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_verifier::identity::{
    DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use robotid_verifier::profile;
use robotid_verifier::rules::ModelRules;
use time::OffsetDateTime;

fn identity() -> RobotIdentity {
    RobotIdentity {
        robot_id: "UBX-WK5-00001234-I".into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "UBX".into(),
            country: "XX".into(),
        },
        model: "WK5".into(),
        production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
        parameters: vec![TechnicalParameter {
            name: "height_mm".into(),
            value: 1650,
            unit: "mm".into(),
        }],
        components: vec![KeyComponent {
            kind: "main-controller".into(),
            part_number: "MC-9000".into(),
            supplier: "Example Compute Co.".into(),
            serial: "MC9-2026-000812".into(),
            digests: vec![DigestAlgorithm::Sha256.digest(b"firmware")],
        }],
    }
}

fn manufacturer() -> ManufacturerRecord {
    ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    }
}

fn model() -> ModelRecord {
    ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules: ModelRules::from_toml(
            "[parameters.height_mm]\nmin = 1500\nmax = 1800\n[components]\nrequired = [\"main-controller\"]\n",
            "test",
        )
        .unwrap(),
    }
}

struct Ca {
    _dir: tempfile::TempDir,
    signer: Signer,
    root: Vec<u8>,
}

fn ca() -> Ca {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let config = CaConfig {
        name: "Test".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&ca_dir, &config).unwrap();
    let loaded = ceremony::load(&ca_dir).unwrap();
    let root = loaded.root_der.clone();
    let signer = loaded
        .into_signer(SignerConfig::new(config.public_url))
        .unwrap();
    Ca {
        _dir: dir,
        signer,
        root,
    }
}

#[test]
fn issues_a_conforming_certificate_for_each_key_algorithm() {
    let ca = ca();
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = keys::generate(alg).unwrap();
        let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
        assert_eq!(request.key_algorithm, alg);
        let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
        let prepared = ca
            .signer
            .prepare(&vetted, OffsetDateTime::now_utc())
            .unwrap();
        let serial = prepared.serial().to_vec();
        assert_eq!(serial.len(), 16);
        let issued = ca.signer.issue(prepared).unwrap();
        assert_eq!(issued.serial, serial);
        let robot = profile::check_robot_certificate(&issued.der).unwrap();
        // The registry's manufacturer, not the CSR's claim.
        assert_eq!(robot.identity.manufacturer.name, "Example Robotics Ltd");
        assert_eq!(robot.identity.manufacturer.country, "CN");
        assert_eq!(robot.serial, serial);
        assert_eq!(robot.key_algorithm, alg);
        assert_eq!(robot.spki_der, request.spki_der);
        let intermediates = [rustls_pki_types::CertificateDer::from(
            ca.signer.issuer_der(),
        )];
        let anchors = [rustls_pki_types::CertificateDer::from(ca.root.as_slice())];
        let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
        robotid_verifier::chain::verify_path(
            &issued.der,
            &intermediates,
            &anchors,
            now,
            robotid_verifier::chain::Purpose::RobotIdentity,
        )
        .unwrap();
    }
}

#[test]
fn serials_differ() {
    let ca = ca();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let mut serials = std::collections::HashSet::new();
    for _ in 0..50 {
        let p = ca
            .signer
            .prepare(&vetted, OffsetDateTime::now_utc())
            .unwrap();
        assert!(serials.insert(p.serial().to_vec()));
    }
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let (a, b) = (ca(), ca());
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let prepared = a
        .signer
        .prepare(&vetted, OffsetDateTime::now_utc())
        .unwrap();
    assert!(matches!(
        b.signer.issue(prepared),
        Err(IssueError::WrongIssuer { .. })
    ));
}

#[test]
fn validity_beyond_the_issuer_is_refused() {
    let ca = ca();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let later = OffsetDateTime::now_utc() + time::Duration::days(6 * 365);
    assert!(matches!(
        ca.signer.prepare(&vetted, later),
        Err(IssueError::Validity { .. })
    ));
}

#[test]
fn a_broken_csr_signature_is_refused() {
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let mut der = csr::create(&identity(), &key).unwrap();
    let last = der.len() - 3;
    der[last] ^= 0x55;
    let e = csr::verify(&der).unwrap_err();
    assert_eq!(e.rule(), "csr.signature", "{e}");
}

#[test]
fn vetting_refusals_name_rule_and_field() {
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = |id: RobotIdentity| csr::verify(&csr::create(&id, &key).unwrap()).unwrap();
    let refuse = |id: RobotIdentity, m: ManufacturerRecord, model: Option<ModelRecord>| {
        vetting::vet(&request(id), &m, model.as_ref()).unwrap_err()
    };
    let inactive = ManufacturerRecord {
        active: false,
        ..manufacturer()
    };
    assert_eq!(
        refuse(identity(), inactive, Some(model())).rule,
        "manufacturer.active"
    );
    let other = ManufacturerRecord {
        code: "ACME".into(),
        ..manufacturer()
    };
    assert_eq!(
        refuse(identity(), other, Some(model())).rule,
        "robot_id.manufacturer"
    );
    assert_eq!(
        refuse(identity(), manufacturer(), None).rule,
        "model.approved"
    );

    let mut tall = identity();
    tall.parameters[0].value = 2500;
    let r = refuse(tall, manufacturer(), Some(model()));
    assert_eq!(
        (r.rule.as_str(), r.field.as_str(), r.value.as_str()),
        ("parameter.range", "parameters.height_mm", "2500")
    );

    let mut extra = identity();
    extra.parameters.push(TechnicalParameter {
        name: "mass_g".into(),
        value: 1,
        unit: "g".into(),
    });
    assert_eq!(
        refuse(extra, manufacturer(), Some(model())).rule,
        "parameter.approved"
    );

    let mut none = identity();
    none.parameters.clear();
    assert_eq!(
        refuse(none, manufacturer(), Some(model())).rule,
        "parameter.required"
    );

    let mut no_controller = identity();
    no_controller.components[0].kind = "battery-pack".into();
    let r = refuse(no_controller, manufacturer(), Some(model()));
    assert_eq!(
        (r.rule.as_str(), r.value.as_str()),
        ("component.required", "main-controller")
    );

    let mut bad_check = identity();
    bad_check.robot_id = "UBX-WK5-00001234-K".into();
    assert_eq!(
        refuse(bad_check, manufacturer(), Some(model())).rule,
        "robot_id.format"
    );
}

#[test]
fn ceremony_refuses_an_existing_ca_and_keeps_keys_private() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let config = CaConfig {
        name: "Test".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&ca_dir, &config).unwrap();
    let before = std::fs::read(ca_dir.join(ceremony::files::ISSUING_KEY)).unwrap();
    assert!(matches!(
        ceremony::init(&ca_dir, &config),
        Err(ceremony::CeremonyError::Exists(_))
    ));
    assert_eq!(
        std::fs::read(ca_dir.join(ceremony::files::ISSUING_KEY)).unwrap(),
        before
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            ceremony::files::ROOT_KEY,
            ceremony::files::ISSUING_KEY,
            ceremony::files::OCSP_KEY,
        ] {
            let mode = std::fs::metadata(ca_dir.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        let mode = std::fs::metadata(&ca_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // Nothing but the CA folder was left beside it.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn bad_settings_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    for (name, url) in [
        ("", "http://x"),
        ("Test", "https://x"),
        ("Test", "http://x/"),
        ("Test", "ftp://x"),
    ] {
        let config = CaConfig {
            name: name.into(),
            public_url: url.into(),
        };
        assert!(ceremony::init(&ca_dir, &config).is_err());
        assert!(!ca_dir.exists());
    }
}

#[test]
fn an_issuing_ca_outside_the_anchors_is_refused() {
    let loaded_dir = tempfile::tempdir().unwrap();
    let config = CaConfig {
        name: "Other".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&loaded_dir.path().join("ca"), &config).unwrap();
    let other = ceremony::load(&loaded_dir.path().join("ca")).unwrap();
    let refused = Signer::new(
        other.issuing_der,
        SoftwareKey::read(
            &loaded_dir
                .path()
                .join("ca")
                .join(ceremony::files::ISSUING_KEY),
        )
        .unwrap(),
        vec![ca().root],
        SignerConfig::new("http://x"),
    );
    assert!(matches!(refused, Err(IssueError::IssuerCertificate(_))));
}

/// The issuing key with a signing fault: it signs, but one bit of every
/// signature is wrong.
struct FaultyKey(SoftwareKey);

impl CaKey for FaultyKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.0.algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        self.0.public_key_der()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        let mut signature = self.0.sign(msg)?;
        if let Some(last) = signature.last_mut() {
            *last ^= 1;
        }
        Ok(signature)
    }
}

#[test]
fn a_faulty_signature_is_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let config = CaConfig {
        name: "Faulty".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&dir.path().join("ca"), &config).unwrap();
    let loaded = ceremony::load(&dir.path().join("ca")).unwrap();
    let signer = Signer::new(
        loaded.issuing_der,
        FaultyKey(
            SoftwareKey::read(&dir.path().join("ca").join(ceremony::files::ISSUING_KEY)).unwrap(),
        ),
        vec![loaded.root_der],
        SignerConfig::new(config.public_url),
    )
    .unwrap();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let prepared = signer.prepare(&vetted, OffsetDateTime::now_utc()).unwrap();
    assert!(matches!(
        signer.issue(prepared),
        Err(IssueError::FinalCheck(_))
    ));
}

#[test]
fn the_certificate_is_the_linted_tbs_signed_by_the_issuing_ca() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let ca = ca();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let issued = ca
        .signer
        .issue(
            ca.signer
                .prepare(&vetted, OffsetDateTime::now_utc())
                .unwrap(),
        )
        .unwrap();
    let (rest, cert) = X509Certificate::from_der(&issued.der).unwrap();
    assert!(rest.is_empty());
    let (_, issuer) = X509Certificate::from_der(ca.signer.issuer_der()).unwrap();
    cert.verify_signature(Some(issuer.public_key())).unwrap();
    assert_eq!(cert.signature_algorithm, cert.tbs_certificate.signature);
    // DER as rcgen writes it: re-encoding the parsed parts gives the same bytes.
    let reparsed = <x509_cert::Certificate as der::Decode>::from_der(&issued.der).unwrap();
    assert_eq!(der::Encode::to_der(&reparsed).unwrap(), issued.der);
}

/// Every service certificate comes from the issuer's template for its kind,
/// is recorded under that kind, and is signed by the issuing CA.
#[test]
fn credentials_and_delegated_signers_are_prepared_linted_and_issued() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let ca = ca();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    let now = OffsetDateTime::now_utc();
    let credentials = [
        (
            CredentialKind::Operator {
                name: "operator".into(),
            },
            CertificateKind::Operator,
        ),
        (
            CredentialKind::Manufacturer {
                code: "UBX".into(),
                name: "Example".into(),
            },
            CertificateKind::Manufacturer,
        ),
        (
            CredentialKind::Server {
                hosts: vec!["localhost".into(), "127.0.0.1".into()],
            },
            CertificateKind::TlsServer,
        ),
    ];
    let mut prepared = Vec::new();
    for (kind, expected) in credentials {
        let p = ca
            .signer
            .prepare_credential(&kind, "Test", &spki, now)
            .unwrap();
        assert_eq!(p.kind(), expected);
        prepared.push(p);
    }
    for (purpose, expected) in [
        (Purpose::Ocsp, CertificateKind::OcspSigner),
        (Purpose::Lifecycle, CertificateKind::LifecycleSigner),
    ] {
        let p = ca
            .signer
            .prepare_delegated(purpose, "Test", &spki, now)
            .unwrap();
        assert_eq!(p.kind(), expected);
        assert_eq!(p.subject(), format!("Test {}", purpose.title()));
        prepared.push(p);
    }
    let (_, issuer) = X509Certificate::from_der(ca.signer.issuer_der()).unwrap();
    for p in prepared {
        let (serial, not_after) = (p.serial().to_vec(), p.not_after());
        let issued = ca.signer.issue(p).unwrap();
        let (_, cert) = X509Certificate::from_der(&issued.der).unwrap();
        cert.verify_signature(Some(issuer.public_key())).unwrap();
        assert_eq!(cert.raw_serial(), serial.as_slice());
        assert_eq!(
            cert.validity().not_after.timestamp(),
            not_after.unix_timestamp()
        );
        assert_eq!(cert.public_key().raw, spki.as_slice());
    }
}

#[test]
fn a_crl_is_linted_then_signed_by_the_issuing_ca() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let ca = ca();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let der = ca
        .signer
        .sign_crl(CrlRequest {
            number: 7,
            this_update: now,
            next_update: now + time::Duration::hours(1),
            entries: vec![CrlEntry {
                serial: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
                revoked_at: now,
                reason: Some(1),
            }],
        })
        .unwrap();
    let (rest, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    assert!(rest.is_empty());
    let (_, issuer) = X509Certificate::from_der(ca.signer.issuer_der()).unwrap();
    crl.verify_signature(issuer.public_key()).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 1);
}

/// A key that cannot be reached fails the issue with an error, not a panic.
struct AbsentToken(SoftwareKey);

impl CaKey for AbsentToken {
    fn algorithm(&self) -> KeyAlgorithm {
        self.0.algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        self.0.public_key_der()
    }
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        Err(KeyFailure::Unavailable("token absent".into()))
    }
}

#[test]
fn an_unavailable_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = CaConfig {
        name: "Absent".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&dir.path().join("ca"), &config).unwrap();
    let loaded = ceremony::load(&dir.path().join("ca")).unwrap();
    let signer = Signer::new(
        loaded.issuing_der,
        AbsentToken(
            SoftwareKey::read(&dir.path().join("ca").join(ceremony::files::ISSUING_KEY)).unwrap(),
        ),
        vec![loaded.root_der],
        SignerConfig::new(config.public_url),
    )
    .unwrap();
    let key = keys::generate(KeyAlgorithm::P256).unwrap();
    let request = csr::verify(&csr::create(&identity(), &key).unwrap()).unwrap();
    let vetted = vetting::vet(&request, &manufacturer(), Some(&model())).unwrap();
    let prepared = signer.prepare(&vetted, OffsetDateTime::now_utc()).unwrap();
    assert!(matches!(
        signer.issue(prepared),
        Err(IssueError::Key(KeyFailure::Unavailable(_)))
    ));
}
