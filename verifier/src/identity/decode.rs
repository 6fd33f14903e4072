//! Strict DER decoding that knows, at every step, which field it is in.
//!
//! `der`'s derived decoder reports only a byte offset; an inspector needs the
//! field. So this walks the structure with `der`'s own reader and primitive
//! decoders, keeping the current field's path beside it.

use der::asn1::{
    GeneralizedTime, ObjectIdentifier, OctetStringRef, PrintableStringRef, Utf8StringRef,
};
use der::{Decode, ErrorKind, Header, Reader, SliceReader, Tag, TagNumber, Tagged};

use super::{
    ComponentDigest, DigestAlgorithm, IdentityError, KeyComponent, Manufacturer, PROFILE_VERSION,
    RobotIdentity, TechnicalParameter,
};

/// A field's path, e.g. `components[3].digests[0].digest`, kept as its
/// parts and written out only when an error names it: building the text
/// for every field decoded cost more than the decoding itself.
#[derive(Clone, Copy, Debug)]
struct Path {
    /// Each part's name and, for a list entry, its index.
    parts: [(&'static str, Option<usize>); 3],
    len: usize,
}

impl Path {
    const fn new(name: &'static str) -> Self {
        Self {
            parts: [(name, None), ("", None), ("", None)],
            len: 1,
        }
    }

    /// `self.name`. The structure is at most three levels deep.
    fn dot(mut self, name: &'static str) -> Self {
        if let Some(part) = self.parts.get_mut(self.len) {
            *part = (name, None);
            self.len += 1;
        }
        self
    }

    /// `self[index]`.
    fn at(mut self, index: usize) -> Self {
        if let Some(part) = self.len.checked_sub(1).and_then(|i| self.parts.get_mut(i)) {
            part.1 = Some(index);
        }
        self
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, index)) in self.parts.iter().take(self.len).enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(name)?;
            if let Some(index) = index {
                write!(f, "[{index}]")?;
            }
        }
        Ok(())
    }
}

const ROOT: Path = Path::new("RobotIdentity");

/// The field being decoded, and a profile error found on the way (the
/// reader's closures can only return `der::Error`, so it waits here).
struct Ctx {
    at: Path,
    problem: Option<IdentityError>,
}

impl Ctx {
    fn enter(&mut self, path: Path) {
        self.at = path;
    }

    /// Records a profile error and aborts the walk.
    fn refuse(&mut self, problem: IdentityError) -> der::Error {
        self.problem = Some(problem);
        der::Error::from(ErrorKind::Failed)
    }
}

pub(super) fn from_der(bytes: &[u8]) -> Result<RobotIdentity, IdentityError> {
    let mut ctx = Ctx {
        at: ROOT,
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
            field: ctx.at.to_string(),
            source,
        })),
    }
}

fn field<'r, T: Decode<'r>>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: Path) -> der::Result<T> {
    ctx.enter(path);
    r.decode()
}

fn printable<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: Path) -> der::Result<String> {
    Ok(field::<PrintableStringRef<'r>>(r, ctx, path)?
        .as_str()
        .to_owned())
}

fn utf8<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: Path) -> der::Result<String> {
    Ok(field::<Utf8StringRef<'r>>(r, ctx, path)?
        .as_str()
        .to_owned())
}

fn identity<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<RobotIdentity> {
    version(r, ctx)?;
    let robot_id = printable(r, ctx, Path::new("robotId"))?;
    ctx.enter(Path::new("manufacturer"));
    let manufacturer = r.sequence(|r| manufacturer(r, ctx))?;
    let model = printable(r, ctx, Path::new("model"))?;
    let production_date = production_date(r, ctx)?;
    let parameters_path = Path::new("parameters");
    let parameters = match tagged(r, ctx, parameters_path, TagNumber::N0, true)? {
        Some(header) => {
            let list = r.read_nested(header.length, |r| {
                list(r, ctx, parameters_path, |r, c, p| parameter(r, c, p))
            })?;
            // Present means 1 to 64 entries; no parameters is the field
            // left out. Said here, or the empty list reads as "absent" and
            // is reported later as a missing parameter.
            if list.is_empty() {
                return Err(ctx.refuse(IdentityError::Invalid {
                    field: "parameters".into(),
                    rule: "an empty list; without parameters the field is left out".into(),
                }));
            }
            list
        }
        None => Vec::new(),
    };
    let components_path = Path::new("components");
    let components = match tagged(r, ctx, components_path, TagNumber::N1, false)? {
        Some(header) => r.read_nested(header.length, |r| {
            list(r, ctx, components_path, |r, c, p| component(r, c, p))
        })?,
        None => Vec::new(),
    };
    ctx.enter(ROOT);
    Ok(RobotIdentity {
        robot_id,
        manufacturer,
        model,
        production_date,
        parameters,
        components,
    })
}

