//! Programming and reading resistive devices: what conductance a device holds when the mapping
//! asks for a target, and what a read sees at a time after programming. Each non-ideality is off
//! in the `ideal` device and seeded on its own stream, so turning one on never changes the draws
//! of another.
//!
//! Order of effects for one device: the target is quantised to the nearest of `levels` states;
//! an open-loop device's step differs from device to device (`step_dtod`); programming lands at
//! that state plus an error N(0, sigma(G)), clamped at 0 only (a conductance is never negative;
//! nothing clips it at g_max); a stuck device ignores all that and sits at g_min or g_max. A
//! read at time t after programming sees the drift G ((t + t0) / t0)^-nu, nu = |N(mean(g),
//! std(g))| per device, plus the 1/f noise accumulated since programming, a relative error
//! Q_s(g) sqrt(ln((t + t0 + t_r) / (2 t_r))) drawn once per read, clamped at 0. With n devices
//! per weight each holds G / n with its own draws, and a read sums them.
//!
//! # Reference
//! Nandakumar et al., "Phase-change memory models for deep learning training and inference",
//! ICECS 2019, and IBM aihwkit `inference/noise/pcm.py` (`PCMLikeNoiseModel`: the programming
//! noise polynomial, the drift and the accumulated 1/f noise) and `inference/noise/hermes.py`
//! (`HermesNoiseModel`); Wan et al., "A compute-in-memory chip based on resistive
//! random-access memory", Nature 608 (2022) (NeuRRAM: RRAM levels and programming spread).

use super::params::{DeviceParams, Flicker, NuFit, ProgrammingError};
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Streams of one programmed array, derived from (seed, array id).
const STREAM_PROGRAMMING: u64 = 0;
const STREAM_STUCK: u64 = 1;
const STREAM_DRIFT: u64 = 2;
const STREAM_STEP: u64 = 3;
const STREAM_FLICKER: u64 = 4;

/// aihwkit's floor of the relative conductance in its drift fits (`_ZERO_CLIP`).
const ZERO_CLIP: f64 = 1e-7;

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
    /// Drift exponent of each device (0 without drift; the mean over a weight's devices).
    pub nu: DMatrix<f64>,
    pub stuck: DMatrix<Stuck>,
    /// What is read at the configured read time (siemens): drift and accumulated 1/f noise.
    pub read: DMatrix<f64>,
}

/// One device right after programming.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceState {
    /// The quantised target (siemens).
    pub target: f64,
    pub programmed: f64,
    pub nu: f64,
    pub stuck: Stuck,
}

/// The random streams of one array.
pub struct Streams {
    programming: Xoshiro256PlusPlus,
    stuck: Xoshiro256PlusPlus,
    drift: Xoshiro256PlusPlus,
    step: Xoshiro256PlusPlus,
    flicker_seed: u64,
}

impl Streams {
    /// The streams of array `array_id` of a run seeded with `seed`.
    pub fn new(seed: u64, array_id: u64) -> Self {
        let id = |k: u64| stream_seed(seed, array_id.wrapping_mul(8).wrapping_add(k));
        let rng = |k: u64| Xoshiro256PlusPlus::seed_from_u64(id(k));
        Streams {
            programming: rng(STREAM_PROGRAMMING),
            stuck: rng(STREAM_STUCK),
            drift: rng(STREAM_DRIFT),
            step: rng(STREAM_STEP),
            flicker_seed: id(STREAM_FLICKER),
        }
    }

    /// The stream of the accumulated 1/f noise of read number `read` of the array.
    pub fn flicker(&self, read: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.flicker_seed, read))
    }
}

/// sum_k c_k x^k.
fn polynomial(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ck| acc * x + ck)
}

/// Mean and standard deviation of the drift exponent at relative conductance `g` (before the
/// fold at zero).
pub fn nu_moments(fit: &NuFit, g: f64) -> (f64, f64) {
    let g = g.abs().max(ZERO_CLIP);
    match fit {
        NuFit::Constant { mean, std } => (*mean, *std),
        NuFit::AihwkitPcm => (
            (-0.0155 * g.ln() + 0.0244).clamp(0.049, 0.1),
            (-0.0125 * g.ln() - 0.0059).clamp(0.008, 0.045),
        ),
        NuFit::AihwkitHermes => {
            let mean = if g < 0.0945 {
                (-0.0387 * g.ln() - 0.0182).clamp(0.072, 0.13)
            } else {
                polynomial(&[0.0736, -0.0126, -0.0436], g)
            };
            let std = if g < 0.3039 {
                (-0.0120 * g.ln() - 0.0023).clamp(0.0124, 0.04)
            } else {
                polynomial(&[0.0104, 0.0116, -0.0165], g)
            };
            (mean, std)
        }
    }
}

