//! Robot IDs, `CODE-MODEL-SERIAL-C`, and their check character.
//!
//! The check character is a Damm-style check over a totally anti-symmetric
//! quasigroup of order 36. It catches every single mistyped character and
//! every swap of two adjacent characters, hyphens included, which ISO 7064
//! MOD 37,36 does not. `docs/robot-id.md` specifies the format and the
//! algorithm precisely enough to reimplement it, and explains why it works.

use std::fmt;
use std::str::FromStr;

/// A segment's name, for error messages, and its length limits.
struct SegmentRule {
    name: &'static str,
    min: usize,
    max: usize,
}

/// The four segments in order; a body (`CODE-MODEL-SERIAL`) uses the first three.
const RULES: [SegmentRule; 4] = [
    SegmentRule {
        name: "manufacturer code",
        min: 2,
        max: 8,
    },
    SegmentRule {
        name: "model",
        min: 1,
        max: 16,
    },
    SegmentRule {
        name: "serial",
        min: 1,
        max: 24,
    },
    SegmentRule {
        name: "check character",
        min: 1,
        max: 1,
    },
];

/// The longest valid ID is 52 characters; anything much longer is garbage
/// that should not be echoed into logs in full.
const MAX_SHOWN_CHARS: usize = 64;

/// Symbol values: the position of a character in this string.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Why a string is not a valid robot ID (or ID body, or segment).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RobotIdError {
    /// The input does not split into the expected number of `-`-separated segments.
    #[error(
        "robot ID {id:?}: {found} segments separated by '-', expected {expected} ({})",
        layout(.expected)
    )]
    WrongSegmentCount {
        /// The input, shortened if very long.
        id: String,
        /// How many segments the input has.
        found: usize,
        /// How many segments were expected: 4 for an ID, 3 for a body.
        expected: usize,
    },
    /// A segment has no characters, e.g. `UBX--0001-K`.
    #[error("robot ID segment {segment:?} is empty; every segment needs at least one character")]
    EmptySegment {
        /// The segment's name, e.g. `"model"`.
        segment: &'static str,
    },
    /// A segment is shorter than its minimum length.
    #[error("robot ID segment {segment:?}: {len} {}, at least {min} required", characters(.len))]
    SegmentTooShort {
        /// The segment's name, e.g. `"manufacturer code"`.
        segment: &'static str,
        /// The segment's length in characters.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A segment is longer than its maximum length.
    #[error("robot ID segment {segment:?}: {len} {}, at most {max} allowed", characters(.len))]
    SegmentTooLong {
        /// The segment's name, e.g. `"serial"`.
        segment: &'static str,
        /// The segment's length in characters.
        len: usize,
        /// The maximum length.
        max: usize,
    },
    /// A lowercase ASCII letter; IDs are case-sensitive and upper case.
    #[error("robot ID {id:?}: lowercase {ch:?} at position {position}; robot IDs are upper case")]
    Lowercase {
        /// The input, shortened if very long.
        id: String,
        /// 1-based character position in `id`.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// A character that may not appear in a segment (whitespace, punctuation,
    /// non-ASCII, or a hyphen inside a segment passed to [`RobotId::new`]).
    #[error(
        "robot ID {id:?}: character {ch:?} at position {position}{} is not allowed; \
         segments hold only A-Z and 0-9, separated by '-'",
        in_segment(.segment)
    )]
    InvalidChar {
        /// The input, shortened if very long.
        id: String,
        /// The segment holding the character; `None` if it lies past the
        /// last expected segment.
        segment: Option<&'static str>,
        /// 1-based character position in `id`.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// The format is fine but the check character does not match the body.
    /// The character the body would need is deliberately not given: for a
    /// swapped or mistyped character, the ID it completes is usually
    /// another robot's, and an operator who "fixes" the ID that way acts on
    /// the wrong robot.
    #[error(
        "robot ID {id:?} is invalid: its check character (position {position}, {found}) does \
         not match the rest of the ID; a character was mistyped or two were swapped: read \
         the ID again from the robot's label"
    )]
    CheckMismatch {
        /// The input, shortened if very long.
        id: String,
        /// The check character the input carries.
        found: char,
        /// Its 1-based position in the input.
        position: usize,
    },
}

