//! The amplifiers' poles in the analog circuit ([`super::poles`]): the poles of a design's
//! amplifiers, and the circuit's right-hand side, initial state and outputs with them.

use super::circuit::{clip, AnalogCircuit, CircuitWorkspace, DriveLags, LayerCircuit, NoiseSample};
use super::poles::{closed_loop_time_constant, split, split_mut, AmplifierPoles, LagRates};
use crate::numeric::Real;
use std::sync::Arc;

impl AmplifierPoles {
    /// The poles of a design's amplifiers of gain-bandwidth `gbw` (hertz) and open-loop gain
    /// `gain`, with the TIAs' time constants of its `layers`; `None` when every amplifier
    /// responds instantly. A stage without a pole has an infinite rate (it follows its input).
    pub fn of_layers<T: Real>(
        layers: &[LayerCircuit<T>],
        gbw: Option<f64>,
        gain: Option<f64>,
        tau_z: f64,
    ) -> Option<Self> {
        if gbw.is_none() && layers.iter().all(|l| l.lag_forward_seconds.is_empty()) {
            return None;
        }
        // A TIA's two poles as rates (a time constant of 0, or none, is an infinite rate).
        let rate = |t: f64| if t > 0.0 { tau_z / t } else { f64::INFINITY };
        let rates = |taus: &[(f64, f64)], n: usize, second: bool| -> Vec<f64> {
            if taus.is_empty() {
                vec![f64::INFINITY; n]
            } else {
                taus.iter()
                    .map(|&(t1, t2)| rate(if second { t2 } else { t1 }))
                    .collect()
            }
        };
        let stage = |noise_gain: f64| {
            gbw.map_or(f64::INFINITY, |g| {
                tau_z / closed_loop_time_constant(g, gain, noise_gain)
            })
        };
        let forward = |second| {
            layers
                .iter()
                .map(|l| rates(&l.lag_forward_seconds, l.outputs, second))
                .collect()
        };
        let backward = |second| {
            layers[1..]
                .iter()
                .map(|l| rates(&l.lag_backward_seconds, l.inputs, second))
                .collect()
        };
        Some(AmplifierPoles {
            forward: forward(false),
            forward2: forward(true),
            error: stage(2.0),
            backward: backward(false),
            backward2: backward(true),
            integrator: stage(1.0),
        })
    }
}

/// The output a stage of `rate` presents: its lagging state, or its ideal value when it has
/// no pole (an infinite rate).
#[inline]
fn presented<T: Real>(rate: f64, ideal: T, state: Option<T>) -> T {
    match state {
        Some(s) if rate.is_finite() => s,
        _ => ideal,
    }
}

/// `v[rg]`, when there is a `v`.
fn at<'a, T>(v: Option<&'a [T]>, rg: &std::ops::Range<usize>) -> Option<&'a [T]> {
    v.map(|v| &v[rg.clone()])
}

/// The forward TIAs' pole states and the error stages' (`None`: their ideal outputs).
pub(super) type ForwardStates<'a, T> = (Option<&'a [T]>, Option<&'a [T]>, Option<&'a [T]>);

/// The backward TIAs' presented outputs into `out` (value layout): each TIA's second pole
/// state, or its first when it has one pole.
pub(super) fn backward_outputs<T: Real>(rates: &LagRates, q: &[T], q2: &[T], out: &mut [T]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = presented(rates.backward2[k], q[k], Some(q2[k]));
    }
}

/// `d <- rate (d - y)`: the derivative of lags whose inputs are in `d` (0 without a pole).
fn into_derivative<T: Real>(rates: impl Iterator<Item = f64>, y: &[T], d: &mut [T]) {
    for ((d, r), &y) in d.iter_mut().zip(rates).zip(y) {
        *d = if r.is_finite() {
            T::of_f64(r) * (*d - y)
        } else {
            T::zero()
        };
    }
}

impl<T: Real> AnalogCircuit<T> {
    /// After [`AnalogCircuit::errors`] at the integrators' outputs: each forward TIA's ideal
    /// output `clip(pred + o^f)` into `u_p`, its first pole's presented output (the second
    /// pole's input) into `u_p2`, the error signal moved to the TIA's presented output
    /// (`eps += c_e (ideal - p)`), `ws.pred` to that output less its offset; then the error
    /// amplifiers' ideal stage output (the error signal) into `u_a`, and `ws.eps` set to the
    /// stage's presented output. `p`, `p2`, `a`: the pole states (`None`: the ideal outputs).
    pub(super) fn forward_lags(
        &self,
        ws: &mut CircuitWorkspace<T>,
        rates: &LagRates,
        (p, p2, a): ForwardStates<'_, T>,
        (u_p, u_p2, u_a): (&mut [T], &mut [T], &mut [T]),
    ) {
        let el = self.error_layout(ws.batch);
        let ce = T::of_f64(self.error_gain);
        for l in 1..=self.n_layers() {
            let lc = &self.layers[l - 1];
            let n = lc.outputs;
            let rg = el.range(l);
            let (pred, eps) = (&mut ws.pred[l - 1], &mut ws.eps[l - 1]);
            let (rp, rp2) = (&rates.forward[rg.clone()], &rates.forward2[rg.clone()]);
            let (up, up2) = (&mut u_p[rg.clone()], &mut u_p2[rg.clone()]);
            let ua = &mut u_a[rg.clone()];
            let (p, p2, a) = (at(p, &rg), at(p2, &rg), at(a, &rg));
            for k in 0..eps.len() {
                let of = lc.offset_forward[k % n];
                let mut ideal = pred[k] + of;
                if let Some(r) = self.rail {
                    ideal = clip(ideal, r);
                }
                up[k] = ideal;
                let first = presented(rp[k], ideal, p.map(|v| v[k]));
                up2[k] = first;
                let out = presented(rp2[k], first, p2.map(|v| v[k]));
                eps[k] += ce * (ideal - out);
                pred[k] = out - of;
                ua[k] = eps[k];
                eps[k] = presented(rates.error, eps[k], a.map(|v| v[k]));
            }
        }
    }

