//! The width x depth study of Innocenti et al. 2026 (their Figure 1): how closely the weight
//! gradients PC computes at its exact activity equilibrium follow BP's as networks get wider and
//! deeper, at initialisation and along training, on the ideal network or mapped onto a device.
//!
//! For every point (width N, depth L, seed) of the grid a network D -> N -> ... -> N -> O with L
//! weight layers is drawn from the plan's parameterisation (residual on layers 2..L-1 with
//! `skips`, the plan's activation, linear by default), with a batch of B samples x ~ N(0, I_D),
//! y ~ N(0, I_O). At step 0 PC's gradient at the exact equilibrium is compared with BP's on the
//! same weights: cosine similarity over all layers and per layer, and the norm ratio
//! |g_PC| / |g_BP|. The equilibrium is exact: the output-space closed form of
//! [`closed_form::equilibrium_output_space`] for linear networks, Dop853 to max|dz/dt| below
//! [`OdeTolerances::steady_tol`] otherwise; its residual max|dE/dz| is recorded (for the closed
//! form at the first and last steps only: it costs as much as a gradient and is ~1e-15).
//!
//! Then PC and BP are trained as two separate trajectories from the same initial weights, both
//! with Adam at the parameterisation's learning rate ([`adam_learning_rate`]), full batch (the
//! same B samples every step, as in the paper's experiments). Rows are written for steps
//! 0..=T; step t is measured before the t-th update, so step T is the network after T updates.
//! The default T ([`DEFAULT_STEPS`] = 10) keeps the default grid to a few minutes on a shared
//! 2-core machine; at Adam's scaled rate the weights barely move in 10 steps, so trajectories
//! worth reading need `--steps 100` or more (the cost is linear in T).
//! These comparisons are recorded at every step (they coincide at step 0):
//! - `cos_sim`, the headline: on the PC trajectory, PC's gradient against BP's gradient at the
//!   same weights — does PC still compute BP's gradient where PC training has taken the network?
//!   Its per-layer values are `cos_layer_l` and its norm ratio `norm_ratio`;
//! - `cos_sim_bp_traj`: on the BP trajectory, PC's gradient at the BP-trained weights against
//!   BP's there;
//! - `cos_sim_cross`: PC's gradient on the PC trajectory against BP's on the BP trajectory at
//!   the same step — what the paper's code records (`compute_grad_cosine_similarities`);
//! - `cos_sim_hw_bp` (device runs only): on the PC trajectory, the hardware's PC gradient
//!   against BP through the hardware's own effective forward weights and DAC-converted inputs —
//!   whether the analog circuit still computes the BP gradient *of the network it holds*, which
//!   separates PC's approximation from the weight errors of the mapping.
//!
//! With a device ([`DeviceSetup`]) the PC gradient is the hardware's: the network (re)mapped on
//! the device at every step (fresh programming draws, as a chip written again after each update
//! would have), inference on the effective forward and backward weights with DAC-converted
//! inputs, the update formed from ADC readings (as [`crate::design::hardware::gradient_check`] does);
//! BP runs digitally on the ideal weights. Only the static non-idealities of the mapping enter
//! (quantisation, programming error, stuck devices, drift, IR drop, the backward read) and the
//! converters: read noise and amplifier imperfections live in the time-domain circuit, not in
//! an equilibrium.
//!
//! Outputs: [`StudyResults::study_csv`], [`StudyResults::summary_csv`] (mean and sample std
//! over seeds per (N, L, step)), the terminal [`StudyResults::report`], and
//! [`StudyResults::figures`]: the data of every figure ([`Heatmap`]s of mean ± std with depths
//! as rows and widths as columns, [`Series`] against N / L and against the step, the theory
//! curves), which [`super::width_depth_report`] draws as SVG files and `report.html`.
//!
//! Seeds: the weights of a point (and its device draws) come from a seed derived from
//! (base seed, N, L, seed index); the batch from (base seed, seed index) alone, so that every
//! point of one seed index sees the same data, as in the paper. Points run in parallel over
//! rayon, each on one worker from start to end, so results are bit-identical whatever the
//! thread count.
//!
//! # Theory
//! For a linear network the equilibrated energy is F* = 1/(2B) sum_i r_i^T S^-1 r_i with
//! r_i = y_i - yhat_i and the rescaling S = I/lambda + sum_{l=1}^{L-1} J_l J_l^T (J_l the
//! Jacobian from layer l to the output). PC's weight gradient is the gradient of F* (the
//! activities sit at the energy's minimum), and with lambda = 1 F* equals the BP loss exactly
//! when S = I. s - 1 measures how far PC is from BP: as s -> 1, PC's gradients become BP's,
//! with |g_PC| / |g_BP| close to 1/s. At initialisation E(S) = (1/lambda + c) I with
//! c = [`theory_s_minus_1`]; under muPC without skips c = (L - 1) / (gamma0^2 N), the paper's
//! prediction: PC computes BP's gradients when the network is much wider than deep
//! (N >> L / gamma0^2), and gets further from them with depth at a fixed width. Under NTP
//! c = (L - 1) / gamma0^2 and under SP c does not depend on N: more width does not help there.
//! The study records the measured `s_minus_1` = tr(S)/O - 1 (whose expectation the theory gives
//! exactly) and `s_norm_minus_1` = |S|_2 - 1 (the paper's Figure 1 quantity for vector outputs,
//! above the trace's by the spread of S's eigenvalues, which shrinks as N grows). lambda = 1.
//!
//! # Reference
//! Innocenti, Achour & Bogacz, "On the infinite width and depth limits of predictive coding
//! networks", ICML 2026 (arXiv:2602.07697), Figure 1 and §3; their code, JPC
//! `experiments/limits_paper/` (`train.py`: separate PC and BP trajectories from the same
//! weights, full batch; `utils.py`: `configure_param_optim`, the Adam learning rates;
//! `plot_width_vs_depth_results.py`: the theory plane (L - 1) / (gamma0^2 N)); JPC's
//! `linear_equilib_energy` for S. Kingma & Ba, "Adam", ICLR 2015, with optax's defaults.

use crate::config::{self, presets, ConfigError, LoadOptions};
use crate::design::hardware::{hardware_network, hardware_pc_update};
use crate::dynamics::{infer, InferenceError, InferenceOptions, Solver, Stop};
use crate::hardware::mapping::{map_network, wire_model, MappingError};
use crate::hardware::params::{Converter, CrossbarParams, DeviceParams};
use crate::io::data::gaussian_batch;
use crate::network::closed_form::{self, ClosedFormError};
use crate::network::{
    alignment, Activation, Alignment, Architecture, Batch, Network, NetworkError, Parameterisation,
};
use crate::numeric::seeds::stream_seed;
use crate::report::CsvTable;
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The device a study maps its networks onto, with the converters around it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSetup {
    /// What `--device` named (a preset, a preset file or a design file).
    pub name: String,
    pub device: DeviceParams,
    pub crossbar: CrossbarParams,
    /// Converts the inputs.
    pub dac: Converter,
    /// Reads every value the update is formed from.
    pub adc: Converter,
}

