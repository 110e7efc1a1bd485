//! A learner: one learning rule (PC or BP) on one substrate, stepping its weights on
//! mini-batches. The digital ones step through [`super::step`], the code path the reference
//! trajectories take.

use super::state::{weights_state, with_weights, LearnerState};
use super::step::{descend, finite_loss, network_at, pc_gradient, StepError};
use crate::dynamics::InferenceOptions;
use crate::network::{alignment, Alignment, Batch, Network};
use nalgebra::DMatrix;

/// What one step of a learner saw and did.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// BP loss of the weights before the step, on the mini-batch.
    pub loss: f64,
    /// F at PC's equilibrium (NaN for BP).
    pub energy: f64,
    /// The applied update (per unit learning rate) against BP's gradient of the weights the
    /// learner held: cosine similarities and norm ratio, per layer and overall.
    pub alignment: Alignment,
    /// Inference iterations of the step (0 for BP).
    pub inference_steps: usize,
    /// Energy and time of the step on the hardware (`None`: a digital learner, or a hardware
    /// learner that keeps no cost).
    pub cost: Option<super::cost::StepCost>,
}

/// One rule on one substrate.
pub trait Learner: Send {
    /// Its name in the outputs (`pc_ideal`, `bp_float`, ...).
    fn name(&self) -> &'static str;
    /// One step on `batch`; `step` numbers it from 0.
    fn step(&mut self, batch: &Batch<f64>, step: usize) -> Result<StepReport, StepError>;
    /// The network whose forward pass the learner's predictions are (its effective weights).
    fn network(&self) -> &Network<f64>;
    /// What writing its updates into devices cost so far (`None`: a digital learner).
    fn update_stats(&self) -> Option<crate::hardware::update::UpdateStats> {
        None
    }
    /// Every conductance it holds, siemens (`None`: a digital learner).
    fn conductances(&self) -> Option<Vec<f64>> {
        None
    }
    /// What a checkpoint keeps of it.
    fn state(&self) -> LearnerState {
        weights_state(self.network())
    }
    /// Back to a `state` it had after `step` steps.
    fn restore(&mut self, state: &LearnerState, step: usize) -> Result<(), String>;
}

/// PC on the ideal network, each equilibrium found by `inference`.
#[derive(Clone)]
pub struct PcIdeal {
    pub net: Network<f64>,
    pub lr: f64,
    pub inference: InferenceOptions,
}

impl Learner for PcIdeal {
    fn name(&self) -> &'static str {
        "pc_ideal"
    }

    fn step(&mut self, batch: &Batch<f64>, step: usize) -> Result<StepReport, StepError> {
        let (loss, bp) = self.net.bp_gradients(batch);
        let loss = finite_loss(loss, &self.net, step, "PC")?;
        let g = pc_gradient(&self.net, batch, &self.inference)
            .map_err(|source| StepError::Inference { step, source })?;
        let report = StepReport {
            loss,
            energy: g.energy,
            alignment: alignment(&g.grads, &bp),
            inference_steps: g.inference.steps,
            cost: None,
        };
        self.net = descended(&self.net, &g.grads, self.lr, step + 1, "PC")?;
        Ok(report)
    }

    fn network(&self) -> &Network<f64> {
        &self.net
    }

    fn restore(&mut self, state: &LearnerState, _step: usize) -> Result<(), String> {
        self.net = with_weights(&self.net, state)?;
        Ok(())
    }
}

/// BP by SGD in floating point.
#[derive(Clone)]
pub struct BpFloat {
    pub net: Network<f64>,
    pub lr: f64,
}

impl Learner for BpFloat {
    fn name(&self) -> &'static str {
        "bp_float"
    }

    fn step(&mut self, batch: &Batch<f64>, step: usize) -> Result<StepReport, StepError> {
        let (loss, bp) = self.net.bp_gradients(batch);
        let loss = finite_loss(loss, &self.net, step, "BP")?;
        let report = StepReport {
            loss,
            energy: f64::NAN,
            alignment: alignment(&bp, &bp),
            inference_steps: 0,
            cost: None,
        };
        self.net = descended(&self.net, &bp, self.lr, step + 1, "BP")?;
        Ok(report)
    }

    fn network(&self) -> &Network<f64> {
        &self.net
    }

    fn restore(&mut self, state: &LearnerState, _step: usize) -> Result<(), String> {
        self.net = with_weights(&self.net, state)?;
        Ok(())
    }
}

/// `net` after `W <- W - lr dW`, checked finite (`step` is the step the new weights start).
fn descended(
    net: &Network<f64>,
    grads: &[DMatrix<f64>],
    lr: f64,
    step: usize,
    rule: &'static str,
) -> Result<Network<f64>, StepError> {
    let mut w = net.weights().to_vec();
    descend(&mut w, grads, lr);
    network_at(net.architecture(), w, step, rule)
}

/// Test loss (BP loss, 0.5 lambda mean |y - yhat|^2) and accuracy (argmax of the prediction
/// against argmax of the target) of `net`'s forward pass on `data`.
pub fn evaluate(net: &Network<f64>, data: &Batch<f64>) -> (f64, f64) {
    let n = data.size();
    let (_, yhat) = net.feedforward(data.x.as_slice(), n);
    let o = data.y.nrows();
    let lam = net.architecture().output_precision;
    let (mut loss, mut hits) = (0.0, 0usize);
    for s in 0..n {
        let p = &yhat[s * o..(s + 1) * o];
        let y = data.y.column(s);
        loss += p
            .iter()
            .zip(y.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
        if argmax(p) == argmax(y.as_slice()) {
            hits += 1;
        }
    }
    (0.5 * lam * loss / n as f64, hits as f64 / n as f64)
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}
