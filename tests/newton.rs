//! The Newton-Krylov equilibrium: the residual it reaches on the benchmark network, and its
//! fallback to Dop853 when Newton does not converge within its budget.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::io::reference::read_reference;

mod common;

#[path = "../benches/common/network.rs"]
mod network;

/// The acceptance of the solver: max|dz/dt| < 1e-10 on the benchmark network (tanh muPC
/// residual, D = 64, N = 256, L = 8, O = 10, B = 64, f64) by Newton alone, in a few
/// iterations.
#[test]
fn newton_reaches_1e_10_on_the_benchmark_network() {
    let (net, batch) = network::benchmark_network::<f64>(256, 8);
    let opts = InferenceOptions::new(Solver::newton(), Stop::steady(1e-10, 1_000_000));
    let r = infer(&net, &batch, &opts).unwrap();
    let stats = r.newton.expect("newton statistics");
    eprintln!("{stats:?}, max|dz/dt| {:e}", r.max_dzdt);
    assert!(r.converged && r.max_dzdt < 1e-10, "{:e}", r.max_dzdt);
    // Recomputed from the activities alone, not taken from the solver.
    assert!(net.max_activity_gradient(&batch, &r.z) < 1e-10);
    assert_eq!(stats.fallback, None);
    assert_eq!(stats.krylov, "cg");
    assert!(stats.iterations <= 10, "{} iterations", stats.iterations);
}

/// A Newton budget of one iteration cannot reach 1e-12 from the feedforward pass: every chunk
/// falls back to Dop853, says so, and the run still ends at the JPC equilibrium.
#[test]
fn a_newton_failure_falls_back_to_dop853_and_says_so() {
    let input = read_reference(&common::reference_case("tanh_mupc_skips")).unwrap();
    let (net, batch) = (&input.network, &input.batch);
    let solver = Solver::Newton {
        max_iterations: 1,
        rtol: 1e-13,
        atol: 1e-15,
    };
    let r = infer(
        net,
        batch,
        &InferenceOptions::new(solver, Stop::steady(1e-12, 1_000_000)),
    )
    .unwrap();
    let stats = r.newton.expect("newton statistics");
    let fallback = stats.fallback.expect("a fallback");
    assert_eq!(fallback.samples, batch.size());
    let said = fallback.to_string();
    assert!(said.starts_with("newton fell back to dop853 on"), "{said}");
    assert!(said.contains("after 1 Newton iterations"), "{said}");
    assert_eq!(stats.iterations, 1);
    assert!(r.converged && r.max_dzdt < 1e-12, "{:e}", r.max_dzdt);
    let lay = net.layout(batch.size());
    for l in 1..net.n_layers() {
        let theirs = input.reader.array(&format!("equilibrium/z{l}")).unwrap();
        let scale = theirs.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let ours = &r.z[lay.range(l)];
        // The file stores z_l as batch x width (row-major): sample s, node k at s * n + k,
        // the same order as the column-major width x batch of the flat layout.
        for (a, b) in ours.iter().zip(&theirs.data) {
            assert!((a - b).abs() <= 1e-8 * scale, "layer {l}: {a} vs {b}");
        }
    }
}
