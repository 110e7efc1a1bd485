//! The energy and time of a training step, the full-transient mode and train's report.html:
//! the digital BP step against its closed form, the step's energy as the sum of its parts, the
//! inference between two transients carried per sample, the transient's settled state as
//! PC's equilibrium (F there is F's minimum to second order), training bit-identical whatever
//! the thread count, and the report with every figure.

use apcsim::config::{self, LoadOptions};
use apcsim::io::h5::H5Reader;
use apcsim::study::train::data::{columns, epoch_order};
use apcsim::study::train::{plan, train};
use std::path::Path;

mod common;

use common::train_small;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The digital BP step is its closed form: widths 64-8-8-10 take 656 forward, 144 backward
/// (no delta for the input) and 656 weight-gradient MACs per sample, at 4.6 pJ each
/// (periphery.digital_mac_energy's default); a hardware step's energy is the sum of its parts
/// and its time the inference's and the update's; a step between two transients carries the
/// first step's inference per sample.
#[test]
fn a_step_costs_the_sum_of_its_parts_against_the_digital_closed_form() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::assert_ok(&train_small(&common::SHORT_TRAIN, &out));
    let r = json(&out.join("report.json"));
    let macs = 656.0 + 144.0 + 656.0;
    let digital = macs * (200.0 / 7.0) * 4.6e-12;
    let d = r["digital_bp_step"]["joules"].as_f64().unwrap();
    assert!((d - digital).abs() <= 1e-12 * digital, "{d} vs {digital}");
    let time = macs * (200.0 / 7.0) * 0.1026e-12;
    let t = r["digital_bp_step"]["seconds"].as_f64().unwrap();
    assert!((t - time).abs() <= 1e-12 * time, "{t} vs {time}");
    for rule in ["pc_hardware", "bp_hardware"] {
        let e = &r["energy_per_step"][rule];
        let total = e["joules"].as_f64().unwrap();
        let parts: f64 = e["by_component"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.as_str() != "device_joule_heat")
            .map(|(_, v)| v.as_f64().unwrap())
            .sum();
        assert!(
            total > 0.0 && (total - parts).abs() <= 1e-12 * total,
            "{rule}: {e}"
        );
        let ratio = e["ratio_to_digital_bp"].as_f64().unwrap();
        assert!((ratio - total / d).abs() <= 1e-12 * ratio, "{rule}");
        let tm = &r["time_per_step"][rule];
        let sum = tm["inference"].as_f64().unwrap() + tm["update"].as_f64().unwrap();
        let s = tm["seconds"].as_f64().unwrap();
        assert!(s > 0.0 && (s - sum).abs() <= 1e-12 * s, "{rule}: {tm}");
    }
    let h = H5Reader::open(&out.join("train.h5")).unwrap();
    let measured = h.array("steps/pc_hardware/transient").unwrap().data;
    assert_eq!(measured, vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let by = h
        .array("steps/pc_hardware/inference_joules_by_component")
        .unwrap();
    let cols = by.shape[1];
    for c in 0..cols {
        let (first, last) = (by.data[c] / 32.0, by.data[6 * cols + c] / 8.0);
        assert!(
            (first - last).abs() <= 1e-12 * first.abs(),
            "component {c}: {first} vs {last} per sample"
        );
    }
}

/// train.inference and train.transient_every are refused when unusable, naming the key.
#[test]
fn unusable_transient_keys_are_refused() {
    for (set, key) in [
        ("train.inference=\"bogus\"", "inference"),
        ("train.transient_every=0", "transient_every"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = train_small(&["--set", set], &out);
        let stderr = common::text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(key), "{set}: {stderr}");
        assert!(!out.join("train.h5").exists());
    }
}

/// The small digits design on ideal converters and amplifiers, noise off, with `extra`.
fn quiet_design(extra: &[&str]) -> apcsim::config::Circuit {
    let path = common::repo_path("circuits/digits_small.toml");
    let mut sets = vec![
        "periphery.dac_bits=0",
        "periphery.adc_bits=0",
        "periphery.open_loop_gain=inf",
    ];
    sets.extend_from_slice(extra);
    config::load(&path, &sets, &LoadOptions::default()).unwrap()
}

