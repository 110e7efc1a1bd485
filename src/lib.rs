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
pub mod real;
pub mod spice;
pub mod study;

pub use real::Real;

// The README's Rust example is compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
