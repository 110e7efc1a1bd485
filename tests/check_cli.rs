//! `apcsim schema` and `apcsim check` on usable designs, end to end in a temporary folder.

use common::{apcsim, text};
use std::path::Path;

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
