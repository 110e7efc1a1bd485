//! The run report: what one run measured, typed. report.json is this struct serialised
//! (`serde_json`, keys in alphabetical order at every level), a sweep's `points.jsonl` holds
//! one per point, and the terminal summary is formatted from it. Reading one back
//! ([`RunReport::from_json`]) fails on a missing field, naming it.
//!
//! Quantities are in SI units. A value that is not a finite number (a ratio of two zeros) is
//! written as JSON `null` and read back as NaN.

use crate::analog::energy::{component_total, layer_total, total, ByLayer};
use crate::analog::feedforward::FeedforwardPass;
use crate::analog::{Component, EnergyModel, SimError, Simulation};
use crate::config::Circuit;
use crate::design::Built;
use crate::hardware::mapping::relative_frobenius;
use crate::numeric::format::si;
use crate::numeric::stats::median;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Write as _;

/// One run's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub apcsim_version: String,
    /// The design's name (its file, as given).
    pub design: String,
    pub batch: usize,
    #[serde(deserialize_with = "number")]
    pub wall_seconds: f64,
    /// Per weight layer, how it maps onto tiles.
    pub mapping: Vec<LayerMapping>,
    /// `status` ("ok" or "diverged") and what was measured.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The resolved configuration as [`crate::config::ResolvedConfig`] serialises it:
    /// `values` (every key in SI) and `origins`.
    pub config: serde_json::Value,
}

/// How a run ended, as the report's `status` and the fields beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// The circuit settled (or ran to t_max): everything was measured.
    Ok(Box<Measurements>),
    /// The circuit diverged or ran to a rail.
    Diverged { divergence: Divergence },
}

/// The measurements of a completed run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub dynamics: DynamicsReport,
    pub settling: SettlingReport,
    pub energy: EnergyReport,
    pub ppa: PpaReport,
    pub readout: ReadoutReport,
    pub gradients: GradientsReport,
}

/// How one weight layer maps onto tiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMapping {
    pub layer: usize,
    pub inputs: usize,
    pub outputs: usize,
    /// Tiles down and across.
    pub tile_grid: [usize; 2],
    pub tiles: usize,
    pub devices: usize,
    /// Conductance per unit of a_l W.
    #[serde(deserialize_with = "number")]
    pub kappa_siemens: f64,
    #[serde(deserialize_with = "number")]
    pub feedback_resistance_ohms: f64,
    /// ‖W_hw − W‖ / ‖W‖ of the forward and the backward read.
    #[serde(deserialize_with = "number")]
    pub weight_error_forward: f64,
    #[serde(deserialize_with = "number")]
    pub weight_error_backward: f64,
}

/// The integration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DynamicsReport {
    pub solver: String,
    pub noisy: bool,
    #[serde(deserialize_with = "number")]
    pub dt_seconds: f64,
    pub steps: usize,
    pub evaluations: usize,
    #[serde(deserialize_with = "number")]
    pub t_end_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub tau_z_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub tau_e_seconds: f64,
}

/// When the batch settled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettlingReport {
    pub settled: bool,
    /// Final max|dz/dt| tau_z.
    #[serde(deserialize_with = "number")]
    pub residual: f64,
    #[serde(flatten)]
    pub times: SettlingTimes,
    pub worst_steps: usize,
    #[serde(deserialize_with = "numbers")]
    pub per_sample_seconds: Vec<f64>,
    /// The inference window: the latest settling time (t_end if the batch never settled).
    #[serde(deserialize_with = "number")]
    pub window_seconds: f64,
}

/// The readout of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadoutReport {
    /// The settling band, in LSBs of each quantity's converter.
    #[serde(deserialize_with = "number")]
    pub band_lsb: f64,
    /// Settling referred to the readout, on the noise-free trajectory.
    pub settling: ReadoutSettlingReport,
    /// "none" or "per_layer".
    pub error_ranging: String,
    /// Per layer l = 1..L, the full scale (+-, node units) of the ADCs reading e_l.
    #[serde(deserialize_with = "numbers")]
    pub error_full_scale: Vec<f64>,
    /// Per layer, the effective bits of the settled errors read at that full scale, and at the
    /// ADC's own range (without ranging) for comparison; an ideal ADC counted at its nominal
    /// 8 bits, as its readout band is.
    #[serde(deserialize_with = "numbers")]
    pub error_effective_bits: Vec<f64>,
    #[serde(deserialize_with = "numbers")]
    pub error_effective_bits_unranged: Vec<f64>,
}

