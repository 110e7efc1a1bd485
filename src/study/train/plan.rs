//! From a resolved design to a training run: the initial network, the training and test sets,
//! the schedule and the digital learners; and the run's outputs (`train.h5`, `report.json`).

use super::cost::Probe;
use super::data::{digits_split, split, TrainData};
use super::hardware::{HardwareLearner, Rule, Substrate};
use super::learner::{BpFloat, Learner, PcIdeal};
use super::session::{Schedule, TrainRecord};
use super::step::StepError;
use crate::config::{Circuit, DataSource};
use crate::dynamics::{InferenceOptions, Solver, Stop};
use crate::io::data::DataError;
use crate::io::dataset::read_dataset;
use crate::io::h5::{Array, Attr, H5Error, H5Writer};
use crate::io::reference::{from_matrix, read_reference};
use crate::network::{Network, NetworkError};
use serde_json::json;

/// Steady-state tolerance of every training equilibrium, on max|dz/dt|: the reference runs'
/// (so that `train` on a reference file's batch takes `reference`'s steps exactly); Newton
/// reaches it in a few iterations.
pub const TRAIN_TOL: f64 = 1e-12;

/// Why a training run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    File(#[from] H5Error),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A design `train` cannot run, naming the key.
    #[error("{key}: {message}")]
    Design { key: &'static str, message: String },
}

/// The initial network and the data of `circuit`: an HDF5 file's weights with its batch as
/// both sets, or the design's initialisation on the stratified optdigits split.
pub fn prepare(circuit: &Circuit) -> Result<(Network<f64>, TrainData), PlanError> {
    let t = &circuit.train;
    // The hardware's inference is priced (or run) by the transient of `apcsim run`.
    Probe::new(circuit).map_err(|message| PlanError::Design {
        key: "dynamics",
        message,
    })?;
    match &circuit.data.source {
        DataSource::Hdf5 { path } => {
            let r = read_reference(path)?;
            let data = TrainData {
                train: r.batch.clone(),
                test: r.batch,
            };
            Ok((r.network, data))
        }
        // The design's checks gave an optdigits network 64 inputs and 10 outputs.
        DataSource::Optdigits { .. } => {
            let dac = &circuit.periphery.dac;
            let seed = circuit.run.seed;
            let data = digits_split(
                t.train_samples,
                t.test_samples,
                seed,
                0.0,
                dac.range - dac.step(),
            )?;
            Ok((Network::init(circuit.architecture.clone(), seed)?, data))
        }
        DataSource::Dataset { path } => {
            let d = read_dataset(path)?;
            let data = match d.test {
                Some(test) => TrainData {
                    train: d.train,
                    test,
                },
                None => {
                    let classes = d.classes();
                    split(
                        &d.train,
                        &classes,
                        t.train_samples,
                        t.test_samples,
                        circuit.run.seed,
                    )
                }
            };
            Ok((
                Network::init(circuit.architecture.clone(), circuit.run.seed)?,
                data,
            ))
        }
        _ => Err(PlanError::Design {
            key: "data.source",
            message: "train learns optdigits, a data set file or an hdf5 file's batch".into(),
        }),
    }
}

/// The schedule of `circuit`'s `[train]` section.
pub fn schedule(circuit: &Circuit) -> Schedule {
    Schedule {
        epochs: circuit.train.epochs,
        batch: circuit.train.batch,
        shuffle: circuit.train.shuffle,
        seed: circuit.run.seed,
    }
}

/// Newton-Krylov to [`TRAIN_TOL`], Dop853 where it fails.
pub fn equilibrium() -> InferenceOptions {
    InferenceOptions::new(Solver::newton(), Stop::steady(TRAIN_TOL, 10_000_000))
}

/// PC and BP on the design's hardware, then digital PC and digital BP, all from `net` at the
/// design's learning rate.
pub fn learners(circuit: &Circuit, net: &Network<f64>) -> Result<Vec<Box<dyn Learner>>, StepError> {
    let sub = Substrate {
        device: circuit.device.clone(),
        crossbar: circuit.crossbar.clone(),
        update: circuit.update.clone(),
        dac: circuit.periphery.dac.clone(),
        adc: circuit.periphery.adc.clone(),
        error_ranging: circuit.periphery.error_ranging,
        seed: circuit.run.seed,
    };
    let t = &circuit.train;
    let lr = super::rate::learning_rate(t.lr, t.lr_scaling, &circuit.architecture);
    let mut all: Vec<Box<dyn Learner>> = Vec::new();
    for rule in [Rule::Pc, Rule::Bp] {
        let mut hw = HardwareLearner::new(rule, net, sub.clone(), lr, equilibrium())?;
        // `prepare` refused a design the probe cannot run.
        hw.probe = Probe::new(circuit).ok();
        hw.step_interval = t.step_interval_seconds;
        all.push(Box::new(hw));
    }
    all.extend(digital_learners(net, lr));
    Ok(all)
}

/// Digital PC and digital BP from `net`, at the learning rate `lr`.
pub fn digital_learners(net: &Network<f64>, lr: f64) -> Vec<Box<dyn Learner>> {
    vec![
        Box::new(PcIdeal {
            net: net.clone(),
            lr,
            inference: equilibrium(),
        }),
        Box::new(BpFloat {
            net: net.clone(),
            lr,
        }),
    ]
}

