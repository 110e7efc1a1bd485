//! The analog PC circuit's right-hand side (docs/circuit-model.md): value nodes integrated with
//! tau_z, error nodes with tau_e (or algebraic), crossbar products through the effective forward
//! and backward matrices, TIAs with finite gain and offsets, rails, and the white-noise inputs
//! of every amplifier. It knows nothing of time stepping: an integrator hands it a state and a
//! noise sample and gets the derivatives back.
//!
//! Time inside is dimensionless, s = t / tau_z: the value nodes obey dz/ds = drive, the error
//! nodes de/ds = (tau_z / tau_e) (eps - e). With tau_e = 0 and no offsets, noise, rails or
//! finite gain, dz/ds is exactly the core's gradient flow -dE/dz.

use super::amplifier::IntegratorLeak;
use super::flicker::{FlickerCoefficients, FlickerInputs};
use super::poles::{self, AmplifierPoles, LagRates};
use crate::config::Circuit;
use crate::hardware::mapping::{LayerMapping, MappedNetwork};
use crate::hardware::params::Backward;
use crate::hardware::periphery::amplifier_offsets;
use crate::network::{Activation, Layout, Network};
use crate::numeric::{gemm, gemm_packed, MatMut, MatRef, PackedMat, Real};
use nalgebra::DMatrix;
use std::sync::Arc;

pub use crate::hardware::params::BOLTZMANN;

/// One weight layer l (1-based) of the circuit, with everything its periphery adds.
#[derive(Clone, Debug)]
pub struct LayerCircuit<T: Real> {
    pub inputs: usize,
    pub outputs: usize,
    /// s_l: the layer adds z_{l-1} to its prediction.
    pub skip: bool,
    /// Forward product, `outputs x inputs`: c^f ⊙ a_l W^f (rows scaled by the TIAs' gain factor).
    pub forward: DMatrix<T>,
    /// Backward product for l >= 2, `outputs x inputs`, used transposed: q_{l-1} = B^T e_l with
    /// B = a_l lambda_l W^b, columns scaled by the backward TIAs' gain factor.
    pub backward: Option<DMatrix<T>>,
    /// lambda_l (output precision on the last layer).
    pub precision: T,
    /// Output offsets (node units): forward TIAs, error amplifiers.
    pub offset_forward: Vec<T>,
    pub offset_error: Vec<T>,
    /// Backward TIAs (length `inputs`, l >= 2) and integrators of z_l (length `outputs`, l < L).
    pub offset_backward: Vec<T>,
    pub offset_integrator: Vec<T>,
    /// One-sided noise densities (node units^2 / Hz) entering the error node (forward TIA and
    /// error amplifier, state-independent part) and the integrator of z_l.
    pub noise_error: Vec<f64>,
    pub noise_integrator: Vec<f64>,
    /// Backward TIA density (length `inputs`, l >= 2), multiplied by phi'(z_{l-1})^2.
    pub noise_backward: Vec<f64>,
    /// Relative read noise: densities per unit phi^2 (forward, `outputs x inputs`) and per unit
    /// (lambda e)^2 (backward, `outputs x inputs`, used transposed).
    pub relative_forward: Option<DMatrix<T>>,
    pub relative_backward: Option<DMatrix<T>>,
    /// Total device conductance on each driven line (siemens): forward rows (length `inputs`)
    /// and backward lines (length `outputs`), for the Joule heat.
    pub row_conductance_forward: Vec<f64>,
    pub line_conductance_backward: Vec<f64>,
    /// The TIAs' feedback resistance R_f (infinite for an ideal circuit: no line current).
    pub feedback_resistance_ohms: f64,
    /// The amplifiers' 1/f noise, when they have any.
    pub flicker: Option<FlickerCoefficients>,
    /// Time constants (seconds) of the forward TIAs' poles (one pair per output) and of the
    /// backward TIAs' (one pair per input, l >= 2): the first with the line delay, the second
    /// 0 when the loop has one pole; empty when they respond instantly ([`super::poles`]).
    pub lag_forward_seconds: Vec<(f64, f64)>,
    pub lag_backward_seconds: Vec<(f64, f64)>,
}

impl<T: Real> LayerCircuit<T> {
    /// Layer `l` of `l_out` (`(inputs, outputs)` nodes) with the given products and precision
    /// and an ideal periphery: no offsets, noise or line conductances.
    fn bare(
        (n_in, n_out): (usize, usize),
        l: usize,
        l_out: usize,
        skip: bool,
        forward: DMatrix<T>,
        backward: Option<DMatrix<T>>,
        precision: f64,
    ) -> Self {
        let hidden_in = if l >= 2 { n_in } else { 0 };
        let hidden_out = if l < l_out { n_out } else { 0 };
        LayerCircuit {
            inputs: n_in,
            outputs: n_out,
            skip,
            forward,
            backward,
            precision: T::of_f64(precision),
            offset_forward: vec![T::zero(); n_out],
            offset_error: vec![T::zero(); n_out],
            offset_backward: vec![T::zero(); hidden_in],
            offset_integrator: vec![T::zero(); hidden_out],
            noise_error: vec![0.0; n_out],
            noise_integrator: vec![0.0; hidden_out],
            noise_backward: vec![0.0; hidden_in],
            relative_forward: None,
            relative_backward: None,
            row_conductance_forward: vec![0.0; n_in],
            line_conductance_backward: vec![0.0; n_out],
            feedback_resistance_ohms: f64::INFINITY,
            flicker: None,
            lag_forward_seconds: Vec::new(),
            lag_backward_seconds: Vec::new(),
        }
    }
}

/// The whole circuit, in the precision it is integrated in.
#[derive(Clone, Debug)]
pub struct AnalogCircuit<T: Real> {
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub layers: Vec<LayerCircuit<T>>,
    pub tau_z_seconds: f64,
    /// 0: algebraic error nodes.
    pub tau_e_seconds: f64,
    pub v_read_volts: f64,
    /// Rails in node units (rail volts / v_read).
    pub rail: Option<T>,
    /// Whether any noise density is non-zero.
    pub noisy: bool,
    /// The integrators' open-loop gain (`None`: ideal, no leak; [`IntegratorLeak`]).
    pub integrator_gain: Option<f64>,
    /// The error amplifiers' closed-loop gain `A / (A + 2)` (1: ideal).
    pub error_gain: f64,
    /// The amplifiers' poles (`None`: every amplifier responds instantly): each adds a state
    /// per amplifier after the error nodes ([`super::poles`]).
    pub poles: Option<AmplifierPoles>,
}

