//! The PC network of docs/design.md §1: predictions, errors, energy, activity gradient, PC and BP weight
//! gradients, all batched so that every product is a GEMM.
//!
//! Layer l (1-based) predicts `mu_l = s_l z_{l-1} + a_l W_{l-1} phi(z_{l-1})` with phi the
//! identity on the input z_0 = x. Free activities z_1..z_{L-1} live in one flat buffer, layer
//! after layer, each layer column-major `n_l x B` (one column per sample); see [`Layout`].
//!
//! # Reference
//! Innocenti et al., "On the infinite width and depth limits of predictive coding networks",
//! ICML 2026, §2; the JPC library (`jpc.pc_energy_fn`, `jpc.compute_pc_param_grads`).

use super::activation::Activation;
use super::param::Parameterisation;
use crate::numeric::packed::MAX_PIECE;
use crate::numeric::stats::mean;
use crate::numeric::{c, gemm, gemm_packed_with, MatMut, MatRef, PackedMat, Real};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// What defines a network apart from its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// n_0 (input D), hidden widths, n_L (output O).
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub parameterisation: Parameterisation,
    /// Skip connections on layers 2..L-1 (1-based), as JPC's `make_skip_model`.
    pub skips: bool,
    pub gamma0: f64,
    /// lambda, the precision of the output error.
    pub output_precision: f64,
}

impl Architecture {
    pub fn n_layers(&self) -> usize {
        self.widths.len().saturating_sub(1)
    }

    /// Whether layer l (1-based) has a skip connection from z_{l-1}.
    pub fn has_skip(&self, l: usize) -> bool {
        self.skips && l >= 2 && l < self.n_layers()
    }

    /// The scalings a_1..a_L of this architecture (index l-1 holds a_l).
    pub fn scalings(&self) -> Vec<f64> {
        self.parameterisation
            .scalings(&self.widths, self.skips, self.gamma0)
    }

    /// Checks everything about the architecture that does not involve weights.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let l = self.n_layers();
        if l < 2 {
            return Err(NetworkError::TooShallow { layers: l });
        }
        if let Some(i) = self.widths.iter().position(|&w| w == 0) {
            return Err(NetworkError::ZeroWidth { index: i });
        }
        for layer in 1..=l {
            if self.has_skip(layer) && self.widths[layer] != self.widths[layer - 1] {
                return Err(NetworkError::SkipWidth {
                    layer,
                    from: self.widths[layer - 1],
                    to: self.widths[layer],
                });
            }
        }
        if !(self.gamma0.is_finite() && self.gamma0 > 0.0) {
            return Err(NetworkError::BadParameter {
                name: "gamma0",
                value: self.gamma0,
            });
        }
        if !(self.output_precision.is_finite() && self.output_precision > 0.0) {
            return Err(NetworkError::BadParameter {
                name: "output_precision",
                value: self.output_precision,
            });
        }
        Ok(())
    }
}

/// Why a network could not be built. Layers are numbered as in docs/design.md §1: weight W_{l-1}
/// belongs to layer l.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    #[error("a network needs at least 2 weight layers (one hidden layer), found {layers}")]
    TooShallow { layers: usize },
    #[error("width {index} is zero")]
    ZeroWidth { index: usize },
    #[error("layer {layer} has a skip connection but maps width {from} to {to}")]
    SkipWidth {
        layer: usize,
        from: usize,
        to: usize,
    },
    #[error("{name} must be finite and positive, got {value}")]
    BadParameter { name: &'static str, value: f64 },
    #[error("expected {expected} weight matrices, got {found}")]
    LayerCount { expected: usize, found: usize },
    #[error("W{index} has shape {found:?}, expected {expected:?}")]
    WeightShape {
        index: usize,
        expected: (usize, usize),
        found: (usize, usize),
    },
    #[error("W{index} holds a non-finite value at ({row}, {col})")]
    NonFiniteWeight {
        index: usize,
        row: usize,
        col: usize,
    },
    #[error("{what} has shape {found:?}, expected {expected:?}")]
    BatchShape {
        what: &'static str,
        expected: (usize, usize),
        found: (usize, usize),
    },
    #[error("{what} holds a non-finite value at (feature {row}, sample {col})")]
    NonFiniteBatch {
        what: &'static str,
        row: usize,
        col: usize,
    },
}

