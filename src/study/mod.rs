//! Studies built on the network and its solvers.

pub mod reference;
