//! Energy and time of a training step on the hardware, against a digital BP step.
//!
//! - Inference, as `apcsim run` measures it: the learner's conductances are the mapping of an
//!   analog circuit ([`AnalogCircuit::from_design`]) that relaxes on the step's converted
//!   mini-batch in physical time ([`simulate`], the design's `[dynamics]`), and the run's PPA
//!   ([`PpaReport::of`]) gives the energy per sample by component (the supply-side terms of
//!   the relaxation, its feedforward phase and the DAC and ADC conversions, those of the
//!   update's read-out included) and the end-to-end latency (DAC, reads, relaxation to the
//!   readout's settling, ADC). That transient costs seconds, so it runs on the first step and
//!   then every `train.transient_every` steps; a step between two takes the last transient's
//!   per-sample figures times its batch. BP on the hardware reads forward once per layer and
//!   backward once per layer but the first: its forward pass is the run's feedforward mode
//!   (each layer converts, is read and converts), and its backward pass is priced as the
//!   forward reads of layers 2..L (the same arrays, read the other way, converting as many
//!   values). The samples of a mini-batch go through one after another: a step's inference
//!   takes B latencies.
//! - Update: the pulses fired times the energy per pulse, and the refreshes' pulses likewise;
//!   its duration, per sample, the longest of the arrays' writes (BL x pulse width, or the
//!   largest pulse count x pulse width; every array is written at once), samples one after
//!   another, plus the refreshes' pulses one after another.
//! - Digital BP step: the forward, backward and weight-gradient multiply-accumulates of the
//!   mini-batch ([`bp_step_macs`]) at `periphery.digital_mac_energy` and
//!   `train.digital_mac_time` each.

use super::step::StepError;
use crate::analog::energy::{component_total, ByLayer};
use crate::analog::feedforward::{feedforward_energy, feedforward_pass};
use crate::analog::{simulate, AnalogCircuit, Component, Simulation};
use crate::config::{Circuit, TrainInference};
use crate::design::Built;
use crate::hardware::device::{ProgrammedArray, Stuck};
use crate::hardware::latency::StageTimes;
use crate::hardware::mapping::{DifferentialArray, LayerMapping, MappedNetwork};
use crate::hardware::update::PulsedPair;
use crate::measure::ppa::feedforward_phases;
use crate::measure::report::bp_step_macs;
use crate::measure::{sim_options, PpaReport};
use crate::network::{Batch, Network};
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use std::sync::Arc;

/// A hardware learner's arrays, per layer: kappa, the forward pair and the separate backward
/// pair.
pub type HwArrays<'a> = Vec<(f64, &'a PulsedPair, Option<&'a PulsedPair>)>;

/// One inference of one sample on the hardware, as last measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleCost {
    /// Supply-side energy by component (and the device heat, a part of the drivers').
    pub joules: [f64; Component::COUNT],
    /// End to end.
    pub latency_seconds: f64,
}

/// What one training step of a hardware learner cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCost {
    /// The mini-batch's inference, by component.
    pub inference_joules: [f64; Component::COUNT],
    pub inference_seconds: f64,
    /// The update's pulses, and the refreshes' pulses.
    pub update_joules: f64,
    pub refresh_joules: f64,
    /// The update's writes, refreshes included.
    pub update_seconds: f64,
    /// Whether this step's inference was measured by a transient (else carried over).
    pub measured: bool,
}

/// Numbers in a [`SampleCost`] row of a checkpoint.
pub const SAMPLE_COST_ROW: usize = Component::COUNT + 1;
/// Numbers in a [`StepCost`] row of a checkpoint (all NaN: no cost kept).
pub const STEP_COST_ROW: usize = Component::COUNT + 5;

impl SampleCost {
    /// The numbers a checkpoint keeps (see [`SampleCost::from_row`]).
    pub fn to_row(&self) -> Vec<f64> {
        let mut row = self.joules.to_vec();
        row.push(self.latency_seconds);
        row
    }

    /// Back from [`SampleCost::to_row`].
    pub fn from_row(row: &[f64]) -> Option<SampleCost> {
        let (joules, rest) = row.split_at_checked(Component::COUNT)?;
        Some(SampleCost {
            joules: joules.try_into().ok()?,
            latency_seconds: *rest.first()?,
        })
    }
}

