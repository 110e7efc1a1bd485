//! Exact equilibria of linear PC networks, the oracles the solvers are tested against.
//!
//! With phi the identity, layer l predicts A_l z_{l-1} with A_l = s_l I + a_l W_{l-1}, and the
//! per-sample energy E = 1/2 sum_l lambda_l |z_l - A_l z_{l-1}|^2 is quadratic in the free
//! activities: E = 1/2 z^T H z - b^T z + const. H is block tridiagonal,
//!
//!   H_kk = lambda_k I + lambda_{k+1} A_{k+1}^T A_{k+1},   H_{k,k+1} = -lambda_{k+1} A_{k+1}^T,
//!
//! the same for every sample, and b_1 = A_1 x, b_{L-1} += lambda_L A_L^T y. z* = H^-1 b is found by
//! block Cholesky elimination (Schur complements S_k, each factorised densely), which costs
//! O(L N^3) instead of O(L^3 N^3) for the dense H.
//!
//! [`equilibrium_output_space`] finds the same z* without any N x N factorisation: at the
//! equilibrium every hidden error is the output error carried back, e_l = lambda K_l^T e_L, so
//! the whole system collapses onto the O x O rescaling S = I/lambda + sum_l J_l K_l^T (J_l =
//! A_L ... A_{l+1} the forward Jacobian from layer l to the output, K_l the same product through
//! the backward weights, K = J for ideal PC). One pass of O-row products down the layers, an
//! O x O solve and one forward pass give z*: O(L N^2 (O + B)) instead of O(L N^3), and it also
//! covers hardware networks whose backward products use their own weights (S is then not
//! symmetric, and is solved by LU).
//!
//! # Reference
//! Innocenti et al., ICML 2026, §3 (the equilibrium of linear PC networks and its energy
//! F* = 1/(2B) sum_i r_i^T S^-1 r_i, S = I/lambda + sum_l J_l J_l^T); Golub & Van Loan,
//! "Matrix Computations" §4.5 (block tridiagonal systems).

use super::model::{Batch, Network};
use crate::numeric::{gemm, MatMut, MatRef, Real};
use nalgebra::{Cholesky, DMatrix};

/// Why the closed form does not apply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClosedFormError {
    #[error("the closed-form equilibrium needs a linear network, this one uses {0}")]
    Nonlinear(String),
    #[error("the closed form assumes backward products through W^T; this network has its own feedback weights")]
    Feedback,
    #[error("the activity Hessian is not positive definite at block {block}")]
    NotPositiveDefinite { block: usize },
    #[error("the output-space rescaling S is singular: the activity dynamics have no unique equilibrium")]
    SingularRescaling,
}

/// A_l = s_l I + a_l W_{l-1} in f64, for l = 1..L (index l-1).
fn layer_maps<T: Real>(net: &Network<T>) -> Vec<DMatrix<f64>> {
    let arch = net.architecture();
    net.weights()
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let l = i + 1;
            let mut a = w.map(|v| v.to_f64()) * net.scalings()[i].to_f64();
            if arch.has_skip(l) {
                for d in 0..a.nrows() {
                    a[(d, d)] += 1.0;
                }
            }
            a
        })
        .collect()
}

fn check_linear<T: Real>(net: &Network<T>) -> Result<(), ClosedFormError> {
    if !net.activation().is_linear() {
        Err(ClosedFormError::Nonlinear(net.activation().to_string()))
    } else if !std::ptr::eq(net.feedback_weights(), net.weights()) {
        Err(ClosedFormError::Feedback)
    } else {
        Ok(())
    }
}

