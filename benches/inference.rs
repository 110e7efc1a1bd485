//! Inference throughput: one Euler inference of 500 steps on a tanh muPC residual MLP
//! (D = 64, N = 256, L = 8, O = 10, B = 64) in f64 and f32, reported in FLOP/s.
//!
//! FLOPs are counted as 2 GEMMs per layer per step (forward prediction and backward error
//! product), 2 n_l n_{l-1} B each, the convention of the JPC comparison figures.
//! `APCSIM_BENCH_QUICK=1` runs a short variant (50 steps) for CI.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::network::{Batch, Network};
use apcsim::Real;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "common/network.rs"]
mod network;

fn setup<T: Real>() -> (Network<T>, Batch<T>) {
    network::benchmark_network(256, 8)
}

fn flops_per_step<T: Real>(net: &Network<T>, b: usize) -> u64 {
    let w = net.widths();
    (1..w.len())
        .map(|l| 2 * 2 * (w[l] * w[l - 1] * b) as u64)
        .sum()
}

fn bench_precision<T: Real>(c: &mut Criterion, steps: usize) {
    let (net, batch) = setup::<T>();
    let flops = flops_per_step(&net, batch.size()) * steps as u64;
    let opts = InferenceOptions::new(Solver::Euler { dt: 0.1 }, Stop::steps(steps));
    let mut g = c.benchmark_group("euler_inference");
    g.throughput(Throughput::Elements(flops));
    g.sample_size(10);
    g.bench_function(format!("{}_{steps}steps", T::NAME), |bch| {
        bch.iter(|| infer(&net, &batch, &opts).expect("stable run"))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let steps = if quick { 50 } else { 500 };
    bench_precision::<f64>(c, steps);
    bench_precision::<f32>(c, steps);
}

criterion_group!(inference, benches);
criterion_main!(inference);