fn layout(expected: &usize) -> &'static str {
    if *expected == 3 {
        "CODE-MODEL-SERIAL"
    } else {
        "CODE-MODEL-SERIAL-C"
    }
}

fn characters(len: &usize) -> &'static str {
    if *len == 1 { "character" } else { "characters" }
}

fn in_segment(segment: &Option<&'static str>) -> String {
    segment.map_or_else(String::new, |name| format!(" (in the {name})"))
}

/// Keeps error values (and the logs they end up in) bounded.
fn shown(input: &str) -> String {
    if input.chars().count() <= MAX_SHOWN_CHARS {
        input.to_owned()
    } else {
        let mut short: String = input.chars().take(MAX_SHOWN_CHARS).collect();
        short.push('…');
        short
    }
}

/// A validated robot ID, `CODE-MODEL-SERIAL-C`, with a correct check character.
///
/// Equality, hashing and ordering are those of the ID string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RobotId {
    // `id` comes first so derived ordering is string ordering; the other
    // fields are functions of `id` and never decide a comparison.
    id: String,
    code_end: usize,
    model_end: usize,
    serial_end: usize,
    check: char,
}

impl RobotId {
    /// Parses and fully validates an ID, including its check character.
    ///
    /// # Errors
    ///
    /// Any format violation, or [`RobotIdError::CheckMismatch`].
    pub fn parse(s: &str) -> Result<RobotId, RobotIdError> {
        let [code, model, serial, check] = split_valid(s, s.split('-').collect())?;
        let expected = check_for([code, model, serial]);
        // `split_valid` guarantees exactly one ASCII symbol here.
        let found = char::from(check.as_bytes()[0]);
        if found != expected {
            return Err(RobotIdError::CheckMismatch {
                id: shown(s),
                found,
                position: s.chars().count(),
            });
        }
        Ok(Self::assemble(code, model, serial, expected))
    }

    /// Builds an ID from its segments, computing the check character.
    ///
    /// # Errors
    ///
    /// A segment that is empty, too short or too long, or that holds a
    /// character other than A-Z and 0-9 (a hyphen included).
    pub fn new(code: &str, model: &str, serial: &str) -> Result<RobotId, RobotIdError> {
        // Segments are checked individually, not re-split from the body, so
        // a hyphen inside one is reported against that segment.
        let body = format!("{code}-{model}-{serial}");
        let segments = split_valid(&body, vec![code, model, serial])?;
        Ok(Self::assemble(code, model, serial, check_for(segments)))
    }

    fn assemble(code: &str, model: &str, serial: &str, check: char) -> RobotId {
        let code_end = code.len();
        let model_end = code_end + 1 + model.len();
        let serial_end = model_end + 1 + serial.len();
        RobotId {
            id: format!("{code}-{model}-{serial}-{check}"),
            code_end,
            model_end,
            serial_end,
            check,
        }
    }

    /// The full ID, e.g. `UBX-WK5-00001234-I`.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The manufacturer code, e.g. `UBX`.
    pub fn manufacturer_code(&self) -> &str {
        &self.id[..self.code_end]
    }

    /// The model code, e.g. `WK5`.
    pub fn model(&self) -> &str {
        &self.id[self.code_end + 1..self.model_end]
    }

    /// The serial, e.g. `00001234`.
    pub fn serial(&self) -> &str {
        &self.id[self.model_end + 1..self.serial_end]
    }

    /// The check character, e.g. `I`.
    pub fn check_char(&self) -> char {
        self.check
    }
}

impl fmt::Display for RobotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for RobotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RobotId").field(&self.id).finish()
    }
}

