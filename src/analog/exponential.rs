//! The exponential integrator of the analog circuit (docs/circuit-model.md, "The exponential
//! scheme"): the linear fast states are advanced exactly over a step, the slow value nodes by
//! an explicit second-order rule that sees the fast states' exact mean over the step.
//!
//! For frozen value nodes an error node obeys the linear equation de/ds = r (u - e) with
//! r = tau_z / tau_e and u = eps(z) its input. Over a step of h (in units of tau_z), with u
//! moving linearly from u_0 to u_1 = u_0 + delta and x = r h,
//!
//! ```text
//! e(h)        = E e_0 + (1 - E) u_0 + (1 - phi_1) delta              E = exp(-x)
//! mean_[0,h] e = u_0 + phi_1 (e_0 - u_0) + (1/2 - phi_2) delta
//! ```
//!
//! with phi_1 = phi_1(-x) = (1 - E) / x and phi_2 = phi_2(-x) = (1 - phi_1) / x, exactly. The
//! value nodes' drive is linear in the error outputs (dz/ds = A(z) e + g(z)), so the drive
//! evaluated at the mean error output is the drive averaged over the step for frozen z. The
//! step is a predictor-corrector on that:
//!
//! ```text
//! stage 1:  u_0 = eps(z_n);  m_1 = u_0 + phi_1 (e_n - u_0);  d_1 = drive(z_n, m_1)
//!           z~ = z_n + h d_1
//! stage 2:  delta = eps(z~) - u_0;  d_2 = drive(z~, m_1 + (1 - 2 phi_2) delta)
//!           z_{n+1} = z_n + h/2 (d_1 + d_2);  e_{n+1} = e(h) above
//! ```
//!
//! Second order in h whatever x (with A constant it integrates the mean exactly; the
//! variation of A over the step costs O(h^3) locally). With algebraic error nodes (tau_e = 0,
//! x = inf) it is Heun's method. `z~` is the embedded first-order solution: their difference
//! estimates the local error of an adaptive step. The error nodes need no estimate: they are
//! exact for the input's linear course, and the error that course leaves is the value nodes'
//! (`(1 - phi_1) delta`, the input's change over the step, is not an error, and controlling
//! on it held steps far below what the value nodes needed).
//!
//! Noise: an error node's white input noise (density S) makes it an Ornstein–Uhlenbeck
//! process; over a step of Delta seconds its end value and its step mean are jointly Gaussian,
//! drawn exactly (two standard normals per node and step) with, in units of q = S / (2 Delta)
//! (the variance of the Euler–Maruyama sample),
//!
//! ```text
//! Var end = x (1 - E^2) / 2,  Cov = (1 - E)^2 / 2,
//! Var mean = 1 - 2 (1 - E) / x + (1 - E^2) / (2 x) = sum_{k>=2} (-1)^k (2^k - 2) x^k / (k+1)!
//! ```
//!
//! so the value nodes integrate the error nodes' noise with its exact variance even when a
//! step spans many tau_e (exponential Euler–Maruyama for the fast part). The value nodes' own
//! noise enters both stages with the same sample, as in stochastic Heun.
//!
//! Further linear fast states (an amplifier's pole, a line's RC) join by adding a group with
//! its own rate: [`ExactLinear`] holds the coefficients of one rate and step.
//!
//! # Reference
//! Hochbruck & Ostermann, "Exponential integrators", Acta Numerica 19 (2010) 209–286, §2.2
//! (the phi functions, exponential Runge–Kutta of order two); Gardiner, "Stochastic Methods",
//! 4th ed., §3.8.4 (the Ornstein–Uhlenbeck process and its integral).

use super::circuit::AnalogCircuit;
use super::flow::{noisy_error_inputs, ChunkFlow};
use crate::numeric::Real;

