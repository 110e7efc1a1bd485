//! One output-folder policy: a new folder per run by default, a non-empty --out refused (exit 2)
//! unless --force (which replaces apcsim's outputs there and nothing else), a file refused, the
//! temporaries of killed runs removed, and no lock file left in a finished folder.

use super::util::*;
use std::path::Path;

fn tiny() -> String {
    repo("circuits/tiny.toml")
}

/// The smallest width x depth study, then `extra`.
fn study<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "study",
        "width-depth",
        "--widths",
        "4",
        "--depths",
        "2",
        "--seeds",
        "1",
        "--steps",
        "0",
    ];
    a.extend_from_slice(extra);
    a
}

/// The UTC stamp `secs` after the epoch, as the folder names write it (by `date`).
fn stamp(secs: u64) -> String {
    let o = std::process::Command::new("date")
        .args(["-u", "+%Y%m%d-%H%M%S", "-d", &format!("@{secs}")])
        .output()
        .unwrap();
    text(&o.stdout).trim().to_string()
}

/// Without --out, each run gets a folder of its own, even when the stamped name is taken.
#[test]
fn every_run_writes_a_new_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The folders the runs of the next minute would be named after, taken.
    for s in now..now + 60 {
        let d = tmp.path().join(format!("runs/tiny-{}", stamp(s)));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("report.json"), "theirs").unwrap();
    }
    let taken = folders(&tmp.path().join("runs"));
    for _ in 0..2 {
        ok(&apcsim(&["run", &tiny()], tmp.path()));
    }
    let now: Vec<_> = folders(&tmp.path().join("runs"));
    assert_eq!(now.len(), taken.len() + 2);
    for d in &taken {
        assert_eq!(std::fs::read(d.join("report.json")).unwrap(), b"theirs");
    }
}

/// A non-empty --out is refused with one line and left as it was; --force replaces apcsim's
/// outputs (a figure of the earlier run goes) and keeps the rest.
#[test]
fn a_non_empty_out_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("settling_layer_9.svg"), "old run").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let before = names(&out);
    let line = fails(&apcsim(&["run", &tiny(), "--out", "r"], tmp.path()), 2);
    assert!(
        line.contains("--out r is not empty") && line.contains("--force"),
        "{line}"
    );
    assert_eq!(names(&out), before);
    ok(&apcsim(
        &["run", &tiny(), "--out", "r", "--force"],
        tmp.path(),
    ));
    assert!(!out.join("settling_layer_9.svg").exists());
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert!(out.join("report.json").is_file());
}

/// `run --out FILE` is unusable input (2), as for `sweep`.
#[test]
fn an_out_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("afile"), "mine").unwrap();
    for args in [
        vec!["run", &tiny(), "--out", "afile"],
        vec!["run", &tiny(), "--out", "afile/sub"],
        vec![
            "sweep",
            &tiny(),
            "--grid",
            "device.levels=8",
            "--out",
            "afile",
        ],
        study(&["--out", "afile"]),
    ] {
        let line = fails(&apcsim(&args, tmp.path()), 2);
        assert!(line.contains("--out afile"), "{line}");
    }
    assert_eq!(std::fs::read(tmp.path().join("afile")).unwrap(), b"mine");
}

