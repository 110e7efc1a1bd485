//! The resolved circuit: what a design file means once every default, preset and override is
//! applied and every value checked. The later stages (mapping, dynamics, data) read only this.

use crate::hardware::params::{
    Backward, CrossbarParams, DeviceParams, Flicker, NuFit, PeripheryParams, ProgrammingError,
};
use crate::network::model::Architecture;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::units::{format_number, format_quantity, Dimension};

/// Samples in the embedded UCI optdigits test set (`optdigits.tes`).
pub const OPTDIGITS_SAMPLES: usize = 1797;
/// Inputs of an optdigits sample (an 8x8 image).
pub const OPTDIGITS_INPUTS: usize = 64;
/// Classes of optdigits (one-hot targets).
pub const OPTDIGITS_CLASSES: usize = 10;

/// How the circuit's ODE/SDE is integrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolverKind {
    /// Forward Euler; Euler–Maruyama when noise is on.
    Euler,
    /// Heun (explicit trapezoid); stochastic Heun when noise is on.
    Heun,
    /// Classical Runge–Kutta 4 (deterministic).
    Rk4,
    /// Adaptive Dormand–Prince 5(4) (deterministic).
    Dopri5,
    /// Adaptive Dormand–Prince 8(5,3) (deterministic).
    Dop853,
    /// The exponential scheme of the analog circuit (error nodes exact over a step, value
    /// nodes second order; exponential Euler–Maruyama with noise), with error-controlled steps
    /// when noise-free.
    Exponential,
}

impl SolverKind {
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Euler => "euler",
            SolverKind::Heun => "heun",
            SolverKind::Rk4 => "rk4",
            SolverKind::Dopri5 => "dopri5",
            SolverKind::Dop853 => "dop853",
            SolverKind::Exponential => "exponential",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [
            SolverKind::Euler,
            SolverKind::Heun,
            SolverKind::Rk4,
            SolverKind::Dopri5,
            SolverKind::Dop853,
            SolverKind::Exponential,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }

    /// Adaptive solvers choose their own steps and cannot integrate noise.
    pub fn is_adaptive(self) -> bool {
        matches!(self, SolverKind::Dopri5 | SolverKind::Dop853)
    }

    /// Solvers that integrate an SDE when noise is on.
    pub fn handles_noise(self) -> bool {
        matches!(
            self,
            SolverKind::Euler | SolverKind::Heun | SolverKind::Exponential
        )
    }

    /// Solvers whose step is not bound by the error nodes' time constant (they advance the
    /// error nodes exactly).
    pub fn exact_error_nodes(self) -> bool {
        self == SolverKind::Exponential
    }
}

/// The longest step an explicit fixed-step scheme may take on a node that relaxes with time
/// constant `tau_seconds` (dx/dt = -x / tau): Euler multiplies a deviation by 1 - h and Heun
/// by 1 - h + h^2 / 2 per step of h = dt / tau, which grow once h > 2 (RK4 holds to h = 2.79).
/// Infinite for an algebraic node (tau = 0). The one criterion of a stable step: the loader
/// refuses a design that breaks it, and the simulator checks its options with it.
pub fn max_stable_step(tau_seconds: f64) -> f64 {
    if tau_seconds > 0.0 {
        2.0 * tau_seconds
    } else {
        f64::INFINITY
    }
}

/// The circuit's time constants and integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Dynamics {
    pub tau_z_seconds: f64,
    /// 0: algebraic error nodes (exact gradient flow).
    pub tau_e_seconds: f64,
    pub solver: SolverKind,
    /// Step of the fixed-step solvers.
    pub dt_seconds: f64,
    pub t_max_seconds: f64,
    pub settle_tol: f64,
    /// A deterministic run stops once max|dz/dt| tau_z < steady_tol.
    pub steady_tol: f64,
    /// Local error tolerance (node units, relative and absolute) of the exponential scheme's
    /// error-controlled steps.
    pub step_tol: f64,
    /// Trailing window of a noisy run (final state = its mean).
    pub settle_window_seconds: f64,
    pub rtol: f64,
    pub atol: f64,
    /// Whether the design's noise sources are integrated (an SDE) — true only when the design
    /// has some (device read noise or kT/C) and `dynamics.noise` is on.
    pub noisy: bool,
}

