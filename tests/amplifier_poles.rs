//! Single-pole amplifiers and the lines' RC (docs/circuit-model.md, "Amplifier poles", "Line
//! RC") against their closed forms: a TIA's step response is `exp(-t / tau)` with
//! `tau = c N / (2 pi GBW)` (the op-amp's pole in a loop of noise gain N) or the Elmore delay
//! of its lines; the exponential scheme's poles against the Heun path converged in dt.

use apcsim::analog::poles::split;
use apcsim::analog::{simulate, AnalogCircuit, Scheme, SimOptions, Simulation, Tolerance};
use apcsim::config::{load_str, Circuit, LoadOptions};
use apcsim::design::build::{build, Built};

mod common;

fn tiny(overrides: &[&str]) -> (Circuit, Built, AnalogCircuit<f64>) {
    let text = std::fs::read_to_string(common::repo_path("circuits/tiny.toml")).unwrap();
    let circuit = load_str("tiny.toml", &text, overrides, &LoadOptions::default()).unwrap();
    let built = build(&circuit).unwrap();
    let circ = AnalogCircuit::from_design(&circuit, &built.network, &built.mapped);
    (circuit, built, circ)
}

/// Total device conductance on each column of layer 1's forward pair (what its TIA sees).
fn column_sums(built: &Built) -> Vec<f64> {
    let f = &built.mapped.layers[0].forward;
    let g = &f.plus.read + &f.minus.read;
    (0..g.ncols()).map(|j| g.column(j).sum()).collect()
}

