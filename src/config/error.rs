//! Errors of the circuit file loader. Each names where the problem is (file, line, column; or
//! the `--set` override), the key as written, and what is wrong, on one line:
//! `circuits/x.toml:12:10: device.levls: unknown key `levls` in [device]; did you mean `levels`?`

use super::echo::shorten;
use super::units::{format_number, format_quantity, Dimension, UnitError};
use std::fmt;

/// Where a piece of configuration text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The design file, as named on the command line.
    File(String),
    /// A device preset: the repository path of a shipped one, or the file read from disk.
    Preset(String),
    /// A `--set` override, as given.
    Override(String),
    /// A schema default; reported at the design file.
    Default { file: String },
}

impl Origin {
    /// A short label for provenance listings.
    pub fn label(&self) -> String {
        match self {
            Origin::File(_) => "file".to_string(),
            Origin::Preset(p) => format!("preset {p}"),
            Origin::Override(s) => format!("--set {s}"),
            Origin::Default { .. } => "default".to_string(),
        }
    }
}

/// A position in a source. `line` and `column` are 1-based (columns count characters); 0 means
/// the error concerns the source as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub origin: Origin,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.origin {
            Origin::File(p) | Origin::Preset(p) | Origin::Default { file: p } => p.clone(),
            Origin::Override(s) => format!("<--set {}>", shorten(s)),
        };
        if self.line == 0 {
            write!(f, "{name}")
        } else {
            write!(f, "{name}:{}:{}", self.line, self.column)
        }
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("cannot read: {message}")]
    Io { message: String },
    #[error("TOML syntax: {message}")]
    Syntax { message: String },
    #[error("unknown section `{}`{}", shorten(name), hint(suggestion))]
    UnknownSection {
        name: String,
        suggestion: Option<String>,
    },
    #[error(
        "unknown key `{}` {}{}",
        shorten(name),
        table(section),
        hint(suggestion)
    )]
    UnknownKey {
        name: String,
        /// Empty at the top level.
        section: String,
        suggestion: Option<String>,
    },
    #[error("[{section}] must be a table, found {found}")]
    NotATable { section: String, found: String },
    #[error("given twice, as `{first}` and `{second}`; keep one spelling")]
    BothSpellings { first: String, second: String },
    #[error("{0}")]
    Unit(#[from] UnitError),
    #[error(
        "a bare number has no unit: write `{name} = \"{}\"` (with the prefix you mean), or \
         `{si_name} = {}` for the same in {si_unit}",
        format_quantity(*meant, *dimension), format_number(*meant)
    )]
    BareNumber {
        name: String,
        si_name: String,
        si_unit: &'static str,
        dimension: Dimension,
        /// What the number most likely means, in SI units (`50` for a time: 50ns).
        meant: f64,
    },
    #[error(
        "`{si_name}` takes a plain number in {si_unit}; for a unit string write `{name} = \
         \"{example}\"`"
    )]
    NotAPlainNumber {
        name: String,
        si_name: String,
        si_unit: &'static str,
        example: &'static str,
    },
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: String,
        found: &'static str,
    },
    #[error(
        "unknown value `{}`; expected one of {}{}",
        shorten(value), choices.join(", "), hint(suggestion)
    )]
    UnknownChoice {
        value: String,
        choices: Vec<String>,
        suggestion: Option<String>,
    },
    #[error("{message}")]
    Type { message: String },
    #[error("{message}")]
    Invalid { message: String },
    #[error(
        "no device preset `{}`; available: {}{}",
        shorten(name), available.join(", "), hint(suggestion)
    )]
    UnknownPreset {
        name: String,
        available: Vec<String>,
        suggestion: Option<String>,
    },
    #[error(
        "this design needs about {} ({detail}) but the machine has {}",
        format_bytes(*needed_bytes), format_bytes(*available_bytes)
    )]
    TooLarge {
        needed_bytes: f64,
        available_bytes: f64,
        detail: String,
    },
    #[error("{message}")]
    Override { message: String },
    #[error("{message}")]
    Data { message: String },
}

fn table(section: &str) -> String {
    if section.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{section}]")
    }
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// A size in bytes with a binary prefix and one decimal ("745.1 GiB", "12.0 KiB"); beyond
/// the pebibytes in scientific notation.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes;
    for unit in &UNITS[..UNITS.len() - 1] {
        if value.abs() < 1024.0 {
            return if *unit == "B" {
                format!("{value:.0} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    if value.abs() < 1024.0 {
        format!("{value:.1} PiB")
    } else {
        format!("{value:.2e} PiB")
    }
}

/// A rejected circuit description.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub location: Location,
    /// The key as written (`device.g_max_siemens`), or empty when no key is concerned.
    pub key: String,
    /// Boxed: errors are rare, and a small `Result` keeps every loader step cheap.
    pub kind: Box<ErrorKind>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line whatever the message holds: callers print it as a single diagnostic.
        let kind = self.kind.to_string().replace(['\n', '\r'], " ");
        if self.key.is_empty() {
            write!(f, "{}: {kind}", self.location)
        } else {
            write!(f, "{}: {}: {kind}", self.location, shorten(&self.key))
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind.as_ref() {
            ErrorKind::Unit(e) => Some(e),
            _ => None,
        }
    }
}