/// Top-level tables that make a TOML file a whole design rather than a device preset.
const DESIGN_SECTIONS: [&str; 7] = [
    "network",
    "device",
    "crossbar",
    "periphery",
    "dynamics",
    "data",
    "run",
];

impl DeviceSetup {
    /// Resolves `spec`: a shipped preset name (`rram_hfo2`), a preset file (device keys at the
    /// top level), or a whole design file, whose `[device]`, `[crossbar]` and `[periphery]`
    /// (DAC and ADC) are taken and whose network is ignored. A preset alone gets the default
    /// tiles and ideal converters. Errors are the config loader's, with file, line and key.
    pub fn load(spec: &str) -> Result<Self, ConfigError> {
        let opts = LoadOptions::default();
        let path = Path::new(spec);
        let is_design = presets::find(spec).is_none()
            && path.is_file()
            && std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .is_some_and(|t| {
                    DESIGN_SECTIONS
                        .iter()
                        .any(|s| t.get(*s).is_some_and(toml::Value::is_table))
                });
        let circuit = if is_design {
            config::load(path, &[] as &[&str], &opts)?
        } else {
            let text = format!("device = {}\n", toml::Value::String(spec.to_string()));
            config::load_str("--device", &text, &[] as &[&str], &opts)?
        };
        Ok(DeviceSetup {
            name: spec.to_string(),
            device: circuit.device,
            crossbar: circuit.crossbar,
            dac: circuit.periphery.dac,
            adc: circuit.periphery.adc,
        })
    }
}

/// Tolerances of the Dop853 equilibrium of nonlinear networks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OdeTolerances {
    pub rtol: f64,
    pub atol: f64,
    /// Stop once max|dz/dt| is below this.
    pub steady_tol: f64,
    pub max_steps: usize,
}

impl Default for OdeTolerances {
    /// Tight enough that the ODE route lands within 1e-8 of the closed form on linear networks
    /// (about 2e-10 apart in the tests). The step tolerances sit well below the steady-state
    /// one: the accepted states jitter at about rtol |z|, which bounds how small max|dz/dt| gets
    /// (rtol 1e-11 stalls above 1e-11); a steady tolerance of 1e-12 is below the right-hand
    /// side's rounding floor.
    fn default() -> Self {
        OdeTolerances {
            rtol: 1e-12,
            atol: 1e-14,
            steady_tol: 1e-11,
            max_steps: 1_000_000,
        }
    }
}

/// Everything that defines a width x depth study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyPlan {
    pub parameterisation: Parameterisation,
    pub skips: bool,
    pub activation: Activation,
    /// Hidden widths N, in the order of the output's columns.
    pub widths: Vec<usize>,
    /// Numbers of weight layers L (at least 2).
    pub depths: Vec<usize>,
    /// Seeds per (N, L).
    pub seeds: usize,
    /// Training steps T after the initialisation.
    pub steps: usize,
    /// Adam's base learning rate, before the parameterisation's scaling.
    pub lr: f64,
    pub gamma0: f64,
    /// Input width D.
    pub input: usize,
    /// Output width O.
    pub output: usize,
    /// Samples B.
    pub batch: usize,
    pub base_seed: u64,
    /// `None`: the ideal network.
    pub device: Option<DeviceSetup>,
    pub ode: OdeTolerances,
}

/// Most seeds and steps a plan may ask for (far beyond any useful study; they keep the
/// bookkeeping from overflowing before the memory estimate can speak).
pub const MAX_SEEDS: usize = 100_000;
pub const MAX_STEPS: usize = 10_000_000;

/// Steps of the default study: enough Adam steps to see whether PC keeps following BP once the
/// weights move, while the default grid stays well inside its time budget.
pub const DEFAULT_STEPS: usize = 10;

impl Default for StudyPlan {
    /// The paper's setting (muPC, linear, no skips, gamma0 = 1, Adam at 1e-3) on the default
    /// grid: widths 16..1024, depths 2..16, 3 seeds, D = 64, O = 10, B = 32, ideal device.
    fn default() -> Self {
        StudyPlan {
            parameterisation: Parameterisation::Mupc,
            skips: false,
            activation: Activation::Linear,
            widths: vec![16, 64, 256, 1024],
            depths: vec![2, 4, 8, 16],
            seeds: 3,
            steps: DEFAULT_STEPS,
            lr: 1e-3,
            gamma0: 1.0,
            input: 64,
            output: 10,
            batch: 32,
            base_seed: 0,
            device: None,
            ode: OdeTolerances::default(),
        }
    }
}

/// Why a study could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    /// The plan itself is unusable (caught before any point runs).
    #[error("{0}")]
    Plan(String),
    #[error("N = {width}, L = {depth}, seed {seed}: {source}")]
    Network {
        width: usize,
        depth: usize,
        seed: usize,
        source: NetworkError,
    },
    #[error("N = {width}, L = {depth}, seed {seed}, step {step}: mapping: {source}")]
    Mapping {
        width: usize,
        depth: usize,
        seed: usize,
        step: usize,
        source: MappingError,
    },
    #[error("N = {width}, L = {depth}, seed {seed}, step {step}: equilibrium: {source}")]
    ClosedForm {
        width: usize,
        depth: usize,
        seed: usize,
        step: usize,
        source: ClosedFormError,
    },
    #[error("N = {width}, L = {depth}, seed {seed}, step {step}: inference: {source}")]
    Inference {
        width: usize,
        depth: usize,
        seed: usize,
        step: usize,
        source: InferenceError,
    },
    #[error("N = {width}, L = {depth}, seed {seed}, step {step}: {what} is not finite: the {trajectory} trajectory diverged")]
    Diverged {
        width: usize,
        depth: usize,
        seed: usize,
        step: usize,
        trajectory: &'static str,
        what: &'static str,
    },
}

/// One point of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Point {
    pub width: usize,
    pub depth: usize,
    /// Seed index 0..seeds.
    pub seed: usize,
}

/// Stream of the data seeds, apart from every (N, L) stream of the weights.
const DATA_STREAM: u64 = u64::MAX;
/// Streams under a point's seed.
const WEIGHT_STREAM: u64 = 0;
const DEVICE_STREAM: u64 = 1;

impl Point {
    /// The seed of this point's weights and device draws.
    pub fn seed_of(&self, base: u64) -> u64 {
        stream_seed(
            stream_seed(stream_seed(base, self.width as u64), self.depth as u64),
            self.seed as u64,
        )
    }

    /// The seed of this point's batch: the same for every point of one seed index.
    pub fn data_seed(&self, base: u64) -> u64 {
        stream_seed(stream_seed(base, DATA_STREAM), self.seed as u64)
    }
}

/// Adam's learning rate for a network of width N and depth L: `lr` under SP, lr / sqrt(N)
/// under muPC and NTP, lr / sqrt(N L) with skips — one rate for every layer, since the
/// parameterisation's scalings a_l already sit in the forward pass.
///
/// # Reference
/// JPC, `experiments/limits_paper/utils.py`, `configure_param_optim` (the code of Innocenti et
/// al. 2026), which scales `optax.adam`'s rate this way for every non-SP parameterisation.
pub fn adam_learning_rate(
    param: Parameterisation,
    skips: bool,
    lr: f64,
    width: usize,
    depth: usize,
) -> f64 {
    match param {
        Parameterisation::Sp => lr,
        Parameterisation::Mupc | Parameterisation::Ntp => {
            if skips {
                lr / ((width * depth) as f64).sqrt()
            } else {
                lr / (width as f64).sqrt()
            }
        }
    }
}

