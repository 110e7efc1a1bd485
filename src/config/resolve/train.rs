//! [train]: the data split and the schedule of `apcsim train`.

use super::resolver::{usize_of, Resolver, Result};
use crate::config::circuit::{LrScaling, TrainInference, TrainParams};
use crate::config::raw::RawTrain;
use crate::network::{Architecture, Parameterisation};
use serde_json::json;

/// `[train]`; `pool` is the samples the split draws from and what holds them (`None`: the
/// data set's own split).
pub(super) fn train(
    r: &mut Resolver,
    t: &RawTrain,
    arch: &Architecture,
    pool: Option<(u64, &str)>,
) -> Result<TrainParams> {
    let epochs = r.at_least(&t.epochs, 1, "epochs")?;
    let batch = r.at_least(&t.batch, 1, "the training batch")?;
    let lr = r.positive(&t.lr, "the learning rate")?;
    let train_samples = r.at_least(&t.train_samples, 1, "train_samples")?;
    let test_samples = r.at_least(&t.test_samples, 1, "test_samples")?;
    let transient_every = r.at_least(&t.transient_every, 1, "transient_every")?;
    let digital_mac_time = r.non_negative(&t.digital_mac_time, "the digital MAC time")?;
    match pool {
        Some((available, holder)) => {
            if train_samples.saturating_add(test_samples) > available {
                let span = r
                    .blame(&t.train_samples.span(), &t.test_samples.span())
                    .clone();
                return Err(r.err(
                    &span,
                    format!(
                        "train_samples + test_samples = {} but {holder} holds {available} samples",
                        train_samples.saturating_add(test_samples)
                    ),
                ));
            }
        }
        None => {
            let why = "the data set has no train/test split of its own";
            r.unused_unless(&t.train_samples.span(), &[train_samples as f64], false, why)?;
            r.unused_unless(&t.test_samples.span(), &[test_samples as f64], false, why)?;
        }
    }
    let lr_scaling = lr_scaling(r, t, arch)?;
    let step_interval = r.non_negative(&t.step_interval, "the step interval")?;
    r.put_all(
        "train",
        vec![
            ("epochs", json!(epochs), Some(t.epochs.span())),
            ("batch", json!(batch), Some(t.batch.span())),
            ("lr", json!(lr), Some(t.lr.span())),
            (
                "train_samples",
                json!(train_samples),
                Some(t.train_samples.span()),
            ),
            (
                "test_samples",
                json!(test_samples),
                Some(t.test_samples.span()),
            ),
            (
                "shuffle",
                json!(t.shuffle.get_ref()),
                Some(t.shuffle.span()),
            ),
            (
                "inference",
                json!(t.inference.get_ref()),
                Some(t.inference.span()),
            ),
            (
                "transient_every",
                json!(transient_every),
                Some(t.transient_every.span()),
            ),
            (
                "digital_mac_time_seconds",
                json!(digital_mac_time),
                Some(t.digital_mac_time.span()),
            ),
            (
                "checkpoint_every",
                json!(t.checkpoint_every.get_ref().0),
                Some(t.checkpoint_every.span()),
            ),
            (
                "lr_scaling",
                json!(t.lr_scaling.get_ref()),
                Some(t.lr_scaling.span()),
            ),
            (
                "step_interval_seconds",
                json!(step_interval),
                Some(t.step_interval.span()),
            ),
        ],
    );
    Ok(TrainParams {
        epochs: usize_of(epochs),
        batch: usize_of(batch),
        lr,
        train_samples: usize_of(train_samples),
        test_samples: usize_of(test_samples),
        shuffle: *t.shuffle.get_ref(),
        // The schema's choice checked the name.
        inference: match t.inference.get_ref().as_str() {
            "transient" => TrainInference::Transient,
            _ => TrainInference::Equilibrium,
        },
        transient_every: usize_of(transient_every),
        digital_mac_time_seconds: digital_mac_time,
        checkpoint_every: usize_of(t.checkpoint_every.get_ref().0),
        lr_scaling,
        step_interval_seconds: step_interval,
    })
}

/// `train.lr_scaling`: muPC's scaling only on a muPC network.
fn lr_scaling(r: &Resolver, t: &RawTrain, arch: &Architecture) -> Result<LrScaling> {
    match t.lr_scaling.get_ref().as_str() {
        "mupc" => {
            r.ensure(
                arch.parameterisation == Parameterisation::Mupc,
                &t.lr_scaling.span(),
                || {
                    format!(
                        "mupc scales the learning rate of a muPC network, but \
                         network.parameterisation is {}",
                        arch.parameterisation.name()
                    )
                },
            )?;
            Ok(LrScaling::Mupc)
        }
        _ => Ok(LrScaling::None),
    }
}
