//! `apcsim train-table`: two short training runs of the small digits design, on two devices,
//! side by side. The table's cells are the runs' report.json values (read here on their own),
//! the figure is one SVG with a panel per device, and an unusable run is refused naming it.

mod common;

use common::{apcsim, assert_ok, text, train_small};
use serde_json::Value;
use std::path::Path;

/// Two epochs of 40 samples, tested on 20: a run of a few seconds.
const TINY: [&str; 10] = [
    "--set",
    "train.epochs=2",
    "--set",
    "train.train_samples=40",
    "--set",
    "train.test_samples=20",
    "--set",
    "train.batch=8",
    "--set",
    "train.transient_every=1000",
];

/// The row's settings of a run with [`TINY`]: its `--set`s but the device, the backward read
/// and the epochs, by key.
const TINY_SETTINGS: &str =
    "train.batch=8, train.test_samples=20, train.train_samples=40, train.transient_every=1000";

fn tiny_run(out: &Path, extra: &[&str]) -> Value {
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend(extra);
    assert_ok(&train_small(&args, out));
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn two_runs_make_a_table_and_a_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("ideal"), dir.path().join("pcm"));
    let ra = tiny_run(&a, &["--set", "device.preset=\"ideal\""]);
    let rb = tiny_run(
        &b,
        &[
            "--set",
            "device.preset=\"pcm\"",
            "--set",
            "crossbar.backward=\"separate\"",
            "--set",
            "update.dw_min_std=0",
        ],
    );
    let out = dir.path().join("table");
    let o = apcsim([
        "train-table".as_ref(),
        a.as_os_str(),
        b.join("report.json").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .output()
    .unwrap();
    assert_ok(&o);
    let md = std::fs::read_to_string(out.join("train_table.md")).unwrap();
    assert!(text(&o.stdout).contains(&md), "{}", text(&o.stdout));
    let rows: Vec<Vec<&str>> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| device") && !l.starts_with("| ---"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{md}");
    for (row, (report, device, backward, settings)) in rows.iter().zip([
        (&ra, "ideal", "shared", TINY_SETTINGS.to_string()),
        (
            &rb,
            "pcm",
            "separate",
            format!("{TINY_SETTINGS}, update.dw_min_std=0"),
        ),
    ]) {
        assert_eq!(row[..4], [device, backward, &settings, "2"], "{md}");
        let names = ["pc_hardware", "bp_hardware", "pc_ideal", "bp_float"];
        for (cell, name) in row[4..8].iter().zip(names) {
            let a = report["final"]["test_accuracy"][name].as_f64().unwrap();
            assert_eq!(*cell, format!("{:.1} %", 100.0 * a), "{name}: {md}");
        }
        let ratio = report["energy_per_step"]["pc_hardware"]["ratio_to_digital_bp"]
            .as_f64()
            .unwrap();
        assert!(ratio > 0.0 && row[8].contains('x'), "{md}");
    }
    let svg = std::fs::read_to_string(out.join("test_accuracy.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let panels = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("svg"))
        .count();
    assert_eq!(panels, 2, "a panel per device");
    // Every text of the figure, in order (a long legend entry wraps onto lines of its own).
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let all = texts.join(" ");
    for name in [
        "ideal: test accuracy",
        "pcm: test accuracy",
        "PC hardware, shared BP hardware, shared BP digital PC digital",
        "PC hardware, separate, update.dw_min_std=0",
    ] {
        assert!(all.contains(name), "{name}: {texts:?}");
    }
}

#[test]
fn an_unusable_run_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let o = apcsim(["train-table".as_ref(), missing.as_os_str()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nowhere"), "{}", text(&o.stderr));
    // A report.json of `apcsim run`, not of `apcsim train`: the missing key is named.
    let other = dir.path().join("report.json");
    std::fs::write(&other, r#"{"design": "x", "config": {"values": {}}}"#).unwrap();
    let o = apcsim(["train-table".as_ref(), other.as_os_str()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("report.json") && err.contains("config.values.device.preset"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "no output folder"
    );
}