/// When every phi(z) and e read out stayed within the band of its final value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadoutSettlingReport {
    #[serde(flatten)]
    pub times: SettlingTimes,
    /// The latest of the activations alone, and of the errors alone.
    #[serde(deserialize_with = "number")]
    pub activation_worst_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub error_worst_seconds: f64,
    #[serde(deserialize_with = "numbers")]
    pub per_sample_seconds: Vec<f64>,
}

/// The median and the latest of the samples' settling times, in seconds and in tau_z (the
/// fields of report.json's `settling` and `readout.settling`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettlingTimes {
    #[serde(deserialize_with = "number")]
    pub median_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub worst_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub median_tau_z: f64,
    #[serde(deserialize_with = "number")]
    pub worst_tau_z: f64,
}

impl SettlingTimes {
    /// Of the samples' settling times `times` (seconds); 0 for none.
    pub fn of(times: &[f64], tau_z: f64) -> Self {
        let (median, worst) = (median(times), times.iter().cloned().fold(0.0, f64::max));
        SettlingTimes {
            median_seconds: median,
            worst_seconds: worst,
            median_tau_z: median / tau_z,
            worst_tau_z: worst / tau_z,
        }
    }

    /// "median 6.32 us (63.2 tau_z), worst 6.41 us (64.1 tau_z)".
    pub fn summary(&self) -> String {
        format!(
            "median {} ({:.1} tau_z), worst {} ({:.1} tau_z)",
            si(self.median_seconds, "s"),
            self.median_tau_z,
            si(self.worst_seconds, "s"),
            self.worst_tau_z
        )
    }
}

/// Energy over the inference window; `by_*` and `per_inference` for the whole batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyReport {
    #[serde(deserialize_with = "number")]
    pub per_inference_joules: f64,
    #[serde(deserialize_with = "number")]
    pub per_sample_joules: f64,
    pub by_component_joules: ByComponent,
    #[serde(deserialize_with = "numbers")]
    pub by_layer_joules: Vec<f64>,
    pub by_layer_component_joules: Vec<ByComponent>,
    #[serde(deserialize_with = "number")]
    pub energy_delay_product_joule_seconds: f64,
    /// 2 × the forward and backward multiply-accumulates of one sample.
    pub ops_equivalent_per_sample: usize,
    #[serde(deserialize_with = "number")]
    pub ops_per_joule: f64,
    pub digital_reference: DigitalReference,
}

/// The PPA of one run, per inference (one sample), for PC relaxation and for feedforward mode
/// on the same hardware: [`super::ppa`] computes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PpaReport {
    pub convention: String,
    pub technology: String,
    pub cell: String,
    pub area_square_meters: AreaParts,
    pub area_by_layer_square_meters: Vec<AreaParts>,
    /// PC relaxation (`null` in a feedforward-mode run, which does not relax).
    pub relaxation: Option<ModePpa>,
    /// One read per layer, no relaxation.
    pub feedforward: ModePpa,
}

impl PpaReport {
    /// The columns of its table ([`PpaReport::rows`]).
    pub const COLUMNS: [&'static str; 3] = ["quantity", "PC relaxation", "feedforward"];
}

/// The PPA of one mode of inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModePpa {
    pub ops_per_inference: usize,
    /// End to end: the sum of the phases.
    #[serde(deserialize_with = "number")]
    pub latency_seconds: f64,
    pub latency_by_phase_seconds: LatencyPhases,
    /// Time between inferences when inputs stream (pipelined).
    #[serde(deserialize_with = "number")]
    pub pipeline_interval_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub energy_per_inference_joules: f64,
    /// By component (supply side; the device Joule heat is a part of the drivers').
    pub energy_by_component_joules: ByComponent,
    /// Pipelined: ops per inference / pipeline interval, in 10^12 per second.
    #[serde(deserialize_with = "number")]
    pub tops: f64,
    #[serde(deserialize_with = "number")]
    pub tops_per_watt: f64,
    #[serde(deserialize_with = "number")]
    pub tops_per_square_millimeter: f64,
    /// Energy per inference x latency.
    #[serde(deserialize_with = "number")]
    pub energy_delay_product_joule_seconds: f64,
}

