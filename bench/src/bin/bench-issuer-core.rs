//! The issuance core in-process, one core, phase by phase: CSR intake
//! (parse, signature, identity), vetting, prepare (template, precertificate
//! with a placeholder signature, lints) and issue (real signature of the
//! linted TBS, signature check),
//! beside the raw rcgen signing rate measured in the same run.
//!
//! `target/release/bench-issuer-core [N]`

use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use robotid_bench::{count, report, timed};
use robotid_issuer::ceremony::{self, CaConfig};
use robotid_issuer::csr;
use robotid_issuer::signer::SignerConfig;
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_verifier::identity::{
    DateTime, DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rules::ModelRules;

fn identity(serial: usize) -> Result<RobotIdentity, String> {
    let id = RobotId::new("UBX", "WK5", &format!("{serial:08}")).map_err(|e| e.to_string())?;
    Ok(RobotIdentity {
        robot_id: id.as_str().into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "UBX".into(),
            country: "XX".into(),
        },
        model: "WK5".into(),
        production_date: DateTime::new(2026, 11, 20, 0, 0, 0).unwrap_or(DateTime::INFINITY),
        parameters: vec![TechnicalParameter {
            name: "height_mm".into(),
            value: 1650,
            unit: "mm".into(),
        }],
        components: vec![KeyComponent {
            kind: "main-controller".into(),
            part_number: "P-1".into(),
            supplier: "Supplier".into(),
            serial: format!("mc-{serial}"),
            digests: vec![DigestAlgorithm::Sha256.digest(b"fw")],
        }],
    })
}

fn main() -> Result<(), String> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let dir = tempfile::tempdir().map_err(|x| e(&x))?;
    let config = CaConfig {
        name: "Bench".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&dir.path().join("ca"), &config).map_err(|x| e(&x))?;
    let ca = ceremony::load(&dir.path().join("ca")).map_err(|x| e(&x))?;
    let signer = ca
        .into_signer(SignerConfig::new(config.public_url))
        .map_err(|x| e(&x))?;
    let manufacturer = ManufacturerRecord {
        code: "UBX".into(),
        name: "Example".into(),
        country: "CN".into(),
        active: true,
    };
    let rules = ModelRules::from_toml(
        "[parameters.height_mm]\nmin=1\nmax=2000\n[components]\nrequired=[\"main-controller\"]\n",
        "bench",
    )
    .map_err(|x| e(&x))?;
    let model = ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules,
    };
    let key = KeyPair::generate().map_err(|x| e(&x))?;
    let ders: Vec<Vec<u8>> = (0..n)
        .map(|i| csr::create(&identity(i)?, &key).map_err(|x| e(&x)))
        .collect::<Result<_, _>>()?;

    let ca_key = KeyPair::generate().map_err(|x| e(&x))?;
    let issuer = Issuer::new(CertificateParams::default(), ca_key);
    let (_, secs) = timed(|| {
        for i in 0..n {
            let mut p = CertificateParams::default();
            p.distinguished_name
                .push(DnType::CommonName, format!("robot {i}"));
            let _ = p.signed_by(&key, &issuer);
        }
    });
    let baseline = count(n) / secs;
    println!("N = {n}, one core");
    report("baseline: rcgen sign a P-256 leaf", baseline, baseline);

    let (verified, secs) = timed(|| {
        ders.iter()
            .filter_map(|d| csr::verify(d).ok())
            .collect::<Vec<_>>()
    });
    report(
        "CSR intake: parse, verify signature, decode identity",
        count(n) / secs,
        baseline,
    );
    let (vetted, secs) = timed(|| {
        verified
            .iter()
            .filter_map(|v| vetting::vet(v, &manufacturer, Some(&model)).ok())
            .collect::<Vec<_>>()
    });
    report(
        "vetting against the registry facts",
        count(n) / secs,
        baseline,
    );
    let now = time::OffsetDateTime::now_utc();
    let (prepared, secs) = timed(|| {
        vetted
            .iter()
            .filter_map(|v| signer.prepare(v, now).ok())
            .collect::<Vec<_>>()
    });
    report(
        "prepare: template, precertificate, lints",
        count(n) / secs,
        baseline,
    );
    let (issued, secs) = timed(|| {
        prepared
            .into_iter()
            .filter_map(|p| signer.issue(p).ok())
            .count()
    });
    report(
        "issue: CA signs the linted TBS, signature check",
        count(n) / secs,
        baseline,
    );
    if issued != n {
        return Err(format!("issued {issued} of {n}"));
    }
    Ok(())
}
