//! The width x depth study (issue 5, point 4): the exact equilibrium it relies on, the paper's
//! trends and theory, determinism across thread counts, and the command line.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::io::data::gaussian_batch;
use apcsim::network::closed_form::{equilibrium, equilibrium_energy, equilibrium_output_space};
use apcsim::network::{Activation, Network, Parameterisation};
use apcsim::study::width_depth::{
    run, theory_s_minus_1, DeviceSetup, MeanStd, OdeTolerances, StudyPlan, StudyResults,
};
use common::{apcsim, text};
use nalgebra::DMatrix;

mod common;

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The study's own ODE route.
fn dop853_tight() -> InferenceOptions {
    let t = OdeTolerances::default();
    InferenceOptions::new(
        Solver::Dop853 {
            rtol: t.rtol,
            atol: t.atol,
        },
        Stop::steady(t.steady_tol, t.max_steps),
    )
}

/// A small study network and batch, as the study draws them.
fn study_net(
    param: Parameterisation,
    skips: bool,
    n: usize,
    l: usize,
) -> (Network<f64>, apcsim::network::Batch<f64>) {
    let plan = StudyPlan {
        parameterisation: param,
        skips,
        input: 12,
        output: 3,
        ..StudyPlan::default()
    };
    let net = Network::init(plan.architecture(n, l), 11).unwrap();
    (net, gaussian_batch(12, 3, 8, 5))
}

#[test]
fn closed_form_and_ode_routes_agree_to_1e_8_on_the_same_weights() {
    for (param, skips) in [
        (Parameterisation::Mupc, false),
        (Parameterisation::Mupc, true),
        (Parameterisation::Sp, false),
    ] {
        let (net, batch) = study_net(param, skips, 24, 5);
        let cf = equilibrium_output_space(&net, &batch).unwrap();
        let ode = infer(&net, &batch, &dop853_tight()).unwrap();
        assert!(ode.converged, "{param} skips {skips}");
        let dz = max_abs_diff(&cf.z, &ode.z);
        assert!(dz < 1e-8, "{param} skips {skips}: |z_cf - z_ode| = {dz:e}");
        // The gradients the study compares are formed from those activities.
        let g_cf = net.pc_weight_gradients(&batch, &cf.z);
        let g_ode = net.pc_weight_gradients(&batch, &ode.z);
        for (a, b) in g_cf.iter().zip(&g_ode) {
            let d = max_abs_diff(a.as_slice(), b.as_slice());
            assert!(d < 1e-8, "{param} skips {skips}: gradient differs by {d:e}");
        }
        // The output-space reduction is the block-tridiagonal solve, and its S gives F*.
        let bt = equilibrium(&net, &batch).unwrap();
        assert!(max_abs_diff(&cf.z, &bt).abs() < 1e-11);
        let r =
            &batch.y - DMatrix::from_column_slice(3, 8, &net.feedforward(batch.x.as_slice(), 8).1);
        let s_inv_r = cf.rescaling.clone().lu().solve(&r).unwrap();
        let f_star = r.dot(&s_inv_r) / 16.0;
        let f_oracle = equilibrium_energy(&net, &batch).unwrap();
        assert!((f_star - f_oracle).abs() < 1e-12 * f_oracle.max(1.0));
        assert!((net.energy(&batch, &cf.z) - f_oracle).abs() < 1e-12 * f_oracle.max(1.0));
    }
}

#[test]
fn closed_form_handles_feedback_weights_like_the_ode() {
    // A hardware-like network: backward reads through slightly different weights.
    let (net, batch) = study_net(Parameterisation::Mupc, true, 20, 4);
    let fb: Vec<DMatrix<f64>> = net
        .weights()
        .iter()
        .enumerate()
        .map(|(k, w)| {
            w.map_with_location(|i, j, v| {
                v * (1.0 + 0.05 * (((i * 7 + j * 3 + k) % 5) as f64 - 2.0))
            })
        })
        .collect();
    let hw = net.clone().with_feedback(fb).unwrap();
    let cf = equilibrium_output_space(&hw, &batch).unwrap();
    let ode = infer(&hw, &batch, &dop853_tight()).unwrap();
    assert!(ode.converged);
    assert!(max_abs_diff(&cf.z, &ode.z) < 1e-8);
    // S is no longer symmetric, and `infer`'s closed form now takes this route.
    assert!((&cf.rescaling - cf.rescaling.transpose()).amax() > 1e-6);
    let via_infer = infer(
        &hw,
        &batch,
        &InferenceOptions::new(Solver::ClosedForm, Stop::steps(0)),
    )
    .unwrap();
    assert_eq!(via_infer.z, cf.z);
    assert!(hw.max_activity_gradient(&batch, &cf.z) < 1e-12);
}

