//! The one text policy (`robotid_verifier::text`) and terminal escaping,
//! on any UTF-8 text: `check` accepts no refused character and only NFC
//! text; what `terminal` writes holds no refused character, is no longer
//! than its limit plus the note, and is the text itself when the text
//! passes and is short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_verifier::text;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        let shown = text::terminal_bytes(data);
        assert!(!shown.chars().any(|c| text::refused(c).is_some()));
        return;
    };
    match text::check(value) {
        Ok(()) => {
            assert!(!value.chars().any(|c| text::refused(c).is_some()));
            if value.chars().count() <= 64 {
                assert_eq!(text::terminal_cut(value, 64), value);
            }
        }
        Err(e) => {
            let _ = (e.rule(), e.to_string());
        }
    }
    for max in [0, 1, 16, 64] {
        let shown = text::terminal_cut(value, max);
        assert!(
            !shown.chars().any(|c| text::refused(c).is_some()),
            "{shown:?}"
        );
        // The cut text, then at most a note of a few dozen characters.
        assert!(shown.chars().count() <= max + 64, "{shown:?}");
        // Escaping is idempotent on what fits.
        if shown.chars().count() <= max {
            assert_eq!(text::terminal_cut(&shown, max), shown);
        }
    }
});
