//! Progress without a terminal (tests run without one): `run` prints plain lines on stderr that
//! end at 100%; Ctrl-C on a sweep says how to finish it and exits 130.

use super::util::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

#[test]
fn a_run_without_a_terminal_prints_progress_lines_that_end_at_100() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(
        &["run", &repo("circuits/tiny.toml"), "--out", "r"],
        tmp.path(),
    );
    ok(&o);
    let err = text(&o.stderr);
    let percents: Vec<f64> = err
        .lines()
        .filter_map(|l| l.strip_prefix("run: "))
        .map(|l| l.trim_start().split('%').next().unwrap().parse().unwrap())
        .collect();
    assert!(!percents.is_empty(), "no progress line: {err}");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{err}");
    assert_eq!(*percents.last().unwrap(), 100.0, "{err}");
}

/// SIGINT (as Ctrl-C sends) while a sweep runs: the hint, exit 130, the points finished so far
/// kept, and --resume finishes the sweep.
#[test]
fn an_interrupted_sweep_says_how_to_finish_it() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        &repo("circuits/tiny.toml"),
        "--grid",
        "device.levels=4,8,16,32,64,128",
        "--seeds",
        "4",
        "--jobs",
        "1",
        "--out",
        "s",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .args(args)
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    // Until the first point is done ("[1/24] point ...").
    while !said.contains("[1/") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "ended early: {said}");
        said.push_str(&line);
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    said.push_str(&rest);
    let finished = std::fs::read_to_string(tmp.path().join("s/points.jsonl")).unwrap();
    let n = finished.lines().count();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        said.contains("interrupted: rerun the same command with --resume to finish s"),
        "{said}"
    );
    assert!((1..24).contains(&n), "{n} points done: {said}");
    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = apcsim(&resume, tmp.path());
    ok(&o);
    let out = text(&o.stdout);
    assert!(out.contains(&format!("{n} resumed")), "{out}");
    let all = std::fs::read_to_string(tmp.path().join("s/points.jsonl")).unwrap();
    assert_eq!(all.lines().count(), 24);
}
