//! How a training run ended, as its outputs say it: a run whose step diverged still writes
//! everything it recorded, marked with the learner, the step and what ran away.

use super::session::TrainRecord;
use super::step::StepError;
use crate::io::h5::{Attr, H5Writer};
use serde_json::json;

/// The step a failed step names.
pub fn failed_step(e: &StepError) -> usize {
    match e {
        StepError::Inference { step, .. } | StepError::Diverged { step, .. } => *step,
    }
}

/// The one line a diverged run reports: the step's error, after the learner's name unless the
/// error names it.
pub fn divergence_message(learner: &str, e: &StepError) -> String {
    let text = e.to_string();
    if text.contains(learner) {
        text
    } else {
        format!("{learner}: {text}")
    }
}

/// Marks `train.h5` and `report.json` of a run whose step diverged (`None`: a run that went to
/// its end, marked so in report.json).
pub fn mark(
    h5: &mut H5Writer,
    report: &mut serde_json::Value,
    rec: &TrainRecord,
    diverged: Option<(&str, &StepError)>,
) {
    let value = match diverged {
        None => serde_json::Value::Null,
        Some((learner, e)) => {
            let message = divergence_message(learner, e);
            h5.attr("", "diverged", Attr::Str(message.clone()))
                .attr("", "diverged_learner", Attr::Str(learner.into()))
                .attr("", "diverged_step", Attr::I64(failed_step(e) as i64));
            json!({
                "learner": learner,
                "step": failed_step(e),
                "steps_completed": rec.completed_steps(),
                "message": message,
            })
        }
    };
    if let Some(map) = report.as_object_mut() {
        map.insert("diverged".into(), value);
    }
}
