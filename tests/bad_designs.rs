//! End-to-end tests of `apcsim check` on the corpus of malformed designs in
//! `tests/data/bad_designs/`.
//!
//! Each file breaks one thing and says so in its header:
//!
//! ```text
//! # breaks: what is wrong
//! # key: the key the error must name (as written, e.g. device.levls or network.hidden[1])
//! # expect: a piece of the message (e.g. "did you mean `levels`?")
//! # args: --set device.levels=1        (optional: extra arguments of `apcsim check`)
//! ```
//!
//! The contract for a file that cannot be used (a file is untrusted input): exit code exactly 2,
//! nothing on stdout, exactly one line on stderr of the form `error: WHERE:LINE:COL: KEY: ...`
//! naming the key, and no panic.

use common::{apcsim, repo_path, text};
use std::path::{Path, PathBuf};

mod common;

struct Case {
    path: PathBuf,
    key: String,
    expect: String,
    args: Vec<String>,
}

fn header(text: &str, field: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {field}:")))
        .map(|v| v.trim().to_string())
}

fn corpus() -> Vec<Case> {
    let dir = repo_path("tests/data/bad_designs");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|path| {
            // Headers are ASCII even in the file that is deliberately not UTF-8.
            let text = text(&std::fs::read(&path).unwrap());
            let name = path.display().to_string();
            Case {
                key: header(&text, "key").unwrap_or_else(|| panic!("{name}: no `# key:` line")),
                expect: header(&text, "expect")
                    .unwrap_or_else(|| panic!("{name}: no `# expect:` line")),
                args: header(&text, "args")
                    .map(|a| a.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                path,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.path.cmp(&b.path));
    for c in &cases {
        assert!(
            header(&text(&std::fs::read(&c.path).unwrap()), "breaks").is_some(),
            "{}: no `# breaks:` line",
            c.path.display()
        );
    }
    cases
}

/// `error: ` then WHERE:LINE:COL: with LINE and COL positive numbers; returns the rest.
/// WHERE may hold colons itself (an override `<--set data.source=hdf5:x.h5>`), so every colon
/// is tried.
fn after_location(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("error: ")?;
    let positive = |s: &str| s.parse::<u64>().is_ok_and(|n| n > 0) && !s.starts_with('+');
    rest.match_indices(':').find_map(|(i, _)| {
        let mut parts = rest[i + 1..].splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(l), Some(c), Some(after)) if i > 0 && positive(l) && positive(c) => {
                after.strip_prefix(' ')
            }
            _ => None,
        }
    })
}

#[test]
fn the_corpus_is_large_enough() {
    assert!(
        corpus().len() >= 30,
        "the issue asks for at least 30 bad designs"
    );
}

#[test]
fn every_bad_design_is_rejected_with_one_located_line_naming_its_key() {
    let mut failures = Vec::new();
    for case in corpus() {
        let out = apcsim(["check"])
            .arg(&case.path)
            .args(&case.args)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        let stdout = text(&out.stdout);
        let name = case.path.file_name().unwrap().to_string_lossy();
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit code {:?}, not 2", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".to_string());
        }
        if !stdout.is_empty() {
            problems.push(format!("printed to stdout: {stdout}"));
        }
        let lines: Vec<&str> = stderr.lines().collect();
        if lines.len() != 1 {
            problems.push(format!("{} lines on stderr", lines.len()));
        }
        let line = lines.first().copied().unwrap_or("");
        match after_location(line) {
            None => problems.push("no WHERE:LINE:COL: location".to_string()),
            Some(rest) => {
                if !case.key.is_empty() && !rest.starts_with(&format!("{}: ", case.key)) {
                    problems.push(format!("does not name the key `{}`", case.key));
                }
            }
        }
        if !line.contains(&case.expect) {
            problems.push(format!("does not say `{}`", case.expect));
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n    {line}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn misspelt_keys_get_a_suggestion() {
    let misspelt: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| {
            let name = c.path.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("unknown_key") || name == "unknown_section.toml"
        })
        .collect();
    assert!(misspelt.len() >= 4);
    for c in misspelt {
        assert!(c.expect.contains("did you mean"), "{}", c.path.display());
    }
}

#[test]
fn the_error_locates_the_offending_line() {
    // unknown_key_misspelt.toml: `levls` is on line 7, column 1.
    let path = Path::new("tests/data/bad_designs/unknown_key_misspelt.toml");
    let out = apcsim(["check", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(
        text(&out.stderr).trim_end(),
        "error: tests/data/bad_designs/unknown_key_misspelt.toml:7:1: device.levls: unknown key \
         `levls` in [device]; did you mean `levels`?"
    );
}

#[test]
fn a_missing_design_file_is_unusable_input() {
    let out = apcsim(["check", "/nonexistent/design.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: /nonexistent/design.toml: cannot read"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}
