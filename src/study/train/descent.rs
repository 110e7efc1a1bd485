//! Full-batch gradient descent of PC and BP from the same weights on one batch: the
//! trajectories of a reference file's `training` group (the layout of the JPC training cases:
//! weights before step 0 .. after the last step, and at each the BP loss, PC's energy at
//! equilibrium and the cosine similarity of PC's gradient with BP's at PC's weights).

use super::step::{descend, finite_loss, network_at, pc_gradient, StepError};
use crate::dynamics::InferenceOptions;
use crate::io::reference::TrainingSchedule;
use crate::network::{alignment, Batch, Network};
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
    /// Newton (or other solver) iterations of each equilibrium.
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
    let arch = net.architecture();
    let mut t = Trajectories::default();
    let (mut pc, mut bp) = (net.weights().to_vec(), net.weights().to_vec());
    for step in 0..=schedule.steps {
        let pc_net = network_at(arch, pc, step, "PC")?;
        let (loss, bp_at_pc) = pc_net.bp_gradients(batch);
        t.pc_loss.push(finite_loss(loss, step, "PC")?);
        let g = pc_gradient(&pc_net, batch, opts)
            .map_err(|source| StepError::Inference { step, source })?;
        t.pc_energy.push(g.energy);
        t.pc_cos_sim.push(alignment(&g.grads, &bp_at_pc).overall);
        t.pc_inference_steps.push(g.inference.steps);
        pc = pc_net.into_weights();
        t.pc_weights.push(pc.clone());

        let bp_net = network_at(arch, bp, step, "BP")?;
        let (loss, grads) = bp_net.bp_gradients(batch);
        t.bp_loss.push(finite_loss(loss, step, "BP")?);
        bp = bp_net.into_weights();
        t.bp_weights.push(bp.clone());
        if step < schedule.steps {
            descend(&mut pc, &g.grads, schedule.lr);
            descend(&mut bp, &grads, schedule.lr);
        }
    }
    Ok(t)
}