impl FromStr for RobotId {
    type Err = RobotIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Computes the check character for a body, `CODE-MODEL-SERIAL`.
///
/// # Errors
///
/// The body breaks a format rule: it must have exactly three segments, each
/// of A-Z and 0-9 within its length limits.
pub fn check_char(body: &str) -> Result<char, RobotIdError> {
    let segments = split_valid(body, body.split('-').collect())?;
    Ok(check_for(segments))
}

/// Checks characters, then segment count, then lengths, so the most
/// specific complaint wins (`ubx wk5` is about case, not segment count).
fn split_valid<'a, const N: usize>(
    id: &str,
    segments: Vec<&'a str>,
) -> Result<[&'a str; N], RobotIdError> {
    let rules = &RULES[..N];
    check_chars(id, &segments, rules)?;
    let segments: [&str; N] =
        segments
            .try_into()
            .map_err(|all: Vec<&str>| RobotIdError::WrongSegmentCount {
                id: shown(id),
                found: all.len(),
                expected: N,
            })?;
    for (segment, rule) in segments.iter().zip(rules) {
        check_length(segment, rule)?;
    }
    Ok(segments)
}

fn check_chars(id: &str, segments: &[&str], rules: &[SegmentRule]) -> Result<(), RobotIdError> {
    let mut position = 0;
    for (index, segment) in segments.iter().enumerate() {
        for ch in segment.chars() {
            position += 1;
            check_symbol(id, rules.get(index), position, ch)?;
        }
        // Skip the hyphen that follows the segment.
        position += 1;
    }
    Ok(())
}

fn check_symbol(
    id: &str,
    rule: Option<&SegmentRule>,
    position: usize,
    ch: char,
) -> Result<(), RobotIdError> {
    if symbol_value(ch).is_some() {
        return Ok(());
    }
    let id = shown(id);
    Err(if ch.is_ascii_lowercase() {
        RobotIdError::Lowercase { id, position, ch }
    } else {
        let segment = rule.map(|rule| rule.name);
        RobotIdError::InvalidChar {
            id,
            segment,
            position,
            ch,
        }
    })
}

/// Only called after the characters are known to be ASCII, so byte length
/// is character count.
fn check_length(segment: &str, rule: &SegmentRule) -> Result<(), RobotIdError> {
    let len = segment.len();
    let name = rule.name;
    if len == 0 {
        Err(RobotIdError::EmptySegment { segment: name })
    } else if len < rule.min {
        Err(RobotIdError::SegmentTooShort {
            segment: name,
            len,
            min: rule.min,
        })
    } else if len > rule.max {
        Err(RobotIdError::SegmentTooLong {
            segment: name,
            len,
            max: rule.max,
        })
    } else {
        Ok(())
    }
}

fn check_for(body: [&str; 3]) -> char {
    symbol_char(check_value(body_interim(&body)))
}

/// Runs the quasigroup over the body; the hyphens between segments are the
/// `tau` steps, so moving a hyphen changes the result.
fn body_interim(segments: &[&str]) -> u8 {
    segments
        .iter()
        .enumerate()
        .fold(0, |interim, (index, segment)| {
            let interim = if index == 0 { interim } else { tau(interim) };
            // Segments are validated, so every character is a symbol.
            segment.chars().filter_map(symbol_value).fold(interim, op)
        })
}

fn symbol_value(ch: char) -> Option<u8> {
    if !(ch.is_ascii_digit() || ch.is_ascii_uppercase()) {
        return None;
    }
    ch.to_digit(36).and_then(|v| u8::try_from(v).ok())
}

/// `v` must be below 36; every caller passes a quasigroup element.
fn symbol_char(v: u8) -> char {
    char::from(ALPHABET[usize::from(v)])
}

/// Splits an element into its Z9 and GF(4) components.
fn split(v: u8) -> (u8, u8) {
    (v % 9, v / 9)
}

fn join(z9: u8, gf4: u8) -> u8 {
    z9 + 9 * gf4
}

/// Multiplies a GF(4) element by `w`, reducing modulo `w^2 + w + 1`.
fn mul_w(g: u8) -> u8 {
    let shifted = g << 1;
    if shifted & 0b100 == 0 {
        shifted
    } else {
        shifted ^ 0b111
    }
}

/// The quasigroup operation `i * x`. Doubling in Z9 and multiplying by `w`
/// in GF(4) are automorphisms `phi` with `phi - 1` also invertible, which is
/// what makes `(i * x) * y == (i * y) * x` imply `x == y`.
fn op(i: u8, x: u8) -> u8 {
    let (i1, i2) = split(i);
    let (x1, x2) = split(x);
    join((2 * i1 + x1) % 9, mul_w(i2) ^ x2)
}