fn small_plan(
    param: Parameterisation,
    widths: &[usize],
    depths: &[usize],
    seeds: usize,
) -> StudyPlan {
    StudyPlan {
        parameterisation: param,
        widths: widths.to_vec(),
        depths: depths.to_vec(),
        seeds,
        steps: 0,
        ..StudyPlan::default()
    }
}

/// (mean, standard error) of cos sim at step 0 for (N, L).
fn cos_at(r: &StudyResults, width: usize, depth: usize) -> (f64, f64) {
    let row = r
        .summary()
        .into_iter()
        .find(|s| s.step == 0 && s.width == width && s.depth == depth)
        .unwrap();
    let MeanStd { mean, std } = row.cos_sim;
    (mean, std.unwrap() / (row.seeds as f64).sqrt())
}

#[test]
fn mupc_cos_sim_rises_with_width_and_falls_with_depth_sp_does_not_converge() {
    let widths = [16, 64, 256];
    let depths = [4, 8];
    let mupc = run(
        &small_plan(Parameterisation::Mupc, &widths, &depths, 5),
        &|_| {},
    )
    .unwrap();
    // Each step is significant: the difference of the means exceeds 3 standard errors of
    // the difference, as measured from the seeds' spread.
    for &l in &depths {
        for w in widths.windows(2) {
            let (a, sa) = cos_at(&mupc, w[0], l);
            let (b, sb) = cos_at(&mupc, w[1], l);
            assert!(
                b - a > 3.0 * (sa * sa + sb * sb).sqrt(),
                "L = {l}: N {} -> {}: {a} -> {b}",
                w[0],
                w[1]
            );
        }
    }
    for &n in &widths {
        let (a, sa) = cos_at(&mupc, n, 4);
        let (b, sb) = cos_at(&mupc, n, 8);
        assert!(
            a - b > 3.0 * (sa * sa + sb * sb).sqrt(),
            "N = {n}: L 4 -> 8: {a} -> {b}"
        );
    }
    assert!(cos_at(&mupc, 256, 4).0 > 0.99);
    // SP at depth 16: no width brings PC near BP (muPC at N = 256 is at 0.9).
    let sp = run(
        &small_plan(Parameterisation::Sp, &widths, &[16], 3),
        &|_| {},
    )
    .unwrap();
    for &n in &widths {
        let (c, se) = cos_at(&sp, n, 16);
        assert!(c.abs() < 0.1 + 3.0 * se, "SP N = {n}: {c}");
    }
}

#[test]
fn measured_s_agrees_with_the_theory_at_large_width() {
    // The theory is an exact expectation, E[tr S]/O - 1 = c(N, L), so measured and theory
    // differ by sampling error only: the mean over seeds must lie within 4 standard errors
    // (from the seeds' spread) of it. At N/L = 256 that error is about 1% of c.
    for skips in [false, true] {
        let plan = StudyPlan {
            skips,
            ..small_plan(Parameterisation::Mupc, &[1024], &[4], 6)
        };
        let r = run(&plan, &|_| {}).unwrap();
        let row = &r.summary()[0];
        let s = row.s_minus_1.unwrap();
        let theory = row.theory.unwrap();
        assert_eq!(
            theory,
            theory_s_minus_1(Parameterisation::Mupc, skips, 1024, 4, 1.0)
        );
        if !skips {
            assert_eq!(theory, 3.0 / 1024.0);
        }
        let se = s.std.unwrap() / (row.seeds as f64).sqrt();
        assert!(
            (s.mean - theory).abs() < 4.0 * se,
            "skips {skips}: {} vs {theory} (se {se:e})",
            s.mean
        );
        assert!((s.mean - theory).abs() < 0.05 * theory);
        // Where s - 1 is this small PC's gradient is BP's, with the norm 1/s of BP's.
        assert!(row.cos_sim.mean > 0.999, "{}", row.cos_sim.mean);
        assert!((row.norm_ratio.mean * (1.0 + theory) - 1.0).abs() < 1e-3);
    }
}

