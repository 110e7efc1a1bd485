//! `apcsim run` end to end in a temporary folder: the shipped designs complete, the outputs are
//! whole and readable (by apcsim and by h5py), bad input exits 2 and writes nothing, a diverging
//! run exits 3 and writes its report and the traces up to the divergence.

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
    // The supply's components add up to the total; the device heat is a part of the drivers'.
    let by_comp: f64 = e["by_component_joules"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "device_joule_heat")
        .map(|(_, v)| v.as_f64().unwrap())
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
    assert_eq!(
        p.shape,
        vec![t.data.len(), apcsim::analog::Component::COUNT]
    );
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
            "device.read_noise_white=3e-6",
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

/// Newton-Krylov finds an equilibrium; `run` integrates a transient: `--set
/// dynamics.solver=newton` is refused with one line that says why, and nothing is written.
#[test]
fn newton_as_the_run_solver_exits_2_saying_why() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(["run", "--set", "dynamics.solver=\"newton\""])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("dynamics.solver"), "{err}");
    assert!(
        err.contains("equilibrium, not the circuit's transient"),
        "{err}"
    );
    assert!(!err.contains("unknown value"), "{err}");
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

/// A design that diverges: a huge output precision makes the flow stiff (fastest rate ~1e4
/// per tau_z), and forward Euler at dt = tau_z / 10 multiplies that mode by ~1e3 a step.
const DIVERGING_DESIGN: &str = r#"
[network]
input = 3
hidden = [4, 4]
output = 2
activation = "linear"
parameterisation = "sp"
skips = false
output_precision = 1e4

[device]
preset = "ideal"

[dynamics]
tau_z = "100ns"
tau_e = 0
solver = "euler"
dt = "10ns"
t_max = "2us"
noise = false

[data]
source = "gaussian"

[run]
batch = 4
"#;

/// `apcsim run` on a diverging design exits with code 3 and one line naming the layer, the
/// node and the simulated time, and leaves something to look at: report.json with status
/// "diverged" and the error's data, and traces.h5 with the output points recorded before the
/// divergence (every one finite and within the divergence bound), both whole.
#[test]
fn a_diverging_run_exits_3_with_one_line_a_report_and_the_traces_before() {
    use apcsim::measure::report::{Outcome, RunReport};
    let tmp = tempfile::tempdir().unwrap();
    let design = tmp.path().join("diverging.toml");
    std::fs::write(&design, DIVERGING_DESIGN).unwrap();
    let out = tmp.path().join("out");
    let o = apcsim([
        "run",
        design.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .current_dir(tmp.path())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    for word in ["diverged", "layer ", "node ", "t = ", "tau_z"] {
        assert!(line.contains(word), "{line}");
    }
    let names: Vec<String> = files(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json", "traces.h5"]);

    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert_eq!(report(&out)["status"], "diverged");
    let r = RunReport::from_json(&text).expect("report.json reads as a run report");
    let Outcome::Diverged { divergence: d } = &r.outcome else {
        panic!("not a diverged report: {text}");
    };
    assert!(line.ends_with(&d.message), "{line} / {}", d.message);
    assert_eq!(d.kind, "diverged");
    let hidden = 1..=2;
    assert!(
        hidden.contains(&d.layer) && d.node < 4 && d.sample < 4,
        "{d:?}"
    );
    // Of the design: tau_z = 100 ns, dt = 10 ns, t_max = 2 us.
    let (tau_z, dt) = (100e-9, 10e-9);
    let steps = d.time_seconds / dt;
    assert!(steps >= 1.0 && d.time_seconds <= 2e-6, "{d:?}");
    assert!(
        (steps - steps.round()).abs() < 1e-9,
        "a whole number of steps: {d:?}"
    );
    assert!(
        (d.time_tau_z - d.time_seconds / tau_z).abs() < 1e-12,
        "{d:?}"
    );
    assert!(d.value.abs() > apcsim::analog::sim::DIVERGENCE_BOUND || d.value.is_nan());
    assert_eq!((r.batch, r.mapping.len()), (4, 3));

    let h = H5Reader::open(&out.join("traces.h5")).expect("traces.h5 reads");
    let t = h.array("time_seconds").unwrap().data;
    assert!(!t.is_empty() && t[0] == 0.0, "{t:?}");
    assert!(
        t.iter().all(|&x| x < d.time_seconds),
        "{t:?} not before {d:?}"
    );
    for l in 1..=2 {
        let z = h.array(&format!("z/layer_{l}")).unwrap();
        assert_eq!(z.shape, vec![t.len(), 4, 4]);
        let bound = apcsim::analog::sim::DIVERGENCE_BOUND;
        assert!(
            z.data.iter().all(|v| v.abs() <= bound),
            "layer {l}: {:?}",
            z.data
        );
    }
    assert_eq!(h.array("e/layer_3").unwrap().shape, vec![t.len(), 4, 2]);
    let p = h.array("power/by_component_watts").unwrap();
    assert_eq!(p.shape, vec![t.len(), apcsim::analog::Component::COUNT]);
    assert!(h.array("conductances/layer_1/forward_plus_siemens").is_ok());
}

/// A diverging batch of three chunks: the failure reported is the earliest (in simulated time,
/// then by sample), and the report and traces are the same bytes on one thread and on two,
/// although the chunks finish in another order.
#[test]
fn a_diverging_run_reports_the_same_whatever_the_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let design = tmp.path().join("diverging.toml");
    std::fs::write(&design, DIVERGING_DESIGN).unwrap();
    let run = |threads: &str| {
        let out = tmp.path().join(format!("out-{threads}"));
        let o = apcsim([
            "run",
            design.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--set", "run.batch=40", "--set", "run.trace_samples=20"])
        .env("RAYON_NUM_THREADS", threads)
        .current_dir(tmp.path())
        .output()
        .unwrap();
        assert_eq!(
            o.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut r = report(&out);
        r["wall_seconds"] = serde_json::Value::Null;
        (r, std::fs::read(out.join("traces.h5")).unwrap(), o.stderr)
    };
    let (a, ta, ea) = run("1");
    let (b, tb, eb) = run("2");
    assert_eq!(a, b);
    assert_eq!(ea, eb);
    assert!(ta == tb, "traces.h5 differs between one and two threads");
    let h = H5Reader::open(&tmp.path().join("out-1/traces.h5")).unwrap();
    assert_eq!(h.array("samples").unwrap().data.len(), 20);
}
