//! One gradient-descent step of a PC network and of its BP twin: the one code path of every
//! training run (a reference file's trajectories, `apcsim train` on the ideal device).
//!
//! PC: inference to the equilibrium z* of the batch, then dF/dW at z* (docs/design.md §1).
//! BP: the gradient of the feedforward loss. Both descend `W <- W - lr dW`.

use crate::dynamics::{infer, Inference, InferenceError, InferenceOptions};
use crate::network::{Architecture, Batch, Network, NetworkError};
use nalgebra::DMatrix;

/// The PC gradient of a network at its inference equilibrium.
#[derive(Clone, Debug)]
pub struct PcGradient {
    /// dF/dW_l at the equilibrium (index l).
    pub grads: Vec<DMatrix<f64>>,
    /// F at the equilibrium.
    pub energy: f64,
    /// The inference that found the equilibrium (its activities and statistics).
    pub inference: Inference<f64>,
}

/// Why a training step failed: the step, and what ran away.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("step {step}: {source}")]
    Inference { step: usize, source: InferenceError },
    /// The weights of `rule` (PC, BP) ran away: `what` says which quantity is no longer finite.
    #[error("step {step}: {rule} diverged: {what}")]
    Diverged {
        step: usize,
        rule: &'static str,
        what: String,
    },
}

/// The BP loss `loss` of `net`, `rule`'s weights at `step`, or the divergence it shows, naming
/// the layer whose weights ran furthest.
pub fn finite_loss(
    loss: f64,
    net: &Network<f64>,
    step: usize,
    rule: &'static str,
) -> Result<f64, StepError> {
    if loss.is_finite() {
        return Ok(loss);
    }
    let (l, m) = net
        .weights()
        .iter()
        .map(|w| w.iter().fold(0.0, |m: f64, v| m.max(v.abs())))
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (l, m)| if m > best.1 { (l, m) } else { best },
        );
    Err(StepError::Diverged {
        step,
        rule,
        what: format!(
            "the loss of its weights is {loss}; the largest are layer {}'s, max |W| = {m:e}",
            l + 1
        ),
    })
}

/// Infers the equilibrium of `batch` on `net` with `opts` and returns dF/dW there.
pub fn pc_gradient(
    net: &Network<f64>,
    batch: &Batch<f64>,
    opts: &InferenceOptions,
) -> Result<PcGradient, InferenceError> {
    let inference = infer(net, batch, opts)?;
    let grads = net.pc_weight_gradients(batch, &inference.z);
    let energy = net.energy(batch, &inference.z);
    Ok(PcGradient {
        grads,
        energy,
        inference,
    })
}

/// `W_l <- W_l - lr dW_l` for every layer.
pub fn descend(weights: &mut [DMatrix<f64>], grads: &[DMatrix<f64>], lr: f64) {
    for (w, g) in weights.iter_mut().zip(grads) {
        w.zip_apply(g, |w, g| *w -= lr * g);
    }
}

/// The network of `arch` with `weights`, or the step's error naming the rule whose weights
/// are no longer finite.
pub fn network_at(
    arch: &Architecture,
    weights: Vec<DMatrix<f64>>,
    step: usize,
    rule: &'static str,
) -> Result<Network<f64>, StepError> {
    Network::new(arch.clone(), weights).map_err(|e: NetworkError| StepError::Diverged {
        step,
        rule,
        what: e.to_string(),
    })
}
