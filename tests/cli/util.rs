//! What the command-line tests share.

pub use crate::common::text;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `apcsim ARGS` run in `cwd`.
pub fn apcsim(args: &[&str], cwd: &Path) -> Output {
    crate::common::apcsim(args)
        .current_dir(cwd)
        .output()
        .expect("apcsim runs")
}

/// A file of the repository.
pub fn repo(path: &str) -> String {
    crate::common::repo_path(path).display().to_string()
}

/// Asserts success, showing stderr otherwise.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        text(&o.stderr)
    );
}

/// Asserts exit code `code` with exactly one line on stderr, and returns it.
pub fn fails(o: &Output, code: i32) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The folders in `dir`.
pub fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}
