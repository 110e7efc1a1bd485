//! The equilibrium by Newton-Krylov: Newton's method on g(z) = grad_z E_i = 0 over the free
//! activities of every sample, each linear step J d = -g solved inexactly by a Krylov method
//! on Jacobian-vector products ([`super::jacobian`]), then a backtracking line search.
//!
//! The energy is a sum over samples and sample i's gradient depends on its own activities
//! only, so J is block-diagonal and every sample is its own Newton problem: the Krylov scalars,
//! the forcing term, the step length and the stopping test are per sample, while each product
//! runs on the whole chunk with the network's batched GEMMs. A sample stops once
//! max|g_i| < tol, so its result does not depend on the other samples of its chunk.
//!
//! - Krylov method: conjugate gradients when J is the symmetric Hessian of the ideal network,
//!   stopped at the first direction of non-positive curvature (the iterate so far, or -g if
//!   it is the first, is then the step: a descent direction for E_i); BiCGSTAB when the
//!   backward reads have weights of their own (a mapped network), where J is not symmetric.
//! - Forcing term (Eisenstat & Walker): the linear residual is driven below
//!   eta |g_i| with eta = min(1/2, sqrt|g_i|), which makes the convergence superlinear, and
//!   never below tol / 10 (the 2-norm bounds the max-norm the stop looks at).
//! - Line search: from the full step, halve until E_i decreases by the Armijo fraction of
//!   the predicted decrease, or |g_i| decreases by that fraction without E_i increasing beyond
//!   rounding (near the solution the energy's change is below its rounding while the residual
//!   still falls quadratically). A mapped network has no energy its flow descends; there the
//!   residual alone decides.
//! - Fallback: a chunk whose samples are not all converged after the Newton budget, or whose
//!   line search fails, goes on with Dop853 from where Newton left it; the [`Fallback`] in the
//!   statistics says so and why.
//!
//! Computed in f64 whatever the network's precision, as the adaptive solvers are.
//!
//! # Reference
//! Nocedal & Wright, "Numerical Optimization", 2nd ed., §7.1 (line-search Newton-CG) and §3.1
//! (Armijo); Eisenstat & Walker, SIAM J. Sci. Comput. 17 (1996) 16 (forcing terms);
//! van der Vorst, SIAM J. Sci. Stat. Comput. 13 (1992) 631 (BiCGSTAB).

use super::adaptive;
use super::inference::{
    chunk_ranges, gather, scatter, Fallback, Inference, InferenceError, InferenceOptions,
    NewtonStats, NEWTON_CHUNK,
};
use super::jacobian::{Jacobian, JacobianWeights};
use crate::network::{Batch, Layout, Network, Workspace};
use crate::numeric::Real;
use rayon::prelude::*;
use std::ops::Range;

/// Krylov iterations per Newton step.
const MAX_KRYLOV: usize = 2000;
/// Step halvings before the line search gives up.
const MAX_BACKTRACKS: usize = 40;
/// The Armijo fraction of the predicted decrease a step must achieve.
const ARMIJO: f64 = 1e-4;
/// Relative rise of E_i attributed to rounding when the residual decides.
const ENERGY_ROUNDING: f64 = 1e-12;

