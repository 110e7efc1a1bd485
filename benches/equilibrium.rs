//! Time to the equilibrium, max|dz/dt| < 1e-10, on the benchmark network (tanh muPC residual,
//! D = 64, N = 256, L = 8, O = 10, B = 64, f64; benches/common/network.rs): Newton-Krylov,
//! Dop853 (rtol 1e-11, atol 1e-13) and Euler at its largest stable step, side by side in one
//! group.
//!
//! Euler's step is 0.408 = 0.98 x 2 / lambda_max, with lambda_max = 4.80 the largest eigenvalue
//! of the activity Hessian at the equilibrium over the batch (`cargo run --release --example
//! equilibrium` computes it by power iteration): any longer step diverges.
//! `APCSIM_BENCH_QUICK=1` runs the same comparison on a small network (N = 64, L = 4) for CI.
//!
//! Dop853 takes about 230 s per solve on the benchmark network (and about 37 s on the quick
//! one, loaded), so criterion's minimum of 10 samples (one solve each) costs it about 40 minutes: it joins the
//! group only with `APCSIM_BENCH_DOP853=1`.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

#[path = "common/network.rs"]
mod network;

/// 0.98 x 2 / lambda_max at the benchmark network's equilibrium (see the module).
const EULER_DT: f64 = 0.408;

fn benches(c: &mut Criterion) {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (n, l) = if quick { (64, 4) } else { (256, 8) };
    let (net, batch) = network::benchmark_network::<f64>(n, l);
    let stop = Stop::steady(1e-10, 10_000_000);
    let with_dop853 = std::env::var("APCSIM_BENCH_DOP853").is_ok_and(|v| v == "1");
    let dop853 = Solver::Dop853 {
        rtol: 1e-11,
        atol: 1e-13,
    };
    let solvers = [
        Some(("newton", Solver::newton())),
        with_dop853.then_some(("dop853", dop853)),
        Some(("euler", Solver::Euler { dt: EULER_DT })),
    ];
    let mut g = c.benchmark_group("equilibrium_1e-10");
    // One solve per sample: linear sampling would run 55 solves of each solver.
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for (name, solver) in solvers.into_iter().flatten() {
        let opts = InferenceOptions::new(solver, stop);
        g.bench_function(format!("{name}_N{n}_L{l}"), |b| {
            b.iter(|| {
                let r = infer(&net, &batch, &opts).expect("a finite run");
                assert!(r.max_dzdt < 1e-10, "{name}: {:e}", r.max_dzdt);
                r
            })
        });
    }
    g.finish();
}

criterion_group!(equilibrium, benches);
criterion_main!(equilibrium);