/// How the periphery of an ideal circuit is built from a network alone (tests and benches).
#[derive(Clone, Debug, Default)]
pub struct IdealPeriphery {
    pub tau_z_seconds: f64,
    pub tau_e_seconds: f64,
    pub v_read_volts: f64,
}

impl<T: Real> AnalogCircuit<T> {
    /// The ideal circuit of `net`: exact weights, unity-gain amplifiers, no offsets, rails or
    /// noise. Its value nodes follow the core's gradient flow (with tau_e = 0).
    pub fn ideal(net: &Network<f64>, p: &IdealPeriphery) -> Self {
        let arch = net.architecture();
        let w = &arch.widths;
        let l_out = net.n_layers();
        let layers = (1..=l_out)
            .map(|l| {
                let a = net.scalings()[l - 1];
                let lam = if l == l_out {
                    arch.output_precision
                } else {
                    1.0
                };
                LayerCircuit::bare(
                    (w[l - 1], w[l]),
                    l,
                    l_out,
                    arch.has_skip(l),
                    cast(&(&net.weights()[l - 1] * a)),
                    (l >= 2).then(|| cast(&(&net.feedback_weights()[l - 1] * (a * lam)))),
                    lam,
                )
            })
            .collect();
        AnalogCircuit {
            widths: w.clone(),
            activation: arch.activation,
            layers,
            tau_z_seconds: p.tau_z_seconds,
            tau_e_seconds: p.tau_e_seconds,
            v_read_volts: p.v_read_volts,
            rail: None,
            noisy: false,
            integrator_gain: None,
            error_gain: 1.0,
            poles: None,
        }
    }

    /// The circuit of a mapped design: effective weights, TIA gain factors, offsets drawn from
    /// `circuit.run.seed`, rails, and the noise densities the design enables (none when
    /// `dynamics.noise` is off).
    pub fn from_design(circuit: &Circuit, net: &Network<f64>, mapped: &MappedNetwork) -> Self {
        let arch = net.architecture();
        let l_out = net.n_layers();
        let periphery = DesignPeriphery::of(circuit);
        let layers: Vec<LayerCircuit<T>> = (1..=l_out)
            .map(|l| {
                let lam = if l == l_out {
                    arch.output_precision
                } else {
                    1.0
                };
                let sums = LineSums::of(&mapped.layers[l - 1], circuit.crossbar.backward);
                periphery.layer(
                    &mapped.layers[l - 1],
                    &sums,
                    (l, l_out),
                    net.scalings()[l - 1],
                    lam,
                    arch.has_skip(l),
                )
            })
            .collect();
        let noisy = layers.iter().any(LayerCircuit::is_noisy);
        let v = periphery.v_read;
        let gain = circuit.periphery.finite_gain;
        let poles = AmplifierPoles::of_layers(
            &layers,
            circuit.periphery.gain_bandwidth_hertz,
            gain,
            circuit.dynamics.tau_z_seconds,
        );
        AnalogCircuit {
            widths: arch.widths.clone(),
            activation: arch.activation,
            layers,
            tau_z_seconds: circuit.dynamics.tau_z_seconds,
            tau_e_seconds: circuit.dynamics.tau_e_seconds,
            v_read_volts: v,
            rail: circuit.periphery.rail_volts.map(|r| T::of_f64(r / v)),
            noisy,
            integrator_gain: gain,
            error_gain: poles::error_amplifier_gain(gain),
            poles,
        }
    }

    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Layout of the value nodes z_1..z_{L-1}.
    pub fn value_layout(&self, batch: usize) -> Layout {
        Layout::new(&self.widths, batch)
    }

    /// Layout of the error nodes e_1..e_L (as "free layers" of a network with a dummy input).
    pub fn error_layout(&self, batch: usize) -> Layout {
        let mut w = vec![0];
        w.extend_from_slice(&self.widths[1..]);
        w.push(0);
        Layout::new(&w, batch)
    }

    /// Whether the error nodes are states (tau_e > 0).
    pub fn dynamic_errors(&self) -> bool {
        self.tau_e_seconds > 0.0
    }

    /// Length of the integrated state: value nodes, then error nodes when they are dynamic,
    /// then the amplifiers' pole states when they have poles ([`super::poles`]).
    pub fn state_len(&self, batch: usize) -> usize {
        self.value_layout(batch).len() + self.error_state_len(batch) + self.lag_len(batch)
    }

    /// Length of the error nodes' state (0 when algebraic).
    pub fn error_state_len(&self, batch: usize) -> usize {
        if self.dynamic_errors() {
            self.error_layout(batch).len()
        } else {
            0
        }
    }

    /// Length of the pole states (0 without poles).
    pub fn lag_len(&self, batch: usize) -> usize {
        if self.poles.is_some() {
            poles::STATES_PER_NODE
                * (self.error_layout(batch).len() + self.value_layout(batch).len())
        } else {
            0
        }
    }

    /// The feedforward pass of the circuit (offsets and finite gain included, no noise):
    /// the initial value nodes, and the error nodes at that state.
    pub fn initial_state(&self, x: &[T], y: &[T], batch: usize) -> Vec<T> {
        let lay = self.value_layout(batch);
        let mut state = vec![T::zero(); self.state_len(batch)];
        let mut prev: Vec<T> = x.to_vec();
        let l_out = self.n_layers();
        for l in 1..l_out {
            let lc = &self.layers[l - 1];
            let mut out = vec![T::zero(); lc.outputs * batch];
            let input = if l == 1 {
                prev.clone()
            } else {
                let mut p = vec![T::zero(); prev.len()];
                self.activation.apply(&prev, &mut p, None);
                p
            };
            gemm(
                T::one(),
                MatRef::from(&lc.forward),
                MatRef::col_major(&input, lc.inputs, batch),
                T::zero(),
                MatMut::col_major(&mut out, lc.outputs, batch),
            );
            for col in out.chunks_exact_mut(lc.outputs) {
                for (o, &off) in col.iter_mut().zip(&lc.offset_forward) {
                    *o += off;
                    if let Some(r) = self.rail {
                        *o = clip(*o, r);
                    }
                }
            }
            if lc.skip {
                for (o, &p) in out.iter_mut().zip(&prev) {
                    *o += p;
                }
            }
            if let Some(r) = self.rail {
                for o in out.iter_mut() {
                    *o = clip(*o, r);
                }
            }
            state[lay.range(l)].copy_from_slice(&out);
            prev = out;
        }
        if self.poles.is_some() {
            self.initial_lags(x, y, batch, &mut state);
        } else if self.dynamic_errors() {
            let mut ws = self.workspace(batch);
            let z = state[..lay.len()].to_vec();
            self.errors(&mut ws, x, y, &z, None);
            let el = self.error_layout(batch);
            for l in 1..=l_out {
                state[lay.len() + el.range(l).start..lay.len() + el.range(l).end]
                    .copy_from_slice(&ws.eps[l - 1]);
            }
        }
        state
    }