/// The coefficients that advance a linear state of rate r exactly over a step h, x = r h
/// (x = inf: an algebraic state that follows its input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExactLinear {
    /// exp(-x).
    pub decay: f64,
    /// phi_1(-x) = (1 - exp(-x)) / x.
    pub phi1: f64,
    /// phi_2(-x) = (1 - phi_1(-x)) / x.
    pub phi2: f64,
    /// The standard deviations of the Ornstein–Uhlenbeck noise over the step in units of the
    /// Euler–Maruyama sample: end value `end * xi_1`, step mean `mean_1 * xi_1 + mean_2 * xi_2`.
    pub noise_end: f64,
    pub noise_mean_1: f64,
    pub noise_mean_2: f64,
}

impl ExactLinear {
    /// The coefficients for x = r h >= 0 (inf allowed).
    pub fn new(x: f64) -> Self {
        if x.is_infinite() {
            return ExactLinear {
                decay: 0.0,
                phi1: 0.0,
                phi2: 0.0,
                noise_end: 0.0,
                noise_mean_1: 1.0,
                noise_mean_2: 0.0,
            };
        }
        let one_minus_e = -(-x).exp_m1();
        let (phi1, phi2) = if x < 1e-3 {
            // Taylor series: phi_1 = sum (-x)^k / (k+1)!, phi_2 = sum (-x)^k / (k+2)!.
            (
                1.0 - x / 2.0 + x * x / 6.0 - x * x * x / 24.0,
                0.5 - x / 6.0 + x * x / 24.0 - x * x * x / 120.0,
            )
        } else {
            let p1 = one_minus_e / x;
            (p1, (1.0 - p1) / x)
        };
        let (var_end, cov, var_mean) = ou_moments(x);
        let end = var_end.sqrt();
        let m1 = if end > 0.0 { cov / end } else { 0.0 };
        ExactLinear {
            decay: 1.0 - one_minus_e,
            phi1,
            phi2,
            noise_end: end,
            noise_mean_1: m1,
            noise_mean_2: (var_mean - m1 * m1).max(0.0).sqrt(),
        }
    }
}

/// (Var end, Cov(end, mean), Var mean) of an Ornstein–Uhlenbeck node of rate r over a step h,
/// x = r h, driven by white noise whose Euler–Maruyama sample over the step has variance 1.
pub fn ou_moments(x: f64) -> (f64, f64, f64) {
    let one_minus_e = -(-x).exp_m1();
    let one_minus_e2 = -(-2.0 * x).exp_m1();
    let var_mean = if x < 1.0 {
        // sum_{k>=2} (-1)^k (2^k - 2) x^k / (k+1)!: the closed form cancels to x^2 / 3.
        let (mut sum, mut pow2, mut term) = (0.0, 2.0, -x / 2.0);
        for k in 2..40 {
            pow2 *= 2.0;
            term *= -x / (k + 1) as f64;
            sum += (pow2 - 2.0) * term;
        }
        sum
    } else {
        1.0 - 2.0 * one_minus_e / x + one_minus_e2 / (2.0 * x)
    };
    (
        x * one_minus_e2 / 2.0,
        one_minus_e * one_minus_e / 2.0,
        var_mean,
    )
}

/// Buffers and per-entry coefficients of the pole states on one chunk (a circuit with
/// poles; its step is `Exponential::step_with_lags`).
pub(super) struct LagStep<T: Real> {
    /// The step the coefficients are for.
    pub(super) h: f64,
    /// Coefficients for the current step: forward TIAs (error layout), backward TIAs (value
    /// layout), the error amplifiers' stage, the integrators' outputs.
    pub(super) p: Vec<ExactLinear>,
    pub(super) q: Vec<ExactLinear>,
    /// The TIAs' second poles (infinite rates pass their input through).
    pub(super) p2: Vec<ExactLinear>,
    pub(super) q2: Vec<ExactLinear>,
    pub(super) a: ExactLinear,
    pub(super) zo: ExactLinear,
    /// Inputs at the step's start: TIAs, error stage, error nodes, backward TIAs.
    pub(super) up0: Vec<T>,
    /// The forward TIAs' second poles' inputs at the step's start (the first's outputs).
    pub(super) up20: Vec<T>,
    pub(super) ua0: Vec<T>,
    pub(super) ue0: Vec<T>,
    pub(super) uq0: Vec<T>,
    /// Inputs at the predicted end.
    pub(super) up1: Vec<T>,
    /// Scratch for the second poles' inputs at the predicted end (every pole ideal there).
    pub(super) up21: Vec<T>,
    pub(super) ua1: Vec<T>,
    /// Stage means of the backward TIAs and the integrators' outputs.
    pub(super) qm: Vec<T>,
    pub(super) zom: Vec<T>,
    /// Scratch for drive evaluations that only fill the backward TIAs' inputs.
    pub(super) dz: Vec<T>,
    pub(super) drive: Vec<T>,
}

