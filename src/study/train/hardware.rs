//! The learners on hardware: the network's weights held as differential conductance pairs,
//! each step's inference and products read through them, and each update written into them by
//! the design's update scheme and device physics ([`crate::hardware::update`]).
//!
//! Mapping for training: layer l's a_l W is held as G+ - G- = kappa_l a_l W with both devices
//! about the middle of the window, G± = g_mid ± kappa_l a_l W / 2, and kappa_l maps the
//! largest initial |a_l W| onto half the window: a weight can double before a device reaches a
//! bound, and both devices of a pair can be potentiated and depressed from the start (the
//! inference mapping, which parks the idle device at g_min, would clip every depression of it).
//! Arrays are held `in x out` (rows driven by the layer's input) forward and `out x in`
//! (rows driven by the error) for a separate backward read, as in
//! [`crate::hardware::mapping`]; their effective matrices go through the crossbar's wire model.
//!
//! PC's update of layer l, dW = lr (a_l lambda_l / B) sum_i e_{l,i} phi(z_{l-1,i})^T, is
//! written sample by sample as B outer products of the values at the array's edges (phi
//! through the rows, e through the columns; both read by the ADC), in conductance
//! dG = lr kappa_l a_l^2 lambda_l / B phi e^T. BP's, dW = -lr a_l sum_i delta_{l,i} x_i^T,
//! the same way from the deltas its backward read propagates.

use super::aging::{noisy_read, PairDrift};
use super::cost::{step_cost, HwArrays, Measured, Probe, SampleCost, StepCost, SAMPLE_COST_ROW};
use super::learner::{Learner, StepReport};
use super::state::{entry, LearnerState};
use super::step::{finite_loss, network_at, StepError};
use crate::analog::Simulation;
use crate::config::TrainInference;
use crate::dynamics::{infer, InferenceOptions};
use crate::hardware::mapping::{tiled, DifferentialArray};
use crate::hardware::params::{Converter, CrossbarParams, DeviceParams};
use crate::hardware::update::{PulsedPair, Scheme, UpdateDesign, UpdateSetup, UpdateStats};
use crate::network::{alignment, Architecture, Batch, Network};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Fraction of the window the largest initial |a_l W| spans (see the module documentation).
pub const INITIAL_SPAN: f64 = 0.5;

/// The hardware a learner runs on.
#[derive(Clone, Debug)]
pub struct Substrate {
    pub device: DeviceParams,
    pub crossbar: CrossbarParams,
    pub update: UpdateDesign,
    pub dac: Converter,
    pub adc: Converter,
    /// `periphery.error_ranging = "per_layer"`: each layer's errors (PC) or deltas (BP) are read
    /// behind the binary gain their batch's largest magnitude sets.
    pub error_ranging: bool,
    pub seed: u64,
}

impl Substrate {
    /// One layer's errors or deltas of a mini-batch as the ADC reads them.
    fn read_errors(&self, e: &mut [f64]) {
        if self.error_ranging {
            self.adc.convert_all_gain_ranged(e);
        } else {
            self.adc.convert_all(e);
        }
    }
}

/// One layer's arrays.
#[derive(Clone, Debug)]
struct HwLayer {
    /// Conductance per unit of a_l W.
    kappa: f64,
    forward: PulsedPair,
    backward: Option<PulsedPair>,
    /// The drift exponents of the forward and backward arrays' devices.
    drift: (PairDrift, Option<PairDrift>),
}

impl HwLayer {
    /// The layer's arrays, named (`forward`, `backward`), with their devices' drift exponents.
    fn arrays(&self) -> Vec<(&'static str, &PulsedPair, &PairDrift)> {
        let mut v = vec![("forward", &self.forward, &self.drift.0)];
        if let (Some(p), Some(d)) = (&self.backward, &self.drift.1) {
            v.push(("backward", p, d));
        }
        v
    }

    fn arrays_mut(&mut self) -> Vec<(&'static str, &mut PulsedPair, &PairDrift)> {
        let mut v = vec![("forward", &mut self.forward, &self.drift.0)];
        if let (Some(p), Some(d)) = (&mut self.backward, &self.drift.1) {
            v.push(("backward", p, d));
        }
        v
    }
}

/// The names of the G+ and G- of array `side` of layer index `l` in a [`LearnerState`].
fn state_keys(l: usize, side: &str) -> [String; 2] {
    [
        format!("layer{l}/{side}/plus"),
        format!("layer{l}/{side}/minus"),
    ]
}