    /// Buffers for a batch of `batch` samples.
    pub fn workspace(&self, batch: usize) -> CircuitWorkspace<T> {
        self.workspace_with(batch, self.pack())
    }

    /// The products of every layer packed once for the micro-kernel, to share between the
    /// workspaces of one run ([`AnalogCircuit::workspace_with`]). A workspace holds the
    /// products of the circuit as they were when it was packed.
    pub fn pack(&self) -> Arc<PackedProducts<T>> {
        let pack = |m: &DMatrix<T>| PackedMat::new(MatRef::from(m));
        let pack_t = |m: &DMatrix<T>| PackedMat::new(MatRef::from(m).t());
        Arc::new(PackedProducts {
            forward: self.layers.iter().map(|lc| pack(&lc.forward)).collect(),
            backward_t: self
                .layers
                .iter()
                .map(|lc| lc.backward.as_ref().map(pack_t))
                .collect(),
            relative_forward: self
                .layers
                .iter()
                .map(|lc| lc.relative_forward.as_ref().map(pack))
                .collect(),
            relative_backward_t: self
                .layers
                .iter()
                .map(|lc| lc.relative_backward.as_ref().map(pack_t))
                .collect(),
        })
    }

    /// Buffers for `batch` samples that multiply through `products` (from [`AnalogCircuit::pack`]
    /// of this circuit).
    pub fn workspace_with(
        &self,
        batch: usize,
        products: Arc<PackedProducts<T>>,
    ) -> CircuitWorkspace<T> {
        let l_out = self.n_layers();
        let w = &self.widths;
        CircuitWorkspace {
            batch,
            phi: (1..l_out).map(|l| vec![T::zero(); w[l] * batch]).collect(),
            dphi: (1..l_out).map(|l| vec![T::zero(); w[l] * batch]).collect(),
            eps: (1..=l_out).map(|l| vec![T::zero(); w[l] * batch]).collect(),
            pred: (1..=l_out).map(|l| vec![T::zero(); w[l] * batch]).collect(),
            back: (1..l_out).map(|l| vec![T::zero(); w[l] * batch]).collect(),
            products,
            lags: self.poles.as_ref().map(|p| Arc::new(p.laid_out(batch))),
            q_ideal: if self.poles.is_some() {
                vec![T::zero(); self.value_layout(batch).len()]
            } else {
                Vec::new()
            },
            q_out: if self.poles.is_some() {
                vec![T::zero(); self.value_layout(batch).len()]
            } else {
                Vec::new()
            },
        }
    }

    /// eps_l (errors before the error amplifier's lag) into `ws.eps` for value nodes `z`, and
    /// phi, phi' into `ws`. A noise sample, when given, is scaled to its densities at this state
    /// on its first use (so the second stage of a step reuses the very same sample) and added.
    pub fn errors(
        &self,
        ws: &mut CircuitWorkspace<T>,
        x: &[T],
        y: &[T],
        z: &[T],
        mut noise: Option<&mut NoiseSample<T>>,
    ) {
        let b = ws.batch;
        let lay = self.value_layout(b);
        let l_out = self.n_layers();
        for l in 1..l_out {
            let (p, d) = (&mut ws.phi[l - 1], &mut ws.dphi[l - 1]);
            self.activation.apply(&z[lay.range(l)], p, Some(d));
        }
        if let Some(ns) = noise.as_deref_mut() {
            if !ns.scaled_e {
                self.scale_error_noise(ws, x, ns);
            }
        }
        for l in 1..=l_out {
            let lc = &self.layers[l - 1];
            let input: &[T] = if l == 1 { x } else { &ws.phi[l - 2] };
            let eps = &mut ws.eps[l - 1];
            eps.copy_from_slice(if l == l_out { y } else { &z[lay.range(l)] });
            if lc.skip {
                for (e, &zp) in eps.iter_mut().zip(&z[lay.range(l - 1)]) {
                    *e -= zp;
                }
            }
            let n = lc.outputs;
            match self.rail {
                None => {
                    // pred keeps the TIA outputs (the energy accounting reads them): eps
                    // before the product minus eps after it.
                    let pred = &mut ws.pred[l - 1];
                    pred.copy_from_slice(eps);
                    gemm_packed(
                        -T::one(),
                        &ws.products.forward[l - 1],
                        MatRef::col_major(input, lc.inputs, b),
                        T::one(),
                        MatMut::col_major(eps, n, b),
                    );
                    for (p, &e) in pred.iter_mut().zip(eps.iter()) {
                        *p -= e;
                    }
                    for col in eps.chunks_exact_mut(n) {
                        for ((e, &oe), &of) in
                            col.iter_mut().zip(&lc.offset_error).zip(&lc.offset_forward)
                        {
                            *e += oe - of;
                        }
                    }
                }
                Some(r) => {
                    let pred = &mut ws.pred[l - 1];
                    gemm_packed(
                        T::one(),
                        &ws.products.forward[l - 1],
                        MatRef::col_major(input, lc.inputs, b),
                        T::zero(),
                        MatMut::col_major(pred, n, b),
                    );
                    for (col, pc) in eps.chunks_exact_mut(n).zip(pred.chunks_exact(n)) {
                        for (i, (e, p)) in col.iter_mut().zip(pc).enumerate() {
                            *e += lc.offset_error[i] - clip(*p + lc.offset_forward[i], r);
                        }
                    }
                }
            }
            if self.error_gain != 1.0 {
                let g = T::of_f64(self.error_gain);
                for e in eps.iter_mut() {
                    *e *= g;
                }
            }
            if let Some(ns) = noise.as_deref() {
                for (e, &v) in eps.iter_mut().zip(&ns.e[l - 1]) {
                    *e += v;
                }
                if let Some(f) = &ns.flicker {
                    f.add_to_errors(eps, l);
                }
            }
        }
    }

