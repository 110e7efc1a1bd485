//! apcsim simulates analog (continuous-time) predictive coding on resistive crossbar hardware.
//!
//! Data flows one way, and each module is one layer of it (docs/design.md §5): [`numeric`]
//! (floating-point types, GEMM, statistics, seeds) -> [`network`] (the PC network) -> [`io`]
//! (file formats) -> [`hardware`] (devices, mapping) -> [`config`] (the design file) ->
//! [`dynamics`] (ideal inference) and [`analog`] (the circuit in physical time) -> [`design`]
//! (a design's network, batch and arrays) -> [`measure`] (a run and its typed report) ->
//! [`report`] (figures, HTML, CSV), [`study`] (reference check, sweeps, width x depth) and
//! [`spice`] (the ngspice cross-check). The `apcsim` binary sits on top.

pub mod analog;
pub mod config;
pub mod design;
pub mod dynamics;
pub mod hardware;
pub mod io;
pub mod measure;
pub mod network;
pub mod numeric;
pub mod report;
pub mod spice;
pub mod study;

pub use numeric::Real;

// The README's Rust example is compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
