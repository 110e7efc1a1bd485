//! Input and output: HDF5 files (the reference layout of docs/design.md §4) and atomic writes.

pub mod data;
pub mod h5;
pub mod outdir;
pub mod reference;

use std::io::Write;
use std::path::Path;

/// The temporary name [`write_atomic`] writes `name` under: `.NAME.tmp-PID`.
fn temporary_name(name: &str, pid: u32) -> String {
    format!(".{name}.tmp-{pid}")
}

/// Whether `name` is a temporary name of [`write_atomic`]'s (`.NAME.tmp-PID`), which a writer
/// killed mid-write leaves behind.
pub fn is_atomic_temporary(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.rsplit_once(".tmp-"))
        .is_some_and(|(file, pid)| {
            !file.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that a
/// reader never sees a half-written file and a failed write leaves no file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(temporary_name(&name, std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        assert!(is_atomic_temporary(&temporary_name("sweep.h5", 4242)));
        assert!(is_atomic_temporary(".07.h5.tmp-1"));
        for other in [
            "sweep.h5",
            ".apcsim-sweep.lock",
            "a.tmp-12",
            "..tmp-12",
            ".x.tmp-",
            ".x.tmp-12a",
            ".x.tmp",
        ] {
            assert!(!is_atomic_temporary(other), "{other}");
        }
    }
}