    /// Scales the standard normals of the error nodes to sqrt(S / (2 dt)) at this state.
    fn scale_error_noise(&self, ws: &mut CircuitWorkspace<T>, x: &[T], ns: &mut NoiseSample<T>) {
        let b = ws.batch;
        let two_dt = 2.0 * ns.dt_seconds;
        for l in 1..=self.n_layers() {
            let lc = &self.layers[l - 1];
            let n = lc.outputs;
            let xi = &mut ns.e[l - 1];
            // The second draw of a paired sample (empty unless paired) shares the amplitudes.
            let xi2 = &mut ns.e_mean[l - 1];
            match &ws.products.relative_forward[l - 1] {
                Some(rel) => {
                    let input: &[T] = if l == 1 { x } else { &ws.phi[l - 2] };
                    let sq: Vec<T> = input.iter().map(|&v| v * v).collect();
                    let dens = &mut ns.tmp_e[l - 1];
                    gemm_packed(
                        T::one(),
                        rel,
                        MatRef::col_major(&sq, lc.inputs, b),
                        T::zero(),
                        MatMut::col_major(dens, n, b),
                    );
                    for (k, v) in xi.iter_mut().enumerate() {
                        let s = lc.noise_error[k % n] + dens[k].to_f64();
                        let a = T::of_f64((s / two_dt).sqrt());
                        *v *= a;
                        if let Some(v2) = xi2.get_mut(k) {
                            *v2 *= a;
                        }
                    }
                }
                None => {
                    // State-independent: the amplitudes are computed once per run.
                    let amp = ns.amp_e[l - 1].get_or_insert_with(|| {
                        lc.noise_error
                            .iter()
                            .map(|&s| T::of_f64((s / two_dt).sqrt()))
                            .collect()
                    });
                    for col in xi.chunks_exact_mut(n).chain(xi2.chunks_exact_mut(n)) {
                        for (v, &a) in col.iter_mut().zip(amp.iter()) {
                            *v *= a;
                        }
                    }
                }
            }
        }
        ns.scaled_e = true;
    }

    /// Scales the standard normals of the value nodes at this state: the integrator's own
    /// density plus the backward TIA's, which reaches the node through phi'(z).
    fn scale_value_noise(&self, ws: &CircuitWorkspace<T>, ns: &mut NoiseSample<T>) {
        let b = ws.batch;
        let two_dt = 2.0 * ns.dt_seconds;
        for l in 1..self.n_layers() {
            let lc = &self.layers[l - 1];
            let next = &self.layers[l];
            let n = lc.outputs;
            if let Some(rel) = &ws.products.relative_backward_t[l] {
                let lam = next.precision;
                let sq: Vec<T> = ws.eps[l].iter().map(|&v| (lam * v) * (lam * v)).collect();
                gemm_packed(
                    T::one(),
                    rel,
                    MatRef::col_major(&sq, next.outputs, b),
                    T::zero(),
                    MatMut::col_major(&mut ns.tmp_z[l - 1], n, b),
                );
            }
            let rel = next.relative_backward.is_some();
            // With phi' = 1, or no backward noise, the amplitudes do not depend on the state.
            let constant = !rel
                && (self.activation == Activation::Linear
                    || next.noise_backward.iter().all(|&s| s == 0.0));
            if constant {
                let gain = if self.activation == Activation::Linear {
                    1.0
                } else {
                    0.0
                };
                let amp = ns.amp_z[l - 1].get_or_insert_with(|| {
                    (0..n)
                        .map(|i| {
                            let s = lc.noise_integrator[i] + gain * next.noise_backward[i];
                            T::of_f64((s / two_dt).sqrt())
                        })
                        .collect()
                });
                for col in ns.z[l - 1].chunks_exact_mut(n) {
                    for (v, &a) in col.iter_mut().zip(amp.iter()) {
                        *v *= a;
                    }
                }
                continue;
            }
            let (xi, dens, dp) = (&mut ns.z[l - 1], &ns.tmp_z[l - 1], &ws.dphi[l - 1]);
            for ((col, dcol), pcol) in xi
                .chunks_exact_mut(n)
                .zip(dens.chunks_exact(n))
                .zip(dp.chunks_exact(n))
            {
                for i in 0..n {
                    let d = pcol[i].to_f64();
                    let back = next.noise_backward[i] + if rel { dcol[i].to_f64() } else { 0.0 };
                    let s = lc.noise_integrator[i] + d * d * back;
                    col[i] *= T::of_f64((s / two_dt).sqrt());
                }
            }
        }
        ns.scaled_z = true;
    }

    /// The derivatives d(state)/ds at `state`, with a noise sample if given, into `out`;
    /// `max_drive` receives max |dz/ds| per sample (value nodes only).
    #[allow(clippy::too_many_arguments)]
    pub fn rhs(
        &self,
        ws: &mut CircuitWorkspace<T>,
        x: &[T],
        y: &[T],
        state: &[T],
        mut noise: Option<&mut NoiseSample<T>>,
        out: &mut [T],
        max_drive: &mut [T],
    ) {
        let b = ws.batch;
        let nz = self.value_layout(b).len();
        if self.poles.is_some() {
            return self.rhs_with_lags(ws, (x, y), state, noise, out, max_drive);
        }
        let (z, e_state) = state.split_at(nz);
        self.errors(ws, x, y, z, noise.as_deref_mut());
        let (dz, de) = out.split_at_mut(nz);
        self.error_outputs(ws, e_state, de);
        if let Some(ns) = noise.as_deref_mut() {
            if !ns.scaled_z {
                self.scale_value_noise(ws, ns);
            }
        }
        self.drive(ws, z, noise.as_deref(), None, dz, max_drive);
    }

    /// Scales a step's standard normals to the densities at the state whose activations are
    /// in `ws` (after [`Self::errors`] without noise) and whose error-node outputs are in
    /// `ws.eps`: the error nodes' (both draws of a paired sample) and the value nodes'.
    pub fn scale_noise(&self, ws: &mut CircuitWorkspace<T>, x: &[T], ns: &mut NoiseSample<T>) {
        if !ns.scaled_e {
            self.scale_error_noise(ws, x, ns);
        }
        if !ns.scaled_z {
            self.scale_value_noise(ws, ns);
        }
    }

