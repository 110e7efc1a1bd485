//! The Jacobian of the activity gradient applied to a direction, J v = d/de g(z + e v) at e = 0:
//! the Hessian-vector product of the Newton-Krylov equilibrium ([`super::newton`]), computed
//! in forward mode with the network's own batched products and no dense matrix.
//!
//! With `v_0 = v_L = 0` (the input and the target are held), differentiating docs/design.md §1
//! gives, for every sample at once,
//!
//! ```text
//! de_l   = v_l - s_l v_{l-1} - a_l W_{l-1} (phi'(z_{l-1}) * v_{l-1})            l = 1 .. L
//! (J v)_l = de_l - lambda_{l+1} [ s_{l+1} de_{l+1} + a_{l+1} phi'(z_l) * (B_l^T de_{l+1}) ]
//!               - lambda_{l+1} a_{l+1} phi''(z_l) * (B_l^T e_{l+1}) * v_l          l = 1 .. L-1
//! ```
//!
//! with `B = W` for the ideal network (J is then the Hessian of the per-sample energies,
//! symmetric) and `B` the backward read's weights for a mapped one (J is not symmetric). A
//! product costs one forward and one backward GEMM per layer, as one gradient evaluation does;
//! the last line's diagonal is formed once per point.

use crate::network::{Layout, Network, Workspace};
use crate::numeric::{gemm_packed_with, MatRef, PackedMat};

/// The weights of the products of J, packed once per solve.
pub(super) struct JacobianWeights {
    /// W_{l-1} for the directional derivative of the prediction of layer l = 2..L (index l-2).
    forward: Vec<PackedMat<f64>>,
    /// B_l^T for the backward products of free layer l = 1..L-1 (index l-1).
    backward: Vec<PackedMat<f64>>,
}

impl JacobianWeights {
    pub fn new(net: &Network<f64>) -> Self {
        JacobianWeights {
            forward: net.weights()[1..]
                .iter()
                .map(|w| PackedMat::new(MatRef::from(w)))
                .collect(),
            backward: net.feedback_weights()[1..]
                .iter()
                .map(|w| PackedMat::new(MatRef::from(w).t()))
                .collect(),
        }
    }
}

/// J at one point of a batch (or a chunk of one), ready to multiply directions.
pub(super) struct Jacobian<'a> {
    net: &'a Network<f64>,
    weights: &'a JacobianWeights,
    layout: Layout,
    /// phi'(z_l), l = 1..L-1 (index l-1).
    dphi: Vec<Vec<f64>>,
    /// lambda_{l+1} a_{l+1} phi''(z_l) * (B_l^T e_{l+1}), the diagonal phi's curvature adds.
    curvature: Vec<Vec<f64>>,
    /// de_l, l = 1..L (index l-1).
    de: Vec<Vec<f64>>,
    /// phi'(z_{l-1}) * v_{l-1}.
    scratch: Vec<f64>,
    /// Products so far.
    products: usize,
}

impl<'a> Jacobian<'a> {
    /// Buffers for batches of `batch` samples.
    pub fn new(net: &'a Network<f64>, weights: &'a JacobianWeights, batch: usize) -> Self {
        let w = net.widths();
        let l_out = net.n_layers();
        let free = |l: usize| vec![0.0; w[l] * batch];
        Jacobian {
            net,
            weights,
            layout: net.layout(batch),
            dphi: (1..l_out).map(free).collect(),
            curvature: (1..l_out).map(free).collect(),
            de: (1..=l_out).map(free).collect(),
            scratch: vec![0.0; w.iter().max().copied().unwrap_or(0) * batch],
            products: 0,
        }
    }

    /// Products taken so far.
    pub fn products(&self) -> usize {
        self.products
    }

    /// lambda_l: the output precision on the last layer, 1 elsewhere.
    fn precision(&self, l: usize) -> f64 {
        if l == self.net.n_layers() {
            self.net.architecture().output_precision
        } else {
            1.0
        }
    }

    /// Moves J to the activities `z`, whose errors `ws` holds (from the gradient evaluation at
    /// `z`).
    pub fn at(&mut self, z: &[f64], ws: &Workspace<f64>) {
        let (w, b) = (self.net.widths(), self.layout.batch());
        let act = self.net.activation();
        for l in 1..self.net.n_layers() {
            let zl = &z[self.layout.range(l)];
            for (d, &v) in self.dphi[l - 1].iter_mut().zip(zl) {
                *d = act.derivative(v);
            }
            let coef = self.precision(l + 1) * self.net.scalings()[l];
            let n = w[l];
            let curv = &mut self.curvature[l - 1];
            let next = MatRef::col_major(&ws.errors()[l], w[l + 1], b);
            gemm_packed_with(&self.weights.backward[l - 1], next, |i, j, acc| {
                let r = j * n + i..j * n + i + acc.len();
                for ((c, &t), &v) in curv[r.clone()].iter_mut().zip(acc).zip(&zl[r]) {
                    *c = coef * act.second_derivative(v) * t;
                }
            });
        }
    }

