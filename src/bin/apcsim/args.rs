//! Argument types shared by the subcommands.

use std::path::Path;

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
pub fn positive(name: &str, v: f64) -> Result<f64, crate::exit::Failure> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(crate::exit::Failure::input(format!(
            "{name} must be a finite positive number, got {v}"
        )))
    }
}

/// Refuses an output file path that cannot be written as a file (a folder, or a path through a
/// file), before any work is done, and creates its folder.
pub fn output_file(option: &str, path: &Path) -> Result<(), crate::exit::Failure> {
    apcsim::io::check_writable_file(path).map_err(|why| {
        crate::exit::Failure::input(format!("{option} {}: {why}", path.display()))
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            crate::exit::Failure::io(format!("cannot create {}: {e}", dir.display()))
        })?;
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
