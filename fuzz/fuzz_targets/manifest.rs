//! Identity manifests (`robotid csr new`) and measured-components files
//! (`robotid-verify --components`), TOML. Component files are not read
//! from disk: each "file" hashes as its own name, or fails if the name
//! contains "missing". A name the manifest may not reach (absolute, `..`)
//! never gets here.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use robotid_verifier::identity::{ComponentDigest, DigestAlgorithm};
use robotid_verifier::manifest::{self, Manifest};

fn read_file(folder: &Path, name: &Path) -> Result<ComponentDigest, String> {
    assert!(
        name.is_relative() && !name.components().any(|c| c.as_os_str() == ".."),
        "a name the manifest may not reach was read: {}",
        name.display()
    );
    let full = folder.join(name);
    let text = full.to_string_lossy();
    if text.contains("missing") {
        return Err(format!("{text}: not found"));
    }
    Ok(DigestAlgorithm::Sha256.digest(text.as_bytes()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/manifest.toml");
    match Manifest::parse(text, path, &read_file) {
        Ok(m) => {
            let identity = m.to_identity();
            identity
                .validate()
                .and_then(|()| identity.to_der())
                .expect("a loaded manifest gives a valid, encodable identity");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match manifest::parse_components(text, path, &read_file) {
        Ok(list) => {
            let _ = list.len();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