/// The phases of one inference (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyPhases {
    #[serde(deserialize_with = "number")]
    pub dac: f64,
    #[serde(deserialize_with = "number")]
    pub feedforward: f64,
    #[serde(deserialize_with = "number")]
    pub relaxation: f64,
    #[serde(deserialize_with = "number")]
    pub adc: f64,
}

/// Area of one layer, or of the whole design, by part (square meters).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaParts {
    #[serde(deserialize_with = "number")]
    pub cells: f64,
    #[serde(deserialize_with = "number")]
    pub adc: f64,
    #[serde(deserialize_with = "number")]
    pub dac: f64,
    #[serde(deserialize_with = "number")]
    pub total: f64,
}

/// A digital BP step of the same network, for comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DigitalReference {
    #[serde(deserialize_with = "number")]
    pub mac_energy_joules: f64,
    pub bp_step_macs_per_sample: usize,
    #[serde(deserialize_with = "number")]
    pub per_sample_joules: f64,
    #[serde(deserialize_with = "number")]
    pub analog_over_digital: f64,
}

/// The circuit's PC update against BP, three ways.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientsReport {
    pub hardware_vs_bp_ideal_weights: GradientComparison,
    pub hardware_vs_bp_effective_weights: GradientComparison,
    /// The ideal circuit (exact weights, equilibrium): the theory value.
    pub ideal_circuit_vs_bp: GradientComparison,
}

impl GradientsReport {
    /// The comparisons in the order of their names in [`GradientsReport::NAMES`].
    pub fn all(&self) -> [&GradientComparison; 3] {
        [
            &self.hardware_vs_bp_ideal_weights,
            &self.hardware_vs_bp_effective_weights,
            &self.ideal_circuit_vs_bp,
        ]
    }

    /// The comparisons' names, as in report.json.
    pub const NAMES: [&'static str; 3] = [
        "hardware_vs_bp_ideal_weights",
        "hardware_vs_bp_effective_weights",
        "ideal_circuit_vs_bp",
    ];
}

/// How one update compares with another: cosine similarity and norm ratio, overall and per
/// layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientComparison {
    #[serde(deserialize_with = "number")]
    pub cos_sim: f64,
    #[serde(deserialize_with = "number")]
    pub norm_ratio: f64,
    #[serde(deserialize_with = "numbers")]
    pub cos_sim_per_layer: Vec<f64>,
    #[serde(deserialize_with = "numbers")]
    pub norm_ratio_per_layer: Vec<f64>,
}

/// What diverged: the error's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// "diverged" (a value node beyond the bound, or not finite) or "rail" (pinned at the rail
    /// at the end).
    pub kind: String,
    pub layer: usize,
    pub node: usize,
    pub sample: usize,
    /// Simulated time, in seconds and in tau_z.
    #[serde(deserialize_with = "number")]
    pub time_seconds: f64,
    #[serde(deserialize_with = "number")]
    pub time_tau_z: f64,
    /// The node's value: node units (volts / v_read) when it diverged, volts at a rail.
    #[serde(deserialize_with = "number")]
    pub value: f64,
    /// The error as the command line prints it.
    pub message: String,
}

impl Divergence {
    /// The data of a divergence or rail error; `None` for another error.
    pub fn of(error: &SimError) -> Option<Divergence> {
        let (kind, layer, node, sample, time_seconds, time_tau_z, value) = match *error {
            SimError::Diverged {
                layer,
                node,
                sample,
                time_seconds,
                tau_z,
                value,
            } => ("diverged", layer, node, sample, time_seconds, tau_z, value),
            SimError::Rail {
                layer,
                node,
                sample,
                time_seconds,
                tau_z,
                value,
                ..
            } => ("rail", layer, node, sample, time_seconds, tau_z, value),
            _ => return None,
        };
        Some(Divergence {
            kind: kind.into(),
            layer,
            node,
            sample,
            time_seconds,
            time_tau_z,
            value,
            message: error.to_string(),
        })
    }
}