    /// The value nodes' derivatives dz/ds at value nodes `z`, with the error-node outputs in
    /// `ws.eps` and the activations of `z` in `ws` (as [`Self::errors`] leaves them), plus the
    /// value nodes' noise when given (already scaled); `max_drive` receives max |dz/ds| per
    /// sample. The drive is linear in the error outputs.
    pub fn drive(
        &self,
        ws: &mut CircuitWorkspace<T>,
        z: &[T],
        noise: Option<&NoiseSample<T>>,
        lags: Option<DriveLags<'_, T>>,
        dz: &mut [T],
        max_drive: &mut [T],
    ) {
        let b = ws.batch;
        let lay = self.value_layout(b);
        let l_out = self.n_layers();
        let leak = self.integrator_gain.map(IntegratorLeak::of_gain);
        // The capacitor's coupling to a lagging output: c_z (z_out - z*) ([`super::poles`]).
        let c_z = T::of_f64(leak.map_or(1.0, |k| k.gain));
        for m in max_drive.iter_mut() {
            *m = T::zero();
        }
        for l in 1..l_out {
            let next = &self.layers[l];
            let n = self.widths[l];
            let bk = &mut ws.back[l - 1];
            let Some(bmat) = ws.products.backward_t[l].as_ref() else {
                continue;
            };
            gemm_packed(
                T::one(),
                bmat,
                MatRef::col_major(&ws.eps[l], next.outputs, b),
                T::zero(),
                MatMut::col_major(bk, n, b),
            );
            let lam = next.precision;
            let e_l = &ws.eps[l - 1];
            let e_next = &ws.eps[l];
            let dp = &ws.dphi[l - 1];
            let oz = &self.layers[l - 1].offset_integrator;
            let ob = &next.offset_backward;
            let dzl = &mut dz[lay.range(l)];
            let zl = &z[lay.range(l)];
            let xi = noise.map(|ns| &ns.z[l - 1][..]);
            let mut q_ideal = ws.q_ideal.get_mut(lay.range(l));
            let lag_q = lags.and_then(|g| g.q).map(|q| &q[lay.range(l)]);
            let lag_z = lags.and_then(|g| g.zo).map(|zo| &zo[lay.range(l)]);
            let flicker = noise.and_then(|ns| ns.flicker.as_ref());
            let (fq, fz) = (flicker.map(|f| &f.q[l - 1]), flicker.map(|f| &f.z[l - 1]));
            for s in 0..b {
                let c = s * n..(s + 1) * n;
                let (bk, e_l, dp) = (&bk[c.clone()], &e_l[c.clone()], &dp[c.clone()]);
                // Skip layers have equal widths, so the next layer's errors line up.
                let e_next = next.skip.then(|| &e_next[c.clone()]);
                let (dzl, zl) = (&mut dzl[c.clone()], &zl[c.clone()]);
                let xi = xi.map(|v| &v[c.clone()]);
                let (fq, fz) = (fq.map(|v| &v[c.clone()]), fz.map(|v| &v[c.clone()]));
                let (lag_q, lag_z) = (lag_q.map(|v| &v[c.clone()]), lag_z.map(|v| &v[c.clone()]));
                let mut q_ideal = q_ideal.as_deref_mut().map(|v| &mut v[c.clone()]);
                let mut m = T::zero();
                for i in 0..n {
                    let mut q = bk[i] + ob[i];
                    if let Some(f) = fq {
                        q += f[i];
                    }
                    if let Some(r) = self.rail {
                        q = clip(q, r);
                    }
                    if let Some(qi) = q_ideal.as_deref_mut() {
                        qi[i] = q;
                    }
                    if let Some(lq) = lag_q {
                        q = lq[i];
                    }
                    let mut d = dp[i] * q - e_l[i] + oz[i];
                    if let Some(en) = e_next {
                        d += lam * en[i];
                    }
                    if let Some(xi) = xi {
                        d += xi[i];
                    }
                    if let Some(f) = fz {
                        d += f[i];
                    }
                    if let Some(k) = leak {
                        d = k.drive(d, zl[i]);
                    }
                    if let Some(zo) = lag_z {
                        d += c_z * (zo[i] - zl[i]);
                    }
                    if let Some(r) = self.rail {
                        // An integrator at its rail cannot move further out.
                        if (zl[i] >= r && d > T::zero()) || (zl[i] <= -r && d < T::zero()) {
                            d = T::zero();
                        }
                    }
                    dzl[i] = d;
                    let ad = d.abs();
                    // NaN propagates, so that a diverging sample is never called steady.
                    // Once NaN, m stays NaN: no later value compares greater.
                    if ad > m || ad.is_nan() {
                        m = ad;
                    }
                }
                if m > max_drive[s] || m.is_nan() {
                    max_drive[s] = m;
                }
            }
        }
    }

    /// Turns the error signals eps in `ws.eps` into the error nodes' outputs e_l: algebraic
    /// nodes give clip(eps), lagging ones their state `e_state`, whose derivatives go to `de`.
    pub(super) fn error_outputs(&self, ws: &mut CircuitWorkspace<T>, e_state: &[T], de: &mut [T]) {
        if self.dynamic_errors() {
            let el = self.error_layout(ws.batch);
            let r_e = T::of_f64(self.tau_z_seconds / self.tau_e_seconds);
            for l in 1..=self.n_layers() {
                let rg = el.range(l);
                let e_l = &e_state[rg.clone()];
                for ((d, &eps), &e) in de[rg].iter_mut().zip(&ws.eps[l - 1]).zip(e_l) {
                    *d = r_e * (eps - e);
                }
                ws.eps[l - 1].copy_from_slice(e_l);
            }
        } else if let Some(r) = self.rail {
            for eps in ws.eps.iter_mut() {
                for e in eps.iter_mut() {
                    *e = clip(*e, r);
                }
            }
        }
    }

    /// Clamps value and error nodes to the rails, if any.
    pub fn clamp(&self, state: &mut [T]) {
        if let Some(r) = self.rail {
            for v in state.iter_mut() {
                *v = clip(*v, r);
            }
        }
    }
}

impl<T: Real> LayerCircuit<T> {
    /// Whether any noise density of the layer is non-zero.
    fn is_noisy(&self) -> bool {
        self.relative_forward.is_some()
            || self.noise_error.iter().any(|&s| s > 0.0)
            || self.noise_integrator.iter().any(|&s| s > 0.0)
            || self.noise_backward.iter().any(|&s| s > 0.0)
    }
}

/// What a design's periphery adds to every layer: gain factors, offsets, noise densities.
struct DesignPeriphery {
    v_read: f64,
    /// k T of the arrays (joules).
    kt: f64,
    /// Whether the devices' thermal noise is integrated.
    thermal: bool,
    /// Relative white current-noise density of a device (1/sqrt(Hz), 0: none).
    rho: f64,
    /// Amplifier input noise density (V / sqrt(Hz), 0: none).
    e_n: f64,
    finite_gain: Option<f64>,
    offset_sigma_volts: f64,
    seed: u64,
    /// kT/C noise density of an integrator (node units^2 / Hz, 0: none).
    ktc: f64,
    /// Whether each TIA adds its feedback resistor's 4 k T / R_f.
    feedback: bool,
    /// The amplifiers' 1/f corner (hertz), when their noise has one and is on.
    corner: Option<f64>,
    /// The amplifiers' gain-bandwidth product (hertz), when they have a pole.
    gain_bandwidth: Option<f64>,
    /// Wire resistance and capacitance per segment, and the tile's rows and columns: the
    /// lines' RC delay.
    line: (f64, f64),
    tile: (usize, usize),
}

