//! The analog circuit's integrator: simulation time per simulated tau_z of the ideal circuit of
//! the paper-like linear residual design (D = N = 512, L = 8, O = 1, muPC with skips, B = 64),
//! in f64 and f32, deterministic and with white noise (kT/C and amplifier noise on every node)
//! at the same steps. Heun with dt = tau_z / 20 (20 steps per tau_z), algebraic error nodes.
//! `APCSIM_BENCH_QUICK=1` runs a short variant (width 128) for CI.
//!
//! `default_design_to_settling`: the default design (circuits/digits_rram.toml, B = 32) noise-free
//! until steady, Heun at dt = tau_e / 4 = 796 ps against the exponential scheme (error-controlled
//! steps of at most tau_z / 20, step_tol = settle_tol / 100); each run's right-hand-side
//! evaluations and worst settling time are printed beside the times.

use apcsim::analog::{integrate, simulate, AnalogCircuit, IdealPeriphery, Scheme, SimOptions};
use apcsim::config::{load, LoadOptions};
use apcsim::design::build;
use apcsim::measure::sim_options;
use apcsim::network::{Activation, Architecture, Network, Parameterisation};
use apcsim::Real;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

const STEPS_PER_TAU: usize = 20;

fn setup<T: Real>(n: usize, noisy: bool) -> (AnalogCircuit<T>, Vec<T>, Vec<T>, usize) {
    let (l, o, b) = (8, 1, 64);
    let mut widths = vec![n];
    widths.extend(std::iter::repeat_n(n, l - 1));
    widths.push(o);
    let arch = Architecture {
        widths,
        activation: Activation::Linear,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.0,
    };
    let net = Network::<f64>::init(arch, 1).expect("valid architecture");
    let mut circ = AnalogCircuit::<T>::ideal(
        &net,
        &IdealPeriphery {
            tau_z_seconds: 100e-9,
            tau_e_seconds: 0.0,
            v_read_volts: 0.2,
        },
    );
    if noisy {
        // kT/C of 100 fF at 300 K with tau_z = 100 ns, and 10 nV/rtHz amplifiers, in node units.
        let v2 = 0.2f64 * 0.2;
        let ktc = 4.0 * 100e-9 * 1.380649e-23 * 300.0 / (100e-15 * v2);
        let amp = 1e-16 / v2;
        for lc in circ.layers.iter_mut() {
            lc.noise_error.iter_mut().for_each(|s| *s = 5.0 * amp);
            lc.noise_integrator.iter_mut().for_each(|s| *s = ktc + amp);
        }
        circ.noisy = true;
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2);
    let mut draw = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| {
                T::of_f64(<StandardNormal as Distribution<f64>>::sample(
                    &StandardNormal,
                    &mut rng,
                ))
            })
            .collect()
    };
    let x = draw(n * b);
    let y = draw(o * b);
    (circ, x, y, b)
}

fn bench_one<T: Real>(c: &mut Criterion, n: usize, noisy: bool) {
    let (circ, x, y, b) = setup::<T>(n, noisy);
    let tau_z = circ.tau_z_seconds;
    let opts = SimOptions {
        settle_window_seconds: tau_z / 2.0,
        seed: 5,
        noise: noisy,
        ..SimOptions::new(Scheme::Heun, tau_z / STEPS_PER_TAU as f64, tau_z)
    };
    let mut g = c.benchmark_group("analog_per_tau_z");
    g.sample_size(10);
    let name = format!(
        "{}_{}_w{n}",
        T::NAME,
        if noisy { "noisy" } else { "deterministic" }
    );
    g.bench_function(name, |bch| {
        bch.iter(|| integrate(&circ, &x, &y, b, &opts, STEPS_PER_TAU))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let quick = std::env::var("APCSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n = if quick { 128 } else { 512 };
    for noisy in [false, true] {
        bench_one::<f64>(c, n, noisy);
        bench_one::<f32>(c, n, noisy);
    }
}

/// The default design noise-free to settling with Heun (dt = 796 ps) and the exponential scheme.
fn default_design(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/digits_rram.toml");
    let load_with = |solver: &str| {
        let sets = [
            "dynamics.noise = false".to_string(),
            format!("dynamics.solver = \"{solver}\""),
        ];
        load(&path, &sets, &LoadOptions::default()).expect("the default design loads")
    };
    let design = load_with("heun");
    let built = build(&design).expect("the default design builds");
    let mut batch = built.batch.clone();
    design.periphery.dac.convert_all(batch.x.as_mut_slice());
    let circ = AnalogCircuit::<f64>::from_design(&design, &built.network, &built.mapped);
    let b = batch.size();
    let mut g = c.benchmark_group("default_design_to_settling");
    g.sample_size(10);
    for solver in ["heun", "exponential"] {
        let opts = SimOptions {
            energy: None,
            readout: None,
            trace_samples: 0,
            ..sim_options(&load_with(solver)).expect("runnable options")
        };
        let run = || {
            let (x, y) = (batch.x.as_slice(), batch.y.as_slice());
            simulate(&circ, x, y, b, &opts, &|_, _| {}).expect("the design settles")
        };
        let sim = run();
        let worst = sim
            .settling
            .iter()
            .map(|s| s.time_seconds)
            .fold(0.0, f64::max);
        println!(
            "default_design_to_settling/{solver}: {} steps (dt {:.3e} s), {} right-hand-side \
             evaluations, worst settling {worst:.6e} s, t_end {:.4e} s",
            sim.steps, opts.dt_seconds, sim.evaluations, sim.t_end_seconds
        );
        g.bench_function(solver, |bch| bch.iter(run));
    }
    g.finish();
}

criterion_group!(analog, benches, default_design);
criterion_main!(analog);