impl DynamicsReport {
    fn of(circuit: &Circuit, sim: &Simulation) -> DynamicsReport {
        DynamicsReport {
            solver: circuit.dynamics.solver.name().into(),
            noisy: circuit.dynamics.noisy,
            dt_seconds: sim.dt_seconds,
            steps: sim.steps,
            evaluations: sim.evaluations,
            t_end_seconds: sim.t_end_seconds,
            tau_z_seconds: circuit.dynamics.tau_z_seconds,
            tau_e_seconds: circuit.dynamics.tau_e_seconds,
        }
    }
}

impl SettlingReport {
    fn of(circuit: &Circuit, sim: &Simulation) -> SettlingReport {
        let tau_z = circuit.dynamics.tau_z_seconds;
        let times: Vec<f64> = sim.settling.iter().map(|s| s.time_seconds).collect();
        SettlingReport {
            settled: sim.steady,
            residual: sim.residual,
            times: SettlingTimes::of(&times, tau_z),
            worst_steps: sim.settling.iter().map(|s| s.steps).max().unwrap_or(0),
            per_sample_seconds: times,
            window_seconds: sim.window_seconds,
        }
    }
}

impl EnergyReport {
    fn of(circuit: &Circuit, sim: &Simulation) -> EnergyReport {
        let w = &circuit.architecture.widths;
        let empty = ByLayer::new();
        let energy = sim.energy.as_ref().unwrap_or(&empty);
        let e_total = total(energy);
        let e_sample = e_total / sim.batch as f64;
        let macs_bp = bp_step_macs(w);
        let digital = macs_bp as f64 * circuit.periphery.digital_mac_energy_joules;
        let ops = 2 * circuit_macs(w);
        EnergyReport {
            per_inference_joules: e_total,
            per_sample_joules: e_sample,
            by_component_joules: ByComponent(Component::ALL.map(|c| component_total(energy, c))),
            by_layer_joules: (1..=energy.len()).map(|l| layer_total(energy, l)).collect(),
            by_layer_component_joules: energy.iter().map(|l| ByComponent(*l)).collect(),
            energy_delay_product_joule_seconds: e_sample * sim.window_seconds,
            ops_equivalent_per_sample: ops,
            ops_per_joule: ops as f64 / e_sample,
            digital_reference: DigitalReference {
                mac_energy_joules: circuit.periphery.digital_mac_energy_joules,
                bp_step_macs_per_sample: macs_bp,
                per_sample_joules: digital,
                analog_over_digital: e_sample / digital,
            },
        }
    }
}

/// Multiply-accumulates of one BP step per sample: the forward pass, the backward pass (no
/// delta for the input) and the weight gradients.
pub fn bp_step_macs(widths: &[usize]) -> usize {
    let per: Vec<usize> = widths.windows(2).map(|p| p[0] * p[1]).collect();
    let all: usize = per.iter().sum();
    all + (all - per[0]) + all
}

/// Multiply-accumulates of one forward and one backward product of the whole network per
/// sample (the backward product of layer 1 is not formed).
pub fn circuit_macs(widths: &[usize]) -> usize {
    let per: Vec<usize> = widths.windows(2).map(|p| p[0] * p[1]).collect();
    let all: usize = per.iter().sum();
    all + (all - per[0])
}

/// One value per energy [`Component`], written as a map from the component's name; reading
/// one back requires every component.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ByComponent(pub [f64; Component::COUNT]);

impl ByComponent {
    pub fn get(&self, c: Component) -> f64 {
        self.0[c.index()]
    }
}

impl Serialize for ByComponent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(Component::COUNT))?;
        for c in Component::ALL {
            m.serialize_entry(c.name(), &self.get(c))?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ByComponent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, Option<f64>>::deserialize(d)?;
        let mut out = [0.0; Component::COUNT];
        for c in Component::ALL {
            let v = map
                .get(c.name())
                .ok_or_else(|| serde::de::Error::missing_field(c.name()))?;
            out[c.index()] = v.unwrap_or(f64::NAN);
        }
        Ok(ByComponent(out))
    }
}

