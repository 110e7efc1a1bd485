//! The same inputs give bit-identical results whatever the number of threads and however the
//! batch is cut into parallel chunks.

use apcsim::dynamics::{infer, InferenceError, InferenceOptions, Solver, Stop};
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
    opts.chunk = Some(chunk);
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

/// The chunk size does not change a fixed-step result either: the packed GEMM computes every
/// element of a product the same way wherever its column sits in a tile, and every other
/// operation is per sample or summed in sample order.
#[test]
fn chunking_does_not_change_results() {
    for (width, b) in [(20, 13), (160, 96)] {
        let (net, batch) = case(width, b);
        for solver in [Solver::Euler { dt: 0.1 }, Solver::Rk4 { dt: 0.2 }] {
            let reference = run_with(&net, &batch, solver, b, 1);
            for chunk in [1, 5, 7, 32] {
                let other = run_with(&net, &batch, solver, chunk, 2);
                assert!(
                    reference
                        .iter()
                        .zip(&other)
                        .all(|(a, c)| a.to_bits() == c.to_bits()),
                    "width {width}, {solver:?}, chunk {chunk}"
                );
            }
        }
    }
}

/// When several chunks diverge, the error gives the time of the first divergence, as a single
/// chunk of the whole batch does. The Euler step is too long for this network; the first half of
/// the batch has inputs 50 times larger, which saturate its tanh units, and on its own diverges
/// later than the whole batch.
#[test]
fn the_earliest_divergence_names_the_failure_whatever_the_chunks() {
    let (net, mut batch) = case(20, 16);
    for j in 0..8 {
        for i in 0..batch.x.nrows() {
            batch.x[(i, j)] *= 50.0;
        }
    }
    let fail = |batch: &Batch<f64>, chunk: usize| {
        let mut opts = InferenceOptions::new(Solver::Euler { dt: 2.5 }, Stop::steps(2000));
        opts.chunk = Some(chunk);
        match infer(&net, batch, &opts) {
            Err(InferenceError::NonFinite { time, value, .. }) => {
                assert!(!value.is_finite());
                time
            }
            other => panic!("not a divergence: {other:?}"),
        }
    };
    let whole = fail(&batch, 16);
    let first_half = Batch {
        x: batch.x.columns(0, 8).into_owned(),
        y: batch.y.columns(0, 8).into_owned(),
    };
    let later = fail(&first_half, 8);
    assert!(later > whole, "first half {later}, whole batch {whole}");
    for chunk in [8, 4, 1] {
        assert_eq!(fail(&batch, chunk), whole, "chunk {chunk}");
    }
}
