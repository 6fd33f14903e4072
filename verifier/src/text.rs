//! The one text policy: what a string from outside may contain before it
//! enters a certificate, the registry or a terminal, and how such a string
//! is shown.
//!
//! [`check`] is the only test of characters: the identity's limits (CSR
//! intake, vetting, manifests, the offline verifier), the CA's admin API
//! (manufacturer names) and its lifecycle API (event details) all call it,
//! so a string refused at one entry point is refused at every one.
//!
//! Refused, by Unicode general category (Unicode version of the
//! `unicode-properties` crate, [`UNICODE_VERSION`]):
//!
//! - `Cc` control characters (C0, DEL, C1): they move a terminal's cursor
//!   and start escape sequences;
//! - `Cf` format characters: bidi overrides, embeddings and isolates
//!   (U+202A–202E, U+2066–2069) reorder what a reader sees, so
//!   `"Good Co\u{202e}gnp.exe"` shows as `Good Coexe.png`; zero-width
//!   characters (U+200B–200D, U+FEFF) make two names that look the same
//!   differ;
//! - `Zl`, `Zp` (U+2028, U+2029): line breaks that split a log line or a
//!   report;
//! - `Co` private-use characters: no meaning between two parties, and
//!   every font draws them differently;
//! - `Cn` unassigned code points and noncharacters: what they will mean is
//!   not known yet.
//!
//! Normalisation: text must already be in Unicode Normalization Form C. It
//! is refused, not normalised: the CA certifies what the robot signed in
//! its CSR, byte for byte, and a verifier compares bytes, so silently
//! rewriting a name would make the certificate say something the requester
//! did not, and two spellings of one visible name (`é` as one code point,
//! or `e` and a combining accent) could otherwise both be registered. See
//! decision 0025.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use unicode_properties::general_category::{GeneralCategory, UnicodeGeneralCategory};

use crate::rule::Rule;

/// The Unicode version the policy's character tables follow.
pub const UNICODE_VERSION: (u64, u64, u64) = unicode_properties::UNICODE_VERSION;

/// Why a text was refused: the character and where it is, or the form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A character of a refused category.
    #[error(
        "character {} ({}) at position {position} is not allowed ({}): {why}",
        code_point(*character),
        category.abbreviation(),
        Rule::TextCharacter,
    )]
    Character {
        /// The character.
        character: char,
        /// Its position, counted in characters from 0.
        position: usize,
        /// Its general category.
        category: Refused,
        /// Why that category is refused.
        why: &'static str,
    },
    /// Not in Normalization Form C.
    #[error(
        "text is not in Unicode Normalization Form C ({}); send it NFC-normalised",
        Rule::TextNormalization
    )]
    Normalization,
}

impl TextError {
    /// The catalogue's rule for this refusal.
    pub fn rule(&self) -> Rule {
        match self {
            Self::Character { .. } => Rule::TextCharacter,
            Self::Normalization => Rule::TextNormalization,
        }
    }
}

/// The general categories the policy refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `Cc`.
    Control,
    /// `Cf`.
    Format,
    /// `Zl`.
    LineSeparator,
    /// `Zp`.
    ParagraphSeparator,
    /// `Co`.
    PrivateUse,
    /// `Cn` (and `Cs`, which a Rust string cannot hold).
    Unassigned,
}

impl Refused {
    /// The category's two-letter abbreviation, e.g. `Cf`.
    pub fn abbreviation(self) -> &'static str {
        match self {
            Self::Control => "Cc",
            Self::Format => "Cf",
            Self::LineSeparator => "Zl",
            Self::ParagraphSeparator => "Zp",
            Self::PrivateUse => "Co",
            Self::Unassigned => "Cn",
        }
    }

    fn why(self) -> &'static str {
        match self {
            Self::Control => "control characters can rewrite a terminal or a log line",
            Self::Format => {
                "format characters (bidi overrides and isolates, zero-width characters) change what a reader sees"
            }
            Self::LineSeparator | Self::ParagraphSeparator => {
                "line and paragraph separators split a line"
            }
            Self::PrivateUse => "private-use characters have no agreed meaning",
            Self::Unassigned => "unassigned code points and noncharacters have no meaning yet",
        }
    }
}

/// The refused category of `c`, if it is one.
pub fn refused(c: char) -> Option<Refused> {
    match c.general_category() {
        GeneralCategory::Control => Some(Refused::Control),
        GeneralCategory::Format => Some(Refused::Format),
        GeneralCategory::LineSeparator => Some(Refused::LineSeparator),
        GeneralCategory::ParagraphSeparator => Some(Refused::ParagraphSeparator),
        GeneralCategory::PrivateUse => Some(Refused::PrivateUse),
        GeneralCategory::Unassigned | GeneralCategory::Surrogate => Some(Refused::Unassigned),
        _ => None,
    }
}

/// `U+202E`.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Checks `value` against the policy: no refused character, and NFC.
/// Lengths are each field's own business.
pub fn check(value: &str) -> Result<(), TextError> {
    if let Some((position, character, category)) = value
        .chars()
        .enumerate()
        .find_map(|(i, c)| refused(c).map(|r| (i, c, r)))
    {
        return Err(TextError::Character {
            character,
            position,
            category,
            why: category.why(),
        });
    }
    if !unicode_normalization::is_nfc(value) {
        return Err(TextError::Normalization);
    }
    Ok(())
}

