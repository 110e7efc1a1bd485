//! `apcsim train`'s checkpoints and `--resume`: a run killed by SIGKILL and resumed writes the
//! outputs of an uninterrupted run, bit for bit; a resume of another design is refused. The
//! learning rate's muPC scaling against its formula, and the drift and read noise between
//! steps against the device model's closed forms.

use apcsim::study::train::plan;
use apcsim::study::train::rate::learning_rate;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod common;

/// `apcsim train circuits/digits_small.toml` with a short schedule, `extra`, into `out`.
fn args(extra: &[&str], out: &Path) -> Vec<OsString> {
    let design = common::repo_path("circuits/digits_small.toml");
    let mut a: Vec<OsString> = vec!["train".into(), design.into()];
    for s in [
        "train.epochs=3",
        "train.train_samples=300",
        "train.test_samples=60",
        "train.batch=16",
        "train.checkpoint_every=1",
    ] {
        a.extend(["--set".into(), s.into()]);
    }
    a.extend(extra.iter().map(OsString::from));
    a.extend(["--out".into(), out.as_os_str().to_owned()]);
    a
}

fn run(extra: &[&str], out: &Path) -> Output {
    common::apcsim(args(extra, out)).output().unwrap()
}

/// report.json without the seconds the run took.
fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v
}

/// Steps the checkpoint in `dir` holds (of the first learner).
fn checkpoint_steps(dir: &Path) -> usize {
    let f = apcsim::io::h5::H5Reader::open(&dir.join("checkpoint.h5")).unwrap();
    f.array("steps/pc_hardware/loss").unwrap().data.len()
}

/// A run killed by SIGKILL after its first checkpoint, then resumed, writes train.h5 byte for
/// byte as an uninterrupted run does, and the same report.json but for the seconds.
#[test]
fn a_killed_run_resumes_to_the_uninterrupted_results() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let t0 = Instant::now();
    common::assert_ok(&run(&[], &whole));
    let full_run = t0.elapsed();
    let total = checkpoint_steps(&whole);
    assert_eq!(total, 3 * 300usize.div_ceil(16));

    let mut child = common::apcsim(args(&[], &killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = killed.join("checkpoint.h5");
    while !ckpt.exists() {
        assert!(t0.elapsed() < full_run * 20, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        !killed.join("report.json").exists(),
        "the run ended before it was killed ({full_run:?} uninterrupted): nothing to resume"
    );
    let done = checkpoint_steps(&killed);
    assert!(
        done >= 1 && done < total,
        "checkpoint at step {done} of {total}"
    );

    let o = run(&["--resume"], &killed);
    common::assert_ok(&o);
    let (a, b) = (
        std::fs::read(whole.join("train.h5")).unwrap(),
        std::fs::read(killed.join("train.h5")).unwrap(),
    );
    assert!(a == b, "train.h5 differs after a resume from step {done}");
    assert_eq!(report(&whole), report(&killed), "resumed from step {done}");
    eprintln!("killed at step {done} of {total}; uninterrupted run {full_run:?}");
}

/// A resume whose design differs from the checkpoint's: exit 2, one line naming the key that
/// changed, and the folder's outputs left as they were.
#[test]
fn a_resume_with_a_changed_design_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::assert_ok(&run(&["--set", "train.epochs=1"], &out));
    let before = std::fs::read(out.join("train.h5")).unwrap();
    let o = run(
        &[
            "--set",
            "train.epochs=1",
            "--set",
            "train.lr=0.2",
            "--resume",
        ],
        &out,
    );
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for needle in [
        "checkpoint.h5",
        "differs from the checkpoint",
        "train.lr is 0.2",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in {stderr}");
    }
    assert_eq!(std::fs::read(out.join("train.h5")).unwrap(), before);
    // How often checkpoints are taken is not part of the design.
    let o = run(
        &[
            "--set",
            "train.epochs=1",
            "--set",
            "train.checkpoint_every=5",
            "--resume",
        ],
        &out,
    );
    common::assert_ok(&o);
}

/// `--resume` in a folder without a checkpoint: exit 2 naming the file.
#[test]
fn a_resume_without_a_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty");
    let o = run(&["--resume"], &out);
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("checkpoint.h5") && stderr.contains("no checkpoint"));
}

