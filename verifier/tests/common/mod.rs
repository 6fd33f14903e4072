//! Real PKI material for the verifier's tests, made in the test: a CA from
//! the ceremony, robot certificates from the issuance core (or, for the
//! malformed ones the CA would never sign, rcgen with the issuing CA's own
//! key), and CRLs from rcgen signed by that key.

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, dead_code)]

use rcgen::{
    CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SanType, SerialNumber,
};
use robotid_issuer::ceremony::{self, CaConfig};
use robotid_issuer::signer::{Signer, SignerConfig};
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_issuer::{csr, keys};
use robotid_verifier::crl::Crl;
use robotid_verifier::identity::{
    DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use robotid_verifier::inspect::{Inspector, InspectorConfig};
use robotid_verifier::oid;
use robotid_verifier::policy::Policy;
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rules::ModelRules;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The public URL the test CA puts in certificates.
pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// A CA made by the ceremony, and its issuance core.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub root_der: Vec<u8>,
    pub issuing_der: Vec<u8>,
    /// The issuing CA's key, for CRLs and hand-made certificates.
    pub issuer: Issuer<'static, KeyPair>,
    pub signer: Signer<robotid_issuer::key::SoftwareKey>,
}

/// A robot: its certificate and its key.
pub struct Robot {
    pub der: Vec<u8>,
    pub key: KeyPair,
    pub identity: RobotIdentity,
}

impl Robot {
    /// The key as `robotid key new` writes it.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
    /// The serial's content octets.
    pub fn serial(&self) -> Vec<u8> {
        X509Certificate::from_der(&self.der)
            .unwrap()
            .1
            .raw_serial()
            .to_vec()
    }
}

/// The firmware images of the example robot's components.
pub const FIRMWARE: [&[u8]; 3] = [
    b"main controller firmware 1.0",
    b"safety firmware 2.1",
    b"cells",
];

/// A well-formed identity of robot `serial` of model UBX-WK5 with three
/// components and five parameters.
pub fn identity(serial: &str) -> RobotIdentity {
    let id = RobotId::new("UBX", "WK5", serial).unwrap();
    let component =
        |kind: &str, part: &str, supplier: &str, serial: &str, data: &[u8]| KeyComponent {
            kind: kind.into(),
            part_number: part.into(),
            supplier: supplier.into(),
            serial: serial.into(),
            digests: vec![DigestAlgorithm::Sha256.digest(data)],
        };
    let parameter = |name: &str, value: i64, unit: &str| TechnicalParameter {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    RobotIdentity {
        robot_id: id.as_str().into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "UBX".into(),
            country: "XX".into(),
        },
        model: "WK5".into(),
        production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
        parameters: vec![
            parameter("height_mm", 1650, "mm"),
            parameter("mass_g", 58500, "g"),
            parameter("degrees_of_freedom", 41, "1"),
            parameter("payload_g", 15000, "g"),
            parameter("battery_mwh", 960000, "mWh"),
        ],
        components: vec![
            component(
                "main-controller",
                "MC-9000",
                "Example Compute Co.",
                "MC9-1",
                FIRMWARE[0],
            ),
            component(
                "safety-controller",
                "SC-77",
                "Example Safety GmbH",
                "SC77-1",
                FIRMWARE[1],
            ),
            component(
                "battery-pack",
                "BP-48V-20",
                "Example Cells Co.",
                "BP-1",
                FIRMWARE[2],
            ),
        ],
    }
}

pub const RULES: &str = r#"
[parameters.height_mm]
min = 1500
max = 1800
[parameters.mass_g]
min = 40000
max = 80000
[parameters.degrees_of_freedom]
min = 20
max = 60
[parameters.payload_g]
min = 0
max = 25000
[parameters.battery_mwh]
min = 100000
max = 2000000
[components]
required = ["main-controller"]
"#;

pub fn manufacturer() -> ManufacturerRecord {
    ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    }
}