/// Runs Newton-Krylov from `z0` (see the [module](self)).
pub(super) fn run<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
    z0: Vec<T>,
    max_iterations: usize,
    fallback_tolerances: (f64, f64),
    opts: &InferenceOptions,
) -> Result<Inference<T>, InferenceError> {
    let net = net.cast::<f64>();
    let batch = batch.cast::<f64>();
    let z0: Vec<f64> = z0.iter().map(|v| v.to_f64()).collect();
    let tol = opts.stop.tol.unwrap_or(1e-12);
    let weights = JacobianWeights::new(&net);
    let b = batch.size();
    let full = net.layout(b);
    let chunks = chunk_ranges(b, opts.chunk.unwrap_or(NEWTON_CHUNK));
    let solved: Vec<ChunkNewton> = chunks
        .par_iter()
        .map(|c| {
            let (d, o) = (net.widths()[0], full.width(full.n_free() + 1));
            let x = &batch.x.as_slice()[c.start * d..c.end * d];
            let y = &batch.y.as_slice()[c.start * o..c.end * o];
            let z = gather(&full, &net.layout(c.len()), &z0, c.start);
            Newton::new(&net, &weights, x, y, c.len(), tol).solve(z, max_iterations)
        })
        .collect();
    let mut stats = NewtonStats {
        iterations: 0,
        krylov_iterations: 0,
        gradient_evals: 0,
        jacobian_products: 0,
        krylov: if net.has_feedback() { "bicgstab" } else { "cg" },
        fallback: None,
    };
    let (mut z, mut extra_evals, mut converged) = (vec![0.0; full.len()], 0, true);
    for (c, r) in chunks.iter().zip(solved) {
        stats.iterations = stats.iterations.max(r.iterations);
        stats.krylov_iterations += r.krylov_iterations;
        stats.gradient_evals += r.gradient_evals;
        stats.jacobian_products += r.jacobian_products;
        let mut zc = r.z;
        if let Some(reason) = r.failure {
            let sub = Batch {
                x: batch.x.columns(c.start, c.len()).into_owned(),
                y: batch.y.columns(c.start, c.len()).into_owned(),
            };
            let (rtol, atol) = fallback_tolerances;
            let method = adaptive::Method::Dop853;
            let ode = adaptive::run(&net, &sub, zc, method, rtol, atol, &opts.stop)
                .map_err(|e| offset_sample(e, c.start))?;
            extra_evals += ode.rhs_evals;
            converged &= ode.converged;
            zc = ode.z;
            let fb = stats.fallback.get_or_insert(Fallback {
                samples: 0,
                reason: format!("samples {}..{}: {reason}", c.start, c.end),
            });
            fb.samples += c.len();
        }
        scatter(&full, &net.layout(c.len()), &zc, &mut z, c.start);
    }
    let max_dzdt = net.max_activity_gradient(&batch, &z);
    Ok(Inference {
        z: z.iter().map(|&v| T::of_f64(v)).collect(),
        steps: stats.iterations,
        rhs_evals: stats.gradient_evals + stats.jacobian_products + extra_evals + 1,
        max_dzdt,
        converged: converged && max_dzdt < tol,
        time: f64::INFINITY,
        energy_trace: Vec::new(),
        newton: Some(stats),
    })
}

/// A failure of the chunk starting at sample `s0`, named by its sample in the whole batch.
fn offset_sample(mut e: InferenceError, s0: usize) -> InferenceError {
    if let InferenceError::NonFinite { sample, .. } = &mut e {
        *sample += s0;
    }
    e
}

/// What Newton did on one chunk.
struct ChunkNewton {
    z: Vec<f64>,
    iterations: usize,
    krylov_iterations: usize,
    gradient_evals: usize,
    jacobian_products: usize,
    /// Why the chunk needs the fallback, if it does.
    failure: Option<String>,
}

/// Per-sample arithmetic on flat activity buffers: sample s owns column s of every layer.
struct Samples {
    batch: usize,
    /// (sample, index range) of every column of every free layer.
    segments: Vec<(usize, Range<usize>)>,
}

impl Samples {
    fn new(lay: &Layout) -> Self {
        let mut segments = Vec::new();
        for l in 1..=lay.n_free() {
            let (n, r) = (lay.width(l), lay.range(l));
            for s in 0..lay.batch() {
                segments.push((s, r.start + s * n..r.start + (s + 1) * n));
            }
        }
        Samples {
            batch: lay.batch(),
            segments,
        }
    }

    /// a_s . b_s for every sample s.
    fn dots(&self, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.batch];
        for (s, r) in &self.segments {
            out[*s] += a[r.clone()]
                .iter()
                .zip(&b[r.clone()])
                .map(|(x, y)| x * y)
                .sum::<f64>();
        }
        out
    }

    /// max|a_s| for every sample s (NaN if a_s holds one).
    fn max_abs(&self, a: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0f64; self.batch];
        for (s, r) in &self.segments {
            let m = crate::network::model::max_abs(&a[r.clone()]);
            out[*s] = if m.is_nan() { m } else { out[*s].max(m) };
        }
        out
    }

    /// y_s += c_s x_s for every sample with c_s != 0.
    fn axpy(&self, c: &[f64], x: &[f64], y: &mut [f64]) {
        for (s, r) in &self.segments {
            if c[*s] != 0.0 {
                for (y, &x) in y[r.clone()].iter_mut().zip(&x[r.clone()]) {
                    *y += c[*s] * x;
                }
            }
        }
    }

    /// y_s = x_s + c_s y_s where `keep[s]`, y_s = 0 elsewhere.
    fn xpby(&self, x: &[f64], c: &[f64], y: &mut [f64], keep: &[bool]) {
        for (s, r) in &self.segments {
            for (y, &x) in y[r.clone()].iter_mut().zip(&x[r.clone()]) {
                *y = if keep[*s] { x + c[*s] * *y } else { 0.0 };
            }
        }
    }

    /// y_s = x_s for every sample with `which[s]`.
    fn copy(&self, x: &[f64], y: &mut [f64], which: &[bool]) {
        for (s, r) in &self.segments {
            if which[*s] {
                y[r.clone()].copy_from_slice(&x[r.clone()]);
            }
        }
    }
}

