//! The README's main command, end to end in a temporary folder.

use std::path::Path;
use std::process::Command;

#[test]
fn main_job_runs_on_the_shipped_case_and_creates_its_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/reference/tanh_mupc_skips.h5");
    let out = dir.path().join("runs/nested/out.h5");
    let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .arg("reference")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.is_file());
    // Both runs are reported with their statistics, and the equilibrium run converged.
    let eq = stdout
        .lines()
        .find(|l| l.starts_with("equilibrium"))
        .expect("an equilibrium line");
    assert!(eq.contains("dop853") && eq.contains("true"), "{eq}");
    assert!(stdout.lines().any(|l| l.starts_with("euler ")));
    // Every dataset of the shipped case is compared, none left out.
    for ds in [
        "ffwd/z1",
        "euler/z3",
        "equilibrium/energy",
        "grads/pc/W3",
        "metrics/cos_sim",
    ] {
        assert!(stdout.contains(ds), "{ds} missing from\n{stdout}");
    }
}

#[test]
fn help_lists_the_reference_command() {
    let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("reference"));
}