/// The expected s - 1 = E(tr S)/O - 1/lambda of a linear network at initialisation, where
/// S = I/lambda + sum_{l=1}^{L-1} J_l J_l^T: exact for any width, since E(S) is a multiple of
/// the identity. With E(A A^T) = g_m I for a hidden layer m (g_m = 1{skip} + a_m^2 n_{m-1}
/// var(W)) and c_L I for the output layer, it is c_L sum_{l=1}^{L-1} prod_{m=l+1}^{L-1} g_m.
///
/// muPC without skips: (L - 1) / (gamma0^2 N), the paper's formula. muPC with skips:
/// (L / (gamma0^2 N)) ((1 + 1/L)^(L-1) - 1) (the paper's plot uses L / (gamma0^2 N), its large-L
/// value up to the factor e - 1). NTP: (L - 1) / gamma0^2 without skips. SP (var = 1/(3 fan-in)):
/// (1/(3 gamma0^2)) sum_k 3^-k without skips, independent of N.
///
/// # Reference
/// Innocenti et al., ICML 2026, §3 and Figure 1; JPC `plot_width_vs_depth_results.py`.
pub fn theory_s_minus_1(
    param: Parameterisation,
    skips: bool,
    width: usize,
    depth: usize,
    gamma0: f64,
) -> f64 {
    // Dimensions: the input width does not enter (J_l never contains A_1), nor does O.
    let widths: Vec<usize> = (0..=depth).map(|_| width).collect();
    let a = param.scalings(&widths, skips, gamma0);
    // Variance of a weight times its fan-in.
    let var_fan_in = match param {
        Parameterisation::Sp => 1.0 / 3.0,
        Parameterisation::Mupc | Parameterisation::Ntp => width as f64,
    };
    let c_out = a[depth - 1] * a[depth - 1] * var_fan_in;
    let gain = |m: usize| {
        let skip = if skips && m >= 2 && m < depth {
            1.0
        } else {
            0.0
        };
        skip + a[m - 1] * a[m - 1] * var_fan_in
    };
    // sum over l = L-1 down to 1 of prod_{m=l+1}^{L-1} g_m, built from the output down.
    let (mut total, mut prod) = (0.0, 1.0);
    for l in (1..depth).rev() {
        if l + 1 < depth {
            prod *= gain(l + 1);
        }
        total += prod;
    }
    c_out * total
}

impl StudyPlan {
    /// The architecture of the networks of width `n` and depth `l`.
    pub fn architecture(&self, n: usize, l: usize) -> Architecture {
        let mut widths = vec![self.input];
        widths.extend(std::iter::repeat_n(n, l - 1));
        widths.push(self.output);
        Architecture {
            widths,
            activation: self.activation,
            parameterisation: self.parameterisation,
            skips: self.skips,
            gamma0: self.gamma0,
            output_precision: 1.0,
        }
    }

    /// The points, width-major, then depth, then seed (the order of the output's rows).
    pub fn points(&self) -> Vec<Point> {
        let mut out = Vec::new();
        for &width in &self.widths {
            for &depth in &self.depths {
                for seed in 0..self.seeds {
                    out.push(Point { width, depth, seed });
                }
            }
        }
        out
    }

    /// Whether the theory of s applies (linear networks; the device leaves it as the ideal
    /// network's prediction).
    pub fn has_theory(&self) -> bool {
        self.activation.is_linear()
    }

    /// Rough peak memory of one point: weights of both trajectories, Adam's two moments each,
    /// four gradients and the device's copies; activities, errors and their scratch; the
    /// records of every step (f64).
    fn bytes_per_point(&self, n: usize, l: usize) -> f64 {
        let (n, l, b) = (n as f64, l as f64, self.batch as f64);
        let (d, o) = (self.input as f64, self.output as f64);
        let params = d * n + (l - 2.0) * n * n + n * o;
        let copies = if self.device.is_some() { 16.0 } else { 12.0 };
        let activities = 8.0 * ((l - 1.0) * n + d + o) * b;
        let records = (self.steps as f64 + 1.0) * (256.0 + 16.0 * l);
        8.0 * (params * copies + activities) + records
    }

    /// Rejects a plan that cannot run, naming the offending value.
    pub fn validate(&self) -> Result<(), StudyError> {
        let bad = |m: String| Err(StudyError::Plan(m));
        if self.widths.is_empty() {
            return bad("--widths: give at least one width".into());
        }
        if self.depths.is_empty() {
            return bad("--depths: give at least one depth".into());
        }
        for (name, list) in [("--widths", &self.widths), ("--depths", &self.depths)] {
            for (i, v) in list.iter().enumerate() {
                if list[..i].contains(v) {
                    return bad(format!("{name}: {v} is given twice"));
                }
            }
        }
        if let Some(&w) = self.widths.iter().find(|&&w| w == 0) {
            return bad(format!("--widths: a width must be at least 1, got {w}"));
        }
        if let Some(&l) = self.depths.iter().find(|&&l| l < 2) {
            return bad(format!(
                "--depths: a network needs at least 2 weight layers, got {l}"
            ));
        }
        if self.seeds == 0 {
            return bad("--seeds: at least 1 seed".into());
        }
        if self.seeds > MAX_SEEDS {
            return bad(format!("--seeds: at most {MAX_SEEDS}, got {}", self.seeds));
        }
        if self.steps > MAX_STEPS {
            return bad(format!("--steps: at most {MAX_STEPS}, got {}", self.steps));
        }
        if self.batch == 0 {
            return bad("--batch: at least 1 sample".into());
        }
        if self.input == 0 || self.output == 0 {
            return bad("input and output widths must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "--lr: must be finite and positive, got {}",
                self.lr
            ));
        }
        if !(self.gamma0.is_finite() && self.gamma0 > 0.0) {
            return bad(format!(
                "--gamma0: must be finite and positive, got {}",
                self.gamma0
            ));
        }
        let o = &self.ode;
        if !([o.rtol, o.atol, o.steady_tol]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
            && o.max_steps > 0)
        {
            return bad("ODE tolerances must be finite and positive".into());
        }
        let worst = self
            .widths
            .iter()
            .flat_map(|&n| self.depths.iter().map(move |&l| (n, l)))
            .map(|(n, l)| self.bytes_per_point(n, l))
            .fold(0.0, f64::max);
        let in_flight = rayon::current_num_threads().min(self.points().len()).max(1) as f64;
        let limit = 0.8 * crate::config::resolve::physical_memory_bytes();
        if worst * in_flight > limit {
            return bad(format!(
                "the largest point needs about {:.1} GiB ({:.0} points at once); this machine \
                 allows {:.1} GiB: lower --widths or --depths",
                worst / (1u64 << 30) as f64,
                in_flight,
                limit / (1u64 << 30) as f64
            ));
        }
        Ok(())
    }

    /// One line describing the plan, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} {}, {}, gamma0 {}, D = {}, O = {}, B = {}, {} seed{}, {} Adam step{} at base lr \
             {} ({}), device {}",
            self.parameterisation,
            if self.skips {
                "with skips"
            } else {
                "without skips"
            },
            self.activation,
            self.gamma0,
            self.input,
            self.output,
            self.batch,
            self.seeds,
            if self.seeds == 1 { "" } else { "s" },
            self.steps,
            if self.steps == 1 { "" } else { "s" },
            self.lr,
            match (self.parameterisation, self.skips) {
                (Parameterisation::Sp, _) => "not scaled",
                (_, false) => "scaled by 1/sqrt(N)",
                (_, true) => "scaled by 1/sqrt(N L)",
            },
            self.device.as_ref().map_or("ideal", |d| d.name.as_str())
        )
    }
}

