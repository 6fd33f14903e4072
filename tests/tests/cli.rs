//! The `robotid` command line, run as a user would: the happy path from a
//! fresh folder to a CA and a robot's CSR, and every kind of bad input
//! answered with exit code 2 (or 1 for a refusal), a message naming the
//! file, field and rule, and nothing written.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use robotid_tests::{robotid, run_in, tempdir, tool_available};

const MANIFEST: &str = r#"robot_id = "UBX-WK5-00001234-I"
model = "WK5"
production_date = "2026-11-20"

[parameters]
height_mm = 1650
mass_g = 58500

[[components]]
kind = "main-controller"
part_number = "MC-9000"
supplier = "Example Compute Co."
serial = "MC9-2026-000812"
files = ["firmware/main-controller.bin"]

[[components]]
kind = "battery-pack"
part_number = "BP-1"
supplier = "Cells Inc."
serial = "BP-0001"
digests = ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
"#;

/// The manifest and the firmware file it names.
fn manifest_folder(dir: &Path) {
    std::fs::create_dir_all(dir.join("firmware")).unwrap();
    std::fs::write(dir.join("firmware/main-controller.bin"), b"firmware v1").unwrap();
    std::fs::write(dir.join("manifest.toml"), MANIFEST).unwrap();
}

/// The manifest, its firmware file and a robot key made by `robotid`.
fn robot_folder(dir: &Path) {
    manifest_folder(dir);
    robotid(dir, &["key", "new", "--out", "robot.key"]).expect_code(0);
}