/// Newton-Krylov on one chunk of samples.
struct Newton<'a> {
    net: &'a Network<f64>,
    x: &'a [f64],
    y: &'a [f64],
    ws: Workspace<f64>,
    jac: Jacobian<'a>,
    samples: Samples,
    tol: f64,
    symmetric: bool,
    gradient_evals: usize,
    krylov_iterations: usize,
}

/// The state of a chunk: activities, gradient, per-sample energies.
struct Point {
    z: Vec<f64>,
    g: Vec<f64>,
    energy: Vec<f64>,
}

impl<'a> Newton<'a> {
    fn new(
        net: &'a Network<f64>,
        weights: &'a JacobianWeights,
        x: &'a [f64],
        y: &'a [f64],
        b: usize,
        tol: f64,
    ) -> Self {
        Newton {
            net,
            x,
            y,
            ws: net.workspace(b),
            jac: Jacobian::new(net, weights, b),
            samples: Samples::new(&net.layout(b)),
            tol,
            symmetric: !net.has_feedback(),
            gradient_evals: 0,
            krylov_iterations: 0,
        }
    }

    /// g(z) into `g`; returns the per-sample energies. Leaves the errors of `z` in the
    /// workspace.
    fn evaluate(&mut self, z: &[f64], g: &mut [f64]) -> Vec<f64> {
        self.net
            .activity_gradient(self.x, self.y, z, &mut self.ws, g);
        self.gradient_evals += 1;
        self.net.sample_energies(&self.ws)
    }

    fn solve(mut self, z: Vec<f64>, max_iterations: usize) -> ChunkNewton {
        let mut g = vec![0.0; z.len()];
        let energy = self.evaluate(&z, &mut g);
        let mut pt = Point { z, g, energy };
        let mut iterations = 0;
        let failure = loop {
            let rate = self.samples.max_abs(&pt.g);
            // A non-finite sample stays active and fails below.
            let active: Vec<bool> = rate.iter().map(|&m| m >= self.tol || m.is_nan()).collect();
            if !active.contains(&true) {
                break None;
            }
            let worst = rate.iter().copied().fold(0.0, f64::max);
            if iterations == max_iterations || !worst.is_finite() {
                break Some(format!(
                    "max|dz/dt| = {worst:.3e} after {iterations} Newton iterations"
                ));
            }
            // The workspace holds the errors at pt.z (the last line-search trial is it).
            self.jac.at(&pt.z, &self.ws);
            let norm: Vec<f64> = self
                .samples
                .dots(&pt.g, &pt.g)
                .iter()
                .map(|v| v.sqrt())
                .collect();
            let target: Vec<f64> = norm
                .iter()
                .map(|&n| (n.sqrt().min(0.5) * n).max(0.1 * self.tol))
                .collect();
            let mut d = vec![0.0; pt.z.len()];
            self.krylov_iterations += if self.symmetric {
                self.conjugate_gradients(&pt.g, &active, &target, &mut d)
            } else {
                self.bicgstab(&pt.g, &active, &target, &mut d)
            };
            if let Err(s) = self.line_search(&mut pt, &d, &active, &norm) {
                break Some(format!(
                    "the line search found no decrease along the Newton step of sample {s} \
                     (iteration {})",
                    iterations + 1
                ));
            }
            iterations += 1;
        };
        ChunkNewton {
            z: pt.z,
            iterations,
            krylov_iterations: self.krylov_iterations,
            gradient_evals: self.gradient_evals,
            jacobian_products: self.jac.products(),
            failure,
        }
    }

