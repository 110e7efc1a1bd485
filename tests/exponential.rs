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
        eprintln!("rho {rho}: errors {errs:?}");
    }
}
