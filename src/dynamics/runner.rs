//! The inference runner: starts from the feedforward pass, steps a solver until its stopping
//! rule holds, and reports what it took.
//!
//! Fixed-step solvers treat every sample independently (the per-sample update of JPC), so the
//! batch is cut into chunks of a fixed number of samples that run in parallel on rayon. The chunk
//! size never depends on the number of threads, which keeps results bit-identical whatever the
//! thread count.

use super::adaptive;
use super::inference::{
    chunk_ranges, chunk_samples, gather, scatter, Inference, InferenceError, InferenceOptions,
    Solver,
};
use super::integrators::{Euler, Integrator, Rk4};
use super::newton;
use super::system::{GradientFlow, System};
use crate::network::closed_form;
use crate::network::{Batch, Network};
use crate::numeric::Real;
use rayon::prelude::*;
use std::ops::Range;

/// Runs inference on `batch` from the feedforward pass.
pub fn infer<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
    opts: &InferenceOptions,
) -> Result<Inference<T>, InferenceError> {
    check_options(opts)?;
    // On a thread of the pool even when nothing is split at this level (a batch of one chunk):
    // from any other thread, every parallel phase of every step is handed to the pool cold,
    // the caller blocking and a parked worker being woken each time (about 4 thread wake-ups a
    // step, each a halted vCPU to wake under KVM), where on the pool the phases go to workers
    // that are still spinning from the previous one.
    rayon::scope(|_| solve(net, batch, opts))
}

/// [`infer`] once the options are checked, on a thread of the pool.
fn solve<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
    opts: &InferenceOptions,
) -> Result<Inference<T>, InferenceError> {
    let b = batch.size();
    let (z0, _) = net.feedforward(batch.x.as_slice(), b);
    match opts.solver {
        Solver::Euler { dt } => fixed_step(net, batch, z0, dt, opts, |n| Euler::new(n)),
        Solver::Rk4 { dt } => fixed_step(net, batch, z0, dt, opts, |n| Rk4::new(n)),
        Solver::Dopri5 { rtol, atol } => adaptive::run(
            net,
            batch,
            z0,
            adaptive::Method::Dopri5,
            rtol,
            atol,
            &opts.stop,
        ),
        Solver::Dop853 { rtol, atol } => adaptive::run(
            net,
            batch,
            z0,
            adaptive::Method::Dop853,
            rtol,
            atol,
            &opts.stop,
        ),
        Solver::Newton {
            max_iterations,
            rtol,
            atol,
        } => newton::run(net, batch, z0, max_iterations, (rtol, atol), opts),
        Solver::ClosedForm => {
            // Backward reads with weights of their own make the system non-symmetric: the
            // output-space reduction solves it, the block Cholesky of `equilibrium` cannot.
            let z = if net.has_feedback() {
                closed_form::equilibrium_output_space(net, batch)?.z
            } else {
                closed_form::equilibrium(net, batch)?
            };
            let max_dzdt = net.max_activity_gradient(batch, &z).to_f64();
            Ok(Inference {
                z,
                steps: 0,
                rhs_evals: 1,
                max_dzdt,
                converged: true,
                time: f64::INFINITY,
                energy_trace: Vec::new(),
                newton: None,
            })
        }
    }
}

fn check_options(opts: &InferenceOptions) -> Result<(), InferenceError> {
    let positive = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(InferenceError::Options(format!(
                "{name} must be finite and positive, got {v}"
            )))
        }
    };
    match opts.solver {
        Solver::Euler { dt } | Solver::Rk4 { dt } => positive("dt", dt)?,
        Solver::Dopri5 { rtol, atol }
        | Solver::Dop853 { rtol, atol }
        | Solver::Newton { rtol, atol, .. } => {
            positive("rtol", rtol)?;
            positive("atol", atol)?;
            if opts.stop.tol.is_none() {
                return Err(InferenceError::Options(format!(
                    "{} stops on a steady-state tolerance; give one",
                    opts.solver.name()
                )));
            }
        }
        Solver::ClosedForm => {}
    }
    if let Some(tol) = opts.stop.tol {
        positive("tol", tol)?;
    }
    if opts.stop.steps.is_none() && opts.stop.tol.is_none() {
        return Err(InferenceError::Options(
            "give a number of steps, a steady-state tolerance, or both".into(),
        ));
    }
    if opts.chunk == Some(0) {
        return Err(InferenceError::Options("chunk must be at least 1".into()));
    }
    if opts.record_every == Some(0) {
        return Err(InferenceError::Options(
            "record_every must be at least 1".into(),
        ));
    }
    Ok(())
}

struct ChunkResult<T> {
    samples: usize,
    z: Vec<T>,
    steps: usize,
    evals: usize,
    max_dzdt: T,
    converged: bool,
    time: f64,
    /// Per-sample energies at each recorded step.
    energy: Vec<Vec<f64>>,
}

