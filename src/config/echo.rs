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

/// Longest file path echoed whole, in characters: a path the system accepts (4096 bytes on
/// Linux) is shown as it is; only a value far beyond that is cut.
pub const ECHO_PATH_WHOLE: usize = 4096;

/// A file path as a message quotes it: whole up to [`ECHO_PATH_WHOLE`] characters, else as
/// [`shorten`] quotes any text. The end of a path (the file name) is what a reader needs, so a
/// path is not cut at [`ECHO_WHOLE`].
pub fn shorten_path(path: &str) -> Cow<'_, str> {
    match path.char_indices().nth(ECHO_PATH_WHOLE) {
        None => Cow::Borrowed(path),
        Some(_) => shorten(path),
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

    #[test]
    fn a_long_path_keeps_its_file_name() {
        let path = format!("/tmp/{}/bad_designs/no_such_file.h5", "d".repeat(100));
        assert_eq!(shorten_path(&path), path.as_str());
        let huge = "d".repeat(10_000_000);
        assert_eq!(shorten_path(&huge), shorten(&huge));
    }
}
