//! [run]: the batch, the seed and what the traces record.

use super::data::FileNetwork;
use super::resolver::{usize_of, Resolver, Result};
use crate::config::circuit::{Precision, RunMode, RunParams};
use crate::config::raw::RawRun;
use serde_json::json;
use std::ops::Range;

/// The [run] section, resolved.
pub(super) struct RunSection {
    pub batch: u64,
    pub batch_span: Range<usize>,
    pub seed: u64,
    pub trace_samples: u64,
    pub trace_points: u64,
    pub trace_samples_span: Range<usize>,
    pub trace_points_span: Range<usize>,
    pub precision: Precision,
    pub mode: RunMode,
    pub record_weights: bool,
}

impl RunSection {
    pub fn params(&self) -> RunParams {
        RunParams {
            batch: usize_of(self.batch),
            seed: self.seed,
            trace_samples: usize_of(self.trace_samples),
            trace_points: usize_of(self.trace_points),
            precision: self.precision,
            mode: self.mode,
            record_weights: self.record_weights,
        }
    }
}

/// The batch (an HDF5 file's own unless the user gives one), the seed and the trace sizes.
pub(super) fn run(
    r: &mut Resolver,
    run: &RawRun,
    file: Option<&FileNetwork>,
) -> Result<RunSection> {
    let batch_span = run.batch.span();
    let user_batch = r.ctx.user_given(&batch_span);
    let mut batch = r.at_least(&run.batch, 1, "the batch")?;
    if let (Some(f), false) = (file, user_batch) {
        batch = f.batch as u64;
    }
    let seed = run.seed.get_ref().0;
    let trace_samples = run.trace_samples.get_ref().0;
    let trace_points = r.at_least(&run.trace_points, 2, "trace_points")?;
    r.put_all(
        "run",
        vec![
            (
                "batch",
                json!(batch),
                (file.is_none() || user_batch).then(|| batch_span.clone()),
            ),
            ("seed", json!(seed), Some(run.seed.span())),
            (
                "trace_samples",
                json!(trace_samples),
                Some(run.trace_samples.span()),
            ),
            (
                "trace_points",
                json!(trace_points),
                Some(run.trace_points.span()),
            ),
            (
                "precision",
                json!(run.precision.get_ref()),
                Some(run.precision.span()),
            ),
            ("mode", json!(run.mode.get_ref()), Some(run.mode.span())),
            (
                "record_weights",
                json!(run.record_weights.get_ref()),
                Some(run.record_weights.span()),
            ),
        ],
    );
    Ok(RunSection {
        batch,
        batch_span,
        seed,
        trace_samples,
        trace_points,
        trace_samples_span: run.trace_samples.span(),
        trace_points_span: run.trace_points.span(),
        precision: if run.precision.get_ref() == "f32" {
            Precision::F32
        } else {
            Precision::F64
        },
        // The loader admits only the schema's choices.
        mode: RunMode::named(run.mode.get_ref()).unwrap_or_default(),
        record_weights: *run.record_weights.get_ref(),
    })
}
