//! Time stepping and the ideal inference: the right-hand sides, the integrators that step them
//! (for the ideal network here and for the analog circuit in [`crate::analog::sim`]), and the
//! runner of the ideal inference that owns its loop (stopping rules, statistics, parallel batch
//! chunks).
//!
//! The split follows argmin's problem / solver / executor: a [`System`] only evaluates dz/dt; an
//! integrator ([`Euler`], [`Heun`], [`Rk4`], or a [`Stepper`] of a scheme chosen at run time)
//! takes one step in place on preallocated buffers; [`infer`] loops, checks the steady state
//! and counts right-hand-side evaluations. Every time-stepped run cuts its batch into chunks of
//! [`chunk_samples`] samples.

mod adaptive;
mod inference;
mod integrators;
mod jacobian;
mod newton;
mod runner;
mod system;

pub use inference::{
    chunk_ranges, chunk_samples, Fallback, Inference, InferenceError, InferenceOptions,
    NewtonStats, Solver, Stop, NEWTON_CHUNK, NEWTON_MAX_ITERATIONS,
};
pub use integrators::{Euler, Heun, Integrator, Rk4, Scheme, Stepper};
pub use runner::infer;
pub use system::{GradientFlow, Stage, System};
