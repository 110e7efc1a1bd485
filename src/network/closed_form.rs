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
//! # Reference
//! Innocenti et al., ICML 2026, §3 (the equilibrium of linear PC networks and its energy
//! F* = 1/(2B) sum_i r_i^T S^-1 r_i, S = I/lambda + sum_l J_l J_l^T); Golub & Van Loan,
//! "Matrix Computations" §4.5 (block tridiagonal systems).

use super::model::{Batch, Network};
use crate::real::Real;
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
