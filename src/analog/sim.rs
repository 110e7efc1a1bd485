//! The runner of the analog circuit: it owns the time loop, the noise streams, divergence and
//! steady-state detection, settling, energy accounting and the traces. The circuit
//! ([`super::circuit`]) gives derivatives; the schemes of [`crate::dynamics`] take the steps.
//!
//! A run first integrates the noise-free circuit until every chunk is steady (max|dz/dt| tau_z
//! < steady_tol) or t_max; that fixes how long the run lasts, and for a deterministic run its
//! final values. A noisy run then integrates the SDE for that long plus one trailing window,
//! whose mean is its final value. A last pass replays the very same steps (the noise streams
//! are reseeded) and measures: when each node last left its settling band, the power of every
//! component, the traces. The batch is cut into chunks of [`chunk_samples`] samples that run in
//! parallel; every random draw comes from a stream of its own (sample, layer), so results do not
//! depend on the threads.

use super::circuit::{AnalogCircuit, NoiseSample, PackedProducts};
use super::energy::{charge_on_grid, supply_sum, ByLayer, Component, EnergyModel, ReadState};
use super::exponential::{Exponential, Tolerance};
use super::flicker::FlickerInputs;
pub(super) use super::flow::ChunkFlow;
use super::readout::{readout_settling, Checkpoints, ReadoutBands, ReadoutSettling};
pub use crate::dynamics::chunk_samples;
use crate::dynamics::{chunk_ranges, Integrator, Stepper, System};
use crate::numeric::seeds::stream_seed;
use crate::numeric::Real;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// A node beyond this (node units; 200 kV at v_read = 0.2 V) has diverged.
pub const DIVERGENCE_BOUND: f64 = 1e6;
/// A noisy node's settling band adds this many of its standard deviations.
pub const NOISE_BAND_SIGMAS: f64 = 5.0;
/// Stream offset of the noise generators, apart from devices and offsets.
const NOISE_STREAM: u64 = 2 << 40;

/// How the circuit is integrated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// Euler; Euler–Maruyama with noise.
    Euler,
    /// Heun; stochastic Heun with noise.
    Heun,
    /// Classical Runge–Kutta 4 (deterministic only).
    Rk4,
    /// The exponential scheme ([`super::exponential`]): the error nodes exact over a step, the
    /// value nodes second order. With a tolerance, a noise-free run takes error-controlled steps
    /// of at most dt (the first of dt); a noisy run always takes steps of dt.
    Exponential(Option<Tolerance>),
}

impl Scheme {
    /// The scheme of [`crate::dynamics`] that steps a fixed-step run, if it is one.
    fn fixed(self) -> Option<crate::dynamics::Scheme> {
        match self {
            Scheme::Euler => Some(crate::dynamics::Scheme::Euler),
            Scheme::Heun => Some(crate::dynamics::Scheme::Heun),
            Scheme::Rk4 => Some(crate::dynamics::Scheme::Rk4),
            Scheme::Exponential(_) => None,
        }
    }
}

/// An error-controlled step times the stiffness estimate stays below this.
const STABLE_STEP_RATE: f64 = 1.0;

/// How to run.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub scheme: Scheme,
    pub dt_seconds: f64,
    pub t_max_seconds: f64,
    pub settle_tol: f64,
    pub steady_tol: f64,
    pub settle_window_seconds: f64,
    /// Seed of the noise streams.
    pub seed: u64,
    /// Integrate the circuit's noise (when it has any).
    pub noise: bool,
    /// Samples whose every node is recorded.
    pub trace_samples: usize,
    /// Most recorded output points.
    pub trace_points: usize,
    /// Energy accounting (`None`: none).
    pub energy: Option<EnergyModel>,
    /// The converters' bands for settling referred to the readout (`None`: not measured).
    pub readout: Option<ReadoutBands>,
}

impl SimOptions {
    /// A noise-free run of `scheme` in steps of `dt_seconds` that goes on to `t_max_seconds`
    /// (never steady: `steady_tol` 0), with the schema's `settle_tol` of 1e-3, a settling
    /// window of one step, seed 0, no traced sample and the fewest output points (4), and
    /// neither energy nor readout measured. Set what a run needs beside it:
    /// `SimOptions { trace_samples: 2, ..SimOptions::new(Scheme::Heun, dt, t_max) }`.
    pub fn new(scheme: Scheme, dt_seconds: f64, t_max_seconds: f64) -> Self {
        SimOptions {
            scheme,
            dt_seconds,
            t_max_seconds,
            settle_tol: 1e-3,
            steady_tol: 0.0,
            settle_window_seconds: dt_seconds,
            seed: 0,
            noise: false,
            trace_samples: 0,
            trace_points: 4,
            energy: None,
            readout: None,
        }
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error(
        "the circuit diverged at t = {time_seconds:.4e} s ({tau_z:.2} tau_z): layer {layer}, \
         node {node}, sample {sample} reached {value:e}"
    )]
    Diverged {
        layer: usize,
        node: usize,
        sample: usize,
        time_seconds: f64,
        tau_z: f64,
        value: f64,
    },
    #[error(
        "the circuit ran to the rail: at t = {time_seconds:.4e} s ({tau_z:.2} tau_z) {what} \
         {layer}, node {node}, sample {sample} is pinned at {value:e} (the rail)"
    )]
    Rail {
        what: &'static str,
        layer: usize,
        node: usize,
        sample: usize,
        time_seconds: f64,
        tau_z: f64,
        value: f64,
    },
    #[error("{0}")]
    Options(String),
}

/// A run that failed, with the traces recorded before the failure: for a divergence, the
/// output points every chunk recorded before the earliest chunk diverged; for a rail, the whole
/// run's; none when the options were refused.
#[derive(Clone, Debug)]
pub struct SimFailure {
    pub error: SimError,
    pub traces: Traces,
}

/// How one sample settled.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSettling {
    /// First time after which every value node stayed in its band (0 if it never left).
    pub time_seconds: f64,
    pub steps: usize,
}

/// What was recorded at the output points.
#[derive(Clone, Debug, Default)]
pub struct Traces {
    pub time_seconds: Vec<f64>,
    /// The recorded samples (batch indices).
    pub samples: Vec<usize>,
    /// Per hidden layer l (index l-1): `points x (n_l * samples)`, row-major, node fastest.
    pub z: Vec<Vec<f64>>,
    /// Per layer l = 1..L: error-node outputs, same layout.
    pub e: Vec<Vec<f64>>,
    /// Power of the whole batch per component (summed over layers): `points x components`.
    pub power_watts: Vec<[f64; Component::COUNT]>,
    /// Energy drawn since t = 0 per layer (summed over components and the batch), `points x L`.
    pub energy_joules: Vec<Vec<f64>>,
}

/// Everything a run measures.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub batch: usize,
    /// Steps of the measured trajectory and its end.
    pub steps: usize,
    pub t_end_seconds: f64,
    pub dt_seconds: f64,
    /// Right-hand-side evaluations of both passes.
    pub evaluations: usize,
    /// Whether every chunk became steady before t_max.
    pub steady: bool,
    /// How far from steady at the end: max|dz/dt| tau_z (deterministic) or the largest change
    /// of a window mean relative to settle_tol x range (noisy).
    pub residual: f64,
    /// Final value nodes (the layout of [`AnalogCircuit::value_layout`]) and error outputs per
    /// layer (`n_l x B`), from the deterministic end state or the trailing-window mean.
    pub final_z: Vec<f64>,
    pub final_e: Vec<Vec<f64>>,
    /// Per-node standard deviation over the trailing window (noisy runs; zeros otherwise).
    pub final_z_std: Vec<f64>,
    pub settling: Vec<SampleSettling>,
    /// Per sample, settling referred to the readout ([`super::readout`]; empty without
    /// [`SimOptions::readout`]).
    pub readout_settling: Vec<ReadoutSettling>,
    /// The inference window: the latest settling time of the batch, referred to the readout
    /// when measured (t_end if it never settled), and the energy spent in it, summed over the batch, per layer and component.
    pub window_seconds: f64,
    pub energy: Option<ByLayer>,
    pub traces: Traces,
}

