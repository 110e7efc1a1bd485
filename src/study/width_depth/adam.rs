//! Adam, and its learning rate as the paper's code scales it with the width.

use super::*;

/// Adam's learning rate for a network of width N and depth L: `lr` under SP, lr / sqrt(N)
/// under muPC and NTP, lr / sqrt(N L) with skips — one rate for every layer, since the
/// parameterisation's scalings a_l already sit in the forward pass.
///
/// # Reference
/// JPC, `experiments/limits_paper/utils.py`, `configure_param_optim` (the code of Innocenti et
/// al. 2026), which scales `optax.adam`'s rate this way for every non-SP parameterisation.
pub fn adam_learning_rate(
    param: Parameterisation,
    skips: bool,
    lr: f64,
    width: usize,
    depth: usize,
) -> f64 {
    match param {
        Parameterisation::Sp => lr,
        Parameterisation::Mupc | Parameterisation::Ntp => {
            if skips {
                lr / ((width * depth) as f64).sqrt()
            } else {
                lr / (width as f64).sqrt()
            }
        }
    }
}

/// Adam with optax's defaults (b1 = 0.9, b2 = 0.999, eps = 1e-8), in place.
pub(super) struct Adam {
    lr: f64,
    t: i32,
    m: Vec<DMatrix<f64>>,
    v: Vec<DMatrix<f64>>,
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    pub(super) fn new(lr: f64, like: &[DMatrix<f64>]) -> Self {
        let zeros: Vec<DMatrix<f64>> = like
            .iter()
            .map(|w| DMatrix::zeros(w.nrows(), w.ncols()))
            .collect();
        Adam {
            lr,
            t: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    pub(super) fn step(&mut self, weights: &mut [DMatrix<f64>], grads: &[DMatrix<f64>]) {
        self.t += 1;
        let c1 = 1.0 - Self::B1.powi(self.t);
        let c2 = 1.0 - Self::B2.powi(self.t);
        let (step, inv_c2) = (self.lr / c1, 1.0 / c2);
        for (((w, g), m), v) in weights
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            // Plain equal-length slices, so that the loop vectorises (sqrt and division
            // included): this runs over every weight twice a step.
            let (w, g, m, v) = (
                w.as_mut_slice(),
                g.as_slice(),
                m.as_mut_slice(),
                v.as_mut_slice(),
            );
            let n = w.len().min(g.len()).min(m.len()).min(v.len());
            let (w, g, m, v) = (&mut w[..n], &g[..n], &mut m[..n], &mut v[..n]);
            for i in 0..n {
                m[i] = Self::B1 * m[i] + (1.0 - Self::B1) * g[i];
                v[i] = Self::B2 * v[i] + (1.0 - Self::B2) * g[i] * g[i];
                w[i] -= step * m[i] / ((v[i] * inv_c2).sqrt() + Self::EPS);
            }
        }
    }
}
