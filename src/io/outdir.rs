//! Output folders: how a command claims the folder it writes into.
//!
//! One policy for every command that writes a folder (`run`, `sweep`, `merge`, `study`, and
//! `spice-check --keep`):
//! - Without `--out`, a command writes a new folder, `<parent>/<stem>-<UTC stamp>/`, with `-2`,
//!   `-3`, ... appended when that name is taken: an existing folder is never reused.
//! - A folder named with `--out` is created if missing. One that holds anything but hidden
//!   files (names starting with `.`) is refused, unless `--force`, which replaces apcsim's
//!   outputs in it: the files and folders of the command's output list are removed, then
//!   written anew; other files stay. A path that is a file, or goes through one, is refused.
//! - The folder is locked while the command writes ([`LOCK_FILE`], an advisory lock: a second
//!   apcsim writing into the same folder is refused), the temporaries that a killed writer
//!   left there (`.NAME.tmp-PID` of an output NAME, see [`super::is_atomic_temporary`]) are
//!   removed, and the lock file itself is removed when the command is done with the folder.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Held (an advisory lock) by the one apcsim command writing into a folder.
pub const LOCK_FILE: &str = ".apcsim.lock";

/// Why a folder cannot be claimed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutDirError {
    /// The path is a file, or goes through one.
    #[error("{}: {why}; choose a folder", path.display())]
    NotAFolder { path: PathBuf, why: &'static str },
    /// The folder holds files and `--force` was not given.
    #[error(
        "{} is not empty (it holds {}): choose another folder, or pass --force to replace \
         apcsim's outputs in it",
        path.display(),
        list(entries)
    )]
    NotEmpty { path: PathBuf, entries: Vec<String> },
    /// Another apcsim command holds the folder's lock.
    #[error("{}: another apcsim command is writing into this folder", path.display())]
    Busy { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// At most three names, then how many more.
fn list(entries: &[String]) -> String {
    let mut s = entries
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > 3 {
        s.push_str(&format!(" and {} more", entries.len() - 3));
    }
    s
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutDirError + '_ {
    move |source| OutDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A claimed output folder: locked until dropped, when the lock file is removed (and the folder
/// too, if the claim created it and nothing was written).
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
    lock: Option<File>,
    /// The outermost folder the claim created (the folder itself or an ancestor), if any.
    created: Option<PathBuf>,
    /// The command's outputs: names, or patterns with one `*` (`*.svg`).
    outputs: Vec<String>,
}

/// Whether `name` matches `pattern`: a name, or a pattern with one `*` standing for any text.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        }
        None => name == pattern,
    }
}

/// Refuses a path that cannot be a folder: an existing file, or a path through one.
pub fn check_path(dir: &Path) -> Result<(), OutDirError> {
    let not_a_folder = |why| OutDirError::NotAFolder {
        path: dir.to_path_buf(),
        why,
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(not_a_folder("is a file, not a folder")),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(not_a_folder("a part of the path is a file, not a folder"))
        }
        _ => Ok(()),
    }
}

/// Claims `dir` (created if missing) for a command whose outputs are `outputs`: locks it and
/// removes the stale temporaries of those outputs. What the folder already holds is the
/// caller's to judge ([`OutDir::require_empty`], [`OutDir::replace_outputs`]).
pub fn claim(dir: &Path, outputs: &[&str]) -> Result<OutDir, OutDirError> {
    check_path(dir)?;
    let created = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .last()
        .map(Path::to_path_buf);
    std::fs::create_dir_all(dir).map_err(|e| match check_path(dir) {
        Err(not_a_folder) => not_a_folder,
        Ok(()) => io_err(dir)(e),
    })?;
    let out = OutDir {
        path: dir.to_path_buf(),
        lock: Some(lock(dir)?),
        created,
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
    };
    out.remove_stale_temporaries()?;
    Ok(out)
}

/// [`claim`], then: with `force`, the outputs of an earlier run removed; without, a folder that
/// is not empty refused.
pub fn claim_fresh(dir: &Path, outputs: &[&str], force: bool) -> Result<OutDir, OutDirError> {
    let out = claim(dir, outputs)?;
    if force {
        out.replace_outputs()?;
    } else {
        out.require_empty()?;
    }
    Ok(out)
}

/// A new folder `parent/stem-<UTC stamp>` (`-2`, `-3`, ... appended while the name is taken),
/// claimed.
pub fn claim_new(parent: &Path, stem: &str, outputs: &[&str]) -> Result<OutDir, OutDirError> {
    check_path(parent)?;
    let made_parent = !parent.exists();
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let base = format!("{stem}-{}", utc_stamp());
    for n in 1.. {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let mut out = claim(&dir, outputs)?;
                out.created = Some(if made_parent {
                    parent.to_path_buf()
                } else {
                    dir
                });
                return Ok(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&dir)(e)),
        }
    }
    unreachable!("an unbounded range ends only by returning")
}

/// Opens and locks `dir/LOCK_FILE`. A writer that finished removes the file while holding its
/// lock, so a lock taken on a file no longer at the path is dropped and taken again.
fn lock(dir: &Path) -> Result<File, OutDirError> {
    let path = dir.join(LOCK_FILE);
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OutDirError::Busy {
                    path: dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        if is_at(&file, &path).map_err(io_err(&path))? {
            return Ok(file);
        }
    }
}