/// What takes a chunk's steps.
enum ChunkStepper<T: Real> {
    Fixed(Stepper<T>),
    Exponential(Box<Exponential<T>>),
}

/// One chunk of samples being integrated.
struct Chunk<'a, T: Real> {
    flow: ChunkFlow<'a, T>,
    stepper: ChunkStepper<T>,
    scheme: Scheme,
    /// Simulated time of the state (seconds).
    time: f64,
    /// The fixed step (seconds): a fixed-step run's time is its step count times this.
    dt_seconds: f64,
    /// Per (sample, layer) noise stream, `s * L + l - 1` (empty for a noise-free run).
    rngs: Vec<Xoshiro256PlusPlus>,
    s0: usize,
    b: usize,
    state: Vec<T>,
    steps: usize,
    /// Where each hidden layer's value nodes sit in `state` (computed once: the hot loop
    /// asks for them every step).
    layer_ranges: Vec<std::ops::Range<usize>>,
    /// Where the value nodes the run reads sit in `state`: the integrators' outputs (the
    /// capacitors' values, or their lagging outputs when the integrators have a pole).
    outputs: std::ops::Range<usize>,
}

impl<'a, T: Real> Chunk<'a, T> {
    /// Samples `s0..s0 + b`; `products` is `circ.pack()`, shared by every chunk of a run.
    fn new(
        circ: &'a AnalogCircuit<T>,
        products: &Arc<PackedProducts<T>>,
        x: &[T],
        y: &[T],
        s0: usize,
        b: usize,
        opts: &SimOptions,
    ) -> Self {
        let (d, o) = (circ.widths[0], *circ.widths.last().unwrap_or(&0));
        let xs = x[s0 * d..(s0 + b) * d].to_vec();
        let ys = y[s0 * o..(s0 + b) * o].to_vec();
        let state = circ.initial_state(&xs, &ys, b);
        let l_out = circ.n_layers();
        let lay = circ.value_layout(b);
        let layer_ranges = (1..l_out).map(|l| lay.range(l)).collect();
        let noisy = opts.noise && circ.noisy;
        let rngs = if noisy {
            (0..b)
                .flat_map(|s| {
                    (0..l_out).map(move |l| {
                        let stream = NOISE_STREAM | ((s0 + s) as u64) << 8 | l as u64;
                        Xoshiro256PlusPlus::seed_from_u64(stream_seed(opts.seed, stream))
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let flow = ChunkFlow {
            circ,
            x: xs,
            y: ys,
            ws: circ.workspace_with(b, Arc::clone(products)),
            ws2: circ.workspace_with(b, Arc::clone(products)),
            noise: noisy.then(|| {
                let mut ns = match opts.scheme {
                    Scheme::Exponential(_) => NoiseSample::paired(&circ.widths, b, opts.dt_seconds),
                    _ => NoiseSample::new(&circ.widths, b, opts.dt_seconds),
                };
                let run = (opts.dt_seconds, opts.t_max_seconds);
                let coef: Vec<_> = circ.layers.iter().map(|lc| lc.flicker.as_ref()).collect();
                ns.flicker = FlickerInputs::new(&circ.widths, &coef, (s0, b), run, opts.seed);
                ns
            }),
            drive: vec![T::zero(); b],
            drive_scratch: vec![T::zero(); b],
            evals: 0,
        };
        Chunk {
            stepper: chunk_stepper(opts.scheme, circ, b, state.len()),
            flow,
            scheme: opts.scheme,
            time: 0.0,
            dt_seconds: opts.dt_seconds,
            rngs,
            s0,
            b,
            state,
            steps: 0,
            layer_ranges,
            outputs: circ.output_range(b),
        }
    }

    /// Draws this step's standard normals: per (sample, layer) stream, the error nodes' then
    /// the value nodes'.
    fn draw(&mut self) {
        let Some(ns) = self.flow.noise.as_mut() else {
            return;
        };
        let w = &self.flow.circ.widths;
        let l_out = w.len() - 1;
        for s in 0..self.b {
            for l in 1..=l_out {
                let rng = &mut self.rngs[s * l_out + l - 1];
                let n = w[l];
                for v in &mut ns.e[l - 1][s * n..(s + 1) * n] {
                    *v = T::of_f64(StandardNormal.sample(rng));
                }
                if let Some(pair) = ns.e_mean[l - 1].get_mut(s * n..(s + 1) * n) {
                    for v in pair {
                        *v = T::of_f64(StandardNormal.sample(rng));
                    }
                }
                if l < l_out {
                    for v in &mut ns.z[l - 1][s * n..(s + 1) * n] {
                        *v = T::of_f64(StandardNormal.sample(rng));
                    }
                }
            }
        }
        ns.scaled_e = false;
        ns.scaled_z = false;
        if let Some(f) = ns.flicker.as_mut() {
            f.advance();
        }
    }

    /// One step of `h` (in units of tau_z), in place. Leaves in `drive` max|dz/ds| per sample
    /// and in `ws` the activations and errors, both of the state before the step.
    fn step(&mut self, h: f64) {
        self.draw();
        self.integrate(h);
    }

    /// The step itself, on the standard normals already in the noise sample. The circuit is
    /// autonomous: the time passed to the stepper is never read.
    fn integrate(&mut self, h: f64) {
        match &mut self.stepper {
            ChunkStepper::Fixed(s) => {
                s.step(&mut self.flow, T::zero(), T::of_f64(h), &mut self.state);
            }
            ChunkStepper::Exponential(s) => s.step(&mut self.flow, h, &mut self.state, None),
        }
        // Steps of dt: the time is the step count times dt, not a running sum (whose rounding
        // would put the end of N steps short of N dt).
        self.steps += 1;
        self.time = self.steps as f64 * self.dt_seconds;
    }

    /// Counts a step of `h` taken.
    fn accept(&mut self, h: f64) {
        self.time += h * self.flow.circ.tau_z_seconds;
        self.steps += 1;
    }

    /// An error-controlled step of `h` (noise-free), not yet counted: returns its local error
    /// relative to `tol` (accept it at most 1 with [`Chunk::accept`]) and the stiffness
    /// estimate ([`Exponential::stiffness`]); `saved` receives the state before it, for
    /// [`Chunk::undo`].
    fn attempt(&mut self, h: f64, tol: Tolerance, saved: &mut [T]) -> (f64, f64) {
        saved.copy_from_slice(&self.state);
        match &mut self.stepper {
            ChunkStepper::Exponential(s) => {
                s.step(&mut self.flow, h, &mut self.state, Some(tol));
                (s.error, s.stiffness)
            }
            ChunkStepper::Fixed(_) => unreachable!("only the exponential scheme controls its step"),
        }
    }

    fn undo(&mut self, saved: &[T]) {
        self.state.copy_from_slice(saved);
    }

    /// Evaluates the current state without stepping or noise (fills `ws` and `drive`).
    fn evaluate(&mut self) {
        let mut out = vec![T::zero(); self.state.len()];
        self.flow.rhs(T::zero(), &self.state, &mut out);
    }

    /// The first value node beyond the divergence bound or not finite, as an error.
    fn check_divergence(&self) -> Result<(), SimError> {
        let z = self.value_nodes();
        match z
            .iter()
            .position(|v| v.to_f64().abs() > DIVERGENCE_BOUND || v.is_nan())
        {
            None => Ok(()),
            Some(k) => {
                let circ = self.flow.circ;
                let (layer, node, sample) = locate(&circ.widths, self.b, k);
                let t = self.time;
                Err(SimError::Diverged {
                    layer,
                    node,
                    sample: self.s0 + sample,
                    time_seconds: t,
                    tau_z: t / circ.tau_z_seconds,
                    value: z[k].to_f64(),
                })
            }
        }
    }

    fn value_nodes(&self) -> &[T] {
        &self.state[self.outputs.clone()]
    }

    /// max|dz/ds| over the chunk's samples at the last first-stage evaluation (NaN wins).
    fn max_drive(&self) -> f64 {
        self.flow.drive.iter().fold(0.0f64, |a, &d| {
            let d = d.to_f64();
            if d > a || d.is_nan() || a.is_nan() {
                if a.is_nan() {
                    a
                } else {
                    d
                }
            } else {
                a
            }
        })
    }
}

/// The production step driven by caller-supplied standard normals.
///
/// [`simulate`] draws its normals from per-(sample, layer) streams. A strong-convergence test
/// needs the *same* Brownian path at several step sizes (the normal of a coarse step is the
/// normalised sum of those of the fine steps it spans), so it writes the normals of each step
/// here and calls [`ManualStepper::step`], which runs exactly the code of a `simulate` step
/// (scaling to the densities at the step's start, the scheme's stages, the rails). Not a stable
/// API: for tests of the schemes only.
#[doc(hidden)]
pub struct ManualStepper<'a, T: Real> {
    chunk: Chunk<'a, T>,
    h: f64,
}

impl<'a, T: Real> ManualStepper<'a, T> {
    /// Starts `batch` samples (inputs `x`, D x B, targets `y`, O x B, column-major) from the
    /// circuit's initial state, with steps of `dt_seconds`.
    pub fn new(
        circ: &'a AnalogCircuit<T>,
        x: &[T],
        y: &[T],
        batch: usize,
        dt_seconds: f64,
    ) -> Self {
        let opts = SimOptions {
            noise: true,
            ..SimOptions::new(Scheme::Euler, dt_seconds, dt_seconds)
        };
        ManualStepper {
            chunk: Chunk::new(circ, &circ.pack(), x, y, 0, batch, &opts),
            h: dt_seconds / circ.tau_z_seconds,
        }
    }

    /// The noise sample of the next step (`None` for a noise-free circuit): write its standard
    /// normals into `e` (per layer l = 1..L, the error nodes) and `z` (per hidden layer, the
    /// value nodes), each `n_l x batch` column-major.
    pub fn normals_mut(&mut self) -> Option<&mut NoiseSample<T>> {
        self.chunk.flow.noise.as_mut()
    }

    /// One step of `scheme` on the normals set by [`Self::normals_mut`].
    pub fn step(&mut self, scheme: Scheme) {
        if let Some(ns) = self.chunk.flow.noise.as_mut() {
            ns.scaled_e = false;
            ns.scaled_z = false;
        }
        if self.chunk.scheme != scheme {
            let c = &mut self.chunk;
            c.stepper = chunk_stepper(scheme, c.flow.circ, c.b, c.state.len());
            c.scheme = scheme;
        }
        self.chunk.integrate(self.h);
    }

    /// The state: value nodes (the layout of [`AnalogCircuit::value_layout`]), then the error
    /// nodes when they are dynamic.
    pub fn state(&self) -> &[T] {
        &self.chunk.state
    }
}

/// The stepper of `scheme` for a chunk of `b` samples and state length `dim`.
fn chunk_stepper<T: Real>(
    scheme: Scheme,
    circ: &AnalogCircuit<T>,
    b: usize,
    dim: usize,
) -> ChunkStepper<T> {
    match scheme.fixed() {
        Some(s) => ChunkStepper::Fixed(Stepper::new(s, dim)),
        None => ChunkStepper::Exponential(Box::new(Exponential::new(circ, b))),
    }
}

/// (layer, node, sample) of flat index `k` of a chunk's value nodes.
fn locate(widths: &[usize], b: usize, k: usize) -> (usize, usize, usize) {
    let mut off = 0;
    for l in 1..widths.len() - 1 {
        let len = widths[l] * b;
        if k < off + len {
            let j = k - off;
            return (l, j % widths[l], j / widths[l]);
        }
        off += len;
    }
    (0, 0, 0)
}

/// Running sums of the value nodes over the current trailing window.
struct Window {
    steps: usize,
    filled: usize,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Window {
    fn new(n: usize, steps: usize) -> Self {
        Window {
            steps,
            filled: 0,
            sum: vec![0.0; n],
            sum_sq: vec![0.0; n],
            mean: vec![0.0; n],
            std: vec![0.0; n],
        }
    }

    /// Adds a state; returns true when it completes a window.
    fn push<T: Real>(&mut self, z: &[T]) -> bool {
        for ((s, q), &v) in self.sum.iter_mut().zip(self.sum_sq.iter_mut()).zip(z) {
            let v = v.to_f64();
            *s += v;
            *q += v * v;
        }
        self.filled += 1;
        if self.filled < self.steps {
            return false;
        }
        let k = self.filled as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / k).collect();
        self.std = self
            .sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / k - m * m).max(0.0).sqrt())
            .collect();
        self.mean = mean;
        self.sum.iter_mut().for_each(|v| *v = 0.0);
        self.sum_sq.iter_mut().for_each(|v| *v = 0.0);
        self.filled = 0;
        true
    }
}

/// Per (sample, layer) range, index `s * (L - 1) + l - 1`: the largest |z(0) - z_final| over
/// the layer's value nodes.
fn ranges(widths: &[usize], b: usize, z0: &[f64], zf: &[f64]) -> Vec<f64> {
    let hidden = widths.len() - 2;
    let mut out = vec![0.0; b * hidden];
    for (k, (a, f)) in z0.iter().zip(zf).enumerate() {
        let (l, _, s) = locate(widths, b, k);
        let r = &mut out[s * hidden + l - 1];
        *r = f64::max(*r, (a - f).abs());
    }
    out
}

/// Each value node's settling band.
fn bands(widths: &[usize], b: usize, r: &[f64], sd: &[f64], tol: f64, noisy: bool) -> Vec<f64> {
    let hidden = widths.len() - 2;
    (0..sd.len())
        .map(|k| {
            let (l, _, s) = locate(widths, b, k);
            let base = tol * r[s * hidden + l - 1];
            if noisy {
                base + NOISE_BAND_SIGMAS * sd[k]
            } else {
                base
            }
        })
        .collect()
}

/// Checkpoints of one chunk's trajectory: every value node at uniformly spaced steps (the
/// spacing doubles whenever the buffer fills, so that any run length fits), the traced
/// samples' error nodes there, and the power of every step.
struct Recorder {
    cap: usize,
    stride: usize,
    steps: Vec<usize>,
    z: Vec<Vec<f64>>,
    /// Per checkpoint, per layer: the error-node outputs of the first `e_samples` samples (the
    /// traced ones, or all for the readout's settling).
    e: Vec<Vec<Vec<f64>>>,
    e_samples: usize,
    traced: usize,
    /// Per state n: its time (seconds).
    times: Vec<f64>,
    /// Per state n: crossbar power (watts, summed over the chunk).
    power: Vec<ByLayer>,
    /// Per step n -> n + 1: capacitor energy (joules, summed over the chunk).
    capacitor: Vec<ByLayer>,
}

impl Recorder {
    fn new(cap: usize, traced: usize, e_samples: usize) -> Self {
        Recorder {
            e_samples,
            cap: cap.max(4),
            stride: 1,
            steps: Vec::new(),
            z: Vec::new(),
            e: Vec::new(),
            traced,
            times: Vec::new(),
            power: Vec::new(),
            capacitor: Vec::new(),
        }
    }

    /// Records state `n` (`z`, at time `t`) of `chunk`, whose activations and errors are in
    /// the chunk's start-stage buffers; `z_next` is the state after the step (`None` at the end).
    fn observe<T: Real>(
        &mut self,
        chunk: &Chunk<'_, T>,
        model: Option<&EnergyModel>,
        (n, t): (usize, f64),
        z: &[T],
        z_next: Option<&[T]>,
    ) {
        let ChunkFlow { circ, x, ws, .. } = &chunk.flow;
        let l_out = circ.n_layers();
        self.times.truncate(n);
        self.times.push(t);
        if let Some(model) = model {
            let mut p = vec![[0.0; Component::COUNT]; l_out];
            let read = ReadState {
                x,
                phi: &ws.phi,
                err: &ws.eps,
                pred: &ws.pred,
                back: &ws.back,
            };
            model.add_read_power(circ, read, &mut p);
            self.power.push(p);
            // The capacitor charge is counted on the noise-free trajectory only (a noisy run
            // takes the first pass's).
            if let (Some(zn), None) = (z_next, &chunk.flow.noise) {
                let mut c = vec![[0.0; Component::COUNT]; l_out];
                model.add_capacitor_energy(&chunk.layer_ranges, z, zn, &mut c);
                self.capacitor.push(c);
            }
        }
        let on_grid = n.is_multiple_of(self.stride);
        if !(on_grid || z_next.is_none()) {
            return;
        }
        if self.steps.last() == Some(&n) {
            return;
        }
        self.steps.push(n);
        self.z.push(z.iter().map(|v| v.to_f64()).collect());
        self.e.push(
            (1..=l_out)
                .map(|l| {
                    let w = circ.widths[l];
                    ws.eps[l - 1][..w * self.e_samples]
                        .iter()
                        .map(|v| v.to_f64())
                        .collect()
                })
                .collect(),
        );
        // Thin out when full; the final state, recorded off the grid, is never dropped.
        if self.steps.len() >= self.cap && z_next.is_some() {
            let keep: Vec<usize> = (0..self.steps.len()).step_by(2).collect();
            self.retain_points(&keep);
            self.stride *= 2;
        }
    }

    /// Keeps the recorded output points at the indices `keep` (ascending) and drops the rest.
    fn retain_points(&mut self, keep: &[usize]) {
        self.steps = keep.iter().map(|&i| self.steps[i]).collect();
        self.z = keep
            .iter()
            .map(|&i| std::mem::take(&mut self.z[i]))
            .collect();
        self.e = keep
            .iter()
            .map(|&i| std::mem::take(&mut self.e[i]))
            .collect();
    }

    /// Drops every recorded output point but those at `steps` (ascending, a subset of its own).
    fn keep_only(&mut self, steps: &[usize]) {
        let keep: Vec<usize> = (0..self.steps.len())
            .filter(|&i| steps.binary_search(&self.steps[i]).is_ok())
            .collect();
        self.retain_points(&keep);
    }
}

/// One chunk's run and what it recorded.
struct ChunkRun<'a, T: Real> {
    chunk: Chunk<'a, T>,
    rec: Recorder,
    z_prev: Vec<T>,
    z0: Vec<f64>,
    window: Option<Window>,
    steady: bool,
    residual: f64,
    /// A noisy run's readout settling, from its noise-free first pass.
    readout: Option<Vec<ReadoutSettling>>,
}

/// Checks the step of `opts` against the window and, with error nodes of time constant
/// `tau_e_seconds` (0: algebraic), against the stability of their explicit step.
pub fn check_step(opts: &SimOptions, tau_e_seconds: f64) -> Result<(), SimError> {
    if !(opts.dt_seconds > 0.0 && opts.t_max_seconds >= opts.dt_seconds) {
        return Err(SimError::Options(format!(
            "need 0 < dt <= t_max, got dt = {:e} s, t_max = {:e} s",
            opts.dt_seconds, opts.t_max_seconds
        )));
    }
    let limit = match opts.scheme {
        // The exponential scheme advances the error nodes exactly.
        Scheme::Exponential(_) => f64::INFINITY,
        _ => crate::config::max_stable_step(tau_e_seconds),
    };
    if opts.dt_seconds > limit {
        return Err(SimError::Options(format!(
            "dt = {:e} s is more than 2 tau_e = {limit:e} s: the explicit step of the error nodes \
             is unstable; shorten dynamics.dt",
            opts.dt_seconds
        )));
    }
    Ok(())
}

/// Runs `circ` on the batch `x` (D x B) with targets `y` (O x B), column-major. `progress` is
/// told (pass, steps) as chunks advance.
pub fn simulate<T: Real>(
    circ: &AnalogCircuit<T>,
    x: &[T],
    y: &[T],
    batch: usize,
    opts: &SimOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Simulation, SimError> {
    simulate_recorded(circ, x, y, batch, opts, progress).map_err(|f| f.error)
}

/// [`simulate`], and on a divergence or a rail the traces recorded before it. When several
/// chunks diverge, the failure is the earliest in simulated time (then the lowest sample),
/// whatever the threads.
pub fn simulate_recorded<T: Real>(
    circ: &AnalogCircuit<T>,
    x: &[T],
    y: &[T],
    batch: usize,
    opts: &SimOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Simulation, Box<SimFailure>> {
    let without_poles = quasi_static(circ, opts);
    let circ = without_poles.as_ref().unwrap_or(circ);
    let noisy = check_simulation(circ, opts).map_err(|error| {
        Box::new(SimFailure {
            error,
            traces: Traces::default(),
        })
    })?;
    let run = ChunkRunner::new(circ, x, y, batch, opts, noisy, progress);
    let runs = match opts.scheme {
        Scheme::Exponential(Some(tol)) if !noisy => {
            all_or_earliest(circ, opts, batch, run.adaptive(batch, tol, opts))?
        }
        _ => run.fixed_steps(batch)?,
    };
    let steady = runs.iter().all(|r| r.steady);
    let residual = runs.iter().map(|r| r.residual).fold(0.0, f64::max);
    let (n_end, t_end) = runs
        .first()
        .map_or((0, 0.0), |r| (r.chunk.steps, r.chunk.time));

    let finals: Vec<Final> = runs.iter().map(ChunkRun::final_values).collect();
    check_rails(circ, &runs, &finals, t_end).map_err(|error| {
        Box::new(SimFailure {
            error,
            traces: assemble_traces(circ, opts, batch, &runs),
        })
    })?;
    let mut settling = Vec::with_capacity(batch);
    for (r, f) in runs.iter().zip(&finals) {
        let b = r.chunk.b;
        let rg = ranges(&circ.widths, b, &r.z0, &f.z);
        let band = bands(&circ.widths, b, &rg, &f.std, opts.settle_tol, noisy);
        settling.extend(settle_times(&circ.widths, b, &r.rec, &f.z, &band));
    }
    let readout_settling = match &opts.readout {
        Some(bands) => runs
            .iter()
            .flat_map(|r| r.readout_settling(bands))
            .collect(),
        None => Vec::new(),
    };
    // The inference ends when the chip can read it: at the readout's settling when measured.
    let worst = match readout_settling.is_empty() {
        true => settling.iter().map(|s| s.time_seconds).fold(0.0, f64::max),
        false => readout_settling
            .iter()
            .map(|s| s.time_seconds)
            .fold(0.0, f64::max),
    };
    let window_seconds = if steady { worst } else { t_end };
    let (final_z, final_z_std) = merge_finals(circ, batch, &runs, &finals);
    let final_e = final_errors(circ, x, y, batch, &final_z);
    let energy = opts
        .energy
        .as_ref()
        .map(|model| window_energy(model, &runs, batch, circ.n_layers(), window_seconds));
    let traces = assemble_traces(circ, opts, batch, &runs);
    Ok(Simulation {
        batch,
        steps: n_end,
        t_end_seconds: t_end,
        dt_seconds: opts.dt_seconds,
        evaluations: runs.iter().map(|r| r.chunk.flow.evals).sum(),
        steady,
        residual,
        final_z,
        final_e,
        final_z_std,
        settling,
        readout_settling,
        window_seconds,
        energy,
        traces,
    })
}

/// A fixed-step run takes poles faster than this fraction of its step as instantaneous.
pub const QUASI_STATIC_FRACTION: f64 = 1e-2;

/// The circuit a fixed-step run integrates instead of `circ`: `circ` without its poles when
/// every pole is faster than [`QUASI_STATIC_FRACTION`] of the step (the lines' RC without a
/// gain-bandwidth: femtoseconds to picoseconds). A lag of `tau` delays the signals by `tau`,
/// which moves the trajectory by `tau / tau_z` of its range: at most 1e-2 `dt / tau_z`, a
/// hundredth of Euler's own error and below Heun's `(dt / tau_z)^2` wherever
/// `dt > tau_z / 100` (singular perturbation: the fast states follow their inputs; Khalil,
/// *Nonlinear Systems*, 3rd ed., 2002, §11.1). `None`: integrate `circ` as it is.
fn quasi_static<T: Real>(circ: &AnalogCircuit<T>, opts: &SimOptions) -> Option<AnalogCircuit<T>> {
    let poles = circ.poles.as_ref()?;
    opts.scheme.fixed()?;
    let slowest = poles.slowest_rate();
    let limit = circ.tau_z_seconds / (QUASI_STATIC_FRACTION * opts.dt_seconds);
    (slowest > limit).then(|| AnalogCircuit {
        poles: None,
        ..circ.clone()
    })
}

/// Checks what [`simulate`] can run; returns whether the run is noisy.
fn check_simulation<T: Real>(circ: &AnalogCircuit<T>, opts: &SimOptions) -> Result<bool, SimError> {
    check_step(opts, circ.tau_e_seconds)?;
    if circ.n_layers() < 2 {
        return Err(SimError::Options(
            "the network has no hidden layer: nothing to integrate".into(),
        ));
    }
    if let (Some(p), Some(_)) = (&circ.poles, opts.scheme.fixed()) {
        // An explicit step is stable on a pole of time constant tau for dt < 2 tau.
        let limit = 2.0 * circ.tau_z_seconds / p.fastest_rate();
        if opts.dt_seconds > limit {
            return Err(SimError::Options(format!(
                "dynamics.dt = {:e} s is more than 2 tau = {limit:e} s of the fastest amplifier \
                 pole (periphery.gain_bandwidth with crossbar.wire_capacitance), and the \
                 slowest pole ({:e} s) is not below {QUASI_STATIC_FRACTION:e} of the step, so \
                 the poles cannot be taken as instantaneous: the explicit step is unstable; set \
                 dynamics.dt below {limit:e} s, or dynamics.solver = \"exponential\" (its poles \
                 are exact over any step)",
                opts.dt_seconds,
                circ.tau_z_seconds / p.slowest_rate()
            )));
        }
    }
    let noisy = opts.noise && circ.noisy;
    if noisy && opts.scheme == Scheme::Rk4 {
        return Err(SimError::Options(
            "rk4 cannot integrate noise; use euler or heun".into(),
        ));
    }
    Ok(noisy)
}

/// What every chunk of one [`simulate`] run shares, and the two passes of a chunk.
struct ChunkRunner<'a, T: Real> {
    circ: &'a AnalogCircuit<T>,
    x: &'a [T],
    y: &'a [T],
    opts: &'a SimOptions,
    /// `opts` without noise: the first pass of a noisy run.
    quiet: SimOptions,
    noisy: bool,
    products: Arc<PackedProducts<T>>,
    /// The step in units of tau_z (the first step of an error-controlled run).
    h: f64,
    /// The most steps, t_max / dt.
    n_max: usize,
    /// Samples `0..traced_upto` of the batch are traced.
    traced_upto: usize,
    progress: &'a (dyn Fn(usize, usize) + Sync),
}

impl<'a, T: Real> ChunkRunner<'a, T> {
    fn new(
        circ: &'a AnalogCircuit<T>,
        x: &'a [T],
        y: &'a [T],
        batch: usize,
        opts: &'a SimOptions,
        noisy: bool,
        progress: &'a (dyn Fn(usize, usize) + Sync),
    ) -> Self {
        let dt = opts.dt_seconds;
        ChunkRunner {
            circ,
            x,
            y,
            opts,
            quiet: SimOptions {
                noise: false,
                ..opts.clone()
            },
            noisy,
            products: circ.pack(),
            h: dt / circ.tau_z_seconds,
            // t_max / dt can round to just below an integer (12000 steps of 2.5e-11 s give
            // 11999.999999999998): a relative slack of 1e-9 keeps a t_max of N steps at N.
            n_max: (opts.t_max_seconds / dt * (1.0 + 1e-9)).floor() as usize,
            traced_upto: opts.trace_samples.min(batch),
            progress,
        }
    }

    /// The chunk of samples `samples` at its initial state, nothing recorded yet.
    fn start(&self, samples: Range<usize>, opts: &SimOptions) -> ChunkRun<'a, T> {
        let (s0, b) = (samples.start, samples.len());
        let chunk = Chunk::new(self.circ, &self.products, self.x, self.y, s0, b, opts);
        let z_prev = chunk.value_nodes().to_vec();
        let z0 = z_prev.iter().map(|v| v.to_f64()).collect();
        let traced = self.traced_upto.saturating_sub(s0).min(b);
        let e_samples = if self.opts.readout.is_some() {
            b
        } else {
            traced
        };
        ChunkRun {
            chunk,
            rec: Recorder::new(self.opts.trace_points.max(4), traced, e_samples),
            z_prev,
            z0,
            window: None,
            steady: false,
            residual: f64::INFINITY,
            readout: None,
        }
    }

    /// One step of a recorded run: the state before it is observed with the step's own first
    /// evaluation.
    fn advance(&self, r: &mut ChunkRun<'_, T>) {
        let at = (r.chunk.steps, r.chunk.time);
        r.chunk.step(self.h);
        self.observe_step(r, at);
    }

    /// Records the state `at` = (step, time) the chunk's last step started from.
    fn observe_step(&self, r: &mut ChunkRun<'_, T>, at: (usize, f64)) {
        let model = self.opts.energy.as_ref();
        let next = Some(r.chunk.value_nodes());
        r.rec.observe(&r.chunk, model, at, &r.z_prev, next);
        r.z_prev.copy_from_slice(r.chunk.value_nodes());
    }

    /// Observes the chunk's current state as its last checkpoint, unless it already is.
    fn observe_end(&self, r: &mut ChunkRun<'_, T>) {
        let at = (r.chunk.steps, r.chunk.time);
        if r.rec.steps.last() != Some(&at.0) {
            r.chunk.evaluate();
            let model = self.opts.energy.as_ref();
            r.rec.observe(&r.chunk, model, at, &r.z_prev, None);
        }
    }

    /// Both passes of a fixed-step run (one when deterministic): every chunk steps until it is
    /// steady or t_max; a noisy run then integrates the SDE for that long plus one trailing
    /// window.
    fn fixed_steps(&self, batch: usize) -> Result<Vec<ChunkRun<'a, T>>, Box<SimFailure>> {
        let (circ, opts) = (self.circ, self.opts);
        let dt = opts.dt_seconds;
        let window_steps = ((opts.settle_window_seconds / dt).round() as usize).max(1);
        let settled: Vec<ChunkOutcome<T>> = match opts.scheme {
            // The noise-free pass of a noisy run, error-controlled: it only fixes the length.
            Scheme::Exponential(Some(tol)) if self.noisy => self.adaptive(batch, tol, &self.quiet),
            _ => chunk_ranges(batch, chunk_samples(batch))
                .into_par_iter()
                .map(|c| self.until_steady(c))
                .collect(),
        };
        let runs = all_or_earliest(circ, opts, batch, settled)?;
        let n_steady = runs
            .iter()
            .map(|r| ((r.chunk.time / dt) * (1.0 - 1e-9)).ceil() as usize)
            .max()
            .unwrap_or(0);
        // A noisy run goes on for one trailing window after the noise-free circuit is steady.
        let n_end = if self.noisy {
            (n_steady + window_steps).min(self.n_max)
        } else {
            n_steady
        };
        let window_len = window_steps.min(n_end).max(1);
        let recorded: Vec<ChunkOutcome<T>> = runs
            .into_par_iter()
            .map(|r| self.recorded(r, n_end, window_len))
            .collect();
        all_or_earliest(circ, opts, batch, recorded)
    }

