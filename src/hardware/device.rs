//! Programming resistive devices: what conductance a device holds when the mapping asks for a
//! target. Each non-ideality is off in the `ideal` device and seeded on its own stream, so
//! turning one on never changes the draws of another.
//!
//! Order of effects for one device: the target is quantised to the nearest of `levels` states;
//! programming lands at that state plus a device-to-device error N(0, sigma(G)), clipped to the
//! window; a stuck device ignores all that and sits at g_min or g_max; finally the conductance
//! drifts to the read time, G (t / t0)^-nu with nu drawn per device.
//!
//! # Reference
//! Nandakumar et al., "Phase-change memory models for deep learning training and inference",
//! ICECS 2019, and IBM aihwkit `inference/noise/pcm.py` (`PCMLikeNoiseModel`: the programming
//! noise polynomial and the drift law); Wan et al., "A compute-in-memory chip based on resistive
//! random-access memory", Nature 608 (2022) (NeuRRAM: RRAM levels and programming spread).

use super::params::{DeviceParams, ProgrammingError};
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Streams of one programmed array, derived from (seed, array id).
const STREAM_PROGRAMMING: u64 = 0;
const STREAM_STUCK: u64 = 1;
const STREAM_DRIFT: u64 = 2;

/// What a device is stuck at, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stuck {
    No,
    Off,
    On,
}

/// An array of devices after programming and drift.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgrammedArray {
    /// The conductance each device was asked to hold (siemens).
    pub target: DMatrix<f64>,
    /// After quantisation, programming error and stuck faults (siemens), before drift.
    pub programmed: DMatrix<f64>,
    /// Drift exponent of each device (0 without drift).
    pub nu: DMatrix<f64>,
    pub stuck: DMatrix<Stuck>,
    /// What is read at the configured read time (siemens).
    pub read: DMatrix<f64>,
}

impl DeviceParams {
    /// Conductance of state k of `levels` (k = 0 is g_min, k = levels - 1 is g_max).
    pub fn state(&self, k: u32) -> f64 {
        match self.levels {
            Some(n) if n >= 2 => {
                self.g_min_siemens
                    + (self.g_max_siemens - self.g_min_siemens) * k as f64 / (n - 1) as f64
            }
            _ => self.g_min_siemens,
        }
    }

    /// Spacing of adjacent states (0 for a continuous device).
    pub fn state_spacing_siemens(&self) -> f64 {
        match self.levels {
            Some(n) if n >= 2 => (self.g_max_siemens - self.g_min_siemens) / (n - 1) as f64,
            _ => 0.0,
        }
    }

    /// The nearest programmable state to `g` (clipped to the window).
    pub fn quantise(&self, g: f64) -> f64 {
        let g = g.clamp(self.g_min_siemens, self.g_max_siemens);
        match self.levels {
            Some(n) if n >= 2 => {
                let k = ((g - self.g_min_siemens) / self.state_spacing_siemens()).round();
                self.state(k.clamp(0.0, (n - 1) as f64) as u32)
            }
            _ => g,
        }
    }

    /// Standard deviation of the programming error at conductance `g` (siemens).
    pub fn programming_sigma(&self, g: f64) -> f64 {
        match &self.programming {
            ProgrammingError::None => 0.0,
            ProgrammingError::Constant { fraction_of_g_max } => {
                fraction_of_g_max * self.g_max_siemens
            }
            ProgrammingError::Polynomial {
                coefficients_siemens: c,
                g_ref_siemens,
            } => {
                let x = g / g_ref_siemens;
                (c[0] + c[1] * x + c[2] * x * x).max(0.0)
            }
        }
    }

    /// The drift factor (t_read / t0)^-nu, 1 without drift or before t0.
    pub fn drift_factor(&self, nu: f64) -> f64 {
        match &self.drift {
            Some(d) if d.t_read_seconds > d.t0_seconds => {
                (d.t_read_seconds / d.t0_seconds).powf(-nu)
            }
            _ => 1.0,
        }
    }

    /// Programs an array of devices to `target` conductances. `array_id` separates the random
    /// streams of different arrays of one run.
    pub fn program(&self, target: &DMatrix<f64>, seed: u64, array_id: u64) -> ProgrammedArray {
        let stream = |k: u64| {
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(
                seed,
                array_id.wrapping_mul(8).wrapping_add(k),
            ))
        };
        let (rows, cols) = target.shape();
        let mut prog_rng = stream(STREAM_PROGRAMMING);
        let mut stuck_rng = stream(STREAM_STUCK);
        let mut drift_rng = stream(STREAM_DRIFT);
        let mut programmed = DMatrix::zeros(rows, cols);
        let mut stuck = DMatrix::from_element(rows, cols, Stuck::No);
        let mut nu = DMatrix::zeros(rows, cols);
        let mut read = DMatrix::zeros(rows, cols);
        let has_prog = self.programming != ProgrammingError::None;
        let has_stuck = self.stuck_off_fraction > 0.0 || self.stuck_on_fraction > 0.0;
        // Row-major draw order: the same devices get the same draws whatever the tiling.
        for i in 0..rows {
            for j in 0..cols {
                let q = self.quantise(target[(i, j)]);
                let mut g = q;
                if has_prog {
                    let z: f64 = prog_rng.sample(StandardNormal);
                    g = (q + self.programming_sigma(q) * z)
                        .clamp(self.g_min_siemens, self.g_max_siemens);
                }
                if has_stuck {
                    let u: f64 = stuck_rng.random();
                    if u < self.stuck_off_fraction {
                        g = self.g_min_siemens;
                        stuck[(i, j)] = Stuck::Off;
                    } else if u < self.stuck_off_fraction + self.stuck_on_fraction {
                        g = self.g_max_siemens;
                        stuck[(i, j)] = Stuck::On;
                    }
                }
                programmed[(i, j)] = g;
                if let Some(d) = &self.drift {
                    let z: f64 = drift_rng.sample(StandardNormal);
                    nu[(i, j)] = d.nu_mean + d.nu_std * z;
                }
                read[(i, j)] = g * self.drift_factor(nu[(i, j)]);
            }
        }
        ProgrammedArray {
            target: target.clone(),
            programmed,
            nu,
            stuck,
            read,
        }
    }
}
