//! How time grows with the size of the network: one Euler step of ideal inference and one
//! simulated tau_z of the ideal analog circuit, for a tanh muPC residual MLP (input 64,
//! output 10) over widths 256 to 4096, batches 16 to 256 and depths 2 to 32, one axis at a time
//! around width 1024, depth 8, batch 64, in f32 and f64.
//!
//! The work of both is two GEMMs per layer per right-hand side, so the time should be linear in
//! `batch x sum(N_l N_{l-1})`. After criterion has measured every point, the medians are fitted
//! against that product (least squares, R^2 per kind and precision) and written with the fit to
//! `$CARGO_TARGET_DIR/scaling/scaling.csv` and `scaling.svg` (target/ by default). The record
//! is benches/runs/2026-12-05-scaling.md. `APCSIM_BENCH_QUICK=1` runs a small grid (widths 64
//! to 256) for CI.

use apcsim::analog::{integrate, AnalogCircuit, IdealPeriphery, Scheme, SimOptions};
use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
#[path = "common/network.rs"]
#[allow(dead_code)] // the fixed-batch form is the other benchmarks'
mod network;
use apcsim::numeric::stats::{median, LinearFit};
use apcsim::report::{line_chart, Axis, Series};
use apcsim::Real;
use criterion::{Criterion, SamplingMode};
use network::benchmark_network_of_batch;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The benchmark network's input and output widths (benches/common/network.rs).
const INPUTS: usize = 64;
const OUTPUTS: usize = 10;
/// Euler steps per timed inference (the time reported is per step).
const INFERENCE_STEPS: usize = 3;
/// Heun steps per simulated tau_z (dt = tau_z / 20, as benches/analog.rs).
const STEPS_PER_TAU: usize = 20;

/// One point of the grid: hidden width, weight layers, batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Size {
    width: usize,
    depth: usize,
    batch: usize,
}

impl Size {
    fn widths(&self) -> Vec<usize> {
        let mut w = vec![INPUTS];
        w.extend(std::iter::repeat_n(self.width, self.depth - 1));
        w.push(OUTPUTS);
        w
    }

    /// batch x sum(N_l N_{l-1}): the multiply-adds of one matrix product per layer.
    fn work(&self) -> f64 {
        let w = self.widths();
        let macs: usize = w.windows(2).map(|p| p[0] * p[1]).sum();
        (self.batch * macs) as f64
    }
}

/// The grid: each axis varied around the centre, the centre once.
fn grid(quick: bool) -> Vec<Size> {
    let (centre, widths, batches, depths) = if quick {
        (
            Size {
                width: 128,
                depth: 4,
                batch: 16,
            },
            vec![64, 128, 256],
            vec![8, 16, 32],
            vec![2, 4, 8],
        )
    } else {
        (
            Size {
                width: 1024,
                depth: 8,
                batch: 64,
            },
            vec![256, 512, 1024, 2048, 4096],
            vec![16, 32, 64, 128, 256],
            vec![2, 4, 8, 16, 32],
        )
    };
    let mut sizes: Vec<Size> = widths
        .iter()
        .map(|&width| Size { width, ..centre })
        .collect();
    sizes.extend(batches.iter().map(|&batch| Size { batch, ..centre }));
    sizes.extend(depths.iter().map(|&depth| Size { depth, ..centre }));
    sizes.sort();
    sizes.dedup();
    sizes
}

/// Seconds per timed unit of every benchmark, as measured: (kind, precision, size) -> samples.
type Timings = Mutex<BTreeMap<(&'static str, &'static str, Size), Vec<f64>>>;

/// Times `routine` with criterion, keeping every sample (seconds per unit, `units` per call).
fn time(
    c: &mut Criterion,
    key: (&'static str, &'static str, Size),
    units: f64,
    timings: &Timings,
    mut routine: impl FnMut(),
) {
    let (kind, precision, s) = key;
    let mut g = c.benchmark_group(format!("scaling_{kind}"));
    // Flat sampling: ten runs of the routine, not criterion's linear 1 + 2 + ... + 10, so the
    // seconds-long points at width 4096 take ten runs, not fifty-five.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    let id = format!("{precision}_w{}_l{}_b{}", s.width, s.depth, s.batch);
    g.bench_function(id, |bch| {
        bch.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                routine();
            }
            let elapsed = start.elapsed();
            let per_unit = elapsed.as_secs_f64() / (iters as f64 * units);
            timings
                .lock()
                .unwrap()
                .entry(key)
                .or_default()
                .push(per_unit);
            elapsed
        })
    });
    g.finish();
}