    /// A noise-free run with error-controlled steps of the exponential scheme, recorded, until
    /// every chunk is steady or t_max. Every chunk takes the same steps (the largest local error
    /// over the batch decides), so the checkpoints line up and nothing depends on the threads.
    fn adaptive(
        &self,
        batch: usize,
        tol: Tolerance,
        opts: &SimOptions,
    ) -> Vec<ChunkOutcome<'a, T>> {
        let mut runs: Vec<ChunkRun<'a, T>> = chunk_ranges(batch, chunk_samples(batch))
            .into_iter()
            .map(|c| self.start(c, opts))
            .collect();
        let mut saved: Vec<Vec<T>> = runs.iter().map(|r| r.chunk.state.clone()).collect();
        let (tz, t_max) = (self.circ.tau_z_seconds, self.opts.t_max_seconds);
        let (mut h, h_min) = (self.h, self.h * 1e-3);
        let (mut ticks, mut told) = (Ticks::new(self.progress, 1), 0);
        // The last accepted step, observed by each chunk in the next parallel attempt (its
        // start-stage buffers still hold that step's), not one chunk after another here.
        let mut pending: Option<(usize, f64)> = None;
        // Whether a chunk's state has diverged: checked by each chunk after its attempt.
        let mut diverged = runs.iter().any(|r| r.chunk.check_divergence().is_err());
        while runs[0].chunk.time < t_max * (1.0 - 1e-9) {
            if diverged {
                break;
            }
            let at = (runs[0].chunk.steps, runs[0].chunk.time);
            // No step longer than dt: a settling time is the re-entry into a band of settle_tol
            // around the state the run stops at, interpolated between steps, so both the
            // crossing and the stopping point need steps as fine as dt (longer steps within the
            // local tolerance moved the default design's settling times by 2 %).
            h = h.min(self.h).min((t_max - at.1) / tz);
            let (err, stiffness) = loop {
                let observe = pending.take();
                let (err, stiffness, nonfinite) = runs
                    .par_iter_mut()
                    .zip(saved.par_iter_mut())
                    .map(|(r, s)| {
                        if let Some(at) = observe {
                            self.observe_step(r, at);
                        }
                        let (err, stiffness) = r.chunk.attempt(h, tol, s);
                        (err, stiffness, r.chunk.check_divergence().is_err())
                    })
                    .reduce(
                        || (0.0, 0.0, false),
                        |a, b| (a.0.max(b.0), a.1.max(b.1), a.2 || b.2),
                    );
                if err <= 1.0 || !err.is_finite() || h <= h_min {
                    diverged = nonfinite;
                    break (err, stiffness);
                }
                runs.iter_mut()
                    .zip(&saved)
                    .for_each(|(r, s)| r.chunk.undo(s));
                h = (h * (0.9 / err.sqrt()).clamp(0.2, 0.9)).max(h_min);
            };
            for r in runs.iter_mut() {
                r.chunk.accept(h);
                r.residual = r.chunk.max_drive();
            }
            pending = Some(at);
            // The progress counts chunk-steps of dt, as a fixed-step pass does.
            let done = (runs[0].chunk.time / self.opts.dt_seconds * (1.0 + 1e-9)).floor();
            let done = done as usize * runs.len();
            ticks.add(done - told);
            told = done;
            if err.is_finite() {
                h *= (0.9 / err.max(1e-10).sqrt()).clamp(0.2, 5.0);
            }
            // Near steady state the error estimate lets the step grow to the edge of the
            // explicit part's stability, where the fastest value-node modes ring at the
            // tolerance instead of decaying: h <= 1 / rate keeps them damped (a factor of at
            // most 1/2 per step on the real axis).
            if stiffness > 0.0 {
                h = h.min(STABLE_STEP_RATE / stiffness);
            }
            if runs.iter().all(|r| r.residual < self.opts.steady_tol) {
                runs.iter_mut().for_each(|r| r.steady = true);
                break;
            }
        }
        ticks.flush();
        if let Some(at) = pending {
            runs.par_iter_mut().for_each(|r| self.observe_step(r, at));
        }
        runs.into_iter()
            .map(|r| {
                let mut r = checked(r)?;
                r.chunk.evaluate();
                let at = (r.chunk.steps, r.chunk.time);
                r.rec
                    .observe(&r.chunk, self.opts.energy.as_ref(), at, &r.z_prev, None);
                Ok(r)
            })
            .collect()
    }

    /// The first pass over the chunk `samples`: the noise-free circuit until the chunk is
    /// steady or t_max, recorded unless the run is noisy (then the second pass records).
    fn until_steady(&self, samples: Range<usize>) -> ChunkOutcome<'a, T> {
        let mut r = self.start(samples, &self.quiet);
        let mut ticks = Ticks::new(self.progress, 1);
        while r.chunk.steps < self.n_max {
            if let Err(e) = r.chunk.check_divergence() {
                return Err(Box::new((e, r)));
            }
            self.advance(&mut r);
            ticks.tick();
            r.residual = r.chunk.max_drive();
            if r.residual < self.opts.steady_tol {
                r.steady = true;
                break;
            }
        }
        ticks.flush();
        checked(r)
    }

    /// The recorded pass up to step `n_end`: the first pass's run continued (deterministic),
    /// or the SDE from the start with a trailing window of `window_len` steps (noisy); the end
    /// state is observed with one more evaluation without noise.
    fn recorded(
        &self,
        mut first: ChunkRun<'a, T>,
        n_end: usize,
        window_len: usize,
    ) -> ChunkOutcome<'a, T> {
        let mut r = if self.noisy {
            let samples = first.chunk.s0..first.chunk.s0 + first.chunk.b;
            let mut fresh = self.start(samples, self.opts);
            fresh.window = Some(Window::new(fresh.z0.len(), window_len));
            fresh.steady = first.steady;
            fresh.residual = first.residual;
            self.observe_end(&mut first);
            let (charge, times) = (&first.rec.capacitor, &first.rec.times);
            fresh.rec.capacitor = charge_on_grid(charge, times, self.opts.dt_seconds, n_end);
            fresh.readout = self
                .opts
                .readout
                .as_ref()
                .map(|b| first.readout_settling(b));
            // The first pass is dropped here, before the second records.
            drop(first);
            fresh
        } else {
            first
        };
        let mut ticks = Ticks::new(self.progress, if self.noisy { 2 } else { 1 });
        while r.chunk.steps < n_end {
            self.advance(&mut r);
            if let Some(w) = r.window.as_mut() {
                if r.chunk.steps + w.steps > n_end {
                    w.push(r.chunk.value_nodes());
                }
            }
            ticks.tick();
        }
        ticks.flush();
        let mut r = checked(r)?;
        r.chunk.evaluate();
        let model = self.opts.energy.as_ref();
        let at = (n_end, r.chunk.time);
        r.rec.observe(&r.chunk, model, at, &r.z_prev, None);
        Ok(r)
    }
}

