//! The runner of the analog circuit: it owns the time loop, the noise streams, divergence and
//! steady-state detection, settling, energy accounting and the traces. The circuit
//! ([`super::circuit`]) gives derivatives; the schemes here take steps in place.
//!
//! A run first integrates the noise-free circuit until every chunk is steady (max|dz/dt| tau_z
//! < steady_tol) or t_max; that fixes how long the run lasts, and for a deterministic run its
//! final values. A noisy run then integrates the SDE for that long plus one trailing window,
//! whose mean is its final value. A last pass replays the very same steps (the noise streams
//! are reseeded) and measures: when each node last left its settling band, the power of every
//! component, the traces. The batch is cut into chunks of fixed size that run in parallel; every random draw
//! comes from a stream of its own (sample, layer), so results do not depend on the threads.
//!
//! # Reference
//! Kloeden & Platen, "Numerical Solution of Stochastic Differential Equations", Springer 1992:
//! Euler–Maruyama (§10.2, strong order 1/2) and the stochastic Heun scheme (strong order 1 for
//! additive noise).

use super::circuit::{AnalogCircuit, CircuitWorkspace, NoiseSample, PackedProducts};
use super::energy::{ByLayer, Component, EnergyModel};
use crate::network::param::layer_seed;
use crate::real::Real;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::sync::Arc;

/// Samples per parallel chunk. Fixed, so that results do not depend on the thread count.
pub const CHUNK: usize = 16;
/// A node beyond this (node units; 200 kV at v_read = 0.2 V) has diverged.
pub const DIVERGENCE_BOUND: f64 = 1e6;
/// A noisy node's settling band adds this many of its standard deviations.
pub const NOISE_BAND_SIGMAS: f64 = 5.0;
/// Stream offset of the noise generators, apart from devices and offsets.
const NOISE_STREAM: u64 = 2 << 40;

/// A fixed-step scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Euler; Euler–Maruyama with noise.
    Euler,
    /// Heun; stochastic Heun with noise.
    Heun,
    /// Classical Runge–Kutta 4 (deterministic only).
    Rk4,
}

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
    /// The inference window: the latest settling time of the batch (t_end if it never
    /// settled), and the energy spent in it, summed over the batch, per layer and component.
    pub window_seconds: f64,
    pub energy: Option<ByLayer>,
    pub traces: Traces,
}