/// A number that may have been written as `null` (not finite), read back as NaN.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A list of [`number`]s.
fn numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

impl RunReport {
    /// The report of a completed run: its design, mapping and simulation, and the gradient
    /// check.
    pub fn completed(
        (circuit, built, model, pass): (&Circuit, &Built, &EnergyModel, &FeedforwardPass),
        sim: &Simulation,
        (gradients, readout): (GradientsReport, ReadoutReport),
        wall_seconds: f64,
    ) -> RunReport {
        let measured = Measurements {
            dynamics: DynamicsReport::of(circuit, sim),
            settling: SettlingReport::of(circuit, sim),
            energy: EnergyReport::of(circuit, sim),
            ppa: PpaReport::of(circuit, built, sim, (model, pass)),
            readout,
            gradients,
        };
        RunReport::new(
            circuit,
            built,
            Outcome::Ok(Box::new(measured)),
            wall_seconds,
        )
    }

    /// The report of a run whose circuit diverged (or ran to a rail): `error` is a
    /// [`SimError::Diverged`] or [`SimError::Rail`]; `None` for another error.
    pub fn diverged(
        circuit: &Circuit,
        built: &Built,
        error: &SimError,
        wall_seconds: f64,
    ) -> Option<RunReport> {
        let divergence = Divergence::of(error)?;
        Some(RunReport::new(
            circuit,
            built,
            Outcome::Diverged { divergence },
            wall_seconds,
        ))
    }

    fn new(circuit: &Circuit, built: &Built, outcome: Outcome, wall_seconds: f64) -> RunReport {
        let mapping = built
            .mapped
            .layers
            .iter()
            .zip(built.network.weights())
            .map(|(m, wt)| LayerMapping {
                layer: m.layer,
                inputs: m.inputs,
                outputs: m.outputs,
                tile_grid: [m.tile_grid.0, m.tile_grid.1],
                tiles: m.tiles(&circuit.crossbar),
                devices: m.devices(),
                kappa_siemens: m.kappa_siemens,
                feedback_resistance_ohms: m.feedback_resistance_ohms,
                weight_error_forward: relative_frobenius(&m.w_forward, wt),
                weight_error_backward: relative_frobenius(&m.w_backward, wt),
            })
            .collect();
        RunReport {
            apcsim_version: env!("CARGO_PKG_VERSION").into(),
            design: circuit.name.clone(),
            batch: built.batch.size(),
            wall_seconds,
            mapping,
            outcome,
            config: circuit.config.to_json(),
        }
    }

    /// The measurements, for a run that completed.
    pub fn measurements(&self) -> Option<&Measurements> {
        match &self.outcome {
            Outcome::Ok(m) => Some(m),
            Outcome::Diverged { .. } => None,
        }
    }

    /// "ok" or "diverged", as in the JSON.
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Ok(_) => "ok",
            Outcome::Diverged { .. } => "diverged",
        }
    }

    /// The report as a JSON value: objects with their keys in alphabetical order, non-finite
    /// numbers as `null`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// report.json's text.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_value()).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads report.json's text; a missing or mistyped field is an error naming it.
    pub fn from_json(text: &str) -> Result<RunReport, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The compact terminal summary of a completed run (nothing for a diverged one). `t_max`
    /// and `steady_tol` are the design's, for the line of a run that did not settle.
    pub fn summary(&self, t_max_seconds: f64, steady_tol: f64) -> String {
        let Some(m) = self.measurements() else {
            return String::new();
        };
        let mut s = String::new();
        let d = &m.dynamics;
        // A noise-free exponential run takes error-controlled steps of at most dt.
        let steps = if d.solver == "exponential" && !d.noisy {
            format!(
                "{} error-controlled steps of at most {}",
                d.steps,
                si(d.dt_seconds, "s")
            )
        } else {
            format!("{} steps of {}", d.steps, si(d.dt_seconds, "s"))
        };
        let _ = writeln!(
            s,
            "{}: {} samples, {} ({}), {steps}, {:.2} s wall",
            self.design,
            self.batch,
            d.solver,
            if d.noisy {
                "noisy SDE"
            } else {
                "deterministic"
            },
            self.wall_seconds
        );
        if m.ppa.relaxation.is_some() {
            settling_lines(&mut s, m, t_max_seconds, steady_tol);
        } else {
            let _ = writeln!(
                s,
                "settling   none: run.mode = \"feedforward\" reads each layer once"
            );
        }
        m.readout.summary_lines(&mut s);
        energy_lines(&mut s, &m.energy, self.batch);
        ppa_lines(&mut s, &m.ppa);
        gradient_lines(&mut s, &m.gradients);
        s
    }
}