/// A chunk's run, or the error that stopped it and the run up to there.
type ChunkOutcome<'a, T> = Result<ChunkRun<'a, T>, Box<(SimError, ChunkRun<'a, T>)>>;

/// `r`, or the divergence of its current state.
fn checked<T: Real>(r: ChunkRun<'_, T>) -> ChunkOutcome<'_, T> {
    match r.chunk.check_divergence() {
        Ok(()) => Ok(r),
        Err(e) => Err(Box::new((e, r))),
    }
}

/// Every chunk's run, or the earliest failure (in simulated time, then by sample) with the
/// output points that every chunk recorded before it, so that the failure and its traces do not
/// depend on which chunk a thread finished first.
fn all_or_earliest<'a, T: Real>(
    circ: &AnalogCircuit<T>,
    opts: &SimOptions,
    batch: usize,
    outcomes: Vec<ChunkOutcome<'a, T>>,
) -> Result<Vec<ChunkRun<'a, T>>, Box<SimFailure>> {
    let when = |e: &SimError| match e {
        SimError::Diverged {
            time_seconds,
            sample,
            ..
        } => (*time_seconds, *sample),
        _ => (f64::INFINITY, usize::MAX),
    };
    let earliest = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|f| &f.0))
        .min_by(|a, b| {
            let (ta, sa) = when(a);
            let (tb, sb) = when(b);
            ta.total_cmp(&tb).then(sa.cmp(&sb))
        })
        .cloned();
    let Some(error) = earliest else {
        return Ok(outcomes.into_iter().flatten().collect());
    };
    let mut runs: Vec<ChunkRun<T>> = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|f| f.1))
        .collect();
    let common = common_points(&runs, opts.energy.is_some());
    for r in &mut runs {
        r.rec.keep_only(&common);
    }
    let traces = assemble_traces(circ, opts, batch, &runs);
    Err(Box::new(SimFailure { error, traces }))
}

