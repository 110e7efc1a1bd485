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

impl TrainRecord {
    /// A run's record before its first step: every learner's test loss and accuracy at epoch 0.
    pub fn start(learners: &[Box<dyn Learner>], data: &TrainData) -> TrainRecord {
        TrainRecord {
            names: learners.iter().map(|l| l.name()).collect(),
            steps: vec![Vec::new(); learners.len()],
            epochs: learners
                .iter()
                .map(|l| vec![epoch_record(l.as_ref(), data, f64::NAN)])
                .collect(),
        }
    }

    /// Steps every learner has taken.
    pub fn completed_steps(&self) -> usize {
        self.steps.iter().map(Vec::len).min().unwrap_or(0)
    }
}

fn epoch_record(l: &dyn Learner, data: &TrainData, train_loss: f64) -> EpochRecord {
    let (test_loss, test_accuracy) = evaluate(l.network(), &data.test);
    EpochRecord {
        test_loss,
        test_accuracy,
        train_loss,
    }
}

/// Why a run stopped before its last step, with what it recorded until then.
#[derive(Debug)]
pub enum Stopped {
    /// A learner's step failed: the record holds every step taken before (and the failed step
    /// of the learners before it in the order; every learner took it, at once).
    Diverged {
        record: TrainRecord,
        learner: &'static str,
        error: StepError,
    },
    /// `after_step` refused to go on (its message).
    Halted {
        record: TrainRecord,
        message: String,
    },
}

/// What runs after every step: given the record and the learners, it may stop the run.
pub type AfterStep<'a> = dyn FnMut(&TrainRecord, &[Box<dyn Learner>]) -> Result<(), String> + 'a;

/// Trains every learner on `data` by `schedule`; `progress(step, total)` after every step.
pub fn train(
    learners: &mut [Box<dyn Learner>],
    data: &TrainData,
    schedule: &Schedule,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TrainRecord, StepError> {
    let total = schedule.steps_per_epoch(data.train.size()) * schedule.epochs;
    let rec = TrainRecord::start(learners, data);
    let mut after = |r: &TrainRecord, _: &[Box<dyn Learner>]| -> Result<(), String> {
        progress(r.completed_steps(), total);
        Ok(())
    };
    train_from(learners, data, schedule, rec, &mut after).map_err(|s| match *s {
        Stopped::Diverged { error, .. } => error,
        Stopped::Halted { .. } => unreachable!("this after_step never halts"),
    })
}

/// Trains every learner from the steps `rec` holds (their state restored to that step) to the
/// end of `schedule`; `after_step(record, learners)` after every step, once the epoch's
/// records are in when the step ends an epoch (a checkpoint is taken there).
pub fn train_from(
    learners: &mut [Box<dyn Learner>],
    data: &TrainData,
    schedule: &Schedule,
    mut rec: TrainRecord,
    after_step: &mut AfterStep<'_>,
) -> Result<TrainRecord, Box<Stopped>> {
    let n = data.train.size();
    let per_epoch = schedule.steps_per_epoch(n);
    let total = per_epoch * schedule.epochs;
    let mut order = (usize::MAX, Vec::new());
    for step in rec.completed_steps()..total {
        let (epoch, pos) = (step / per_epoch, step % per_epoch);
        if order.0 != epoch {
            order = (
                epoch,
                epoch_order(n, epoch, schedule.shuffle, schedule.seed),
            );
        }
        let idx = &order.1[pos * schedule.batch..((pos + 1) * schedule.batch).min(n)];
        let batch = columns(&data.train, idx);
        // The learners are independent: stepped at once, reported in order.
        let reports: Vec<_> = learners
            .par_iter_mut()
            .map(|l| l.step(&batch, step))
            .collect();
        for (k, r) in reports.into_iter().enumerate() {
            match r {
                Ok(r) => rec.steps[k].push(r),
                Err(error) => {
                    return Err(Box::new(Stopped::Diverged {
                        record: rec,
                        learner: learners[k].name(),
                        error,
                    }))
                }
            }
        }
        if pos + 1 == per_epoch {
            for (k, l) in learners.iter().enumerate() {
                let losses = &rec.steps[k][step + 1 - per_epoch..=step];
                let mean = losses.iter().map(|r| r.loss).sum::<f64>() / per_epoch as f64;
                rec.epochs[k].push(epoch_record(l.as_ref(), data, mean));
            }
        }
        if let Err(message) = after_step(&rec, learners) {
            return Err(Box::new(Stopped::Halted {
                record: rec,
                message,
            }));
        }
    }
    Ok(rec)
}
