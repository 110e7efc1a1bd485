//! The analog circuit against independent oracles: the core's gradient flow (tau_e -> 0),
//! linear-system theory (stability, settling, stationary covariance), closed-form energies.

use apcsim::analog::{simulate, AnalogCircuit, IdealPeriphery, Scheme, SimOptions};
use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::network::{Activation, Architecture, Batch, Network, Parameterisation};
use nalgebra::DMatrix;

fn case(
    act: Activation,
    widths: Vec<usize>,
    batch: usize,
    seed: u64,
) -> (Network<f64>, Batch<f64>) {
    let d = widths[0];
    let o = *widths.last().unwrap();
    let arch = Architecture {
        widths,
        activation: act,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.5,
    };
    let net = Network::init(arch, seed).unwrap();
    let x = DMatrix::from_fn(d, batch, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let y = DMatrix::from_fn(o, batch, |i, j| ((i * 5 + j) as f64 * 0.91).cos());
    (net, Batch { x, y })
}

fn opts(scheme: Scheme, dt: f64, steps: usize) -> SimOptions {
    SimOptions {
        scheme,
        dt_seconds: dt,
        t_max_seconds: dt * steps as f64,
        settle_tol: 1e-3,
        // Never steady: run exactly `steps` steps.
        steady_tol: 0.0,
        settle_window_seconds: dt,
        seed: 1,
        noise: false,
        trace_samples: 2,
        trace_points: 50,
        energy: None,
    }
}

/// With algebraic error nodes the circuit is the core's gradient flow in time t / tau_z: the
/// same Euler steps give the same activities up to rounding of a reassociated sum.
#[test]
fn algebraic_error_nodes_are_the_core_gradient_flow() {
    let (net, batch) = case(Activation::Tanh, vec![6, 9, 9, 9, 4], 37, 3);
    let tau_z = 100e-9;
    let circ: AnalogCircuit<f64> = AnalogCircuit::ideal(
        &net,
        &IdealPeriphery {
            tau_z_seconds: tau_z,
            tau_e_seconds: 0.0,
            v_read_volts: 0.2,
        },
    );
    let h = 0.05;
    let steps = 200;
    let sim = simulate(
        &circ,
        batch.x.as_slice(),
        batch.y.as_slice(),
        37,
        &opts(Scheme::Euler, h * tau_z, steps),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(sim.steps, steps);
    let core = infer(
        &net,
        &batch,
        &InferenceOptions::new(Solver::Euler { dt: h }, Stop::steps(steps)),
    )
    .unwrap();
    let diff = sim
        .final_z
        .iter()
        .zip(&core.z)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = core.z.iter().map(|v| v.abs()).fold(0.0, f64::max);
    // 200 steps of O(10) flops per node each in f64: rounding stays below 1e-13 of the scale.
    assert!(diff <= 1e-12 * scale.max(1.0), "max diff {diff:e}");
}
