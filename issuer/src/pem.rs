//! PEM armour (RFC 7468) for what RobotID writes.

/// `der` armoured with `label`, e.g. `CERTIFICATE`.
pub fn encode(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der))
}

/// Several certificates, one block each, in order.
pub fn encode_certificates<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> String {
    ders.into_iter()
        .map(|der| encode("CERTIFICATE", der))
        .collect()
}