impl StepCost {
    /// The numbers a checkpoint keeps of a step's cost, `None` as NaN (see
    /// [`StepCost::from_row`]).
    pub fn to_row(cost: Option<&StepCost>) -> Vec<f64> {
        match cost {
            Some(c) => {
                let mut row = c.inference_joules.to_vec();
                row.extend([
                    c.inference_seconds,
                    c.update_joules,
                    c.refresh_joules,
                    c.update_seconds,
                    f64::from(u8::from(c.measured)),
                ]);
                row
            }
            None => vec![f64::NAN; STEP_COST_ROW],
        }
    }

    /// Back from [`StepCost::to_row`].
    pub fn from_row(row: &[f64]) -> Option<StepCost> {
        let (joules, rest) = row.split_at_checked(Component::COUNT)?;
        match rest {
            [t, u, r, us, m] if !t.is_nan() => Some(StepCost {
                inference_joules: joules.try_into().ok()?,
                inference_seconds: *t,
                update_joules: *u,
                refresh_joules: *r,
                update_seconds: *us,
                measured: *m != 0.0,
            }),
            _ => None,
        }
    }

    /// Supply-side energy of the step: inference and update.
    pub fn joules(&self) -> f64 {
        Component::SUPPLY
            .iter()
            .map(|c| self.inference_joules[c.index()])
            .sum::<f64>()
            + self.update_joules
            + self.refresh_joules
    }

    pub fn seconds(&self) -> f64 {
        self.inference_seconds + self.update_seconds
    }
}

/// The digital BP step of `widths` on a mini-batch of `batch`: (joules, seconds).
pub fn digital_bp_step(widths: &[usize], batch: usize, circuit: &Circuit) -> (f64, f64) {
    let macs = (bp_step_macs(widths) * batch) as f64;
    (
        macs * circuit.periphery.digital_mac_energy_joules,
        macs * circuit.train.digital_mac_time_seconds,
    )
}

/// When and how a hardware learner measures its inference by the physical transient.
#[derive(Clone, Debug)]
pub struct Probe {
    circuit: Arc<Circuit>,
    /// `train.inference`.
    pub mode: TrainInference,
    /// `train.transient_every`.
    pub every: usize,
    /// The last measurement, per sample.
    pub last: Option<SampleCost>,
}

/// A measured inference: its per-sample cost and, for PC, the transient it ran.
pub struct Measured {
    pub sample: SampleCost,
    pub sim: Option<Simulation>,
}

impl Probe {
    /// The probe of `circuit`'s `[train]` section; a design whose dynamics `run` cannot
    /// integrate is refused here, naming the key.
    pub fn new(circuit: &Circuit) -> Result<Self, String> {
        sim_options(circuit).map_err(|e| e.to_string())?;
        Ok(Probe {
            circuit: Arc::new(circuit.clone()),
            mode: circuit.train.inference,
            every: circuit.train.transient_every.max(1),
            last: None,
        })
    }

    /// Whether step `step` runs the transient: the first this probe sees, then every
    /// `every`-th.
    pub fn due(&self, step: usize) -> bool {
        self.last.is_none() || step.is_multiple_of(self.every)
    }