/// `train.h5`: per learner, per step (loss, energy, alignment) and per epoch (test loss and
/// accuracy, mean training loss), and its final weights.
pub fn train_h5(rec: &TrainRecord, learners: &[Box<dyn Learner>]) -> H5Writer {
    let mut h = H5Writer::new();
    for (k, l) in learners.iter().enumerate() {
        let name = l.name();
        let steps = &rec.steps[k];
        let col =
            |f: &dyn Fn(&super::StepReport) -> f64| Array::vector(steps.iter().map(f).collect());
        let layers = l.network().n_layers();
        let per_layer = steps
            .iter()
            .flat_map(|s| s.alignment.per_layer.clone())
            .collect();
        h.dataset(&format!("steps/{name}/loss"), col(&|s| s.loss))
            .dataset(&format!("steps/{name}/energy"), col(&|s| s.energy))
            .dataset(
                &format!("steps/{name}/cos_sim"),
                col(&|s| s.alignment.overall),
            )
            .dataset(
                &format!("steps/{name}/norm_ratio"),
                col(&|s| s.alignment.norm_ratio),
            )
            .dataset(
                &format!("steps/{name}/cos_sim_per_layer"),
                Array::matrix(steps.len(), layers, per_layer),
            )
            .dataset(
                &format!("steps/{name}/norm_ratio_per_layer"),
                Array::matrix(
                    steps.len(),
                    layers,
                    steps
                        .iter()
                        .flat_map(|s| s.alignment.norm_ratio_per_layer.clone())
                        .collect(),
                ),
            );
        let ep = &rec.epochs[k];
        let ecol =
            |f: &dyn Fn(&super::EpochRecord) -> f64| Array::vector(ep.iter().map(f).collect());
        h.dataset(&format!("epochs/{name}/test_loss"), ecol(&|e| e.test_loss))
            .dataset(
                &format!("epochs/{name}/test_accuracy"),
                ecol(&|e| e.test_accuracy),
            )
            .dataset(
                &format!("epochs/{name}/train_loss"),
                ecol(&|e| e.train_loss),
            );
        for (i, w) in l.network().weights().iter().enumerate() {
            h.dataset(&format!("final/{name}/W{i}"), from_matrix(w));
        }
    }
    h.attr("", "format", Attr::Str("apcsim-train-v1".into()))
        .attr(
            "",
            "generator",
            Attr::Str(format!("apcsim {}", env!("CARGO_PKG_VERSION"))),
        );
    h
}

/// `report.json`: the design, the schedule and the final test accuracy and loss of every
/// rule (`null` for a rule the run did not train).
pub fn report_json(
    circuit: &Circuit,
    rec: &TrainRecord,
    learners: &[Box<dyn Learner>],
    seconds: f64,
) -> serde_json::Value {
    let steps = rec.steps.first().map_or(0, |s| s.len());
    let last = |name: &str, f: fn(&super::EpochRecord) -> f64| {
        rec.names
            .iter()
            .position(|n| *n == name)
            .and_then(|k| rec.epochs[k].last())
            .map(f)
    };
    let table = |f: fn(&super::EpochRecord) -> f64| {
        json!({
            "pc_hardware": last("pc_hardware", f),
            "bp_hardware": last("bp_hardware", f),
            "pc_ideal": last("pc_ideal", f),
            "bp_float": last("bp_float", f),
        })
    };
    let updates: serde_json::Map<String, serde_json::Value> = learners
        .iter()
        .filter_map(|l| Some((l.name().to_string(), l.update_stats()?)))
        .map(|(n, u)| {
            let per = |v: f64| v / steps.max(1) as f64;
            (
                n,
                json!({
                    "pulses_per_step": per(u.pulses as f64),
                    "refreshes_per_step": per(u.refreshes as f64),
                    "update_energy_joules_per_step": per(u.energy_joules),
                    "update_time_seconds_per_step": per(u.duration_seconds),
                }),
            )
        })
        .collect();
    json!({
        "design": circuit.name,
        "updates": updates,
        "config": circuit.config.to_json(),
        "steps": steps,
        "seconds": seconds,
        "final": {
            "test_accuracy": table(|e| e.test_accuracy),
            "test_loss": table(|e| e.test_loss),
        },
        "epochs": {
            "test_accuracy": curves(rec, |e| e.test_accuracy),
            "test_loss": curves(rec, |e| e.test_loss),
        },
    })
}

/// Per learner, `f` of every epoch record (epoch 0 first, before training): the learning
/// curves report.json carries, so that tables and figures of many runs need only their
/// report.json (a value that is not finite is `null`).
fn curves(rec: &TrainRecord, f: fn(&super::EpochRecord) -> f64) -> serde_json::Value {
    let per_learner: serde_json::Map<String, serde_json::Value> = rec
        .names
        .iter()
        .zip(&rec.epochs)
        .map(|(n, ep)| (n.to_string(), json!(ep.iter().map(f).collect::<Vec<_>>())))
        .collect();
    serde_json::Value::Object(per_learner)
}
