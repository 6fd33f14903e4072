//! What the revocation parts' unit tests share: a new CA and an empty
//! SQLite registry, OCSP requests as RFC 5019 clients send them, and the
//! status a response states.

#![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use der::{Decode, Encode};
use robotid_issuer::ceremony::{self, CaConfig};
use robotid_issuer::signer::SignerConfig;
use x509_ocsp::{BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, Request, TbsRequest};

use super::ocsp::IssuerHashes;
use crate::ca::{Ca, CaCertificates};
use crate::store::Store;

/// An authority on a new CA in `dir`/ca and an empty SQLite registry in
/// `dir`; returns it and the CA directory.
pub async fn authority(dir: &Path) -> (Arc<Ca>, PathBuf) {
    let ca_dir = dir.join("ca");
    let config = CaConfig {
        name: "Revocation Test".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(&ca_dir, &config).unwrap();
    let ca = ceremony::load(&ca_dir).unwrap();
    let (issuing_der, root_der) = (ca.issuing_der.clone(), ca.root_der.clone());
    let signer = ca
        .into_signer(SignerConfig::new(config.public_url))
        .unwrap();
    let url = format!("sqlite:{}", dir.join("registry.db").display());
    let store = Store::connect(&url).await.unwrap();
    let authority = Arc::new(Ca {
        signer: Arc::new(signer),
        store,
        certs: CaCertificates {
            name: config.name,
            root_der,
            issuing_der,
            chain_pem: String::new(),
            root_pem: String::new(),
        },
    });
    (authority, ca_dir)
}

/// The OCSP request `openssl ocsp -no_nonce` sends for `serial` (hex),
/// optionally with a nonce.
pub fn request(authority: &Ca, serial: &str, nonce: Option<&[u8]>) -> Vec<u8> {
    use x509_cert::ext::AsExtension;
    let hashes = IssuerHashes::of(authority.signer.issuer_der()).unwrap();
    let id = hashes.canonical_id(&hex::decode(serial).unwrap()).unwrap();
    let request_extensions = nonce.map(|n| {
        let name = x509_cert::name::Name::default();
        vec![
            x509_ocsp::ext::Nonce::new(n)
                .unwrap()
                .to_extension(&name, &[])
                .unwrap(),
        ]
    });
    OcspRequest {
        tbs_request: TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

/// The status the one SingleResponse of a successful response states.
pub fn status(der: &[u8]) -> CertStatus {
    let response = OcspResponse::from_der(der).unwrap();
    let bytes = response.response_bytes.unwrap();
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let [single] = basic.tbs_response_data.responses.as_slice() else {
        panic!("not one SingleResponse");
    };
    single.cert_status
}