/// `productionDate GeneralizedTime`. `der`'s time type starts in 1970, so
/// an earlier, well-formed time is named as what it is: before the
/// profile's earliest production date, not malformed DER.
fn production_date<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<der::DateTime> {
    ctx.enter(Path::new("productionDate"));
    let any: der::asn1::AnyRef<'r> = r.decode()?;
    match GeneralizedTime::try_from(any) {
        Ok(t) => Ok(t.to_date_time()),
        Err(e) => {
            let v = any.value();
            let year = v
                .get(..4)
                .filter(|_| {
                    any.tag() == Tag::GeneralizedTime
                        && v.len() == 15
                        && v.last() == Some(&b'Z')
                        && v.get(..14)
                            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
                })
                .and_then(|y| std::str::from_utf8(y).ok())
                .and_then(|y| y.parse::<u16>().ok());
            match year {
                Some(year) if year < 1970 => {
                    let (y, m, d) = super::EARLIEST_PRODUCTION_DATE;
                    let text = String::from_utf8_lossy(v.get(..8).unwrap_or_default());
                    Err(ctx.refuse(IdentityError::ProductionDate {
                        rule: format!(
                            "{text} (YYYYMMDD) is before the earliest production date {y:04}-{m:02}-{d:02}"
                        ),
                    }))
                }
                _ => Err(e),
            }
        }
    }
}

/// `version INTEGER DEFAULT 0`: DER omits the default, so a present version
/// is either a non-canonical 0 or a version this code does not know.
fn version<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<()> {
    ctx.enter(Path::new("version"));
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
    path: Path,
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
    name: Path,
    mut entry: impl FnMut(&mut der::NestedReader<'_, R>, &mut Ctx, Path) -> der::Result<T>,
) -> der::Result<Vec<T>> {
    let mut out = Vec::new();
    while !r.is_finished() {
        let path = name.at(out.len());
        ctx.enter(path);
        out.push(r.sequence(|r| entry(r, ctx, path))?);
    }
    ctx.enter(name);
    Ok(out)
}

fn manufacturer<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx) -> der::Result<Manufacturer> {
    let path = Path::new("manufacturer");
    let code = printable(r, ctx, path.dot("code"))?;
    let name = utf8(r, ctx, path.dot("name"))?;
    let country = printable(r, ctx, path.dot("country"))?;
    ctx.enter(path);
    Ok(Manufacturer {
        code,
        name,
        country,
    })
}

fn parameter<'r, R: Reader<'r>>(
    r: &mut R,
    ctx: &mut Ctx,
    path: Path,
) -> der::Result<TechnicalParameter> {
    let name = utf8(r, ctx, path.dot("name"))?;
    let value = integer(r, ctx, path.dot("value"))?;
    let unit = utf8(r, ctx, path.dot("unit"))?;
    ctx.enter(path);
    Ok(TechnicalParameter { name, value, unit })
}

/// A parameter's INTEGER value: canonical DER, and within 64 bits, which
/// is said as such (`der` calls a longer one "not canonically encoded").
fn integer<'r>(r: &mut impl Reader<'r>, ctx: &mut Ctx, path: Path) -> der::Result<i64> {
    let int: der::asn1::IntRef<'r> = field(r, ctx, path)?;
    let bytes = int.as_bytes();
    if bytes.len() > 8 {
        return Err(ctx.refuse(IdentityError::Invalid {
            field: path.to_string(),
            rule: format!(
                "an integer of {} octets is outside the 64-bit range of parameter values",
                bytes.len()
            ),
        }));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let start: i64 = if negative { -1 } else { 0 };
    Ok(bytes
        .iter()
        .fold(start, |v, b| v.wrapping_shl(8) | i64::from(*b)))
}

fn component<'r, R: Reader<'r>>(r: &mut R, ctx: &mut Ctx, path: Path) -> der::Result<KeyComponent> {
    let kind = utf8(r, ctx, path.dot("kind"))?;
    let part_number = utf8(r, ctx, path.dot("partNumber"))?;
    let supplier = utf8(r, ctx, path.dot("supplier"))?;
    let serial = utf8(r, ctx, path.dot("serial"))?;
    let digests_path = path.dot("digests");
    ctx.enter(digests_path);
    let header = Header::decode(r)?;
    header.tag.assert_eq(Tag::Sequence)?;
    let digests = r.read_nested(header.length, |r| {
        list(r, ctx, digests_path, |r, c, p| digest(r, c, p))
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

fn digest<'r, R: Reader<'r>>(r: &mut R, ctx: &mut Ctx, path: Path) -> der::Result<ComponentDigest> {
    let oid: ObjectIdentifier = field(r, ctx, path.dot("hashAlg"))?;
    let Some(algorithm) = DigestAlgorithm::from_oid(&oid) else {
        return Err(ctx.refuse(IdentityError::Invalid {
            field: path.dot("hashAlg").to_string(),
            rule: format!("{oid} is not SHA-256, SHA-384 or SHA-512"),
        }));
    };
    let value = field::<OctetStringRef<'r>>(r, ctx, path.dot("digest"))?
        .as_bytes()
        .to_vec();
    ctx.enter(path);
    Ok(ComponentDigest { algorithm, value })
}
