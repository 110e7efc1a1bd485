//! apcsim simulates analog (continuous-time) predictive coding on resistive crossbar hardware.
//!
//! Data flows one way: file -> config -> mapped hardware -> dynamics -> measurements -> outputs.
//! This crate currently holds the circuit description loader ([`config`]), the ideal network
//! ([`network`]), its inference solvers ([`dynamics`]), the HDF5 reference format ([`io`]), the
//! reference study ([`study`]), and charts with the self-contained HTML report that shows them
//! ([`plot`]).

pub mod analog;
pub mod config;
pub mod design;
pub mod dynamics;
pub mod hardware;
pub mod io;
pub mod measure;
pub mod network;
pub mod numeric;
pub mod plot;
pub mod spice;
pub mod study;

pub use numeric::Real;

/// The old path of [`numeric::real`] and [`numeric::packed`], kept while code written against
/// it moves to [`numeric`].
#[doc(hidden)]
pub mod real {
    pub use crate::numeric::packed::{self, gemm_packed, gemm_packed_with, PackedMat};
    pub use crate::numeric::real::*;
}

// The README's Rust example is compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