impl DesignPeriphery {
    fn of(circuit: &Circuit) -> Self {
        let per = &circuit.periphery;
        let dev = &circuit.device;
        let v = circuit.crossbar.v_read_volts;
        let kt = BOLTZMANN * dev.read_noise.temperature_kelvin;
        let noise_on = circuit.dynamics.noisy;
        let c_z = per.node_capacitance_farads;
        let tau_z = circuit.dynamics.tau_z_seconds;
        DesignPeriphery {
            v_read: v,
            kt,
            thermal: noise_on && dev.read_noise.thermal,
            rho: if noise_on {
                dev.read_noise.white_per_root_hertz
            } else {
                0.0
            },
            e_n: if noise_on {
                per.amplifier_noise_volts_per_root_hertz
            } else {
                0.0
            },
            finite_gain: per.finite_gain,
            offset_sigma_volts: per.offset_sigma_volts,
            seed: circuit.run.seed,
            ktc: if noise_on && per.ktc_noise {
                4.0 * tau_z * kt / (c_z * v * v)
            } else {
                0.0
            },
            feedback: noise_on && per.feedback_noise,
            corner: per
                .amplifier_noise_corner_hertz
                .filter(|_| noise_on && per.amplifier_noise_volts_per_root_hertz > 0.0),
            gain_bandwidth: per.gain_bandwidth_hertz,
            line: (
                circuit.crossbar.wire_resistance_ohms,
                circuit.crossbar.wire_capacitance_farads,
            ),
            tile: (circuit.crossbar.rows, circuit.crossbar.cols),
        }
    }

    /// The time constants (seconds) of TIAs of feedback resistance `r_f` and noise gains
    /// `noise_gain` whose sensed lines hold `cells` cells and whose inputs lag by `line`
    /// ([`poles::line_delays`]): their loops' two poles ([`poles::TiaLoop`], with the feedback
    /// capacitor that damps them critically), the line delay added to the first; empty when
    /// they respond instantly.
    fn tia_lags(
        &self,
        (r_f, noise_gain): (f64, &[f64]),
        cells: usize,
        line: Vec<f64>,
    ) -> Vec<(f64, f64)> {
        if self.gain_bandwidth.is_none() && line.iter().all(|&d| d == 0.0) {
            return Vec::new();
        }
        let c_in = self.sensed_capacitance(cells);
        noise_gain
            .iter()
            .zip(line)
            .map(|(&n, d)| {
                let tia = poles::TiaLoop {
                    gbw: self.gain_bandwidth,
                    gain: self.finite_gain,
                    noise_gain: n,
                    r_f,
                    c_in,
                };
                let (t1, t2) = tia.time_constants(tia.feedback_capacitance());
                (t1 + d, t2)
            })
            .collect()
    }

    /// The capacitance at the input of a TIA whose sensed lines hold `cells` cells: none
    /// without wire resistance (the netlist has no wire nodes then).
    fn sensed_capacitance(&self, cells: usize) -> f64 {
        let (r, c) = self.line;
        if r == 0.0 {
            0.0
        } else {
            poles::sensed_line_capacitance(c, cells)
        }
    }

    /// The closed-loop gain factor c = A / (A + N) of an amplifier of noise gain N (1 with
    /// infinite open-loop gain A).
    fn gain_factor(&self, noise_gain: f64) -> f64 {
        match self.finite_gain {
            Some(a) => a / (a + noise_gain),
            None => 1.0,
        }
    }

    /// Input offsets (volts) of `n` amplifiers of one kind in layer `l`: one stream per (layer,
    /// amplifier kind), far from the device streams.
    fn offsets(&self, l: usize, kind: u64, n: usize) -> Vec<f64> {
        let stream = 1 << 40 | (l as u64) << 8 | kind;
        amplifier_offsets(n, self.offset_sigma_volts, self.seed, stream)
    }

    /// Offsets in node units: volts times the gain from each amplifier's input to the node.
    fn to_node<T: Real>(&self, volts: Vec<f64>, gain: impl Fn(usize) -> f64) -> Vec<T> {
        volts
            .iter()
            .enumerate()
            .map(|(i, &o)| T::of_f64(gain(i) * o / self.v_read))
            .collect()
    }

    /// Output noise density of a TIA (node units^2 / Hz) with feedback resistance `r_f`,
    /// total input conductance `g_sum` and noise gain `noise_gain`: its devices' thermal
    /// current `4 k T G_sum` and its feedback resistor's `4 k T / R_f` through `R_f`, and its
    /// amplifier's input noise times the noise gain.
    fn tia_noise(&self, r_f: f64, g_sum: f64, noise_gain: f64) -> f64 {
        let v = self.v_read;
        let th = if self.thermal {
            r_f * r_f * 4.0 * self.kt * g_sum
        } else {
            0.0
        };
        let feedback = if self.feedback && r_f.is_finite() {
            4.0 * self.kt * r_f
        } else {
            0.0
        };
        (th + feedback + noise_gain * noise_gain * self.e_n * self.e_n) / (v * v)
    }

    /// The 1/f coefficients of a layer whose TIAs have noise gains `noise_gain_f` (forward)
    /// and `noise_gain_b` (backward, l >= 2), the white amplifier densities times the corner.
    fn flicker(
        &self,
        noise_gain_f: &[f64],
        noise_gain_b: &[f64],
        (l, l_out): (usize, usize),
    ) -> Option<FlickerCoefficients> {
        let c = self.corner? * self.e_n * self.e_n / (self.v_read * self.v_read);
        Some(FlickerCoefficients {
            error: noise_gain_f.iter().map(|n| c * (n * n + 4.0)).collect(),
            backward: if l >= 2 {
                noise_gain_b.iter().map(|n| c * n * n).collect()
            } else {
                Vec::new()
            },
            integrator: if l < l_out {
                vec![c; noise_gain_f.len()]
            } else {
                Vec::new()
            },
        })
    }