/// Which rule writes the updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Pc,
    Bp,
}

/// PC or BP on the substrate.
#[derive(Clone)]
pub struct HardwareLearner {
    pub rule: Rule,
    pub lr: f64,
    pub inference: InferenceOptions,
    sub: Substrate,
    layers: Vec<HwLayer>,
    /// The effective network (forward and backward reads) of the conductances now held.
    net: Network<f64>,
    /// Pulses, refreshes, energy and time of every update so far.
    pub updates: UpdateStats,
    /// Measures the inference by the physical transient (`None`: no energy or time kept).
    pub probe: Option<Probe>,
    /// Seconds between two steps on the devices' drift clock (0: no drift or read noise
    /// between steps; [`super::aging`]).
    pub step_interval: f64,
}

impl HardwareLearner {
    /// `net` programmed onto the substrate with the training mapping.
    pub fn new(
        rule: Rule,
        net: &Network<f64>,
        sub: Substrate,
        lr: f64,
        inference: InferenceOptions,
    ) -> Result<Self, StepError> {
        let (g_min, g_max) = (sub.device.g_min_siemens, sub.device.g_max_siemens);
        let g_mid = 0.5 * (g_min + g_max);
        let separate = sub.crossbar.backward == crate::hardware::params::Backward::Separate;
        let mut layers = Vec::new();
        for (idx, w) in net.weights().iter().enumerate() {
            let scaled = w * net.scalings()[idx];
            let m = scaled.amax();
            let kappa = if m > 0.0 {
                INITIAL_SPAN * (g_max - g_min) / m
            } else {
                1.0
            };
            let pair = |target: &DMatrix<f64>, id: u64| {
                let d = DifferentialArray {
                    plus: sub.device.program(
                        &target.map(|v| g_mid + 0.5 * kappa * v),
                        sub.seed,
                        id,
                    ),
                    minus: sub.device.program(
                        &target.map(|v| g_mid - 0.5 * kappa * v),
                        sub.seed,
                        id + 1,
                    ),
                };
                let p = PulsedPair::from_differential(&sub.update.params, &d, sub.seed, id / 2);
                (p, PairDrift::of(&d))
            };
            let id = 4 * idx as u64;
            let (forward, forward_drift) = pair(&scaled.transpose(), id);
            let (backward, backward_drift) = match separate.then(|| pair(&scaled, id + 2)) {
                Some((p, d)) => (Some(p), Some(d)),
                None => (None, None),
            };
            layers.push(HwLayer {
                kappa,
                forward,
                backward,
                drift: (forward_drift, backward_drift),
            });
        }
        let mut learner = HardwareLearner {
            rule,
            lr,
            inference,
            sub,
            layers,
            net: net.clone(),
            updates: UpdateStats::default(),
            probe: None,
            step_interval: 0.0,
        };
        learner.net = learner.read_at(net, 0)?;
        Ok(learner)
    }

    /// The arrays held, per layer.
    pub fn arrays(&self) -> HwArrays<'_> {
        self.layers
            .iter()
            .map(|h| (h.kappa, &h.forward, h.backward.as_ref()))
            .collect()
    }
}

/// The effective weights of a pair read with its rows driven, in the `rows x cols` layout.
fn read(p: &PulsedPair, crossbar: &CrossbarParams, scale: f64) -> Result<DMatrix<f64>, String> {
    let model = crate::hardware::mapping::wire_model(crossbar);
    let plus = DMatrix::from_row_slice(p.rows, p.cols, &p.plus);
    let minus = DMatrix::from_row_slice(p.rows, p.cols, &p.minus);
    let (ep, em) = rayon::join(
        || tiled(&plus, crossbar.rows, crossbar.cols, &model),
        || tiled(&minus, crossbar.rows, crossbar.cols, &model),
    );
    Ok((ep? - em?) / scale)
}