/// The output points every chunk recorded (the grids differ in stride when chunks stopped at
/// other steps), and, with an energy model, only those whose power every chunk observed.
fn common_points<T: Real>(runs: &[ChunkRun<'_, T>], with_power: bool) -> Vec<usize> {
    let observed = if with_power {
        runs.iter().map(|r| r.rec.power.len()).min().unwrap_or(0)
    } else {
        usize::MAX
    };
    runs.first().map_or_else(Vec::new, |first| {
        first
            .rec
            .steps
            .iter()
            .copied()
            .filter(|&n| n < observed && runs.iter().all(|r| r.rec.steps.binary_search(&n).is_ok()))
            .collect()
    })
}

/// Steps a pass has taken, told to the progress callback every [`Ticks::EVERY`] steps.
struct Ticks<'a> {
    progress: &'a (dyn Fn(usize, usize) + Sync),
    pass: usize,
    unreported: usize,
}

impl<'a> Ticks<'a> {
    const EVERY: usize = 256;

    fn new(progress: &'a (dyn Fn(usize, usize) + Sync), pass: usize) -> Self {
        Ticks {
            progress,
            pass,
            unreported: 0,
        }
    }

    fn tick(&mut self) {
        self.add(1);
    }

    /// Counts `n` steps at once.
    fn add(&mut self, n: usize) {
        self.unreported += n;
        if self.unreported >= Self::EVERY {
            self.flush();
        }
    }

