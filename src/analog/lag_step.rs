//! The exponential scheme's step of a circuit whose amplifiers have poles
//! (docs/circuit-model.md, "Amplifier poles"; [`super::poles`]).
//!
//! Every pole is a linear fast state `dy/ds = r (u - y)`, as an error node is: over a step its
//! end value and its mean are those of [`ExactLinear`] for an input moving linearly from its
//! value at the step's start `u_0` to its value at the predicted end `u_1`:
//! `y(h) = E y_0 + (1 - E) u_0 + (1 - phi_1) delta`, the stage means
//! `u_0 + phi_1 (y_0 - u_0)` (start) and `... + (1 - 2 phi_2) delta` (end). The states form a
//! chain — the integrators' outputs lag their capacitors, the forward TIAs read them, the error
//! amplifiers' stage reads the TIAs, the tau_e low-pass reads the stage, the backward TIAs read
//! the errors — so each input at the predicted end is evaluated at the end values of the
//! states before it in the chain. Each pole is exact for its own decay (stable whatever `r h`)
//! and the step stays second order, as the error nodes' (Hochbruck & Ostermann, Acta Numerica
//! 2010, §2.2). The value nodes (the capacitors) take the predictor-corrector of
//! [`super::exponential`], with the drive at the stage means of the errors, the backward TIAs
//! and the integrators' outputs.

use super::circuit::{AnalogCircuit, DriveLags};
use super::exponential::{add_mean_noise, ExactLinear, Exponential, LagStep, Tolerance};
use super::flow::{noisy_error_inputs, ChunkFlow};
use super::poles::split_mut;
use crate::numeric::Real;

/// `(end, stage-2 mean)` of a lag from `y0` with inputs `u0` at the start and `u1` at the end.
#[inline]
fn end_and_mean<T: Real>(c: &ExactLinear, y0: T, u0: T, u1: T) -> (T, T) {
    let delta = u1 - u0;
    let end =
        T::of_f64(c.decay) * y0 + T::of_f64(1.0 - c.decay) * u0 + T::of_f64(1.0 - c.phi1) * delta;
    let mean = u0 + T::of_f64(c.phi1) * (y0 - u0) + T::of_f64(1.0 - 2.0 * c.phi2) * delta;
    (end, mean)
}

/// The stage-1 mean of a lag from `y0` with input `u0`.
#[inline]
fn start_mean<T: Real>(c: &ExactLinear, y0: T, u0: T) -> T {
    u0 + T::of_f64(c.phi1) * (y0 - u0)
}

impl<T: Real> LagStep<T> {
    pub(super) fn new(circ: &AnalogCircuit<T>, batch: usize) -> Self {
        let ne = circ.error_layout(batch).len();
        let nz = circ.value_layout(batch).len();
        let inf = ExactLinear::new(f64::INFINITY);
        LagStep {
            h: f64::NAN,
            p: vec![inf; ne],
            q: vec![inf; nz],
            p2: vec![inf; ne],
            q2: vec![inf; nz],
            a: inf,
            zo: inf,
            up0: vec![T::zero(); ne],
            up20: vec![T::zero(); ne],
            ua0: vec![T::zero(); ne],
            ue0: vec![T::zero(); ne],
            uq0: vec![T::zero(); nz],
            up1: vec![T::zero(); ne],
            up21: vec![T::zero(); ne],
            ua1: vec![T::zero(); ne],
            qm: vec![T::zero(); nz],
            zom: vec![T::zero(); nz],
            dz: vec![T::zero(); nz],
            drive: vec![T::zero(); batch],
        }
    }
}

/// The pole states, by block.
type States<'a, T> = super::poles::Lags<&'a mut [T]>;

impl<T: Real> Exponential<T> {
    /// [`Exponential::step`] of a circuit with poles (`self.coef` already holds the error
    /// nodes' coefficients for `h`).
    pub(super) fn step_with_lags(
        &mut self,
        flow: &mut ChunkFlow<'_, T>,
        h: f64,
        state: &mut [T],
        tol: Option<Tolerance>,
    ) {
        let circ = flow.circ;
        let mut lg = self.lags.take().expect("a circuit with poles");
        let rates = std::sync::Arc::clone(flow.ws.lags.as_ref().expect("poles"));
        if h != lg.h {
            let coefficients = |r: &[f64]| r.iter().map(|r| ExactLinear::new(r * h)).collect();
            lg.p = coefficients(&rates.forward);
            lg.p2 = coefficients(&rates.forward2);
            lg.q = coefficients(&rates.backward);
            lg.q2 = coefficients(&rates.backward2);
            lg.a = ExactLinear::new(rates.error * h);
            lg.zo = ExactLinear::new(rates.integrator * h);
            lg.h = h;
        }
        let b = flow.ws.batch;
        let (nz, ne) = (circ.value_layout(b).len(), circ.error_state_len(b));
        {
            let (z, rest) = state.split_at_mut(nz);
            let (e, lag_state) = rest.split_at_mut(ne);
            let mut g = split_mut(lag_state, rates.n_error, rates.n_value);
            self.lag_stage_start(flow, &mut lg, z, e, &mut g);
            self.predict(circ, z, h);
            self.lag_stage_end(flow, &mut lg, z, e, &mut g);
            self.correct(z, h, tol);
        }
        circ.clamp(state);
        flow.evals += 4;
        self.lags = Some(lg);
    }

