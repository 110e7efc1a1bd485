//! Drift compensation (`periphery.drift_compensation = "global"`) against closed forms: a drift
//! that scales every device by the same factor f = (t / t0)^-nu is removed exactly (alpha =
//! 1 / f), a drift with a per-device exponent nu ~ N(mu, s^2) is removed on average (alpha
//! near 1 / E[f] = exp(mu T - s^2 T^2 / 2), T = ln(t / t0), the lognormal mean, within the
//! read-out's sampling error); the analog circuit and the SPICE export take the same gains; and
//! with the key absent or "none" nothing changes, bit for bit.

use apcsim::analog::AnalogCircuit;
use apcsim::config::{load_str, Circuit, LoadOptions};
use apcsim::design::build::{build, mapping_report, Built};
use apcsim::hardware::drift_compensation::DriftCompensation;
use apcsim::hardware::mapping::{map_network, wire_model};
use apcsim::spice::design::SpiceDesign;

/// A linear network on an ideal continuous device that drifts by `nu_mean` +- `nu_std`, read at
/// `t_read` after t0 = 20 s; `extra` adds lines to `[periphery]`.
fn design(hidden: &str, nu: (f64, f64), t_read: &str, backward: &str, extra: &str) -> String {
    format!(
        r#"
[network]
input = 24
hidden = {hidden}
output = 6
activation = "linear"
parameterisation = "mupc"

[device]
preset = "ideal"
g_min = "0uS"
drift = true
drift_nu_mean = {}
drift_nu_std = {}
drift_t0 = "20s"
drift_t_read = "{t_read}"

[crossbar]
rows = 16
cols = 16
backward = "{backward}"

[periphery]
{extra}

[dynamics]
noise = false

[data]
source = "gaussian"

[run]
batch = 4
seed = 3
"#,
        nu.0, nu.1
    )
}

fn load(text: &str, sets: &[&str]) -> Circuit {
    load_str("drift.toml", text, sets, &LoadOptions::default()).unwrap()
}

fn built(text: &str, sets: &[&str]) -> (Circuit, Built) {
    let c = load(text, sets);
    let b = build(&c).unwrap();
    (c, b)
}

/// max |a - b| / max |b|.
fn rel_diff(a: &nalgebra::DMatrix<f64>, b: &nalgebra::DMatrix<f64>) -> f64 {
    (a - b).amax() / b.amax()
}

#[test]
fn a_uniform_drift_is_removed_exactly() {
    const GLOBAL: &str = "drift_compensation = \"global\"";
    let nu = 0.05;
    let alpha = (3620.0f64 / 20.0).powf(nu);
    for backward in ["shared", "separate"] {
        let (_, fresh) = built(&design("[20, 12]", (nu, 0.0), "0s", backward, ""), &[]);
        let (_, drifted) = built(&design("[20, 12]", (nu, 0.0), "3600s", backward, ""), &[]);
        let (c, comp) = built(
            &design("[20, 12]", (nu, 0.0), "3600s", backward, GLOBAL),
            &[],
        );
        assert_eq!(c.periphery.drift_compensation, DriftCompensation::Global);
        for ((f, d), m) in fresh
            .mapped
            .layers
            .iter()
            .zip(&drifted.mapped.layers)
            .zip(&comp.mapped.layers)
        {
            // Uncompensated, every weight is scaled by f = 1 / alpha.
            assert!(rel_diff(&(&d.w_forward * alpha), &f.w_forward) < 1e-13);
            let cal = m.drift_calibration.unwrap();
            assert!((cal.forward.alpha / alpha - 1.0).abs() < 1e-13, "{cal:?}");
            if backward == "separate" {
                assert!((cal.backward.unwrap().alpha / alpha - 1.0).abs() < 1e-13);
            } else {
                assert!(cal.backward.is_none());
            }
            assert!(rel_diff(&m.w_forward, &f.w_forward) < 1e-13);
            assert!(rel_diff(&m.w_backward, &f.w_backward) < 1e-13);
            // The gain lives in the TIAs' feedback resistors.
            for r in [
                m.feedback_resistance_ohms,
                m.backward_feedback_resistance_ohms,
            ] {
                assert!((r / f.feedback_resistance_ohms / alpha - 1.0).abs() < 1e-13);
            }
        }
        let report = mapping_report(&c, &comp);
        assert!(report.contains("drift compensation (global)"), "{report}");
        assert!(report.contains(&format!("{alpha:.4}")), "{report}");
    }
}

