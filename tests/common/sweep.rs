//! Two sweep folders compared: what two runs of one sweep (sharded and merged, or not) may
//! differ in, and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The fields of points.jsonl that vary between two runs of one sweep: the timings, which the
/// README names (its points.jsonl row).
pub const TIMINGS: [&str; 3] = ["wall_seconds", "cpu_seconds", "report.wall_seconds"];

/// The JSON fields (`report.wall_seconds`) whose values differ between two folders'
/// points.jsonl, line by line.
pub fn varying_fields(a: &Path, b: &Path) -> BTreeSet<String> {
    fn walk(path: &str, x: &serde_json::Value, y: &serde_json::Value, out: &mut Vec<String>) {
        match (x, y) {
            (serde_json::Value::Object(p), serde_json::Value::Object(q)) => {
                let mut keys: Vec<&String> = p.keys().chain(q.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        &sub,
                        p.get(k).unwrap_or(&null),
                        q.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if x != y => out.push(path.to_string()),
            _ => {}
        }
    }
    let read = |d: &Path| std::fs::read_to_string(d.join("points.jsonl")).unwrap();
    let (ta, tb) = (read(a), read(b));
    assert_eq!(ta.lines().count(), tb.lines().count());
    let mut out = Vec::new();
    for (la, lb) in ta.lines().zip(tb.lines()) {
        let (x, y) = (
            serde_json::from_str(la).unwrap(),
            serde_json::from_str(lb).unwrap(),
        );
        walk("", &x, &y, &mut out);
    }
    out.into_iter().collect()
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `a` and `b` hold the same sweep: the same files, each byte for byte the same, but
/// points.jsonl, whose lines may differ only in the [`TIMINGS`].
pub fn assert_same_files_but_timings(a: &Path, b: &Path) {
    let files = files_under(a);
    assert_eq!(files, files_under(b), "{} and {}", a.display(), b.display());
    assert!(
        files.iter().any(|f| f.ends_with("points.jsonl")),
        "{files:?}"
    );
    for f in &files {
        if f.as_os_str() == "points.jsonl" {
            let varying = varying_fields(a, b);
            assert!(
                varying.iter().all(|v| TIMINGS.contains(&v.as_str())),
                "points.jsonl fields that differ: {varying:?}"
            );
        } else {
            let (x, y) = (std::fs::read(a.join(f)), std::fs::read(b.join(f)));
            assert!(x.unwrap() == y.unwrap(), "{} differs", f.display());
        }
    }
}
