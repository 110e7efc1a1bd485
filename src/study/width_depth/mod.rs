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
//! [`closed_form::equilibrium_output_space`] for linear networks, Newton-Krylov (Dop853 where
//! Newton fails; docs/design.md §8) to max|dz/dt| below
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
//! curves), which [`report`] draws as SVG files and `report.html`.
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

use crate::config::{self, ConfigError, LoadOptions};
use crate::design::hardware::{hardware_network, hardware_pc_update};
use crate::dynamics::{infer, InferenceError, InferenceOptions, Solver, Stop};
use crate::hardware::drift_compensation::map_compensated;
use crate::hardware::mapping::{wire_model, MappingError};
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

mod adam;
mod device;
mod point;
pub mod report;
mod results;
#[cfg(test)]
mod tests;

pub use adam::adam_learning_rate;
use adam::*;
pub use device::DeviceSetup;
pub use point::{run, run_point, PointResult, StepRecord};
pub use results::{Figures, Heatmap, MeanStd, Series, StudyResults, SummaryRow};

/// Tolerances of the equilibrium of nonlinear networks (rtol and atol are those of the Dop853
/// fallback of Newton-Krylov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OdeTolerances {
    pub rtol: f64,
    pub atol: f64,
    /// Stop once max|dz/dt| is below this.
    pub steady_tol: f64,
    pub max_steps: usize,
    /// Newton iterations before a chunk falls back to Dop853.
    pub newton_iterations: usize,
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
            newton_iterations: crate::dynamics::NEWTON_MAX_ITERATIONS,
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
            self.device
                .as_ref()
                .map_or_else(|| "ideal".to_string(), DeviceSetup::label)
        )
    }
}
