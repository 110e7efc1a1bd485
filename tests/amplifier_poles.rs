//! Single-pole amplifiers and the lines' RC (docs/circuit-model.md, "Amplifier poles", "Line
//! RC") against their closed forms: a TIA's step response is `exp(-t / tau)` with
//! `tau = c N / (2 pi GBW)` (the op-amp's pole in a loop of noise gain N) or the Elmore delay
//! of its lines; the exponential scheme's poles against the Heun path converged in dt.

use apcsim::analog::poles::split;
use apcsim::analog::{simulate, AnalogCircuit, Scheme, SimOptions, Tolerance};
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
/// fastest `tau`, against `p(t) = u + (p(0) - u) exp(-t / tau_j)`, `u` the TIA's closed-loop
/// output at the new input. Layer 1's TIAs read the DAC inputs only, so the rest of the
/// circuit moving does not touch them. RK4's error over the run is ~(h / tau)^4 = 1e-8.
fn step_response_error(circ: &AnalogCircuit<f64>, built: &Built, taus: &[f64]) -> f64 {
    let d = built.batch.x.nrows();
    let x_old: Vec<f64> = built.batch.x.column(0).iter().copied().collect();
    let x_new: Vec<f64> = x_old.iter().map(|v| -0.5 * v + 0.1).collect();
    let y: Vec<f64> = built.batch.y.column(0).iter().copied().collect();
    assert_eq!(x_new.len(), d);
    let mut state = circ.initial_state(&x_old, &y, 1);
    let (nz, ne) = (circ.value_layout(1).len(), circ.error_state_len(1));
    let (n_err, n_val) = (circ.error_layout(1).len(), nz);
    let p_of = |s: &[f64]| split(&s[nz + ne..], n_err, n_val).p[..taus.len()].to_vec();
    let p0 = p_of(&state);
    let lc = &circ.layers[0];
    let u: Vec<f64> = (0..lc.outputs)
        .map(|j| (0..d).map(|i| lc.forward[(j, i)] * x_new[i]).sum::<f64>() + lc.offset_forward[j])
        .collect();
    let tau_z = circ.tau_z_seconds;
    let tau_min = taus.iter().copied().fold(f64::INFINITY, f64::min);
    let tau_max = taus.iter().copied().fold(0.0, f64::max);
    let h = tau_min / tau_z / 100.0;
    let steps = (8.0 * tau_max / tau_z / h).ceil() as usize;
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
            let exact = u[j] + (p0[j] - u[j]) * (-t / taus[j]).exp();
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
    assert!(step_response_error(&circ, &built, &taus) < 1e-6);
}

/// The lines' RC alone (no gain-bandwidth): each TIA lags by the Elmore delay of its position
/// along the rows that drive it, `sum_{m <= k} R (n - m + 1) C` (each segment up to the cell
/// charges every capacitor beyond it), on tiny's 2 x 2 tiles (layer 1's 3 outputs: positions
/// 1, 2 of a 2-cell tile, then 1 of a 1-cell tile).
#[test]
fn the_lines_rc_delays_a_tia_by_its_elmore_delay() {
    let (circuit, built, circ) = tiny(&["crossbar.wire_capacitance=1nF"]);
    let (r, c) = (
        circuit.crossbar.wire_resistance_ohms,
        circuit.crossbar.wire_capacitance_farads,
    );
    assert_eq!((r, c), (1.0, 1e-9));
    let cols = circuit.crossbar.cols;
    let outputs = built.mapped.layers[0].outputs;
    let taus: Vec<f64> = (0..outputs)
        .map(|j| {
            let start = j / cols * cols;
            let n = cols.min(outputs - start);
            let k = j - start + 1;
            (1..=k).map(|m| r * (n - m + 1) as f64 * c).sum()
        })
        .collect();
    for (t, e) in taus.iter().zip([2e-9, 3e-9, 1e-9]) {
        assert!((t - e).abs() < 1e-20, "{taus:?}");
    }
    assert!(step_response_error(&circ, &built, &taus) < 1e-6);
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
    let b = built.batch.x.ncols();
    let x: Vec<f64> = built.batch.x.iter().copied().collect();
    let y: Vec<f64> = built.batch.y.iter().copied().collect();
    let t_max = 300e-9;
    let run = |c: &AnalogCircuit<f64>, s: Scheme, dt: f64| {
        simulate(c, &x, &y, b, &options(s, dt, t_max), &|_, _| {}).unwrap()
    };
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