/// One chunk of samples being integrated.
struct Chunk<'a, T: Real> {
    circ: &'a AnalogCircuit<T>,
    s0: usize,
    b: usize,
    x: Vec<T>,
    y: Vec<T>,
    state: Vec<T>,
    k: [Vec<T>; 4],
    tmp: Vec<T>,
    /// The first stage's buffers: after a step, the activations and errors of the state the
    /// step started from.
    ws: CircuitWorkspace<T>,
    /// Later stages' buffers.
    ws2: CircuitWorkspace<T>,
    noise: Option<(NoiseSample<T>, Vec<Xoshiro256PlusPlus>)>,
    drive: Vec<T>,
    drive_scratch: Vec<T>,
    evals: usize,
    steps: usize,
    /// Where each hidden layer's value nodes sit in `state` (computed once: the hot loop
    /// asks for them every step).
    layer_ranges: Vec<std::ops::Range<usize>>,
    n_values: usize,
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
        let n = state.len();
        let l_out = circ.n_layers();
        let lay = circ.value_layout(b);
        let layer_ranges = (1..l_out).map(|l| lay.range(l)).collect();
        let noise = (opts.noise && circ.noisy).then(|| {
            let rngs = (0..b)
                .flat_map(|s| {
                    (0..l_out).map(move |l| {
                        let stream = NOISE_STREAM | ((s0 + s) as u64) << 8 | l as u64;
                        Xoshiro256PlusPlus::seed_from_u64(layer_seed(opts.seed, stream))
                    })
                })
                .collect();
            (NoiseSample::new(&circ.widths, b, opts.dt_seconds), rngs)
        });
        Chunk {
            circ,
            s0,
            b,
            x: xs,
            y: ys,
            state,
            k: std::array::from_fn(|_| vec![T::zero(); n]),
            tmp: vec![T::zero(); n],
            ws: circ.workspace_with(b, Arc::clone(products)),
            ws2: circ.workspace_with(b, Arc::clone(products)),
            noise,
            drive: vec![T::zero(); b],
            drive_scratch: vec![T::zero(); b],
            evals: 0,
            steps: 0,
            layer_ranges,
            n_values: lay.len(),
        }
    }

    /// Draws this step's standard normals: per (sample, layer) stream, the error nodes' then
    /// the value nodes'.
    fn draw(&mut self) {
        let Some((ns, rngs)) = self.noise.as_mut() else {
            return;
        };
        let w = &self.circ.widths;
        let l_out = w.len() - 1;
        for s in 0..self.b {
            for l in 1..=l_out {
                let rng = &mut rngs[s * l_out + l - 1];
                let n = w[l];
                for v in &mut ns.e[l - 1][s * n..(s + 1) * n] {
                    *v = T::of_f64(StandardNormal.sample(rng));
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
    }

    /// One step of `h` (in units of tau_z), in place. Leaves in `drive` max|dz/ds| per sample
    /// and in `ws` the activations and errors, both of the state before the step.
    fn step(&mut self, scheme: Scheme, h: T) {
        self.draw();
        self.integrate(scheme, h);
    }

    /// The step itself, on the standard normals already in the noise sample.
    fn integrate(&mut self, scheme: Scheme, h: T) {
        let circ = self.circ;
        let mut noise = self.noise.as_mut().map(|(ns, _)| ns);
        let (x, y) = (&self.x[..], &self.y[..]);
        let [k1, k2, k3, k4] = &mut self.k;
        let state = &mut self.state;
        let tmp = &mut self.tmp;
        circ.rhs(
            &mut self.ws,
            x,
            y,
            state,
            noise.as_deref_mut(),
            k1,
            &mut self.drive,
        );
        match scheme {
            Scheme::Euler => {
                for (s, &d) in state.iter_mut().zip(k1.iter()) {
                    *s += h * d;
                }
                self.evals += 1;
            }
            Scheme::Heun => {
                for ((t, &s), &d) in tmp.iter_mut().zip(state.iter()).zip(k1.iter()) {
                    *t = s + h * d;
                }
                circ.clamp(tmp);
                circ.rhs(&mut self.ws2, x, y, tmp, noise, k2, &mut self.drive_scratch);
                let half = h * T::of_f64(0.5);
                for ((s, &a), &b) in state.iter_mut().zip(k1.iter()).zip(k2.iter()) {
                    *s += half * (a + b);
                }
                self.evals += 2;
            }
            Scheme::Rk4 => {
                let half = h * T::of_f64(0.5);
                let ds = &mut self.drive_scratch;
                for ((t, &s), &d) in tmp.iter_mut().zip(state.iter()).zip(k1.iter()) {
                    *t = s + half * d;
                }
                circ.rhs(&mut self.ws2, x, y, tmp, None, k2, ds);
                for ((t, &s), &d) in tmp.iter_mut().zip(state.iter()).zip(k2.iter()) {
                    *t = s + half * d;
                }
                circ.rhs(&mut self.ws2, x, y, tmp, None, k3, ds);
                for ((t, &s), &d) in tmp.iter_mut().zip(state.iter()).zip(k3.iter()) {
                    *t = s + h * d;
                }
                circ.rhs(&mut self.ws2, x, y, tmp, None, k4, ds);
                let sixth = h / T::of_f64(6.0);
                let two = T::of_f64(2.0);
                for i in 0..state.len() {
                    state[i] += sixth * (k1[i] + two * (k2[i] + k3[i]) + k4[i]);
                }
                self.evals += 4;
            }
        }
        circ.clamp(state);
        self.steps += 1;
    }

    /// Evaluates the current state without stepping or noise (fills `ws` and `drive`).
    fn evaluate(&mut self) {
        let mut out = std::mem::take(&mut self.tmp);
        self.circ.rhs(
            &mut self.ws,
            &self.x,
            &self.y,
            &self.state,
            None,
            &mut out,
            &mut self.drive,
        );
        self.tmp = out;
        self.evals += 1;
    }

    /// The first value node beyond the divergence bound or not finite, as an error.
    fn check_divergence(&self, dt: f64) -> Result<(), SimError> {
        let z = self.value_nodes();
        match z
            .iter()
            .position(|v| v.to_f64().abs() > DIVERGENCE_BOUND || v.is_nan())
        {
            None => Ok(()),
            Some(k) => {
                let (layer, node, sample) = locate(&self.circ.widths, self.b, k);
                let t = self.steps as f64 * dt;
                Err(SimError::Diverged {
                    layer,
                    node,
                    sample: self.s0 + sample,
                    time_seconds: t,
                    tau_z: t / self.circ.tau_z_seconds,
                    value: z[k].to_f64(),
                })
            }
        }
    }

    fn value_nodes(&self) -> &[T] {
        &self.state[..self.n_values]
    }

    /// max|dz/ds| over the chunk's samples at the last first-stage evaluation (NaN wins).
    fn max_drive(&self) -> f64 {
        self.drive.iter().fold(0.0f64, |a, &d| {
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
    h: T,
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
            scheme: Scheme::Euler,
            dt_seconds,
            t_max_seconds: dt_seconds,
            settle_tol: 1e-3,
            steady_tol: 0.0,
            settle_window_seconds: dt_seconds,
            seed: 0,
            noise: true,
            trace_samples: 0,
            trace_points: 4,
            energy: None,
        };
        ManualStepper {
            chunk: Chunk::new(circ, &circ.pack(), x, y, 0, batch, &opts),
            h: T::of_f64(dt_seconds / circ.tau_z_seconds),
        }
    }

    /// The noise sample of the next step (`None` for a noise-free circuit): write its standard
    /// normals into `e` (per layer l = 1..L, the error nodes) and `z` (per hidden layer, the
    /// value nodes), each `n_l x batch` column-major.
    pub fn normals_mut(&mut self) -> Option<&mut NoiseSample<T>> {
        self.chunk.noise.as_mut().map(|(ns, _)| ns)
    }

    /// One step of `scheme` on the normals set by [`Self::normals_mut`].
    pub fn step(&mut self, scheme: Scheme) {
        if let Some((ns, _)) = self.chunk.noise.as_mut() {
            ns.scaled_e = false;
            ns.scaled_z = false;
        }
        self.chunk.integrate(scheme, self.h);
    }

    /// The state: value nodes (the layout of [`AnalogCircuit::value_layout`]), then the error
    /// nodes when they are dynamic.
    pub fn state(&self) -> &[T] {
        &self.chunk.state
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
    /// Per checkpoint, per layer: the traced samples' error-node outputs.
    e: Vec<Vec<Vec<f64>>>,
    traced: usize,
    /// Per state n: crossbar power (watts, summed over the chunk).
    power: Vec<ByLayer>,
    /// Per step n -> n + 1: capacitor energy (joules, summed over the chunk).
    capacitor: Vec<ByLayer>,
}

impl Recorder {
    fn new(cap: usize, traced: usize) -> Self {
        Recorder {
            cap: cap.max(4),
            stride: 1,
            steps: Vec::new(),
            z: Vec::new(),
            e: Vec::new(),
            traced,
            power: Vec::new(),
            capacitor: Vec::new(),
        }
    }

    /// Records state `n` (`z`) whose activations and errors are in `ws`; `z_next` is the state
    /// after the step (`None` at the end).
    #[allow(clippy::too_many_arguments)]
    fn observe<T: Real>(
        &mut self,
        circ: &AnalogCircuit<T>,
        model: Option<&EnergyModel>,
        layer_ranges: &[std::ops::Range<usize>],
        x: &[T],
        ws: &CircuitWorkspace<T>,
        n: usize,
        z: &[T],
        z_next: Option<&[T]>,
    ) {
        let l_out = circ.n_layers();
        if let Some(model) = model {
            let mut p = vec![[0.0; Component::COUNT]; l_out];
            model.add_crossbar_power(circ, x, &ws.phi, &ws.eps, &mut p);
            self.power.push(p);
            if let Some(zn) = z_next {
                let mut c = vec![[0.0; Component::COUNT]; l_out];
                model.add_capacitor_energy(layer_ranges, z, zn, &mut c);
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
                    ws.eps[l - 1][..w * self.traced]
                        .iter()
                        .map(|v| v.to_f64())
                        .collect()
                })
                .collect(),
        );
        // Thin out when full; the final state, recorded off the grid, is never dropped.
        if self.steps.len() >= self.cap && z_next.is_some() {
            let keep: Vec<usize> = (0..self.steps.len()).step_by(2).collect();
            self.steps = keep.iter().map(|&i| self.steps[i]).collect();
            self.z = keep
                .iter()
                .map(|&i| std::mem::take(&mut self.z[i]))
                .collect();
            self.e = keep
                .iter()
                .map(|&i| std::mem::take(&mut self.e[i]))
                .collect();
            self.stride *= 2;
        }
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
    let limit = crate::config::max_stable_step(tau_e_seconds);
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
    check_step(opts, circ.tau_e_seconds)?;
    if circ.n_layers() < 2 {
        return Err(SimError::Options(
            "the network has no hidden layer: nothing to integrate".into(),
        ));
    }
    let noisy = opts.noise && circ.noisy;
    if noisy && opts.scheme == Scheme::Rk4 {
        return Err(SimError::Options(
            "rk4 cannot integrate noise; use euler or heun".into(),
        ));
    }
    let dt = opts.dt_seconds;
    let h = T::of_f64(dt / circ.tau_z_seconds);
    let window_steps = ((opts.settle_window_seconds / dt).round() as usize).max(1);
    // t_max / dt can round to just below an integer (12000 steps of 2.5e-11 s give
    // 11999.999999999998): a relative slack of 1e-9 keeps a t_max of N steps at N steps.
    let n_max = (opts.t_max_seconds / dt * (1.0 + 1e-9)).floor() as usize;
    let starts: Vec<usize> = (0..batch).step_by(CHUNK).collect();
    let chunk_len = |s0: usize| CHUNK.min(batch - s0);
    let l_out = circ.n_layers();
    let traced_upto = opts.trace_samples.min(batch);
    let cap = opts.trace_points.max(4);

    let products = circ.pack();
    let start_chunk = |s0: usize, o: &SimOptions| -> ChunkRun<T> {
        let b = chunk_len(s0);
        let chunk = Chunk::new(circ, &products, x, y, s0, b, o);
        let z_prev = chunk.value_nodes().to_vec();
        let z0 = z_prev.iter().map(|v| v.to_f64()).collect();
        let traced = traced_upto.saturating_sub(s0).min(b);
        ChunkRun {
            chunk,
            rec: Recorder::new(cap, traced),
            z_prev,
            z0,
            window: None,
            steady: false,
            residual: f64::INFINITY,
        }
    };
    // One step of a recorded run: the state before it is observed with the step's own first
    // evaluation.
    let advance = |r: &mut ChunkRun<T>| {
        let n = r.chunk.steps;
        r.chunk.step(opts.scheme, h);
        r.rec.observe(
            circ,
            opts.energy.as_ref(),
            &r.chunk.layer_ranges,
            &r.chunk.x,
            &r.chunk.ws,
            n,
            &r.z_prev,
            Some(r.chunk.value_nodes()),
        );
        r.z_prev.copy_from_slice(r.chunk.value_nodes());
    };

    // ---- deterministic: one recorded run until steady; noisy: the noise-free circuit until
    // steady fixes the length, then the recorded SDE run.
    let quiet = SimOptions {
        noise: false,
        ..opts.clone()
    };
    let mut runs: Vec<ChunkRun<T>> = starts
        .par_iter()
        .map(|&s0| {
            let mut r = start_chunk(s0, &quiet);
            let mut unreported = 0;
            while r.chunk.steps < n_max {
                r.chunk.check_divergence(dt)?;
                if noisy {
                    r.chunk.step(opts.scheme, h);
                } else {
                    advance(&mut r);
                }
                unreported += 1;
                if unreported == 256 {
                    progress(1, unreported);
                    unreported = 0;
                }
                r.residual = r.chunk.max_drive();
                if r.residual < opts.steady_tol {
                    r.steady = true;
                    break;
                }
            }
            progress(1, unreported);
            r.chunk.check_divergence(dt)?;
            Ok(r)
        })
        .collect::<Result<_, SimError>>()?;
    let n_steady = runs.iter().map(|r| r.chunk.steps).max().unwrap_or(0);
    let steady = runs.iter().all(|r| r.steady);
    let residual = runs.iter().map(|r| r.residual).fold(0.0, f64::max);
    // A noisy run goes on for one trailing window after the noise-free circuit is steady.
    let n_end = if noisy {
        (n_steady + window_steps).min(n_max)
    } else {
        n_steady
    };
    let window_len = window_steps.min(n_end).max(1);
    runs = runs
        .into_par_iter()
        .map(|r| {
            let mut r = if noisy {
                let mut fresh = start_chunk(r.chunk.s0, opts);
                fresh.window = Some(Window::new(fresh.z0.len(), window_len));
                fresh.steady = r.steady;
                fresh.residual = r.residual;
                fresh
            } else {
                r
            };
            let mut unreported = 0;
            while r.chunk.steps < n_end {
                advance(&mut r);
                if let Some(w) = r.window.as_mut() {
                    if r.chunk.steps + w.steps > n_end {
                        w.push(r.chunk.value_nodes());
                    }
                }
                unreported += 1;
                if unreported == 256 {
                    progress(if noisy { 2 } else { 1 }, unreported);
                    unreported = 0;
                }
            }
            progress(if noisy { 2 } else { 1 }, unreported);
            r.chunk.check_divergence(dt)?;
            // The end state, observed with one evaluation without noise.
            r.chunk.evaluate();
            r.rec.observe(
                circ,
                opts.energy.as_ref(),
                &r.chunk.layer_ranges,
                &r.chunk.x,
                &r.chunk.ws,
                n_end,
                &r.z_prev,
                None,
            );
            Ok(r)
        })
        .collect::<Result<_, SimError>>()?;

    // ---- final values, rails, settling.
    let finals: Vec<(Vec<f64>, Vec<f64>)> = runs
        .iter()
        .map(|r| match &r.window {
            Some(w) => (w.mean.clone(), w.std.clone()),
            None => (
                r.chunk.value_nodes().iter().map(|v| v.to_f64()).collect(),
                vec![0.0; r.z0.len()],
            ),
        })
        .collect();
    if let Some(rail) = circ.rail {
        let rail = rail.to_f64();
        for (&s0, (zf, _)) in starts.iter().zip(&finals) {
            if let Some(k) = zf.iter().position(|v| v.abs() >= rail * (1.0 - 1e-9)) {
                let (layer, node, sample) = locate(&circ.widths, chunk_len(s0), k);
                let t = n_end as f64 * dt;
                return Err(SimError::Rail {
                    what: "value node of layer",
                    layer,
                    node,
                    sample: s0 + sample,
                    time_seconds: t,
                    tau_z: t / circ.tau_z_seconds,
                    value: zf[k] * circ.v_read_volts,
                });
            }
        }
    }
    let mut settling = Vec::with_capacity(batch);
    for (r, (zf, sd)) in runs.iter().zip(&finals) {
        let b = r.chunk.b;
        let rg = ranges(&circ.widths, b, &r.z0, zf);
        let band = bands(&circ.widths, b, &rg, sd, opts.settle_tol, noisy);
        settling.extend(settle_times(&circ.widths, b, &r.rec, zf, &band, dt));
    }
    let worst = settling.iter().map(|s| s.time_seconds).fold(0.0, f64::max);
    let window_seconds = if steady { worst } else { n_end as f64 * dt };

    let full = circ.value_layout(batch);
    let mut final_z = vec![0.0; full.len()];
    let mut final_z_std = vec![0.0; full.len()];
    for (&s0, (zf, sd)) in starts.iter().zip(&finals) {
        let b = chunk_len(s0);
        let part = circ.value_layout(b);
        for l in 1..l_out {
            let n = circ.widths[l];
            let dst = full.range(l).start + s0 * n;
            final_z[dst..dst + n * b].copy_from_slice(&zf[part.range(l)]);
            final_z_std[dst..dst + n * b].copy_from_slice(&sd[part.range(l)]);
        }
    }
    // The error outputs at the final values (no noise).
    let final_e = {
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
    };
    let energy = opts
        .energy
        .as_ref()
        .map(|model| window_energy(model, &runs, batch, l_out, dt, window_seconds));
    let traces = assemble_traces(circ, opts, batch, n_end, dt, &runs);
    Ok(Simulation {
        batch,
        steps: n_end,
        t_end_seconds: n_end as f64 * dt,
        dt_seconds: dt,
        evaluations: runs.iter().map(|r| r.chunk.evals).sum(),
        steady,
        residual,
        final_z,
        final_e,
        final_z_std,
        settling,
        window_seconds,
        energy,
        traces,
    })
}

/// Each sample's settling time from the checkpoints: the last checkpoint where a node is
/// outside its band, refined by linear interpolation to where that node re-enters it.
fn settle_times(
    widths: &[usize],
    b: usize,
    rec: &Recorder,
    zf: &[f64],
    band: &[f64],
    dt: f64,
) -> Vec<SampleSettling> {
    let mut last: Vec<Option<usize>> = vec![None; b];
    for (c, z) in rec.z.iter().enumerate() {
        for (k, ((&v, &f), &bd)) in z.iter().zip(zf).zip(band).enumerate() {
            if (v - f).abs() > bd {
                last[locate(widths, b, k).2] = Some(c);
            }
        }
    }
    let hidden_len = zf.len() / b.max(1);
    let _ = hidden_len;
    (0..b)
        .map(|s| match last[s] {
            None => SampleSettling {
                time_seconds: 0.0,
                steps: 0,
            },
            Some(c) if c + 1 >= rec.steps.len() => {
                let n = rec.steps[c];
                SampleSettling {
                    time_seconds: n as f64 * dt,
                    steps: n,
                }
            }
            Some(c) => {
                // The latest re-entry, over the sample's nodes outside at checkpoint c.
                let (z0, z1) = (&rec.z[c], &rec.z[c + 1]);
                let (t0, t1) = (rec.steps[c] as f64, rec.steps[c + 1] as f64);
                let mut t = t0;
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
                    t = t.max(t0 + frac * (t1 - t0));
                }
                SampleSettling {
                    time_seconds: t * dt,
                    steps: t.ceil() as usize,
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
    dt: f64,
    window: f64,
) -> ByLayer {
    let mut e = vec![[0.0; Component::COUNT]; l_out];
    let steps = window / dt;
    let whole = steps.floor() as usize;
    let frac = steps - whole as f64;
    for r in runs {
        let p = &r.rec.power;
        let cap = &r.rec.capacitor;
        for n in 0..whole.min(cap.len()) {
            for l in 0..l_out {
                for c in 0..Component::COUNT {
                    e[l][c] += 0.5 * dt * (p[n][l][c] + p[n + 1][l][c]) + cap[n][l][c];
                }
            }
        }
        if frac > 0.0 && whole < cap.len() {
            for l in 0..l_out {
                for c in 0..Component::COUNT {
                    // Power at the window's end, interpolated along the partial step.
                    let pe = p[whole][l][c] + frac * (p[whole + 1][l][c] - p[whole][l][c]);
                    e[l][c] += 0.5 * frac * dt * (p[whole][l][c] + pe) + frac * cap[whole][l][c];
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
    n_end: usize,
    dt: f64,
    runs: &[ChunkRun<'_, T>],
) -> Traces {
    let l_out = circ.n_layers();
    let steps = runs
        .first()
        .map(|r| r.rec.steps.clone())
        .unwrap_or_default();
    let _ = n_end;
    let traced: Vec<&ChunkRun<T>> = runs.iter().filter(|r| r.rec.traced > 0).collect();
    let samples: Vec<usize> = traced
        .iter()
        .flat_map(|r| r.chunk.s0..r.chunk.s0 + r.rec.traced)
        .collect();
    let mut t = Traces {
        time_seconds: steps.iter().map(|&n| n as f64 * dt).collect(),
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
                v.extend_from_slice(&r.rec.e[p][l - 1]);
            }
        }
        t.e.push(v);
    }
    if let Some(model) = &opts.energy {
        let stat = model.static_power();
        let stat_total: Vec<f64> = stat.iter().map(|l| l.iter().sum::<f64>()).collect();
        let mut cumulative = vec![0.0; l_out];
        let mut last = 0usize;
        for &n in &steps {
            for j in last..n {
                for r in runs {
                    let (p, c) = (&r.rec.power, &r.rec.capacitor);
                    for l in 0..l_out {
                        let a: f64 = p[j][l].iter().sum();
                        let b: f64 = p[j + 1][l].iter().sum();
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
                    if let Some(cap) = r.rec.capacitor.get(n) {
                        pw[Component::Capacitors.index()] +=
                            cap[l][Component::Capacitors.index()] / dt;
                    }
                }
            }
            for l in 0..l_out {
                for c in 0..Component::COUNT {
                    pw[c] += stat[l][c] * batch as f64;
                }
            }
            t.power_watts.push(pw);
            t.energy_joules.push(cumulative.clone());
        }
    }
    t
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
    let h = T::of_f64(opts.dt_seconds / circ.tau_z_seconds);
    let starts: Vec<usize> = (0..batch).step_by(CHUNK).collect();
    let products = circ.pack();
    let out: Vec<(Vec<T>, usize)> = starts
        .par_iter()
        .map(|&s0| {
            let mut c = Chunk::new(circ, &products, x, y, s0, CHUNK.min(batch - s0), opts);
            for _ in 0..steps {
                c.step(opts.scheme, h);
            }
            (c.state, c.evals)
        })
        .collect();
    let evals = out.iter().map(|o| o.1).sum();
    (out.into_iter().map(|o| o.0).collect(), evals)
}
