//! The analog PC circuit in physical time (docs/circuit-model.md): its right-hand side with
//! error nodes, offsets, rails, finite gain and noise ([`circuit`]), the energy model
//! ([`energy`]) and the runner that integrates it, detects settling and accounts for energy
//! ([`sim`]).

pub mod amplifier;
pub mod circuit;
mod circuit_lags;
pub mod energy;
pub mod exponential;
pub mod feedforward;
pub mod flicker;
mod flow;
mod lag_step;
pub mod poles;
pub mod readout;
pub mod sim;

pub use circuit::{AnalogCircuit, IdealPeriphery, PackedProducts};
pub use energy::{Component, EnergyModel};
pub use exponential::Tolerance;
pub use readout::{ReadoutBands, ReadoutSettling};
pub use sim::{
    check_step, integrate, simulate, simulate_recorded, Scheme, SimError, SimFailure, SimOptions,
    Simulation, Traces,
};
