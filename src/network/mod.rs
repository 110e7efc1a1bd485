//! The predictive-coding network: activations, parameterisations, energy and gradients, the BP
//! reference and the closed forms of linear networks (docs/design.md §1).

pub mod activation;
pub mod closed_form;
pub mod model;
pub mod param;

pub use activation::Activation;
pub use model::{
    alignment, Alignment, Architecture, Batch, Layout, Network, NetworkError, Workspace,
};
pub use param::Parameterisation;