fn bench_size<T: Real>(c: &mut Criterion, size: Size, timings: &Timings) {
    let (net64, data64) = benchmark_network_of_batch::<f64>(size.width, size.depth, size.batch);
    let (net, data) = (net64.cast::<T>(), data64.cast::<T>());
    let opts = InferenceOptions::new(Solver::Euler { dt: 0.1 }, Stop::steps(INFERENCE_STEPS));
    time(
        c,
        ("inference_step", T::NAME, size),
        INFERENCE_STEPS as f64,
        timings,
        || {
            infer(&net, &data, &opts).expect("stable run");
        },
    );
    drop(net);
    let circ = AnalogCircuit::<T>::ideal(
        &net64,
        &IdealPeriphery {
            tau_z_seconds: 100e-9,
            tau_e_seconds: 0.0,
            v_read_volts: 0.2,
        },
    );
    drop(net64);
    let tau_z = circ.tau_z_seconds;
    let sim = SimOptions {
        settle_window_seconds: tau_z / 2.0,
        seed: 5,
        ..SimOptions::new(Scheme::Heun, tau_z / STEPS_PER_TAU as f64, tau_z)
    };
    let (x, y) = (data.x.as_slice(), data.y.as_slice());
    time(c, ("analog_tau_z", T::NAME, size), 1.0, timings, || {
        integrate(&circ, x, y, size.batch, &sim, STEPS_PER_TAU);
    });
}

/// The medians, the least-squares line of each (kind, precision) against the work, the CSV and
/// the figure.
fn fit_and_record(timings: &Timings) {
    let timings = timings.lock().unwrap();
    let dir =
        std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or("target".into()))
            .join("scaling");
    std::fs::create_dir_all(&dir).expect("target/scaling");
    let mut csv = csv::Writer::from_path(dir.join("scaling.csv")).expect("scaling.csv");
    csv.write_record([
        "kind",
        "precision",
        "width",
        "depth",
        "batch",
        "work_macs",
        "median_seconds",
        "samples",
    ])
    .expect("csv");
    let mut series = Vec::new();
    let mut by_kind: BTreeMap<(&str, &str), Vec<(f64, f64)>> = BTreeMap::new();
    for (&(kind, precision, s), samples) in timings.iter() {
        let m = median(samples);
        by_kind
            .entry((kind, precision))
            .or_default()
            .push((s.work(), m));
        csv.write_record([
            kind.to_string(),
            precision.to_string(),
            s.width.to_string(),
            s.depth.to_string(),
            s.batch.to_string(),
            format!("{:e}", s.work()),
            format!("{m:e}"),
            samples.len().to_string(),
        ])
        .expect("csv");
    }
    csv.flush().expect("csv");
    println!("\nseconds = a + b x batch x sum(N_l N_(l-1)), least squares over the grid:");
    for ((kind, precision), mut points) in by_kind {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (x, y): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
        let fit = LinearFit::of(&x, &y).expect("several sizes");
        // FLOPs per unit of work: 2 GEMMs of 2 FLOPs per MAC per right-hand side; a step of
        // inference is one right-hand side, a tau_z of Heun two per step.
        let flops_per_mac = match kind {
            "inference_step" => 4.0,
            _ => 8.0 * STEPS_PER_TAU as f64,
        };
        println!(
            "{kind:>15} {precision}: a = {:.3e} s, b = {:.3e} s per unit of work ({:.1} GFLOP/s), R^2 = {:.5}, {} points",
            fit.intercept,
            fit.slope,
            flops_per_mac / fit.slope * 1e-9,
            fit.r_squared,
            x.len()
        );
        let line: Vec<f64> = x.iter().map(|w| fit.intercept + fit.slope * w).collect();
        series.push(Series::new(format!("{kind} {precision}"), x.clone(), y));
        series.push(Series::new(
            format!("{kind} {precision} fit (R² {:.4})", fit.r_squared),
            x,
            line,
        ));
    }
    let svg = line_chart(
        "time against batch × Σ N_l N_(l-1)",
        &Axis::log("batch × Σ N_l N_(l-1) (multiply-adds)"),
        &Axis::log("seconds per step (inference) or per τ_z (analog)"),
        &series,
    )
    .expect("figure");
    std::fs::write(dir.join("scaling.svg"), svg).expect("scaling.svg");
    println!("wrote {}", dir.display());
}

fn main() {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let mut c = Criterion::default().configure_from_args();
    let timings = Timings::default();
    for size in grid(quick) {
        bench_size::<f32>(&mut c, size, &timings);
        bench_size::<f64>(&mut c, size, &timings);
    }
    c.final_summary();
    fit_and_record(&timings);
}
