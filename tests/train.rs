//! `apcsim train` on the ideal path: its digital learners take the steps of `reference`'s
//! training trajectories (one code path), so on a JPC training case (full batch, no shuffle,
//! the file's learning rate) they reproduce `reference` to 1e-12 and JPC to 1e-8; the command
//! writes its outputs whole.

use apcsim::io::h5::H5Reader;
use apcsim::io::reference::{read_reference, to_matrix};
use apcsim::network::Batch;
use apcsim::study::train::data::TrainData;
use apcsim::study::train::plan::{digital_learners, equilibrium};
use apcsim::study::train::{full_batch_descent, train, Schedule};
use nalgebra::DMatrix;
use std::path::Path;
use std::process::Output;

mod common;

use common::train_small;

const CASES: [&str; 2] = ["train_lin_mupc_skips", "train_tanh_mupc_skips"];

fn case_path(name: &str) -> std::path::PathBuf {
    common::repo_path("tests/data/reference/training").join(format!("{name}.h5"))
}

/// max |a - b| / max |b|.
fn rel(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).amax() / b.amax()
}

/// Step `k` of the JPC trajectory `training/{rule}/W{l}`.
fn jpc_weights(r: &H5Reader, rule: &str, l: usize, k: usize) -> DMatrix<f64> {
    let a = r.array(&format!("training/{rule}/W{l}")).unwrap();
    let (rows, cols) = (a.shape[1], a.shape[2]);
    let part = a.data[k * rows * cols..(k + 1) * rows * cols].to_vec();
    to_matrix(&apcsim::io::h5::Array::matrix(rows, cols, part))
}

#[test]
fn ideal_training_equals_the_reference_trajectories() {
    for case in CASES {
        let input = read_reference(&case_path(case)).unwrap();
        let schedule = input.training.unwrap();
        let batch: Batch<f64> = input.batch.clone();
        let data = TrainData {
            train: batch.clone(),
            test: batch.clone(),
        };
        let mut learners = digital_learners(&input.network, schedule.lr);
        let plan = Schedule {
            epochs: schedule.steps,
            batch: batch.size(),
            shuffle: false,
            seed: 0,
        };
        let rec = train(&mut learners, &data, &plan, &mut |_, _| {}).unwrap();
        let t = full_batch_descent(&input.network, &batch, schedule, &equilibrium()).unwrap();
        let steps = schedule.steps;
        for l in 0..input.network.n_layers() {
            let (pc, bp) = (
                &learners[0].network().weights()[l],
                &learners[1].network().weights()[l],
            );
            let e = rel(pc, &t.pc_weights[steps][l]).max(rel(bp, &t.bp_weights[steps][l]));
            assert!(e <= 1e-12, "{case} W{l}: train vs reference {e:e}");
            let j = rel(pc, &jpc_weights(&input.reader, "pc", l, steps))
                .max(rel(bp, &jpc_weights(&input.reader, "bp", l, steps)));
            assert!(j <= 1e-8, "{case} W{l}: train vs JPC {j:e}");
        }
        for k in 0..steps {
            let (p, b) = (&rec.steps[0][k], &rec.steps[1][k]);
            assert!((p.loss - t.pc_loss[k]).abs() <= 1e-12, "{case} step {k}");
            assert!(
                (p.energy - t.pc_energy[k]).abs() <= 1e-12,
                "{case} step {k}"
            );
            assert!(
                (p.alignment.overall - t.pc_cos_sim[k]).abs() <= 1e-12,
                "{case} step {k}"
            );
            assert!((b.loss - t.bp_loss[k]).abs() <= 1e-12, "{case} step {k}");
        }
    }
}

