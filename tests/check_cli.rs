//! `apcsim schema` and `apcsim check` on usable designs, end to end in a temporary folder.

use common::{apcsim, text};
use std::path::Path;
use std::process::Output;

mod common;

#[test]
fn the_printed_schema_is_a_design_that_checks() {
    let out = apcsim(["schema"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = apcsim(["check", path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn check_summarises_each_example_design() {
    for (file, expect) in [
        ("circuits/digits_rram.toml", "rram_hfo2"),
        ("circuits/linear_residual.toml", "rk4 dt 10ns"),
        ("circuits/tiny.toml", "2x2 tiles"),
    ] {
        let out = apcsim(["check", file]).output().unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(stdout.starts_with(&format!("{file}: ok")), "{stdout}");
        assert!(stdout.contains(expect), "{file}: {stdout}");
    }
}

#[test]
fn check_applies_overrides_in_order_and_prints_json() {
    let out = apcsim([
        "check",
        "circuits/digits_rram.toml",
        "--set",
        "device.levels=32",
        "--set",
        "device.levels=64",
        "--set",
        "dynamics.tau_z=200ns",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["device"]["levels"], 64);
    assert_eq!(json["values"]["dynamics"]["tau_z_seconds"], 200e-9);
    assert_eq!(json["origins"]["device.levels"], "--set device.levels=64");
    assert_eq!(json["origins"]["network.hidden"], "file");
    assert_eq!(
        json["origins"]["device.g_min_siemens"],
        "preset circuits/devices/rram_hfo2.toml"
    );
}

#[test]
fn a_design_can_name_its_own_preset_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("devices")).unwrap();
    std::fs::write(
        dir.path().join("devices/mine.toml"),
        "# my device (numbers from my own measurements)\ng_min = \"2uS\"\ng_max = \"20uS\"\nlevels = 8\n",
    )
    .unwrap();
    let design = dir.path().join("design.toml");
    std::fs::write(
        &design,
        "[device]\npreset = \"devices/mine.toml\"\nlevels = 16\n",
    )
    .unwrap();
    let out = apcsim(["check", design.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["values"]["device"]["g_min_siemens"], 2e-6);
    assert_eq!(json["values"]["device"]["levels"], 16);
    assert!(Path::new(&design).is_file());
}

/// A value of ten megabytes is quoted back shortened, not whole: the error stays one short
/// line that says how long the value was.
#[test]
fn a_huge_value_is_not_echoed_whole() {
    let huge = "x".repeat(10_000_000);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("preset", format!("device = \"{huge}\"\n")),
        ("unit", format!("[dynamics]\ntau_z = \"5{huge}\"\n")),
        ("key", format!("[device]\n{huge} = 1\n")),
        ("section", format!("[{huge}]\n")),
        ("choice", format!("[data]\nsource = \"{huge}\"\n")),
        ("levels", format!("[device]\nlevels = \"{huge}\"\n")),
    ];
    for (name, text) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = apcsim(["check", path.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let head: String = err.chars().take(300).collect();
        assert_eq!(out.status.code(), Some(2), "{name}: {head}");
        assert_eq!(err.lines().count(), 1, "{name}");
        assert!(err.len() < 400, "{name}: {} bytes: {head}", err.len());
        assert!(err.contains("… (10000000 bytes)"), "{name}: {err}");
    }
}

/// `check`, then `run` into a fresh folder, of `design`: check's stderr, run's output, and
/// whether run wrote its folder.
fn check_then_run(design: &[&str]) -> (String, Output, bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let check = apcsim([&["check"], design].concat()).output().unwrap();
    let line = String::from_utf8_lossy(&check.stderr).into_owned();
    assert_eq!(check.status.code(), Some(2), "{line}");
    let run = apcsim([&["run"], design, &["--out", out.to_str().unwrap()]].concat())
        .output()
        .unwrap();
    (line, run, out.exists())
}

/// `run` refuses a design `check` refuses, before running, with the same located line: an
/// error amplifier so fast that the design's step is unstable on the error nodes.
#[test]
fn run_refuses_an_unstable_step_as_check_does() {
    let (line, run, wrote) = check_then_run(&[
        "circuits/tiny.toml",
        "--set",
        "periphery.error_amp_bandwidth=10GHz",
    ]);
    assert!(
        line.starts_with(
            "error: <--set periphery.error_amp_bandwidth=10GHz>:1:31: \
             periphery.error_amp_bandwidth: dt = 100ps is more than 2 tau_e = 31.831ps"
        ),
        "{line}"
    );
    assert!(
        line.contains("dynamics.dt is set at circuits/tiny.toml:34:6"),
        "{line}"
    );
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&run.stderr), line);
    assert!(!wrote, "a refused run writes nothing");
}

/// A run whose traces alone need petabytes is refused by `check` and by `run`, before anything
/// is allocated, naming the key that drives their size.
#[test]
fn check_and_run_refuse_a_design_whose_traces_cannot_fit() {
    let (line, run, wrote) = check_then_run(&[
        "circuits/tiny.toml",
        "--set",
        "network.hidden=[1000000]",
        "--set",
        "run.trace_points=100000000",
    ]);
    assert!(
        line.starts_with("error: <--set run.trace_points=100000000>:1:18: run.trace_points: "),
        "{line}"
    );
    assert!(
        line.contains("needs about") && line.contains("(traces "),
        "{line}"
    );
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&run.stderr), line);
    assert!(!wrote, "a refused run writes nothing");
}
