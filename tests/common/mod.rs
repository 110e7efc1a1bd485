//! What the integration tests share: the apcsim binary under test, the repository's files (the
//! tests read nothing outside the repository), the text of a process's output, and the outside
//! tools some tests need.
//!
//! An outside tool (h5py, h5dump, ngspice, Chromium, Slurm) is optional on a developer machine:
//! without it a test prints `skipped: ...` and passes. Each tool has a variable
//! (`APCSIM_REQUIRE_INTEROP`, `..._NGSPICE`, `..._CHROMIUM`, `..._SLURM`) that `.ci/run` sets
//! to 1, which turns a missing tool into a failure.
//!
//! Each test binary includes this module (`mod common;`) and uses a part of it.
#![allow(dead_code)]

pub mod sweep;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path inside the repository, given from its root (`circuits/tiny.toml`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The names (without `.h5`) of the HDF5 files directly in the repository folders `dirs`,
/// sorted.
pub fn h5_stems(dirs: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(repo_path(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// A JPC reference case by name (`lin_sp_noskip`): the shipped one in `circuits/reference/`,
/// the others in `tests/data/reference/` (see the README there).
pub fn reference_case(name: &str) -> PathBuf {
    let file = format!("{name}.h5");
    let shipped = repo_path("circuits/reference").join(&file);
    let p = if shipped.is_file() {
        shipped
    } else {
        repo_path("tests/data/reference").join(&file)
    };
    assert!(p.is_file(), "{} not found", p.display());
    p
}

/// The apcsim binary under test with `args`, run in the repository root unless the caller
/// sets another folder (`.current_dir`).
pub fn apcsim<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(env!("CARGO_BIN_EXE_apcsim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    c
}

/// A process's output as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails the test, showing the exit code, stdout and stderr, unless the process exited 0.
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Whether an outside tool a test needs is here. `found` is the tool (`Ok`) or why it is not
/// usable (`Err`). Without it the test is skipped: this prints `skipped: WHAT not available
/// (WHY)` and returns `None`, unless `require_var` is `1`, which fails the test instead.
pub fn tool_available<T>(what: &str, require_var: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(tool) => Some(tool),
        Err(why) if std::env::var(require_var).is_ok_and(|v| v == "1") => {
            panic!("{what} is required ({require_var}=1) but not available: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {what} not available ({why})");
            None
        }
    }
}

/// `Ok` when `probe` starts and exits 0, else why not.
pub fn runs(probe: &mut Command) -> Result<(), String> {
    match probe.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("{}: {}", o.status, text(&o.stderr).trim())),
        Err(e) => Err(format!("{:?}: {e}", probe.get_program())),
    }
}

/// The Python interpreter of the interop tests: `APCSIM_PYTHON` (CI's venv), else `python3`.
pub fn python() -> OsString {
    std::env::var_os("APCSIM_PYTHON").unwrap_or_else(|| "python3".into())
}

/// Whether h5py and NumPy import (required by `APCSIM_REQUIRE_INTEROP=1`).
pub fn h5py_available() -> bool {
    let probe = runs(Command::new(python()).args(["-c", "import h5py, numpy"]));
    tool_available("h5py", "APCSIM_REQUIRE_INTEROP", probe).is_some()
}

/// A device with the window [g_min, g_max] and no non-ideality: programming lands on target.
pub fn exact_device(g_min: f64, g_max: f64) -> apcsim::hardware::params::DeviceParams {
    use apcsim::hardware::params::{DeviceParams, Flicker, ProgrammingError, ReadNoise};
    DeviceParams {
        name: "exact".into(),
        g_min_siemens: g_min,
        g_max_siemens: g_max,
        levels: None,
        programming: ProgrammingError::None,
        step_dtod: 0.0,
        devices_per_weight: 1,
        stuck_off_fraction: 0.0,
        stuck_on_fraction: 0.0,
        drift: None,
        read_noise: ReadNoise {
            thermal: false,
            white_per_root_hertz: 0.0,
            flicker: Flicker::None,
            temperature_kelvin: 300.0,
        },
    }
}

/// One short epoch of the small digits design: 200 training samples (mini-batches of 32: six
/// of 32 and one of 8) and 100 test samples.
pub const SHORT_TRAIN: [&str; 6] = [
    "--set",
    "train.epochs=1",
    "--set",
    "train.train_samples=200",
    "--set",
    "train.test_samples=100",
];

/// `apcsim train circuits/digits_small.toml` with `extra` into `out`.
pub fn train_small(extra: &[&str], out: &Path) -> Output {
    let design = repo_path("circuits/digits_small.toml");
    let mut args: Vec<OsString> = vec!["train".into(), design.into()];
    args.extend(extra.iter().map(OsString::from));
    args.extend(["--out".into(), out.as_os_str().to_owned()]);
    apcsim(&args).output().unwrap()
}