fn settling_lines(s: &mut String, m: &Measurements, t_max_seconds: f64, steady_tol: f64) {
    let st = &m.settling;
    if st.settled {
        let _ = writeln!(s, "settling   {}", st.times.summary());
    } else {
        let _ = writeln!(
            s,
            "settling   NOT SETTLED within t_max = {}: residual {:.3e} (steady below {:e}); \
             latest band exit at {}",
            si(t_max_seconds, "s"),
            st.residual,
            steady_tol,
            si(st.times.worst_seconds, "s")
        );
    }
}

fn energy_lines(s: &mut String, e: &EnergyReport, batch: usize) {
    let _ = writeln!(
        s,
        "energy     {} per sample ({} per batch), EDP {}s, {:.3} TOPS/W; digital BP step {} \
         ({:.3}x)",
        si(e.per_sample_joules, "J"),
        si(e.per_inference_joules, "J"),
        si(e.energy_delay_product_joule_seconds, "J"),
        e.ops_per_joule / 1e12,
        si(e.digital_reference.per_sample_joules, "J"),
        e.digital_reference.analog_over_digital
    );
    let b = batch as f64;
    let layers = &e.by_layer_component_joules;
    let _ = write!(s, "  {:<18}", "per sample");
    for l in 1..=layers.len() {
        let _ = write!(s, "{:>11}", format!("layer {l}"));
    }
    let _ = writeln!(s, "{:>11}", "total");
    for c in Component::ALL {
        let t = e.by_component_joules.get(c);
        if t == 0.0 {
            continue;
        }
        // The device heat is a part of the drivers' energy, not a supply term: in parentheses.
        let name = if c.is_supply() {
            c.name().to_string()
        } else {
            format!("({})", c.name())
        };
        let _ = write!(s, "  {name:<18}");
        for layer in layers {
            let _ = write!(s, "{:>11}", si(layer.get(c) / b, "J"));
        }
        let _ = writeln!(s, "{:>11}", si(t / b, "J"));
    }
}

fn ppa_lines(s: &mut String, p: &PpaReport) {
    let _ = writeln!(
        s,
        "ppa        per inference, {} periphery, {} cells; 2 ops per MAC per weight per read; \
         TOPS pipelined",
        p.technology, p.cell
    );
    let [_, a, b] = PpaReport::COLUMNS;
    let _ = writeln!(s, "  {:<20} {a:>15} {b:>15}", "");
    for [name, pc, ff] in p.rows(false) {
        let _ = writeln!(s, "  {name:<20} {pc:>15} {ff:>15}");
    }
}

fn gradient_lines(s: &mut String, g: &GradientsReport) {
    let _ = writeln!(s, "gradients  cos sim (norm ratio) of the PC update to BP");
    for (name, c) in [
        ("ideal circuit (theory)", &g.ideal_circuit_vs_bp),
        ("hardware vs BP, ideal W", &g.hardware_vs_bp_ideal_weights),
        (
            "hardware vs BP, effective W",
            &g.hardware_vs_bp_effective_weights,
        ),
    ] {
        let per: Vec<String> = c
            .cos_sim_per_layer
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect();
        let _ = writeln!(
            s,
            "  {name:<30} {:.6} ({:.4})  per layer [{}]",
            c.cos_sim,
            c.norm_ratio,
            per.join(", ")
        );
    }
}