/// The 1/f amplitude Q_s at relative programmed conductance `g` and the fit's read time t_r
/// (seconds); `None` without accumulated 1/f noise.
pub fn flicker_amplitude(fit: Flicker, g: f64) -> Option<(f64, f64)> {
    let g = g.abs();
    match fit {
        Flicker::None => None,
        Flicker::AihwkitPcm => Some(((0.0088 / g.powf(0.65).max(1e-3)).min(0.2), 250e-9)),
        Flicker::AihwkitHermes => {
            let q = if g < 0.1591 {
                (-0.0078 * g.ln() + 0.0038).clamp(0.0179, 0.04)
            } else {
                polynomial(&[0.0088, 0.0768, -0.1352, 0.0664], g)
            };
            Some((q, 512e-9))
        }
    }
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
            } => polynomial(c, g / g_ref_siemens).max(0.0),
        }
    }

    /// One of the `devices_per_weight` devices that hold a conductance: the window shared among
    /// them (the device itself when there is one).
    pub fn unit_device(&self) -> DeviceParams {
        let n = self.devices_per_weight.max(1) as f64;
        DeviceParams {
            g_min_siemens: self.g_min_siemens / n,
            g_max_siemens: self.g_max_siemens / n,
            devices_per_weight: 1,
            ..self.clone()
        }
    }

    /// The drift factor ((t + t0) / t0)^-nu at `t_seconds` after programming (1 without drift).
    pub fn drift_factor_at(&self, nu: f64, t_seconds: f64) -> f64 {
        match &self.drift {
            Some(d) if t_seconds > 0.0 => ((t_seconds + d.t0_seconds) / d.t0_seconds).powf(-nu),
            _ => 1.0,
        }
    }

    /// The drift factor at the configured read time.
    pub fn drift_factor(&self, nu: f64) -> f64 {
        self.drift_factor_at(nu, self.read_time_seconds())
    }

    /// The configured read time after programming (0 without drift).
    pub fn read_time_seconds(&self) -> f64 {
        self.drift.as_ref().map_or(0.0, |d| d.t_read_seconds)
    }

    /// Relative sigma of the 1/f noise accumulated by a device programmed to `programmed`,
    /// read `t_seconds` after programming (0 without it or without a drift clock).
    pub fn flicker_sigma(&self, programmed: f64, t_seconds: f64) -> f64 {
        let (Some(d), Some((q, t_r))) = (
            &self.drift,
            flicker_amplitude(self.read_noise.flicker, programmed / self.g_max_siemens),
        ) else {
            return 0.0;
        };
        let t = t_seconds + d.t0_seconds;
        q * ((t + t_r) / (2.0 * t_r)).ln().max(0.0).sqrt()
    }

    /// Programs one device (of a unit device, see [`Self::unit_device`]) to `target`.
    pub fn program_device(&self, target: f64, s: &mut Streams) -> DeviceState {
        let q = self.quantise(target);
        let mut g = q;
        if self.step_dtod > 0.0 {
            let z: f64 = s.step.sample(StandardNormal);
            g = self.g_min_siemens + (q - self.g_min_siemens) * (1.0 + self.step_dtod * z);
        }
        if self.programming != ProgrammingError::None {
            let z: f64 = s.programming.sample(StandardNormal);
            g = (g + self.programming_sigma(q) * z).max(0.0);
        }
        let mut stuck = Stuck::No;
        if self.stuck_off_fraction > 0.0 || self.stuck_on_fraction > 0.0 {
            let u: f64 = s.stuck.random();
            if u < self.stuck_off_fraction {
                (g, stuck) = (self.g_min_siemens, Stuck::Off);
            } else if u < self.stuck_off_fraction + self.stuck_on_fraction {
                (g, stuck) = (self.g_max_siemens, Stuck::On);
            }
        }
        let nu = match &self.drift {
            Some(d) => {
                let (mean, std) = nu_moments(&d.nu, q / self.g_max_siemens);
                let z: f64 = s.drift.sample(StandardNormal);
                (mean + std * z).abs()
            }
            None => 0.0,
        };
        DeviceState {
            target: q,
            programmed: g,
            nu,
            stuck,
        }
    }

    /// What a read `t_seconds` after programming sees of device `d`, with `z` the standard
    /// normal of its accumulated 1/f noise.
    pub fn read_device(&self, d: &DeviceState, t_seconds: f64, z: f64) -> f64 {
        let g = d.programmed * self.drift_factor_at(d.nu, t_seconds);
        let sigma = self.flicker_sigma(d.programmed, t_seconds);
        if sigma > 0.0 {
            (g + g.abs() * sigma * z).max(0.0)
        } else {
            g
        }
    }

    /// Whether reads draw accumulated 1/f noise.
    fn has_flicker(&self) -> bool {
        self.drift.is_some() && self.read_noise.flicker != Flicker::None
    }

    /// Programs an array of devices to `target` conductances and reads it at the configured
    /// read time. `array_id` separates the random streams of different arrays of one run.
    pub fn program(&self, target: &DMatrix<f64>, seed: u64, array_id: u64) -> ProgrammedArray {
        let unit = self.unit_device();
        let n = self.devices_per_weight.max(1);
        let mut s = Streams::new(seed, array_id);
        let mut flicker = s.flicker(0);
        let t_read = self.read_time_seconds();
        let (rows, cols) = target.shape();
        let mut programmed = DMatrix::zeros(rows, cols);
        let mut stuck = DMatrix::from_element(rows, cols, Stuck::No);
        let mut nu = DMatrix::zeros(rows, cols);
        let mut read = DMatrix::zeros(rows, cols);
        // Row-major draw order: the same devices get the same draws whatever the tiling.
        for i in 0..rows {
            for j in 0..cols {
                for _ in 0..n {
                    let d = unit.program_device(target[(i, j)] / n as f64, &mut s);
                    let z: f64 = if unit.has_flicker() {
                        flicker.sample(StandardNormal)
                    } else {
                        0.0
                    };
                    programmed[(i, j)] += d.programmed;
                    nu[(i, j)] += d.nu / n as f64;
                    read[(i, j)] += unit.read_device(&d, t_read, z);
                    if d.stuck != Stuck::No {
                        stuck[(i, j)] = d.stuck;
                    }
                }
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

/// `count` devices programmed to one target and read at several times: the statistics a
/// designer looks at first (`apcsim device`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSample {
    /// Right after programming (siemens), one per weight (summed over its devices).
    pub programmed: Vec<f64>,
    /// Drift exponents (the mean over a weight's devices).
    pub nu: Vec<f64>,
    /// Per read time, what the read sees (siemens).
    pub reads: Vec<Vec<f64>>,
}

impl DeviceParams {
    /// Programs `count` weights to `target` on the streams of array `array_id` and reads them
    /// at each of `read_times` (seconds after programming), each read with its own draw of the
    /// accumulated 1/f noise. The first read at the configured read time gives what
    /// [`Self::program`] reads.
    pub fn sample(
        &self,
        target: f64,
        count: usize,
        read_times: &[f64],
        (seed, array_id): (u64, u64),
    ) -> DeviceSample {
        let unit = self.unit_device();
        let n = self.devices_per_weight.max(1) as usize;
        let mut s = Streams::new(seed, array_id);
        let states: Vec<DeviceState> = (0..count * n)
            .map(|_| unit.program_device(target / n as f64, &mut s))
            .collect();
        let per_weight = |f: &dyn Fn(&DeviceState) -> f64| -> Vec<f64> {
            states.chunks(n).map(|c| c.iter().map(f).sum()).collect()
        };
        let reads = read_times
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let mut rng = s.flicker(k as u64);
                let has = unit.has_flicker();
                let read: Vec<f64> = states
                    .iter()
                    .map(|d| {
                        let z: f64 = if has { rng.sample(StandardNormal) } else { 0.0 };
                        unit.read_device(d, t, z)
                    })
                    .collect();
                read.chunks(n).map(|c| c.iter().sum()).collect()
            })
            .collect();
        DeviceSample {
            programmed: per_weight(&|d| d.programmed),
            nu: per_weight(&|d| d.nu / n as f64),
            reads,
        }
    }
}
