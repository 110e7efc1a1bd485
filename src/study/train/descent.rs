//! Full-batch gradient descent of PC and BP from the same weights on one batch: the
//! trajectories of a reference file's `training` group (the layout of the JPC training cases:
//! weights before step 0 .. after the last step, and at each the BP loss, PC's energy at
//! equilibrium and the cosine similarity of PC's gradient with BP's at PC's weights). The steps
//! are those of `apcsim train`'s digital learners.

use super::learner::{BpFloat, Learner, PcIdeal, StepReport};
use super::step::StepError;
use crate::dynamics::InferenceOptions;
use crate::io::reference::TrainingSchedule;
use crate::network::{Batch, Network};
use nalgebra::DMatrix;

/// Both trajectories, `steps + 1` entries each.
#[derive(Clone, Debug, Default)]
pub struct Trajectories {
    /// PC's weights at every step (index step, then layer).
    pub pc_weights: Vec<Vec<DMatrix<f64>>>,
    /// BP loss of PC's weights.
    pub pc_loss: Vec<f64>,
    /// F at PC's equilibrium.
    pub pc_energy: Vec<f64>,
    /// Cosine similarity of PC's and BP's gradients at PC's weights, all layers flattened.
    pub pc_cos_sim: Vec<f64>,
    /// Inference iterations of each equilibrium.
    pub pc_inference_steps: Vec<usize>,
    /// BP's weights at every step.
    pub bp_weights: Vec<Vec<DMatrix<f64>>>,
    /// BP loss of BP's weights.
    pub bp_loss: Vec<f64>,
}

/// Runs `schedule` from `net`'s weights on `batch`, PC's equilibria by `opts`.
pub fn full_batch_descent(
    net: &Network<f64>,
    batch: &Batch<f64>,
    schedule: TrainingSchedule,
    opts: &InferenceOptions,
) -> Result<Trajectories, StepError> {
    let mut pc = PcIdeal {
        net: net.clone(),
        lr: schedule.lr,
        inference: opts.clone(),
    };
    let mut bp = BpFloat {
        net: net.clone(),
        lr: schedule.lr,
    };
    let mut t = Trajectories::default();
    for step in 0..=schedule.steps {
        t.pc_weights.push(pc.net.weights().to_vec());
        t.bp_weights.push(bp.net.weights().to_vec());
        let (p, b) = (
            record_step(&mut pc, batch, step, schedule.steps)?,
            record_step(&mut bp, batch, step, schedule.steps)?,
        );
        t.pc_loss.push(p.loss);
        t.pc_energy.push(p.energy);
        t.pc_cos_sim.push(p.alignment.overall);
        t.pc_inference_steps.push(p.inference_steps);
        t.bp_loss.push(b.loss);
    }
    Ok(t)
}

/// A step of `learner`, or after the last one (`step == last`) what a step would see, the
/// weights left as they are.
fn record_step<L: Learner + Clone>(
    learner: &mut L,
    batch: &Batch<f64>,
    step: usize,
    last: usize,
) -> Result<StepReport, StepError> {
    if step < last {
        learner.step(batch, step)
    } else {
        learner.clone().step(batch, step)
    }
}