/// The analog circuit's products and the SPICE export's effective network of a compensated
/// uniform drift are those of the undrifted design, and the netlist's R_f carries alpha.
#[test]
fn the_circuit_and_the_netlist_take_the_gain() {
    let nu = 0.05;
    let alpha = (3620.0f64 / 20.0).powf(nu);
    let text = |t: &str, extra: &str| design("[20, 12]", (nu, 0.0), t, "separate", extra);
    let (c0, fresh) = built(&text("0s", ""), &[]);
    let (c1, comp) = built(&text("3600s", "drift_compensation = \"global\""), &[]);
    let a0: AnalogCircuit<f64> = AnalogCircuit::from_design(&c0, &fresh.network, &fresh.mapped);
    let a1: AnalogCircuit<f64> = AnalogCircuit::from_design(&c1, &comp.network, &comp.mapped);
    for (l0, l1) in a0.layers.iter().zip(&a1.layers) {
        assert!(rel_diff(&l1.forward, &l0.forward) < 1e-13);
        if let (Some(b0), Some(b1)) = (&l0.backward, &l1.backward) {
            assert!(rel_diff(b1, b0) < 1e-13);
        }
    }
    let s0 = SpiceDesign::new(&c0, &fresh, 0).unwrap();
    let s1 = SpiceDesign::new(&c1, &comp, 0).unwrap();
    for (l0, l1) in s0.layers.iter().zip(&s1.layers) {
        let r = l1.feedback_resistance_ohms / l0.feedback_resistance_ohms;
        assert!((r / alpha - 1.0).abs() < 1e-13);
        let r = l1.backward_feedback_resistance_ohms / l0.backward_feedback_resistance_ohms;
        assert!((r / alpha - 1.0).abs() < 1e-13);
    }
    let w0 = s0.network.weights();
    for (w1, w0) in s1.network.weights().iter().zip(w0) {
        assert!(rel_diff(w1, w0) < 1e-13);
    }
}

/// nu ~ N(mu, s^2) per device: the calibrated gain is 1 / E[f] within the read-out's sampling
/// error, and the compensated weights follow the designed ones with slope 1 (the mean gain),
/// where the uncompensated slope is E[f] = 0.60.
#[test]
fn a_random_drift_is_removed_on_average() {
    let (mu, s) = (0.1, 0.03);
    let t = (3620.0f64 / 20.0).ln();
    let mean_f = (-mu * t + 0.5 * s * s * t * t).exp();
    let sd_f = ((s * s * t * t).exp() - 1.0).sqrt() * mean_f;
    let text = design(
        "[160, 160]",
        (mu, s),
        "3600s",
        "shared",
        "drift_compensation = \"global\"",
    );
    let (c, comp) = built(&text, &[]);
    let (_, plain) = built(&text, &["periphery.drift_compensation=none"]);
    for ((m, p), w) in comp
        .mapped
        .layers
        .iter()
        .zip(&plain.mapped.layers)
        .zip(comp.network.weights())
    {
        // g_min = 0: one device of each pair holds kappa |a W|, the other 0 (which drift keeps
        // at 0), so the read-out is sum |a W| f_ij over independent f_ij.
        let sum_abs: f64 = w.iter().map(|x| x.abs()).sum();
        let sum_sq: f64 = w.iter().map(|x| x * x).sum();
        let se_alpha = sum_sq.sqrt() * sd_f / (sum_abs * mean_f);
        let alpha = m.drift_calibration.unwrap().forward.alpha;
        let err = (alpha * mean_f - 1.0).abs();
        assert!(
            err < 4.0 * se_alpha,
            "layer {}: {err} vs se {se_alpha}",
            m.layer
        );
        // Slope of the effective weights on the designed ones (the mean gain).
        let slope = |we: &nalgebra::DMatrix<f64>| we.dot(w) / sum_sq;
        let sum_4: f64 = w.iter().map(|x| x.powi(4)).sum();
        let se_slope = sum_4.sqrt() / sum_sq * sd_f / mean_f + se_alpha;
        assert!((slope(&p.w_forward) / mean_f - 1.0).abs() < 4.0 * se_slope);
        let g = slope(&m.w_forward);
        assert!(
            (g - 1.0).abs() < 4.0 * se_slope,
            "layer {}: slope {g}",
            m.layer
        );
        assert!(se_slope < 0.02, "the test resolves the gain: se {se_slope}");
    }
    assert!(mean_f < 0.61);
    assert_eq!(c.periphery.drift_compensation, DriftCompensation::Global);
}

