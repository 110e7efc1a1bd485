//! The README's main command, end to end in a temporary folder.

use common::{apcsim, repo_path, text};

mod common;

#[test]
fn main_job_runs_on_the_shipped_case_and_creates_its_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo_path("circuits/reference/tanh_mupc_skips.h5");
    let out = dir.path().join("runs/nested/out.h5");
    let o = apcsim(["reference"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
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
    let o = apcsim(["--help"]).output().unwrap();
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("reference"));
}

/// `apcsim check` prints the mapping of a shipped design and, with --gradient, the alignment of
/// the hardware update; the ideal-device preset maps every weight back to itself.
#[test]
fn check_prints_the_mapping_and_the_gradient_check() {
    let design = repo_path("circuits/tiny.toml");
    let o = apcsim(["check"])
        .arg(&design)
        .args([
            "--set",
            "crossbar.wire_resistance=0ohm",
            "--set",
            "device.levels=continuous",
            "--set",
            "periphery.dac_bits=0",
            "--set",
            "periphery.adc_bits=0",
            "--gradient",
        ])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("total:") && out.contains("tiles"), "{out}");
    // Ideal devices and wires: the forward and backward weight errors are rounding only.
    let errors: Vec<f64> = out
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() == 9).then(|| [cols[7], cols[8]])
        })
        .flatten()
        .map(|v| v.parse::<f64>().unwrap())
        .collect();
    assert!(!errors.is_empty(), "{out}");
    assert!(errors.iter().all(|&e| e < 1e-14), "{errors:?}");
    let ideal = out.lines().find(|l| l.contains("ideal circuit")).unwrap();
    let eff = out
        .lines()
        .find(|l| l.contains("effective weights"))
        .unwrap();
    let cos = |l: &str| -> f64 {
        l.split_whitespace()
            .skip_while(|w| !w.contains("BP"))
            .find_map(|w| w.parse().ok())
            .unwrap()
    };
    assert!((cos(ideal) - cos(eff)).abs() < 1e-9, "{ideal}\n{eff}");
}

#[path = "cli/util.rs"]
mod util;

#[path = "cli/exit_codes.rs"]
mod exit_codes;

#[path = "cli/outdir.rs"]
mod outdir;

#[path = "cli/progress.rs"]
mod progress;

#[path = "cli/version.rs"]
mod version;

#[path = "cli/device.rs"]
mod device;