    /// Stage 1 at the step's start: every pole's input `u_0`, the stage means of the errors
    /// (into `self.mean`), the backward TIAs and the integrators' outputs, and
    /// `d_1 = drive(z_n, means)`; `flow.ws.eps` is left holding the start's error outputs.
    fn lag_stage_start(
        &mut self,
        flow: &mut ChunkFlow<'_, T>,
        lg: &mut LagStep<T>,
        z: &[T],
        e: &[T],
        g: &mut States<'_, T>,
    ) {
        let circ = flow.circ;
        let ChunkFlow {
            x,
            y,
            ws,
            noise,
            drive,
            ..
        } = flow;
        let rates = std::sync::Arc::clone(ws.lags.as_ref().expect("poles"));
        let zo_lags = rates.integrator.is_finite();
        let z_out: &[T] = if zo_lags { &g.zo[..] } else { z };
        noisy_error_inputs(circ, ws, (x, y), z_out, noise.as_ref());
        let lags = (Some(&*g.p), Some(&*g.p2), Some(&*g.a));
        circ.forward_lags(ws, &rates, lags, (&mut lg.up0, &mut lg.up20, &mut lg.ua0));
        let el = circ.error_layout(ws.batch);
        let dynamic = circ.dynamic_errors();
        for l in 1..=circ.n_layers() {
            let rg = el.range(l);
            lg.ue0[rg.clone()].copy_from_slice(&ws.eps[l - 1]);
            if dynamic {
                ws.eps[l - 1].copy_from_slice(&e[rg]);
            }
            circ.clamp(&mut ws.eps[l - 1]);
        }
        // The backward TIAs' inputs at the start's errors.
        let at_start = DriveLags {
            q: None,
            zo: zo_lags.then_some(&*g.zo),
        };
        circ.drive(ws, z, None, Some(at_start), &mut lg.dz, &mut lg.drive);
        lg.uq0.copy_from_slice(&ws.q_ideal);
        if let Some(ns) = noise.as_mut() {
            circ.scale_noise(ws, x, ns);
        }
        for l in 1..=circ.n_layers() {
            let rg = el.range(l);
            let m = &mut self.mean[l - 1];
            for (k, v) in m.iter_mut().enumerate() {
                let j = rg.start + k;
                *v = if dynamic {
                    start_mean(&self.coef, ws.eps[l - 1][k], lg.ue0[j])
                } else {
                    // An algebraic error node is its stage's output: the stage's mean.
                    start_mean(&lg.a, g.a[j], lg.ua0[j])
                };
            }
            if let Some(ns) = noise.as_ref() {
                add_mean_noise(m, &ns.e[l - 1], &ns.e_mean[l - 1], self.coef);
            }
            circ.clamp(m);
        }
        // The TIA's two poles in series: the second's input held at the first's mean.
        for (k, v) in lg.qm.iter_mut().enumerate() {
            let first = start_mean(&lg.q[k], g.q[k], lg.uq0[k]);
            *v = start_mean(&lg.q2[k], g.q2[k], first);
        }
        for (k, v) in lg.zom.iter_mut().enumerate() {
            *v = start_mean(&lg.zo, g.zo[k], z[k]);
        }
        let means = DriveLags {
            q: Some(&lg.qm),
            zo: zo_lags.then_some(&lg.zom[..]),
        };
        std::mem::swap(&mut ws.eps, &mut self.mean);
        circ.drive(ws, z, noise.as_ref(), Some(means), &mut self.d1, drive);
        std::mem::swap(&mut ws.eps, &mut self.mean);
    }