    /// Reports the steps not yet told.
    fn flush(&mut self) {
        (self.progress)(self.pass, self.unreported);
        self.unreported = 0;
    }
}

/// A chunk's final value nodes and their standard deviation over the trailing window.
struct Final {
    z: Vec<f64>,
    std: Vec<f64>,
}

impl<T: Real> ChunkRun<'_, T> {
    /// Each sample's readout settling: a noisy run's from its first pass, else from the
    /// checkpoints, whose last is the final state.
    fn readout_settling(&self, bands: &ReadoutBands) -> Vec<ReadoutSettling> {
        if let Some(r) = &self.readout {
            return r.clone();
        }
        let rec = &self.rec;
        let cp = Checkpoints {
            times: rec.steps.iter().map(|&n| rec.times[n]).collect(),
            z: &rec.z,
            e: &rec.e,
        };
        let circ = self.chunk.flow.circ;
        readout_settling(&circ.widths, circ.activation, self.chunk.b, &cp, bands)
    }

    /// The trailing window's mean and deviation (noisy), or the end state and zeros.
    fn final_values(&self) -> Final {
        match &self.window {
            Some(w) => Final {
                z: w.mean.clone(),
                std: w.std.clone(),
            },
            None => Final {
                z: self
                    .chunk
                    .value_nodes()
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
                std: vec![0.0; self.z0.len()],
            },
        }
    }
}