/// Whether the open `file` is the file at `path`.
#[cfg(unix)]
fn is_at(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(at) => Ok(open.dev() == at.dev() && open.ino() == at.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the open `file` is the file at `path` (elsewhere an open file cannot be removed).
#[cfg(not(unix))]
fn is_at(_file: &File, path: &Path) -> std::io::Result<bool> {
    Ok(path.exists())
}

impl OutDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `name` is one of the outputs.
    fn is_output(&self, name: &str) -> bool {
        self.outputs.iter().any(|o| matches(o, name))
    }

    /// The names in the folder that are not hidden, sorted.
    pub fn entries(&self) -> Result<Vec<String>, OutDirError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(io_err(&self.path))? {
            let name = entry
                .map_err(io_err(&self.path))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Refuses a folder that holds anything but hidden files.
    pub fn require_empty(&self) -> Result<(), OutDirError> {
        let entries = self.entries()?;
        if entries.is_empty() {
            return Ok(());
        }
        Err(OutDirError::NotEmpty {
            path: self.path.clone(),
            entries,
        })
    }

    /// Removes the outputs (files and folders) an earlier command left in the folder.
    pub fn replace_outputs(&self) -> Result<(), OutDirError> {
        for name in self.entries()? {
            if !self.is_output(&name) {
                continue;
            }
            let p = self.path.join(&name);
            let removed = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            removed.map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// Removes the temporaries of the outputs (`.NAME.tmp-PID`), which only a killed writer
    /// leaves: holding the lock, no live writer can be using them.
    fn remove_stale_temporaries(&self) -> Result<(), OutDirError> {
        for entry in std::fs::read_dir(&self.path).map_err(io_err(&self.path))? {
            let entry = entry.map_err(io_err(&self.path))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let target = name
                .strip_prefix('.')
                .and_then(|rest| rest.rsplit_once(".tmp-"))
                .map(|(target, _)| target);
            let ours =
                super::is_atomic_temporary(&name) && target.is_some_and(|t| self.is_output(t));
            if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                match std::fs::remove_file(entry.path()) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io_err(&entry.path())(e))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl Drop for OutDir {
    /// Removes the lock file while still holding its lock, then the folders this claim made if
    /// they are empty (a command that failed before writing anything leaves none behind).
    fn drop(&mut self) {
        if let Some(lock) = self.lock.take() {
            let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
            drop(lock);
        }
        if let Some(top) = &self.created {
            for dir in self.path.ancestors().take_while(|a| a.starts_with(top)) {
                if std::fs::remove_dir(dir).is_err() {
                    break;
                }
            }
        }
    }
}

/// The current UTC time as YYYYMMDD-HHMMSS.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    stamp_of(secs)
}

/// `secs` since 1970-01-01 00:00:00 UTC as YYYYMMDD-HHMMSS.
fn stamp_of(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUTS: &[&str] = &["report.json", "*.svg", "points"];

    #[test]
    fn stamps_are_civil_utc_dates() {
        assert_eq!(stamp_of(0), "19700101-000000");
        // 2000-02-29 12:34:56 UTC, a leap day (date -u -d @951827696).
        assert_eq!(stamp_of(951_827_696), "20000229-123456");
    }

    #[test]
    fn patterns_have_one_wildcard() {
        assert!(matches("*.svg", "energy.svg") && matches("a_*.txt", "a_0.txt"));
        assert!(!matches("*.svg", "energy.svgz") && !matches("ab*ba", "aba"));
        assert!(matches("report.json", "report.json") && !matches("report.json", "report.jso"));
    }

    #[test]
    fn a_new_folder_is_never_one_that_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let a = claim_new(tmp.path(), "d", OUTPUTS).unwrap();
        std::fs::write(a.path().join("report.json"), "{}").unwrap();
        let b = claim_new(tmp.path(), "d", OUTPUTS).unwrap();
        assert_ne!(a.path(), b.path());
        assert!(b.entries().unwrap().is_empty());
    }

    #[test]
    fn force_removes_the_outputs_only_and_the_lock_goes_with_the_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir_all(dir.join("points")).unwrap();
        for f in [
            "report.json",
            "a.svg",
            "notes.txt",
            ".report.json.tmp-77",
            ".x.tmp-77",
        ] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let e = claim_fresh(&dir, OUTPUTS, false).unwrap_err();
        assert!(matches!(e, OutDirError::NotEmpty { .. }), "{e}");
        // The refused claim removed the stale temporary of an output, and nothing else.
        assert!(!dir.join(".report.json.tmp-77").exists());
        assert!(dir.join(".x.tmp-77").exists() && dir.join("report.json").exists());
        let out = claim_fresh(&dir, OUTPUTS, true).unwrap();
        assert_eq!(out.entries().unwrap(), ["notes.txt"]);
        assert!(dir.join(LOCK_FILE).exists());
        assert!(matches!(
            claim(&dir, OUTPUTS).unwrap_err(),
            OutDirError::Busy { .. }
        ));
        drop(out);
        assert!(!dir.join(LOCK_FILE).exists());
        assert!(dir.join("notes.txt").exists());
    }

    #[test]
    fn a_created_folder_left_empty_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        drop(claim(&dir, OUTPUTS).unwrap());
        assert!(!tmp.path().join("a").exists());
        drop(claim_new(&tmp.path().join("runs"), "d", OUTPUTS).unwrap());
        assert!(!tmp.path().join("runs").exists());
        let kept = claim(&dir, OUTPUTS).unwrap();
        std::fs::write(dir.join("report.json"), "{}").unwrap();
        drop(kept);
        assert!(dir.join("report.json").exists());
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, "x").unwrap();
        for p in [f.clone(), f.join("sub")] {
            let e = claim(&p, OUTPUTS).unwrap_err();
            assert!(matches!(e, OutDirError::NotAFolder { .. }), "{e}");
        }
    }
}
