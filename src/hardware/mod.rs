//! The mapped hardware: device models, conductance mapping onto crossbar tiles, non-idealities,
//! IR drop and periphery (DESIGN §2).

pub mod device;
pub mod irdrop;
pub mod mapping;
pub mod params;
pub mod periphery;
