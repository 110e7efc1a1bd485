//! Training a PC network, and its BP twin, by gradient descent: the step they share
//! ([`step`]), the learners that take it ([`learner`]), the data and its mini-batches
//! ([`data`]), the loop of `apcsim train` ([`session`]) and the full-batch trajectories of a
//! reference file's `training` group ([`descent`]); many runs side by side ([`table`]).

pub mod aging;
pub mod checkpoint;
pub mod cost;
pub mod cost_report;
pub mod data;
pub mod descent;
pub mod hardware;
pub mod html;
pub mod learner;
pub mod outcome;
pub mod plan;
pub mod rate;
pub mod session;
pub mod state;
pub mod step;
pub mod table;

pub use descent::{full_batch_descent, Trajectories};
pub use learner::{evaluate, BpFloat, Learner, PcIdeal, StepReport};
pub use session::{train, train_from, EpochRecord, Schedule, Stopped, TrainRecord};
pub use step::{descend, pc_gradient, PcGradient, StepError};