/// A batch: inputs x (D x B) and targets y (O x B), one column per sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<T: Real> {
    pub x: DMatrix<T>,
    pub y: DMatrix<T>,
}

impl<T: Real> Batch<T> {
    pub fn size(&self) -> usize {
        self.x.ncols()
    }

    /// Converts to another precision.
    pub fn cast<U: Real>(&self) -> Batch<U> {
        Batch {
            x: self.x.map(|v| U::of_f64(v.to_f64())),
            y: self.y.map(|v| U::of_f64(v.to_f64())),
        }
    }
}

/// Where each free layer sits in a flat activity buffer for a batch of `batch` samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    widths: Vec<usize>,
    batch: usize,
    offsets: Vec<usize>,
}

impl Layout {
    /// Layout of the free layers 1..L-1 of `widths` for `batch` samples.
    pub fn new(widths: &[usize], batch: usize) -> Self {
        let mut offsets = vec![0];
        for &w in &widths[1..widths.len() - 1] {
            offsets.push(offsets.last().copied().unwrap_or(0) + w * batch);
        }
        Layout {
            widths: widths.to_vec(),
            batch,
            offsets,
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Number of free layers, L - 1.
    pub fn n_free(&self) -> usize {
        self.widths.len() - 2
    }

    /// Total number of free activities.
    pub fn len(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index range of free layer l (1-based, 1..L-1) in the flat buffer.
    pub fn range(&self, l: usize) -> std::ops::Range<usize> {
        self.offsets[l - 1]..self.offsets[l]
    }

    pub fn width(&self, l: usize) -> usize {
        self.widths[l]
    }

    /// The first non-finite activity of a flat buffer, as (layer, node, sample, value).
    pub fn locate_non_finite<T: Real>(&self, z: &[T]) -> Option<(usize, usize, usize, f64)> {
        (1..=self.n_free()).find_map(|l| {
            let n = self.widths[l];
            let zl = &z[self.range(l)];
            zl.iter()
                .position(|v| !v.is_finite())
                .map(|k| (l, k % n, k / n, zl[k].to_f64()))
        })
    }

    /// Splits a flat buffer into per-layer matrices.
    pub fn to_matrices<T: Real>(&self, z: &[T]) -> Vec<DMatrix<T>> {
        (1..=self.n_free())
            .map(|l| DMatrix::from_column_slice(self.widths[l], self.batch, &z[self.range(l)]))
            .collect()
    }

    /// Joins per-layer matrices into a flat buffer.
    pub fn from_matrices<T: Real>(&self, zs: &[DMatrix<T>]) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for z in zs {
            out.extend_from_slice(z.as_slice());
        }
        out
    }
}

/// A PC network with its weights: W_0..W_{L-1} (shape out x in), scalings a_1..a_L.
#[derive(Clone, Debug)]
pub struct Network<T: Real> {
    arch: Architecture,
    weights: Vec<DMatrix<T>>,
    scalings: Vec<T>,
    /// Weights of the backward products W^T e when they differ from the forward ones (a
    /// hardware backward read sees other devices, or the same devices through other wires).
    feedback: Option<Vec<DMatrix<T>>>,
    /// The weights of the products of every evaluation, packed on first use and shared by
    /// clones (the weights never change once a network is built).
    packed: OnceLock<Arc<PackedWeights<T>>>,
}

/// The weights in the layout of [`gemm_packed`], for the two products of each layer.
#[derive(Debug)]
struct PackedWeights<T> {
    /// W_{l-1} for the predictions of layer l (index l-1).
    forward: Vec<PackedMat<T>>,
    /// W_l^T (feedback weights) for the backward products of free layer l (index l-1).
    backward: Vec<PackedMat<T>>,
}

/// Buffers for evaluating a network on a batch of a fixed size; allocated once, reused by
/// every right-hand-side evaluation so that the hot loop never allocates.
#[derive(Clone, Debug)]
pub struct Workspace<T: Real> {
    batch: usize,
    /// Where each free layer sits in the flat activity and gradient buffers.
    layout: Layout,
    /// phi(z_l), l = 1..L-1 (index l-1).
    phi: Vec<Vec<T>>,
    /// phi'(z_l), l = 1..L-1 (index l-1).
    dphi: Vec<Vec<T>>,
    /// e_l, l = 1..L (index l-1).
    err: Vec<Vec<T>>,
    /// Evaluate the layers of one step in parallel (set for large layers, where a layer's
    /// products dwarf the cost of handing them to another thread).
    parallel: bool,
}

impl<T: Real> Workspace<T> {
    /// The errors e_l (l = 1..L, index l-1) of the last evaluation, `n_l x B` column-major.
    pub fn errors(&self) -> &[Vec<T>] {
        &self.err
    }

    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// Cosine similarities between two sets of per-layer gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Alignment {
    /// Over all layers' entries flattened together.
    pub overall: f64,
    /// Per layer (index l-1 for W_{l-1}).
    pub per_layer: Vec<f64>,
    /// |a| / |b| over all layers.
    pub norm_ratio: f64,
    /// |a_l| / |b_l| per layer.
    pub norm_ratio_per_layer: Vec<f64>,
}

impl<T: Real> Network<T> {
    /// A network with the given weights; checks every shape and that every weight is finite.
    pub fn new(arch: Architecture, weights: Vec<DMatrix<T>>) -> Result<Self, NetworkError> {
        arch.validate()?;
        check_weights(&arch, &weights)?;
        let scalings = arch.scalings().into_iter().map(T::of_f64).collect();
        Ok(Network {
            arch,
            weights,
            scalings,
            feedback: None,
            packed: OnceLock::new(),
        })
    }

    /// The same network with its own weights for the backward products: inference then uses
    /// W_b^T e where ideal PC uses W^T e. The BP reference keeps the forward weights.
    pub fn with_feedback(mut self, feedback: Vec<DMatrix<T>>) -> Result<Self, NetworkError> {
        check_weights(&self.arch, &feedback)?;
        self.feedback = Some(feedback);
        self.packed = OnceLock::new();
        Ok(self)
    }

    /// Whether the backward products use weights of their own (see [`Network::with_feedback`]).
    pub fn has_feedback(&self) -> bool {
        self.feedback.is_some()
    }

    /// Gives the weights back (to update them without a copy and build the next network).
    pub fn into_weights(self) -> Vec<DMatrix<T>> {
        self.weights
    }

    /// The weights of the backward products (the forward ones unless set apart).
    pub fn feedback_weights(&self) -> &[DMatrix<T>] {
        self.feedback.as_deref().unwrap_or(&self.weights)
    }

    /// A network initialised from its parameterisation's distribution.
    pub fn init(arch: Architecture, seed: u64) -> Result<Self, NetworkError> {
        arch.validate()?;
        let w = arch.parameterisation.init_weights(&arch.widths, seed);
        Network::new(arch, w)
    }

    /// The same network in another precision.
    pub fn cast<U: Real>(&self) -> Network<U> {
        Network {
            arch: self.arch.clone(),
            weights: self
                .weights
                .iter()
                .map(|w| w.map(|v| U::of_f64(v.to_f64())))
                .collect(),
            scalings: self
                .scalings
                .iter()
                .map(|v| U::of_f64(v.to_f64()))
                .collect(),
            feedback: self
                .feedback
                .as_ref()
                .map(|f| f.iter().map(|w| w.map(|v| U::of_f64(v.to_f64()))).collect()),
            packed: OnceLock::new(),
        }
    }

    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    pub fn weights(&self) -> &[DMatrix<T>] {
        &self.weights
    }

    /// a_l at index l-1.
    pub fn scalings(&self) -> &[T] {
        &self.scalings
    }

    pub fn widths(&self) -> &[usize] {
        &self.arch.widths
    }

    pub fn n_layers(&self) -> usize {
        self.arch.n_layers()
    }

    pub fn activation(&self) -> Activation {
        self.arch.activation
    }

    pub fn layout(&self, batch: usize) -> Layout {
        Layout::new(&self.arch.widths, batch)
    }

    /// The packed weights, packed by the first caller (on its own thread: the other callers
    /// wait, and no rayon work is queued behind them).
    fn packed(&self) -> &PackedWeights<T> {
        self.packed.get_or_init(|| {
            Arc::new(PackedWeights {
                forward: self
                    .weights
                    .iter()
                    .map(|w| PackedMat::new(MatRef::from(w)))
                    .collect(),
                backward: self.feedback_weights()[1..]
                    .iter()
                    .map(|w| PackedMat::new(MatRef::from(w).t()))
                    .collect(),
            })
        })
    }

    /// lambda_l: the output precision on the last layer, 1 elsewhere.
    fn precision(&self, l: usize) -> T {
        if l == self.n_layers() {
            T::of_f64(self.arch.output_precision)
        } else {
            T::one()
        }
    }

    /// Checks a batch against the network's input and output widths.
    pub fn check_batch(&self, batch: &Batch<T>) -> Result<(), NetworkError> {
        let b = batch.x.ncols();
        let want_x = (self.arch.widths[0], b);
        let want_y = (*self.arch.widths.last().unwrap_or(&0), b);
        if batch.x.shape() != want_x {
            return Err(NetworkError::BatchShape {
                what: "x",
                expected: want_x,
                found: batch.x.shape(),
            });
        }
        if batch.y.shape() != want_y {
            return Err(NetworkError::BatchShape {
                what: "y",
                expected: want_y,
                found: batch.y.shape(),
            });
        }
        for (what, m) in [("x", &batch.x), ("y", &batch.y)] {
            if let Some(k) = m.iter().position(|v| !v.is_finite()) {
                return Err(NetworkError::NonFiniteBatch {
                    what,
                    row: k % m.nrows(),
                    col: k / m.nrows(),
                });
            }
        }
        Ok(())
    }

    /// Buffers for batches of `batch` samples.
    pub fn workspace(&self, batch: usize) -> Workspace<T> {
        let w = &self.arch.widths;
        let l = self.n_layers();
        Workspace {
            batch,
            layout: self.layout(batch),
            phi: (1..l).map(|i| vec![T::zero(); w[i] * batch]).collect(),
            dphi: (1..l).map(|i| vec![T::zero(); w[i] * batch]).collect(),
            err: (1..=l).map(|i| vec![T::zero(); w[i] * batch]).collect(),
            parallel: self.macs_per_product(batch) >= PARALLEL_LAYER_MACS,
        }
    }

    /// Multiply-accumulates of one pass of layer products (all W_l times a batch).
    pub fn macs_per_product(&self, batch: usize) -> usize {
        let w = &self.arch.widths;
        (1..w.len()).map(|l| w[l] * w[l - 1] * batch).sum()
    }

    /// The feedforward pass: activities z_1..z_{L-1} (flat, see [`Layout`]) and the output
    /// yhat = mu_L (O x B, column-major). `x` is D x B column-major.
    pub fn feedforward(&self, x: &[T], batch: usize) -> (Vec<T>, Vec<T>) {
        let lay = self.layout(batch);
        let w = &self.arch.widths;
        let l_out = self.n_layers();
        let mut z = vec![T::zero(); lay.len()];
        let mut yhat = vec![T::zero(); w[l_out] * batch];
        let mut phi_prev: Vec<T> = x.to_vec();
        for l in 1..=l_out {
            let mut out = vec![T::zero(); w[l] * batch];
            gemm(
                self.scalings[l - 1],
                MatRef::from(&self.weights[l - 1]),
                MatRef::col_major(&phi_prev, w[l - 1], batch),
                T::zero(),
                MatMut::col_major(&mut out, w[l], batch),
            );
            if self.arch.has_skip(l) {
                for (o, &prev) in out.iter_mut().zip(&z[lay.range(l - 1)]) {
                    *o += prev;
                }
            }
            if l == l_out {
                yhat = out;
            } else {
                let mut next = vec![T::zero(); out.len()];
                self.arch.activation.apply(&out, &mut next, None);
                z[lay.range(l)].copy_from_slice(&out);
                phi_prev = next;
            }
        }
        (z, yhat)
    }

    /// Computes phi(z), phi'(z) and every error e_l into `ws` for activities `z`.
    ///
    /// `x` is D x b and `y` O x b column-major, with b the workspace's batch size. Layers are
    /// processed in parallel when the workspace asks for it; every layer's arithmetic is the
    /// same either way, so results do not depend on it.
    pub fn compute_errors(&self, x: &[T], y: &[T], z: &[T], ws: &mut Workspace<T>) {
        let b = ws.batch;
        let w = &self.arch.widths;
        let l_out = self.n_layers();
        let act = self.arch.activation;
        let Workspace {
            layout,
            phi,
            dphi,
            err,
            parallel,
            ..
        } = ws;
        let packed = self.packed();
        let layer = |l: usize| &z[layout.range(l)];
        // Task l computes phi(z_{l-1}) itself, the only activation its error needs: the pass
        // then needs no barrier between activations and errors.
        let inputs =
            rayon::iter::once(None).chain(phi.par_iter_mut().zip(dphi.par_iter_mut()).map(Some));
        err.par_iter_mut()
            .zip(inputs)
            .enumerate()
            // An unsplittable iterator runs on the calling thread, without waking another.
            .with_min_len(if *parallel { 1 } else { usize::MAX })
            .for_each(|(i, (e, phi_prev))| {
                let l = i + 1;
                let input: &[T] = match phi_prev {
                    None => x,
                    Some((p, d)) => {
                        act.apply(layer(l - 1), p, Some(d));
                        p
                    }
                };
                // e_l = z_l (or y) - s_l z_{l-1} - a_l W_{l-1} phi(z_{l-1}), formed as each
                // piece of the product comes out of the GEMM.
                let target = if l == l_out { y } else { layer(l) };
                let skip = self.arch.has_skip(l).then(|| layer(l - 1));
                let minus_a = -self.scalings[l - 1];
                let n = w[l];
                let input = MatRef::col_major(input, w[l - 1], b);
                gemm_packed_with(&packed.forward[l - 1], input, |i, j, acc| {
                    let r = j * n + i..j * n + i + acc.len();
                    let (e, zt) = (&mut e[r.clone()], &target[r.clone()]);
                    match skip {
                        Some(prev) => {
                            for (((e, &t), &z), &p) in e.iter_mut().zip(acc).zip(zt).zip(&prev[r]) {
                                *e = (z - p) + minus_a * t;
                            }
                        }
                        None => {
                            for ((e, &t), &z) in e.iter_mut().zip(acc).zip(zt) {
                                *e = z + minus_a * t;
                            }
                        }
                    }
                });
            });
    }

    /// The gradient of the per-sample energies with respect to the free activities,
    /// g_l = e_l - J_{l+1}^T (lambda_{l+1} e_{l+1}), written into `grad` (flat layout).
    /// The gradient flow is dz/dt = -g. Leaves the errors of `z` in `ws`.
    pub fn activity_gradient(
        &self,
        x: &[T],
        y: &[T],
        z: &[T],
        ws: &mut Workspace<T>,
        grad: &mut [T],
    ) {
        self.compute_errors(x, y, z, ws);
        self.backward(ws, grad, GradientSink::Store);
    }

    /// One step of gradient descent on the per-sample energies, z <- z - step g(z), in place;
    /// returns max|g(z)|. The same arithmetic as [`Network::activity_gradient`] followed by the
    /// update, but each layer is updated by the task that computed its gradient, so that the
    /// step needs no serial pass over the state. Leaves the errors of the old `z` in `ws`.
    pub fn descend_activities(
        &self,
        x: &[T],
        y: &[T],
        z: &mut [T],
        ws: &mut Workspace<T>,
        step: T,
    ) -> T {
        self.compute_errors(x, y, z, ws);
        self.backward(ws, z, GradientSink::Descend(step))
    }

    /// The backward half of the activity gradient, from the errors in `ws`; `out` has the
    /// flat layout of the free activities and receives g as `sink` says. Returns max|g|.
    fn backward(&self, ws: &mut Workspace<T>, out: &mut [T], sink: GradientSink<T>) -> T {
        let Workspace {
            layout,
            dphi,
            err,
            parallel,
            ..
        } = ws;
        let (layout, parallel) = (&*layout, *parallel);
        let (dphi, err): (&[Vec<T>], &[Vec<T>]) = (dphi, err);
        let all = LayerSpan {
            layers: 1..layout.n_free() + 1,
            out,
        };
        rayon::iter::split(all, |span| {
            if parallel {
                span.halve(layout)
            } else {
                (span, None)
            }
        })
        .map(|span| {
            let mut offset = 0;
            let mut m = T::zero();
            for l in span.layers {
                let n = layout.range(l).len();
                let out_l = &mut span.out[offset..offset + n];
                offset += n;
                m = max_of(m, self.layer_gradient(l, dphi, err, out_l, sink));
            }
            m
        })
        // A max is exact, so the order rayon combines the spans in cannot change it.
        .reduce(T::zero, max_of)
    }

    /// g_l = e_l - lambda_{l+1} (e_{l+1} [skip] + a_{l+1} phi'(z_l) * W_l^T e_{l+1}) for free
    /// layer l into `out_l` as `sink` says, formed as each piece of the product comes out of
    /// the GEMM; returns max|g_l|.
    fn layer_gradient(
        &self,
        l: usize,
        dphi: &[Vec<T>],
        err: &[Vec<T>],
        out_l: &mut [T],
        sink: GradientSink<T>,
    ) -> T {
        let w = &self.arch.widths;
        let (n, b) = (w[l], out_l.len() / w[l]);
        let lam = self.precision(l + 1);
        let a = self.scalings[l] * lam;
        let (el, dp) = (&err[l - 1][..], &dphi[l - 1][..]);
        let skip = self.arch.has_skip(l + 1).then(|| &err[l][..n * b]);
        let mut m = T::zero();
        let mut g = [T::zero(); MAX_PIECE];
        let back = MatRef::col_major(&err[l], w[l + 1], b);
        gemm_packed_with(&self.packed().backward[l - 1], back, |i, j, acc| {
            let r = j * n + i..j * n + i + acc.len();
            let g = &mut g[..acc.len()];
            let (e, d) = (&el[r.clone()], &dp[r.clone()]);
            match skip {
                Some(en) => {
                    for ((((g, &t), &e), &d), &en) in
                        g.iter_mut().zip(acc).zip(e).zip(d).zip(&en[r.clone()])
                    {
                        *g = e - lam * en - a * d * t;
                    }
                }
                None => {
                    for (((g, &t), &e), &d) in g.iter_mut().zip(acc).zip(e).zip(d) {
                        *g = e - a * d * t;
                    }
                }
            }
            let out = &mut out_l[r];
            match sink {
                GradientSink::Store => out.copy_from_slice(g),
                // z - h g rounds exactly as z + h (-g), the Euler step on dz/dt = -g.
                GradientSink::Descend(h) => {
                    for (zi, &gi) in out.iter_mut().zip(g.iter()) {
                        *zi -= h * gi;
                    }
                }
            }
            m = max_of(m, max_abs(g));
        });
        m
    }

    /// Per-sample energies E_i of the errors currently in `ws`.
    pub fn sample_energies(&self, ws: &Workspace<T>) -> Vec<T> {
        let b = ws.batch;
        let l_out = self.n_layers();
        let mut out = vec![T::zero(); b];
        for l in 1..=l_out {
            let n = self.arch.widths[l];
            let lam = self.precision(l);
            for (s, e_col) in ws.err[l - 1].chunks_exact(n).enumerate() {
                let sq: T = e_col.iter().fold(T::zero(), |acc, &v| acc + v * v);
                out[s] += c::<T>(0.5) * lam * sq;
            }
        }
        out
    }

    /// The batch energy F (mean of the per-sample energies) at activities `z`.
    pub fn energy(&self, batch: &Batch<T>, z: &[T]) -> T {
        let b = batch.size();
        let mut ws = self.workspace(b);
        self.compute_errors(batch.x.as_slice(), batch.y.as_slice(), z, &mut ws);
        mean(&self.sample_energies(&ws))
    }

    /// dF/dW_{l-1} = -(a_l lambda_l / B) e_l phi(z_{l-1})^T at activities `z`: the update the
    /// PC circuit computes locally from its errors.
    pub fn pc_weight_gradients(&self, batch: &Batch<T>, z: &[T]) -> Vec<DMatrix<T>> {
        self.pc_weight_gradients_read(batch, z, |_| {})
    }

    /// The PC update as a circuit forms it from values it reads out: `read` is applied to every
    /// error e_l and every activation phi(z_l) before the outer products (an ADC model; the
    /// inputs x are digital already and are not read again).
    pub fn pc_weight_gradients_read(
        &self,
        batch: &Batch<T>,
        z: &[T],
        read: impl Fn(&mut [T]),
    ) -> Vec<DMatrix<T>> {
        let b = batch.size();
        let mut ws = self.workspace(b);
        self.compute_errors(batch.x.as_slice(), batch.y.as_slice(), z, &mut ws);
        for v in ws.err.iter_mut().chain(ws.phi.iter_mut()) {
            read(v);
        }
        self.weight_gradients_from(&ws, batch.x.as_slice())
    }

    /// Weight gradients from errors and activations in a workspace; `coef` e_l phi_{l-1}^T.
    fn weight_gradients_from(&self, ws: &Workspace<T>, x: &[T]) -> Vec<DMatrix<T>> {
        let b = ws.batch;
        let w = &self.arch.widths;
        let inv_b = T::one() / T::of_f64(b as f64);
        (1..=self.n_layers())
            .map(|l| {
                let mut g = DMatrix::<T>::zeros(w[l], w[l - 1]);
                let input = if l == 1 { x } else { &ws.phi[l - 2] };
                gemm(
                    -self.scalings[l - 1] * self.precision(l) * inv_b,
                    MatRef::col_major(&ws.err[l - 1], w[l], b),
                    MatRef::col_major(input, w[l - 1], b).t(),
                    T::zero(),
                    MatMut::col_major(g.as_mut_slice(), w[l], w[l - 1]),
                );
                g
            })
            .collect()
    }

    /// The BP loss 0.5 lambda mean_i |y_i - yhat_i|^2 and its gradients with respect to every
    /// W, by a hand-written reverse pass through the feedforward network.
    pub fn bp_gradients(&self, batch: &Batch<T>) -> (T, Vec<DMatrix<T>>) {
        let b = batch.size();
        let w = &self.arch.widths;
        let l_out = self.n_layers();
        let (z, _) = self.feedforward(batch.x.as_slice(), b);
        let mut ws = self.workspace(b);
        // At the feedforward pass every hidden error is zero and e_L = y - yhat.
        self.compute_errors(batch.x.as_slice(), batch.y.as_slice(), &z, &mut ws);
        let lam = self.precision(l_out);
        let loss = mean(&self.sample_energies(&ws));
        let inv_b = T::one() / T::of_f64(b as f64);
        // delta_L = dLoss/dmu_L = -(lambda / B) e_L.
        let mut delta: Vec<T> = ws.err[l_out - 1]
            .iter()
            .map(|&e| -lam * inv_b * e)
            .collect();
        let mut grads = vec![DMatrix::<T>::zeros(0, 0); l_out];
        for l in (1..=l_out).rev() {
            let input = if l == 1 {
                batch.x.as_slice()
            } else {
                &ws.phi[l - 2]
            };
            let mut g = DMatrix::<T>::zeros(w[l], w[l - 1]);
            gemm(
                self.scalings[l - 1],
                MatRef::col_major(&delta, w[l], b),
                MatRef::col_major(input, w[l - 1], b).t(),
                T::zero(),
                MatMut::col_major(g.as_mut_slice(), w[l], w[l - 1]),
            );
            grads[l - 1] = g;
            if l > 1 {
                // delta_{l-1} = s_l delta_l + a_l phi'(z_{l-1}) * (W_{l-1}^T delta_l).
                let mut prev = vec![T::zero(); w[l - 1] * b];
                gemm(
                    self.scalings[l - 1],
                    MatRef::from(&self.weights[l - 1]).t(),
                    MatRef::col_major(&delta, w[l], b),
                    T::zero(),
                    MatMut::col_major(&mut prev, w[l - 1], b),
                );
                for (p, &d) in prev.iter_mut().zip(&ws.dphi[l - 2]) {
                    *p *= d;
                }
                if self.arch.has_skip(l) {
                    for (p, &d) in prev.iter_mut().zip(&delta) {
                        *p += d;
                    }
                }
                delta = prev;
            }
        }
        (loss, grads)
    }

    /// Largest |dE_i/dz| over all free activities: the steady-state measure of the solvers.
    pub fn max_activity_gradient(&self, batch: &Batch<T>, z: &[T]) -> T {
        let b = batch.size();
        let mut ws = self.workspace(b);
        let mut g = vec![T::zero(); z.len()];
        self.activity_gradient(batch.x.as_slice(), batch.y.as_slice(), z, &mut ws, &mut g);
        max_abs(&g)
    }
}

/// Checks that `weights` has one finite matrix of the right shape per layer of `arch`.
fn check_weights<T: Real>(arch: &Architecture, weights: &[DMatrix<T>]) -> Result<(), NetworkError> {
    let l = arch.n_layers();
    if weights.len() != l {
        return Err(NetworkError::LayerCount {
            expected: l,
            found: weights.len(),
        });
    }
    for (i, w) in weights.iter().enumerate() {
        let expected = (arch.widths[i + 1], arch.widths[i]);
        if w.shape() != expected {
            return Err(NetworkError::WeightShape {
                index: i,
                expected,
                found: w.shape(),
            });
        }
        if let Some(k) = w.iter().position(|v| !v.is_finite()) {
            return Err(NetworkError::NonFiniteWeight {
                index: i,
                row: k % w.nrows(),
                col: k / w.nrows(),
            });
        }
    }
    Ok(())
}

/// Below this many multiply-accumulates per pass, layers are evaluated on one thread: handing
/// work to rayon costs a few microseconds, a pass this size about 100.
const PARALLEL_LAYER_MACS: usize = 1 << 21;

/// What the backward pass does with the gradient g of each layer.
#[derive(Clone, Copy)]
enum GradientSink<T> {
    /// Write g.
    Store,
    /// Subtract h g.
    Descend(T),
}

/// Consecutive free layers with their part of a flat activity-shaped buffer: the share of the
/// backward pass one task owns.
struct LayerSpan<'a, T> {
    layers: std::ops::Range<usize>,
    out: &'a mut [T],
}

impl<'a, T> LayerSpan<'a, T> {
    /// Splits at the middle layer, so that rayon can hand one half to another thread.
    fn halve(self, layout: &Layout) -> (Self, Option<Self>) {
        let (first, end) = (self.layers.start, self.layers.end);
        if end - first < 2 {
            return (self, None);
        }
        let mid = (first + end) / 2;
        let at = layout.range(mid).start - layout.range(first).start;
        let (out_a, out_b) = self.out.split_at_mut(at);
        (
            LayerSpan {
                layers: first..mid,
                out: out_a,
            },
            Some(LayerSpan {
                layers: mid..end,
                out: out_b,
            }),
        )
    }
}

/// Largest absolute value of a slice (0 for an empty one); NaN if any value is NaN.
pub fn max_abs<T: Real>(v: &[T]) -> T {
    // Independent lanes and a compare-and-select max (`maxps` exactly) let the compiler
    // vectorise a reduction it would otherwise run one element at a time; NaNs, which the
    // select drops, are counted on the side.
    const LANES: usize = 8;
    let mut m = [T::zero(); LANES];
    let mut nan = [false; LANES];
    let mut lanes = v.chunks_exact(LANES);
    for chunk in &mut lanes {
        for k in 0..LANES {
            let a = chunk[k].abs();
            m[k] = if a > m[k] { a } else { m[k] };
            nan[k] |= chunk[k].is_nan();
        }
    }
    let mut out = T::zero();
    for &x in lanes.remainder().iter().chain(&m) {
        let a = x.abs();
        out = if a > out { a } else { out };
    }
    if nan.iter().chain(&[false]).any(|&b| b) || lanes.remainder().iter().any(|x| x.is_nan()) {
        T::of_f64(f64::NAN)
    } else {
        out
    }
}

/// The larger of two results of [`max_abs`], NaN if either is.
fn max_of<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::of_f64(f64::NAN)
    } else {
        a.max(b)
    }
}