/// Where the input batch and targets come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// The embedded UCI optdigits set, from sample `offset`.
    Optdigits { offset: usize },
    /// Gaussian inputs; targets from a teacher network of the same architecture drawn with
    /// `seed`, plus Gaussian noise.
    Teacher {
        seed: u64,
        input_std: f64,
        target_noise: f64,
    },
    /// Gaussian inputs and targets.
    Gaussian {
        seed: u64,
        input_std: f64,
        target_std: f64,
    },
    /// Weights and a batch in the reference HDF5 layout.
    Hdf5 { path: PathBuf },
    /// A user's samples and targets in HDF5 ([`crate::io::dataset`]), optionally split.
    Dataset { path: PathBuf },
}

#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    pub source: DataSource,
    /// Samples taken from the source (a multiple of nothing: the last batch may be short).
    pub samples: usize,
}

/// `apcsim train`'s data split and schedule (`[train]`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    pub epochs: usize,
    /// Samples of one mini-batch.
    pub batch: usize,
    pub lr: f64,
    /// Sizes of the stratified optdigits split.
    pub train_samples: usize,
    pub test_samples: usize,
    /// Reshuffle the training set every epoch.
    pub shuffle: bool,
    /// How PC on the hardware finds each step's equilibrium.
    pub inference: TrainInference,
    /// Steps between two physical transients of the hardware's inference.
    pub transient_every: usize,
    /// Time of one multiply-accumulate of the digital BP reference (seconds).
    pub digital_mac_time_seconds: f64,
    /// Steps between two checkpoints (0: only the last step's).
    pub checkpoint_every: usize,
    /// The learning rate's width scaling.
    pub lr_scaling: LrScaling,
    /// Time between two steps on the devices' drift clock (0: no drift or read noise between
    /// steps).
    pub step_interval_seconds: f64,
}

/// `train.inference`: the equilibrium by Newton-Krylov every step (the transient pricing
/// the inference every `transient_every` steps), or the transient's settled state driving the
/// update on the steps it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainInference {
    Equilibrium,
    Transient,
}

/// How `train.lr` scales with the network's width (`train.lr_scaling`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrScaling {
    /// The learning rate as written.
    None,
    /// muPC's SGD scaling: lr gamma0^2 N, N the width feeding the output layer.
    Mupc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunParams {
    pub batch: usize,
    pub seed: u64,
    /// Samples whose every node is recorded in the traces.
    pub trace_samples: usize,
    /// Most output points of the recorded traces.
    pub trace_points: usize,
    /// The floating-point type the analog circuit is integrated in.
    pub precision: Precision,
    /// PC relaxation, or one feedforward read per layer.
    pub mode: RunMode,
    /// Whether traces.h5 holds the read conductances and the weight gradients.
    pub record_weights: bool,
}

/// What a run does with the circuit (`run.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RunMode {
    /// Feedforward, then relaxation to equilibrium: PC's inference.
    #[default]
    Pc,
    /// One read per layer and no relaxation, as an inference chip works.
    Feedforward,
}

impl RunMode {
    /// The mode of its `run.mode` name (one of [`crate::config::schema::MODES`]).
    pub fn named(name: &str) -> Option<RunMode> {
        match name {
            "pc" => Some(RunMode::Pc),
            "feedforward" => Some(RunMode::Feedforward),
            _ => None,
        }
    }
}

/// The floating-point type of the analog circuit's integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F64,
    F32,
}

impl Precision {
    /// Bytes of one number.
    pub fn bytes(self) -> f64 {
        match self {
            Precision::F64 => 8.0,
            Precision::F32 => 4.0,
        }
    }
}

/// Every key of the design with its resolved value (quantities in SI units under their SI
/// spelling, derived defaults computed) and where the value came from. This is what reports
/// store as "the configuration".
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResolvedConfig {
    /// section -> key -> value.
    pub values: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// `section.key` -> "file", "--set ...", "preset ...", "default" or "derived".
    pub origins: BTreeMap<String, String>,
}

