//! `apcsim reference` on a usable input with options that change what can be compared
//! (`--steps`, `--dt`), and with an `--out` that cannot be written.
//!
//! The input is circuits/reference/tanh_mupc_skips.h5 (JPC, 3000 Euler steps of dt 0.2, the
//! energy every 10 steps: 301 values).

use apcsim::io::h5::{Attr, H5Reader};
use common::{apcsim, reference_case, text};
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn input() -> PathBuf {
    reference_case("tanh_mupc_skips")
}

fn reference(out: &Path, extra: &[&str]) -> Output {
    apcsim(["reference"])
        .arg(input())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("running apcsim")
}

/// The summary line of `dataset` (the table's first column), if there is one.
fn row<'a>(stdout: &'a str, dataset: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(dataset))
}

/// The max-relative column of a compared dataset's line.
fn max_rel(line: &str) -> f64 {
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// `--steps 100` on a file of 3000 steps: the energy trace's first 11 values are compared (the
/// same Euler steps from the same start, so they agree to rounding), the end states of the
/// Euler run are not (and the output says why), the rest is compared as usual, and the run
/// succeeds and writes the 100-step run.
#[test]
fn fewer_steps_compare_the_common_prefix_and_say_what_was_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5");
    let o = reference(&out, &["--steps", "100"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    let energy = row(&stdout, "euler/energy_every_10_steps").expect(&stdout);
    assert!(
        energy.contains("first 11 entries (input 301, apcsim 11)"),
        "{energy}"
    );
    // Euler steps of the same dt from the same feedforward start: the rounding of two
    // implementations, as for the full trajectory (h5_interop: 1e-12).
    assert!(max_rel(energy) <= 1e-12, "{energy}");
    for l in 1..4 {
        let line = row(&stdout, &format!("euler/z{l}")).expect(&stdout);
        assert!(line.contains("not compared"), "{line}");
        assert!(
            line.contains("3000 steps") && line.contains("100 steps"),
            "{line}"
        );
    }
    for compared in [
        "ffwd/z1",
        "equilibrium/z3",
        "grads/pc/W0",
        "metrics/cos_sim",
    ] {
        let line = row(&stdout, compared).expect(&stdout);
        assert!(max_rel(line) <= 1e-9, "{line}");
    }
    let r = H5Reader::open(&out).unwrap();
    assert_eq!(r.attr("euler", "steps").unwrap(), Some(Attr::I64(100)));
    let trace = r.array("euler/energy_every_10_steps").unwrap();
    assert_eq!(trace.shape, vec![11]);
}

/// Another `--dt` makes the whole Euler trajectory incomparable (other instants), and says so;
/// the settings the file already has compare everything.
#[test]
fn another_dt_compares_no_euler_dataset_and_the_files_own_settings_compare_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5");
    let o = reference(&out, &["--dt", "0.05"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    let energy = row(&stdout, "euler/energy_every_10_steps").expect(&stdout);
    assert!(
        energy.contains("not compared") && energy.contains("dt = 0.2") && energy.contains("0.05"),
        "{energy}"
    );
    assert!(row(&stdout, "euler/z1").unwrap().contains("not compared"));
    assert!(out.is_file());

    let o = reference(&out, &["--dt", "0.2", "--steps", "3000"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    assert!(!stdout.contains("not compared"), "{stdout}");
    let energy = row(&stdout, "euler/energy_every_10_steps").expect(&stdout);
    assert!(!energy.contains("first"), "{energy}");
    assert!(max_rel(energy) <= 1e-12, "{energy}");
}

/// Runs with an `--out` that cannot be written: exit 2 before anything is computed (nothing on
/// stdout), one line naming the path.
fn refused_out(out: &Path, says: &str) {
    let o = reference(out, &[]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert_eq!(stdout, "", "computed before refusing --out:\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("--out {}", out.display())),
        "{stderr}"
    );
    assert!(stderr.contains(says), "{stderr}");
}

#[test]
fn an_out_that_cannot_be_a_file_is_refused_before_computing() {
    let dir = tempfile::tempdir().unwrap();
    refused_out(dir.path(), "folder");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    refused_out(&file.join("out.h5"), &file.display().to_string());
    refused_out(&file.join("deeper/out.h5"), "not a folder");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // A missing folder that can be created is created, as before.
    let out = dir.path().join("new/folder/out.h5");
    let o = reference(&out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.is_file());
}

/// `--solver newton` runs Newton-Krylov for the equilibrium, prints its statistics under the
/// solver's row, records the solver in the output, and lands on the file's equilibrium.
#[test]
fn solver_newton_prints_its_iterations_and_reaches_the_equilibrium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5");
    let o = reference(&out, &["--solver", "newton"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    let eq = row(&stdout, "equilibrium").expect(&stdout);
    assert_eq!(eq.split_whitespace().nth(1), Some("newton"), "{eq}");
    assert!(stdout.contains("Newton iterations"), "{stdout}");
    assert!(stdout.contains("cg iterations"), "{stdout}");
    assert!(!stdout.contains("fell back"), "{stdout}");
    for l in 1..4 {
        let line = row(&stdout, &format!("equilibrium/z{l}")).expect(&stdout);
        assert!(max_rel(line) <= 1e-8, "{line}");
    }
    let written = H5Reader::open(&out).unwrap();
    assert_eq!(
        written.attr("equilibrium", "solver").unwrap(),
        Some(Attr::Str("newton".into()))
    );
}
