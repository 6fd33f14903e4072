//! Strict DER decoding that knows, at every step, which field it is in.
//!
//! `der`'s derived decoder reports only a byte offset; an inspector needs the
//! field. So this walks the structure with `der`'s own reader and primitive
//! decoders, keeping the current field's path beside it.

use der::asn1::{
    GeneralizedTime, ObjectIdentifier, OctetStringRef, PrintableStringRef, Utf8StringRef,
};
use der::{Decode, ErrorKind, Header, Reader, SliceReader, Tag, TagNumber};

use super::{
    ComponentDigest, DigestAlgorithm, IdentityError, KeyComponent, Manufacturer, PROFILE_VERSION,
    RobotIdentity, TechnicalParameter,
};

/// The field being decoded, and a profile error found on the way (the
/// reader's closures can only return `der::Error`, so it waits here).
struct Ctx {
    at: String,
    problem: Option<IdentityError>,
}

impl Ctx {
    fn enter(&mut self, path: impl Into<String>) {
        self.at = path.into();
    }

    /// Records a profile error and aborts the walk.
    fn refuse(&mut self, problem: IdentityError) -> der::Error {
        self.problem = Some(problem);
        der::Error::from(ErrorKind::Failed)
    }
}

pub(super) fn from_der(bytes: &[u8]) -> Result<RobotIdentity, IdentityError> {
    let mut ctx = Ctx {
        at: "RobotIdentity".into(),
        problem: None,
    };
    let walked = SliceReader::new(bytes).and_then(|mut reader| {
        let identity = reader.sequence(|r| identity(r, &mut ctx))?;
        Ok((identity, reader.remaining_len()))
    });
    match walked {
        Ok((identity, rest)) if rest.is_zero() => Ok(identity),
        Ok((_, rest)) => Err(IdentityError::TrailingData {
            field: "RobotIdentity".into(),
            bytes: u32::from(rest),
        }),
        Err(source) => Err(ctx.problem.take().unwrap_or(IdentityError::Der {
            field: ctx.at,
            source,
        })),
    }
}

fn field<'r, T: Decode<'r>>(
    r: &mut impl Reader<'r>,
    ctx: &mut Ctx,
    path: impl Into<String>,
) -> der::Result<T> {
    ctx.enter(path);
    r.decode()
}

fn printable<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: &str) -> der::Result<String> {
    Ok(field::<PrintableStringRef<'r>>(r, ctx, path)?.to_string())
}

fn utf8<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: String) -> der::Result<String> {
    Ok(field::<Utf8StringRef<'r>>(r, ctx, path)?
        .as_str()
        .to_owned())
}

fn identity<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<RobotIdentity> {
    version(r, ctx)?;
    let robot_id = printable(r, ctx, "robotId")?;
    ctx.enter("manufacturer");
    let manufacturer = r.sequence(|r| manufacturer(r, ctx))?;
    let model = printable(r, ctx, "model")?;
    let production_date = field::<GeneralizedTime>(r, ctx, "productionDate")?.to_date_time();
    let parameters = match tagged(r, ctx, "parameters", TagNumber::N0, true)? {
        Some(header) => r.read_nested(header.length, |r| {
            list(r, ctx, "parameters", |r, c, p| parameter(r, c, p))
        })?,
        None => Vec::new(),
    };
    let components = match tagged(r, ctx, "components", TagNumber::N1, false)? {
        Some(header) => r.read_nested(header.length, |r| {
            list(r, ctx, "components", |r, c, p| component(r, c, p))
        })?,
        None => Vec::new(),
    };
    ctx.enter("RobotIdentity");
    Ok(RobotIdentity {
        robot_id,
        manufacturer,
        model,
        production_date,
        parameters,
        components,
    })
}

/// `version INTEGER DEFAULT 0`: DER omits the default, so a present version
/// is either a non-canonical 0 or a version this code does not know.
fn version<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<()> {
    ctx.enter("version");
    if r.peek_tag()? != Tag::Integer {
        return Ok(());
    }
    let found: i64 = r.decode()?;
    Err(ctx.refuse(if found == PROFILE_VERSION {
        IdentityError::Invalid {
            field: "version".into(),
            rule: "the DEFAULT value 0 must be omitted in DER".into(),
        }
    } else {
        IdentityError::UnknownVersion { found }
    }))
}