/// What one step of one point measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub step: usize,
    /// PC against BP on the PC trajectory (the headline `cos_sim`, per layer, norm ratio).
    pub pc_traj: Alignment,
    /// PC against BP on the BP trajectory.
    pub bp_traj: Alignment,
    /// PC's gradient on the PC trajectory against BP's on the BP trajectory.
    pub cos_sim_cross: f64,
    /// Device runs: the hardware's PC gradient against BP through the hardware's own forward
    /// weights, on the PC trajectory.
    pub cos_sim_hw_bp: Option<f64>,
    /// tr(S)/O - 1 and |S|_2 - 1 on the PC trajectory (linear networks only; with a device, S
    /// of the hardware network).
    pub s_minus_1: Option<f64>,
    pub s_norm_minus_1: Option<f64>,
    /// BP loss on each trajectory.
    pub loss_pc_traj: f64,
    pub loss_bp_traj: f64,
    /// max|dE/dz| at the PC trajectory's equilibrium (how exact it is): every step for the
    /// ODE route, the first and last steps for the closed form.
    pub residual: Option<f64>,
}

/// Everything measured at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct PointResult {
    pub point: Point,
    /// The expected s - 1 at initialisation ([`theory_s_minus_1`]), linear networks only.
    pub theory: Option<f64>,
    /// Steps 0..=T.
    pub steps: Vec<StepRecord>,
}

/// A finished study.
#[derive(Clone, Debug)]
pub struct StudyResults {
    pub plan: StudyPlan,
    /// In the order of [`StudyPlan::points`].
    pub points: Vec<PointResult>,
}

/// Adam with optax's defaults (b1 = 0.9, b2 = 0.999, eps = 1e-8), in place.
struct Adam {
    lr: f64,
    t: i32,
    m: Vec<DMatrix<f64>>,
    v: Vec<DMatrix<f64>>,
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    fn new(lr: f64, like: &[DMatrix<f64>]) -> Self {
        let zeros: Vec<DMatrix<f64>> = like
            .iter()
            .map(|w| DMatrix::zeros(w.nrows(), w.ncols()))
            .collect();
        Adam {
            lr,
            t: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    fn step(&mut self, weights: &mut [DMatrix<f64>], grads: &[DMatrix<f64>]) {
        self.t += 1;
        let c1 = 1.0 - Self::B1.powi(self.t);
        let c2 = 1.0 - Self::B2.powi(self.t);
        let (step, inv_c2) = (self.lr / c1, 1.0 / c2);
        for (((w, g), m), v) in weights
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            // Plain equal-length slices, so that the loop vectorises (sqrt and division
            // included): this runs over every weight twice a step.
            let (w, g, m, v) = (
                w.as_mut_slice(),
                g.as_slice(),
                m.as_mut_slice(),
                v.as_mut_slice(),
            );
            let n = w.len().min(g.len()).min(m.len()).min(v.len());
            let (w, g, m, v) = (&mut w[..n], &g[..n], &mut m[..n], &mut v[..n]);
            for i in 0..n {
                m[i] = Self::B1 * m[i] + (1.0 - Self::B1) * g[i];
                v[i] = Self::B2 * v[i] + (1.0 - Self::B2) * g[i] * g[i];
                w[i] -= step * m[i] / ((v[i] * inv_c2).sqrt() + Self::EPS);
            }
        }
    }
}

/// An equilibrium: the activities, S (linear networks) and the residual when measured.
struct Equilibrium {
    z: Vec<f64>,
    rescaling: Option<DMatrix<f64>>,
    residual: Option<f64>,
}

/// PC's gradient at one set of weights, with what the equilibrium showed.
struct PcGradient {
    grads: Vec<DMatrix<f64>>,
    rescaling: Option<DMatrix<f64>>,
    residual: Option<f64>,
    /// Against BP on the hardware's own weights (device runs, when asked for).
    vs_hw_bp: Option<f64>,
}

/// Runs one point from initialisation to step T.
struct PointRun<'a> {
    plan: &'a StudyPlan,
    point: Point,
    arch: Architecture,
    seed: u64,
}

