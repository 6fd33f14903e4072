//! Identity manifests (`robotid csr new`) and measured-components files
//! (`robotid-verify --components`), TOML. Component files are not read
//! from disk: each "file" reads as its own name, or fails if the name
//! contains "missing".
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use robotid_verifier::manifest::{self, Manifest};

fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let name = path.to_string_lossy();
    if name.contains("missing") {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    Ok(name.into_owned().into_bytes())
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