/// The first final value node at a rail (a circuit that ran into its supply), as an error.
fn check_rails<T: Real>(
    circ: &AnalogCircuit<T>,
    runs: &[ChunkRun<'_, T>],
    finals: &[Final],
    t_end: f64,
) -> Result<(), SimError> {
    let Some(rail) = circ.rail else {
        return Ok(());
    };
    let rail = rail.to_f64();
    for (r, f) in runs.iter().zip(finals) {
        if let Some(k) = f.z.iter().position(|v| v.abs() >= rail * (1.0 - 1e-9)) {
            let (layer, node, sample) = locate(&circ.widths, r.chunk.b, k);
            return Err(SimError::Rail {
                what: "value node of layer",
                layer,
                node,
                sample: r.chunk.s0 + sample,
                time_seconds: t_end,
                tau_z: t_end / circ.tau_z_seconds,
                value: f.z[k] * circ.v_read_volts,
            });
        }
    }
    Ok(())
}

/// The chunks' final values and deviations in the layout of the whole batch
/// ([`AnalogCircuit::value_layout`]).
fn merge_finals<T: Real>(
    circ: &AnalogCircuit<T>,
    batch: usize,
    runs: &[ChunkRun<'_, T>],
    finals: &[Final],
) -> (Vec<f64>, Vec<f64>) {
    let full = circ.value_layout(batch);
    let mut final_z = vec![0.0; full.len()];
    let mut final_z_std = vec![0.0; full.len()];
    for (r, f) in runs.iter().zip(finals) {
        let (s0, b) = (r.chunk.s0, r.chunk.b);
        let part = circ.value_layout(b);
        for l in 1..circ.n_layers() {
            let n = circ.widths[l];
            let dst = full.range(l).start + s0 * n;
            final_z[dst..dst + n * b].copy_from_slice(&f.z[part.range(l)]);
            final_z_std[dst..dst + n * b].copy_from_slice(&f.std[part.range(l)]);
        }
    }
    (final_z, final_z_std)
}

/// The error outputs at the final values `final_z` (no noise), within the rails, per layer.
fn final_errors<T: Real>(
    circ: &AnalogCircuit<T>,
    x: &[T],
    y: &[T],
    batch: usize,
    final_z: &[f64],
) -> Vec<Vec<f64>> {
    let zt: Vec<T> = final_z.iter().map(|&v| T::of_f64(v)).collect();
    let mut ws = circ.workspace(batch);
    circ.errors(&mut ws, x, y, &zt, None);
    let rail = circ.rail.map(|r| r.to_f64());
    ws.eps
        .iter()
        .map(|e| {
            e.iter()
                .map(|v| match rail {
                    Some(r) => v.to_f64().clamp(-r, r),
                    None => v.to_f64(),
                })
                .collect()
        })
        .collect()
}

/// Each sample's settling time from the checkpoints: the last checkpoint where a node is
/// outside its band, refined by linear interpolation to where that node re-enters it.
fn settle_times(
    widths: &[usize],
    b: usize,
    rec: &Recorder,
    zf: &[f64],
    band: &[f64],
) -> Vec<SampleSettling> {
    let mut last: Vec<Option<usize>> = vec![None; b];
    for (c, z) in rec.z.iter().enumerate() {
        for (k, ((&v, &f), &bd)) in z.iter().zip(zf).zip(band).enumerate() {
            if (v - f).abs() > bd {
                last[locate(widths, b, k).2] = Some(c);
            }
        }
    }
    let time = |n: usize| rec.times[n];
    (0..b)
        .map(|s| match last[s] {
            None => SampleSettling {
                time_seconds: 0.0,
                steps: 0,
            },
            Some(c) if c + 1 >= rec.steps.len() => {
                let n = rec.steps[c];
                SampleSettling {
                    time_seconds: time(n),
                    steps: n,
                }
            }
            Some(c) => {
                // The latest re-entry, over the sample's nodes outside at checkpoint c.
                let (z0, z1) = (&rec.z[c], &rec.z[c + 1]);
                let (n0, n1) = (rec.steps[c], rec.steps[c + 1]);
                let mut frac_max: f64 = 0.0;
                for k in 0..zf.len() {
                    if locate(widths, b, k).2 != s {
                        continue;
                    }
                    let d0 = (z0[k] - zf[k]).abs() - band[k];
                    if d0 <= 0.0 {
                        continue;
                    }
                    let d1 = (z1[k] - zf[k]).abs() - band[k];
                    let frac = if d1 < 0.0 { d0 / (d0 - d1) } else { 1.0 };
                    frac_max = frac_max.max(frac);
                }
                // Linear in the state index between the checkpoints, and so in time on a
                // uniform grid; on an error-controlled one, linear in time over the span.
                let (t0, t1) = (time(n0), time(n1));
                SampleSettling {
                    time_seconds: t0 + frac_max * (t1 - t0),
                    steps: (n0 as f64 + frac_max * (n1 - n0) as f64).ceil() as usize,
                }
            }
        })
        .collect()
}

/// Energy over the inference window [0, window], summed over the batch, per layer and
/// component: trapezoid over the steps' power, the capacitor charge of each step (a partial
/// last step pro rata), static power for the window, and the conversions.
fn window_energy(
    model: &EnergyModel,
    runs: &[ChunkRun<'_, impl Real>],
    batch: usize,
    l_out: usize,
    window: f64,
) -> ByLayer {
    let mut e = vec![[0.0; Component::COUNT]; l_out];
    for r in runs {
        let (p, cap, t) = (&r.rec.power, &r.rec.capacitor, &r.rec.times);
        for n in 0..cap.len() {
            let (t0, t1) = (t[n], t[n + 1]);
            if t0 >= window {
                break;
            }
            // The part of the step inside the window, and the power at its end (interpolated
            // along a partial step).
            let frac = ((window - t0) / (t1 - t0)).min(1.0);
            for l in 0..l_out {
                for c in 0..Component::COUNT {
                    let pe = p[n][l][c] + frac * (p[n + 1][l][c] - p[n][l][c]);
                    e[l][c] += 0.5 * frac * (t1 - t0) * (p[n][l][c] + pe) + frac * cap[n][l][c];
                }
            }
        }
    }
    for (l, p) in model.static_power().iter().enumerate() {
        for c in 0..Component::COUNT {
            e[l][c] += p[c] * batch as f64 * window;
        }
    }
    for (l, c) in model.conversion_energy(batch).iter().enumerate() {
        for k in 0..Component::COUNT {
            e[l][k] += c[k];
        }
    }
    e
}

/// The checkpoints of every chunk, merged: node traces of the traced samples, and the power
/// and energy since t = 0 of the whole batch.
fn assemble_traces<T: Real>(
    circ: &AnalogCircuit<T>,
    opts: &SimOptions,
    batch: usize,
    runs: &[ChunkRun<'_, T>],
) -> Traces {
    let l_out = circ.n_layers();
    // Every chunk took the same steps (fixed, or error-controlled together).
    let (steps, times) = runs
        .first()
        .map(|r| (r.rec.steps.clone(), r.rec.times.clone()))
        .unwrap_or_default();
    let traced: Vec<&ChunkRun<T>> = runs.iter().filter(|r| r.rec.traced > 0).collect();
    let samples: Vec<usize> = traced
        .iter()
        .flat_map(|r| r.chunk.s0..r.chunk.s0 + r.rec.traced)
        .collect();
    let mut t = Traces {
        time_seconds: steps.iter().map(|&n| times[n]).collect(),
        samples,
        ..Traces::default()
    };
    for l in 1..l_out {
        let mut v = Vec::new();
        for p in 0..steps.len() {
            for r in &traced {
                let lay = circ.value_layout(r.chunk.b);
                let w = circ.widths[l];
                let rg = lay.range(l);
                v.extend_from_slice(&r.rec.z[p][rg.start..rg.start + w * r.rec.traced]);
            }
        }
        t.z.push(v);
    }
    for l in 1..=l_out {
        let mut v = Vec::new();
        for p in 0..steps.len() {
            for r in &traced {
                let w = circ.widths[l];
                v.extend_from_slice(&r.rec.e[p][l - 1][..w * r.rec.traced]);
            }
        }
        t.e.push(v);
    }
    if let Some(model) = &opts.energy {
        (t.power_watts, t.energy_joules) = power_traces(model, l_out, batch, &steps, runs);
    }
    t
}

/// The power of the whole batch per component at each checkpoint `steps`, and the energy per
/// layer drawn since t = 0 (trapezoids over the steps' power, capacitor charge, static power).
fn power_traces<T: Real>(
    model: &EnergyModel,
    l_out: usize,
    batch: usize,
    steps: &[usize],
    runs: &[ChunkRun<'_, T>],
) -> (Vec<[f64; Component::COUNT]>, Vec<Vec<f64>>) {
    let (mut power, mut energy) = (Vec::new(), Vec::new());
    let stat = model.static_power();
    let stat_total: Vec<f64> = stat.iter().map(|l| l.iter().sum::<f64>()).collect();
    let mut cumulative = vec![0.0; l_out];
    let mut last = 0usize;
    let Some(times) = runs.first().map(|r| &r.rec.times) else {
        return (power, energy);
    };
    for &n in steps {
        for j in last..n {
            let dt = times[j + 1] - times[j];
            for r in runs {
                let (p, c) = (&r.rec.power, &r.rec.capacitor);
                for l in 0..l_out {
                    let a = supply_sum(&p[j][l]);
                    let b = supply_sum(&p[j + 1][l]);
                    cumulative[l] += 0.5 * dt * (a + b) + c[j][l].iter().sum::<f64>();
                }
            }
            for l in 0..l_out {
                cumulative[l] += stat_total[l] * batch as f64 * dt;
            }
        }
        last = n;
        let mut pw = [0.0; Component::COUNT];
        for r in runs {
            for l in 0..l_out {
                for c in 0..Component::COUNT {
                    pw[c] += r.rec.power[n][l][c];
                }
                // A run stopped by a divergence has no time after its last state.
                if let (Some(cap), Some(&t1)) = (r.rec.capacitor.get(n), times.get(n + 1)) {
                    let dt = t1 - times[n];
                    pw[Component::Capacitors.index()] += cap[l][Component::Capacitors.index()] / dt;
                }
            }
        }
        for l in 0..l_out {
            for c in 0..Component::COUNT {
                pw[c] += stat[l][c] * batch as f64;
            }
        }
        power.push(pw);
        energy.push(cumulative.clone());
    }
    (power, energy)
}

/// Integrates `circ` for exactly `steps` steps of `opts.scheme` and `opts.dt_seconds` (with the
/// circuit's noise when `opts.noise`), in parallel chunks, and returns the final state
/// (value nodes in the layout of [`AnalogCircuit::value_layout`], then the error nodes when
/// they are dynamic, per chunk in batch order) and the number of right-hand-side evaluations.
/// No settling, energy or recording: the bare cost of the integrator, for benchmarks and
/// convergence studies.
pub fn integrate<T: Real>(
    circ: &AnalogCircuit<T>,
    x: &[T],
    y: &[T],
    batch: usize,
    opts: &SimOptions,
    steps: usize,
) -> (Vec<Vec<T>>, usize) {
    let h = opts.dt_seconds / circ.tau_z_seconds;
    let products = circ.pack();
    let out: Vec<(Vec<T>, usize)> = chunk_ranges(batch, chunk_samples(batch))
        .par_iter()
        .map(|r| {
            let mut c = Chunk::new(circ, &products, x, y, r.start, r.len(), opts);
            for _ in 0..steps {
                c.step(h);
            }
            (c.state, c.flow.evals)
        })
        .collect();
    let evals = out.iter().map(|o| o.1).sum();
    (out.into_iter().map(|o| o.0).collect(), evals)
}