    /// Layer `l` of `l_out` of the circuit, from its mapping `m` and the line sums of its
    /// arrays, with parameterisation scaling `a` and precision `lam`.
    fn layer<T: Real>(
        &self,
        m: &LayerMapping,
        sums: &LineSums,
        (l, l_out): (usize, usize),
        a: f64,
        lam: f64,
        skip: bool,
    ) -> LayerCircuit<T> {
        let (n_in, n_out) = (m.inputs, m.outputs);
        let r_f = m.feedback_resistance_ohms;
        let r_b = m.backward_feedback_resistance_ohms;
        let noise_gain_f: Vec<f64> = sums.col_fwd.iter().map(|g| 1.0 + r_f * g).collect();
        let noise_gain_b: Vec<f64> = sums.bwd_tia.iter().map(|g| 1.0 + r_b * g).collect();
        let forward = self.scaled_forward(m.w_forward.clone() * a, &noise_gain_f);
        let backward =
            (l >= 2).then(|| self.scaled_backward(m.w_backward.clone() * (a * lam), &noise_gain_b));
        let v = self.v_read;
        let (tile_rows, tile_cols) = self.tile;
        let lag_forward_seconds = self.tia_lags(
            (r_f, &noise_gain_f),
            n_in,
            poles::line_delays(n_out, tile_cols, self.line, false),
        );
        // Separate backward arrays are driven on their rows as forward ones; a shared read
        // drives the forward arrays' columns from their bottom ends.
        let lag_backward_seconds = if l >= 2 {
            let line = match m.backward {
                Some(_) => poles::line_delays(n_in, tile_cols, self.line, false),
                None => poles::line_delays(n_in, tile_rows, self.line, true),
            };
            self.tia_lags((r_b, &noise_gain_b), n_out, line)
        } else {
            Vec::new()
        };
        // A device density: S_I = rho^2 I^2, whatever the amplifiers' bandwidth.
        let rel = r_f * r_f * self.rho * self.rho;
        let rel_b = r_b * r_b * self.rho * self.rho;
        LayerCircuit {
            noise_error: (0..n_out)
                .map(|j| {
                    self.tia_noise(r_f, sums.col_fwd[j], noise_gain_f[j])
                        + 4.0 * self.e_n * self.e_n / (v * v)
                })
                .collect(),
            noise_integrator: if l < l_out {
                vec![self.ktc + self.e_n * self.e_n / (v * v); n_out]
            } else {
                Vec::new()
            },
            noise_backward: if l >= 2 {
                (0..n_in)
                    .map(|i| self.tia_noise(r_b, sums.bwd_tia[i], noise_gain_b[i]))
                    .collect()
            } else {
                Vec::new()
            },
            relative_forward: (self.rho > 0.0).then(|| cast(&(&sums.fwd_sq * rel))),
            // Backward drive is v_read lambda e on the output lines.
            relative_backward: (self.rho > 0.0 && l >= 2).then(|| cast(&(&sums.bwd_sq * rel_b))),
            row_conductance_forward: sums.row_fwd.clone(),
            line_conductance_backward: sums.bwd_driven.clone(),
            feedback_resistance_ohms: r_f,
            flicker: self.flicker(&noise_gain_f, &noise_gain_b, (l, l_out)),
            lag_forward_seconds,
            lag_backward_seconds,
            ..self.with_offsets(
                LayerCircuit::bare(
                    (n_in, n_out),
                    l,
                    l_out,
                    skip,
                    cast(&forward),
                    backward.map(|b| cast(&b)),
                    lam,
                ),
                (l, l_out),
                &noise_gain_f,
                &noise_gain_b,
            )
        }
    }

    /// The forward product with each TIA's row scaled by its gain factor.
    fn scaled_forward(&self, mut forward: DMatrix<f64>, noise_gain: &[f64]) -> DMatrix<f64> {
        for (j, &ng) in noise_gain.iter().enumerate() {
            let c = self.gain_factor(ng);
            if c != 1.0 {
                forward.row_mut(j).scale_mut(c);
            }
        }
        forward
    }

    /// The backward product with each backward TIA's column scaled by its gain factor.
    fn scaled_backward(&self, mut backward: DMatrix<f64>, noise_gain: &[f64]) -> DMatrix<f64> {
        for (i, &ng) in noise_gain.iter().enumerate() {
            let c = self.gain_factor(ng);
            if c != 1.0 {
                backward.column_mut(i).scale_mut(c);
            }
        }
        backward
    }

    /// `layer` with the offsets of its amplifiers, in the order of their streams: forward
    /// TIAs, error amplifiers, backward TIAs (l >= 2), integrators (l < L).
    fn with_offsets<T: Real>(
        &self,
        layer: LayerCircuit<T>,
        (l, l_out): (usize, usize),
        noise_gain_f: &[f64],
        noise_gain_b: &[f64],
    ) -> LayerCircuit<T> {
        let (n_in, n_out) = (layer.inputs, layer.outputs);
        // A TIA's input offset reaches its output through the same closed loop as its
        // signal: c N V_os.
        let closed_loop = |ng: f64| self.gain_factor(ng) * ng;
        LayerCircuit {
            offset_forward: self
                .to_node(self.offsets(l, 0, n_out), |j| closed_loop(noise_gain_f[j])),
            offset_error: self.to_node(self.offsets(l, 1, n_out), |_| 2.0),
            offset_backward: if l >= 2 {
                self.to_node(self.offsets(l, 2, n_in), |i| closed_loop(noise_gain_b[i]))
            } else {
                Vec::new()
            },
            offset_integrator: if l < l_out {
                self.to_node(self.offsets(l, 3, n_out), |_| 1.0)
            } else {
                Vec::new()
            },
            ..layer
        }
    }
}

/// Sums over one layer's device conductances (siemens) that its periphery depends on.
struct LineSums {
    /// Forward array rows (the driven inputs) and columns (the TIAs).
    row_fwd: Vec<f64>,
    col_fwd: Vec<f64>,
    /// The backward read: the TIAs sit on the inputs, the drivers on the outputs.
    bwd_tia: Vec<f64>,
    bwd_driven: Vec<f64>,
    /// Squared conductances summed over each differential pair, `out x in`: forward and
    /// backward arrays.
    fwd_sq: DMatrix<f64>,
    bwd_sq: DMatrix<f64>,
}

