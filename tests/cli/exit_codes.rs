//! One exit-code policy: 0 ok, 1 I/O, 2 unusable input, 3 diverged (tests/analog.rs runs a
//! diverging design), 4 spice-check timeout, each with one `error:` line; and one stdout writer.

use super::util::*;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn code_2_for_unusable_input() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(
        &[
            "check",
            &repo("circuits/tiny.toml"),
            "--set",
            "device.levls=3",
        ],
        tmp.path(),
    );
    let line = fails(&o, 2);
    assert!(line.contains("device.levls"), "{line}");
}

/// Writing stdout fails (a full disk): exit 1 and the error said once, for a command whose
/// output is one write (schema) and for one that prints many lines (run).
#[test]
fn code_1_for_an_output_that_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        vec!["schema"],
        vec!["run", &repo("circuits/tiny.toml"), "--out", "r"][..].to_vec(),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
            .args(&args)
            .current_dir(tmp.path())
            .stdout(full())
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {err}");
        assert!(errors[0].contains("standard output"), "{err}");
    }
    // The run's files were written before its report.
    assert!(tmp.path().join("r/report.json").is_file());
}

/// A reader that goes away ends the output quietly: exit 0, nothing on stderr.
#[test]
fn a_closed_pipe_is_not_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .arg("schema")
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

/// A fake ngspice that never finishes: the timeout is the way out, with code 4.
#[test]
fn code_4_for_a_spice_check_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("ngspice");
    std::fs::write(&exe, "#!/bin/sh\nexec sleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .args([
            "spice-check",
            &repo("circuits/tiny.toml"),
            "--timeout",
            "0.2",
        ])
        .env("APCSIM_NGSPICE", &exe)
        .env("TMPDIR", tmp.path())
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let line = fails(&o, 4);
    assert!(line.contains("0.2 s"), "{line}");
}

/// The same fault, the same code, whichever command meets it: a closed-form equilibrium asked
/// of a nonlinear network is unusable input (2).
#[test]
fn a_closed_form_of_a_nonlinear_network_is_input() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(
        &[
            "reference",
            &repo("circuits/reference/tanh_mupc_skips.h5"),
            "--solver",
            "closed-form",
            "--out",
            "o.h5",
        ],
        tmp.path(),
    );
    fails(&o, 2);
    assert!(!Path::new(&tmp.path().join("o.h5")).exists());
}