impl PointRun<'_> {
    fn net_error(&self, source: NetworkError) -> StudyError {
        StudyError::Network {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            source,
        }
    }

    fn diverged(&self, step: usize, trajectory: &'static str, what: &'static str) -> StudyError {
        StudyError::Diverged {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            step,
            trajectory,
            what,
        }
    }

    /// The exact equilibrium of `net` on `batch`, S for linear networks, and the residual
    /// max|dE/dz| (measured once more when `check`, known already from the ODE route).
    fn equilibrium(
        &self,
        net: &Network<f64>,
        batch: &Batch<f64>,
        step: usize,
        check: bool,
    ) -> Result<Equilibrium, StudyError> {
        let Point { width, depth, seed } = self.point;
        if net.activation().is_linear() {
            let eq = closed_form::equilibrium_output_space(net, batch).map_err(|source| {
                StudyError::ClosedForm {
                    width,
                    depth,
                    seed,
                    step,
                    source,
                }
            })?;
            let residual = check.then(|| net.max_activity_gradient(batch, &eq.z));
            Ok(Equilibrium {
                z: eq.z,
                rescaling: Some(eq.rescaling),
                residual,
            })
        } else {
            let o = &self.plan.ode;
            let opts = InferenceOptions::new(
                Solver::Dop853 {
                    rtol: o.rtol,
                    atol: o.atol,
                },
                Stop::steady(o.steady_tol, o.max_steps),
            );
            let inf = infer(net, batch, &opts).map_err(|source| StudyError::Inference {
                width,
                depth,
                seed,
                step,
                source,
            })?;
            Ok(Equilibrium {
                z: inf.z,
                rescaling: None,
                residual: Some(inf.max_dzdt),
            })
        }
    }

    /// PC's gradient at `weights`, on the ideal network or on the device.
    fn pc_gradient(
        &self,
        net: &Network<f64>,
        batch: &Batch<f64>,
        step: usize,
        trajectory: u64,
        check: bool,
    ) -> Result<PcGradient, StudyError> {
        let Some(dev) = &self.plan.device else {
            let eq = self.equilibrium(net, batch, step, check)?;
            return Ok(PcGradient {
                grads: net.pc_weight_gradients(batch, &eq.z),
                rescaling: eq.rescaling,
                residual: eq.residual,
                vs_hw_bp: None,
            });
        };
        let map_seed = stream_seed(
            stream_seed(stream_seed(self.seed, DEVICE_STREAM), trajectory),
            step as u64,
        );
        let mapped = map_network(
            net,
            &dev.device,
            &dev.crossbar,
            map_seed,
            &wire_model(&dev.crossbar),
        )
        .map_err(|source| StudyError::Mapping {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            step,
            source,
        })?;
        let (hw, hw_batch) =
            hardware_network(net, &mapped, batch, &dev.dac).map_err(|e| self.net_error(e))?;
        let eq = self.equilibrium(&hw, &hw_batch, step, check)?;
        let grads = hardware_pc_update(&hw, &hw_batch, &eq.z, &dev.adc);
        // BP runs the hardware's forward weights only; only the PC trajectory reports it.
        let vs_hw_bp =
            (trajectory == 0).then(|| alignment(&grads, &hw.bp_gradients(&hw_batch).1).overall);
        Ok(PcGradient {
            grads,
            rescaling: eq.rescaling,
            residual: eq.residual,
            vs_hw_bp,
        })
    }

    fn run(&self) -> Result<PointResult, StudyError> {
        let plan = self.plan;
        let Point { width, depth, .. } = self.point;
        let batch = gaussian_batch(
            plan.input,
            plan.output,
            plan.batch,
            self.point.data_seed(plan.base_seed),
        );
        let init = Network::<f64>::init(self.arch.clone(), stream_seed(self.seed, WEIGHT_STREAM))
            .map_err(|e| self.net_error(e))?;
        let lr = adam_learning_rate(plan.parameterisation, plan.skips, plan.lr, width, depth);
        let mut w_pc = init.into_weights();
        let mut w_bp = w_pc.clone();
        let mut adam_pc = Adam::new(lr, &w_pc);
        let mut adam_bp = Adam::new(lr, &w_bp);
        let mut records = Vec::new();
        for step in 0..=plan.steps {
            let net_pc = self.network(w_pc, step, "PC")?;
            let ends = step == 0 || step == plan.steps;
            let pc = self.pc_gradient(&net_pc, &batch, step, 0, ends)?;
            let (loss_pc, bp_at_pc) = net_pc.bp_gradients(&batch);
            let pc_traj = alignment(&pc.grads, &bp_at_pc);
            // At step 0 both trajectories sit at the same weights.
            let (bp_traj, loss_bp, bp_grads) = if step == 0 {
                (pc_traj.clone(), loss_pc, None)
            } else {
                let net_bp = self.network(w_bp, step, "BP")?;
                let (loss_bp, bp) = net_bp.bp_gradients(&batch);
                let pc_at_bp = self.pc_gradient(&net_bp, &batch, step, 1, false)?;
                let a = alignment(&pc_at_bp.grads, &bp);
                w_bp = net_bp.into_weights();
                (a, loss_bp, Some(bp))
            };
            let bp_grads = bp_grads.unwrap_or_else(|| bp_at_pc.clone());
            let cross = alignment(&pc.grads, &bp_grads).overall;
            if !(loss_pc.is_finite() && pc_traj.overall.is_finite()) {
                return Err(self.diverged(step, "PC", "the gradient"));
            }
            if !(loss_bp.is_finite() && bp_traj.overall.is_finite()) {
                return Err(self.diverged(step, "BP", "the gradient"));
            }
            let o = plan.output as f64;
            let lam_inv = 1.0;
            records.push(StepRecord {
                step,
                pc_traj,
                bp_traj,
                cos_sim_cross: cross,
                cos_sim_hw_bp: pc.vs_hw_bp,
                s_minus_1: pc.rescaling.as_ref().map(|s| s.trace() / o - lam_inv),
                s_norm_minus_1: pc.rescaling.as_ref().map(|s| spectral_norm(s) - lam_inv),
                loss_pc_traj: loss_pc,
                loss_bp_traj: loss_bp,
                residual: pc.residual,
            });
            w_pc = net_pc.into_weights();
            if step < plan.steps {
                adam_pc.step(&mut w_pc, &pc.grads);
                adam_bp.step(&mut w_bp, &bp_grads);
            }
        }
        Ok(PointResult {
            point: self.point,
            theory: plan.has_theory().then(|| {
                theory_s_minus_1(plan.parameterisation, plan.skips, width, depth, plan.gamma0)
            }),
            steps: records,
        })
    }

    /// The network at `weights`; a non-finite weight means the trajectory diverged.
    fn network(
        &self,
        weights: Vec<DMatrix<f64>>,
        step: usize,
        trajectory: &'static str,
    ) -> Result<Network<f64>, StudyError> {
        Network::new(self.arch.clone(), weights).map_err(|e| match e {
            NetworkError::NonFiniteWeight { .. } => self.diverged(step, trajectory, "a weight"),
            e => self.net_error(e),
        })
    }
}

/// Largest singular value of a small matrix.
fn spectral_norm(s: &DMatrix<f64>) -> f64 {
    s.clone()
        .svd(false, false)
        .singular_values
        .iter()
        .fold(0.0, |m: f64, &v| m.max(v))
}

/// Runs one point of a plan (the unit the study parallelises over).
pub fn run_point(plan: &StudyPlan, point: Point) -> Result<PointResult, StudyError> {
    PointRun {
        plan,
        point,
        arch: plan.architecture(point.width, point.depth),
        seed: point.seed_of(plan.base_seed),
    }
    .run()
}

/// Runs the study: validates the plan, then every point on the current rayon pool, largest
/// first (so that the slowest points do not start last); `on_point` is told of each finished
/// point (a progress bar). Stops at the first failure and returns it.
pub fn run(
    plan: &StudyPlan,
    on_point: &(dyn Fn(&PointResult) + Sync),
) -> Result<StudyResults, StudyError> {
    plan.validate()?;
    let points = plan.points();
    let mut order: Vec<usize> = (0..points.len()).collect();
    let cost = |p: &Point| (p.depth as f64) * (p.width as f64).powi(2);
    order.sort_by(|&a, &b| cost(&points[b]).total_cmp(&cost(&points[a])));
    let slots: Vec<Mutex<Option<Result<PointResult, StudyError>>>> =
        points.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = rayon::current_num_threads().min(points.len()).max(1);
    // A shared queue rather than rayon's halving splits: each worker takes the next largest
    // point when it is free. Which worker runs a point never changes what the point computes.
    (0..workers).into_par_iter().for_each(|_| loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= order.len() || failed.load(Ordering::Relaxed) {
            break;
        }
        let i = order[k];
        let r = run_point(plan, points[i]);
        match &r {
            Ok(p) => on_point(p),
            Err(_) => failed.store(true, Ordering::Relaxed),
        }
        if let Ok(mut slot) = slots[i].lock() {
            *slot = Some(r);
        }
    });
    let mut out = Vec::with_capacity(points.len());
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(StudyResults {
        plan: plan.clone(),
        points: out,
    })
}

pub use crate::numeric::stats::MeanStd;

