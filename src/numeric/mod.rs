//! The numeric layer every other module builds on: the floating-point types apcsim computes in
//! and the matrix products ([`real`], [`packed`]), the vectorised activation kernels
//! ([`vmath`]), summary statistics ([`stats`]), the derivation of independent seeds
//! ([`seeds`]) and the printing of quantities with engineering prefixes
//! ([`format`](mod@format)). It imports nothing from the rest of the crate.

pub mod chunks;
pub mod format;
pub mod packed;
pub mod real;
pub mod seeds;
pub mod stats;
pub mod tile;
pub mod vmath;

pub use packed::{gemm_packed, gemm_packed_with, PackedMat};
pub use real::{c, gemm, MatMut, MatRef, Real};
