//! Where config, data and hardware meet: a resolved design built into what runs (the network,
//! the batch, the mapping onto tiles: [`build()`]), and the gradient check of a mapped network
//! ([`hardware`]).

pub mod build;
pub mod hardware;

pub use build::{build, mapping_report, BuildError, Built};
