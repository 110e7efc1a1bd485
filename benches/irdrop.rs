//! IR-drop effective matrix of one tile (nodal analysis, factorised once): 256 x 256 is the
//! target of the IR-drop solve (under 1 s), 64 x 64 a typical small tile, 128 x 128 a hidden
//! layer of the digits design (a training step solves four of them, G+ and G- of two layers,
//! per hardware learner), 256 x 64 and 64 x 256 the two sweep directions of a rectangular
//! tile. Conductances are uniform in the PCM window 0.1–25 uS, wire resistance 1 ohm per
//! segment.
//! `APCSIM_BENCH_QUICK=1` runs only 64 x 64 (for CI).

use apcsim::hardware::irdrop::effective_matrix;
use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};

fn tile(rows: usize, cols: usize) -> DMatrix<f64> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(0.1e-6..25e-6))
}

fn benches(c: &mut Criterion) {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let shapes: &[(usize, usize)] = if quick {
        &[(64, 64)]
    } else {
        &[(64, 64), (128, 128), (256, 64), (64, 256), (256, 256)]
    };
    let mut group = c.benchmark_group("irdrop_effective_matrix");
    group.sample_size(10);
    for &(rows, cols) in shapes {
        let g = tile(rows, cols);
        group.bench_function(format!("{rows}x{cols}"), |b| {
            b.iter(|| effective_matrix(&g, 1.0).expect("valid tile"))
        });
    }
    group.finish();
}

criterion_group!(irdrop, benches);
criterion_main!(irdrop);