/// One row of `summary.csv`: one (N, L, step) over the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub width: usize,
    pub depth: usize,
    pub step: usize,
    pub seeds: usize,
    pub cos_sim: MeanStd,
    pub norm_ratio: MeanStd,
    pub cos_sim_bp_traj: MeanStd,
    pub cos_sim_cross: MeanStd,
    pub cos_sim_hw_bp: Option<MeanStd>,
    pub s_minus_1: Option<MeanStd>,
    pub s_norm_minus_1: Option<MeanStd>,
    pub theory: Option<f64>,
    pub loss_pc_traj: MeanStd,
    pub loss_bp_traj: MeanStd,
}

/// A heatmap of mean and std over seeds: rows are depths, columns widths (Figure 1's layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// The CSV column it shows.
    pub quantity: &'static str,
    pub step: usize,
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
    /// `mean[i][j]` for depth i, width j.
    pub mean: Vec<Vec<f64>>,
    pub std: Vec<Vec<Option<f64>>>,
}

/// A curve with an error band, for line plots.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    /// Empty for exact curves (the theory).
    pub std: Vec<Option<f64>>,
}

/// The data of the study's figures, ready for a plotting back end.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// cos sim (PC vs BP) at initialisation: Figure 1's heatmap.
    pub cos_sim_t0: Heatmap,
    /// The same after the last step, when the study trained.
    pub cos_sim_final: Option<Heatmap>,
    /// Device runs: the hardware's PC gradient against BP through the hardware's own weights,
    /// at initialisation.
    pub cos_sim_hw_bp_t0: Option<Heatmap>,
    /// s - 1 measured at initialisation (linear networks).
    pub s_minus_1_t0: Option<Heatmap>,
    /// cos sim at initialisation against N / L, one series per depth.
    pub cos_sim_vs_ratio: Vec<Series>,
    /// s - 1 at initialisation against N / L, measured (one series per depth, labelled
    /// `L = 4`) and the theory (one exact series per depth, `L = 4, theory`); log-log axes suit
    /// them.
    pub s_minus_1_vs_ratio: Vec<Series>,
    pub theory_vs_ratio: Vec<Series>,
    /// cos sim on the PC trajectory against the step, one series per (N, L).
    pub training: Vec<Series>,
}