/// The network the conductances apply (forward read, and backward read when separate).
fn effective(
    arch: &Architecture,
    scalings: &[f64],
    layers: &[HwLayer],
    sub: &Substrate,
    (step, t_read): (usize, f64),
    rule: &'static str,
) -> Result<Network<f64>, StepError> {
    let diverged = |what: String| StepError::Diverged { step, rule, what };
    let read_now =
        |p: &PulsedPair, scale: f64| match noisy_read(p, &sub.device, t_read, sub.seed, step) {
            Some(noisy) => read(&noisy, &sub.crossbar, scale),
            None => read(p, &sub.crossbar, scale),
        };
    let separate = layers.iter().any(|h| h.backward.is_some());
    // Every array's wire solve at once (each its own network: the order does not matter).
    let arrays: Vec<(usize, &PulsedPair, f64)> = layers
        .iter()
        .zip(scalings)
        .enumerate()
        .flat_map(|(l, (h, &a))| {
            std::iter::once((l, &h.forward, h.kappa * a))
                .chain(h.backward.as_ref().map(|p| (l, p, h.kappa * a)))
        })
        .collect();
    let reads: Vec<Result<DMatrix<f64>, String>> = arrays
        .par_iter()
        .map(|&(_, p, scale)| read_now(p, scale))
        .collect();
    let mut fwd: Vec<DMatrix<f64>> = Vec::new();
    let mut bwd: Vec<DMatrix<f64>> = Vec::new();
    for (&(l, p, _), m) in arrays.iter().zip(reads) {
        let m = m.map_err(|m| diverged(format!("layer {}: {m}", l + 1)))?;
        if std::ptr::eq(p, &layers[l].forward) {
            fwd.push(m.transpose());
        } else {
            bwd.push(m);
        }
    }
    if !separate {
        bwd = fwd.clone();
    }
    let net = network_at(arch, fwd, step, rule)?;
    net.with_feedback(bwd).map_err(|e| diverged(e.to_string()))
}

/// Per layer l (index l-1): the values driving the rows of the forward array (the layer's
/// input: x, or phi(z_{l-1})) and its columns (the signal d whose outer product with it is the
/// change of a_l W, per unit of lr and kappa_l a_l), `n x B` column-major each.
type EdgeValues = Vec<(Vec<f64>, Vec<f64>)>;

/// PC's edge values at the equilibrium `z` of `net` on `batch`: x or phi(z) and
/// (a_l lambda_l / B) e_l, errors and activations read by the ADC.
fn pc_edges(net: &Network<f64>, batch: &Batch<f64>, z: &[f64], sub: &Substrate) -> EdgeValues {
    let mut ws = net.workspace(batch.size());
    net.compute_errors(batch.x.as_slice(), batch.y.as_slice(), z, &mut ws);
    edges_at(net, batch, (z, ws.errors()), sub)
}

/// PC's edge values at the value nodes `z` with the errors `errors` (per layer, `n_l x B`).
fn edges_at(
    net: &Network<f64>,
    batch: &Batch<f64>,
    (z, errors): (&[f64], &[Vec<f64>]),
    sub: &Substrate,
) -> EdgeValues {
    let b = batch.size();
    let lay = net.layout(b);
    let n_layers = net.n_layers();
    (1..=n_layers)
        .map(|l| {
            let input = if l == 1 {
                batch.x.as_slice().to_vec()
            } else {
                let mut phi = vec![0.0; lay.range(l - 1).len()];
                net.activation().apply(&z[lay.range(l - 1)], &mut phi, None);
                sub.adc.convert_all(&mut phi);
                phi
            };
            let lam = if l == n_layers {
                net.architecture().output_precision
            } else {
                1.0
            };
            let coef = net.scalings()[l - 1] * lam / b as f64;
            let mut e = errors[l - 1].clone();
            sub.read_errors(&mut e);
            e.iter_mut().for_each(|v| *v *= coef);
            (input, e)
        })
        .collect()
}