/// Cosine similarity and norm ratio of gradients `a` against `b`, flattened over all layers
/// and per layer. Accumulated in f64 whatever the working precision.
pub fn alignment<T: Real>(a: &[DMatrix<T>], b: &[DMatrix<T>]) -> Alignment {
    let mut dot = 0.0;
    let mut na = 0.0;
    let mut nb = 0.0;
    let mut norm_ratio_per_layer = Vec::with_capacity(a.len());
    let per_layer = a
        .iter()
        .zip(b)
        .map(|(ga, gb)| {
            let (mut d, mut x, mut y) = (0.0, 0.0, 0.0);
            for (&u, &v) in ga.iter().zip(gb.iter()) {
                let (u, v) = (u.to_f64(), v.to_f64());
                d += u * v;
                x += u * u;
                y += v * v;
            }
            dot += d;
            na += x;
            nb += y;
            norm_ratio_per_layer.push((x / y).sqrt());
            cosine(d, x, y)
        })
        .collect();
    Alignment {
        overall: cosine(dot, na, nb),
        per_layer,
        norm_ratio: (na / nb).sqrt(),
        norm_ratio_per_layer,
    }
}

fn cosine(dot: f64, na: f64, nb: f64) -> f64 {
    if na == 0.0 && nb == 0.0 {
        1.0
    } else if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
