//! The circuit terms of docs/circuit-model.md beyond the ideal periphery, each against its
//! closed form: the amplifiers' 1/f noise (its spectrum, and the densities a design gives each
//! amplifier), the integrators' leak from finite open-loop gain (the exact exponential of a
//! linear node), and the bad-input messages of their keys.
//!
//! # Reference
//! - Analog Devices, tutorial MT-048, "Op Amp Noise Relationships": input noise
//!   `e_n^2 (1 + f_c / f)`.
//! - Welch, IEEE Trans. Audio Electroacoust. 15 (1967): the windowed periodogram
//!   `P(f) = 2 dt |sum w_n x_n exp(-2 pi i f n dt)|^2 / sum w_n^2` (one-sided), whose mean is
//!   the density and whose relative spread is 1 per record.

use apcsim::analog::amplifier::IntegratorLeak;
use apcsim::analog::flicker::{FlickerBand, FlickerSources};
use apcsim::analog::{simulate, AnalogCircuit, IdealPeriphery, Scheme, SimOptions, Tolerance};
use apcsim::config::{load_str, LoadOptions};
use apcsim::network::{Activation, Architecture, Network, Parameterisation};

mod common;

/// The one-sided periodogram of `records` (each a series at steps `dt`) at frequency `f`,
/// Hann-windowed, averaged over the records.
fn periodogram(records: &[Vec<f64>], dt: f64, f: f64) -> f64 {
    let n = records[0].len();
    let w: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    let w2: f64 = w.iter().map(|v| v * v).sum();
    let (c, s): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|i| {
            let a = 2.0 * std::f64::consts::PI * f * i as f64 * dt;
            (a.cos(), a.sin())
        })
        .unzip();
    let mut total = 0.0;
    for r in records {
        let mean = r.iter().sum::<f64>() / n as f64;
        let (mut re, mut im) = (0.0, 0.0);
        for i in 0..n {
            let x = w[i] * (r[i] - mean);
            re += x * c[i];
            im += x * s[i];
        }
        total += 2.0 * dt * (re * re + im * im) / w2;
    }
    total / records.len() as f64
}