/// What a run killed in the middle of a write leaves (`.traces.h5.tmp-PID`) is removed when the
/// next run claims the folder; it does not make the folder "not empty".
#[test]
fn temporaries_of_a_killed_run_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    std::fs::create_dir_all(&out).unwrap();
    let pid = 4_000_000; // above Linux's largest pid: no live process has it
    let stale = [
        format!(".traces.h5.tmp-{pid}"),
        format!(".report.json.tmp-{pid}"),
    ];
    for f in &stale {
        std::fs::write(out.join(f), "half").unwrap();
    }
    std::fs::write(out.join(format!(".mine.tmp-{pid}")), "mine").unwrap();
    ok(&apcsim(&["run", &tiny(), "--out", "r"], tmp.path()));
    for f in &stale {
        assert!(!out.join(f).exists(), "{f} left");
    }
    assert!(out.join(format!(".mine.tmp-{pid}")).exists());
    // Nothing hidden of apcsim's stays: no temporary, no lock.
    let hidden: Vec<String> = names(&out)
        .into_iter()
        .filter(|n| n.starts_with('.') && !n.starts_with(".mine"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

/// `study` into an old study's folder: refused; with --force the old figures go.
#[test]
fn a_study_does_not_mix_with_an_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let into_s = |extra: &[&str]| {
        let mut a = vec!["--out", "s"];
        a.extend_from_slice(extra);
        apcsim(&study(&a), tmp.path())
    };
    std::fs::create_dir_all(tmp.path().join("s")).unwrap();
    std::fs::write(tmp.path().join("s/cos_sim_t5.svg"), "old").unwrap();
    fails(&into_s(&[]), 2);
    ok(&into_s(&["--force"]));
    assert!(!tmp.path().join("s/cos_sim_t5.svg").exists());
    assert!(tmp.path().join("s/study.csv").is_file());
    // Without --out: a new folder under studies/.
    let o = apcsim(&study(&[]), tmp.path());
    ok(&o);
    assert_eq!(folders(&tmp.path().join("studies")).len(), 1);
}

/// `reference --out DIR` is refused before anything is computed.
#[test]
fn reference_refuses_a_folder_as_its_output_file_first() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("d")).unwrap();
    let o = apcsim(
        &[
            "reference",
            &repo("circuits/reference/tanh_mupc_skips.h5"),
            "--out",
            "d",
        ],
        tmp.path(),
    );
    let line = fails(&o, 2);
    assert!(line.contains("--out d: is a folder"), "{line}");
    assert!(o.stdout.is_empty(), "computed first: {}", text(&o.stdout));
}

/// spice-check --keep follows the same policy (checked before ngspice is looked for).
#[test]
fn a_non_empty_keep_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("k")).unwrap();
    std::fs::write(tmp.path().join("k/notes.txt"), "mine").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .args(["spice-check", &tiny(), "--keep", "k"])
        .env("APCSIM_NGSPICE", "/nonexistent/ngspice")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let line = fails(&o, 2);
    assert!(line.contains("--keep k is not empty"), "{line}");
}

/// A finished sweep or merge leaves no lock file; merge into a non-empty folder needs --force,
/// and a sweep folder is started afresh with --force.
#[test]
fn sweeps_and_merges_leave_no_lock_and_follow_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let design = tiny();
    let sweep = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "sweep",
            &design,
            "--grid",
            "device.levels=8,16",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        apcsim(&a, tmp.path())
    };
    ok(&sweep("s", &[]));
    let lock = apcsim::study::sweep::LOCK_FILE;
    assert!(!tmp.path().join("s").join(lock).exists());
    let merge = |extra: &[&str]| {
        let mut a = vec!["merge", "s", "--out", "m"];
        a.extend_from_slice(extra);
        apcsim(&a, tmp.path())
    };
    ok(&merge(&[]));
    assert!(!tmp.path().join("m").join(lock).exists());
    fails(&merge(&[]), 2);
    ok(&merge(&["--force"]));
    assert_eq!(
        std::fs::read(tmp.path().join("s/summary.csv")).unwrap(),
        std::fs::read(tmp.path().join("m/summary.csv")).unwrap()
    );
    // A sweep folder: --resume finishes it, --force starts afresh, neither is refused.
    let line = fails(&sweep("s", &[]), 2);
    assert!(
        line.contains("--resume") && line.contains("--force"),
        "{line}"
    );
    std::fs::write(tmp.path().join("s/extra.svg"), "old").unwrap();
    ok(&sweep("s", &["--force"]));
    assert!(!Path::new(&tmp.path().join("s/extra.svg")).exists());
    assert!(!tmp.path().join("s").join(lock).exists());
}
