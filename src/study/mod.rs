//! Studies built on the network and its solvers.

pub mod hardware;
pub mod reference;