    /// Stage 2 at the predicted end `self.z_pred`: each pole's input there (from the end
    /// values of the states before it in the chain), its end value (into the state) and stage
    /// mean, and `d_2 = drive(z~, means)`.
    fn lag_stage_end(
        &mut self,
        flow: &mut ChunkFlow<'_, T>,
        lg: &mut LagStep<T>,
        z: &[T],
        e: &mut [T],
        g: &mut States<'_, T>,
    ) {
        let circ = flow.circ;
        let ChunkFlow {
            x,
            y,
            ws2,
            noise,
            drive_scratch,
            ..
        } = flow;
        let rates = std::sync::Arc::clone(ws2.lags.as_ref().expect("poles"));
        let zo_lags = rates.integrator.is_finite();
        // The integrators' outputs, whose input is the capacitors' course z_n -> z~.
        for (k, v) in g.zo.iter_mut().enumerate() {
            let (end, mean) = end_and_mean(&lg.zo, *v, z[k], self.z_pred[k]);
            *v = end;
            lg.zom[k] = mean;
        }
        let z_out: &[T] = if zo_lags { &g.zo[..] } else { &self.z_pred };
        noisy_error_inputs(circ, ws2, (x, y), z_out, noise.as_ref());
        // The TIAs' ideal outputs there, then the error signal at their end values.
        let ideal = (None, None, None);
        circ.forward_lags(ws2, &rates, ideal, (&mut lg.up1, &mut lg.up21, &mut lg.ua1));
        let chain = Chain {
            circ,
            coef: self.coef,
            error_stage_lags: rates.error.is_finite(),
            noise: noise.as_ref(),
        };
        chain.advance_errors(lg, e, g, &mut ws2.eps);
        let el = circ.error_layout(ws2.batch);
        let dynamic = circ.dynamic_errors();
        // The backward TIAs' inputs at the errors' end values (the stage's end when algebraic),
        // with `self.mean` (the stage-1 means, spent) holding them while `ws2.eps` is swapped.
        for l in 1..=circ.n_layers() {
            let rg = el.range(l);
            let src: &[T] = if dynamic {
                &e[rg.clone()]
            } else {
                &g.a[rg.clone()]
            };
            self.mean[l - 1].copy_from_slice(src);
            circ.clamp(&mut self.mean[l - 1]);
        }
        std::mem::swap(&mut ws2.eps, &mut self.mean);
        let at_end = DriveLags {
            q: None,
            zo: zo_lags.then_some(&*g.zo),
        };
        circ.drive(
            ws2,
            &self.z_pred,
            None,
            Some(at_end),
            &mut lg.dz,
            &mut lg.drive,
        );
        for k in 0..g.q.len() {
            let q0 = g.q[k];
            let (end, mean) = end_and_mean(&lg.q[k], q0, lg.uq0[k], ws2.q_ideal[k]);
            g.q[k] = end;
            lg.qm[k] = mean;
            // The second pole's input moves from the first's start to its end.
            let (end2, mean2) = end_and_mean(&lg.q2[k], g.q2[k], q0, end);
            g.q2[k] = end2;
            if rates.backward2[k].is_finite() {
                lg.qm[k] = mean2;
            }
        }
        std::mem::swap(&mut ws2.eps, &mut self.mean);
        let means = DriveLags {
            q: Some(&lg.qm),
            zo: zo_lags.then_some(&lg.zom[..]),
        };
        circ.drive(
            ws2,
            &self.z_pred,
            noise.as_ref(),
            Some(means),
            &mut self.d2,
            drive_scratch,
        );
    }
}

/// What advancing the forward chain to the step's end needs.
struct Chain<'a, T: Real> {
    circ: &'a AnalogCircuit<T>,
    /// The error nodes' coefficients.
    coef: ExactLinear,
    /// Whether the error amplifiers' stage has a pole.
    error_stage_lags: bool,
    noise: Option<&'a super::circuit::NoiseSample<T>>,
}

impl<T: Real> Chain<'_, T> {
    /// The forward TIAs, the error stages and the error nodes advanced to the step's end
    /// (`g.p`, `g.a`, `e`), each from the end values before it, and the errors' stage-2 means
    /// into `eps` (which holds the error signal at the TIAs' ideal outputs on entry, and
    /// `lg.up1`, `lg.ua1` the TIAs' and stages' inputs there).
    fn advance_errors(
        &self,
        lg: &LagStep<T>,
        e: &mut [T],
        g: &mut States<'_, T>,
        eps: &mut [Vec<T>],
    ) {
        let circ = self.circ;
        let ce = T::of_f64(circ.error_gain);
        let el = circ.error_layout(lg.drive.len());
        let dynamic = circ.dynamic_errors();
        for l in 1..=circ.n_layers() {
            let rg = el.range(l);
            for (k, out) in eps[l - 1].iter_mut().enumerate() {
                let j = rg.start + k;
                let (p_end, _) = end_and_mean(&lg.p[j], g.p[j], lg.up0[j], lg.up1[j]);
                g.p[j] = p_end;
                // The second pole (an infinite rate passes the first's end through).
                let (out_end, _) = end_and_mean(&lg.p2[j], g.p2[j], lg.up20[j], p_end);
                g.p2[j] = out_end;
                let ua1 = lg.ua1[j] + ce * (lg.up1[j] - out_end);
                let (a_end, a_mean) = end_and_mean(&lg.a, g.a[j], lg.ua0[j], ua1);
                g.a[j] = a_end;
                let a_out = if self.error_stage_lags { a_end } else { ua1 };
                *out = if dynamic {
                    let (e_end, e_mean) = end_and_mean(&self.coef, e[j], lg.ue0[j], a_out);
                    e[j] = e_end;
                    e_mean
                } else {
                    a_mean
                };
            }
            if let Some(ns) = self.noise {
                if dynamic {
                    for (v, &n1) in e[rg.clone()].iter_mut().zip(&ns.e[l - 1]) {
                        *v += T::of_f64(self.coef.noise_end) * n1;
                    }
                }
                add_mean_noise(&mut eps[l - 1], &ns.e[l - 1], &ns.e_mean[l - 1], self.coef);
            }
            circ.clamp(&mut eps[l - 1]);
        }
    }
}