/// Independent running maxima of the error estimate (one AVX2 vector of f64).
const LANES: usize = 4;

/// Buffers of the exponential scheme on one chunk.
pub struct Exponential<T: Real> {
    /// The step the coefficients were computed for, and the error nodes' coefficients.
    pub(super) h: f64,
    pub(super) coef: ExactLinear,
    /// Per layer: the error nodes' inputs u_0 at the step's start, and the step-mean sample.
    pub(super) u0: Vec<Vec<T>>,
    pub(super) mean: Vec<Vec<T>>,
    pub(super) d1: Vec<T>,
    pub(super) d2: Vec<T>,
    pub(super) z_pred: Vec<T>,
    /// The amplifiers' pole states' buffers (a circuit with poles).
    pub(super) lags: Option<LagStep<T>>,
    /// The last step's local error in the weighted max norm (see `Exponential::step`).
    pub error: f64,
    /// The last step's estimate of the value nodes' largest rate (units of 1 / tau_z):
    /// max|d_2 - d_1| / (h max|d_1|), the Jacobian along the step (Shampine's stiffness
    /// estimate). The explicit value-node part is stable for h times the rate below 2.
    pub stiffness: f64,
}

/// Weights of the local error: |err_i| / (atol + rtol |x_i|).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl<T: Real> Exponential<T> {
    pub fn new(circ: &AnalogCircuit<T>, batch: usize) -> Self {
        let nz = circ.value_layout(batch).len();
        let w = &circ.widths;
        Exponential {
            h: f64::NAN,
            coef: ExactLinear::new(f64::INFINITY),
            u0: (1..w.len())
                .map(|l| vec![T::zero(); w[l] * batch])
                .collect(),
            mean: (1..w.len())
                .map(|l| vec![T::zero(); w[l] * batch])
                .collect(),
            d1: vec![T::zero(); nz],
            d2: vec![T::zero(); nz],
            z_pred: vec![T::zero(); nz],
            lags: circ.poles.is_some().then(|| LagStep::new(circ, batch)),
            error: 0.0,
            stiffness: 0.0,
        }
    }

    /// Advances `state` (value nodes, then the error nodes when dynamic) by `h` (units of
    /// tau_z) in place. The noise sample, when the flow has one, holds the step's standard
    /// normals (paired for the error nodes). Leaves in `flow.ws` the activations and error
    /// outputs of the state the step started from and in `flow.drive` max|dz/ds| there; with
    /// `tol`, the local error estimate goes to [`Exponential::error`].
    pub(super) fn step(
        &mut self,
        flow: &mut ChunkFlow<'_, T>,
        h: f64,
        state: &mut [T],
        tol: Option<Tolerance>,
    ) {
        let circ = flow.circ;
        if h != self.h {
            let rate = if circ.dynamic_errors() {
                circ.tau_z_seconds / circ.tau_e_seconds
            } else {
                f64::INFINITY
            };
            self.coef = ExactLinear::new(rate * h);
            self.h = h;
        }
        if self.lags.is_some() {
            return self.step_with_lags(flow, h, state, tol);
        }
        let nz = self.d1.len();
        let (z, e) = state.split_at_mut(nz);
        self.stage_start(flow, z, e);
        self.predict(circ, z, h);
        self.stage_end(flow, e);
        self.correct(z, h, tol);
        circ.clamp(state);
        flow.evals += 2;
    }

    /// The predictor `z~ = z_n + h d_1`, within the rails.
    pub(super) fn predict(&mut self, circ: &AnalogCircuit<T>, z: &[T], h: f64) {
        let ht = T::of_f64(h);
        for ((p, &zi), &d) in self.z_pred.iter_mut().zip(z.iter()).zip(&self.d1) {
            *p = zi + ht * d;
        }
        circ.clamp(&mut self.z_pred);
    }

    /// The corrector `z += h/2 (d_1 + d_2)`, with the error estimate when `tol` is given.
    pub(super) fn correct(&mut self, z: &mut [T], h: f64, tol: Option<Tolerance>) {
        let half = T::of_f64(h / 2.0);
        match tol {
            Some(t) => self.correct_and_estimate(z, half, h, t),
            None => {
                for ((zi, &d1), &d2) in z.iter_mut().zip(&self.d1).zip(&self.d2) {
                    *zi += half * (d1 + d2);
                }
            }
        }
    }

    /// The corrector `z += h/2 (d_1 + d_2)` with, in the same pass, the local error against the
    /// embedded `z~` ([`Exponential::error`]) and the stiffness estimate
    /// ([`Exponential::stiffness`]). The maxima skip NaN (`x > m` is false for it), as
    /// `f64::max` does; they run in [`LANES`] independent lanes, which compile to vector maxima
    /// (a single running maximum is a serial chain).
    fn correct_and_estimate(&mut self, z: &mut [T], half: T, h: f64, t: Tolerance) {
        let larger = |m: f64, x: f64| if x > m { x } else { m };
        // Per lane: max|d_2 - d_1|, max|d_1|, the weighted error.
        let mut acc = [[0.0f64; LANES]; 3];
        let mut update = |j: usize, zi: &mut T, p: T, d1: T, d2: T| {
            *zi += half * (d1 + d2);
            acc[0][j] = larger(acc[0][j], (d2 - d1).to_f64().abs());
            acc[1][j] = larger(acc[1][j], d1.to_f64().abs());
            let (zn, pn) = (zi.to_f64(), p.to_f64());
            let w = t.atol + t.rtol * larger(zn.abs(), pn.abs());
            acc[2][j] = larger(acc[2][j], (zn - pn).abs() / w);
        };
        let mut zc = z.chunks_exact_mut(LANES);
        let mut pc = self.z_pred.chunks_exact(LANES);
        let mut ac = self.d1.chunks_exact(LANES);
        let mut bc = self.d2.chunks_exact(LANES);
        for (((zs, ps), d1s), d2s) in (&mut zc).zip(&mut pc).zip(&mut ac).zip(&mut bc) {
            for j in 0..LANES {
                update(j, &mut zs[j], ps[j], d1s[j], d2s[j]);
            }
        }
        let rest = zc.into_remainder().iter_mut().zip(pc.remainder());
        for ((zi, &p), (&d1, &d2)) in rest.zip(ac.remainder().iter().zip(bc.remainder())) {
            update(0, zi, p, d1, d2);
        }
        let max = |lanes: &[f64; LANES]| lanes.iter().fold(0.0f64, |m, &x| larger(m, x));
        let (dd, d1_max) = (max(&acc[0]), max(&acc[1]));
        self.stiffness = if d1_max > 0.0 { dd / (h * d1_max) } else { 0.0 };
        self.error = max(&acc[2]);
    }

    /// Stage 1 at (z_n, e_n): u_0 = eps(z_n), the noise scaled at this state, the mean error
    /// output m_1 and d_1 = drive(z_n, m_1); `flow.ws.eps` is left holding e_n.
    fn stage_start(&mut self, flow: &mut ChunkFlow<'_, T>, z: &[T], e: &[T]) {
        let circ = flow.circ;
        let ChunkFlow {
            x,
            y,
            ws,
            noise,
            drive,
            ..
        } = flow;
        noisy_error_inputs(circ, ws, (x, y), z, noise.as_ref());
        for (u, eps) in self.u0.iter_mut().zip(&ws.eps) {
            u.copy_from_slice(eps);
        }
        let el = circ.error_layout(ws.batch);
        // The error outputs at the start: the states, or the (clipped) inputs when algebraic.
        for l in 1..=circ.n_layers() {
            if circ.dynamic_errors() {
                ws.eps[l - 1].copy_from_slice(&e[el.range(l)]);
            }
            circ.clamp(&mut ws.eps[l - 1]);
        }
        if let Some(ns) = noise.as_mut() {
            circ.scale_noise(ws, x, ns);
        }
        let c = self.coef;
        for l in 1..=circ.n_layers() {
            let (m, u0, start) = (&mut self.mean[l - 1], &self.u0[l - 1], &ws.eps[l - 1]);
            let phi1 = T::of_f64(c.phi1);
            for ((v, &u), &s) in m.iter_mut().zip(u0).zip(start) {
                *v = u + phi1 * (s - u);
            }
            if let Some(ns) = noise.as_ref() {
                add_mean_noise(m, &ns.e[l - 1], &ns.e_mean[l - 1], c);
            }
            circ.clamp(m);
        }
        // The drive at the mean outputs; the start outputs return to `ws.eps` afterwards.
        std::mem::swap(&mut ws.eps, &mut self.mean);
        circ.drive(ws, z, noise.as_ref(), None, &mut self.d1, drive);
        std::mem::swap(&mut ws.eps, &mut self.mean);
    }

    /// Stage 2 at z~: delta = eps(z~) - u_0, d_2 = drive(z~, m_1 + (1 - 2 phi_2) delta), and
    /// the error nodes advanced exactly (`e`, dynamic nodes only).
    fn stage_end(&mut self, flow: &mut ChunkFlow<'_, T>, e: &mut [T]) {
        let circ = flow.circ;
        let ChunkFlow {
            x,
            y,
            ws,
            ws2,
            noise,
            drive_scratch,
            ..
        } = flow;
        noisy_error_inputs(circ, ws2, (x, y), &self.z_pred, noise.as_ref());
        let c = self.coef;
        let el = circ.error_layout(ws2.batch);
        for l in 1..=circ.n_layers() {
            let (u0, u1) = (&self.u0[l - 1], &mut ws2.eps[l - 1]);
            let start = &ws.eps[l - 1];
            let e_l = if circ.dynamic_errors() {
                &mut e[el.range(l)]
            } else {
                &mut []
            };
            let (decay, fill, lag) = (
                T::of_f64(c.decay),
                T::of_f64(1.0 - c.decay),
                T::of_f64(1.0 - c.phi1),
            );
            for ((v, &u), &u_end) in e_l.iter_mut().zip(u0).zip(u1.iter()) {
                let delta = u_end - u;
                *v = decay * *v + fill * u + lag * delta;
            }
            if let Some(ns) = noise.as_ref() {
                for (v, &n1) in e_l.iter_mut().zip(&ns.e[l - 1]) {
                    *v += T::of_f64(c.noise_end) * n1;
                }
            }
            let (phi1, slope) = (T::of_f64(c.phi1), T::of_f64(1.0 - 2.0 * c.phi2));
            for ((v, &u), &s) in u1.iter_mut().zip(u0).zip(start) {
                let delta = *v - u;
                *v = u + phi1 * (s - u) + slope * delta;
            }
            if let Some(ns) = noise.as_ref() {
                add_mean_noise(u1, &ns.e[l - 1], &ns.e_mean[l - 1], c);
            }
            circ.clamp(u1);
        }
        circ.drive(
            ws2,
            &self.z_pred,
            noise.as_ref(),
            None,
            &mut self.d2,
            drive_scratch,
        );
    }
}

/// Adds the step-mean part of a paired Ornstein–Uhlenbeck sample (`n1`, `n2` scaled to the
/// Euler–Maruyama amplitude) to the mean error outputs `m`.
pub(super) fn add_mean_noise<T: Real>(m: &mut [T], n1: &[T], n2: &[T], c: ExactLinear) {
    let (a, b) = (T::of_f64(c.noise_mean_1), T::of_f64(c.noise_mean_2));
    for (i, v) in m.iter_mut().enumerate() {
        *v += a * n1[i] + b * n2[i];
    }
}