    /// The right-hand side -g of the active samples (0 for the others) and its squared norms.
    fn rhs(&self, g: &[f64], active: &[bool]) -> (Vec<f64>, Vec<f64>) {
        let mut r = vec![0.0; g.len()];
        let minus: Vec<f64> = active.iter().map(|&a| if a { -1.0 } else { 0.0 }).collect();
        self.samples.axpy(&minus, g, &mut r);
        let rr = self.samples.dots(&r, &r);
        (r, rr)
    }

    /// Conjugate gradients on J d = -g for every active sample, to |J d + g| <= target; stops
    /// a sample at the first direction of non-positive curvature, whose step is then the
    /// iterate so far (-g on the first iteration). Returns the iterations.
    fn conjugate_gradients(
        &mut self,
        g: &[f64],
        active: &[bool],
        target: &[f64],
        d: &mut [f64],
    ) -> usize {
        let (mut r, mut rr) = self.rhs(g, active);
        let mut live: Vec<bool> = (0..rr.len())
            .map(|s| active[s] && rr[s].sqrt() > target[s])
            .collect();
        let mut p = r.clone();
        let mut q = vec![0.0; r.len()];
        let mut it = 0;
        while it < MAX_KRYLOV && live.contains(&true) {
            self.jac.apply(&p, &mut q);
            it += 1;
            let (pq, pp) = (self.samples.dots(&p, &q), self.samples.dots(&p, &p));
            let mut alpha = vec![0.0; rr.len()];
            let mut first_negative = vec![false; rr.len()];
            for s in 0..rr.len() {
                if !live[s] {
                    continue;
                }
                if pq[s] > f64::EPSILON * pp[s] {
                    alpha[s] = rr[s] / pq[s];
                } else {
                    live[s] = false;
                    first_negative[s] = it == 1;
                }
            }
            self.samples.copy(&r, d, &first_negative);
            self.samples.axpy(&alpha, &p, d);
            let minus: Vec<f64> = alpha.iter().map(|a| -a).collect();
            self.samples.axpy(&minus, &q, &mut r);
            let rr_new = self.samples.dots(&r, &r);
            let mut beta = vec![0.0; rr.len()];
            for s in 0..rr.len() {
                if !live[s] {
                    continue;
                }
                live[s] = rr_new[s].sqrt() > target[s];
                beta[s] = rr_new[s] / rr[s];
            }
            rr = rr_new;
            self.samples.xpby(&r, &beta, &mut p, &live);
        }
        it
    }

