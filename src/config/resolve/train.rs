//! [train]: the optdigits split and the schedule of `apcsim train`.

use super::resolver::{usize_of, Resolver, Result};
use crate::config::circuit::{TrainInference, TrainParams};
use crate::config::raw::RawTrain;
use crate::io::data::OPTDIGITS_SAMPLES;
use serde_json::json;

pub(super) fn train(r: &mut Resolver, t: &RawTrain) -> Result<TrainParams> {
    let epochs = r.at_least(&t.epochs, 1, "epochs")?;
    let batch = r.at_least(&t.batch, 1, "the training batch")?;
    let lr = r.positive(&t.lr, "the learning rate")?;
    let train_samples = r.at_least(&t.train_samples, 1, "train_samples")?;
    let test_samples = r.at_least(&t.test_samples, 1, "test_samples")?;
    let transient_every = r.at_least(&t.transient_every, 1, "transient_every")?;
    let digital_mac_time = r.non_negative(&t.digital_mac_time, "the digital MAC time")?;
    let available = OPTDIGITS_SAMPLES as u64;
    if train_samples.saturating_add(test_samples) > available {
        let span = r
            .blame(&t.train_samples.span(), &t.test_samples.span())
            .clone();
        return Err(r.err(
            &span,
            format!(
                "train_samples + test_samples = {} but optdigits holds {available} samples",
                train_samples.saturating_add(test_samples)
            ),
        ));
    }
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
    })
}
