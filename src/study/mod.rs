//! Studies built on the network and its solvers.

pub mod build;
pub mod hardware;
pub mod reference;
pub mod run;
pub mod sweep;
pub mod width_depth;
pub mod width_depth_report;