/// PC on the hardware's first step with `train.inference = mode` and a transient every step:
/// (F at the equilibrium it used, the step's cosine similarity with BP).
fn first_pc_step(mode: &str) -> (f64, f64) {
    let inference = format!("train.inference=\"{mode}\"");
    let circuit = quiet_design(&[&inference, "train.transient_every=1"]);
    let (net, data) = plan::prepare(&circuit).unwrap();
    let s = plan::schedule(&circuit);
    let order = epoch_order(data.train.size(), 0, s.shuffle, s.seed);
    let batch = columns(&data.train, &order[..s.batch]);
    let mut learners = plan::learners(&circuit, &net).unwrap();
    let pc = &mut learners[0];
    assert_eq!(pc.name(), "pc_hardware");
    let r = pc.step(&batch, 0).unwrap();
    assert!(r.cost.is_some_and(|c| c.measured));
    (r.energy, r.alignment.overall)
}

/// The transient's settled state drives the update in `transient` mode: F there is at least
/// F at Newton's equilibrium (its minimum; rounding aside) and above it only by the
/// second-order gap of a state within the run's steady tolerance (settle_tol / 100 = 1e-5 of
/// the range per tau_z: F - F* ~ |dz|^2, far below 1e-4 relative); the update points where
/// the equilibrium's does.
#[test]
fn the_transient_mode_updates_from_the_settled_circuit() {
    let (f_eq, cos_eq) = first_pc_step("equilibrium");
    let (f_tr, cos_tr) = first_pc_step("transient");
    let gap = (f_tr - f_eq) / f_eq;
    assert!(
        (-1e-12..=1e-4).contains(&gap),
        "F {f_tr} vs {f_eq}: {gap:e}"
    );
    assert!((cos_tr - cos_eq).abs() <= 1e-2, "cos {cos_tr} vs {cos_eq}");
}

/// Three steps of all four learners (inference, transients, updates) give bit-identical
/// weights and costs on one thread and on three.
#[test]
fn training_is_bit_identical_whatever_the_threads() {
    let circuit = quiet_design(&[
        "train.train_samples=96",
        "train.test_samples=10",
        "train.epochs=1",
        "train.transient_every=2",
    ]);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (net, data) = plan::prepare(&circuit).unwrap();
            let mut learners = plan::learners(&circuit, &net).unwrap();
            let rec = train(
                &mut learners,
                &data,
                &plan::schedule(&circuit),
                &mut |_, _| {},
            )
            .unwrap();
            let weights: Vec<Vec<f64>> = learners
                .iter()
                .flat_map(|l| l.network().weights().to_vec())
                .map(|w| w.as_slice().to_vec())
                .collect();
            let costs: Vec<_> = rec.steps.iter().flatten().map(|s| s.cost).collect();
            (weights, costs)
        })
    };
    let (w1, c1) = run(1);
    let (w3, c3) = run(3);
    assert!(w1
        .iter()
        .flatten()
        .zip(w3.iter().flatten())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(c1, c3);
    assert!(c1.iter().any(|c| c.is_some()));
}

/// report.html carries the learning curves, the alignment of every learner that is not BP
/// itself, the energy per step and the conductance histograms inline, each also an SVG file
/// that parses.
#[test]
fn the_command_writes_the_report_with_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::assert_ok(&train_small(&common::SHORT_TRAIN, &out));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut files = vec![
        "test_accuracy.svg".to_string(),
        "test_loss.svg".into(),
        "energy_per_step.svg".into(),
    ];
    for rule in ["pc_hardware", "bp_hardware", "pc_ideal"] {
        files.push(format!("cos_sim_{rule}.svg"));
        files.push(format!("norm_ratio_{rule}.svg"));
    }
    for rule in ["pc_hardware", "bp_hardware"] {
        files.push(format!("conductances_{rule}.svg"));
    }
    for f in &files {
        let svg = std::fs::read_to_string(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    assert_eq!(
        html.matches("<svg").count(),
        files.len(),
        "one chart per figure"
    );
}
