//! Checkpoints of `apcsim train` (`DIR/checkpoint.h5`): what a run needs to go on from a step
//! to the results an uninterrupted run gives, bit for bit.
//!
//! A checkpoint holds every learner's state (the digital ones' weights; the hardware ones'
//! conductances, both arrays of a separate backward read, and their update counters), the
//! records of every step and epoch so far (train.h5's datasets, and each step's inference
//! iterations), the seconds spent, and the resolved design with its digest. Nothing else is needed: every random draw of a step is a function of (seed, array,
//! step, sample, row) and every epoch's shuffle of (seed, epoch), so no generator state is
//! carried from one step to the next; the devices' fixed properties (responses, stuck devices,
//! drift exponents) and the mapping are drawn again from the design when the learners are
//! built, and the SGD of every rule keeps no state but the weights. The file is written whole
//! (a temporary, then a rename): a run killed while writing leaves the previous checkpoint.

use super::cost::{StepCost, STEP_COST_ROW};
use super::learner::{Learner, StepReport};
use super::session::{EpochRecord, TrainRecord};
use super::state::LearnerState;
use crate::config::Circuit;
use crate::io::h5::{Array, Attr, H5Error, H5Reader};
use crate::network::Alignment;
use std::collections::BTreeMap;
use std::path::Path;

/// The checkpoint's name in the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.h5";

const FORMAT: &str = "apcsim-train-checkpoint-v1";

/// Keys that do not change what a run computes: a resume may change them.
const NOT_COMPARED: &[(&str, &str)] = &[("train", "checkpoint_every")];

/// The values of the resolved design that a resume must find unchanged, section by section.
type DesignValues = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// The resolved design as a checkpoint records it: every key's value (not where it came
/// from), as JSON.
pub fn design_text(circuit: &Circuit) -> String {
    let mut values = circuit.config.values.clone();
    for (section, key) in NOT_COMPARED {
        if let Some(s) = values.get_mut(*section) {
            s.remove(*key);
        }
    }
    serde_json::to_string(&values).unwrap_or_default()
}

/// FNV-1a of `text`, as 16 hex digits (stable across platforms and versions).
pub fn digest(text: &str) -> String {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// What a checkpoint holds.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// [`design_text`] of the run's design.
    pub design: String,
    /// Seconds the run had spent training.
    pub seconds: f64,
    /// The learners' names, in order.
    pub names: Vec<String>,
    /// Their records (the names are filled on [`restore`]).
    pub record: TrainRecord,
    /// Their states.
    pub states: Vec<LearnerState>,
}

/// Writes the checkpoint of `learners` after the steps of `rec` to `path`, atomically: the
/// datasets of train.h5 ([`super::plan::train_h5`]), each step's inference iterations and cost,
/// every learner's state and the design.
pub fn write(
    path: &Path,
    design: &str,
    rec: &TrainRecord,
    learners: &[Box<dyn Learner>],
    seconds: f64,
) -> Result<(), H5Error> {
    let mut h = super::plan::train_h5(rec, learners);
    h.attr("", "checkpoint_format", Attr::Str(FORMAT.into()))
        .attr("", "design", Attr::Str(design.into()))
        .attr("", "design_digest", Attr::Str(digest(design)))
        .attr("", "seconds", Attr::F64(seconds))
        .attr("", "learners", Attr::Str(rec.names.join(",")));
    for (k, l) in learners.iter().enumerate() {
        let name = l.name();
        let iterations = rec.steps[k].iter().map(|s| s.inference_steps as f64);
        h.dataset(
            &format!("steps/{name}/inference_steps"),
            Array::vector(iterations.collect()),
        );
        let costs = rec.steps[k]
            .iter()
            .flat_map(|s| StepCost::to_row(s.cost.as_ref()));
        h.dataset(
            &format!("steps/{name}/cost"),
            Array::matrix(rec.steps[k].len(), STEP_COST_ROW, costs.collect()),
        );
        for (key, v) in l.state() {
            h.dataset(&format!("state/{name}/{key}"), Array::vector(v));
        }
    }
    h.write(path)
}

/// Reads the checkpoint at `path`.
pub fn read(path: &Path) -> Result<Checkpoint, H5Error> {
    let f = H5Reader::open(path)?;
    let bad = |object: &str, message: String| H5Error {
        file: path.to_path_buf(),
        object: object.into(),
        message,
    };
    let text = |name: &str| -> Result<String, H5Error> {
        match f.attr("", name)? {
            Some(Attr::Str(s)) => Ok(s),
            _ => Err(bad(&format!("/@{name}"), "missing or not a string".into())),
        }
    };
    if text("checkpoint_format")? != FORMAT {
        return Err(bad("/@checkpoint_format", format!("not an {FORMAT} file")));
    }
    let design = text("design")?;
    if text("design_digest")? != digest(&design) {
        return Err(bad(
            "/@design",
            "does not match its digest (damaged?)".into(),
        ));
    }
    let seconds = f
        .attr("", "seconds")?
        .and_then(|a| a.as_f64())
        .unwrap_or(0.0);
    let mut rec = TrainRecord::default();
    let mut states = Vec::new();
    let names: Vec<String> = text("learners")?.split(',').map(str::to_string).collect();
    for name in &names {
        let (steps, epochs) = read_record(&f, name).map_err(|m| bad(name, m))?;
        rec.steps.push(steps);
        rec.epochs.push(epochs);
        let group = format!("state/{name}");
        let mut state = Vec::new();
        for key in dataset_paths(&f, &group)? {
            let a = f.array(&format!("{group}/{key}"))?;
            state.push((key, a.data));
        }
        states.push(state);
    }
    Ok(Checkpoint {
        design,
        names,
        seconds,
        record: rec,
        states,
    })
}