/// BP's edge values on `net`: the feedforward inputs of each layer and -a_l delta_l, the
/// deltas propagated through the backward reads; activations and deltas read by the ADC as
/// PC's are (a delta per sample, without the 1 / B of the mean).
fn bp_edges(net: &Network<f64>, batch: &Batch<f64>, sub: &Substrate) -> EdgeValues {
    let b = batch.size();
    let (z, yhat) = net.feedforward(batch.x.as_slice(), b);
    let lay = net.layout(b);
    let n_layers = net.n_layers();
    let arch = net.architecture();
    let col = |v: &[f64], n: usize| DMatrix::from_column_slice(n, b, v);
    let mut delta =
        (col(&yhat, arch.widths[n_layers]) - &batch.y) * (arch.output_precision / b as f64);
    let mut edges = vec![(Vec::new(), Vec::new()); n_layers];
    for l in (1..=n_layers).rev() {
        let a = net.scalings()[l - 1];
        let (input, dphi) = if l == 1 {
            (batch.x.clone(), None)
        } else {
            let zl = &z[lay.range(l - 1)];
            let (mut phi, mut d) = (vec![0.0; zl.len()], vec![0.0; zl.len()]);
            net.activation().apply(zl, &mut phi, Some(&mut d));
            sub.adc.convert_all(&mut phi);
            (
                col(&phi, arch.widths[l - 1]),
                Some(col(&d, arch.widths[l - 1])),
            )
        };
        let mut read = &delta * -a;
        if sub.adc.bits.is_some() {
            let per_sample = b as f64 / (arch.output_precision * a);
            read *= per_sample;
            sub.read_errors(read.as_mut_slice());
            read /= per_sample;
        }
        edges[l - 1] = (input.as_slice().to_vec(), read.as_slice().to_vec());
        if let Some(d) = dphi {
            let back = net.feedback_weights()[l - 1].transpose() * &delta * a;
            let mut next = back.component_mul(&d);
            if arch.has_skip(l) {
                next += &delta;
            }
            delta = next;
        }
    }
    edges
}

impl HardwareLearner {
    /// The network the conductances now held apply when step `step` reads them (`net`: one of
    /// the same architecture).
    fn read_at(&self, net: &Network<f64>, step: usize) -> Result<Network<f64>, StepError> {
        let t = step as f64 * self.step_interval;
        let (arch, scalings) = (net.architecture(), net.scalings());
        effective(
            arch,
            scalings,
            &self.layers,
            &self.sub,
            (step, t),
            self.name(),
        )
    }

    /// The drift of every device from step `step`'s read to the next step's.
    fn age(&mut self, step: usize) {
        if self.step_interval <= 0.0 {
            return;
        }
        let (t0, t1) = (
            step as f64 * self.step_interval,
            (step + 1) as f64 * self.step_interval,
        );
        for h in &mut self.layers {
            for (_, p, d) in h.arrays_mut() {
                d.drift(p, &self.sub.device, t0, t1);
            }
        }
    }

    /// The drift exponents of every device, named as [`Learner::state`] names the
    /// conductances (`layer{l}/{forward,backward}/{plus,minus}`).
    pub fn drift_exponents(&self) -> LearnerState {
        let mut out = Vec::new();
        for (l, h) in self.layers.iter().enumerate() {
            for (side, _, d) in h.arrays() {
                let [plus, minus] = state_keys(l, side);
                out.extend([(plus, d.nu_plus.clone()), (minus, d.nu_minus.clone())]);
            }
        }
        out
    }