impl ResolvedConfig {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A checked circuit design, ready to be mapped.
#[derive(Clone, Debug, PartialEq)]
pub struct Circuit {
    /// What the design was loaded from (a file name, or the name given to `load_str`).
    pub name: String,
    pub architecture: Architecture,
    pub device: DeviceParams,
    pub crossbar: CrossbarParams,
    pub periphery: PeripheryParams,
    pub dynamics: Dynamics,
    pub data: DataSpec,
    pub run: RunParams,
    /// How weight updates are written into the devices.
    pub update: crate::hardware::update::UpdateDesign,
    /// The training schedule of `apcsim train`.
    pub train: TrainParams,
    pub config: ResolvedConfig,
}

fn q(v: f64, d: Dimension) -> String {
    format_quantity(v, d)
}

fn n(x: f64) -> String {
    format_number(x)
}

impl Circuit {
    /// Number of weights of the network (one differential pair of devices each).
    pub fn n_weights(&self) -> usize {
        self.architecture
            .widths
            .windows(2)
            .map(|w| w[0] * w[1])
            .sum()
    }

    /// A short human-readable account of the resolved design, for `apcsim check`: one line
    /// per section.
    pub fn summary(&self) -> String {
        [
            ("network", self.network_line()),
            ("device", device_line(&self.device)),
            ("crossbar", crossbar_line(&self.crossbar)),
            ("periphery", periphery_line(&self.periphery)),
            ("dynamics", dynamics_line(&self.dynamics)),
            ("data", data_line(&self.data)),
            (
                "run",
                format!("batch {}, seed {}", self.run.batch, self.run.seed),
            ),
        ]
        .iter()
        .map(|(section, line)| format!("{section:<10} {line}"))
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn network_line(&self) -> String {
        let a = &self.architecture;
        let w = &a.widths;
        format!(
            "{} -> {:?} -> {}: {} weight layers, {} weights; {}, {}, skips {}, gamma0 {}, lambda {}",
            w[0],
            &w[1..w.len() - 1],
            w[w.len() - 1],
            a.n_layers(),
            self.n_weights(),
            a.activation,
            a.parameterisation,
            if a.skips { "on" } else { "off" },
            n(a.gamma0),
            n(a.output_precision)
        )
    }
}

fn device_line(d: &DeviceParams) -> String {
    let levels = d
        .levels
        .map_or("continuous".to_string(), |l| format!("{l} levels"));
    let drift = d.drift.as_ref().map_or("none".to_string(), |x| {
        format!(
            "nu {}, t0 {}, read {} after programming",
            nu_text(&x.nu),
            q(x.t0_seconds, Dimension::Time),
            q(x.t_read_seconds, Dimension::Time)
        )
    });
    format!(
        "{}: window {}..{}, {levels}; programming error {}; stuck off {} on {}; drift {drift}; \
         read noise {}white {} /rtHz{} at {}",
        d.name,
        q(d.g_min_siemens, Dimension::Conductance),
        q(d.g_max_siemens, Dimension::Conductance),
        programming_text(&d.programming),
        d.stuck_off_fraction,
        d.stuck_on_fraction,
        if d.read_noise.thermal {
            "thermal + "
        } else {
            ""
        },
        n(d.read_noise.white_per_root_hertz),
        match d.read_noise.flicker {
            Flicker::None => "",
            Flicker::AihwkitPcm => " + accumulated 1/f (aihwkit PCM)",
            Flicker::AihwkitHermes => " + accumulated 1/f (aihwkit HERMES)",
        },
        q(d.read_noise.temperature_kelvin, Dimension::Temperature)
    )
}

fn nu_text(fit: &NuFit) -> String {
    match fit {
        NuFit::Constant { mean, std } => format!("|N({}, {})|", n(*mean), n(*std)),
        NuFit::AihwkitPcm => "aihwkit PCM fit".to_string(),
        NuFit::AihwkitHermes => "aihwkit HERMES fit".to_string(),
    }
}

fn programming_text(p: &ProgrammingError) -> String {
    match p {
        ProgrammingError::None => "none".to_string(),
        ProgrammingError::Constant { fraction_of_g_max } => {
            format!("sigma {:.3}% of g_max", 100.0 * fraction_of_g_max)
        }
        ProgrammingError::Polynomial {
            coefficients_siemens: c,
            g_ref_siemens,
        } => {
            let terms: String = c
                .iter()
                .enumerate()
                .map(|(k, &x)| {
                    let power = match k {
                        0 => String::new(),
                        1 => " g".to_string(),
                        _ => format!(" g^{k}"),
                    };
                    let sign = match (k, x < 0.0) {
                        (0, true) => "-",
                        (0, false) => "",
                        (_, true) => " - ",
                        (_, false) => " + ",
                    };
                    format!("{sign}{}{power}", q(x.abs(), Dimension::Conductance))
                })
                .collect();
            format!(
                "sigma {terms}, g = G/{}",
                q(*g_ref_siemens, Dimension::Conductance)
            )
        }
    }
}

fn crossbar_line(c: &CrossbarParams) -> String {
    format!(
        "{}x{} tiles, v_read {}, wire {} per segment, backward {}",
        c.rows,
        c.cols,
        q(c.v_read_volts, Dimension::Voltage),
        q(c.wire_resistance_ohms, Dimension::Resistance),
        match c.backward {
            Backward::Shared => "shared",
            Backward::Separate => "separate",
        }
    )
}

fn periphery_line(p: &PeripheryParams) -> String {
    let bits = |b: Option<u32>| b.map_or("ideal".to_string(), |b| format!("{b}-bit"));
    format!(
        "{} periphery, amplifiers {}, error-amp bandwidth {}, offset sigma {}, rails {}, gain {}; \
         C_z {}, V_dd {}, kT/C noise {}; DAC {} +-{} ({}), ADC {} +-{} ({})",
        p.technology.name,
        p.amplifier_power_watts
            .map_or("biased by gm/I_D".to_string(), |w| {
                format!("{} each", q(w, Dimension::Power))
            }),
        q(p.error_amp_bandwidth_hertz, Dimension::Frequency),
        q(p.offset_sigma_volts, Dimension::Voltage),
        p.rail_volts
            .map_or("none".to_string(), |r| q(r, Dimension::Voltage)),
        p.finite_gain.map_or("ideal".to_string(), n),
        q(p.node_capacitance_farads, Dimension::Capacitance),
        q(p.supply_volts, Dimension::Voltage),
        if p.ktc_noise { "on" } else { "off" },
        bits(p.dac.bits),
        n(p.dac.range),
        q(p.dac.energy_joules, Dimension::Energy),
        bits(p.adc.bits),
        n(p.adc.range),
        q(p.adc.energy_joules, Dimension::Energy),
    )
}

fn dynamics_line(y: &Dynamics) -> String {
    format!(
        "tau_z {}, tau_e {}, {}{}, t_max {}, settle_tol {}, {}",
        q(y.tau_z_seconds, Dimension::Time),
        if y.tau_e_seconds == 0.0 {
            "0 (algebraic)".to_string()
        } else {
            q(y.tau_e_seconds, Dimension::Time)
        },
        y.solver.name(),
        if y.solver.is_adaptive() {
            format!(" (rtol {:e}, atol {:e})", y.rtol, y.atol)
        } else {
            format!(" dt {}", q(y.dt_seconds, Dimension::Time))
        },
        q(y.t_max_seconds, Dimension::Time),
        y.settle_tol,
        if y.noisy {
            "noisy (SDE)"
        } else {
            "deterministic"
        }
    )
}

fn data_line(data: &DataSpec) -> String {
    let source = match &data.source {
        DataSource::Optdigits { offset } => format!("optdigits from sample {offset}"),
        DataSource::Teacher {
            seed,
            input_std,
            target_noise,
        } => {
            format!(
                "teacher (seed {seed}, input std {}, target noise {})",
                n(*input_std),
                n(*target_noise)
            )
        }
        DataSource::Gaussian {
            seed,
            input_std,
            target_std,
        } => format!(
            "gaussian (seed {seed}, input std {}, target std {})",
            n(*input_std),
            n(*target_std)
        ),
        DataSource::Hdf5 { path } => format!("hdf5 {}", path.display()),
        DataSource::Dataset { path } => format!("dataset {}", path.display()),
    };
    format!("{source}, {} samples", data.samples)
}

impl fmt::Display for Circuit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}
