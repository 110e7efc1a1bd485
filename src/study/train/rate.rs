//! The learning rate every rule of a training run steps at: `train.lr`, scaled with the width
//! when `train.lr_scaling = "mupc"`.
//!
//! muPC (Innocenti et al., NeurIPS 2025) is the Depth-muP parameterisation of Bordelon et al.,
//! "Depthwise hyperparameter transfer in residual networks" (ICLR 2024): input 1/sqrt(D), residual
//! branches 1/sqrt(N L), readout 1/(gamma0 N), weights N(0, 1) (docs/design.md, §1). Under it
//! the readout's 1/N makes every weight gradient O(1/N), and plain SGD keeps the change of the
//! features O(1) at every width with the learning rate lr gamma0^2 N: a learning rate tuned
//! on a narrow network then transfers to a wide one.

use crate::config::LrScaling;
use crate::network::Architecture;

/// `lr` as `scaling` makes it on `arch`: lr, or lr gamma0^2 N with N the width feeding the
/// output layer (the last hidden width).
pub fn learning_rate(lr: f64, scaling: LrScaling, arch: &Architecture) -> f64 {
    match scaling {
        LrScaling::None => lr,
        LrScaling::Mupc => {
            let n = arch.widths[arch.widths.len().saturating_sub(2)] as f64;
            lr * arch.gamma0 * arch.gamma0 * n
        }
    }
}