/// `train.lr_scaling = "mupc"`: every rule steps at lr gamma0^2 N (N the last hidden width),
/// the formula; a design steps exactly as the unscaled design at that learning rate.
#[test]
fn the_mupc_learning_rate_is_lr_gamma0_squared_n() {
    let load = |sets: &[&str]| {
        let mut all = vec![
            "network.hidden=[32, 32]",
            "network.gamma0=2.0",
            "train.train_samples=40",
            "train.test_samples=10",
            "train.batch=8",
            "train.epochs=1",
        ];
        all.extend_from_slice(sets);
        let text =
            std::fs::read_to_string(common::repo_path("circuits/digits_small.toml")).unwrap();
        apcsim::config::load_str("d", &text, &all, &Default::default()).unwrap()
    };
    let scaled = load(&["train.lr=0.01", "train.lr_scaling=\"mupc\""]);
    let arch = &scaled.architecture;
    let want = 0.01 * 2.0 * 2.0 * 32.0;
    let got = learning_rate(scaled.train.lr, scaled.train.lr_scaling, arch);
    assert!((got - want).abs() <= 1e-15 * want, "{got} vs {want}");
    let plain = load(&["train.lr=1.28"]);
    let step = |c: &apcsim::config::Circuit| {
        let (net, data) = plan::prepare(c).unwrap();
        let mut learners = plan::learners(c, &net).unwrap();
        let schedule = plan::schedule(c);
        apcsim::study::train::train(&mut learners, &data, &schedule, &mut |_, _| {}).unwrap();
        learners
            .iter()
            .map(|l| l.network().weights().to_vec())
            .collect::<Vec<_>>()
    };
    assert!(
        step(&scaled) == step(&plain),
        "mupc at 0.01 vs none at 1.28"
    );
}

/// `lr_scaling = "mupc"` on a network of another parameterisation: refused, naming the key.
#[test]
fn mupc_scaling_of_another_parameterisation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &[
            "--set",
            "train.lr_scaling=\"mupc\"",
            "--set",
            "network.parameterisation=\"sp\"",
        ],
        &dir.path().join("out"),
    );
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lr_scaling") && stderr.contains("sp"),
        "{stderr}"
    );
}

/// The digits_small design with a short schedule, loaded in-process.
fn small_circuit() -> apcsim::config::Circuit {
    let text = std::fs::read_to_string(common::repo_path("circuits/digits_small.toml")).unwrap();
    let sets = ["train.train_samples=40", "train.test_samples=10"];
    apcsim::config::load_str("d", &text, &sets, &Default::default()).unwrap()
}

/// A device that drifts with exponents N(0.06, 0.02) from t0 = 20 s and reads with the PCM
/// 1/f noise when `flicker`.
fn drifting_device(flicker: bool) -> apcsim::hardware::params::DeviceParams {
    use apcsim::hardware::params::{Drift, Flicker, NuFit};
    let mut device = common::exact_device(1e-6, 25e-6);
    device.drift = Some(Drift {
        nu: NuFit::Constant {
            mean: 0.06,
            std: 0.02,
        },
        t0_seconds: 20.0,
        t_read_seconds: 0.0,
    });
    if flicker {
        device.read_noise.flicker = Flicker::AihwkitPcm;
    }
    device
}

