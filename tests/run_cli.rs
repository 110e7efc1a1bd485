//! `apcsim run` end to end in a temporary folder: the shipped designs complete, the outputs are
//! whole and readable (by apcsim and by h5py), bad input exits 2 and writes nothing.

use apcsim::io::h5::H5Reader;
use common::{apcsim, repo_path, text};
use std::path::{Path, PathBuf};

mod common;

fn design(name: &str) -> String {
    repo_path("circuits").join(name).display().to_string()
}

fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn tiny_design_runs_and_reports_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = apcsim(["run", &design("tiny.toml"), "--out", out.to_str().unwrap()])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("settling"), "{stdout}");
    let r = report(&out);
    assert_eq!(r["batch"], 4);
    assert!(r["settling"]["settled"].as_bool().unwrap());
    let worst = r["settling"]["worst_seconds"].as_f64().unwrap();
    let t_max = r["config"]["values"]["dynamics"]["t_max_seconds"]
        .as_f64()
        .unwrap();
    assert!(worst > 0.0 && worst < t_max, "worst settling {worst}");
    // Energy is additive: layers and components sum to the same total.
    let e = &r["energy"];
    let total = e["per_inference_joules"].as_f64().unwrap();
    let by_layer: f64 = e["by_layer_joules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    let by_comp: f64 = e["by_component_joules"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    // Sums of a few dozen positive terms in another order: rounding of order 1e-15.
    assert!((by_layer - total).abs() <= 1e-12 * total);
    assert!((by_comp - total).abs() <= 1e-12 * total);
    for k in [
        "hardware_vs_bp_ideal_weights",
        "hardware_vs_bp_effective_weights",
        "ideal_circuit_vs_bp",
    ] {
        let c = r["gradients"][k]["cos_sim"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&c), "{k}: {c}");
        assert_eq!(
            r["gradients"][k]["cos_sim_per_layer"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
    assert_eq!(r["apcsim_version"], env!("CARGO_PKG_VERSION"));
    // traces.h5: what the README says is there.
    let h = H5Reader::open(&out.join("traces.h5")).unwrap();
    let t = h.array("time_seconds").unwrap();
    let z = h.array("z/layer_1").unwrap();
    assert_eq!(z.shape, vec![t.data.len(), 4, 3]);
    let p = h.array("power/by_component_watts").unwrap();
    assert_eq!(p.shape, vec![t.data.len(), 9]);
    assert!(h.array("grads/pc_hardware/W0").is_ok());
    assert!(h
        .array("conductances/layer_1/backward_plus_siemens")
        .is_ok());
    // Only complete files, no temporaries.
    let names: Vec<String> = files(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = tmp.path().join(name);
        let o = apcsim([
            "run",
            &design("tiny.toml"),
            "--seed",
            "9",
            "--set",
            "device.read_noise_relative=0.02",
            "--set",
            "dynamics.solver=heun",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let mut r = report(&out);
        r["wall_seconds"] = serde_json::Value::Null;
        (r, std::fs::read(out.join("traces.h5")).unwrap())
    };
    let (a, ta) = run("a");
    let (b, tb) = run("b");
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    assert_eq!(a["dynamics"]["noisy"], true);
}

#[test]
fn a_bad_design_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = apcsim([
        "run",
        &design("tiny.toml"),
        "--set",
        "dynamics.tau_z=-1us",
        "--out",
        out.to_str().unwrap(),
    ])
    .current_dir(tmp.path())
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("dynamics.tau_z"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!out.exists());
}

#[test]
fn rk4_cannot_integrate_noise() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim([
        "run",
        &design("tiny.toml"),
        "--set",
        "device.read_noise_thermal=true",
        "--set",
        "dynamics.solver=rk4",
    ])
    .current_dir(tmp.path())
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.path().join("runs").exists());
}

/// The README's first command: the embedded default design, no flags but the output folder.
#[test]
fn the_default_design_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(["run"]).current_dir(tmp.path()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let runs = files(&tmp.path().join("runs"));
    assert_eq!(runs.len(), 1);
    assert!(runs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("digits_rram-"));
    let r = report(&runs[0]);
    assert_eq!(r["batch"], 32);
    assert_eq!(r["dynamics"]["noisy"], true);
    assert!(r["settling"]["settled"].as_bool().unwrap());
    // A trained-free muPC network on ideal weights: PC close to BP; the RRAM costs some.
    let ideal = r["gradients"]["ideal_circuit_vs_bp"]["cos_sim"]
        .as_f64()
        .unwrap();
    let hw = r["gradients"]["hardware_vs_bp_ideal_weights"]["cos_sim"]
        .as_f64()
        .unwrap();
    assert!(ideal > 0.99 && hw < ideal, "ideal {ideal}, hardware {hw}");
}

/// `apcsim run ... | head`: a reader that goes away before the summary is printed is not a
/// failure; the run exits 0 with its files complete and no panic on stderr.
#[test]
fn a_closed_stdout_pipe_is_not_a_failure() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut child = apcsim(["run", &design("tiny.toml"), "--out", out.to_str().unwrap()])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apcsim starts");
    // Close the read end before the run prints anything.
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("apcsim finishes");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.join("report.json").is_file());
    assert!(out.join("traces.h5").is_file());
}
