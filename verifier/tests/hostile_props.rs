//! Property tests for the hostile-input classes of issue 22, so that the
//! next instance of a class is found here rather than by a reviewer: the
//! text policy and terminal escaping on any text, strict DER for identities
//! and CSRs on any mutation, and bounded reads on any file size.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use proptest::prelude::*;
use robotid_issuer::csr;
use robotid_verifier::identity::RobotIdentity;
use robotid_verifier::input::FileKind;
use robotid_verifier::rule::Rule;
use robotid_verifier::text::{self, TextError};

/// Characters of every refused category, and any character at all.
fn refused_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{9b}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{2028}',
            '\u{2029}',
            '\u{feff}',
            '\u{e000}',
            '\u{f8ff}',
            '\u{378}',
            '\u{fffe}',
            '\u{10ffff}',
            '\u{e0001}',
        ]),
        any::<char>().prop_filter("a refused character", |c| text::refused(*c).is_some()),
    ]
}

fn identity_der(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/testdata/identity/{name}.der.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// One good robot CSR, made once.
fn good_csr() -> &'static [u8] {
    static CSR: OnceLock<Vec<u8>> = OnceLock::new();
    CSR.get_or_init(|| {
        let identity = RobotIdentity::from_der(&identity_der("full")).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        csr::create(&identity, &key).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the text, the terminal sees no refused character, and a
    /// text the policy accepts holds none and is shown as it is.
    #[test]
    fn the_terminal_never_sees_a_refused_character(value in any::<String>()) {
        let shown = text::terminal(&value);
        prop_assert!(!shown.chars().any(|c| text::refused(c).is_some()));
        if text::check(&value).is_ok() {
            prop_assert!(!value.chars().any(|c| text::refused(c).is_some()));
            prop_assert_eq!(shown.as_ref(), value.as_str());
        }
    }

    /// A refused character anywhere in an otherwise good text is refused,
    /// named by code point and position, under `text.character`.
    #[test]
    fn a_refused_character_is_found_wherever_it_is(
        before in "[A-Za-z0-9 .,-]{0,40}",
        bad in refused_char(),
        after in "[A-Za-z0-9 .,-]{0,40}",
    ) {
        let value = format!("{before}{bad}{after}");
        let e = text::check(&value).unwrap_err();
        prop_assert_eq!(e.rule(), Rule::TextCharacter);
        match e {
            TextError::Character { character, position, .. } => {
                prop_assert_eq!(character, bad);
                prop_assert_eq!(position, before.chars().count());
            }
            other => prop_assert!(false, "{other}"),
        }
        prop_assert!(text::check(&value).unwrap_err().to_string().contains(&text::code_point(bad)));
    }

    /// Every text field of an identity goes through the policy: a refused
    /// character in the supplier, anywhere, is refused when encoding.
    #[test]
    fn an_identity_never_encodes_a_refused_character(
        at in 0usize..20,
        bad in refused_char(),
    ) {
        let mut identity = RobotIdentity::from_der(&identity_der("minimal")).unwrap();
        let mut chars: Vec<char> = identity.components[0].supplier.chars().collect();
        chars.insert(at.min(chars.len()), bad);
        identity.components[0].supplier = chars.into_iter().collect();
        prop_assert!(identity.to_der().is_err());
    }

    /// Whatever single change is made to an identity's DER, what the
    /// decoder accepts re-encodes to the very same bytes: BER (a longer
    /// length, a non-minimal integer) is never accepted.
    #[test]
    fn an_accepted_identity_is_der(
        which in 0usize..2,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut der = identity_der(["minimal", "full"][which]);
        let i = at.index(der.len());
        der[i] = byte;
        if let Ok(identity) = RobotIdentity::from_der(&der) {
            prop_assert_eq!(identity.to_der().unwrap(), der);
        }
    }

    /// A length rewritten in long form (BER) anywhere in an identity is
    /// refused.
    #[test]
    fn a_long_form_length_is_refused(at in any::<prop::sample::Index>()) {
        let der = identity_der("full");
        // Short-form lengths: the byte after a tag, below 0x80. Find one at
        // or after the chosen index by walking TLVs would need a parser;
        // instead rewrite every header whose length byte is short, one at
        // a time, starting from the chosen offset.
        let start = at.index(der.len());
        let mut tried = 0;
        for i in start..der.len().saturating_sub(1) {
            let len = der[i + 1];
            let tag = der[i];
            // Universal or context tags the identity uses.
            if len >= 0x80 || !matches!(tag, 0x02 | 0x04 | 0x06 | 0x0c | 0x13 | 0x18 | 0x30 | 0xa0 | 0xa1) {
                continue;
            }
            let mut ber = der[..=i].to_vec();
            ber.extend([0x81, len]);
            ber.extend_from_slice(&der[i + 2..]);
            prop_assert!(RobotIdentity::from_der(&ber).is_err(), "accepted BER at {}", i);
            tried += 1;
            if tried == 4 {
                break;
            }
        }
    }

    /// Whatever single change is made to a CSR, an accepted one is DER,
    /// version 1, with one RobotIdentity.
    #[test]
    fn an_accepted_csr_is_der(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        use der::{Decode, Encode};
        let mut der = good_csr().to_vec();
        let i = at.index(der.len());
        der[i] = byte;
        if let Ok(verified) = csr::verify(&der) {
            let again = x509_cert::request::CertReq::from_der(&verified.der)
                .and_then(|r| r.to_der())
                .unwrap();
            prop_assert_eq!(again, der);
        }
    }

    /// Two PEM blocks, whatever text surrounds them, are refused.
    #[test]
    fn two_pem_blocks_are_always_refused(
        before in "[ -~\n]{0,40}",
        between in "[ -~\n]{0,40}",
    ) {
        let block = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", good_csr().to_vec()));
        let text = format!("{before}\n{block}{between}\n{block}");
        let e = csr::decode_pem_or_der(text.as_bytes()).map(|_| ()).unwrap_err();
        prop_assert_eq!(e.rule(), Rule::CsrPem);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A file is read whole if it is within its kind's limit, and refused
    /// by name if it is larger, whatever its size.
    #[test]
    fn files_are_read_up_to_their_limit(extra in -4096i64..4096) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let limit = i64::try_from(FileKind::Key.limit()).unwrap();
        let len = usize::try_from((limit + extra).max(0)).unwrap();
        std::fs::write(&path, vec![b'k'; len]).unwrap();
        match FileKind::Key.read(&path) {
            Ok(bytes) => prop_assert!(extra <= 0 && bytes.len() == len),
            Err(e) => {
                prop_assert!(extra > 0, "{}", e);
                prop_assert!(e.to_string().contains("key.pem"));
            }
        }
    }
}