    /// `out = J v` (flat layout of the free activities).
    pub fn apply(&mut self, v: &[f64], out: &mut [f64]) {
        self.products += 1;
        self.error_derivatives(v);
        let (w, b) = (self.net.widths(), self.layout.batch());
        for l in 1..self.net.n_layers() {
            let lam = self.precision(l + 1);
            let a = lam * self.net.scalings()[l];
            let skip = self.net.architecture().has_skip(l + 1);
            let n = w[l];
            let r_l = self.layout.range(l);
            let (out_l, v_l) = (&mut out[r_l.clone()], &v[r_l]);
            let (de_l, de_next) = (&self.de[l - 1], &self.de[l]);
            let (dphi, curv) = (&self.dphi[l - 1], &self.curvature[l - 1]);
            let next = MatRef::col_major(de_next, w[l + 1], b);
            gemm_packed_with(&self.weights.backward[l - 1], next, |i, j, acc| {
                let r = j * n + i..j * n + i + acc.len();
                for (k, &t) in r.zip(acc) {
                    let s = if skip { lam * de_next[k] } else { 0.0 };
                    out_l[k] = de_l[k] - s - a * dphi[k] * t - curv[k] * v_l[k];
                }
            });
        }
    }

    /// de_l = v_l - s_l v_{l-1} - a_l W_{l-1} (phi'(z_{l-1}) * v_{l-1}) for l = 1..L, with
    /// v_0 = v_L = 0.
    fn error_derivatives(&mut self, v: &[f64]) {
        let (w, b) = (self.net.widths(), self.layout.batch());
        let l_out = self.net.n_layers();
        self.de[0].copy_from_slice(&v[self.layout.range(1)]);
        for l in 2..=l_out {
            let prev = &v[self.layout.range(l - 1)];
            let u = &mut self.scratch[..prev.len()];
            for ((u, &d), &p) in u.iter_mut().zip(&self.dphi[l - 2]).zip(prev) {
                *u = d * p;
            }
            let here = (l < l_out).then(|| &v[self.layout.range(l)]);
            let skip = self.net.architecture().has_skip(l);
            let a = self.net.scalings()[l - 1];
            let n = w[l];
            let de = &mut self.de[l - 1];
            let u = MatRef::col_major(u, w[l - 1], b);
            gemm_packed_with(&self.weights.forward[l - 2], u, |i, j, acc| {
                let r = j * n + i..j * n + i + acc.len();
                for (k, &t) in r.zip(acc) {
                    let own = here.map_or(0.0, |h| h[k]);
                    let s = if skip { prev[k] } else { 0.0 };
                    de[k] = own - s - a * t;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Activation, Architecture, Batch, Parameterisation};
    use nalgebra::DMatrix;

    fn network(act: Activation, skips: bool, feedback: bool) -> (Network<f64>, Batch<f64>) {
        let arch = Architecture {
            widths: vec![5, 7, 7, 7, 3],
            activation: act,
            parameterisation: Parameterisation::Mupc,
            skips,
            gamma0: 0.5,
            output_precision: 1.7,
        };
        let mut net = Network::init(arch, 4).unwrap();
        if feedback {
            let fb = net
                .weights()
                .iter()
                .map(|w| w.map_with_location(|i, j, v| v * (1.0 + 0.1 * ((i + 2 * j) % 3) as f64)))
                .collect();
            net = net.with_feedback(fb).unwrap();
        }
        let wave = |r, c, f: f64| DMatrix::from_fn(r, c, |i, j| (f * (i + 3 * j) as f64).sin());
        let batch = Batch {
            x: wave(5, 3, 0.7),
            y: wave(3, 3, 1.3),
        };
        (net, batch)
    }

    /// J v against the central difference (g(z + h v) - g(z - h v)) / 2h, whose error is
    /// O(h^2 |g'''|) plus the rounding eps |g| / h: with h = 1e-5 both stay below 1e-8.
    #[test]
    fn products_match_finite_differences_of_the_gradient() {
        for act in [Activation::Tanh, Activation::Silu, Activation::Sigmoid] {
            for (skips, feedback) in [(false, false), (true, false), (true, true)] {
                let (net, batch) = network(act, skips, feedback);
                let b = batch.size();
                let lay = net.layout(b);
                let z: Vec<f64> = (0..lay.len()).map(|k| (0.37 * k as f64).cos()).collect();
                let v: Vec<f64> = (0..lay.len()).map(|k| (1.1 * k as f64).sin()).collect();
                let (x, y) = (batch.x.as_slice(), batch.y.as_slice());
                let mut ws = net.workspace(b);
                let grad_at = |zz: &[f64], ws: &mut Workspace<f64>| {
                    let mut g = vec![0.0; zz.len()];
                    net.activity_gradient(x, y, zz, ws, &mut g);
                    g
                };
                let h = 1e-5;
                let shift =
                    |s: f64| -> Vec<f64> { z.iter().zip(&v).map(|(a, b)| a + s * b).collect() };
                let (gp, gm) = (grad_at(&shift(h), &mut ws), grad_at(&shift(-h), &mut ws));
                grad_at(&z, &mut ws);
                let weights = JacobianWeights::new(&net);
                let mut jac = Jacobian::new(&net, &weights, b);
                jac.at(&z, &ws);
                let mut jv = vec![0.0; z.len()];
                jac.apply(&v, &mut jv);
                for k in 0..z.len() {
                    let fd = (gp[k] - gm[k]) / (2.0 * h);
                    assert!(
                        (fd - jv[k]).abs() < 1e-8 * (1.0 + fd.abs()),
                        "{act} skips {skips} feedback {feedback}, entry {k}: {} vs {fd}",
                        jv[k]
                    );
                }
            }
        }
    }
}
