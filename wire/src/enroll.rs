//! Enrollment: `POST /api/v1/enroll` (one CSR, sent as
//! `application/pkcs10`, answered by [`CertificateResponse`]) and
//! `POST /api/v1/enroll/batch` ([`BatchRequest`], [`BatchResponse`]).

use serde::{Deserialize, Serialize};

use crate::ProblemDocument;

/// A certificate in a response.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateResponse {
    /// `issued` (by this request) or `existing` (the identical CSR was
    /// answered before: the same certificate).
    pub status: String,
    /// Serial, hex.
    pub serial: String,
    /// Robot ID.
    pub robot_id: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The chain above it (issuing CA), PEM.
    pub chain_pem: String,
}

/// The body of a batch request.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// CSRs, PEM.
    pub csrs: Vec<String>,
    /// A declared re-issue for every robot in the batch.
    #[serde(default)]
    pub reissue: bool,
}

/// One item's result in a batch. `P` is the refusal: the server keeps its
/// own problem type (which serializes as a [`ProblemDocument`]); clients
/// read the document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
pub struct BatchItem<P = ProblemDocument> {
    /// Position in the request.
    pub index: usize,
    /// The certificate, when issued or existing.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<BatchCertificate>,
    /// The refusal, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<P>,
}

/// A certificate in a batch result (the chain is given once per batch).
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchCertificate {
    /// `issued` or `existing`.
    pub status: String,
    /// Serial, hex.
    pub serial: String,
    /// Robot ID.
    pub robot_id: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// The answer to a batch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
pub struct BatchResponse<P = ProblemDocument> {
    /// Certificates issued by this request.
    pub issued: usize,
    /// Certificates issued before for identical CSRs.
    pub existing: usize,
    /// Refused CSRs.
    pub refused: usize,
    /// The chain above every certificate (issuing CA), PEM.
    pub chain_pem: String,
    /// One result per CSR, in order.
    pub results: Vec<BatchItem<P>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The certificate's fields stand beside `index` (flattened), and an
    /// item is read back as either a certificate or a refusal.
    #[test]
    fn batch_items_read_back_as_certificate_or_refusal() {
        let text = r#"{"issued":1,"existing":0,"refused":1,"chain_pem":"C","results":[
            {"index":0,"status":"issued","serial":"01","robot_id":"UBX-WK5-1-X","certificate_pem":"P"},
            {"index":1,"problem":{"type":"urn:robotid:problem:csr.der","title":"Bad Request",
             "status":400,"detail":"d","rule":"csr.der"}}]}"#;
        let answer: BatchResponse = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let [first, second] = answer.results.as_slice() else {
            panic!("two results wanted");
        };
        assert_eq!(
            first.certificate.as_ref().map(|c| c.status.as_str()),
            Some("issued")
        );
        assert!(first.problem.is_none());
        assert!(second.certificate.is_none());
        assert_eq!(
            second.problem.as_ref().map(|p| p.rule.as_str()),
            Some("csr.der")
        );
        let again = serde_json::to_value(&answer.results).unwrap_or_default();
        assert_eq!(again[0]["serial"], "01");
        assert!(again[1].get("status").is_none());
    }
}