/// Least-squares slope and intercept of y on x.
fn line_fit(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// The 1/f sources a run integrates: 256 independent sources of `c = 2e-3` over the band of a
/// run of 10^7 steps, sampled 16384 steps; the periodogram at 21 frequencies evenly spaced in
/// log over two decades (8 to 800 bins: from 8 record lengths above the band's bottom to 1/20 of
/// the Nyquist frequency, where the band's ends take under 3% of the density). Slope -1 within
/// 0.1 (the acceptance) and the level c within 10%: with 256 records each point's relative
/// spread is 1/16, the fit's a few thousandths.
#[test]
fn flicker_noise_has_a_one_over_f_spectrum_at_its_level() {
    let (dt, n, sources, c) = (1.0, 16384, 256, 2e-3);
    let band = FlickerBand::of_run(dt, 1e7 * dt);
    let mut src = FlickerSources::new(&vec![c; sources], &band, dt, 7, 0);
    let mut records = vec![vec![0.0; n]; sources];
    let mut out = vec![0.0f64; sources];
    for t in 0..n {
        src.emit_and_advance(&mut out);
        for (r, &v) in records.iter_mut().zip(&out) {
            r[t] = v;
        }
    }
    let (mut lf, mut ls) = (Vec::new(), Vec::new());
    for k in 0..=20 {
        let bin = 8.0 * 10f64.powf(k as f64 / 10.0);
        let f = bin / (n as f64 * dt);
        lf.push(f.log10());
        ls.push(periodogram(&records, dt, f).log10());
    }
    let (slope, intercept) = line_fit(&lf, &ls);
    let level = 10f64.powf(intercept) / c;
    eprintln!("1/f sources: PSD slope {slope:.4} over two decades, level f S(f) / c = {level:.4}");
    assert!((slope + 1.0).abs() < 0.1, "slope {slope}");
    assert!((level - 1.0).abs() < 0.1, "level {level}");
}

/// A one-node linear circuit (widths 1, 1, 1; algebraic error nodes) whose integrator has
/// open-loop gain A = 10: dz/ds = c (-(z - f x) + b (y - g z)) - z / (A + 1) with
/// c = A / (A + 1) (crate::analog::amplifier), so z(s) = z* + (z_0 - z*) exp(-k s) with
/// k = c (1 + b g) + 1 / (A + 1), z* = c (f x + b y) / k. Heun at h = 10^-3 tau_z (local error
/// (k h)^3 / 6 per step, 10^-8 over the run) and the exponential scheme at tolerance 10^-10 both
/// follow it to 10^-6 at every traced point; without the leak the trajectory would miss by
/// up to |z* - z*_ideal|, 5e-3 here.
#[test]
fn integrator_leak_follows_the_exact_exponential() {
    let arch = Architecture {
        widths: vec![1, 1, 1],
        activation: Activation::Linear,
        parameterisation: Parameterisation::Sp,
        skips: false,
        gamma0: 1.0,
        output_precision: 1.0,
    };
    let net = Network::init(arch, 3).unwrap();
    let p = IdealPeriphery {
        tau_z_seconds: 100e-9,
        tau_e_seconds: 0.0,
        v_read_volts: 0.2,
    };
    let mut circ: AnalogCircuit<f64> = AnalogCircuit::ideal(&net, &p);
    let a = 10.0;
    circ.integrator_gain = Some(a);
    let leak = IntegratorLeak::of_gain(a);
    let f = circ.layers[0].forward[(0, 0)];
    let g = circ.layers[1].forward[(0, 0)];
    let b = circ.layers[1].backward.as_ref().unwrap()[(0, 0)];
    let (x, y) = (0.7, -0.4);
    let k = leak.gain * (1.0 + b * g) + leak.rate;
    let z_star = leak.gain * (f * x + b * y) / k;
    let z0 = f * x;
    let tol = Tolerance {
        rtol: 1e-10,
        atol: 1e-10,
    };
    for scheme in [Scheme::Heun, Scheme::Exponential(Some(tol))] {
        let dt = 1e-3 * p.tau_z_seconds;
        let o = SimOptions {
            seed: 1,
            trace_samples: 1,
            trace_points: 200,
            ..SimOptions::new(scheme, dt, 5.0 * p.tau_z_seconds)
        };
        let sim = simulate(&circ, &[x], &[y], 1, &o, &|_, _| {}).unwrap();
        let mut worst = 0.0f64;
        // One hidden node, one traced sample: layer 1's trace is one value per point.
        let z = &sim.traces.z[0];
        assert_eq!(z.len(), sim.traces.time_seconds.len());
        for (t, z) in sim.traces.time_seconds.iter().zip(z) {
            let s = t / p.tau_z_seconds;
            let exact = z_star + (z0 - z_star) * (-k * s).exp();
            worst = worst.max((z - exact).abs());
        }
        let ideal_star = (f * x + b * y) / (1.0 + b * g);
        eprintln!(
            "{scheme:?}: {} points, max |z - exact| {worst:.2e} (leak moves z* by {:.2e})",
            sim.traces.time_seconds.len(),
            (z_star - ideal_star).abs()
        );
        assert!(sim.traces.time_seconds.len() > 50);
        assert!(worst < 1e-6, "{worst}");
    }
}

/// A design's finite open-loop gain reaches its integrators.
#[test]
fn a_design_s_open_loop_gain_sets_the_integrator_leak() {
    let text = std::fs::read_to_string(common::repo_path("circuits/tiny.toml")).unwrap();
    let over = ["periphery.open_loop_gain=1000"];
    let circuit = load_str("tiny.toml", &text, &over, &LoadOptions::default()).unwrap();
    let built = apcsim::design::build::build(&circuit).unwrap();
    let circ: AnalogCircuit<f64> =
        AnalogCircuit::from_design(&circuit, &built.network, &built.mapped);
    assert_eq!(circ.integrator_gain, Some(1000.0));
}