/// `robotid csr new` from `manifest.toml` and `robot.key` to `robot.csr`.
fn csr_new(dir: &Path) -> robotid_tests::Run {
    robotid(
        dir,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn fresh_folder_to_ca_and_csr() {
    let dir = tempdir();
    let d = dir.path();
    let out = robotid(d, &["ca", "init", "--dir", "ca"]).expect_code(0);
    assert!(out.stdout.contains("root-ca.pem"), "{}", out.stdout);
    let id = robotid(
        d,
        &[
            "id",
            "new",
            "--manufacturer",
            "UBX",
            "--model",
            "WK5",
            "--serial",
            "00001234",
        ],
    )
    .expect_code(0);
    assert_eq!(id.stdout.trim(), "UBX-WK5-00001234-I");
    robot_folder(d);
    robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(0);
    let pem = std::fs::read_to_string(d.join("robot.csr")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    if tool_available("openssl", &["version"]) {
        let v = run_in(
            d,
            "openssl",
            &["req", "-verify", "-noout", "-in", "robot.csr"],
        )
        .expect_code(0);
        assert!(format!("{}{}", v.stdout, v.stderr).contains("verify OK"));
    }
}

#[test]
fn csr_carries_the_manifest_and_the_file_digest() {
    let dir = tempdir();
    let d = dir.path();
    robot_folder(d);
    robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(0);
    let pem = std::fs::read(d.join("robot.csr")).unwrap();
    let der = robotid_issuer::csr::decode_pem_or_der(&pem).unwrap();
    let csr = robotid_issuer::csr::verify(&der).unwrap();
    let id = csr.identity;
    assert_eq!(id.robot_id, "UBX-WK5-00001234-I");
    assert_eq!(id.parameter("height_mm").unwrap().unit, "mm");
    let expected = robotid_verifier::identity::DigestAlgorithm::Sha256.digest(b"firmware v1");
    assert_eq!(id.components[0].digests, vec![expected]);
    assert_eq!(
        id.components[1].digests[0].to_string(),
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
}

#[test]
fn every_key_algorithm() {
    let dir = tempdir();
    let d = dir.path();
    robot_folder(d);
    for alg in ["p256", "p384", "ed25519"] {
        let key = format!("{alg}.key");
        let csr = format!("{alg}.csr");
        robotid(d, &["key", "new", "--alg", alg, "--out", &key]).expect_code(0);
        robotid(
            d,
            &[
                "csr",
                "new",
                "--manifest",
                "manifest.toml",
                "--key",
                &key,
                "--out",
                &csr,
            ],
        )
        .expect_code(0);
        if tool_available("openssl", &["version"]) {
            run_in(d, "openssl", &["req", "-verify", "-noout", "-in", &csr]).expect_code(0);
        }
    }
    let e = robotid(d, &["key", "new", "--alg", "rsa2048", "--out", "x.key"]).expect_code(2);
    assert!(e.stderr.contains("p256, p384, ed25519"), "{}", e.stderr);
    assert!(!d.join("x.key").exists());
}

#[test]
fn existing_keys_and_cas_are_never_overwritten() {
    let dir = tempdir();
    let d = dir.path();
    robotid(d, &["key", "new", "--out", "k.key"]).expect_code(0);
    let before = std::fs::read(d.join("k.key")).unwrap();
    let e = robotid(d, &["key", "new", "--out", "k.key"]).expect_code(1);
    assert!(
        e.stderr.contains("k.key") && e.stderr.contains("already exists"),
        "{}",
        e.stderr
    );
    assert_eq!(std::fs::read(d.join("k.key")).unwrap(), before);

    robotid(d, &["ca", "init", "--dir", "ca"]).expect_code(0);
    let before = std::fs::read(d.join("ca/issuing-ca.key")).unwrap();
    let e = robotid(d, &["ca", "init", "--dir", "ca"]).expect_code(1);
    assert!(e.stderr.contains("refusing to overwrite"), "{}", e.stderr);
    assert_eq!(std::fs::read(d.join("ca/issuing-ca.key")).unwrap(), before);
}

#[test]
fn bad_ca_settings_exit_2_and_write_nothing() {
    let dir = tempdir();
    let d = dir.path();
    let e = robotid(
        d,
        &[
            "ca",
            "init",
            "--dir",
            "ca",
            "--public-url",
            "https://ca.example",
        ],
    )
    .expect_code(2);
    assert!(e.stderr.contains("--public-url"), "{}", e.stderr);
    assert!(files_in(d).is_empty(), "{:?}", files_in(d));
}

#[test]
fn bad_robot_ids_exit_2_naming_the_rule() {
    let dir = tempdir();
    let d = dir.path();
    let e = robotid(
        d,
        &[
            "id",
            "new",
            "--manufacturer",
            "ubx",
            "--model",
            "WK5",
            "--serial",
            "1",
        ],
    )
    .expect_code(2);
    assert!(e.stderr.contains("upper case"), "{}", e.stderr);
    let e = robotid(
        d,
        &[
            "id",
            "new",
            "--manufacturer",
            "UBX",
            "--model",
            "WK5",
            "--serial",
            &"9".repeat(25),
        ],
    )
    .expect_code(2);
    assert!(e.stderr.contains("serial"), "{}", e.stderr);
    let ok = robotid(d, &["id", "check", "UBX-WK5-00001234-I"]).expect_code(0);
    assert!(ok.stdout.contains("valid"));
    let bad = robotid(
        d,
        &["id", "check", "UBX-WK5-00001234-I", "UBX-WK5-00001243-I"],
    )
    .expect_code(1);
    assert!(bad.stdout.contains("check character"), "{}", bad.stdout);
}

/// Runs `csr new` on a broken manifest: exit 2, the message contains each
/// of `needles`, and no CSR is written.
fn refused_manifest(manifest: &str, needles: &[&str]) {
    let dir = tempdir();
    let d = dir.path();
    robot_folder(d);
    std::fs::write(d.join("manifest.toml"), manifest).unwrap();
    let e = robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(2);
    for needle in needles {
        assert!(
            e.stderr.contains(needle),
            "missing {needle:?} in: {}",
            e.stderr
        );
    }
    assert!(!d.join("robot.csr").exists());
}

#[test]
fn broken_manifests_exit_2_naming_file_field_and_rule() {
    let m = MANIFEST;
    refused_manifest(
        &m.replace("00001234-I", "00001234-K"),
        &["manifest.toml", "robot_id", "check character"],
    );
    refused_manifest(
        &m.replace("model = \"WK5\"", "model = \"WK6\""),
        &["manifest.toml", "model", "model segment"],
    );
    refused_manifest(
        &m.replace("2026-11-20", "20/11/2026"),
        &["production_date", "YYYY-MM-DD"],
    );
    refused_manifest(
        &m.replace("height_mm", "height_cm"),
        &["parameters.height_cm", "unknown parameter"],
    );
    refused_manifest(
        &m.replace("mass_g = 58500", "mass_g = \"heavy\""),
        &["manifest.toml", "mass_g"],
    );
    refused_manifest(
        &m.replace("firmware/main-controller.bin", "firmware/missing.bin"),
        &["components[0].files[0]", "missing.bin"],
    );
    refused_manifest(
        &m.replace("sha256:9f86", "sha256:zz86"),
        &["components[1].digests[0]", "hexadecimal"],
    );
    refused_manifest(
        &m.replace("sha256:9f86", "md5:9f86"),
        &["components[1].digests[0]", "sha256"],
    );
    refused_manifest(
        &m.replace("supplier = \"Cells Inc.\"\n", ""),
        &["manifest.toml", "supplier"],
    );
    refused_manifest(
        &m.replace(
            "kind = \"main-controller\"",
            "kind = \"main-controller\"\ncolour = \"red\"",
        ),
        &["colour"],
    );
    refused_manifest(
        &m.replace(
            "serial = \"MC9-2026-000812\"",
            &format!("serial = \"{}\"", "x".repeat(200)),
        ),
        &["components[0].serial", "1..=128"],
    );
    refused_manifest(
        "robot_id = \"UBX-WK5-00001234-I\"\nmodel = \"WK5\"\nproduction_date = \"2026-11-20\"\n",
        &["components", "at least one"],
    );
    refused_manifest("this is not toml", &["manifest.toml"]);
}

#[test]
fn unreadable_inputs_exit_2() {
    let dir = tempdir();
    let d = dir.path();
    robot_folder(d);
    let e = robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            "nope.toml",
            "--key",
            "robot.key",
            "--out",
            "r.csr",
        ],
    )
    .expect_code(2);
    assert!(e.stderr.contains("nope.toml"), "{}", e.stderr);
    std::fs::write(d.join("junk.key"), "junk").unwrap();
    let e = robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "junk.key",
            "--out",
            "r.csr",
        ],
    )
    .expect_code(2);
    assert!(e.stderr.contains("junk.key"), "{}", e.stderr);
    assert!(!d.join("r.csr").exists());
    robotid(d, &["csr", "new"]).expect_code(2);
}