fn fixed_step<T: Real, I: Integrator<T>>(
    net: &Network<T>,
    batch: &Batch<T>,
    z0: Vec<T>,
    dt: f64,
    opts: &InferenceOptions,
    make: impl Fn(usize) -> I + Sync,
) -> Result<Inference<T>, InferenceError> {
    let b = batch.size();
    let full = net.layout(b);
    let chunks = chunk_ranges(b, opts.chunk.unwrap_or_else(|| chunk_samples(b)));
    let results: Vec<Result<ChunkResult<T>, InferenceError>> = chunks
        .par_iter()
        .map(|c| {
            let mut integ = make(net.layout(c.len()).len());
            solve_chunk(net, batch, &z0, c.clone(), &mut integ, T::of_f64(dt), opts)
        })
        .collect();
    // Of several chunks that diverged, the one that did so first in simulated time (then the
    // first in sample order) names the failure: its time is the one a single chunk of the
    // whole batch reports; the node named is the first non-finite one of that chunk.
    if let Some(e) = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .min_by(|a, b| failure_time(a).total_cmp(&failure_time(b)))
    {
        return Err(e.clone());
    }
    let mut out = Inference {
        z: vec![T::zero(); full.len()],
        steps: 0,
        rhs_evals: 0,
        max_dzdt: 0.0,
        converged: true,
        time: 0.0,
        energy_trace: Vec::new(),
        newton: None,
    };
    let mut records: Vec<Vec<Vec<f64>>> = Vec::new();
    for (c, r) in chunks.iter().zip(results) {
        let r = r?;
        let lay = net.layout(r.samples);
        scatter(&full, &lay, &r.z, &mut out.z, c.start);
        out.steps = out.steps.max(r.steps);
        out.rhs_evals += r.evals;
        out.max_dzdt = out.max_dzdt.max(r.max_dzdt.to_f64());
        out.converged &= r.converged;
        out.time = out.time.max(r.time);
        records.push(r.energy);
    }
    out.energy_trace = batch_energy_trace(&records, b);
    Ok(out)
}

/// Runs the samples `samples` of `batch` from their part of `z0`; a failure names its sample
/// in the whole batch.
fn solve_chunk<T: Real, I: Integrator<T>>(
    net: &Network<T>,
    batch: &Batch<T>,
    z0: &[T],
    samples: Range<usize>,
    integ: &mut I,
    dt: T,
    opts: &InferenceOptions,
) -> Result<ChunkResult<T>, InferenceError> {
    let (s0, s1) = (samples.start, samples.end);
    let d = net.widths()[0];
    let o = *net.widths().last().unwrap_or(&0);
    let x = &batch.x.as_slice()[s0 * d..s1 * d];
    let y = &batch.y.as_slice()[s0 * o..s1 * o];
    let mut z = gather(&net.layout(batch.size()), &net.layout(s1 - s0), z0, s0);
    let mut sys = GradientFlow::new(net, x, y, s1 - s0);
    run_chunk(&mut sys, integ, &mut z, dt, opts).map_err(|mut e| {
        if let InferenceError::NonFinite { sample, .. } = &mut e {
            *sample += s0;
        }
        e
    })
}

/// F at each recorded step from the chunks' per-sample energies, summed in sample order so
/// that the chunking does not change the rounding; a chunk that stopped early repeats its last
/// record.
fn batch_energy_trace(records: &[Vec<Vec<f64>>], batch: usize) -> Vec<f64> {
    let n_rec = records.iter().map(Vec::len).max().unwrap_or(0);
    (0..n_rec)
        .map(|k| {
            let total = records
                .iter()
                .filter_map(|rec| rec.get(k).or(rec.last()))
                .flatten()
                .fold(0.0, |acc, &e| acc + e);
            total / batch as f64
        })
        .collect()
}

/// When a chunk's failure happened (simulated time); failures without a time sort first.
fn failure_time(e: &InferenceError) -> f64 {
    match e {
        InferenceError::NonFinite { time, .. } => *time,
        _ => f64::NEG_INFINITY,
    }
}

fn run_chunk<T: Real, I: Integrator<T>>(
    sys: &mut GradientFlow<'_, T>,
    integ: &mut I,
    z: &mut [T],
    dt: T,
    opts: &InferenceOptions,
) -> Result<ChunkResult<T>, InferenceError> {
    let stop = &opts.stop;
    let limit = stop.steps.unwrap_or(stop.max_steps);
    let tol = stop.tol.map(T::of_f64);
    let mut energy = Vec::new();
    let mut t = T::zero();
    let mut steps = 0;
    let mut converged = stop.tol.is_none();
    while steps < limit {
        integ.step(sys, t, dt, z);
        let m = sys.rate_at_step_start();
        if let Some(every) = opts.record_every {
            if steps % every == 0 {
                energy.push(sys.sample_energies_of_last());
            }
        }
        if !m.is_finite() {
            return Err(non_finite(sys, z, t.to_f64()));
        }
        steps += 1;
        t += dt;
        // The step just taken started from a state that already met the tolerance; the state
        // moved by less than dt * tol per node, towards the equilibrium.
        if tol.is_some_and(|tol| m < tol) {
            converged = true;
            break;
        }
    }
    // max|dz/dt| at the final state (one more evaluation, counted).
    let mut dz = vec![T::zero(); z.len()];
    sys.rhs(t, z, &mut dz);
    let max_dzdt = crate::network::model::max_abs(&dz);
    if !max_dzdt.is_finite() || z.iter().any(|v| !v.is_finite()) {
        return Err(non_finite(sys, z, t.to_f64()));
    }
    if let Some(tol) = tol {
        converged |= max_dzdt < tol;
    }
    if let Some(every) = opts.record_every {
        if steps % every == 0 {
            energy.push(sys.sample_energies_of_last());
        }
    }
    Ok(ChunkResult {
        samples: sys.batch(),
        z: z.to_vec(),
        steps,
        evals: sys.evaluations(),
        max_dzdt,
        converged,
        time: t.to_f64(),
        energy,
    })
}

fn non_finite<T: Real>(sys: &GradientFlow<'_, T>, z: &[T], time: f64) -> InferenceError {
    let (layer, node, sample, value) = sys.locate_non_finite(z).unwrap_or((0, 0, 0, f64::NAN));
    InferenceError::NonFinite {
        layer,
        node,
        sample,
        value,
        time,
    }
}