impl StudyResults {
    /// Mean and std over seeds for every (N, L, step), width-major.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let plan = &self.plan;
        let mut rows = Vec::new();
        for &width in &plan.widths {
            for &depth in &plan.depths {
                let pts: Vec<&PointResult> = self
                    .points
                    .iter()
                    .filter(|p| p.point.width == width && p.point.depth == depth)
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                for step in 0..=plan.steps {
                    let recs: Vec<&StepRecord> = pts.iter().map(|p| &p.steps[step]).collect();
                    let col = |f: &dyn Fn(&StepRecord) -> f64| {
                        MeanStd::of(&recs.iter().map(|r| f(r)).collect::<Vec<_>>())
                    };
                    let opt = |f: &dyn Fn(&StepRecord) -> Option<f64>| {
                        recs.iter()
                            .map(|r| f(r))
                            .collect::<Option<Vec<f64>>>()
                            .map(|v| MeanStd::of(&v))
                    };
                    rows.push(SummaryRow {
                        width,
                        depth,
                        step,
                        seeds: recs.len(),
                        cos_sim: col(&|r| r.pc_traj.overall),
                        norm_ratio: col(&|r| r.pc_traj.norm_ratio),
                        cos_sim_bp_traj: col(&|r| r.bp_traj.overall),
                        cos_sim_cross: col(&|r| r.cos_sim_cross),
                        cos_sim_hw_bp: opt(&|r| r.cos_sim_hw_bp),
                        s_minus_1: opt(&|r| r.s_minus_1),
                        s_norm_minus_1: opt(&|r| r.s_norm_minus_1),
                        theory: if step == 0 { pts[0].theory } else { None },
                        loss_pc_traj: col(&|r| r.loss_pc_traj),
                        loss_bp_traj: col(&|r| r.loss_bp_traj),
                    });
                }
            }
        }
        rows
    }

    /// `study.csv`: one row per (param, skips, width, depth, seed, step).
    pub fn study_csv(&self) -> String {
        let plan = &self.plan;
        let max_depth = plan.depths.iter().copied().max().unwrap_or(0);
        let mut header = csv_header(&[
            "seed",
            "step",
            "cos_sim",
            "norm_ratio",
            "s_minus_1",
            "s_norm_minus_1",
            "theory",
            "cos_sim_bp_traj",
            "norm_ratio_bp_traj",
            "cos_sim_cross",
            "cos_sim_hw_bp",
            "loss_pc_traj",
            "loss_bp_traj",
            "equilibrium_residual",
        ]);
        header.extend((1..=max_depth).map(|l| format!("cos_layer_{l}")));
        let mut table = CsvTable::new(&header);
        for p in &self.points {
            for r in &p.steps {
                let mut row = self.plan_fields();
                row.extend([
                    p.point.width.to_string(),
                    p.point.depth.to_string(),
                    p.point.seed.to_string(),
                    r.step.to_string(),
                    num(r.pc_traj.overall),
                    num(r.pc_traj.norm_ratio),
                    opt_num(r.s_minus_1),
                    opt_num(r.s_norm_minus_1),
                    opt_num(if r.step == 0 { p.theory } else { None }),
                    num(r.bp_traj.overall),
                    num(r.bp_traj.norm_ratio),
                    num(r.cos_sim_cross),
                    opt_num(r.cos_sim_hw_bp),
                    num(r.loss_pc_traj),
                    num(r.loss_bp_traj),
                    opt_num(r.residual),
                ]);
                row.extend((0..max_depth).map(|l| opt_num(r.pc_traj.per_layer.get(l).copied())));
                table.row(&row);
            }
        }
        table.finish()
    }

    /// The fields every CSV row starts with: what the study ran ([`POINT_COLUMNS`] but the
    /// point's width and depth).
    fn plan_fields(&self) -> Vec<String> {
        let plan = &self.plan;
        let device = plan.device.as_ref().map_or("ideal", |d| d.name.as_str());
        vec![
            plan.parameterisation.to_string(),
            plan.skips.to_string(),
            plan.activation.to_string(),
            device.to_string(),
        ]
    }

    /// `summary.csv`: mean and std over seeds per (width, depth, step).
    pub fn summary_csv(&self) -> String {
        let mut header = csv_header(&["step", "seeds"]);
        let quantities = [
            "cos_sim",
            "norm_ratio",
            "s_minus_1",
            "s_norm_minus_1",
            "theory",
            "cos_sim_bp_traj",
            "cos_sim_cross",
            "cos_sim_hw_bp",
            "loss_pc_traj",
            "loss_bp_traj",
        ];
        for q in quantities {
            if q == "theory" {
                header.push(q.to_string());
            } else {
                header.extend([format!("{q}_mean"), format!("{q}_std")]);
            }
        }
        let mut table = CsvTable::new(&header);
        let ms = |m: &MeanStd| [num(m.mean), opt_num(m.std)];
        let oms = |m: &Option<MeanStd>| m.as_ref().map_or([String::new(), String::new()], ms);
        for r in self.summary() {
            let mut row = self.plan_fields();
            row.extend([r.width, r.depth, r.step, r.seeds].map(|v| v.to_string()));
            row.extend(ms(&r.cos_sim));
            row.extend(ms(&r.norm_ratio));
            row.extend(oms(&r.s_minus_1));
            row.extend(oms(&r.s_norm_minus_1));
            row.push(opt_num(r.theory));
            row.extend(ms(&r.cos_sim_bp_traj));
            row.extend(ms(&r.cos_sim_cross));
            row.extend(oms(&r.cos_sim_hw_bp));
            row.extend(ms(&r.loss_pc_traj));
            row.extend(ms(&r.loss_bp_traj));
            table.row(&row);
        }
        table.finish()
    }

    /// A heatmap of one summary quantity at one step.
    pub fn heatmap(
        &self,
        title: &str,
        quantity: &'static str,
        step: usize,
        pick: impl Fn(&SummaryRow) -> Option<MeanStd>,
    ) -> Option<Heatmap> {
        let rows = self.summary();
        let plan = &self.plan;
        let mut mean = vec![vec![f64::NAN; plan.widths.len()]; plan.depths.len()];
        let mut std = vec![vec![None; plan.widths.len()]; plan.depths.len()];
        for r in rows.iter().filter(|r| r.step == step) {
            let i = plan.depths.iter().position(|&d| d == r.depth)?;
            let j = plan.widths.iter().position(|&w| w == r.width)?;
            let m = pick(r)?;
            mean[i][j] = m.mean;
            std[i][j] = m.std;
        }
        Some(Heatmap {
            title: title.to_string(),
            quantity,
            step,
            depths: plan.depths.clone(),
            widths: plan.widths.clone(),
            mean,
            std,
        })
    }

    /// The data of every figure of the study.
    pub fn figures(&self) -> Figures {
        let plan = &self.plan;
        let what = format!(
            "{}{}, {}{}",
            plan.parameterisation,
            if plan.skips { " + skips" } else { "" },
            plan.activation,
            plan.device
                .as_ref()
                .map_or(String::new(), |d| format!(", on {}", d.name))
        );
        let cos_t0 = |step: usize, when: &str| {
            self.heatmap(
                &format!("cos sim PC vs BP {when} ({what})"),
                "cos_sim",
                step,
                |r| Some(r.cos_sim),
            )
        };
        let empty = Heatmap {
            title: String::new(),
            quantity: "cos_sim",
            step: 0,
            depths: Vec::new(),
            widths: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
        };
        let rows = self.summary();
        let along_ratio = |pick: &dyn Fn(&SummaryRow) -> Option<MeanStd>, suffix: &str| {
            plan.depths
                .iter()
                .filter_map(|&depth| {
                    let pts: Vec<(f64, MeanStd)> = plan
                        .widths
                        .iter()
                        .filter_map(|&width| {
                            rows.iter()
                                .find(|r| r.step == 0 && r.width == width && r.depth == depth)
                                .and_then(pick)
                                .map(|m| (width as f64 / depth as f64, m))
                        })
                        .collect();
                    (!pts.is_empty()).then(|| Series {
                        label: format!("L = {depth}{suffix}"),
                        x: pts.iter().map(|p| p.0).collect(),
                        mean: pts.iter().map(|p| p.1.mean).collect(),
                        std: pts.iter().map(|p| p.1.std).collect(),
                    })
                })
                .collect::<Vec<_>>()
        };
        let theory_vs_ratio = if plan.has_theory() {
            along_ratio(
                &|r| r.theory.map(|t| MeanStd { mean: t, std: None }),
                ", theory",
            )
            .into_iter()
            .map(|mut s| {
                s.std.clear();
                s
            })
            .collect()
        } else {
            Vec::new()
        };
        let training = if plan.steps == 0 {
            Vec::new()
        } else {
            let mut out = Vec::new();
            for &width in &plan.widths {
                for &depth in &plan.depths {
                    let pts: Vec<&SummaryRow> = rows
                        .iter()
                        .filter(|r| r.width == width && r.depth == depth)
                        .collect();
                    out.push(Series {
                        label: format!("N = {width}, L = {depth}"),
                        x: pts.iter().map(|r| r.step as f64).collect(),
                        mean: pts.iter().map(|r| r.cos_sim.mean).collect(),
                        std: pts.iter().map(|r| r.cos_sim.std).collect(),
                    });
                }
            }
            out
        };
        Figures {
            cos_sim_t0: cos_t0(0, "at initialisation").unwrap_or(empty),
            cos_sim_final: (plan.steps > 0)
                .then(|| cos_t0(plan.steps, &format!("after {} steps", plan.steps)))
                .flatten(),
            cos_sim_hw_bp_t0: self.heatmap(
                &format!("cos sim hardware PC vs BP on the hardware's own weights ({what})"),
                "cos_sim_hw_bp",
                0,
                |r| r.cos_sim_hw_bp,
            ),
            s_minus_1_t0: self.heatmap(
                &format!("s - 1 = tr(S)/O - 1 at initialisation ({what})"),
                "s_minus_1",
                0,
                |r| r.s_minus_1,
            ),
            cos_sim_vs_ratio: along_ratio(&|r| Some(r.cos_sim), ""),
            s_minus_1_vs_ratio: along_ratio(&|r| r.s_minus_1, ""),
            theory_vs_ratio,
            training,
        }
    }

    /// The terminal report: the plan, the cos-sim heatmaps, and the theory comparison.
    pub fn report(&self) -> String {
        let plan = &self.plan;
        let f = self.figures();
        let mut s = format!("width x depth study: {}\n\n", plan.describe());
        s.push_str(&f.cos_sim_t0.render_text());
        for h in [&f.cos_sim_final, &f.cos_sim_hw_bp_t0]
            .into_iter()
            .flatten()
        {
            s.push('\n');
            s.push_str(&h.render_text());
        }
        if plan.has_theory() {
            if let Some(h) = &f.s_minus_1_t0 {
                s.push('\n');
                s.push_str(&self.theory_table(h));
            }
        }
        let worst = self
            .points
            .iter()
            .flat_map(|p| p.steps.iter().filter_map(|r| r.residual))
            .fold(0.0, f64::max);
        let _ = writeln!(s, "\nlargest equilibrium residual max|dE/dz|: {worst:.2e}");
        s
    }

    /// s - 1 measured (mean over seeds) beside the theory, with the measured norm ratio beside
    /// 1/s of the theory.
    fn theory_table(&self, h: &Heatmap) -> String {
        let plan = &self.plan;
        let rows = self.summary();
        let mut s = String::from(
            "s - 1 at initialisation: measured tr(S)/O - 1 (mean over seeds) / theory; \
             norm ratio |g_PC|/|g_BP| measured / 1/(1 + theory)\n",
        );
        let _ = write!(s, "{:>6}", "L \\ N");
        for w in &h.widths {
            let _ = write!(s, " {:>38}", w);
        }
        s.push('\n');
        for &depth in &plan.depths {
            let _ = write!(s, "{depth:>6}");
            for &width in &plan.widths {
                let cell = rows
                    .iter()
                    .find(|r| r.step == 0 && r.width == width && r.depth == depth)
                    .and_then(|r| {
                        let t = r.theory?;
                        let m = r.s_minus_1?;
                        Some(format!(
                            "{:.4e}/{:.4e}  {:.4}/{:.4}",
                            m.mean,
                            t,
                            r.norm_ratio.mean,
                            1.0 / (1.0 + t)
                        ))
                    })
                    .unwrap_or_default();
                let _ = write!(s, " {cell:>38}");
            }
            s.push('\n');
        }
        s
    }
}

