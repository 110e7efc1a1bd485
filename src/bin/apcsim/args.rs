//! Argument types shared by the subcommands.

use crate::exit::Failure;
use apcsim::io::outdir::{self, OutDir};
use std::path::{Path, PathBuf};

// `--set KEY=VALUE`: overrides of a design's keys, applied in order. Each command words the
// help with an example of its own (`#[command(mut_arg("set", ...))]`). (A doc comment here
// would become the about text of every command that flattens it.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Overrides {
    /// Override a key, e.g. --set device.levels=16 (repeatable, applied in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

// `--out DIR` and `--force`: the folder a command writes its outputs into. Each command words
// the help with its default folder and outputs (`#[command(mut_arg("out", ...))]`, and
// `"force"`).
#[derive(clap::Args, Debug)]
pub struct OutputFolder {
    /// Output folder (default: a new folder). It is created if missing; one that is not
    /// empty is refused (exit code 2) unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into an --out folder that is not empty: apcsim's outputs there from an earlier
    /// run are removed first; other files stay.
    #[arg(long, requires = "out")]
    pub force: bool,
}

impl OutputFolder {
    /// Claims --out (apcsim's `outputs` there removed first with --force), or else a new
    /// folder `parent/<stem>-<UTC timestamp>`.
    pub fn claim(&self, parent: &str, stem: &str, outputs: &[&str]) -> Result<OutDir, Failure> {
        match &self.out {
            Some(dir) => outdir::claim_fresh(dir, outputs, self.force),
            None => outdir::claim_new(Path::new(parent), stem, outputs),
        }
        .map_err(|e| Failure::from(e).option("--out"))
    }
}

/// A real number argument whose default prints in scientific notation when it is small or
/// large (`--help` shows `1e-12`, not `0.000000000001`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Real(pub f64);

impl std::str::FromStr for Real {
    type Err = std::num::ParseFloatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Real)
    }
}

impl std::fmt::Display for Real {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v != 0.0 && v.is_finite() && !(1e-3..1e6).contains(&v.abs()) {
            write!(f, "{v:e}")
        } else {
            write!(f, "{v}")
        }
    }
}

/// Refuses a real option that is not a finite positive number.
pub fn positive(name: &str, v: f64) -> Result<f64, Failure> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Failure::input(format!(
            "{name} must be a finite positive number, got {v}"
        )))
    }
}

/// Refuses an output file path that cannot be written as a file (a folder, or a path through a
/// file), before any work is done, and creates its folder.
pub fn output_file(option: &str, path: &Path) -> Result<(), Failure> {
    apcsim::io::check_writable_file(path)
        .map_err(|why| Failure::input(format!("{option} {}: {why}", path.display())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::io(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Real;

    #[test]
    fn small_and_large_defaults_print_in_scientific_notation() {
        for (v, s) in [
            (1e-12, "1e-12"),
            (1e-13, "1e-13"),
            (2.5e7, "2.5e7"),
            (0.001, "0.001"),
            (600.0, "600"),
            (1.0, "1"),
            (0.0, "0"),
        ] {
            assert_eq!(Real(v).to_string(), s);
            assert_eq!(s.parse::<Real>().unwrap(), Real(v));
        }
    }
}