/// The command on a JPC case's batch: its final weights are JPC's last step (within 1e-8),
/// its per-step losses JPC's (within 1e-9); report.json names every rule.
#[test]
fn the_command_trains_a_reference_batch_like_jpc() {
    let dir = tempfile::tempdir().unwrap();
    let case = case_path(CASES[1]);
    let design = dir.path().join("design.toml");
    std::fs::write(
        &design,
        format!(
            "[data]\nsource = \"hdf5:{}\"\n[train]\nepochs = 8\nbatch = 10\nlr = 2.0\nshuffle = false\n",
            case.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = common::apcsim([
        "train".as_ref(),
        design.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .output()
    .unwrap();
    common::assert_ok(&o);
    let ours = H5Reader::open(&out.join("train.h5")).unwrap();
    let jpc = H5Reader::open(&case).unwrap();
    for (name, rule) in [("pc_ideal", "pc"), ("bp_float", "bp")] {
        for l in 0..4 {
            let w = to_matrix(&ours.array(&format!("final/{name}/W{l}")).unwrap());
            let e = rel(&w, &jpc_weights(&jpc, rule, l, 8));
            assert!(e <= 1e-8, "{name} W{l}: {e:e}");
        }
        let loss = ours.array(&format!("steps/{name}/loss")).unwrap().data;
        let theirs = jpc.array(&format!("training/{rule}/loss")).unwrap().data;
        assert_eq!(loss.len(), 8);
        for (a, b) in loss.iter().zip(&theirs) {
            assert!((a - b).abs() <= 1e-9, "{name} loss {a} vs {b}");
        }
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let acc = &report["final"]["test_accuracy"];
    assert!(
        acc["pc_ideal"].is_number() && acc["bp_float"].is_number(),
        "{report}"
    );
    assert!(acc.get("pc_hardware").is_some() && acc.get("bp_hardware").is_some());
}

/// The JPC training case with skips and tanh, and hardware that holds its weights exactly: an
/// exact device of window 1-25 uS, exact updates, ideal converters and ideal wires.
fn exact_hardware() -> (
    apcsim::io::reference::ReferenceInput,
    apcsim::study::train::hardware::Substrate,
) {
    use apcsim::hardware::update::{Scheme, UpdateDesign, UpdateParams};
    let case = case_path(CASES[1]);
    let input = read_reference(&case).unwrap();
    let text = format!("[data]\nsource = \"hdf5:{}\"\n", case.display());
    let circuit =
        apcsim::config::load_str("exact", &text, &[] as &[&str], &Default::default()).unwrap();
    let (g_min, g_max) = (1e-6, 25e-6);
    let mut crossbar = circuit.crossbar.clone();
    crossbar.wire_resistance_ohms = 0.0;
    let mut ideal_converter = circuit.periphery.dac.clone();
    ideal_converter.bits = None;
    let sub = apcsim::study::train::hardware::Substrate {
        device: common::exact_device(g_min, g_max),
        crossbar,
        update: UpdateDesign {
            params: UpdateParams::ideal(g_min, g_max, 1e-9),
            scheme: Scheme::Ideal,
        },
        dac: ideal_converter.clone(),
        adc: ideal_converter,
        error_ranging: false,
        seed: 1,
    };
    (input, sub)
}

/// PC and BP on hardware with an exact device, exact updates, ideal converters and ideal
/// wires hold the weights as conductances and still take the digital steps: their trajectories
/// equal `reference`'s to rounding (conductances of ~1e-5 S holding differences of ~1e-6 S
/// lose about a digit).
#[test]
fn hardware_with_exact_devices_and_updates_equals_the_reference() {
    use apcsim::study::train::hardware::{HardwareLearner, Rule};
    use apcsim::study::train::Learner;
    let (input, sub) = exact_hardware();
    let schedule = input.training.unwrap();
    let t = full_batch_descent(&input.network, &input.batch, schedule, &equilibrium()).unwrap();
    for (rule, reference) in [(Rule::Pc, &t.pc_weights), (Rule::Bp, &t.bp_weights)] {
        let mut hw = HardwareLearner::new(
            rule,
            &input.network,
            sub.clone(),
            schedule.lr,
            equilibrium(),
        )
        .unwrap();
        for k in 0..schedule.steps {
            let r = hw.step(&input.batch, k).unwrap();
            let want = if rule == Rule::Pc {
                t.pc_loss[k]
            } else {
                t.bp_loss[k]
            };
            assert!(
                (r.loss - want).abs() <= 1e-10,
                "{rule:?} step {k}: {} vs {want}",
                r.loss
            );
        }
        let worst = (0..input.network.n_layers())
            .map(|l| rel(&hw.network().weights()[l], &reference[schedule.steps][l]))
            .fold(0.0, f64::max);
        eprintln!("{rule:?}: hardware vs reference, relative {worst:e}");
        assert!(worst <= 1e-10, "{rule:?}: {worst:e}");
    }
}

/// With `periphery.error_ranging = "per_layer"` the error reads (PC) and delta reads (BP, a
/// delta per sample) go through the gain their batch's largest magnitude sets: one step on the
/// JPC case with exact devices and an 8-bit ADC changes the first layer's weights as the
/// reference step does, to within the quantisation of those reads alone (the layer's inputs
/// are not converted): |dW_hw - dW_ref|_ij <= lr (a_1 lambda / B) sum_s (fs / 256) |x_sj|,
/// fs = max(2 peak, range / 2^7) the ranged full scale (half an LSB is fs / 2^8). The ADC's range
/// puts every read below half its unranged LSB, where the layer does not move at all.
#[test]
fn errors_and_deltas_are_read_behind_the_gain_their_range_sets() {
    use apcsim::network::Batch;
    use apcsim::study::train::hardware::{HardwareLearner, Rule, Substrate};
    use apcsim::study::train::Learner;
    let (input, exact) = exact_hardware();
    let schedule = input.training.unwrap();
    // A full scale far above the case's reads (at most 0.2): unranged, half an LSB is 0.25.
    let mut adc = exact.adc.clone();
    adc.bits = Some(8);
    adc.range = 64.0;
    let (net, batch) = (&input.network, &input.batch);
    let b = batch.size();
    let lam = net.architecture().output_precision;
    // PC reads the first layer's errors at the equilibrium the hardware finds (the same network).
    let inf = apcsim::dynamics::infer(net, batch, &equilibrium()).unwrap();
    let mut ws = net.workspace(b);
    net.compute_errors(batch.x.as_slice(), batch.y.as_slice(), &inf.z, &mut ws);
    let pc_peak = ws.errors()[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // BP reads delta_1 of each sample: W_1's gradient on sample s alone is a_1 lambda p_s x_s^T.
    let bp_peak = (0..b)
        .map(|s| {
            let one = Batch {
                x: batch.x.columns(s, 1).into_owned(),
                y: batch.y.columns(s, 1).into_owned(),
            };
            let (_, g) = net.bp_gradients(&one);
            let x = one.x.column(0);
            (&g[0] * x).amax() / (net.scalings()[0] * lam * x.norm_squared())
        })
        .fold(0.0f64, f64::max);
    let t = full_batch_descent(net, batch, schedule, &equilibrium()).unwrap();
    let x = DMatrix::from_column_slice(net.architecture().widths[0], b, batch.x.as_slice());
    let x_sums = x.abs().column_sum().transpose();
    let coef = schedule.lr * net.scalings()[0] * lam / b as f64;
    for (rule, peak, reference) in [
        (Rule::Pc, pc_peak, &t.pc_weights[1][0]),
        (Rule::Bp, bp_peak, &t.bp_weights[1][0]),
    ] {
        assert!(
            peak < adc.range / 256.0,
            "{rule:?}: the reads must be small: {peak}"
        );
        let full_scale = (2.0 * peak).max(adc.range / 128.0);
        let bound = &x_sums * (coef * full_scale / 256.0);
        let want = reference - &net.weights()[0];
        for ranging in [true, false] {
            let sub = Substrate {
                adc: adc.clone(),
                error_ranging: ranging,
                ..exact.clone()
            };
            let mut hw = HardwareLearner::new(rule, net, sub, schedule.lr, equilibrium()).unwrap();
            hw.step(batch, 0).unwrap();
            let got = &hw.network().weights()[0] - &net.weights()[0];
            let within = (0..got.nrows())
                .all(|i| (0..got.ncols()).all(|j| (got[(i, j)] - want[(i, j)]).abs() <= bound[j]));
            assert_eq!(within, ranging, "{rule:?}, ranging {ranging}");
            if !ranging {
                // Every read rounds to code 0: what is left is the rounding of the read-back
                // weights, (G+ - G-) / (kappa a), a few ulps of the largest weight.
                let moved = got.amax() / net.weights()[0].amax();
                assert!(moved <= 1e-13, "{rule:?}: the layer moved by {moved:e}");
            }
        }
    }
}

/// A data source train cannot learn from is refused with exit 2 naming the key, and no output
/// is left.
#[test]
fn a_data_source_train_cannot_learn_is_refused() {
    let o = refused(&["--set", "data.source=teacher"], "data.source");
    assert!(common::text(&o.stderr).contains("optdigits"));
}

/// Update physics a design cannot use are refused before any training: an unknown family, a
/// step larger than the conductance window, bit streams of length 0.
#[test]
fn unusable_update_physics_are_refused() {
    refused(&["--set", "update.family=\"bogus\""], "family");
    refused(&["--set", "update.dw_min=\"1S\""], "dw_min");
    refused(
        &[
            "--set",
            "update.scheme=\"stochastic\"",
            "--set",
            "update.bl=0",
        ],
        "bl",
    );
}

/// Runs `train_small` with `extra`, expects exit `code` with one stderr line holding every
/// one of `needles`, and no output.
fn fails(extra: &[&str], code: i32, needles: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = train_small(extra, &out);
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{extra:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{extra:?}: no {n:?} in {stderr}");
    }
    assert!(!out.join("train.h5").exists() && !out.join("report.json").exists());
    o
}

fn refused(extra: &[&str], key: &str) -> Output {
    fails(extra, 2, &[key])
}

/// One short epoch of the small digits design on its RRAM: every rule trains and is evaluated,
/// report.json holds the four final accuracies and the hardware's update costs.
#[test]
fn the_command_trains_all_four_rules_on_digits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = train_small(&common::SHORT_TRAIN, &out);
    common::assert_ok(&o);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for rule in ["pc_hardware", "bp_hardware", "pc_ideal", "bp_float"] {
        let a = report["final"]["test_accuracy"][rule]
            .as_f64()
            .unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&a), "{rule}: {report}");
    }
    // The digits design's RRAM moves 9 uS a pulse (about 4 states): one short epoch of small
    // updates may fire none, but the costs are reported.
    for rule in ["pc_hardware", "bp_hardware"] {
        let pulses = report["updates"][rule]["pulses_per_step"].as_f64();
        assert!(pulses.is_some_and(|p| p >= 0.0), "{rule}: {report}");
    }
    let h = H5Reader::open(&out.join("train.h5")).unwrap();
    assert_eq!(
        h.array("epochs/pc_hardware/test_accuracy").unwrap().shape,
        vec![2]
    );
    assert_eq!(h.array("steps/bp_hardware/loss").unwrap().shape, vec![7]);
    // report.json carries every learner's learning curves, the values train.h5 holds.
    for rule in ["pc_hardware", "bp_hardware", "pc_ideal", "bp_float"] {
        for what in ["test_accuracy", "test_loss"] {
            let curve: Vec<f64> = report["epochs"][what][rule]
                .as_array()
                .unwrap_or_else(|| panic!("epochs.{what}.{rule}: {report}"))
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            let stored = h.array(&format!("epochs/{rule}/{what}")).unwrap().data;
            assert_eq!(curve, stored, "{what} of {rule}");
        }
    }
}

/// A learning rate that throws the weights out of range: exit 3, one line naming the learner,
/// the step, what ran away and the layer; train.h5 and report.json hold every step and epoch
/// done, marked as diverged at that step. On the design's RRAM the devices' bounds hold the
/// hardware's weights and digital PC runs away first. With exact updates too: they keep every
/// conductance at or above the window's floor, and the wires' resistance bounds the weights a
/// huge conductance applies, so the hardware's loss stays finite where digital PC's is not.
/// (A pulsed update asking for more pulses than a window holds stops the hardware itself:
/// `a_runaway_pulse_count_exits_3_naming_step_and_layer`.)
#[test]
fn a_diverging_learning_rate_exits_3_naming_step_and_layer() {
    let lr = [
        "--set",
        "train.lr=1e300",
        "--set",
        "train.train_samples=64",
        "--set",
        "train.test_samples=10",
    ];
    let exact = ["--set", "update.scheme=\"ideal\""];
    let cases: [(&[&str], &str, &[&str]); 2] = [
        (
            &[],
            "pc_ideal",
            &["the loss of its weights is inf", "layer 3"],
        ),
        (
            &exact,
            "pc_ideal",
            &["the loss of its weights is inf", "layer 3"],
        ),
    ];
    for (extra, learner, what) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = train_small(&[&lr[..], extra].concat(), &out);
        let stderr = common::text(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        for n in ["step 1: ", "diverged", learner].iter().chain(what) {
            assert!(stderr.contains(n), "no {n:?} in {stderr}");
        }
        diverged_outputs(&out, learner, 1);
    }
}

/// A learning rate whose deterministic pulse trains run away (one sample asks a device for
/// more pulses than cross its whole window; at lr = 1e6 the small design's RRAM asks for about
/// 2e4 pulses of 9 uS against a 39 uS window, and every tenfold increase of lr costs ten times
/// the pulses, each one simulated): exit 3 at the first step, one line naming the learner,
/// the layer and the pulse count, the outputs written whole and marked.
#[test]
fn a_runaway_pulse_count_exits_3_naming_step_and_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let extra = [
        "--set",
        "train.lr=1e6",
        "--set",
        "update.scheme=\"deterministic\"",
        "--set",
        "train.train_samples=64",
        "--set",
        "train.test_samples=10",
    ];
    let o = train_small(&extra, &out);
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for n in [
        "step 0: ",
        "pc_hardware diverged",
        "layer ",
        "deterministic pulses",
        "window",
    ] {
        assert!(stderr.contains(n), "no {n:?} in {stderr}");
    }
    diverged_outputs(&out, "pc_hardware", 0);
}

/// train.h5 and report.json of a run whose `learner` diverged at `step`: marked so, with every
/// learner's steps as taken (the learners before it in the order took the failed step) and the
/// epochs done.
fn diverged_outputs(out: &Path, learner: &str, step: u64) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let d = &report["diverged"];
    assert_eq!(d["learner"].as_str(), Some(learner), "{d}");
    assert_eq!(d["step"].as_u64(), Some(step), "{d}");
    let done = d["steps_completed"].as_u64().unwrap() as usize;
    let h = H5Reader::open(&out.join("train.h5")).unwrap();
    let attr = h.attr("", "diverged").unwrap().unwrap();
    assert!(attr.as_str().unwrap().contains(learner));
    let order = ["pc_hardware", "bp_hardware", "pc_ideal", "bp_float"];
    let failed = order.iter().position(|n| *n == learner).unwrap();
    for (k, name) in order.iter().enumerate() {
        let steps = h.array(&format!("steps/{name}/loss")).unwrap().data.len();
        let want = if k < failed { done + 1 } else { done };
        assert_eq!(
            steps, want,
            "{name}: steps of {learner} diverging after {done}"
        );
        let epochs = h.array(&format!("epochs/{name}/test_accuracy")).unwrap();
        assert_eq!(
            epochs.data.len(),
            1,
            "{name}: only the epoch before training"
        );
        assert!(
            report["final"]["test_accuracy"][name].is_number(),
            "{report}"
        );
    }
}