/// An IMPLICIT `[n]` SEQUENCE OF: its header if present; absent is an
/// error unless `optional`.
fn tagged<'r>(
    r: &mut impl Reader<'r>,
    ctx: &mut Ctx,
    path: &str,
    number: TagNumber,
    optional: bool,
) -> der::Result<Option<Header>> {
    ctx.enter(path);
    let expected = Tag::ContextSpecific {
        constructed: true,
        number,
    };
    let present = !r.is_finished() && r.peek_tag()? == expected;
    if !present && optional {
        return Ok(None);
    }
    let header = Header::decode(r)?;
    header.tag.assert_eq(expected)?;
    Ok(Some(header))
}

/// The entries of a SEQUENCE OF whose header has been read, each decoded by
/// `entry` as a SEQUENCE at path `name[i]`.
fn list<'r, R: Reader<'r>, T>(
    r: &mut R,
    ctx: &mut Ctx,
    name: &str,
    mut entry: impl FnMut(&mut der::NestedReader<'_, R>, &mut Ctx, &str) -> der::Result<T>,
) -> der::Result<Vec<T>> {
    let mut out = Vec::new();
    while !r.is_finished() {
        let path = format!("{name}[{}]", out.len());
        ctx.enter(path.as_str());
        out.push(r.sequence(|r| entry(r, ctx, &path))?);
    }
    ctx.enter(name);
    Ok(out)
}

fn manufacturer<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<Manufacturer> {
    let code = printable(r, ctx, "manufacturer.code")?;
    let name = utf8(r, ctx, "manufacturer.name".into())?;
    let country = printable(r, ctx, "manufacturer.country")?;
    ctx.enter("manufacturer");
    Ok(Manufacturer {
        code,
        name,
        country,
    })
}

fn parameter<'r, R: Reader<'r>>(
    r: &mut R,
    ctx: &mut Ctx,
    path: &str,
) -> der::Result<TechnicalParameter> {
    let name = utf8(r, ctx, format!("{path}.name"))?;
    let value = field(r, ctx, format!("{path}.value"))?;
    let unit = utf8(r, ctx, format!("{path}.unit"))?;
    ctx.enter(path);
    Ok(TechnicalParameter { name, value, unit })
}

fn component<'r, R: Reader<'r>>(r: &mut R, ctx: &mut Ctx, path: &str) -> der::Result<KeyComponent> {
    let kind = utf8(r, ctx, format!("{path}.kind"))?;
    let part_number = utf8(r, ctx, format!("{path}.partNumber"))?;
    let supplier = utf8(r, ctx, format!("{path}.supplier"))?;
    let serial = utf8(r, ctx, format!("{path}.serial"))?;
    let digests_path = format!("{path}.digests");
    ctx.enter(digests_path.as_str());
    let header = Header::decode(r)?;
    header.tag.assert_eq(Tag::Sequence)?;
    let digests = r.read_nested(header.length, |r| {
        list(r, ctx, &digests_path, |r, c, p| digest(r, c, p))
    })?;
    ctx.enter(path);
    Ok(KeyComponent {
        kind,
        part_number,
        supplier,
        serial,
        digests,
    })
}

fn digest<'r, R: Reader<'r>>(r: &mut R, ctx: &mut Ctx, path: &str) -> der::Result<ComponentDigest> {
    let oid: ObjectIdentifier = field(r, ctx, format!("{path}.hashAlg"))?;
    let Some(algorithm) = DigestAlgorithm::from_oid(&oid) else {
        return Err(ctx.refuse(IdentityError::Invalid {
            field: format!("{path}.hashAlg"),
            rule: format!("{oid} is not SHA-256, SHA-384 or SHA-512"),
        }));
    };
    let value = field::<OctetStringRef<'r>>(r, ctx, format!("{path}.digest"))?
        .as_bytes()
        .to_vec();
    ctx.enter(path);
    Ok(ComponentDigest { algorithm, value })
}