/// Uniform drift scales every conductance, hence every layer's weights, by the same
/// c = (t_read / t0)^-nu. Counting the layers as the theory does, each hidden layer's
/// contribution 1/(gamma0^2 N) is damped by c^2 per layer between it and the output:
/// s - 1 = sum_{k=1}^{L-1} c^(2k) / (gamma0^2 N), an expectation like the theory's, so the
/// measured mean must lie within 4 standard errors of it; the PC gradient's norm against BP of
/// the designed weights is c^(L-1) / s.
#[test]
fn uniform_drift_damps_s_by_c_squared_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("drift_only.toml");
    std::fs::write(
        &preset,
        "g_min = \"0uS\"\ng_max = \"25uS\"\nlevels = \"continuous\"\nprogramming = \"none\"\n\
         drift = true\ndrift_nu_mean = 0.05\ndrift_nu_std = 0.0\ndrift_t0 = \"20s\"\n\
         drift_t_read = \"3600s\"\n",
    )
    .unwrap();
    // Read 3600 s after programming: t + t0 = 3620 s on the drift clock.
    let c = (3620.0f64 / 20.0).powf(-0.05);
    let (n, l) = (1024, 6);
    let plan = StudyPlan {
        device: Some(DeviceSetup::load(preset.to_str().unwrap()).unwrap()),
        ..small_plan(Parameterisation::Mupc, &[n], &[l], 6)
    };
    let r = run(&plan, &|_| {}).unwrap();
    let row = &r.summary()[0];
    let s = row.s_minus_1.unwrap();
    let predicted: f64 = (1..l as i32).map(|k| c.powi(2 * k)).sum::<f64>() / n as f64;
    let se = s.std.unwrap() / (row.seeds as f64).sqrt();
    assert!(
        (s.mean - predicted).abs() < 4.0 * se,
        "{} vs {predicted} (se {se:e}; undamped theory {})",
        s.mean,
        row.theory.unwrap()
    );
    assert!((s.mean - predicted).abs() < 0.05 * predicted);
    // Far from the undamped theory, (L - 1)/N: the check can tell the two apart.
    assert!(row.theory.unwrap() > 2.0 * predicted);
    let norm = c.powi(l as i32 - 1) / (1.0 + predicted);
    assert!(
        (row.norm_ratio.mean - norm).abs() < 0.01 * norm,
        "{} vs {norm}",
        row.norm_ratio.mean
    );
}

fn determinism_plan() -> Vec<StudyPlan> {
    let base = StudyPlan {
        widths: vec![16, 256],
        depths: vec![2, 6],
        seeds: 2,
        steps: 3,
        batch: 8,
        ..StudyPlan::default()
    };
    vec![
        base.clone(),
        StudyPlan {
            activation: Activation::Tanh,
            widths: vec![8, 24],
            depths: vec![3],
            steps: 1,
            ..base.clone()
        },
        StudyPlan {
            device: Some(DeviceSetup::load("rram_hfo2").unwrap()),
            widths: vec![16, 48],
            ..base
        },
    ]
}

#[test]
fn results_are_bit_identical_on_one_and_two_threads() {
    for plan in determinism_plan() {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run(&plan, &|_| {}).unwrap())
        };
        let (one, two) = (on(1), on(2));
        assert_eq!(one.points, two.points, "{}", plan.describe());
        assert_eq!(one.study_csv(), two.study_csv());
        assert_eq!(one.summary_csv(), two.summary_csv());
    }
}