    /// Refuses an update whose deterministic pulse trains run away: one sample asking a device
    /// for more pulses than cross its whole conductance window (n dw_min > g_max - g_min, with
    /// n = round(|dG| / step of the pair)). Such a learning rate cannot be followed by the
    /// devices, and its pulse counts grow with it without bound (the stochastic scheme's
    /// are bounded by BL). Checked on every array before any is written.
    fn check_pulse_counts(
        &self,
        edges: &EdgeValues,
        batch: usize,
        step: usize,
    ) -> Result<(), StepError> {
        let params = &self.sub.update.params;
        if self.sub.update.scheme != Scheme::Deterministic {
            return Ok(());
        }
        let window = params.g_max_siemens - params.g_min_siemens;
        let amax = |v: &[f64]| v.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        for (l, ((h, (input, d)), &a)) in self
            .layers
            .iter()
            .zip(edges)
            .zip(self.net.scalings())
            .enumerate()
        {
            let (n_in, n_out) = (h.forward.rows, h.forward.cols);
            let lr = self.lr * h.kappa * a;
            for s in 0..batch {
                let dg = lr
                    * amax(&input[s * n_in..(s + 1) * n_in])
                    * amax(&d[s * n_out..(s + 1) * n_out]);
                let pulses = (dg / params.pair_step_siemens()).round();
                if pulses * params.dw_min_siemens > window {
                    return Err(StepError::Diverged {
                        step,
                        rule: self.name(),
                        what: format!(
                            "layer {}: sample {s}'s update asks a device for {pulses:e} \
                             deterministic pulses of {:e} S (|dG| = {dg:e} S), more than cross \
                             its whole window of {window:e} S: the learning rate is too large \
                             for the devices",
                            l + 1,
                            params.dw_min_siemens,
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes lr x d^T of every sample into every array of every layer; returns the writes'
    /// duration: per sample the longest array's (all are written at once), samples in turn.
    fn write(&mut self, edges: &EdgeValues, batch: usize, step: usize) -> f64 {
        let setup = UpdateSetup {
            params: &self.sub.update.params,
            scheme: self.sub.update.scheme,
            device: &self.sub.device,
            seed: self.sub.seed,
        };
        let mut longest = vec![0.0f64; batch];
        for ((h, (input, d)), &a) in self.layers.iter_mut().zip(edges).zip(self.net.scalings()) {
            let (n_in, n_out) = (h.forward.rows, h.forward.cols);
            let lr = self.lr * h.kappa * a;
            for s in 0..batch {
                let x = &input[s * n_in..(s + 1) * n_in];
                let e = &d[s * n_out..(s + 1) * n_out];
                let id = (step as u64) << 24 | s as u64;
                let f = h.forward.update(&setup, x, e, lr, id);
                longest[s] = longest[s].max(f.duration_seconds);
                add(&mut self.updates, f);
                if let Some(p) = &mut h.backward {
                    let b = p.update(&setup, e, x, lr, id);
                    longest[s] = longest[s].max(b.duration_seconds);
                    add(&mut self.updates, b);
                }
            }
        }
        longest.iter().sum()
    }

    /// The transient (PC) or the forward and backward reads (BP) of this step, when the probe
    /// is due.
    fn measure(&self, hw_batch: &Batch<f64>, step: usize) -> Result<Option<Measured>, StepError> {
        match self.probe.as_ref().filter(|p| p.due(step)) {
            Some(p) => {
                let relax = self.rule == Rule::Pc;
                Ok(Some(p.measure(
                    (&self.net, &self.arrays()),
                    hw_batch,
                    step,
                    relax,
                )?))
            }
            None => Ok(None),
        }
    }

    /// The edge values of the step's update, F at PC's equilibrium and the inference's
    /// iterations: PC from the settled transient `settled` in `transient` mode, else from
    /// Newton's equilibrium; BP from its feedforward and backward reads.
    fn edges(
        &self,
        hw_batch: &Batch<f64>,
        step: usize,
        settled: Option<&Simulation>,
    ) -> Result<(EdgeValues, f64, usize), StepError> {
        let transient = self
            .probe
            .as_ref()
            .is_some_and(|p| p.mode == TrainInference::Transient);
        match (self.rule, settled.filter(|_| transient)) {
            (Rule::Pc, Some(sim)) => Ok((
                edges_at(&self.net, hw_batch, (&sim.final_z, &sim.final_e), &self.sub),
                self.net.energy(hw_batch, &sim.final_z),
                sim.steps,
            )),
            (Rule::Pc, None) => {
                let inf = infer(&self.net, hw_batch, &self.inference)
                    .map_err(|source| StepError::Inference { step, source })?;
                let energy = self.net.energy(hw_batch, &inf.z);
                Ok((
                    pc_edges(&self.net, hw_batch, &inf.z, &self.sub),
                    energy,
                    inf.steps,
                ))
            }
            (Rule::Bp, _) => Ok((bp_edges(&self.net, hw_batch, &self.sub), f64::NAN, 0)),
        }
    }

    /// The step's cost: its inference at the fresh measurement `fresh` or the last one, and
    /// the update since `before`, written in `write_seconds`.
    fn cost(
        &mut self,
        fresh: Option<SampleCost>,
        before: UpdateStats,
        write_seconds: f64,
        batch: usize,
    ) -> Option<StepCost> {
        let p = self.probe.as_mut()?;
        if fresh.is_some() {
            p.last = fresh;
        }
        let (u, prices) = (&self.updates, &self.sub.update.params);
        Some(step_cost(
            p.last?,
            batch,
            (
                u.pulses - before.pulses,
                u.refresh_pulses - before.refresh_pulses,
                write_seconds,
            ),
            (prices.pulse_energy_joules, prices.pulse_width_seconds),
            fresh.is_some(),
        ))
    }
}

fn add(total: &mut UpdateStats, s: UpdateStats) {
    total.coincidences += s.coincidences;
    total.pulses += s.pulses;
    total.refreshes += s.refreshes;
    total.refresh_pulses += s.refresh_pulses;
    total.energy_joules += s.energy_joules;
    total.duration_seconds += s.duration_seconds;
}

impl Learner for HardwareLearner {
    fn name(&self) -> &'static str {
        match self.rule {
            Rule::Pc => "pc_hardware",
            Rule::Bp => "bp_hardware",
        }
    }

    fn step(&mut self, batch: &Batch<f64>, step: usize) -> Result<StepReport, StepError> {
        let mut hw_batch = batch.clone();
        self.sub.dac.convert_all(hw_batch.x.as_mut_slice());
        let (loss, bp) = self.net.bp_gradients(&hw_batch);
        let loss = finite_loss(loss, &self.net, step, self.name())?;
        let measured = self.measure(&hw_batch, step)?;
        let (edges, energy, inference_steps) = self.edges(
            &hw_batch,
            step,
            measured.as_ref().and_then(|m| m.sim.as_ref()),
        )?;
        // The update written, per unit lr, as a gradient: -sum_i d_i x_i^T.
        let applied: Vec<DMatrix<f64>> = edges
            .iter()
            .zip(self.net.weights())
            .map(|((x, d), w)| {
                let (o, i) = w.shape();
                let xm = DMatrix::from_column_slice(i, batch.size(), x);
                let dm = DMatrix::from_column_slice(o, batch.size(), d);
                -(dm * xm.transpose())
            })
            .collect();
        self.check_pulse_counts(&edges, batch.size(), step)?;
        let before = self.updates;
        let write_seconds = self.write(&edges, batch.size(), step);
        let cost = self.cost(
            measured.map(|m| m.sample),
            before,
            write_seconds,
            batch.size(),
        );
        let report = StepReport {
            loss,
            energy,
            alignment: alignment(&applied, &bp),
            inference_steps,
            cost,
        };
        self.age(step);
        self.net = self.read_at(&self.net, step + 1)?;
        Ok(report)
    }

    fn network(&self) -> &Network<f64> {
        &self.net
    }

    fn update_stats(&self) -> Option<UpdateStats> {
        Some(self.updates)
    }

    fn conductances(&self) -> Option<Vec<f64>> {
        let pairs = self.arrays();
        let all = pairs
            .iter()
            .flat_map(|&(_, f, b)| std::iter::once(f).chain(b));
        Some(
            all.flat_map(|p| p.plus.iter().chain(&p.minus).copied())
                .collect(),
        )
    }

    fn state(&self) -> LearnerState {
        let mut state = Vec::new();
        for (l, h) in self.layers.iter().enumerate() {
            for (side, p, _) in h.arrays() {
                let [plus, minus] = state_keys(l, side);
                state.extend([(plus, p.plus.clone()), (minus, p.minus.clone())]);
            }
        }
        let u = &self.updates;
        let counts = [u.coincidences, u.pulses, u.refreshes, u.refresh_pulses];
        let mut totals: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        totals.extend([u.energy_joules, u.duration_seconds, f64::from(u.bl)]);
        state.push(("updates".into(), totals));
        // The last transient's per-sample cost, which the steps until the next one carry.
        if let Some(last) = self.probe.as_ref().and_then(|p| p.last) {
            state.push(("probe_last".into(), last.to_row()));
        }
        state
    }

    fn restore(&mut self, state: &LearnerState, step: usize) -> Result<(), String> {
        for (l, h) in self.layers.iter_mut().enumerate() {
            for (side, p, _) in h.arrays_mut() {
                let [plus, minus] = state_keys(l, side);
                let n = p.plus.len();
                p.plus = entry(state, &plus, n)?.to_vec();
                p.minus = entry(state, &minus, n)?.to_vec();
            }
        }
        let u = entry(state, "updates", 7)?;
        self.updates = UpdateStats {
            coincidences: u[0] as u64,
            pulses: u[1] as u64,
            refreshes: u[2] as u64,
            refresh_pulses: u[3] as u64,
            energy_joules: u[4],
            duration_seconds: u[5],
            bl: u[6] as u32,
        };
        if let Some(p) = self.probe.as_mut() {
            p.last = match state.iter().find(|(k, _)| k == "probe_last") {
                Some((_, row)) if row.len() == SAMPLE_COST_ROW => SampleCost::from_row(row),
                Some(_) => return Err("probe_last: not a per-sample cost".into()),
                None => None,
            };
        }
        self.net = self.read_at(&self.net, step).map_err(|e| e.to_string())?;
        Ok(())
    }
}