/// Layer 1's forward TIAs after the input steps from `x_old` to `x_new` at t = 0 (the circuit
/// at rest before): the whole circuit integrated by classical RK4 at a step of 1/100 of the
/// fastest time constant `tau_min`, against `p(t) = u + (p(0) - u) s_j(t)`, `u` the TIA's
/// closed-loop output at the new input and `s_j` its normalised step response (1 at t = 0).
/// `second`: read the TIA's second pole (its output when it has two). Layer 1's TIAs read the
/// DAC inputs only, so the rest of the circuit moving does not touch them. RK4's error over
/// the run is ~(h / tau)^4 = 1e-8.
fn step_response_error(
    circ: &AnalogCircuit<f64>,
    built: &Built,
    (tau_min, tau_max): (f64, f64),
    second: bool,
    response: &dyn Fn(usize, f64) -> f64,
) -> f64 {
    let d = built.batch.x.nrows();
    let x_old: Vec<f64> = built.batch.x.column(0).iter().copied().collect();
    let x_new: Vec<f64> = x_old.iter().map(|v| -0.5 * v + 0.1).collect();
    let y: Vec<f64> = built.batch.y.column(0).iter().copied().collect();
    assert_eq!(x_new.len(), d);
    let mut state = circ.initial_state(&x_old, &y, 1);
    let (nz, ne) = (circ.value_layout(1).len(), circ.error_state_len(1));
    let (n_err, n_val) = (circ.error_layout(1).len(), nz);
    let outputs = circ.layers[0].outputs;
    let p_of = |s: &[f64]| {
        let g = split(&s[nz + ne..], n_err, n_val);
        let p = if second { g.p2 } else { g.p };
        p[..outputs].to_vec()
    };
    let p0 = p_of(&state);
    let lc = &circ.layers[0];
    let u: Vec<f64> = (0..lc.outputs)
        .map(|j| (0..d).map(|i| lc.forward[(j, i)] * x_new[i]).sum::<f64>() + lc.offset_forward[j])
        .collect();
    let tau_z = circ.tau_z_seconds;
    let h = tau_min / tau_z / 100.0;
    let steps = (12.0 * tau_max / tau_z / h).ceil() as usize;
    let mut ws = circ.workspace(1);
    let mut max = vec![0.0];
    let n = state.len();
    let mut f = |s: &[f64], out: &mut [f64]| circ.rhs(&mut ws, &x_new, &y, s, None, out, &mut max);
    let (mut k1, mut k2, mut k3, mut k4, mut tmp) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    let mut worst = 0.0f64;
    for step in 1..=steps {
        f(&state, &mut k1);
        (0..n).for_each(|i| tmp[i] = state[i] + 0.5 * h * k1[i]);
        f(&tmp, &mut k2);
        (0..n).for_each(|i| tmp[i] = state[i] + 0.5 * h * k2[i]);
        f(&tmp, &mut k3);
        (0..n).for_each(|i| tmp[i] = state[i] + h * k3[i]);
        f(&tmp, &mut k4);
        (0..n).for_each(|i| state[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
        let t = step as f64 * h * tau_z;
        for (j, p) in p_of(&state).iter().enumerate() {
            let exact = u[j] + (p0[j] - u[j]) * response(j, t);
            worst = worst.max((p - exact).abs());
        }
    }
    let moved = p0
        .iter()
        .zip(&u)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("step of {moved:.3} over {steps} steps: max |p - exact| {worst:.2e}");
    assert!(moved > 0.05, "the step must move the TIAs: {moved}");
    worst
}

/// [`step_response_error`] of first-order TIAs of time constants `taus`.
fn single_pole_error(circ: &AnalogCircuit<f64>, built: &Built, taus: &[f64]) -> f64 {
    let tau_min = taus.iter().copied().fold(f64::INFINITY, f64::min);
    let tau_max = taus.iter().copied().fold(0.0, f64::max);
    let response = |j: usize, t: f64| (-t / taus[j]).exp();
    step_response_error(circ, built, (tau_min, tau_max), false, &response)
}

/// A TIA's pole: `tau = c N / (2 pi GBW)` with `c = A / (A + N)`, `N = 1 + R_f G_sum`, for
/// tiny's A = 10^4 and a GBW of 1 GHz (tau of 0.16 ns times N).
#[test]
fn a_single_pole_tia_steps_as_its_closed_loop_exponential() {
    let gbw = 1e9;
    let (circuit, built, circ) = tiny(&["periphery.gain_bandwidth=1GHz"]);
    let a = circuit.periphery.finite_gain.unwrap();
    let r_f = built.mapped.layers[0].feedback_resistance_ohms;
    let taus: Vec<f64> = column_sums(&built)
        .iter()
        .map(|g| {
            let n = 1.0 + r_f * g;
            a / (a + n) * n / (2.0 * std::f64::consts::PI * gbw)
        })
        .collect();
    eprintln!("tau {taus:?}");
    assert!(single_pole_error(&circ, &built, &taus) < 1e-6);
}

/// The lines' RC alone (no gain-bandwidth): each TIA lags by the Elmore delay of its position
/// along the rows that drive it, `sum_{m <= k} R (n - m + 1) C` (each segment up to the cell
/// charges every capacitor beyond it), on tiny's 2 x 2 tiles (layer 1's 3 outputs: positions
/// 1, 2 of a 2-cell tile, then 1 of a 1-cell tile), plus the pole of its sensed column's
/// capacitance `C_in` at its input: with `V_o = -A V_-`, Kirchhoff there reads
/// `C_in dV_-/dt = I - (A + N) V_- / R_f`, a pole at `R_f C_in / (A + N)`; `C_in` is the 4
/// cells of the column in both arrays of the pair, `8 C`.
#[test]
fn the_lines_rc_delays_a_tia_by_its_elmore_delay_and_its_input_pole() {
    let (circuit, built, circ) = tiny(&["crossbar.wire_capacitance=1nF"]);
    let (r, c) = (
        circuit.crossbar.wire_resistance_ohms,
        circuit.crossbar.wire_capacitance_farads,
    );
    assert_eq!((r, c), (1.0, 1e-9));
    let a = circuit.periphery.finite_gain.unwrap();
    let r_f = built.mapped.layers[0].feedback_resistance_ohms;
    let cols = circuit.crossbar.cols;
    let outputs = built.mapped.layers[0].outputs;
    let c_in = 2.0 * built.mapped.layers[0].inputs as f64 * c;
    assert_eq!(c_in, 8e-9);
    let sums = column_sums(&built);
    let taus: Vec<f64> = (0..outputs)
        .map(|j| {
            let start = j / cols * cols;
            let n = cols.min(outputs - start);
            let k = j - start + 1;
            let elmore: f64 = (1..=k).map(|m| r * (n - m + 1) as f64 * c).sum();
            elmore + r_f * c_in / (a + 1.0 + r_f * sums[j])
        })
        .collect();
    eprintln!("tau {taus:?}");
    assert!(single_pole_error(&circ, &built, &taus) < 1e-6);
}

/// With a gain-bandwidth and line capacitance the TIA's loop has two poles: the op-amp's
/// `(1 + s tau_a) V_o = -A V_-` (`tau_a = A / (2 pi GBW)`) and Kirchhoff at its input with the
/// feedback capacitor `C_f` across `R_f` give `V_o = -c R_f I / (1 + b s + a s^2)`,
/// `b = (tau_a N + R_f C_in + (1 + A) R_f C_f) / (A + N)`, `a = tau_a R_f (C_in + C_f) / (A +
/// N)`. The design's `C_f` damps it critically, `b^2 = 4 a` (found here by bisection): a
/// double pole at `tau = b / 2`, the row line's Elmore delay `delta` added to the first
/// (tiny, A = 10^4, 1 GHz, 10 pF per cell: tau ~ 14 ns, delta 20-30 ps). The step response of
/// `1 / ((1 + s tau_1)(1 + s tau_2))` is `(tau_1 e^{-t/tau_1} - tau_2 e^{-t/tau_2}) / (tau_1 -
/// tau_2)`.
#[test]
fn a_tia_on_capacitive_lines_steps_as_its_critically_damped_loop() {
    let (circuit, built, circ) = tiny(&[
        "crossbar.wire_capacitance=10pF",
        "periphery.gain_bandwidth=1GHz",
    ]);
    let a = circuit.periphery.finite_gain.unwrap();
    let r_f = built.mapped.layers[0].feedback_resistance_ohms;
    let c_in = 2.0 * 4.0 * 10e-12;
    let tau_a = a / (2.0 * std::f64::consts::PI * 1e9);
    let elmore = |j: usize| 1.0 * 10e-12 * [2.0, 3.0, 1.0][j];
    let taus: Vec<f64> = column_sums(&built)
        .iter()
        .map(|g| {
            let n = 1.0 + r_f * g;
            let b = |c_f: f64| (tau_a * n + r_f * c_in + (1.0 + a) * r_f * c_f) / (a + n);
            let q = |c_f: f64| tau_a * r_f * (c_in + c_f) / (a + n);
            // b^2 - 4a: negative without C_f (underdamped), positive for a large one.
            let (mut lo, mut hi) = (0.0, 1e-9);
            assert!(b(lo).powi(2) < 4.0 * q(lo) && b(hi).powi(2) > 4.0 * q(hi));
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if b(mid).powi(2) < 4.0 * q(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            b(hi) / 2.0
        })
        .collect();
    eprintln!("tau {taus:?}");
    let tau_min = taus.iter().copied().fold(f64::INFINITY, f64::min);
    let tau_max = taus.iter().copied().fold(0.0, f64::max) + elmore(1);
    let response = |j: usize, t: f64| {
        let (t1, t2) = (taus[j] + elmore(j), taus[j]);
        (t1 * (-t / t1).exp() - t2 * (-t / t2).exp()) / (t1 - t2)
    };
    let err = step_response_error(&circ, &built, (tau_min, tau_max), true, &response);
    assert!(err < 1e-6, "{err}");
}

fn options(scheme: Scheme, dt: f64, t_max: f64) -> SimOptions {
    SimOptions {
        scheme,
        dt_seconds: dt,
        t_max_seconds: t_max,
        settle_tol: 1e-3,
        steady_tol: 0.0,
        settle_window_seconds: dt,
        seed: 1,
        noise: false,
        trace_samples: 4,
        trace_points: 100_000,
        energy: None,
        readout: None,
    }
}

/// The batch of `built`: inputs and targets flattened, and its size.
fn batch(built: &Built) -> (Vec<f64>, Vec<f64>, usize) {
    let x = built.batch.x.iter().copied().collect();
    let y = built.batch.y.iter().copied().collect();
    (x, y, built.batch.x.ncols())
}

/// A run of a circuit on `built`'s batch over `t_max` (noise off), by scheme and step.
fn runner(built: &Built, t_max: f64) -> impl Fn(&AnalogCircuit<f64>, Scheme, f64) -> Simulation {
    let (x, y, b) = batch(built);
    move |c, s, dt| simulate(c, &x, &y, b, &options(s, dt, t_max), &|_, _| {}).unwrap()
}

/// The largest difference of two runs' value-node traces at the times of `a`'s, `b`'s
/// interpolated linearly (its steps are 1/40 of the fastest pole: the interpolation errs by
/// ~(dt / tau_z)^2 / 8, 1e-9).
fn trace_gap(a: &apcsim::analog::Simulation, b: &apcsim::analog::Simulation) -> f64 {
    let mut worst = 0.0f64;
    for (k, &t) in a.traces.time_seconds.iter().enumerate() {
        let tb = &b.traces.time_seconds;
        let i = tb.partition_point(|&s| s <= t).clamp(1, tb.len() - 1);
        let w = (t - tb[i - 1]) / (tb[i] - tb[i - 1]);
        for (za, zb) in a.traces.z.iter().zip(&b.traces.z) {
            let n = za.len() / a.traces.time_seconds.len();
            for j in 0..n {
                let v = zb[(i - 1) * n + j] * (1.0 - w) + zb[i * n + j] * w;
                worst = worst.max((za[k * n + j] - v).abs());
            }
        }
    }
    worst
}

/// With every pole on (GBW 200 MHz: the integrators' outputs at 0.8 ns, the error stages at
/// 1.6 ns, the TIAs at 0.8 ns x N, the error nodes at 3.2 ns), the exponential scheme at a
/// tight tolerance follows the Heun path converged in dt: Heun at 0.02 ns and 0.01 ns agree to
/// its O(dt^2) error, and the exponential run lies within a few times that of the finer one
/// over the first 3 tau_z, where the poles shape the transient (they move it by far more:
/// the run without poles is printed).
#[test]
fn the_exponential_scheme_s_poles_follow_the_converged_heun_path() {
    let (_, built, circ) = tiny(&["periphery.gain_bandwidth=200MHz"]);
    let (_, _, plain) = tiny(&[]);
    let run = runner(&built, 300e-9);
    let heun = run(&circ, Scheme::Heun, 0.02e-9);
    let fine = run(&circ, Scheme::Heun, 0.01e-9);
    let tol = Tolerance {
        rtol: 1e-10,
        atol: 1e-10,
    };
    let exp = run(&circ, Scheme::Exponential(Some(tol)), 1e-9);
    let no_poles = run(&plain, Scheme::Exponential(Some(tol)), 1e-9);
    let (heun_gap, exp_gap) = (trace_gap(&heun, &fine), trace_gap(&exp, &fine));
    let pole_effect = trace_gap(&no_poles, &fine);
    eprintln!(
        "Heun dt vs dt/2: {heun_gap:.2e}; exponential ({} points) vs Heun dt/2: {exp_gap:.2e}; \
         without poles: {pole_effect:.2e}",
        exp.traces.time_seconds.len()
    );
    assert!(exp.traces.time_seconds.len() > 20);
    assert!(heun_gap < 1e-6, "{heun_gap}");
    assert!(exp_gap < 1e-6, "{exp_gap}");
    assert!(pole_effect > 100.0 * exp_gap, "{pole_effect}");
}

/// Line capacitance alone (no gain-bandwidth) gives poles of femtoseconds (tiny at 0.1 fF per
/// cell: the Elmore delays 1-3e-16 s, the input poles `R_f C_in / (A + N)` ~1e-15 s), far
/// below any useful step. A fixed-step run (Heun at 0.1 ns) takes them as instantaneous
/// (every pole is faster than a hundredth of the step): it is the run without line
/// capacitance, bit for bit, and it follows the exponential scheme's run with the poles
/// (exact over any step) to within Heun's own error (its gap to the run at half the step).
#[test]
fn a_fixed_step_run_takes_femtosecond_line_poles_as_instantaneous() {
    let (_, built, circ) = tiny(&["crossbar.wire_capacitance=0.1fF"]);
    let (_, _, plain) = tiny(&[]);
    let slowest = circ.tau_z_seconds / circ.poles.as_ref().unwrap().slowest_rate();
    assert!(slowest < 1e-14, "{slowest}");
    let run = runner(&built, 300e-9);
    let heun = run(&circ, Scheme::Heun, 0.1e-9);
    let without = run(&plain, Scheme::Heun, 0.1e-9);
    assert_eq!(heun.final_z, without.final_z);
    let half = run(&circ, Scheme::Heun, 0.05e-9);
    let tol = Tolerance {
        rtol: 1e-10,
        atol: 1e-10,
    };
    let exact = run(&circ, Scheme::Exponential(Some(tol)), 0.1e-9);
    let (heun_error, pole_effect) = (trace_gap(&heun, &half), trace_gap(&exact, &half));
    eprintln!(
        "Heun dt vs dt/2: {heun_error:.2e}; exponential with poles vs Heun dt/2: {pole_effect:.2e}"
    );
    assert!(pole_effect < 2.0 * heun_error, "{pole_effect} {heun_error}");
}

/// Poles too slow to drop and too fast for the step: the run is refused, naming the key to
/// change and the step that would do (1 GHz amplifiers on tiny at a step of 1 ns).
#[test]
fn a_step_too_long_for_the_poles_is_refused_naming_the_key() {
    let (_, built, circ) = tiny(&["periphery.gain_bandwidth=1GHz"]);
    let (x, y, b) = batch(&built);
    let opts = options(Scheme::Heun, 1e-9, 100e-9);
    let err = simulate(&circ, &x, &y, b, &opts, &|_, _| {}).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, apcsim::analog::SimError::Options(_)), "{msg}");
    for key in [
        "dynamics.dt",
        "dynamics.solver = \"exponential\"",
        "periphery.gain_bandwidth",
    ] {
        assert!(msg.contains(key), "{msg}");
    }
    let dir = std::env::temp_dir().join(format!("apcsim-refused-step-{}", std::process::id()));
    let out = common::apcsim([
        "run",
        &common::repo_path("circuits/tiny.toml").to_string_lossy(),
        "--set",
        "periphery.gain_bandwidth=1GHz",
        "--set",
        "dynamics.dt=1ns",
        "--out",
        &dir.to_string_lossy(),
    ])
    .output()
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("dynamics.dt"), "{stderr}");
}
