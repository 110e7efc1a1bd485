//! What one inference is asked (the solver, the stopping rule, the options) and what it
//! returns (the final state and its statistics, or why it failed): the types the runner and the
//! adaptive solvers share.

use crate::network::closed_form::ClosedFormError;
use crate::network::Layout;
pub use crate::numeric::chunks::{chunk_ranges, chunk_samples};
use crate::numeric::Real;

/// Newton iterations before a chunk falls back to Dop853 ([`Solver::Newton`]): from the
/// feedforward pass the benchmark network converges in 7, depth 32 and width 1024 in 8.
pub const NEWTON_MAX_ITERATIONS: usize = 50;

/// Samples per chunk of a Newton solve (each chunk one system, solved in parallel): the chunk
/// of the equilibrium benchmark's figures (`benches/runs/2026-12-05-equilibrium.md`).
pub const NEWTON_CHUNK: usize = 16;

/// Which solver runs inference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    /// Forward Euler with step `dt` (in units of the value-node time constant).
    Euler { dt: f64 },
    /// Classical Runge–Kutta with step `dt`.
    Rk4 { dt: f64 },
    /// ode_solvers' adaptive Dormand–Prince 5(4).
    Dopri5 { rtol: f64, atol: f64 },
    /// ode_solvers' adaptive Dormand–Prince 8(5,3).
    Dop853 { rtol: f64, atol: f64 },
    /// The exact equilibrium of a linear network.
    ClosedForm,
    /// Newton on grad_z F = 0, each linear step by a Krylov method on Jacobian-vector
    /// products, with a line search; at most `max_iterations` Newton iterations, after which
    /// (or when the line search fails) the samples concerned go on with Dop853 at `rtol` and
    /// `atol` (src/dynamics/newton.rs; docs/design.md §8).
    Newton {
        max_iterations: usize,
        rtol: f64,
        atol: f64,
    },
}

impl Solver {
    pub fn name(&self) -> &'static str {
        match self {
            Solver::Euler { .. } => "euler",
            Solver::Rk4 { .. } => "rk4",
            Solver::Dopri5 { .. } => "dopri5",
            Solver::Dop853 { .. } => "dop853",
            Solver::ClosedForm => "closed-form",
            Solver::Newton { .. } => "newton",
        }
    }

    /// Newton-Krylov with its default budget, falling back to Dop853 at the tolerances the
    /// reference runs use.
    pub fn newton() -> Self {
        Solver::Newton {
            max_iterations: NEWTON_MAX_ITERATIONS,
            rtol: 1e-13,
            atol: 1e-15,
        }
    }
}

/// When a solver stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop {
    /// Take exactly this many steps (fixed-step solvers), unless `tol` is met first.
    pub steps: Option<usize>,
    /// Stop once max|dz/dt| < tol over every free node of every sample.
    pub tol: Option<f64>,
    /// Give up (not converged) after this many steps.
    pub max_steps: usize,
}

impl Stop {
    /// Exactly `n` steps.
    pub fn steps(n: usize) -> Self {
        Stop {
            steps: Some(n),
            tol: None,
            max_steps: n,
        }
    }

    /// Until max|dz/dt| < tol, at most `max_steps` steps.
    pub fn steady(tol: f64, max_steps: usize) -> Self {
        Stop {
            steps: None,
            tol: Some(tol),
            max_steps,
        }
    }
}

/// Everything that configures one inference.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceOptions {
    pub solver: Solver,
    pub stop: Stop,
    /// Record the batch energy F every this many steps (fixed-step solvers), from step 0.
    pub record_every: Option<usize>,
    /// Samples per parallel chunk; unset, [`chunk_samples`] of the batch for fixed-step
    /// solvers and [`NEWTON_CHUNK`] for Newton. With a fixed number of steps, results do not
    /// depend on it (every sample's arithmetic is the same in any chunk); a steady-state stop
    /// ends each chunk on its own samples' max|dz/dt|, and Newton solves each chunk as one
    /// system.
    pub chunk: Option<usize>,
}

impl InferenceOptions {
    pub fn new(solver: Solver, stop: Stop) -> Self {
        InferenceOptions {
            solver,
            stop,
            record_every: None,
            chunk: None,
        }
    }
}

/// The outcome of one inference.
#[derive(Clone, Debug)]
pub struct Inference<T> {
    /// Final free activities (flat layout).
    pub z: Vec<T>,
    /// Steps taken (the largest over chunks; accepted steps for adaptive solvers).
    pub steps: usize,
    /// Right-hand-side evaluations, summed over chunks.
    pub rhs_evals: usize,
    /// max|dz/dt| at the final state.
    pub max_dzdt: f64,
    /// Whether the tolerance was met (always true for a fixed number of steps).
    pub converged: bool,
    /// Simulated time at the end (the largest over chunks).
    pub time: f64,
    /// F at steps 0, k, 2k, ... when recording was asked for; a chunk that stopped early
    /// contributes its final energy to the later entries.
    pub energy_trace: Vec<f64>,
    /// What Newton-Krylov did ([`Solver::Newton`] only).
    pub newton: Option<NewtonStats>,
}

/// The statistics of a Newton-Krylov equilibrium. `steps` of its [`Inference`] is the Newton
/// iterations and `rhs_evals` the gradient evaluations plus the Jacobian-vector products (each
/// costs about one), both including the fallback's.
#[derive(Clone, Debug, PartialEq)]
pub struct NewtonStats {
    /// Newton iterations (the largest over chunks).
    pub iterations: usize,
    /// Krylov iterations, summed over chunks.
    pub krylov_iterations: usize,
    /// Gradient evaluations (line-search trials included), summed over chunks.
    pub gradient_evals: usize,
    /// Jacobian-vector products, summed over chunks.
    pub jacobian_products: usize,
    /// The Krylov method: "cg" (symmetric Jacobian), "bicgstab" (backward reads of their own).
    pub krylov: &'static str,
    /// Set when some samples did not converge by Newton and were handed to Dop853.
    pub fallback: Option<Fallback>,
}

/// Samples Newton left to the ODE solver, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Fallback {
    /// How many samples (whole chunks of [`InferenceOptions::chunk`]) Dop853 finished.
    pub samples: usize,
    /// Why Newton stopped on the first of them.
    pub reason: String,
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "newton fell back to dop853 on {} samples: {}",
            self.samples, self.reason
        )
    }
}

/// Why inference failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    #[error("activities diverged: node {node} of layer {layer}, sample {sample}, is {value} at t = {time}")]
    NonFinite {
        layer: usize,
        node: usize,
        sample: usize,
        value: f64,
        time: f64,
    },
    #[error(transparent)]
    ClosedForm(#[from] ClosedFormError),
    #[error("invalid solver option: {0}")]
    Options(String),
}

/// Copies the columns `s0..` of every layer of `full` into a chunk-local buffer.
pub(super) fn gather<T: Real>(full: &Layout, chunk: &Layout, z: &[T], s0: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(chunk.len());
    for l in 1..=full.n_free() {
        let n = full.width(l);
        let r = full.range(l);
        out.extend_from_slice(&z[r.start + s0 * n..r.start + (s0 + chunk.batch()) * n]);
    }
    out
}

/// The inverse of [`gather`].
pub(super) fn scatter<T: Real>(full: &Layout, chunk: &Layout, part: &[T], z: &mut [T], s0: usize) {
    for l in 1..=full.n_free() {
        let n = full.width(l);
        let r = full.range(l);
        let rc = chunk.range(l);
        z[r.start + s0 * n..r.start + (s0 + chunk.batch()) * n].copy_from_slice(&part[rc]);
    }
}