/// The hyphen step. It must differ from every symbol's effect in a way that
/// does not commute with them; adding (1, 0) does, see `docs/robot-id.md`.
fn tau(i: u8) -> u8 {
    let (i1, i2) = split(i);
    join((i1 + 1) % 9, i2)
}

/// The unique `c` with `i * c == 0`: cancel both components.
fn check_value(i: u8) -> u8 {
    let (i1, i2) = split(i);
    join((9 - (2 * i1) % 9) % 9, mul_w(i2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn elements() -> std::ops::Range<u8> {
        0..36
    }

    /// Every character a typist could plausibly hit instead of the right one.
    const SUBSTITUTES: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz";

    /// Varied lengths, including every segment's minimum and maximum, codes
    /// of length 3 (so a hyphen swap can leave the format valid), repeated
    /// characters, and the ISO 7064 counterexample.
    const SAMPLES: [(&str, &str, &str); 24] = [
        ("UBX", "WK5", "00001234"),
        ("UBX", "WK5", "0001"),
        ("AB", "C", "0"),
        ("ZZZZZZZZ", "ZZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("00", "0", "0"),
        ("ACME", "H1", "A7X9"),
        ("JHI", "WK5", "1"),
        ("HUMANOID", "ATLAS2", "SN2024000001"),
        ("RB", "X", "Y"),
        ("TESLA", "OPTIMUS3", "000000000000000000000042"),
        ("FIG", "F02", "9Z9Z9Z"),
        ("AGILITY", "DIGIT", "DG0001"),
        ("UNI", "G1", "1234567890ABCDEFGHIJKLMN"),
        ("K1", "ABCDEFGHIJKLMNOP", "7"),
        ("12345678", "1", "2"),
        ("XY", "Z9", "HI"),
        ("QQ", "QQ", "QQ"),
        ("1X", "2Y", "3Z"),
        ("APTRONIK", "APOLLO", "A0B1C2D3"),
        ("PAL", "REEMC", "R3"),
        ("NEURA", "4NE1", "00000001"),
        ("ABB", "YUMI", "IRB14000"),
        ("BD", "SPOT", "BD00000000000000000000X1"),
        ("A1B", "C", "D2E3F4"),
    ];

    fn samples() -> Vec<RobotId> {
        SAMPLES
            .iter()
            .map(|(code, model, serial)| RobotId::new(code, model, serial).unwrap())
            .collect()
    }

    fn is_symbol(ch: char) -> bool {
        symbol_value(ch).is_some()
    }

    #[test]
    fn quasigroup_is_totally_anti_symmetric() {
        let mut cases = 0;
        for i in elements() {
            for x in elements() {
                for y in elements().filter(|&y| y != x) {
                    assert_ne!(op(op(i, x), y), op(op(i, y), x), "i={i} x={x} y={y}");
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 36 * 36 * 35);
    }

    #[test]
    fn rows_and_columns_are_permutations() {
        for a in elements() {
            let row: HashSet<u8> = elements().map(|x| op(a, x)).collect();
            let column: HashSet<u8> = elements().map(|i| op(i, a)).collect();
            assert_eq!(row, elements().collect(), "row {a}");
            assert_eq!(column, elements().collect(), "column {a}");
        }
    }

    #[test]
    fn hyphen_step_is_a_permutation_that_never_commutes_with_a_symbol() {
        let image: HashSet<u8> = elements().map(tau).collect();
        assert_eq!(image, elements().collect());
        for i in elements() {
            for x in elements() {
                assert_ne!(tau(op(i, x)), op(tau(i), x), "i={i} x={x}");
            }
        }
    }

    #[test]
    fn check_value_is_the_unique_zeroing_symbol() {
        for i in elements() {
            let zeroing: Vec<u8> = elements().filter(|&c| op(i, c) == 0).collect();
            assert_eq!(zeroing, vec![check_value(i)], "interim {i}");
        }
    }

    #[test]
    fn gf4_multiplication_by_w_matches_the_spec() {
        let table: Vec<u8> = (0..4).map(mul_w).collect();
        assert_eq!(table, [0, 2, 3, 1]);
        for g in 0..4 {
            assert_eq!(mul_w(mul_w(mul_w(g))), g, "w^3 = 1");
        }
    }

    #[test]
    fn symbols_map_to_values_and_back() {
        for v in elements() {
            assert_eq!(symbol_value(symbol_char(v)), Some(v));
        }
        assert_eq!(symbol_value('0'), Some(0));
        assert_eq!(symbol_value('A'), Some(10));
        assert_eq!(symbol_value('Z'), Some(35));
        assert_eq!(symbol_value('a'), None);
        assert_eq!(symbol_value('-'), None);
    }

    #[test]
    fn every_single_substitution_is_rejected() {
        let mut cases = 0;
        for id in samples() {
            let original: Vec<char> = id.as_str().chars().collect();
            for (position, &was) in original.iter().enumerate() {
                for now in SUBSTITUTES.chars().filter(|&c| c != was) {
                    let mut typo = original.clone();
                    typo[position] = now;
                    let typo: String = typo.into_iter().collect();
                    let err = RobotId::parse(&typo).expect_err(&typo);
                    if is_symbol(was) && is_symbol(now) {
                        // The format cannot notice these; the check must.
                        assert!(
                            matches!(err, RobotIdError::CheckMismatch { .. }),
                            "{typo}: {err}"
                        );
                    }
                    cases += 1;
                }
            }
        }
        let chars: usize = samples().iter().map(|id| id.as_str().len()).sum();
        assert_eq!(cases, chars * 62);
        assert_eq!(cases, 29_140);
    }

    #[test]
    fn every_adjacent_swap_is_rejected() {
        let mut cases = 0;
        let mut hyphen_moves_caught_by_check = 0;
        for id in samples() {
            let original: Vec<char> = id.as_str().chars().collect();
            for position in 0..original.len() - 1 {
                let (a, b) = (original[position], original[position + 1]);
                if a == b {
                    continue;
                }
                let mut swapped = original.clone();
                swapped.swap(position, position + 1);
                let swapped: String = swapped.into_iter().collect();
                let err = RobotId::parse(&swapped).expect_err(&swapped);
                let by_check = matches!(err, RobotIdError::CheckMismatch { .. });
                if is_symbol(a) && is_symbol(b) {
                    assert!(by_check, "{swapped}: {err}");
                } else if by_check {
                    hyphen_moves_caught_by_check += 1;
                }
                cases += 1;
            }
        }
        assert_eq!(cases, 335);
        // Moves of a hyphen that leave the format valid: only the hyphen step
        // in the check can catch these.
        assert_eq!(hyphen_moves_caught_by_check, 63);
    }

    /// One step of ISO 7064 MOD 37,36, the hybrid system; interims are 1..=36.
    fn iso_7064_step(p: u8, a: u8) -> u8 {
        let s = (p + a) % 36;
        let s = if s == 0 { 36 } else { s };
        (2 * s) % 37
    }

    fn iso_7064_check(body: &str) -> char {
        let p = body
            .chars()
            .filter_map(symbol_value)
            .fold(36, iso_7064_step);
        let c = elements()
            .find(|&c| (p + c) % 36 == 1)
            .expect("a check value always exists");
        symbol_char(c)
    }

    #[test]
    fn iso_7064_mod_37_36_misses_adjacent_transpositions_that_this_scheme_catches() {
        let mut missed = Vec::new();
        for p in 1..=36 {
            for a in elements() {
                for b in elements().filter(|&b| b != a) {
                    if iso_7064_step(iso_7064_step(p, a), b)
                        == iso_7064_step(iso_7064_step(p, b), a)
                    {
                        missed.push((p, a, b));
                    }
                }
            }
        }
        assert_eq!(missed.len(), 72);
        assert!(missed.contains(&(1, 17, 18)), "interim 1 with H, I");

        // 'J' takes the ISO interim from 36 to 1, so "HI" after it is blind.
        assert_eq!(iso_7064_check("JHI-WK5-1"), iso_7064_check("JIH-WK5-1"));
        assert_eq!(check_char("JHI-WK5-1"), Ok('7'));
        assert_eq!(check_char("JIH-WK5-1"), Ok('B'));
        assert!(matches!(
            RobotId::parse("JIH-WK5-1-7"),
            Err(RobotIdError::CheckMismatch { found: '7', .. })
        ));
    }

    #[test]
    fn known_answers_match_the_docs() {
        let vectors = [
            ("UBX-WK5-00001234", 'I'),
            ("UBX-WK5-0001", 'H'),
            ("UBX-WK5-00001243", 'P'),
            ("AB-C-0", '7'),
            ("00-0-0", '6'),
            ("ACME-H1-A7X9", 'Y'),
            ("JHI-WK5-1", '7'),
            ("JIH-WK5-1", 'B'),
            ("ZZZZZZZZ-ZZZZZZZZZZZZZZZZ-ZZZZZZZZZZZZZZZZZZZZZZZZ", '2'),
        ];
        for (body, expected) in vectors {
            assert_eq!(check_char(body), Ok(expected), "{body}");
            let id = RobotId::parse(&format!("{body}-{expected}")).unwrap();
            assert_eq!(id.check_char(), expected);
        }
    }

    #[test]
    fn worked_trace_matches_the_docs() {
        let mut interim = 0;
        let mut trace = Vec::new();
        for ch in "UBX-WK5-0001".chars() {
            interim = symbol_value(ch).map_or_else(|| tau(interim), |x| op(interim, x));
            trace.push(interim);
        }
        assert_eq!(trace, [30, 8, 31, 32, 24, 14, 24, 25, 32, 10, 20, 32]);
        assert_eq!(check_value(32), 17);
        assert_eq!(symbol_char(17), 'H');
    }

    #[test]
    fn round_trips_and_accessors() {
        let id = RobotId::new("UBX", "WK5", "00001234").unwrap();
        assert_eq!(id.as_str(), "UBX-WK5-00001234-I");
        assert_eq!(id.manufacturer_code(), "UBX");
        assert_eq!(id.model(), "WK5");
        assert_eq!(id.serial(), "00001234");
        assert_eq!(id.check_char(), 'I');
        assert_eq!(id.to_string(), id.as_str());
        assert_eq!(format!("{id:?}"), r#"RobotId("UBX-WK5-00001234-I")"#);
        let parsed: RobotId = "UBX-WK5-00001234-I".parse().unwrap();
        assert_eq!(parsed, id);
        for id in samples() {
            let again = RobotId::parse(id.as_str()).unwrap();
            assert_eq!(again, id);
            let rebuilt = RobotId::new(id.manufacturer_code(), id.model(), id.serial()).unwrap();
            assert_eq!(rebuilt, id);
            assert_eq!(
                check_char(&id.as_str()[..id.as_str().len() - 2]),
                Ok(id.check_char())
            );
        }
    }

    #[test]
    fn ordering_is_string_ordering() {
        let mut ids = samples();
        ids.sort();
        let strings: Vec<&str> = ids.iter().map(RobotId::as_str).collect();
        let mut sorted = strings.clone();
        sorted.sort_unstable();
        assert_eq!(strings, sorted);
    }

    fn message(input: &str) -> String {
        RobotId::parse(input).unwrap_err().to_string()
    }

    #[test]
    fn check_mismatch_message() {
        assert_eq!(
            message("UBX-WK5-0001-Q"),
            "robot ID \"UBX-WK5-0001-Q\" is invalid: its check character (position 14, Q) does \
             not match the rest of the ID; a character was mistyped or two were swapped: read \
             the ID again from the robot's label"
        );
        // The message never names the character the body would need (H):
        // for a typo, that completes another robot's ID.
        assert!(!message("UBX-WK5-0001-Q").contains('H'));
    }

    #[test]
    fn length_messages_name_segment_and_limit() {
        let serial = "0".repeat(30);
        assert_eq!(
            RobotId::new("UBX", "WK5", &serial).unwrap_err().to_string(),
            "robot ID segment \"serial\": 30 characters, at most 24 allowed"
        );
        assert_eq!(
            message("U-WK5-0001-H"),
            "robot ID segment \"manufacturer code\": 1 character, at least 2 required"
        );
        assert_eq!(
            message("UBX-WK5-0001-HH"),
            "robot ID segment \"check character\": 2 characters, at most 1 allowed"
        );
        assert_eq!(
            message("UBXUBXUBX-WK5-0001-H"),
            "robot ID segment \"manufacturer code\": 9 characters, at most 8 allowed"
        );
        assert_eq!(
            message("UBX-WK5-0"),
            "robot ID \"UBX-WK5-0\": 3 segments separated by '-', expected 4 (CODE-MODEL-SERIAL-C)"
        );
    }

    #[test]
    fn empty_segment_message() {
        assert_eq!(
            message("UBX--0001-H"),
            "robot ID segment \"model\" is empty; every segment needs at least one character"
        );
        assert_eq!(
            RobotId::parse("UBX-WK5-0001-"),
            Err(RobotIdError::EmptySegment {
                segment: "check character"
            })
        );
    }

    #[test]
    fn segment_count_messages() {
        assert_eq!(
            message("UBX-WK5-0001-H-X"),
            "robot ID \"UBX-WK5-0001-H-X\": 5 segments separated by '-', \
             expected 4 (CODE-MODEL-SERIAL-C)"
        );
        assert_eq!(
            check_char("UBX-WK5").unwrap_err().to_string(),
            "robot ID \"UBX-WK5\": 2 segments separated by '-', expected 3 (CODE-MODEL-SERIAL)"
        );
        assert!(matches!(
            RobotId::parse(""),
            Err(RobotIdError::WrongSegmentCount {
                found: 1,
                expected: 4,
                ..
            })
        ));
    }

    #[test]
    fn lowercase_message() {
        assert_eq!(
            message("ubx-WK5-0001-H"),
            "robot ID \"ubx-WK5-0001-H\": lowercase 'u' at position 1; robot IDs are upper case"
        );
        assert!(matches!(
            RobotId::parse("UBX-WK5-0001-h"),
            Err(RobotIdError::Lowercase {
                position: 14,
                ch: 'h',
                ..
            })
        ));
    }

    #[test]
    fn invalid_char_messages_name_position_and_segment() {
        assert_eq!(
            message("UBX-WK5-00 1-H"),
            "robot ID \"UBX-WK5-00 1-H\": character ' ' at position 11 (in the serial) \
             is not allowed; segments hold only A-Z and 0-9, separated by '-'"
        );
        // No trimming: surrounding whitespace is an error, not ignored.
        assert!(matches!(
            RobotId::parse(" UBX-WK5-0001-H"),
            Err(RobotIdError::InvalidChar {
                position: 1,
                ch: ' ',
                segment: Some("manufacturer code"),
                ..
            })
        ));
        assert!(matches!(
            RobotId::parse("UBX-WK5-0001-H-X_"),
            Err(RobotIdError::InvalidChar {
                position: 17,
                segment: None,
                ..
            })
        ));
        assert!(matches!(
            RobotId::parse("UBX-WK5-Ü001-H"),
            Err(RobotIdError::InvalidChar {
                position: 9,
                ch: 'Ü',
                segment: Some("serial"),
                ..
            })
        ));
    }

    #[test]
    fn new_rejects_a_hyphen_inside_a_segment() {
        assert_eq!(
            RobotId::new("UB-X", "WK5", "1"),
            Err(RobotIdError::InvalidChar {
                id: "UB-X-WK5-1".to_owned(),
                segment: Some("manufacturer code"),
                position: 3,
                ch: '-',
            })
        );
        assert!(matches!(
            RobotId::new("UBX", "WK5", "1-2"),
            Err(RobotIdError::InvalidChar {
                position: 10,
                segment: Some("serial"),
                ..
            })
        ));
    }

    #[test]
    fn very_long_input_is_shortened_in_errors() {
        let long = "A".repeat(1000);
        let Err(RobotIdError::WrongSegmentCount { id, .. }) = RobotId::parse(&long) else {
            panic!("expected a segment count error");
        };
        assert_eq!(id.chars().count(), MAX_SHOWN_CHARS + 1);
        assert!(id.ends_with('…'));
    }
}