/// With `train.step_interval` dt and no update (lr 0), every device read at step k holds
/// G_0 ((k dt + t0) / t0)^-nu, the device model's closed form for drift, to rounding (a
/// product of k ratios: a few ulps each).
#[test]
fn drift_between_steps_follows_the_device_closed_form() {
    use apcsim::hardware::update::{Scheme, UpdateDesign, UpdateParams};
    use apcsim::study::train::hardware::{HardwareLearner, Rule, Substrate};
    use apcsim::study::train::Learner;
    let circuit = small_circuit();
    let (net, data) = plan::prepare(&circuit).unwrap();
    let device = drifting_device(false);
    let sub = Substrate {
        device: device.clone(),
        crossbar: circuit.crossbar.clone(),
        update: UpdateDesign {
            params: UpdateParams::ideal(1e-6, 25e-6, 1e-9),
            scheme: Scheme::Ideal,
        },
        dac: circuit.periphery.dac.clone(),
        adc: circuit.periphery.adc.clone(),
        error_ranging: circuit.periphery.error_ranging,
        seed: 3,
    };
    let mut hw = HardwareLearner::new(Rule::Pc, &net, sub, 0.0, plan::equilibrium()).unwrap();
    let dt = 10.0;
    hw.step_interval = dt;
    let (g0, nu) = (hw.state(), hw.drift_exponents());
    let steps = 4;
    for s in 0..steps {
        hw.step(&data.train, s).unwrap();
    }
    let gk = hw.state();
    let mut worst = 0.0_f64;
    let mut smallest_factor = 1.0_f64;
    for (name, nus) in &nu {
        let (a, b) = (
            &g0.iter().find(|(n, _)| n == name).unwrap().1,
            &gk.iter().find(|(n, _)| n == name).unwrap().1,
        );
        for ((&a, &b), &nu) in a.iter().zip(b).zip(nus) {
            let factor = device.drift_factor_at(nu, steps as f64 * dt);
            smallest_factor = smallest_factor.min(factor);
            worst = worst.max((b - a * factor).abs() / (a * factor));
        }
    }
    assert!(
        smallest_factor < 0.97,
        "the devices hardly drifted: {smallest_factor}"
    );
    assert!(worst <= 1e-14, "worst relative error {worst:e}");
}

/// Each read between steps sees the device model's accumulated 1/f noise: over 20 000 devices
/// at one conductance, the relative error has mean 0 and standard deviation sigma(G, t)
/// within 2 % (the standard error of a standard deviation over 20 000 draws is 0.5 %).
#[test]
fn reads_between_steps_see_the_device_model_1_over_f_noise() {
    use apcsim::hardware::update::{PulsedPair, UpdateParams};
    use apcsim::study::train::aging::noisy_read;
    let device = drifting_device(true);
    let g = 8e-6;
    let m = nalgebra::DMatrix::from_element(100, 100, g);
    let pair = PulsedPair::new(&UpdateParams::ideal(1e-6, 25e-6, 1e-9), &m, &m, 5, 0);
    let t = 3600.0;
    let read = noisy_read(&pair, &device, t, 5, 12).unwrap();
    let rel: Vec<f64> = read
        .plus
        .iter()
        .chain(&read.minus)
        .map(|r| r / g - 1.0)
        .collect();
    let n = rel.len() as f64;
    let mean = rel.iter().sum::<f64>() / n;
    let std = (rel.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / (n - 1.0)).sqrt();
    let sigma = device.flicker_sigma(g, t);
    assert!(sigma > 0.01, "{sigma}");
    assert!(
        mean.abs() < 4.0 * sigma / n.sqrt(),
        "mean {mean:e}, sigma {sigma}"
    );
    assert!(
        (std / sigma - 1.0).abs() < 0.02,
        "std {std} vs sigma {sigma}"
    );
    assert!(
        noisy_read(&pair, &device, 0.0, 5, 12).is_none(),
        "no time, no noise"
    );
    let again = noisy_read(&pair, &device, t, 5, 13).unwrap();
    assert_ne!(again.plus, read.plus, "each step's read draws anew");
}
