//! Values quoted back in messages. A design is untrusted input: a value of ten megabytes must
//! not make an error line of ten megabytes, so every value, key or path a message echoes goes
//! through [`shorten`].

use std::borrow::Cow;

/// Longest text echoed whole, in characters.
pub const ECHO_WHOLE: usize = 64;
/// Characters kept of a longer text.
pub const ECHO_KEPT: usize = 40;

/// `text` as a message quotes it: whole up to [`ECHO_WHOLE`] characters, else its first
/// [`ECHO_KEPT`] characters, an ellipsis and its length ("xxxx… (10000000 bytes)").
pub fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(ECHO_WHOLE) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let cut = text
                .char_indices()
                .nth(ECHO_KEPT)
                .map_or(text.len(), |(i, _)| i);
            Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_a_character() {
        let short = "x".repeat(ECHO_WHOLE);
        assert_eq!(shorten(&short), short.as_str());
        let long = "µ".repeat(1000);
        let s = shorten(&long);
        assert_eq!(s, format!("{}… (2000 bytes)", "µ".repeat(ECHO_KEPT)));
    }
}