/// The paths of the datasets under `group`, relative to it, descending into its groups.
fn dataset_paths(f: &H5Reader, group: &str) -> Result<Vec<String>, H5Error> {
    let mut out = f.datasets_in(group)?;
    for g in f.groups_in(group) {
        for d in dataset_paths(f, &format!("{group}/{g}"))? {
            out.push(format!("{g}/{d}"));
        }
    }
    Ok(out)
}

/// One learner's steps and epochs from `steps/{name}/` and `epochs/{name}/`.
fn read_record(f: &H5Reader, name: &str) -> Result<(Vec<StepReport>, Vec<EpochRecord>), String> {
    let get = |d: String| f.array(&d).map(|a| a.data).map_err(|e| e.to_string());
    let step = |d: &str| get(format!("steps/{name}/{d}"));
    let epoch = |d: &str| get(format!("epochs/{name}/{d}"));
    let (loss, energy, cos, ratio, inf) = (
        step("loss")?,
        step("energy")?,
        step("cos_sim")?,
        step("norm_ratio")?,
        step("inference_steps")?,
    );
    let matrix = |d: &str| {
        f.array(&format!("steps/{name}/{d}"))
            .map_err(|e| e.to_string())
    };
    let (per_layer, ratio_per_layer, cost) = (
        matrix("cos_sim_per_layer")?,
        matrix("norm_ratio_per_layer")?,
        step("cost")?,
    );
    let (test_loss, test_accuracy, train_loss) = (
        epoch("test_loss")?,
        epoch("test_accuracy")?,
        epoch("train_loss")?,
    );
    let n = loss.len();
    let layers = per_layer.shape.get(1).copied().unwrap_or(0);
    let lengths = [energy.len(), cos.len(), ratio.len(), inf.len()];
    let e = test_loss.len();
    if lengths.iter().any(|&l| l != n)
        || per_layer.data.len() != n * layers
        || ratio_per_layer.data.len() != n * layers
        || cost.len() != n * STEP_COST_ROW
        || test_accuracy.len() != e
        || train_loss.len() != e
    {
        return Err("datasets of different lengths".into());
    }
    let steps = (0..n)
        .map(|s| StepReport {
            loss: loss[s],
            energy: energy[s],
            alignment: Alignment {
                overall: cos[s],
                per_layer: per_layer.data[s * layers..(s + 1) * layers].to_vec(),
                norm_ratio: ratio[s],
                norm_ratio_per_layer: ratio_per_layer.data[s * layers..(s + 1) * layers].to_vec(),
            },
            inference_steps: inf[s] as usize,
            cost: StepCost::from_row(&cost[s * STEP_COST_ROW..(s + 1) * STEP_COST_ROW]),
        })
        .collect();
    let epochs = (0..e)
        .map(|k| EpochRecord {
            test_loss: test_loss[k],
            test_accuracy: test_accuracy[k],
            train_loss: train_loss[k],
        })
        .collect();
    Ok((steps, epochs))
}

/// Refuses a design that differs from the checkpoint's, saying which keys changed.
pub fn check_design(checkpoint: &str, now: &str) -> Result<(), String> {
    if checkpoint == now {
        return Ok(());
    }
    let parse = |t: &str| serde_json::from_str::<DesignValues>(t).unwrap_or_default();
    let (then, now) = (parse(checkpoint), parse(now));
    let mut changed = Vec::new();
    let sections: std::collections::BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    let none = BTreeMap::new();
    for s in sections {
        let (a, b) = (then.get(s).unwrap_or(&none), now.get(s).unwrap_or(&none));
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
            if a.get(k) != b.get(k) {
                changed.push(format!(
                    "{s}.{k} is {}, the checkpoint's {}",
                    show(b.get(k)),
                    show(a.get(k))
                ));
            }
        }
    }
    let more = match changed.len() {
        0..=2 => String::new(),
        n => format!(" (and {} more)", n - 2),
    };
    changed.truncate(2);
    Err(format!(
        "the design differs from the checkpoint's: {}{more}",
        changed.join("; ")
    ))
}

/// Restores every learner to the checkpoint's step and returns the record to go on from.
pub fn restore(
    checkpoint: Checkpoint,
    learners: &mut [Box<dyn Learner>],
) -> Result<TrainRecord, String> {
    let mut rec = checkpoint.record;
    rec.names = learners.iter().map(|l| l.name()).collect();
    if checkpoint.names != rec.names {
        return Err(format!(
            "holds the learners {:?}, this run has {:?}",
            checkpoint.names, rec.names
        ));
    }
    let step = rec.completed_steps();
    if rec.steps.iter().any(|s| s.len() != step) {
        return Err("its learners stopped at different steps".into());
    }
    for (l, state) in learners.iter_mut().zip(&checkpoint.states) {
        l.restore(state, step)
            .map_err(|m| format!("state/{}: {m}", l.name()))?;
    }
    Ok(rec)
}
