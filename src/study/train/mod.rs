//! Training a PC network, and its BP twin, by gradient descent: the step they share
//! ([`step`]) and the full-batch trajectories of a reference file's `training` group
//! ([`descent`]).

pub mod descent;
pub mod step;

pub use descent::{full_batch_descent, Trajectories};
pub use step::{descend, pc_gradient, PcGradient, StepError};
