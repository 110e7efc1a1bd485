//! The same inputs give bit-identical results whatever the number of threads and however the
//! batch is cut into parallel chunks.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::network::{Activation, Architecture, Batch, Network, Parameterisation};
use nalgebra::DMatrix;

fn case(width: usize, batch: usize) -> (Network<f64>, Batch<f64>) {
    let arch = Architecture {
        widths: vec![12, width, width, width, 5],
        activation: Activation::Tanh,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 2.0,
    };
    let net = Network::init(arch, 11).unwrap();
    let x = DMatrix::from_fn(12, batch, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let y = DMatrix::from_fn(5, batch, |i, j| ((i * 5 + j) as f64 * 0.91).cos());
    (net, Batch { x, y })
}

fn run_with(
    net: &Network<f64>,
    batch: &Batch<f64>,
    solver: Solver,
    chunk: usize,
    threads: usize,
) -> Vec<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut opts = InferenceOptions::new(solver, Stop::steps(40));
    opts.chunk = chunk;
    opts.record_every = Some(10);
    let r = pool.install(|| infer(net, batch, &opts).unwrap());
    let mut v = r.z;
    v.extend(r.energy_trace);
    v
}

/// Thread count never changes a result: chunks have a fixed size, each chunk and each layer is
/// computed the same way on whichever thread runs it, and reductions run in sample order.
#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    // Width 160 with batch 96 puts each pass above the layer-parallel threshold, so the
    // parallel layer path is exercised as well as the serial one (width 20).
    for (width, b) in [(20, 13), (160, 96)] {
        let (net, batch) = case(width, b);
        for solver in [Solver::Euler { dt: 0.1 }, Solver::Rk4 { dt: 0.2 }] {
            for chunk in [1, 5, 32, b] {
                let one = run_with(&net, &batch, solver, chunk, 1);
                for threads in [2, 3] {
                    let other = run_with(&net, &batch, solver, chunk, threads);
                    assert!(
                        one.iter()
                            .zip(&other)
                            .all(|(a, c)| a.to_bits() == c.to_bits()),
                        "width {width}, {solver:?}, chunk {chunk}, {threads} threads"
                    );
                }
            }
        }
    }
}

/// The chunk size may change the last bits (the GEMM kernel rounds full and partial register
/// tiles differently, with and without a fused multiply-add), never more: 40 steps of a
/// contracting flow keep the difference at a few ulp of the state.
#[test]
fn chunking_changes_results_only_by_rounding() {
    let (net, batch) = case(20, 13);
    let reference = run_with(&net, &batch, Solver::Euler { dt: 0.1 }, 13, 1);
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for chunk in [1, 5, 7] {
        let other = run_with(&net, &batch, Solver::Euler { dt: 0.1 }, chunk, 2);
        let diff = reference
            .iter()
            .zip(&other)
            .fold(0.0f64, |m, (a, c)| m.max((a - c).abs()));
        assert!(
            diff <= 64.0 * f64::EPSILON * scale,
            "chunk {chunk}: {diff:e}"
        );
    }
}
