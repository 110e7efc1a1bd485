//! Training a PC network, and its BP twin, by gradient descent: the step they share
//! ([`step`]), the learners that take it ([`learner`]), the data and its mini-batches
//! ([`data`]), the loop of `apcsim train` ([`session`]) and the full-batch trajectories of a
//! reference file's `training` group ([`descent`]).

pub mod cost;
pub mod cost_report;
pub mod data;
pub mod descent;
pub mod hardware;
pub mod html;
pub mod learner;
pub mod plan;
pub mod session;
pub mod step;

pub use descent::{full_batch_descent, Trajectories};
pub use learner::{evaluate, BpFloat, Learner, PcIdeal, StepReport};
pub use session::{train, EpochRecord, Schedule, TrainRecord};
pub use step::{descend, pc_gradient, PcGradient, StepError};
