//! The exponential scheme of the analog circuit (src/analog/exponential.rs) against closed
//! forms and fine references: the exact step of a linear node, the Ornstein–Uhlenbeck moments
//! over a step, the scheme's order on a small design, and the error-controlled run against a
//! fine fixed-step one.

use apcsim::analog::exponential::{ou_moments, ExactLinear};
use apcsim::analog::sim::ManualStepper;
use apcsim::analog::{simulate, AnalogCircuit, IdealPeriphery, Scheme, SimOptions, Tolerance};
use apcsim::network::{Activation, Architecture, Batch, Network, Parameterisation};
use nalgebra::DMatrix;

const TAU_Z: f64 = 100e-9;

/// A small residual tanh muPC design with dynamic error nodes (tau_e = rho tau_z).
fn small(rho: f64) -> (AnalogCircuit<f64>, Batch<f64>) {
    let arch = Architecture {
        widths: vec![6, 8, 8, 8, 3],
        activation: Activation::Tanh,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.5,
    };
    let net = Network::init(arch, 3).unwrap();
    let b = 4;
    let x = DMatrix::from_fn(6, b, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let y = DMatrix::from_fn(3, b, |i, j| ((i * 5 + j) as f64 * 0.91).cos());
    let circ = AnalogCircuit::ideal(
        &net,
        &IdealPeriphery {
            tau_z_seconds: TAU_Z,
            tau_e_seconds: rho * TAU_Z,
            v_read_volts: 0.2,
        },
    );
    (circ, Batch { x, y })
}

/// The state after `t` tau_z of steps `h` of `scheme`.
fn state_after(
    circ: &AnalogCircuit<f64>,
    batch: &Batch<f64>,
    scheme: Scheme,
    h: f64,
    t: f64,
) -> Vec<f64> {
    let mut m = ManualStepper::new(
        circ,
        batch.x.as_slice(),
        batch.y.as_slice(),
        batch.size(),
        h * TAU_Z,
    );
    let n = (t / h).round() as usize;
    for _ in 0..n {
        m.step(scheme);
    }
    m.state().to_vec()
}

/// Noise-free Heun options with steps of `dt` up to `t_max` (seconds).
fn heun_options(dt: f64, t_max: f64, settle_tol: f64, steady_tol: f64) -> SimOptions {
    SimOptions {
        settle_tol,
        steady_tol,
        settle_window_seconds: TAU_Z,
        seed: 1,
        trace_points: 4096,
        ..SimOptions::new(Scheme::Heun, dt, t_max)
    }
}

/// A simulation of the small design.
fn run_small(
    circ: &AnalogCircuit<f64>,
    batch: &Batch<f64>,
    o: &SimOptions,
) -> apcsim::analog::Simulation {
    let (x, y) = (batch.x.as_slice(), batch.y.as_slice());
    simulate(circ, x, y, batch.size(), o, &|_, _| {}).unwrap()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn exponential_scheme_is_second_order_whatever_tau_e() {
    for rho in [0.03, 0.3] {
        let (circ, batch) = small(rho);
        let t = 2.0;
        let reference = state_after(&circ, &batch, Scheme::Heun, 1.0 / 2048.0, t);
        let hs = [0.2, 0.1, 0.05, 0.025];
        let errs: Vec<f64> = hs
            .iter()
            .map(|&h| {
                max_diff(
                    &state_after(&circ, &batch, Scheme::Exponential(None), h, t),
                    &reference,
                )
            })
            .collect();
        let slope = (errs[0] / errs[3]).ln() / (hs[0] / hs[3]).ln();
        eprintln!("rho {rho}: errors {errs:?} at h = {hs:?}, slope {slope:.3}");
        // Second order: the slope over a decade of h; the reference's own error (Heun at
        // h = 2^-11, O(h^2) = 2e-7 relative) is below 1/5 of the smallest error measured.
        assert!(slope > 1.7 && slope < 2.6, "rho {rho}: slope {slope}");
    }
}

/// One step of any length advances a linear node exactly: de/ds = r (u - e) from e_0 gives
/// u + (e_0 - u) exp(-r h), and its mean over the step u + (e_0 - u) (1 - exp(-r h)) / (r h),
/// here from the closed form and by Simpson's rule on exp.
#[test]
fn exact_part_is_the_closed_form_step_response() {
    let (u, e0) = (0.7, -1.3);
    for x in [1e-6, 1e-3, 0.5, 3.0, 40.0] {
        let c = ExactLinear::new(x);
        let end = c.decay * e0 + (1.0 - c.decay) * u;
        let exact = u + (e0 - u) * (-x).exp();
        assert!(
            (end - exact).abs() <= 1e-12 * exact.abs(),
            "x {x}: {end} vs {exact}"
        );
        let mean = u + c.phi1 * (e0 - u);
        let n = 20_000;
        let f = |s: f64| u + (e0 - u) * (-x * s).exp();
        let simpson = (0..n)
            .map(|k| {
                let (a, b) = (k as f64 / n as f64, (k + 1) as f64 / n as f64);
                (f(a) + 4.0 * f(0.5 * (a + b)) + f(b)) / 6.0 / n as f64
            })
            .sum::<f64>();
        assert!(
            (mean - simpson).abs() <= 1e-12,
            "x {x}: mean {mean} vs {simpson}"
        );
    }
}

/// The Ornstein–Uhlenbeck moments over a step against their defining integrals (Simpson):
/// with unit white-noise density per step, Var end = (x/h) int_0^h x e^{-2 x s} ds, etc.; in
/// units of the step, Var end = x^2 int_0^1 e^{-2 x s} ds, Cov = x int_0^1 e^{-x s}
/// (1 - e^{-x s}) ds, Var mean = int_0^1 (1 - e^{-x s})^2 ds.
#[test]
fn ornstein_uhlenbeck_moments_over_a_step_match_their_integrals() {
    for x in [1e-4, 0.1, 0.9, 1.1, 5.0, 60.0] {
        let simpson = |f: &dyn Fn(f64) -> f64| {
            let n = 20_000;
            (0..n)
                .map(|k| {
                    let (a, b) = (k as f64 / n as f64, (k + 1) as f64 / n as f64);
                    (f(a) + 4.0 * f(0.5 * (a + b)) + f(b)) / 6.0 / n as f64
                })
                .sum::<f64>()
        };
        let end = x * x * simpson(&|s| (-2.0 * x * s).exp());
        let cov = x * simpson(&|s| (-x * s).exp() * (1.0 - (-x * s).exp()));
        let mean = simpson(&|s| (1.0 - (-x * s).exp()).powi(2));
        let (ve, c, vm) = ou_moments(x);
        for (got, want) in [(ve, end), (c, cov), (vm, mean)] {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "x {x}: {got} vs {want}"
            );
        }
    }
}

/// An error-controlled run meets its tolerance: its final state is the equilibrium a fine
/// fixed-step run reaches (within the steady tolerance), and its trajectory stays close.
#[test]
fn error_controlled_run_agrees_with_a_fine_fixed_step_run() {
    let (circ, batch) = small(0.1);
    let base = heun_options(TAU_Z / 400.0, 200.0 * TAU_Z, 1e-3, 1e-7);
    let run = |o: &SimOptions| run_small(&circ, &batch, o);
    let fine = run(&base);
    let tol = Tolerance {
        rtol: 1e-7,
        atol: 1e-7,
    };
    let adaptive = run(&SimOptions {
        scheme: Scheme::Exponential(Some(tol)),
        dt_seconds: TAU_Z / 20.0,
        ..base.clone()
    });
    let d = max_diff(&adaptive.final_z, &fine.final_z);
    let worst = |s: &apcsim::analog::Simulation| {
        s.settling
            .iter()
            .map(|v| v.time_seconds)
            .fold(0.0, f64::max)
    };
    let (ta, tf) = (worst(&adaptive), worst(&fine));
    eprintln!(
        "adaptive: {} steps, {} evaluations; fine Heun: {} steps; final state differs by {d:.2e}; \
         settling {ta:.4e} s vs {tf:.4e} s",
        adaptive.steps, adaptive.evaluations, fine.steps
    );
    assert!(adaptive.steady && fine.steady);
    // Both stop once max|dz/ds| < 1e-7: within 1e-7 / lambda_min of the equilibrium.
    assert!(d <= 1e-5, "final states differ by {d}");
    assert!((ta - tf).abs() <= 5e-3 * tf, "settling {ta} vs {tf}");
}

/// The worst settling time of a run.
fn worst_settling(s: &apcsim::analog::Simulation) -> f64 {
    s.settling
        .iter()
        .map(|v| v.time_seconds)
        .fold(0.0, f64::max)
}

/// With the defaults' tolerances (step and steady tolerance settle_tol / 100, dt = tau_z / 20)
/// an error-controlled run settles as a fine Heun run does: settling times within 0.5 %
/// (each sample's), the final state within 1e-6 of the largest node, at a fifth of the
/// evaluations of Heun at tau_e / 4. The settling time is measured against the state the run
/// stops at, so it needs the same stopping point as the reference as well as an accurate
/// trajectory: steps no longer than dt, controlled on the value nodes (the error nodes are
/// exact; the change of their input over a step is not an error).
#[test]
fn error_controlled_run_at_default_tolerances_settles_like_a_fine_run() {
    let rho = 0.03;
    let (circ, batch) = small(rho);
    let settle_tol = 1e-3;
    let base = heun_options(
        rho * TAU_Z / 16.0,
        400.0 * TAU_Z,
        settle_tol,
        settle_tol / 100.0,
    );
    let run = |o: &SimOptions| run_small(&circ, &batch, o);
    let fine = run(&base);
    let heun = run(&SimOptions {
        dt_seconds: rho * TAU_Z / 4.0,
        ..base.clone()
    });
    let tol = Tolerance {
        rtol: settle_tol / 100.0,
        atol: settle_tol / 100.0,
    };
    let adaptive = run(&SimOptions {
        scheme: Scheme::Exponential(Some(tol)),
        dt_seconds: TAU_Z / 20.0,
        ..base.clone()
    });
    let scale = fine.final_z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let d = max_diff(&adaptive.final_z, &fine.final_z) / scale;
    let rel: Vec<f64> = adaptive
        .settling
        .iter()
        .zip(&fine.settling)
        .map(|(a, f)| (a.time_seconds - f.time_seconds).abs() / f.time_seconds)
        .collect();
    eprintln!(
        "adaptive: {} steps, {} evaluations; Heun tau_e/4: {} evaluations; final state {d:.2e}; \
         settling {:.4e} s vs {:.4e} s, relative differences {rel:?}",
        adaptive.steps,
        adaptive.evaluations,
        heun.evaluations,
        worst_settling(&adaptive),
        worst_settling(&fine)
    );
    assert!(adaptive.steady && fine.steady);
    assert!(rel.iter().all(|&r| r <= 5e-3), "settling {rel:?}");
    assert!(d <= 1e-6, "final state differs by {d:.2e}");
    assert!(
        5 * adaptive.evaluations <= heun.evaluations,
        "{} evaluations vs Heun's {}",
        adaptive.evaluations,
        heun.evaluations
    );
}