#[test]
fn existing_csr_is_replaced_only_with_force() {
    let dir = tempdir();
    let d = dir.path();
    robot_folder(d);
    let args = [
        "csr",
        "new",
        "--manifest",
        "manifest.toml",
        "--key",
        "robot.key",
        "--out",
        "robot.csr",
    ];
    robotid(d, &args).expect_code(0);
    robotid(d, &args).expect_code(1);
    let mut forced = args.to_vec();
    forced.push("--force");
    robotid(d, &forced).expect_code(0);
}

#[test]
fn the_readme_example_manifest_makes_a_csr_the_example_rules_accept() {
    let dir = tempdir();
    let d = dir.path();
    let example = robotid_tests::repo_root().join("examples/wk5");
    let manifest = example.join("manifest.toml").display().to_string();
    robotid(d, &["key", "new", "--out", "robot.key"]).expect_code(0);
    robotid(
        d,
        &[
            "csr",
            "new",
            "--manifest",
            &manifest,
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(0);
    let der = robotid_issuer::csr::decode_pem_or_der(&std::fs::read(d.join("robot.csr")).unwrap())
        .unwrap();
    let csr = robotid_issuer::csr::verify(&der).unwrap();
    let rules = robotid_verifier::rules::ModelRules::load(
        &robotid_tests::repo_root().join("policies/models/example-wk5.toml"),
    )
    .unwrap();
    let manufacturer = robotid_issuer::vetting::ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    };
    let model = robotid_issuer::vetting::ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules,
    };
    robotid_issuer::vetting::vet(&csr, &manufacturer, Some(&model)).unwrap();
}

/// Finding 8 of issue 17: the SEC1 `EC PRIVATE KEY` files `openssl ecparam
/// -genkey` writes (with an `EC PARAMETERS` block first) make a CSR, and
/// so does OpenSSL's PKCS#8 Ed25519 key.
#[test]
fn csr_new_takes_keys_openssl_makes() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    for (what, args) in [
        (
            "sec1 p256",
            vec![
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-out",
                "robot.key",
            ],
        ),
        (
            "sec1 p384",
            vec![
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                "robot.key",
            ],
        ),
        (
            "pkcs8 ed25519",
            vec!["genpkey", "-algorithm", "ed25519", "-out", "robot.key"],
        ),
    ] {
        let dir = tempdir();
        let d = dir.path();
        manifest_folder(d);
        run_in(d, "openssl", &args).expect_code(0);
        let out = csr_new(d);
        assert_eq!(out.code, 0, "{what}: {}{}", out.stdout, out.stderr);
        // OpenSSL checks the CSR's signature with the key's public half.
        let pubkey = run_in(d, "openssl", &["pkey", "-in", "robot.key", "-pubout"]).expect_code(0);
        let csr_key = run_in(
            d,
            "openssl",
            &["req", "-in", "robot.csr", "-verify", "-noout", "-pubkey"],
        )
        .expect_code(0);
        assert!(
            csr_key.stdout.contains(pubkey.stdout.trim()),
            "{what}: {}",
            csr_key.stdout
        );
    }
}

#[test]
fn an_ec_key_without_its_curve_is_refused_with_the_reason() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    manifest_folder(d);
    // `-param_enc explicit` writes the curve's parameters instead of its
    // name; RobotID only takes named curves.
    run_in(
        d,
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-param_enc",
            "explicit",
            "-out",
            "robot.key",
        ],
    )
    .expect_code(0);
    let out = csr_new(d);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("robot.key") && out.stderr.contains("EC PRIVATE KEY"),
        "{}",
        out.stderr
    );
    assert!(!d.join("robot.csr").exists());
}
