//! Inference dynamics: the right-hand sides, the integrators that step them, and the runner that
//! owns the loop (stopping rules, statistics, parallel batch chunks).
//!
//! The split follows argmin's problem / solver / executor: a [`System`] only evaluates dz/dt; an
//! integrator ([`Euler`], [`Rk4`]) takes one step in place on preallocated buffers; [`infer`]
//! loops, checks the steady state and counts right-hand-side evaluations.

mod adaptive;
mod integrators;
mod runner;
mod system;

pub use integrators::{Euler, Integrator, Rk4};
pub use runner::{infer, Inference, InferenceError, InferenceOptions, Solver, Stop, DEFAULT_CHUNK};
pub use system::{GradientFlow, System};
