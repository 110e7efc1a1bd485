//! One training step of `apcsim train`, per learner, on the digits design
//! (`circuits/digits_rram.toml`: 64-128-128-128-10 tanh muPC residual, mini-batches of 32) with
//! the ideal device and the ideal update (`device.preset = "ideal"`): PC and BP on the hardware
//! (the step's inference read through the conductances, the update written into them, the
//! effective weights read back through the wires) and digital PC and BP. Each sample is a run
//! of steps on the first mini-batch of the first epoch, the learner's weights carried from one
//! step to the next as in training; sampling is flat (every sample the same number of steps).
//! `all_four` is the step of `apcsim train`: the four learners at once, as the session steps
//! them.
//!
//! `pc_hardware_transient` is PC on the hardware with `train.inference = "transient"` and
//! `train.transient_every = 1`: the physical transient of `apcsim run` on every step.
//!
//! `APCSIM_BENCH_QUICK=1` runs the same steps on the small digits design
//! (`circuits/digits_small.toml`, hidden layers of 8) for CI.

use apcsim::config::{self, LoadOptions};
use apcsim::network::Batch;
use apcsim::study::train::data::{columns, epoch_order};
use apcsim::study::train::plan;
use apcsim::study::train::Learner;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use rayon::prelude::*;
use std::path::Path;

/// The design with `overrides` on the ideal device: its learners and first mini-batch.
fn setup(path: &Path, overrides: &[&str]) -> (Vec<Box<dyn Learner>>, Batch<f64>) {
    let mut all = vec!["device.preset=\"ideal\""];
    all.extend_from_slice(overrides);
    let circuit = config::load(path, &all, &LoadOptions::default()).expect("the digits design");
    let (net, data) = plan::prepare(&circuit).expect("the digits data");
    let schedule = plan::schedule(&circuit);
    let order = epoch_order(data.train.size(), 0, schedule.shuffle, schedule.seed);
    let batch = columns(&data.train, &order[..schedule.batch]);
    (plan::learners(&circuit, &net).expect("the learners"), batch)
}

fn benches(c: &mut Criterion) {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let design = if quick {
        "digits_small.toml"
    } else {
        "digits_rram.toml"
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("circuits")
        .join(design);
    // Equilibrium mode, the transient only on the first (warm-up) step; then PC on the
    // hardware with the transient on every step (train.inference = "transient").
    let (mut learners, batch) = setup(&path, &["train.transient_every=1000000000"]);
    let (transient, _) = setup(
        &path,
        &["train.inference=\"transient\"", "train.transient_every=1"],
    );
    let pc_transient = transient.into_iter().next().expect("pc_hardware");
    let (mut four, _) = setup(&path, &["train.transient_every=1000000000"]);
    let mut g = c.benchmark_group(format!("train_step_{}", design.trim_end_matches(".toml")));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    // The step of `apcsim train`: the four learners at once, as the session steps them.
    let mut step = 0;
    g.bench_function("all_four", |b| {
        b.iter(|| {
            let r: Vec<_> = four
                .par_iter_mut()
                .map(|l| l.step(&batch, step).expect("a finite step"))
                .collect();
            step += 1;
            r
        })
    });
    let named = learners
        .iter_mut()
        .map(|l| (l.name().to_string(), l))
        .collect::<Vec<_>>();
    let mut pc_transient = pc_transient;
    let all = named.into_iter().chain(std::iter::once((
        "pc_hardware_transient".to_string(),
        &mut pc_transient,
    )));
    for (name, learner) in all {
        let mut step = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = learner.step(&batch, step).expect("a finite step");
                step += 1;
                r
            })
        });
    }
    g.finish();
}

criterion_group!(train, benches);
criterion_main!(train);