/// The equilibrium activities z* (flat layout) of a linear network for a batch.
pub fn equilibrium<T: Real>(net: &Network<T>, batch: &Batch<T>) -> Result<Vec<T>, ClosedFormError> {
    check_linear(net)?;
    let l_out = net.n_layers();
    let lam = net.architecture().output_precision;
    let a = layer_maps(net);
    let x = batch.x.map(|v| v.to_f64());
    let y = batch.y.map(|v| v.to_f64());
    let k = l_out - 1; // free blocks 1..=k, stored at index 0..k
    let precision = |l: usize| if l == l_out { lam } else { 1.0 };

    // Diagonal blocks D_k and right-hand sides b_k (one column per sample).
    let mut diag: Vec<DMatrix<f64>> = (1..=k)
        .map(|l| {
            let n = a[l - 1].nrows();
            let next = &a[l];
            DMatrix::<f64>::identity(n, n) + next.transpose() * next * precision(l + 1)
        })
        .collect();
    let mut rhs: Vec<DMatrix<f64>> = (1..=k)
        .map(|l| DMatrix::<f64>::zeros(a[l - 1].nrows(), x.ncols()))
        .collect();
    rhs[0] += &a[0] * &x;
    rhs[k - 1] += a[l_out - 1].transpose() * &y * lam;

    // Forward elimination: S_j = D_j - U_{j-1}^T S_{j-1}^-1 U_{j-1} with U_{j-1} = -A_j^T
    // (lambda = 1 between free layers), and the same on the right-hand side.
    let mut factors: Vec<Cholesky<f64, nalgebra::Dyn>> = Vec::with_capacity(k);
    for j in 0..k {
        if j > 0 {
            let u = -a[j].transpose(); // H_{j-1, j}, coupling free blocks j-1 and j
            let f = &factors[j - 1];
            let s_inv_u = f.solve(&u);
            let s_inv_r = f.solve(&rhs[j - 1]);
            diag[j] -= u.transpose() * s_inv_u;
            let corr = u.transpose() * s_inv_r;
            rhs[j] -= corr;
        }
        let chol = Cholesky::new(diag[j].clone())
            .ok_or(ClosedFormError::NotPositiveDefinite { block: j + 1 })?;
        factors.push(chol);
    }
    // Back substitution: z_j = S_j^-1 (r_j - U_j z_{j+1}).
    let mut z: Vec<DMatrix<f64>> = vec![DMatrix::zeros(0, 0); k];
    for j in (0..k).rev() {
        let mut r = rhs[j].clone();
        if j + 1 < k {
            let u = -a[j + 1].transpose();
            r -= u * &z[j + 1];
        }
        z[j] = factors[j].solve(&r);
    }
    let mut out = Vec::new();
    for m in &z {
        out.extend(m.iter().map(|&v| T::of_f64(v)));
    }
    Ok(out)
}

/// F* = 1/(2B) sum_i r_i^T S^-1 r_i with r_i = y_i - yhat_i and S = I/lambda + sum_l J_l J_l^T,
/// J_l = A_L A_{L-1} ... A_{l+1}: the equilibrium energy computed in output space, without
/// solving for any activity (an oracle independent of [`equilibrium`]).
pub fn equilibrium_energy<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
) -> Result<f64, ClosedFormError> {
    check_linear(net)?;
    let l_out = net.n_layers();
    let lam = net.architecture().output_precision;
    let a = layer_maps(net);
    let o = a[l_out - 1].nrows();
    let mut s = DMatrix::<f64>::identity(o, o) / lam;
    let mut j = a[l_out - 1].clone();
    for l in (1..l_out).rev() {
        s += &j * j.transpose();
        if l > 1 {
            j = &j * &a[l - 1];
        }
    }
    let (_, yhat) = net.feedforward(batch.x.as_slice(), batch.size());
    let yhat = DMatrix::from_column_slice(o, batch.size(), &yhat).map(|v| v.to_f64());
    let r = batch.y.map(|v| v.to_f64()) - yhat;
    let chol = Cholesky::new(s).ok_or(ClosedFormError::NotPositiveDefinite { block: 0 })?;
    let sr = chol.solve(&r);
    let total: f64 = r.iter().zip(sr.iter()).map(|(u, v)| u * v).sum();
    Ok(total / (2.0 * batch.size() as f64))
}

/// The equilibrium of a linear network found in output space, with its rescaling.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpaceEquilibrium<T> {
    /// z* (flat layout, see [`super::Layout`]).
    pub z: Vec<T>,
    /// S = I/lambda + sum_{l=1}^{L-1} J_l K_l^T (O x O). For ideal PC (K = J) this is the
    /// rescaling of F* = 1/(2B) sum_i r_i^T S^-1 r_i, whose size s - 1 the paper's theory
    /// predicts; symmetric positive definite then.
    pub rescaling: DMatrix<f64>,
}

/// The exact equilibrium z* of a linear network by the output-space reduction of the module
/// documentation: O(L N^2 (O + B)) work, no N x N factorisation. Unlike [`equilibrium`] it
/// accepts networks with their own feedback weights (hardware backward reads): their activity
/// dynamics dz_l/dt = -e_l + B_{l+1}^T (lambda_{l+1} e_{l+1}) are still linear, and the fixed
/// point is e_l = lambda K_l^T e_L with K_l = B_L ... B_{l+1}.
///
/// Products are taken in the network's precision; the O x O solve in f64.
///
/// # Reference
/// Innocenti et al., "Only strict saddles in the energy landscape of predictive coding
/// networks?" (2024), the rescaling S of the equilibrated energy of deep linear networks, as in
/// JPC's `linear_equilib_energy`; Innocenti et al., ICML 2026, §3.
pub fn equilibrium_output_space<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
) -> Result<OutputSpaceEquilibrium<T>, ClosedFormError> {
    if !net.activation().is_linear() {
        return Err(ClosedFormError::Nonlinear(net.activation().to_string()));
    }
    let o = net.widths()[net.n_layers()];
    let b = batch.size();
    let j = output_jacobians(net, net.weights());
    let k_own = net
        .has_feedback()
        .then(|| output_jacobians(net, net.feedback_weights()));
    let k = k_own.as_ref().unwrap_or(&j);
    let s = rescaling(net, &j, k);

    // U = S^-1 r with r = y - yhat; then e_L = U / lambda and e_l = K_l^T U.
    let (z_ff, yhat) = net.feedforward(batch.x.as_slice(), b);
    let r = DMatrix::from_fn(o, b, |i, c| (batch.y[(i, c)] - yhat[i + c * o]).to_f64());
    let u = s
        .clone()
        .lu()
        .solve(&r)
        .ok_or(ClosedFormError::SingularRescaling)?;
    let u: Vec<T> = u.iter().map(|&v| T::of_f64(v)).collect();
    let mut z = z_ff;
    add_deviations(net, k, &u, b, &mut z);
    Ok(OutputSpaceEquilibrium { z, rescaling: s })
}

