//! Input and output: HDF5 files (the reference layout of docs/design.md §4) and atomic writes.

pub mod data;
pub mod dataset;
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

/// Checks, before any work is done, that [`write_atomic`] can write a file at `path`: `path` is
/// not a folder, and the folder it goes in exists or can be created (its nearest existing
/// ancestor is a folder) and takes a new file (tried with a temporary file, removed at once).
/// The error says what is wrong, without naming `path`, which the caller names.
pub fn check_writable_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a folder, not a file".into());
    }
    let Some(name) = path.file_name() else {
        return Err("names no file".into());
    };
    let folder = path
        .ancestors()
        .skip(1)
        .find(|a| !a.as_os_str().is_empty() && a.exists())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(format!(
            "{} is not a folder, so the file cannot go there",
            folder.display()
        ));
    }
    let probe = folder.join(temporary_name(&name.to_string_lossy(), std::process::id()));
    std::fs::File::create(&probe)
        .map_err(|e| format!("cannot create a file in {}: {e}", folder.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
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

    #[test]
    fn writable_file_paths_are_told_from_unusable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        for ok in [
            dir.path().join("new.h5"),
            file.clone(),
            dir.path().join("missing/deeper/out.h5"),
        ] {
            assert_eq!(check_writable_file(&ok), Ok(()), "{}", ok.display());
        }
        assert!(check_writable_file(dir.path())
            .unwrap_err()
            .contains("folder"));
        let under_file = file.join("out.h5");
        let e = check_writable_file(&under_file).unwrap_err();
        assert!(e.contains(&file.display().to_string()), "{e}");
        let e = check_writable_file(&file.join("sub/out.h5")).unwrap_err();
        assert!(e.contains(&file.display().to_string()), "{e}");
        // Nothing is left behind, and no missing folder is created.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