impl Heatmap {
    /// The heatmap as a text table: depths as rows, widths as columns, "mean ± std".
    pub fn render_text(&self) -> String {
        let mut s = format!("{}: {}, mean ± std over seeds\n", self.title, self.quantity);
        let _ = write!(s, "{:>6}", "L \\ N");
        for w in &self.widths {
            let _ = write!(s, " {w:>17}");
        }
        s.push('\n');
        for (i, d) in self.depths.iter().enumerate() {
            let _ = write!(s, "{d:>6}");
            for j in 0..self.widths.len() {
                let cell = match self.std[i][j] {
                    Some(sd) => format!("{:.4} ± {:.4}", self.mean[i][j], sd),
                    None => format!("{:.4}", self.mean[i][j]),
                };
                let _ = write!(s, " {cell:>17}");
            }
            s.push('\n');
        }
        s
    }
}

/// The first columns of both CSV files: what the study ran, and the point's width and depth.
const POINT_COLUMNS: [&str; 6] = ["param", "skips", "activation", "device", "width", "depth"];

/// A CSV header: [`POINT_COLUMNS`], then `columns`.
fn csv_header(columns: &[&str]) -> Vec<String> {
    POINT_COLUMNS
        .iter()
        .chain(columns)
        .map(|c| c.to_string())
        .collect()
}

/// A number as CSV text: the shortest decimal that reads back to the same f64.
fn num(v: f64) -> String {
    format!("{v}")
}

fn opt_num(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theory_matches_the_paper_for_mupc_without_skips() {
        for (n, l) in [(16, 2), (64, 4), (256, 8), (1024, 16)] {
            for gamma0 in [0.5, 1.0, 2.0] {
                let t = theory_s_minus_1(Parameterisation::Mupc, false, n, l, gamma0);
                let paper = (l as f64 - 1.0) / (gamma0 * gamma0 * n as f64);
                assert!(
                    (t - paper).abs() <= 1e-15 * paper,
                    "{n} {l}: {t} vs {paper}"
                );
            }
        }
        // With skips: (L / (gamma0^2 N)) ((1 + 1/L)^(L-1) - 1).
        let (n, l) = (128usize, 8usize);
        let t = theory_s_minus_1(Parameterisation::Mupc, true, n, l, 1.0);
        let lf = l as f64;
        let expect = lf / n as f64 * ((1.0 + 1.0 / lf).powi(l as i32 - 1) - 1.0);
        assert!((t - expect).abs() < 1e-14, "{t} vs {expect}");
        // NTP does not vanish with width.
        let ntp = theory_s_minus_1(Parameterisation::Ntp, false, 4096, 5, 1.0);
        assert!((ntp - 4.0).abs() < 1e-12);
    }

    #[test]
    fn adam_rates_follow_jpc() {
        let m = Parameterisation::Mupc;
        assert_eq!(
            adam_learning_rate(Parameterisation::Sp, true, 1e-3, 64, 4),
            1e-3
        );
        assert!((adam_learning_rate(m, false, 1e-3, 64, 4) - 1e-3 / 8.0).abs() < 1e-18);
        assert!((adam_learning_rate(m, true, 1e-3, 64, 4) - 1e-3 / 16.0).abs() < 1e-18);
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_the_rate() {
        // Bias correction makes the first update -lr sign(g) (up to eps).
        let mut w = vec![DMatrix::from_row_slice(1, 3, &[0.0, 1.0, -1.0])];
        let g = vec![DMatrix::from_row_slice(1, 3, &[2.0, -0.5, 1e-3])];
        let mut adam = Adam::new(0.1, &w);
        adam.step(&mut w, &g);
        let expect = [-0.1, 1.1, -1.1];
        for (a, b) in w[0].iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_plans_name_the_offending_value() {
        type Change = fn(&mut StudyPlan);
        let cases: [(Change, &str); 6] = [
            (|p| p.widths = vec![], "--widths"),
            (|p| p.widths = vec![16, 0], "got 0"),
            (|p| p.depths = vec![1], "got 1"),
            (|p| p.depths = vec![4, 4], "4 is given twice"),
            (|p| p.lr = f64::NAN, "--lr"),
            (|p| p.widths = vec![1 << 22], "GiB"),
        ];
        for (change, expect) in cases {
            let mut p = StudyPlan::default();
            change(&mut p);
            let e = p.validate().unwrap_err().to_string();
            assert!(e.contains(expect), "{e} lacks {expect}");
        }
    }

    /// Fields of `csv` as a CSV reader reads them back.
    fn read_csv(csv: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(csv.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn a_device_name_reads_back_whole_from_both_csv_files() {
        let plan = StudyPlan {
            widths: vec![4],
            depths: vec![2],
            seeds: 1,
            steps: 1,
            batch: 4,
            input: 5,
            output: 2,
            device: Some(DeviceSetup::load("rram_hfo2").unwrap()),
            ..StudyPlan::default()
        };
        let mut r = run(&plan, &|_| {}).unwrap();
        // A lone carriage return ends a CSV line as a line feed does: it must be quoted too.
        for name in ["my \"rram\", v2\nfinal", "rram\rcopy"] {
            r.plan.device.as_mut().unwrap().name = name.to_string();
            for csv in [r.study_csv(), r.summary_csv()] {
                let rows = read_csv(&csv);
                assert_eq!(rows.len(), 1 + 2, "{csv:?}");
                assert_eq!(rows[0][3], "device");
                for row in &rows[1..] {
                    assert_eq!(row.len(), rows[0].len(), "{csv:?}");
                    assert_eq!(row[3], name);
                }
            }
        }
    }

    #[test]
    fn csv_rows_pad_per_layer_cells_for_shallow_nets() {
        let plan = StudyPlan {
            widths: vec![8],
            depths: vec![2, 3],
            seeds: 2,
            steps: 1,
            batch: 4,
            input: 5,
            output: 2,
            ..StudyPlan::default()
        };
        let r = run(&plan, &|_| {}).unwrap();
        let csv = r.study_csv();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.last(), Some(&"cos_layer_3"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 2 * 2 * 2);
        for row in &rows {
            assert_eq!(row.len(), header.len());
            let depth: usize = row[5].parse().unwrap();
            assert_eq!(row[header.len() - 1].is_empty(), depth == 2);
            // The theory sits on step 0 rows only.
            assert_eq!(row[12].is_empty(), row[7] != "0");
        }
        let summary = r.summary_csv();
        let n_cols = summary.lines().next().unwrap().split(',').count();
        assert!(summary.lines().all(|l| l.split(',').count() == n_cols));
        assert_eq!(summary.lines().count(), 1 + 2 * 2);
    }
}
