//! Anderson-accelerated fixed-point iteration on the Euler map G(z) = z - beta g(z), per
//! sample: z_{k+1} = z_k + f_k - (dX + dF) gamma, with f = G(z) - z, dX and dF the last `depth`
//! differences of iterates and of f, and gamma the least-squares solution of dF gamma = f
//! (type II, Walker & Ni, SIAM J. Numer. Anal. 49 (2011) 1715). One gradient evaluation per
//! iteration; the history is dropped when the residual grows tenfold over its best.

use super::newton::{ChunkNewton, Samples};
use crate::network::{Network, Workspace};

/// Anderson on one chunk of `b` samples from `z`.
pub(super) struct Anderson<'a> {
    pub net: &'a Network<f64>,
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub ws: Workspace<f64>,
    pub samples: Samples,
    pub tol: f64,
    /// The Euler step of the map.
    pub beta: f64,
    /// Differences kept.
    pub depth: usize,
}

impl Anderson<'_> {
    pub fn solve(mut self, mut z: Vec<f64>, max_iterations: usize) -> ChunkNewton {
        let len = z.len();
        let mut g = vec![0.0; len];
        let (mut dx, mut df): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
        let (mut z_prev, mut f_prev): (Option<Vec<f64>>, Option<Vec<f64>>) = (None, None);
        let mut best = f64::INFINITY;
        let mut evals = 0;
        let mut iterations = 0;
        let failure = loop {
            self.net
                .activity_gradient(self.x, self.y, &z, &mut self.ws, &mut g);
            evals += 1;
            let rate = self.samples.max_abs(&g);
            let live: Vec<bool> = rate.iter().map(|&m| m >= self.tol || m.is_nan()).collect();
            let worst = rate.iter().copied().fold(0.0, f64::max);
            if !live.contains(&true) {
                break None;
            }
            if iterations == max_iterations || !worst.is_finite() {
                break Some(format!(
                    "max|dz/dt| = {worst:.3e} after {iterations} Anderson iterations"
                ));
            }
            let f: Vec<f64> = g.iter().map(|v| -self.beta * v).collect();
            if worst > 10.0 * best {
                dx.clear();
                df.clear();
            } else if let (Some(zp), Some(fp)) = (&z_prev, &f_prev) {
                if dx.len() == self.depth {
                    dx.remove(0);
                    df.remove(0);
                }
                dx.push(z.iter().zip(zp).map(|(a, b)| a - b).collect());
                df.push(f.iter().zip(fp).map(|(a, b)| a - b).collect());
            }
            best = best.min(worst);
            let gamma = self.coefficients(&df, &f);
            z_prev = Some(z.clone());
            let step: Vec<f64> = live.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
            self.samples.axpy(&step, &f, &mut z);
            for (i, (dxi, dfi)) in dx.iter().zip(&df).enumerate() {
                let c: Vec<f64> = (0..step.len()).map(|s| -step[s] * gamma[s][i]).collect();
                self.samples.axpy(&c, dxi, &mut z);
                self.samples.axpy(&c, dfi, &mut z);
            }
            f_prev = Some(f);
            iterations += 1;
        };
        ChunkNewton {
            z,
            iterations,
            krylov_iterations: 0,
            gradient_evals: evals,
            jacobian_products: 0,
            failure,
        }
    }

    /// gamma_s = argmin |f_s - dF_s gamma| for every sample, by the normal equations with a
    /// relative Tikhonov term (1e-12 of the Gram matrix's trace) against rank loss.
    fn coefficients(&self, df: &[Vec<f64>], f: &[f64]) -> Vec<Vec<f64>> {
        let m = df.len();
        let b = self.samples.dots(f, f).len();
        let mut gram = vec![vec![vec![0.0; m]; m]; b];
        let mut rhs = vec![vec![0.0; m]; b];
        for i in 0..m {
            let c = self.samples.dots(&df[i], f);
            for s in 0..b {
                rhs[s][i] = c[s];
            }
            for j in 0..=i {
                let d = self.samples.dots(&df[i], &df[j]);
                for s in 0..b {
                    gram[s][i][j] = d[s];
                    gram[s][j][i] = d[s];
                }
            }
        }
        gram.into_iter()
            .zip(rhs)
            .map(|(a, r)| solve_spd(a, r))
            .collect()
    }
}

/// Solves (A + 1e-12 tr(A) I) x = r by Cholesky; zeros if A vanishes or is not positive.
fn solve_spd(mut a: Vec<Vec<f64>>, r: Vec<f64>) -> Vec<f64> {
    let m = r.len();
    let trace: f64 = (0..m).map(|i| a[i][i]).sum();
    if !(trace > 0.0) {
        return vec![0.0; m];
    }
    for i in 0..m {
        a[i][i] += 1e-12 * trace;
    }
    for j in 0..m {
        let d = a[j][j] - (0..j).map(|k| a[j][k] * a[j][k]).sum::<f64>();
        if !(d > 0.0) {
            return vec![0.0; m];
        }
        a[j][j] = d.sqrt();
        for i in j + 1..m {
            a[i][j] = (a[i][j] - (0..j).map(|k| a[i][k] * a[j][k]).sum::<f64>()) / a[j][j];
        }
    }
    let mut x = r;
    for i in 0..m {
        x[i] = (x[i] - (0..i).map(|k| a[i][k] * x[k]).sum::<f64>()) / a[i][i];
    }
    for i in (0..m).rev() {
        x[i] = (x[i] - (i + 1..m).map(|k| a[k][i] * x[k]).sum::<f64>()) / a[i][i];
    }
    x
}
