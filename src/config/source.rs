//! Where configuration text came from: every text that contributes a value (the design file,
//! each `--set` override, the device preset, each schema default) registered at its own range
//! of offsets, so that a span anywhere in the merged document says which text, line and column
//! it came from; the written key of every span; and the files a design names.

use super::error::{ConfigError, ErrorKind, Location, Origin};
use super::options::LoadOptions;
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Largest design or preset file read, in bytes: a file is untrusted input.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

struct Entry<'a> {
    origin: Origin,
    text: Cow<'a, str>,
    base: usize,
}

/// The texts a document was assembled from, each at its own offset range.
pub(crate) struct Sources<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Sources<'a> {
    pub fn new(file: &str, text: &'a str) -> Self {
        Sources {
            entries: vec![Entry {
                origin: Origin::File(file.to_string()),
                text: Cow::Borrowed(text),
                base: 0,
            }],
        }
    }

    /// Registers a text and returns the offset its spans are shifted by.
    pub fn add(&mut self, origin: Origin, text: Cow<'a, str>) -> usize {
        let last = self.entries.last().map_or(0, |e| e.base + e.text.len() + 1);
        self.entries.push(Entry {
            origin,
            text,
            base: last,
        });
        last
    }

    /// The design file's name (or the label of the first text).
    pub fn file_name(&self) -> String {
        match &self.entries[0].origin {
            Origin::File(f) => f.clone(),
            other => other.label(),
        }
    }

    fn entry(&self, offset: usize) -> &Entry<'a> {
        let i = self.entries.partition_point(|e| e.base <= offset);
        &self.entries[i.saturating_sub(1)]
    }

    pub fn origin(&self, span: &Range<usize>) -> &Origin {
        &self.entry(span.start).origin
    }

    pub fn locate(&self, span: &Range<usize>) -> Location {
        let e = self.entry(span.start);
        if let Origin::Default { .. } = e.origin {
            return Location {
                origin: e.origin.clone(),
                line: 1,
                column: 1,
            };
        }
        let text: &str = &e.text;
        let mut rel = span.start.saturating_sub(e.base).min(text.len());
        while !text.is_char_boundary(rel) {
            rel -= 1;
        }
        let before = &text[..rel];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            origin: e.origin.clone(),
            line,
            column,
        }
    }
}

/// Where errors found after parsing point: the sources, and the written key of every span.
pub(crate) struct Context<'a> {
    pub sources: Sources<'a>,
    /// (span, key as written): sections, keys, values and array elements.
    index: Vec<(Range<usize>, String)>,
    pub base_dir: Option<PathBuf>,
}

impl<'a> Context<'a> {
    /// A context over `sources` with no spans noted yet.
    pub fn new(sources: Sources<'a>) -> Self {
        Context {
            sources,
            index: Vec::new(),
            base_dir: None,
        }
    }

    /// The written key whose text encloses `span` most tightly.
    pub fn key_at(&self, span: &Range<usize>) -> String {
        // On equal spans the later note is the more specific (a section's `device = "pcm"`
        // shorthand shares its span with `device.preset`).
        self.index
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| r.start <= span.start && span.end <= r.end.max(r.start + 1))
            .min_by_key(|(i, (r, _))| (r.end - r.start, std::cmp::Reverse(*i)))
            .map(|(_, (_, k))| k.clone())
            .unwrap_or_default()
    }

    pub fn error(&self, span: &Range<usize>, kind: ErrorKind) -> ConfigError {
        ConfigError {
            location: self.sources.locate(span),
            key: self.key_at(span),
            kind: Box::new(kind),
        }
    }

    pub fn invalid(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        self.error(
            span,
            ErrorKind::Invalid {
                message: message.into(),
            },
        )
    }

    /// Whether the value at `span` was written by the user (in the file or a `--set`), as
    /// opposed to coming from the preset or a default.
    pub fn user_given(&self, span: &Range<usize>) -> bool {
        matches!(
            self.sources.origin(span),
            Origin::File(_) | Origin::Override(_)
        )
    }

    /// A provenance label for the value at `span`.
    pub fn origin_label(&self, span: &Range<usize>) -> String {
        self.sources.origin(span).label()
    }

    /// Records that `span` holds the value or key written as `key`.
    pub fn note(&mut self, span: Range<usize>, key: String) {
        self.index.push((span, key));
    }
}

/// A path named in the design, relative to the design's folder.
pub(crate) fn resolve_path(base: Option<&Path>, name: &str) -> PathBuf {
    let p = Path::new(name);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// Reads a (small, regular) file that a design names, or the design itself.
pub(crate) fn read_bytes(path: &Path, opts: &LoadOptions) -> Result<Vec<u8>, String> {
    if !opts.read_files {
        return Err("reading files is disabled".to_string());
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// Reads a text file that the design names.
pub(crate) fn read_text(path: &Path, opts: &LoadOptions) -> Result<String, String> {
    String::from_utf8(read_bytes(path, opts)?)
        .map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_characters() {
        let mut s = Sources::new("f.toml", "a = 1\nµµ = 2\n");
        assert_eq!(
            s.locate(&(10..11)),
            Location {
                origin: Origin::File("f.toml".into()),
                line: 2,
                column: 3
            }
        );
        let base = s.add(Origin::Override("x.y=1".into()), Cow::Borrowed("x.y=1"));
        let loc = s.locate(&(base + 4..base + 5));
        assert_eq!((loc.line, loc.column), (1, 5));
        assert_eq!(loc.to_string(), "<--set x.y=1>:1:5");
    }
}