impl LineSums {
    /// The sums of mapping `m`; a layer without backward arrays of its own reads its forward
    /// arrays backwards.
    fn of(m: &LayerMapping, backward: Backward) -> Self {
        let (n_in, n_out) = (m.inputs, m.outputs);
        // Forward arrays are `in x out`: rows are the inputs, columns the TIAs.
        let fp = &m.forward.plus.read;
        let fm = &m.forward.minus.read;
        let sum_fwd = fp + fm;
        let row_fwd: Vec<f64> = (0..n_in).map(|i| sum_fwd.row(i).sum()).collect();
        let col_fwd: Vec<f64> = (0..n_out).map(|j| sum_fwd.column(j).sum()).collect();
        let (bwd_tia, bwd_driven, bwd_sq) = match (&m.backward, backward) {
            (Some(b), _) => {
                // `out x in`: rows (outputs) driven, columns (inputs) sensed.
                let s = &b.plus.read + &b.minus.read;
                let sq = b.plus.read.map(|g| g * g) + b.minus.read.map(|g| g * g);
                (
                    (0..n_in).map(|i| s.column(i).sum()).collect(),
                    (0..n_out).map(|j| s.row(j).sum()).collect(),
                    sq,
                )
            }
            (None, Backward::Shared | Backward::Separate) => {
                let sq = (fp.map(|g| g * g) + fm.map(|g| g * g)).transpose();
                (row_fwd.clone(), col_fwd.clone(), sq)
            }
        };
        LineSums {
            fwd_sq: (fp.map(|g| g * g) + fm.map(|g| g * g)).transpose(),
            row_fwd,
            col_fwd,
            bwd_tia,
            bwd_driven,
            bwd_sq,
        }
    }
}

/// The lagging outputs the value nodes' drive reads when the amplifiers have poles (value
/// layout): the backward TIAs' (`None`: their ideal outputs) and the integrators' (`None`: the
/// value nodes themselves).
#[derive(Clone, Copy)]
pub struct DriveLags<'a, T> {
    pub q: Option<&'a [T]>,
    pub zo: Option<&'a [T]>,
}

/// One step's noise: standard normals drawn by the integrator, scaled in place to the
/// densities at the step's first evaluation and reused by its later stages.
#[derive(Clone, Debug)]
pub struct NoiseSample<T: Real> {
    /// Per layer l = 1..L (index l-1), `n_l x b`: added to eps_l.
    pub e: Vec<Vec<T>>,
    /// Per hidden layer: added to the value nodes' drive.
    pub z: Vec<Vec<T>>,
    /// A paired sample's second standard normals of the error nodes (same layout as `e`;
    /// empty per layer unless [`NoiseSample::paired`]): the exponential scheme draws the
    /// end value and the step mean of each error node's Ornstein–Uhlenbeck noise jointly.
    pub e_mean: Vec<Vec<T>>,
    pub scaled_e: bool,
    pub scaled_z: bool,
    pub dt_seconds: f64,
    /// The amplifiers' 1/f noise, when they have any: inputs held over the step.
    pub flicker: Option<FlickerInputs<T>>,
    tmp_e: Vec<Vec<T>>,
    tmp_z: Vec<Vec<T>>,
    /// Amplitudes sqrt(S / (2 dt)) of the layers whose noise does not depend on the state,
    /// computed at first use.
    amp_e: Vec<Option<Vec<T>>>,
    amp_z: Vec<Option<Vec<T>>>,
}

impl<T: Real> NoiseSample<T> {
    pub fn new(widths: &[usize], batch: usize, dt_seconds: f64) -> Self {
        let l_out = widths.len() - 1;
        let e: Vec<Vec<T>> = (1..=l_out)
            .map(|l| vec![T::zero(); widths[l] * batch])
            .collect();
        let z: Vec<Vec<T>> = (1..l_out)
            .map(|l| vec![T::zero(); widths[l] * batch])
            .collect();
        NoiseSample {
            e_mean: vec![Vec::new(); e.len()],
            amp_e: vec![None; e.len()],
            amp_z: vec![None; z.len()],
            tmp_e: e.clone(),
            tmp_z: z.clone(),
            e,
            z,
            scaled_e: false,
            scaled_z: false,
            dt_seconds,
            flicker: None,
        }
    }
}

impl<T: Real> NoiseSample<T> {
    /// A sample with a second draw per error node ([`NoiseSample::e_mean`]).
    pub fn paired(widths: &[usize], batch: usize, dt_seconds: f64) -> Self {
        let mut ns = Self::new(widths, batch, dt_seconds);
        ns.e_mean = ns.e.clone();
        ns
    }
}

/// Buffers of one right-hand-side evaluation.
#[derive(Clone, Debug)]
pub struct CircuitWorkspace<T: Real> {
    pub batch: usize,
    /// phi(z_l), phi'(z_l) for hidden l (index l-1).
    pub phi: Vec<Vec<T>>,
    pub dphi: Vec<Vec<T>>,
    /// eps_l, then (after `rhs`) the error node outputs e_l, l = 1..L (index l-1).
    pub eps: Vec<Vec<T>>,
    /// TIA outputs before their offsets, l = 1..L.
    pub pred: Vec<Vec<T>>,
    /// Backward products, hidden l.
    pub back: Vec<Vec<T>>,
    /// The circuit's products, packed.
    products: Arc<PackedProducts<T>>,
    /// The pole states' rates for this batch (a circuit with poles).
    pub lags: Option<Arc<LagRates>>,
    /// The backward TIAs' ideal outputs (value layout), which their poles lag (a circuit with
    /// poles; written by [`AnalogCircuit::drive`]).
    pub q_ideal: Vec<T>,
    /// The backward TIAs' presented outputs (value layout, a circuit with poles): scratch of
    /// the right-hand side with poles.
    pub q_out: Vec<T>,
}

/// The products of every layer of an [`AnalogCircuit`] packed for the micro-kernel
/// ([`PackedMat`]): the weights are read thousands of times per run and packed once.
#[derive(Clone, Debug)]
pub struct PackedProducts<T: Real> {
    /// Per layer l (index l-1): the forward product.
    forward: Vec<PackedMat<T>>,
    /// The backward product, transposed (`inputs x outputs`), l >= 2.
    backward_t: Vec<Option<PackedMat<T>>>,
    /// Relative read-noise densities, forward and backward (transposed).
    relative_forward: Vec<Option<PackedMat<T>>>,
    relative_backward_t: Vec<Option<PackedMat<T>>>,
}

pub(super) fn clip<T: Real>(v: T, r: T) -> T {
    if v > r {
        r
    } else if v < -r {
        -r
    } else {
        v
    }
}

fn cast<T: Real>(m: &DMatrix<f64>) -> DMatrix<T> {
    m.map(T::of_f64)
}
