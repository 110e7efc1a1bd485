//! The circuit description file (docs/design.md §3): its TOML format, device presets, `--set`
//! overrides, validation and errors, resolved into a [`Circuit`].
//!
//! The pipeline, one step per module:
//! - [`document`]: parse with spans, apply overrides, check keys against the [`schema`],
//!   convert [`units`], merge the device [`presets`], fill defaults, deserialise with serde;
//! - [`resolve`]: derived defaults, ranges, relations, the data source, a memory estimate;
//! - [`circuit`]: the result, with its resolved configuration for reports.
//!
//! Errors ([`ConfigError`]) are one line: `FILE:LINE:COL: key.path: message`, with a
//! "did you mean" for misspelt keys and values.
//!
//! ```
//! use apcsim::config::{load_str, LoadOptions};
//! let design = r#"
//! device = "rram_hfo2"
//! [network]
//! hidden = [32, 32]
//! [dynamics]
//! tau_z = "200ns"
//! "#;
//! let c = load_str("example.toml", design, &["device.levels=32"], &LoadOptions::default())?;
//! assert_eq!(c.architecture.widths, vec![64, 32, 32, 10]);
//! assert_eq!(c.device.levels, Some(32));
//! assert_eq!(c.dynamics.tau_z_seconds, 200e-9);
//!
//! let bad = load_str("bad.toml", "[device]\nlevls = 4\n", &[] as &[&str], &LoadOptions::default());
//! assert_eq!(
//!     bad.unwrap_err().to_string(),
//!     "bad.toml:2:1: device.levls: unknown key `levls` in [device]; did you mean `levels`?"
//! );
//! # Ok::<(), apcsim::config::ConfigError>(())
//! ```

pub mod circuit;
pub mod document;
mod echo;
pub mod error;
pub mod footprint;
mod options;
pub mod presets;
mod raw;
pub mod resolve;
pub mod schema;
mod source;
pub mod units;

#[cfg(test)]
mod tests;

pub use circuit::{
    max_stable_step, Circuit, DataSource, DataSpec, Dynamics, LrScaling, Precision, ResolvedConfig,
    RunMode, RunParams, SolverKind, TrainInference, TrainParams,
};
pub use document::{apply_override, Document};
pub use error::{ConfigError, ErrorKind, Location, Origin};
pub use options::LoadOptions;
pub use source::MAX_FILE_BYTES;

use std::path::Path;

/// Loads a design file, applies `--set` overrides in order, and resolves it.
pub fn load(
    path: &Path,
    overrides: &[impl AsRef<str>],
    opts: &LoadOptions,
) -> Result<Circuit, ConfigError> {
    DesignText::read(path, opts)?.load(overrides, opts)
}

/// A design file read once, to be loaded many times with different overrides (a sweep's
/// points), all from the same text even if the file changes meanwhile.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignText {
    name: String,
    text: String,
    base: Option<std::path::PathBuf>,
}

impl DesignText {
    /// Reads the design at `path`; relative paths in it are taken from its folder.
    pub fn read(path: &Path, opts: &LoadOptions) -> Result<DesignText, ConfigError> {
        let name = path.display().to_string();
        let bytes = source::read_bytes(path, opts).map_err(|message| ConfigError {
            location: Location {
                origin: Origin::File(name.clone()),
                line: 0,
                column: 0,
            },
            key: String::new(),
            kind: Box::new(ErrorKind::Io { message }),
        })?;
        let text = document::decode_design(&name, bytes)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        Ok(DesignText { name, text, base })
    }

    /// Applies `overrides` in order to the design and resolves it, as [`load`] does.
    pub fn load(
        &self,
        overrides: &[impl AsRef<str>],
        opts: &LoadOptions,
    ) -> Result<Circuit, ConfigError> {
        load_with_base(&self.name, &self.text, self.base.clone(), overrides, opts)
    }
}

/// Loads a design from text; relative paths in it are taken from the working directory.
pub fn load_str(
    name: &str,
    text: &str,
    overrides: &[impl AsRef<str>],
    opts: &LoadOptions,
) -> Result<Circuit, ConfigError> {
    load_with_base(name, text, None, overrides, opts)
}

/// Loads what a device option names (`--device`): a shipped preset (`rram_hfo2`), a preset
/// file (device keys at the top level), or a whole design file (one with a table of the
/// design's sections, `[device]`, `[network]` ...), which is loaded as it is. A preset alone is
/// loaded into a design of defaults, so that it gets the default tiles and ideal converters.
/// Errors are the loader's, with file, line and key.
pub fn load_device(spec: &str, opts: &LoadOptions) -> Result<Circuit, ConfigError> {
    load_device_with(spec, &[] as &[&str], opts)
}

/// [`load_device`] with `--set` overrides applied (`device.levels=continuous`).
pub fn load_device_with(
    spec: &str,
    overrides: &[impl AsRef<str>],
    opts: &LoadOptions,
) -> Result<Circuit, ConfigError> {
    let path = std::path::Path::new(spec);
    let is_design = presets::find(spec).is_none()
        && path.is_file()
        && std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|t| {
                schema::SECTIONS
                    .iter()
                    .any(|(s, _)| t.get(*s).is_some_and(toml::Value::is_table))
            });
    if is_design {
        load(path, overrides, opts)
    } else {
        let text = format!("device = {}\n", toml::Value::String(spec.to_string()));
        load_str("--device", &text, overrides, opts)
    }
}

fn load_with_base(
    name: &str,
    text: &str,
    base: Option<std::path::PathBuf>,
    overrides: &[impl AsRef<str>],
    opts: &LoadOptions,
) -> Result<Circuit, ConfigError> {
    let mut doc = Document::parse(name, text)?;
    doc.set_base_dir(base);
    for o in overrides {
        doc.apply_override(o.as_ref())?;
    }
    doc.resolve(opts)
}

impl Document<'_> {
    /// Resolves the document into a checked circuit.
    pub fn resolve(self, opts: &LoadOptions) -> Result<Circuit, ConfigError> {
        let name = self.file_name();
        let (raw, ctx) = self.canonicalise(opts)?;
        resolve::resolve(raw, &ctx, opts, name)
    }
}

/// The annotated reference of every key, printed by `apcsim schema`.
pub fn schema_text() -> String {
    schema::render(&presets::names())
}