    /// Where the integrators' outputs sit in a state of `batch` samples: the value nodes, or
    /// the pole states' last block when the integrators have a pole.
    pub fn output_range(&self, batch: usize) -> std::ops::Range<usize> {
        let nz = self.value_layout(batch).len();
        match &self.poles {
            Some(p) if p.integrator.is_finite() => {
                let end = self.state_len(batch);
                end - nz..end
            }
            _ => 0..nz,
        }
    }

    /// The derivatives of a circuit with poles (state: value nodes, error nodes when dynamic,
    /// pole states), as [`AnalogCircuit::rhs`].
    pub(super) fn rhs_with_lags(
        &self,
        ws: &mut CircuitWorkspace<T>,
        (x, y): (&[T], &[T]),
        state: &[T],
        mut noise: Option<&mut NoiseSample<T>>,
        out: &mut [T],
        max_drive: &mut [T],
    ) {
        let b = ws.batch;
        let rates = Arc::clone(
            ws.lags
                .as_ref()
                .expect("a workspace of a circuit with poles"),
        );
        let (nz, ne) = (self.value_layout(b).len(), self.error_state_len(b));
        let (z, rest) = state.split_at(nz);
        let (e_state, lag_state) = rest.split_at(ne);
        let (dz, rest) = out.split_at_mut(nz);
        let (de, dlag) = rest.split_at_mut(ne);
        let g = split(lag_state, rates.n_error, rates.n_value);
        let d = split_mut(dlag, rates.n_error, rates.n_value);
        let zo = rates.integrator.is_finite().then_some(g.zo);
        self.errors(ws, x, y, zo.unwrap_or(z), noise.as_deref_mut());
        let states = (Some(g.p), Some(g.p2), Some(g.a));
        self.forward_lags(ws, &rates, states, (&mut *d.p, &mut *d.p2, &mut *d.a));
        into_derivative(rates.forward.iter().copied(), g.p, d.p);
        into_derivative(rates.forward2.iter().copied(), g.p2, d.p2);
        into_derivative(std::iter::repeat(rates.error), g.a, d.a);
        self.error_outputs(ws, e_state, de);
        if let Some(ns) = noise.as_deref_mut() {
            if !ns.scaled_z {
                self.scale_noise(ws, x, ns);
            }
        }
        let mut q_out = std::mem::take(&mut ws.q_out);
        backward_outputs(&rates, g.q, g.q2, &mut q_out);
        let lags = DriveLags {
            q: Some(&q_out),
            zo,
        };
        self.drive(ws, z, noise.as_deref(), Some(lags), dz, max_drive);
        ws.q_out = q_out;
        d.q.copy_from_slice(&ws.q_ideal);
        // The second pole's input: the first's presented output.
        for (k, v) in d.q2.iter_mut().enumerate() {
            *v = presented(rates.backward[k], ws.q_ideal[k], Some(g.q[k]));
        }
        into_derivative(rates.backward.iter().copied(), g.q, d.q);
        into_derivative(rates.backward2.iter().copied(), g.q2, d.q2);
        d.zo.copy_from_slice(z);
        into_derivative(std::iter::repeat(rates.integrator), g.zo, d.zo);
    }

    /// The pole states of `state` (whose value nodes hold the feedforward pass) at rest: every
    /// amplifier at its ideal output, the error nodes (when dynamic) at theirs.
    pub(super) fn initial_lags(&self, x: &[T], y: &[T], batch: usize, state: &mut [T]) {
        let mut ws = self.workspace(batch);
        let rates = Arc::clone(
            ws.lags
                .as_ref()
                .expect("a workspace of a circuit with poles"),
        );
        let (nz, ne) = (self.value_layout(batch).len(), self.error_state_len(batch));
        let (z, rest) = state.split_at_mut(nz);
        let (e_state, lag_state) = rest.split_at_mut(ne);
        let g = split_mut(lag_state, rates.n_error, rates.n_value);
        self.errors(&mut ws, x, y, z, None);
        let ideal = (None, None, None);
        self.forward_lags(&mut ws, &rates, ideal, (&mut *g.p, &mut *g.p2, &mut *g.a));
        let el = self.error_layout(batch);
        for l in 1..=self.n_layers() {
            if ne > 0 {
                e_state[el.range(l)].copy_from_slice(&ws.eps[l - 1]);
            }
            self.clamp(&mut ws.eps[l - 1]);
        }
        let (mut dz, mut drive) = (vec![T::zero(); nz], vec![T::zero(); batch]);
        let lags = DriveLags { q: None, zo: None };
        self.drive(&mut ws, z, None, Some(lags), &mut dz, &mut drive);
        g.q.copy_from_slice(&ws.q_ideal);
        g.q2.copy_from_slice(&ws.q_ideal);
        g.zo.copy_from_slice(z);
    }
}