impl Pki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        ceremony::init(
            &ca_dir,
            &CaConfig {
                name: name.into(),
                public_url: PUBLIC_URL.into(),
            },
        )
        .unwrap();
        let signer_ca = ceremony::load(&ca_dir).unwrap();
        let crl_ca = ceremony::load(&ca_dir).unwrap();
        let signer = Signer::new(
            signer_ca.issuing_der.clone(),
            robotid_issuer::key::SoftwareKey::read(
                &ca_dir.join(robotid_issuer::ceremony::files::ISSUING_KEY),
            )
            .unwrap(),
            vec![signer_ca.root_der.clone()],
            SignerConfig::new(PUBLIC_URL),
        )
        .unwrap();
        let issuer = Issuer::from_ca_cert_der(
            &CertificateDer::from(crl_ca.issuing_der.clone()),
            robotid_issuer::keys::read_key(
                &ca_dir.join(robotid_issuer::ceremony::files::ISSUING_KEY),
            )
            .unwrap(),
        )
        .unwrap();
        Self {
            dir,
            root_der: signer_ca.root_der,
            issuing_der: signer_ca.issuing_der,
            issuer,
            signer,
        }
    }

    /// A robot certificate issued by the real issuance core (CSR, vetting,
    /// lint, sign), valid from about now for ten years.
    pub fn issue(&self, identity: &RobotIdentity, alg: KeyAlgorithm) -> Robot {
        let key = keys::generate(alg).unwrap();
        let request = csr::verify(&csr::create(identity, &key).unwrap()).unwrap();
        let model = ModelRecord {
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            rules: ModelRules::from_toml(RULES, "test").unwrap(),
        };
        let vetted = vetting::vet(&request, &manufacturer(), Some(&model)).unwrap();
        let prepared = self
            .signer
            .prepare(&vetted, OffsetDateTime::now_utc())
            .unwrap();
        let issued = self.signer.issue(prepared).unwrap();
        let mut identity = identity.clone();
        identity.manufacturer.name = "Example Robotics Ltd".into();
        identity.manufacturer.country = "CN".into();
        Robot {
            der: issued.der,
            key,
            identity,
        }
    }

    /// A certificate the CA would never issue, signed with the issuing
    /// CA's key by rcgen: the profile's template with `identity` encoded
    /// as given (or no RobotIdentity at all) and `policy_ext` as the
    /// certificatePolicies extension (copied from a real certificate when
    /// `None`).
    pub fn hand_made(
        &self,
        identity: &RobotIdentity,
        with_identity: bool,
        policy_oid: Option<&const_oid::ObjectIdentifier>,
    ) -> Robot {
        self.hand_made_edited(identity, with_identity, policy_oid, |_| {})
    }

    /// The profile's template for `identity`, signed after `edit` changed
    /// its parameters.
    pub fn hand_made_with(
        &self,
        identity: &RobotIdentity,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Robot {
        self.hand_made_edited(identity, true, None, edit)
    }

    fn hand_made_edited(
        &self,
        identity: &RobotIdentity,
        with_identity: bool,
        policy_oid: Option<&const_oid::ObjectIdentifier>,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Robot {
        let template = self.issue(&self::identity("00000001"), KeyAlgorithm::P256);
        let (_, good) = X509Certificate::from_der(&template.der).unwrap();
        let raw = |o: &const_oid::ObjectIdentifier| {
            good.extensions()
                .iter()
                .find(|e| e.oid.as_bytes() == o.as_bytes())
                .unwrap()
                .value
                .to_vec()
        };
        let custom = |o: &const_oid::ObjectIdentifier, content: Vec<u8>| {
            CustomExtension::from_oid_content(&oid::arcs_u64(o), content)
        };
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, identity.manufacturer.country.as_str());
        dn.push(
            DnType::OrganizationName,
            identity.manufacturer.name.as_str(),
        );
        dn.push(
            DnType::CustomDnType(oid::arcs_u64(&oid::ID_AT_SERIAL_NUMBER)),
            identity.robot_id.as_str(),
        );
        dn.push(DnType::CommonName, identity.robot_id.as_str());
        params.distinguished_name = dn;
        params.serial_number = Some(SerialNumber::from_slice(&[0x42; 16]));
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(1);
        params.not_after = now + Duration::days(3652);
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:robotid:{}", identity.robot_id)
                .try_into()
                .unwrap(),
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_ROBOT_IDENTITY)),
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![self.crl_url()],
        }];
        params.use_authority_key_identifier_extension = true;
        let mut policies = raw(&oid::ID_CE_CERTIFICATE_POLICIES);
        if let Some(p) = policy_oid {
            policies = certificate_policies_der(p);
        }
        params.custom_extensions = vec![
            custom(
                &oid::ID_PE_AUTHORITY_INFO_ACCESS,
                raw(&oid::ID_PE_AUTHORITY_INFO_ACCESS),
            ),
            custom(&oid::ID_CE_CERTIFICATE_POLICIES, policies),
        ];
        if with_identity {
            let encoded = robotid_verifier::identity::RobotIdentity::to_der(identity).unwrap();
            params
                .custom_extensions
                .push(custom(&oid::ID_PE_ROBOT_IDENTITY, encoded));
        }
        edit(&mut params);
        let key = keys::generate(KeyAlgorithm::P256).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Robot {
            der: cert.der().to_vec(),
            key,
            identity: identity.clone(),
        }
    }

    /// The CRL distribution point of this CA's robot certificates.
    pub fn crl_url(&self) -> String {
        self.signer.urls().crl.clone()
    }

    /// A CRL of this CA revoking `entries` (serial, reason), valid from
    /// `this_update` to `next_update`, signed with `key` in the issuing
    /// CA's name (the real key when `None`).
    pub fn crl(
        &self,
        entries: &[(Vec<u8>, Option<RevocationReason>)],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        key: Option<KeyPair>,
    ) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(7u64),
            issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![self.crl_url()],
                },
                scope: Some(rcgen::CrlScope::UserCertsOnly),
            }),
            revoked_certs: entries
                .iter()
                .map(|(serial, reason)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: this_update - Duration::hours(1),
                    reason_code: *reason,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        match key {
            None => params.signed_by(&self.issuer).unwrap().der().to_vec(),
            Some(other) => {
                let forger = Issuer::from_ca_cert_der(
                    &CertificateDer::from(self.issuing_der.clone()),
                    other,
                )
                .unwrap();
                params.signed_by(&forger).unwrap().der().to_vec()
            }
        }
    }

    /// A current CRL (issued an hour ago, next update in a day).
    pub fn fresh_crl(&self, entries: &[(Vec<u8>, Option<RevocationReason>)]) -> Vec<u8> {
        let now = OffsetDateTime::now_utc();
        self.crl(
            entries,
            now - Duration::hours(1),
            now + Duration::days(1),
            None,
        )
    }

    /// An inspector trusting this CA's root, with the issuing CA as chain.
    pub fn inspector(&self, crls: &[Vec<u8>], policy: Option<Policy>, at: i64) -> Inspector {
        Inspector::new(InspectorConfig {
            anchors: vec![CertificateDer::from(self.root_der.clone())],
            intermediates: vec![CertificateDer::from(self.issuing_der.clone())],
            crls: crls
                .iter()
                .enumerate()
                .map(|(i, der)| Crl::from_der(der, &format!("crl-{i}.crl")).unwrap())
                .collect(),
            policy,
            at,
        })
        .unwrap()
    }
}

/// DER of a certificatePolicies extension asserting `policy` only.
pub fn certificate_policies_der(policy: &const_oid::ObjectIdentifier) -> Vec<u8> {
    use der::Encode;
    #[derive(der::Sequence)]
    struct PolicyInformation {
        policy_identifier: const_oid::ObjectIdentifier,
    }
    vec![PolicyInformation {
        policy_identifier: *policy,
    }]
    .to_der()
    .unwrap()
}

/// Now, seconds since the Unix epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A shipped market-entry policy.
pub fn shipped_policy(name: &str) -> Policy {
    Policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../policies/market-entry")
            .join(format!("{name}.toml")),
    )
    .unwrap()
}