#[test]
fn the_ideal_device_reproduces_the_ideal_study() {
    let plan = StudyPlan {
        steps: 2,
        ..small_plan(Parameterisation::Mupc, &[32], &[3], 2)
    };
    let ideal = run(&plan, &|_| {}).unwrap();
    let on_device = run(
        &StudyPlan {
            device: Some(DeviceSetup::load("ideal").unwrap()),
            ..plan
        },
        &|_| {},
    )
    .unwrap();
    for (a, b) in ideal.points.iter().zip(&on_device.points) {
        for (x, y) in a.steps.iter().zip(&b.steps) {
            assert!((x.pc_traj.overall - y.pc_traj.overall).abs() < 1e-9);
            assert!((x.bp_traj.overall - y.bp_traj.overall).abs() < 1e-9);
            // The ideal hardware holds the ideal weights: its own BP is the ideal BP.
            assert_eq!(x.cos_sim_hw_bp, None);
            assert!((y.cos_sim_hw_bp.unwrap() - y.pc_traj.overall).abs() < 1e-9);
        }
    }
}

#[test]
fn cli_runs_a_small_study_and_rejects_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = apcsim([
        "study",
        "width-depth",
        "--widths",
        "8,16",
        "--depths",
        "2,3",
        "--seeds",
        "2",
        "--steps",
        "2",
        "--out",
        "res",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("cos sim PC vs BP at initialisation"),
        "{stdout}"
    );
    // No progress bar when stderr is not a terminal.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("res/study.csv")).unwrap();
    assert!(
        csv.starts_with("param,skips,activation,device,width,depth,seed,step,cos_sim,norm_ratio,")
    );
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 2 * 3);
    let summary = std::fs::read_to_string(dir.path().join("res/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 2 * 3);
    // The figures and their page (checked in detail in tests/width_depth_report.rs).
    assert!(stdout.contains("report.html"), "{stdout}");
    for file in ["report.html", "cos_sim_t0.svg", "training.svg"] {
        assert!(dir.path().join("res").join(file).is_file(), "{file}");
    }

    for (args, expect) in [
        (&["--widths", "0"][..], "width must be at least 1"),
        (&["--depths", "1,4"], "at least 2 weight layers"),
        (&["--widths", "16,16"], "given twice"),
        (&["--param", "mu"], "mu"),
        (&["--activation", "tanhh"], "tanhh"),
        (&["--lr", "-1"], "--lr"),
        (&["--gamma0", "0"], "--gamma0"),
        (&["--seeds", "0"], "--seeds"),
        (&["--device", "no_such_device"], "--device"),
        (&["--widths", "4000000"], "GiB"),
        (&["--steps", "x"], "--steps"),
        (&["--steps", "100000000000"], "--steps"),
        (&["--seeds", "1000000000000"], "--seeds"),
        (&["--batch", "1000000000000"], "GiB"),
    ] {
        let mut full = vec!["study", "width-depth", "--out", "bad"];
        full.extend_from_slice(args);
        let out = apcsim(&full).current_dir(dir.path()).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("bad").exists());
}

/// A Newton budget of one iteration cannot reach the study's residual from the feedforward
/// pass: Dop853 finishes every equilibrium, the study still lands on it, and its report says
/// that Newton fell back, where and why.
#[test]
fn a_newton_fallback_in_the_study_is_reported() {
    let plan = StudyPlan {
        ode: OdeTolerances {
            newton_iterations: 1,
            ..OdeTolerances::default()
        },
        ..small_plan_tanh()
    };
    let r = run(&plan, &|_| {}).unwrap();
    let rec = &r.points[0].steps[0];
    let said = rec.fallback.as_deref().expect("a fallback");
    assert!(said.contains("after 1 Newton iterations"), "{said}");
    assert!(rec.residual.unwrap() < plan.ode.steady_tol);
    let report = r.report();
    assert!(
        report.contains(
            "Newton-Krylov did not converge alone at 1 steps; the first, width 16, depth 3"
        ),
        "{report}"
    );
    let full = run(&small_plan_tanh(), &|_| {}).unwrap();
    assert!(full.points[0].steps[0].fallback.is_none());
    assert!(!full.report().contains("Newton-Krylov did not converge"));
}

fn small_plan_tanh() -> StudyPlan {
    StudyPlan {
        activation: Activation::Tanh,
        input: 12,
        output: 3,
        batch: 8,
        ..small_plan(Parameterisation::Mupc, &[16], &[3], 1)
    }
}