/// The longest text [`terminal`] shows whole, in characters.
pub const TERMINAL_MAX_CHARS: usize = 2_000;

/// `text` as it may be written to a terminal: every character the policy
/// refuses is shown as `\u{…}`, and text longer than `max` characters
/// once escaped is cut with a note saying how much was left out. A backslash is left as it
/// is, so escaping twice changes nothing (messages that quote an escaped
/// value are escaped again when printed); a text that spells `\u{1b}`
/// literally shows the same as an escaped ESC, which is harmless.
pub fn terminal_cut(text: &str, max: usize) -> Cow<'_, str> {
    let clean = !text.chars().any(|c| refused(c).is_some());
    if clean && text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    // `max` bounds what is shown, escapes included, so a text made of
    // escapes is not shown seven times longer than the limit.
    let mut out = String::with_capacity(text.len().min(max * 4) + 48);
    let (mut shown, mut taken) = (0usize, 0usize);
    for c in text.chars() {
        if refused(c).is_some() {
            let piece = format!("\\u{{{:x}}}", u32::from(c));
            let width = piece.len();
            if shown + width > max {
                break;
            }
            out.push_str(&piece);
            shown += width;
        } else {
            if shown + 1 > max {
                break;
            }
            out.push(c);
            shown += 1;
        }
        taken += 1;
    }
    let rest = text.chars().count() - taken;
    if rest > 0 {
        let _ = write!(out, "… ({rest} more characters not shown)");
    }
    Cow::Owned(out)
}

/// [`terminal_cut`] at [`TERMINAL_MAX_CHARS`].
pub fn terminal(text: &str) -> Cow<'_, str> {
    terminal_cut(text, TERMINAL_MAX_CHARS)
}

/// Bytes from outside (a server's answer that is not UTF-8, a file) for a
/// terminal: decoded lossily, then [`terminal`].
pub fn terminal_bytes(bytes: &[u8]) -> String {
    terminal(&String::from_utf8_lossy(bytes)).into_owned()
}

/// A [`fmt::Display`] of outside text, escaped and cut as [`terminal`] does,
/// for `format!` and `println!` without an intermediate string.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&terminal(self.0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ordinary_names_in_many_scripts_pass() {
        for ok in [
            "Acme Robotics GmbH",
            "Société Générale de Robotique",
            "株式会社ロボット",
            "Роботы ООО",
            "شركة الروبوت",
            "Good Co. (Shenzhen) Ltd. — Unit 3",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_refused_category_is_named_with_its_code_point_and_position() {
        for (text, cp, cat, pos) in [
            ("Good Co\u{202e}gnp.exe", "U+202E", "Cf", 7),
            ("a\u{2066}b\u{2069}", "U+2066", "Cf", 1),
            ("zero\u{200b}width", "U+200B", "Cf", 4),
            ("\u{feff}bom", "U+FEFF", "Cf", 0),
            ("line\u{2028}two", "U+2028", "Zl", 4),
            ("para\u{2029}two", "U+2029", "Zp", 4),
            ("esc\u{1b}[2J", "U+001B", "Cc", 3),
            ("nul\0", "U+0000", "Cc", 3),
            ("c1\u{9b}", "U+009B", "Cc", 2),
            ("pua\u{e000}", "U+E000", "Co", 3),
            ("unassigned\u{378}", "U+0378", "Cn", 10),
            ("nonchar\u{fffe}", "U+FFFE", "Cn", 7),
        ] {
            let e = check(text).unwrap_err();
            assert_eq!(e.rule(), Rule::TextCharacter);
            let TextError::Character {
                position, category, ..
            } = &e
            else {
                panic!("{e:?}")
            };
            assert_eq!(*position, pos, "{text:?}");
            assert_eq!(category.abbreviation(), cat, "{text:?}");
            let message = e.to_string();
            assert!(message.contains(cp), "{message}");
            assert!(message.contains("text.character"), "{message}");
        }
    }

    #[test]
    fn text_not_in_nfc_is_refused_and_nfc_passes() {
        assert_eq!(check("Cafe\u{301}"), Err(TextError::Normalization));
        assert_eq!(check("Caf\u{e9}"), Ok(()));
        assert_eq!(TextError::Normalization.rule(), Rule::TextNormalization);
    }

    #[test]
    fn the_terminal_sees_refused_characters_escaped_and_long_text_cut() {
        assert_eq!(terminal("plain"), "plain");
        assert_eq!(
            terminal("a\u{1b}[31mred\u{202e}x\n"),
            "a\\u{1b}[31mred\\u{202e}x\\u{a}"
        );
        // Escaping is idempotent: a message quoting an escaped value can be
        // escaped again when printed.
        let once = terminal("a\u{1b}b").into_owned();
        assert_eq!(terminal(&once), once);
        let long = "x".repeat(100_000);
        let shown = terminal(&long);
        assert!(shown.starts_with(&"x".repeat(TERMINAL_MAX_CHARS)));
        assert!(
            shown.ends_with(&format!(
                "… ({} more characters not shown)",
                100_000 - 2_000
            )),
            "{}",
            &shown[shown.len() - 60..]
        );
        assert_eq!(terminal_bytes(b"\xff\x1b"), "\u{fffd}\\u{1b}");
    }
}
