//! DER encoding through `der`'s derive. The wire structs mirror the ASN.1
//! module in docs/profile/robotid.asn1 field for field.

use der::Encode;
use der::asn1::{
    GeneralizedTime, ObjectIdentifier, OctetStringRef, PrintableStringRef, Utf8StringRef,
};

use super::{IdentityError, PROFILE_VERSION, RobotIdentity};

#[derive(der::Sequence)]
struct IdentityWire<'a> {
    #[asn1(default = "default_version")]
    version: i64,
    robot_id: PrintableStringRef<'a>,
    manufacturer: ManufacturerWire<'a>,
    model: PrintableStringRef<'a>,
    production_date: GeneralizedTime,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    parameters: Option<Vec<ParameterWire<'a>>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    components: Vec<ComponentWire<'a>>,
}

fn default_version() -> i64 {
    PROFILE_VERSION
}

#[derive(der::Sequence)]
struct ManufacturerWire<'a> {
    code: PrintableStringRef<'a>,
    name: Utf8StringRef<'a>,
    country: PrintableStringRef<'a>,
}

#[derive(der::Sequence)]
struct ParameterWire<'a> {
    name: Utf8StringRef<'a>,
    value: i64,
    unit: Utf8StringRef<'a>,
}

#[derive(der::Sequence)]
struct ComponentWire<'a> {
    kind: Utf8StringRef<'a>,
    part_number: Utf8StringRef<'a>,
    supplier: Utf8StringRef<'a>,
    serial: Utf8StringRef<'a>,
    digests: Vec<DigestWire<'a>>,
}

#[derive(der::Sequence)]
struct DigestWire<'a> {
    hash_alg: ObjectIdentifier,
    digest: OctetStringRef<'a>,
}

fn field_err(field: impl Into<String>) -> impl FnOnce(der::Error) -> IdentityError {
    let field = field.into();
    move |source| IdentityError::Der { field, source }
}

fn printable<'a>(field: &str, value: &'a str) -> Result<PrintableStringRef<'a>, IdentityError> {
    PrintableStringRef::new(value).map_err(|_| IdentityError::Invalid {
        field: field.into(),
        rule: format!(
            "{value:?} has characters outside PrintableString (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)"
        ),
    })
}

fn utf8<'a>(field: impl Into<String>, value: &'a str) -> Result<Utf8StringRef<'a>, IdentityError> {
    Utf8StringRef::new(value).map_err(field_err(field))
}

pub(super) fn to_der(id: &RobotIdentity) -> Result<Vec<u8>, IdentityError> {
    let parameters = id
        .parameters
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(ParameterWire {
                name: utf8(format!("parameters[{i}].name"), &p.name)?,
                value: p.value,
                unit: utf8(format!("parameters[{i}].unit"), &p.unit)?,
            })
        })
        .collect::<Result<Vec<_>, IdentityError>>()?;
    let components = id
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let digests = c
                .digests
                .iter()
                .enumerate()
                .map(|(j, d)| {
                    Ok(DigestWire {
                        hash_alg: d.algorithm.oid(),
                        digest: OctetStringRef::new(&d.value)
                            .map_err(field_err(format!("components[{i}].digests[{j}]")))?,
                    })
                })
                .collect::<Result<Vec<_>, IdentityError>>()?;
            Ok(ComponentWire {
                kind: utf8(format!("components[{i}].kind"), &c.kind)?,
                part_number: utf8(format!("components[{i}].partNumber"), &c.part_number)?,
                supplier: utf8(format!("components[{i}].supplier"), &c.supplier)?,
                serial: utf8(format!("components[{i}].serial"), &c.serial)?,
                digests,
            })
        })
        .collect::<Result<Vec<_>, IdentityError>>()?;
    let wire = IdentityWire {
        version: PROFILE_VERSION,
        robot_id: printable("robotId", &id.robot_id)?,
        manufacturer: ManufacturerWire {
            code: printable("manufacturer.code", &id.manufacturer.code)?,
            name: utf8("manufacturer.name", &id.manufacturer.name)?,
            country: printable("manufacturer.country", &id.manufacturer.country)?,
        },
        model: printable("model", &id.model)?,
        production_date: GeneralizedTime::from_date_time(id.production_date),
        parameters: (!parameters.is_empty()).then_some(parameters),
        components,
    };
    wire.to_der().map_err(field_err("RobotIdentity"))
}