    /// BiCGSTAB on J d = -g for every active sample, to |J d + g| <= target; a sample whose
    /// recurrence breaks down keeps its iterate so far (-g if it has none). Returns the
    /// iterations (two products each).
    fn bicgstab(&mut self, g: &[f64], active: &[bool], target: &[f64], d: &mut [f64]) -> usize {
        let b = active.len();
        let (mut r, rr) = self.rhs(g, active);
        let shadow = r.clone();
        let mut live: Vec<bool> = (0..b)
            .map(|s| active[s] && rr[s].sqrt() > target[s])
            .collect();
        let (mut p, mut v) = (vec![0.0; r.len()], vec![0.0; r.len()]);
        let (mut sv, mut t) = (vec![0.0; r.len()], vec![0.0; r.len()]);
        let (mut rho, mut alpha, mut omega) = (vec![1.0; b], vec![1.0; b], vec![1.0; b]);
        let mut stepped = vec![false; b];
        let mut it = 0;
        while it < MAX_KRYLOV && live.contains(&true) {
            it += 1;
            let rho_new = self.samples.dots(&shadow, &r);
            let mut beta = vec![0.0; b];
            for s in 0..b {
                live[s] &= rho_new[s] != 0.0 && rho_new[s].is_finite() && omega[s] != 0.0;
                beta[s] = rho_new[s] / rho[s] * (alpha[s] / omega[s]);
            }
            // p = r + beta (p - omega v)
            let minus_omega: Vec<f64> = omega.iter().map(|o| -o).collect();
            self.samples.axpy(&minus_omega, &v, &mut p);
            self.samples.xpby(&r, &beta, &mut p, &live);
            self.jac.apply(&p, &mut v);
            let rv = self.samples.dots(&shadow, &v);
            for s in 0..b {
                live[s] &= rv[s] != 0.0 && rv[s].is_finite();
                alpha[s] = if live[s] { rho_new[s] / rv[s] } else { 0.0 };
            }
            // s = r - alpha v; a sample whose s is small enough ends on d + alpha p.
            sv.copy_from_slice(&r);
            let minus_alpha: Vec<f64> = alpha.iter().map(|a| -a).collect();
            self.samples.axpy(&minus_alpha, &v, &mut sv);
            self.samples.axpy(&alpha, &p, d);
            stepped
                .iter_mut()
                .zip(&alpha)
                .for_each(|(st, &a)| *st |= a != 0.0);
            let ss = self.samples.dots(&sv, &sv);
            for s in 0..b {
                live[s] &= ss[s].sqrt() > target[s];
            }
            // Samples that stopped drop out of the second product.
            let zero = vec![0.0; b];
            let keep = live.clone();
            let s_copy = sv.clone();
            self.samples.xpby(&s_copy, &zero, &mut sv, &keep);
            self.jac.apply(&sv, &mut t);
            let (ts, tt) = (self.samples.dots(&t, &sv), self.samples.dots(&t, &t));
            for s in 0..b {
                omega[s] = if live[s] && tt[s] > 0.0 {
                    ts[s] / tt[s]
                } else {
                    0.0
                };
            }
            self.samples.axpy(&omega, &sv, d);
            // r = s - omega t
            r.copy_from_slice(&sv);
            let minus_omega: Vec<f64> = omega.iter().map(|o| -o).collect();
            self.samples.axpy(&minus_omega, &t, &mut r);
            let rr = self.samples.dots(&r, &r);
            for s in 0..b {
                live[s] &= omega[s] != 0.0 && rr[s].sqrt() > target[s];
            }
            rho = rho_new;
        }
        let never: Vec<bool> = (0..b).map(|s| active[s] && !stepped[s]).collect();
        let minus: Vec<f64> = never.iter().map(|&n| if n { -1.0 } else { 0.0 }).collect();
        self.samples.axpy(&minus, g, d);
        it
    }

    /// Moves every active sample along `d` by the longest step of 1, 1/2, 1/4, ... that
    /// decreases its energy or its residual (see the [module](self)); `norm` holds |g_s|.
    /// Fails with the first sample for which none does.
    fn line_search(
        &mut self,
        pt: &mut Point,
        d: &[f64],
        active: &[bool],
        norm: &[f64],
    ) -> Result<(), usize> {
        let slope = self.samples.dots(&pt.g, d);
        let mut step = vec![1.0; active.len()];
        let mut pending = active.to_vec();
        let mut zt = pt.z.clone();
        let mut gt = vec![0.0; zt.len()];
        for _ in 0..=MAX_BACKTRACKS {
            // A pending sample tries its next step; an accepted one keeps its new point, which
            // the evaluation recomputes unchanged.
            let c: Vec<f64> = (0..step.len())
                .map(|s| if pending[s] { step[s] } else { 0.0 })
                .collect();
            self.samples.copy(&pt.z, &mut zt, &pending);
            self.samples.axpy(&c, d, &mut zt);
            let et = self.evaluate(&zt, &mut gt);
            let nt = self.samples.dots(&gt, &gt);
            for s in 0..pending.len() {
                if !pending[s] {
                    continue;
                }
                let (e0, e1, a) = (pt.energy[s], et[s], step[s]);
                let energy_ok =
                    self.symmetric && slope[s] < 0.0 && e1 <= e0 + ARMIJO * a * slope[s];
                let flat = !self.symmetric || e1 <= e0 + ENERGY_ROUNDING * (1.0 + e0.abs());
                let residual_ok = flat && nt[s].sqrt() <= (1.0 - ARMIJO * a) * norm[s];
                if e1.is_finite() && nt[s].is_finite() && (energy_ok || residual_ok) {
                    pending[s] = false;
                } else {
                    step[s] *= 0.5;
                }
            }
            if !pending.contains(&true) {
                *pt = Point {
                    z: zt,
                    g: gt,
                    energy: et,
                };
                return Ok(());
            }
        }
        Err(pending.iter().position(|&p| p).unwrap_or(0))
    }
}