/// The rescaling S = I/lambda + sum_l J_l K_l^T (O x O, f64) of the output Jacobians `j` of
/// the forward weights and `k` of the backward ones.
fn rescaling<T: Real>(net: &Network<T>, j: &[Vec<T>], k: &[Vec<T>]) -> DMatrix<f64> {
    let widths = net.widths();
    let o = widths[net.n_layers()];
    let mut s = DMatrix::<f64>::identity(o, o) / net.architecture().output_precision;
    let mut jk = vec![T::zero(); o * o];
    for l in 1..net.n_layers() {
        let n = widths[l];
        gemm(
            T::one(),
            MatRef::col_major(&j[l - 1], o, n),
            MatRef::col_major(&k[l - 1], o, n).t(),
            T::zero(),
            MatMut::col_major(&mut jk, o, o),
        );
        for (sv, &v) in s.iter_mut().zip(&jk) {
            *sv += v.to_f64();
        }
    }
    s
}

/// Adds the equilibrium's deviation from the feedforward pass to `z` (the feedforward
/// activities of a batch of `b`): delta_l = A_l delta_{l-1} + e_l with e_l = K_l^T U and
/// delta_0 = 0 (x is clamped).
fn add_deviations<T: Real>(net: &Network<T>, k: &[Vec<T>], u: &[T], b: usize, z: &mut [T]) {
    let arch = net.architecture();
    let widths = net.widths();
    let o = widths[net.n_layers()];
    let layout = net.layout(b);
    let mut delta: Vec<T> = Vec::new();
    for l in 1..net.n_layers() {
        let n = widths[l];
        let mut d = vec![T::zero(); n * b];
        gemm(
            T::one(),
            MatRef::col_major(&k[l - 1], o, n).t(),
            MatRef::col_major(u, o, b),
            T::zero(),
            MatMut::col_major(&mut d, n, b),
        );
        if l > 1 {
            if arch.has_skip(l) {
                for (di, &p) in d.iter_mut().zip(&delta) {
                    *di += p;
                }
            }
            gemm(
                net.scalings()[l - 1],
                MatRef::from(&net.weights()[l - 1]),
                MatRef::col_major(&delta, widths[l - 1], b),
                T::one(),
                MatMut::col_major(&mut d, n, b),
            );
        }
        for (zi, &di) in z[layout.range(l)].iter_mut().zip(&d) {
            *zi += di;
        }
        delta = d;
    }
}

/// J_l = A_L A_{L-1} ... A_{l+1} (O x n_l, column-major) for l = 1..L-1 (index l-1), with
/// A_m = s_m I + a_m W_{m-1} built from `weights`.
fn output_jacobians<T: Real>(net: &Network<T>, weights: &[DMatrix<T>]) -> Vec<Vec<T>> {
    let arch = net.architecture();
    let l_out = net.n_layers();
    let widths = net.widths();
    let o = widths[l_out];
    let a = net.scalings();
    // From the output down: J_{L-1} = A_L (the output layer has no skip), J_l = J_{l+1} A_{l+1}.
    let mut rev: Vec<Vec<T>> = Vec::with_capacity(l_out - 1);
    rev.push(
        weights[l_out - 1]
            .as_slice()
            .iter()
            .map(|&w| a[l_out - 1] * w)
            .collect(),
    );
    for l in (1..l_out - 1).rev() {
        let prev = rev.last().map(Vec::as_slice).unwrap_or(&[]);
        let skip = arch.has_skip(l + 1);
        let mut next = if skip {
            prev.to_vec()
        } else {
            vec![T::zero(); o * widths[l]]
        };
        gemm(
            a[l],
            MatRef::col_major(prev, o, widths[l + 1]),
            MatRef::from(&weights[l]),
            if skip { T::one() } else { T::zero() },
            MatMut::col_major(&mut next, o, widths[l]),
        );
        rev.push(next);
    }
    rev.reverse();
    rev
}
