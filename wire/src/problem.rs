//! The problem document (RFC 9457) as it travels: every refusal names its
//! rule and, where there is one, the field and the value.

use serde::{Deserialize, Serialize};

/// The prefix of every problem document's `type`; the rule id follows.
pub const TYPE_PREFIX: &str = "urn:robotid:problem:";

/// A refusal or error, as the server writes it and clients read it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProblemDocument {
    /// `urn:robotid:problem:<rule>`. A client reads a document without it
    /// (or without `title`) all the same: the rule is what it acts on.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The HTTP status's reason phrase.
    #[serde(default)]
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What exactly is wrong, with values.
    pub detail: String,
    /// Stable rule id, e.g. `parameter.range`.
    pub rule: String,
    /// The request field concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value found there, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ProblemDocument {
    /// The `type` URI of rule `rule`.
    pub fn type_of(rule: &str) -> String {
        format!("{TYPE_PREFIX}{rule}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_and_value_are_left_out_when_absent_and_read_back_when_present() {
        let mut p = ProblemDocument {
            kind: ProblemDocument::type_of("csr.der"),
            title: "Bad Request".into(),
            status: 400,
            detail: "not DER".into(),
            rule: "csr.der".into(),
            field: None,
            value: None,
        };
        let text = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"type":"urn:robotid:problem:csr.der","title":"Bad Request","status":400,"detail":"not DER","rule":"csr.der"}"#
        );
        p.field = Some("csr".into());
        p.value = Some(String::new());
        let back: ProblemDocument =
            serde_json::from_str(&serde_json::to_string(&p).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, p);
    }
}
