//! The loop of `apcsim train`: epochs of seeded mini-batches, every learner stepping on the
//! same batches from the same initial weights, each evaluated on the test set after every epoch.

use super::data::{columns, epoch_order, TrainData};
use super::learner::{evaluate, Learner, StepReport};
use super::step::StepError;
use rayon::prelude::*;

/// Epochs, mini-batch size, shuffling and its seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub epochs: usize,
    pub batch: usize,
    pub shuffle: bool,
    pub seed: u64,
}

impl Schedule {
    /// Mini-batches of an epoch of `n` samples (the last may be smaller).
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        n.div_ceil(self.batch)
    }
}

/// One learner's test loss and accuracy after an epoch (epoch 0: before training).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Mean BP loss of the epoch's mini-batches before their steps (NaN at epoch 0).
    pub train_loss: f64,
}

/// What a run recorded, per learner (in the order given).
#[derive(Clone, Debug, Default)]
pub struct TrainRecord {
    pub names: Vec<&'static str>,
    /// Per learner, per step.
    pub steps: Vec<Vec<StepReport>>,
    /// Per learner, per epoch (epochs + 1 entries, the first before training).
    pub epochs: Vec<Vec<EpochRecord>>,
}

/// Trains every learner on `data` by `schedule`; `progress(step, total)` after every step.
pub fn train(
    learners: &mut [Box<dyn Learner>],
    data: &TrainData,
    schedule: &Schedule,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TrainRecord, StepError> {
    let n = data.train.size();
    let per_epoch = schedule.steps_per_epoch(n);
    let total = per_epoch * schedule.epochs;
    let mut rec = TrainRecord {
        names: learners.iter().map(|l| l.name()).collect(),
        steps: vec![Vec::with_capacity(total); learners.len()],
        epochs: vec![Vec::with_capacity(schedule.epochs + 1); learners.len()],
    };
    let epoch_record = |l: &dyn Learner, train_loss: f64| {
        let (test_loss, test_accuracy) = evaluate(l.network(), &data.test);
        EpochRecord {
            test_loss,
            test_accuracy,
            train_loss,
        }
    };
    for (k, l) in learners.iter().enumerate() {
        rec.epochs[k].push(epoch_record(l.as_ref(), f64::NAN));
    }
    let mut step = 0;
    for epoch in 0..schedule.epochs {
        let order = epoch_order(n, epoch, schedule.shuffle, schedule.seed);
        for idx in order.chunks(schedule.batch) {
            let batch = columns(&data.train, idx);
            // The learners are independent: stepped at once, reported in order.
            let reports: Vec<_> = learners
                .par_iter_mut()
                .map(|l| l.step(&batch, step))
                .collect();
            for (k, r) in reports.into_iter().enumerate() {
                rec.steps[k].push(r?);
            }
            step += 1;
            progress(step, total);
        }
        for (k, l) in learners.iter().enumerate() {
            let losses = &rec.steps[k][step - per_epoch..step];
            let mean = losses.iter().map(|r| r.loss).sum::<f64>() / per_epoch as f64;
            rec.epochs[k].push(epoch_record(l.as_ref(), mean));
        }
    }
    Ok(rec)
}