/// With read noise, each calibration read is noisy: alpha moves off 1 / f by about the
/// read-out's relative noise, the same for the same seed, another for another seed.
#[test]
fn a_noisy_calibration_read_is_noisy_and_reproducible() {
    let nu = 0.05;
    let f = (3620.0f64 / 20.0).powf(-nu);
    let rho = 0.05;
    let text = design(
        "[20, 12]",
        (nu, 0.0),
        "3600s",
        "shared",
        "drift_compensation = \"global\"",
    )
    .replace("noise = false", "noise = true\nsolver = \"heun\"")
    .replace(
        "drift_t_read = \"3600s\"",
        // A white density w over the error amplifiers' 50 MHz gives a read of relative sigma rho.
        &format!(
            "drift_t_read = \"3600s\"\nread_noise_white = {}",
            rho / 50e6f64.sqrt()
        ),
    );
    let alphas = |seed: &str| -> Vec<f64> {
        let (c, b) = built(&text, &[seed]);
        assert!(c.dynamics.noisy);
        b.mapped
            .layers
            .iter()
            .map(|m| m.drift_calibration.unwrap().forward.alpha)
            .collect()
    };
    let a = alphas("run.seed=3");
    assert_eq!(a, alphas("run.seed=3"));
    assert_ne!(a, alphas("run.seed=4"));
    let (_, b) = built(&text, &[]);
    for (m, alpha) in b.mapped.layers.iter().zip(&a) {
        // Each read-out entry |d + sigma z| with sigma = rho G: the sum's relative noise is at
        // most rho sqrt(sum G^2) / sum G per read, two reads.
        let g = &m.forward.plus.programmed + &m.forward.minus.programmed;
        let se = rho * g.norm() / g.sum() * 2f64.sqrt();
        let err = (alpha * f - 1.0).abs();
        assert!(
            err > 0.0 && err < 5.0 * se,
            "layer {}: {err} vs {se}",
            m.layer
        );
    }
}

#[test]
fn off_by_default_changes_nothing() {
    let text = design("[20, 12]", (0.05, 0.02), "3600s", "separate", "").replace(
        "preset = \"ideal\"",
        "preset = \"pcm\"\ndrift_nu_fit = \"constant\"",
    );
    let (c, absent) = built(&text, &[]);
    assert_eq!(c.periphery.drift_compensation, DriftCompensation::None);
    let (_, none) = built(&text, &["periphery.drift_compensation=none"]);
    assert_eq!(absent.mapped, none.mapped);
    let plain = map_network(
        &absent.network,
        &c.device,
        &c.crossbar,
        c.run.seed,
        &wire_model(&c.crossbar),
    )
    .unwrap();
    assert_eq!(absent.mapped, plain);
    assert!(absent
        .mapped
        .layers
        .iter()
        .all(|l| l.drift_calibration.is_none()));
    assert!(!mapping_report(&c, &absent).contains("drift compensation"));
}

#[test]
fn a_bad_mode_is_refused_with_its_place() {
    let text = design(
        "[8]",
        (0.05, 0.0),
        "3600s",
        "shared",
        "drift_compensation = \"globl\"",
    );
    let e = load_str("drift.toml", &text, &[] as &[&str], &LoadOptions::default()).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.starts_with("drift_compensation"))
        .unwrap()
        + 1;
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("drift.toml:{line}:")), "{msg}");
    assert!(msg.contains("periphery.drift_compensation"), "{msg}");
    assert!(msg.contains("expected one of none, global"), "{msg}");
}