    /// The inference of `batch` (converted) on `net` held as `arrays`: PC relaxes in physical
    /// time (`relax`), BP reads forward and backward. The noise streams are the step's.
    pub fn measure(
        &self,
        (net, arrays): (&Network<f64>, &HwArrays<'_>),
        batch: &Batch<f64>,
        step: usize,
        relax: bool,
    ) -> Result<Measured, StepError> {
        let c = &*self.circuit;
        let failed = |what: String| StepError::Diverged {
            step,
            rule: "the transient",
            what,
        };
        let mut opts = sim_options(c).map_err(|e| failed(e.to_string()))?;
        opts.seed = stream_seed(c.run.seed, step as u64);
        opts.trace_samples = 0;
        let built = Built {
            network: net.clone(),
            batch: batch.clone(),
            mapped: mapping(net, arrays, c),
        };
        let circ = AnalogCircuit::<f64>::from_design(c, &built.network, &built.mapped);
        let model = opts.energy.clone().expect("run options account for energy");
        let (x, y, b) = (batch.x.as_slice(), batch.y.as_slice(), batch.size());
        let pass = feedforward_pass(&circ, &model, x, y, b);
        if !relax {
            let t = StageTimes::of(&c.periphery);
            let energy = feedforward_energy(&model, &pass, &t);
            // The backward pass: layers 2..L read again (module documentation).
            let backward: ByLayer = energy[1..].to_vec();
            let per = |e: &ByLayer| Component::ALL.map(|k| component_total(e, k) / b as f64);
            let (f, r) = (per(&energy), per(&backward));
            let layers = net.n_layers();
            return Ok(Measured {
                sample: SampleCost {
                    joules: std::array::from_fn(|i| f[i] + r[i]),
                    latency_seconds: feedforward_phases(&t, layers).total()
                        + feedforward_phases(&t, layers - 1).total(),
                },
                sim: None,
            });
        }
        let sim = simulate(&circ, x, y, b, &opts, &|_, _| {}).map_err(|e| failed(e.to_string()))?;
        let ppa = PpaReport::of(c, &built, &sim, (&model, &pass));
        let m = ppa.relaxation.ok_or_else(|| {
            failed("run.mode = \"feedforward\" does not relax; train needs \"pc\"".into())
        })?;
        Ok(Measured {
            sample: SampleCost {
                joules: m.energy_by_component_joules.0,
                latency_seconds: m.latency_seconds,
            },
            sim: Some(sim),
        })
    }
}

/// The cost of a step of `batch` samples whose inference costs `sample` each and whose update
/// took `update` (pulses, refresh pulses, the writes' duration).
pub fn step_cost(
    sample: SampleCost,
    batch: usize,
    (pulses, refresh_pulses, write_seconds): (u64, u64, f64),
    (pulse_joules, pulse_seconds): (f64, f64),
    measured: bool,
) -> StepCost {
    let b = batch as f64;
    StepCost {
        inference_joules: sample.joules.map(|e| e * b),
        inference_seconds: sample.latency_seconds * b,
        update_joules: pulses as f64 * pulse_joules,
        refresh_joules: refresh_pulses as f64 * pulse_joules,
        update_seconds: write_seconds + refresh_pulses as f64 * pulse_seconds,
        measured,
    }
}

/// The mapping the circuit reads: each layer's pairs as programmed arrays (no drift since
/// they were written), with the effective weights `net` holds and TIAs of gain 1 / kappa.
fn mapping(net: &Network<f64>, arrays: &HwArrays<'_>, c: &Circuit) -> MappedNetwork {
    let array = |p: &PulsedPair, g: &[f64], stuck: &[bool]| {
        let m = DMatrix::from_row_slice(p.rows, p.cols, g);
        ProgrammedArray {
            target: m.clone(),
            programmed: m.clone(),
            nu: DMatrix::zeros(p.rows, p.cols),
            // Which rail a stuck device sits at is in its conductance; the circuit reads that.
            stuck: DMatrix::from_row_slice(
                p.rows,
                p.cols,
                &stuck
                    .iter()
                    .map(|&s| if s { Stuck::Off } else { Stuck::No })
                    .collect::<Vec<_>>(),
            ),
            read: m,
        }
    };
    let pair = |p: &PulsedPair| DifferentialArray {
        plus: array(p, &p.plus, &p.devices.stuck_plus),
        minus: array(p, &p.minus, &p.devices.stuck_minus),
    };
    let layers = arrays
        .iter()
        .enumerate()
        .map(|(idx, &(kappa, fwd, bwd))| LayerMapping {
            layer: idx + 1,
            inputs: fwd.rows,
            outputs: fwd.cols,
            tile_grid: (
                fwd.rows.div_ceil(c.crossbar.rows),
                fwd.cols.div_ceil(c.crossbar.cols),
            ),
            kappa_siemens: kappa,
            feedback_resistance_ohms: 1.0 / kappa,
            backward_feedback_resistance_ohms: 1.0 / kappa,
            drift_calibration: None,
            forward: pair(fwd),
            backward: bwd.map(pair),
            w_forward: net.weights()[idx].clone(),
            w_backward: net.feedback_weights()[idx].clone(),
        })
        .collect();
    MappedNetwork { layers }
}
