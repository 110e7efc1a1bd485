//! Studies built on the network and its solvers.

pub mod device;
pub mod reference;
pub mod sweep;
pub mod train;
pub mod width_depth;
