//! The mapped hardware: device models, conductance mapping onto crossbar tiles, non-idealities,
//! IR drop and periphery (docs/design.md §2, docs/circuit-model.md).

pub mod area;
pub mod device;
pub mod digital;
pub mod drift_compensation;
pub mod irdrop;
pub mod latency;
pub mod mapping;
pub mod params;
pub mod periphery;
pub mod technology;
pub mod update;
