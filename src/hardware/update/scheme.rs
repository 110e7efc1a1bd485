//! Update schemes on a differential pair array: the intended change dG_ij = lr x_i d_j of the
//! pair's difference G+ - G- (rows i driven by x, columns j by d) written as pulses.
//!
//! - Stochastic pulse coincidence (Gokmen & Vlasov 2016, aihwkit's `STOCHASTIC_COMPRESSED`):
//!   in each of BL slots row i fires with p_i = min(B |x_i|, 1) and column j with
//!   q_j = min(A |d_j|, 1); a device pulses when both fire, with polarity sign(x_i d_j). So
//!   n_ij ~ Binomial(BL, p_i q_j) and E(n_ij) g = lr |x_i d_j| with A B = lr / (g BL), g the
//!   pair's step ([`UpdateParams::pair_step_siemens`]). BL management takes
//!   BL = min(ceil(k), BL_max), k = lr max|x| max|d| / g; update management rescales A and B
//!   by sqrt(max|x| / max|d|) so that both streams use their range (aihwkit's
//!   `performUpdateManagement`).
//! - Deterministic pulse counts: n_ij = round(|dG_ij| / g), polarity sign(dG_ij).
//! - Ideal: dG written exactly, no pulses.
//!
//! A pulse of positive polarity potentiates G+ and depresses G- on a bidirectional pair (each
//! device moves by one of its steps), and potentiates G+ only on a single-sided pair (negative
//! polarity potentiates G-). Single-sided pairs are refreshed after every update where aihwkit's
//! criterion holds: both devices programmed back to g_min and the difference reprogrammed onto
//! the larger side, through the device's programming model ([`DeviceParams::program`]).
//!
//! Rows are independent: each row's bit stream and pulse noise come from a stream of its own,
//! seeded by (seed, array, step, row), so the result is bit-identical whatever the number of
//! threads.

use super::family::{DeviceResponse, UPDATE_DOMAIN};
use super::UpdateParams;
use crate::hardware::device::{ProgrammedArray, Stuck};
use crate::hardware::mapping::DifferentialArray;
use crate::hardware::params::DeviceParams;
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// How an intended update becomes pulses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Ideal,
    Deterministic,
    Stochastic {
        /// BL: slots of the bit streams (the maximum under BL management).
        bl: u32,
        bl_management: bool,
        update_management: bool,
    },
}

/// The scheme names a design file takes.
pub const SCHEME_NAMES: &[&str] = &["ideal", "deterministic", "stochastic"];

/// What one update cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UpdateStats {
    /// Coincidences (stochastic) or pulse counts (deterministic), summed over pairs.
    pub coincidences: u64,
    /// Pulses fired into devices (two per coincidence on a bidirectional pair).
    pub pulses: u64,
    /// Pairs refreshed, and the pulses the refreshes took (two resets and the rewrite).
    pub refreshes: u64,
    pub refresh_pulses: u64,
    /// (pulses + refresh_pulses) x energy per pulse.
    pub energy_joules: f64,
    /// BL x pulse width (stochastic), max n_ij x pulse width (deterministic).
    pub duration_seconds: f64,
    /// The bit-stream length used (0: nothing to write).
    pub bl: u32,
}

/// What an update needs besides its inputs: the devices' response, the scheme, the
/// programming model (for refreshes) and the run's seed.
#[derive(Clone, Copy, Debug)]
pub struct UpdateSetup<'a> {
    pub params: &'a UpdateParams,
    pub scheme: Scheme,
    pub device: &'a DeviceParams,
    pub seed: u64,
}

/// A differential pair array under update: conductances row-major (`rows x cols`), each
/// device's hidden response, and which devices are stuck.
#[derive(Clone, Debug, PartialEq)]
pub struct PulsedPair {
    pub rows: usize,
    pub cols: usize,
    pub plus: Vec<f64>,
    pub minus: Vec<f64>,
    pub devices: PairDevices,
    /// Separates the random streams of the arrays of one run.
    pub array_id: u64,
}

/// The fixed properties of a pair array's devices (row-major): hidden responses and faults.
#[derive(Clone, Debug, PartialEq)]
pub struct PairDevices {
    pub response_plus: Vec<DeviceResponse>,
    pub response_minus: Vec<DeviceResponse>,
    pub stuck_plus: Vec<bool>,
    pub stuck_minus: Vec<bool>,
}

fn row_major<T: Copy>(m: &DMatrix<T>) -> Vec<T> {
    let (r, c) = m.shape();
    (0..r * c).map(|k| m[(k / c, k % c)]).collect()
}

impl PulsedPair {
    /// A pair holding `plus` and `minus` (siemens, same shape), none stuck, with device
    /// responses drawn from (seed, array_id).
    pub fn new(
        params: &UpdateParams,
        plus: &DMatrix<f64>,
        minus: &DMatrix<f64>,
        seed: u64,
        array_id: u64,
    ) -> Self {
        assert_eq!(plus.shape(), minus.shape(), "G+ and G- differ in shape");
        let (rows, cols) = plus.shape();
        let n = rows * cols;
        PulsedPair {
            rows,
            cols,
            plus: row_major(plus),
            minus: row_major(minus),
            devices: PairDevices {
                response_plus: params.draw_devices(n, seed, 2 * array_id),
                response_minus: params.draw_devices(n, seed, 2 * array_id + 1),
                stuck_plus: vec![false; n],
                stuck_minus: vec![false; n],
            },
            array_id,
        }
    }

    /// The pair of a mapped array: its programmed conductances (before drift) and stuck faults.
    pub fn from_differential(
        params: &UpdateParams,
        arr: &DifferentialArray,
        seed: u64,
        array_id: u64,
    ) -> Self {
        let mut p = Self::new(
            params,
            &arr.plus.programmed,
            &arr.minus.programmed,
            seed,
            array_id,
        );
        p.devices.stuck_plus = row_major(&arr.plus.stuck.map(|s| s != Stuck::No));
        p.devices.stuck_minus = row_major(&arr.minus.stuck.map(|s| s != Stuck::No));
        p
    }

    /// Writes the conductances back into a mapped array: `programmed` takes them and `read`
    /// the same after each device's drift to the read time.
    pub fn write_to(&self, arr: &mut DifferentialArray, device: &DeviceParams) {
        let put = |a: &mut ProgrammedArray, g: &[f64]| {
            for i in 0..self.rows {
                for j in 0..self.cols {
                    let v = g[i * self.cols + j];
                    a.programmed[(i, j)] = v;
                    a.read[(i, j)] = v * device.drift_factor(a.nu[(i, j)]);
                }
            }
        };
        put(&mut arr.plus, &self.plus);
        put(&mut arr.minus, &self.minus);
    }

    /// G+ - G- (`rows x cols`).
    pub fn difference(&self) -> DMatrix<f64> {
        DMatrix::from_fn(self.rows, self.cols, |i, j| {
            let k = i * self.cols + j;
            self.plus[k] - self.minus[k]
        })
    }

    /// Writes dG = lr x d^T (x: one value per row, d: per column; lr in siemens per unit of
    /// x d) as `setup` says. `step` numbers the update (it seeds the update's streams).
    pub fn update(
        &mut self,
        setup: &UpdateSetup<'_>,
        x: &[f64],
        d: &[f64],
        lr: f64,
        step: u64,
    ) -> UpdateStats {
        let UpdateSetup {
            params,
            scheme,
            device,
            seed,
        } = *setup;
        assert_eq!((x.len(), d.len()), (self.rows, self.cols), "x, d vs array");
        let base = stream_seed(
            stream_seed(stream_seed(seed, UPDATE_DOMAIN + 1), self.array_id),
            step,
        );
        let mut stats = match scheme {
            Scheme::Ideal => {
                self.ideal(params, x, d, lr);
                UpdateStats::default()
            }
            Scheme::Deterministic => self.deterministic(params, x, d, lr, base),
            Scheme::Stochastic { .. } => self.stochastic(params, scheme, x, d, lr, base),
        };
        if let Some(r) = params.single_sided {
            let (n, pulses) = self.refresh(params, r, device, stream_seed(base, u64::MAX));
            stats.refreshes = n;
            stats.refresh_pulses = pulses;
        }
        stats.energy_joules =
            (stats.pulses + stats.refresh_pulses) as f64 * params.pulse_energy_joules;
        stats
    }

    /// The exact change: half of dG on each side of a bidirectional pair, both sides raised
    /// together (the difference kept) when that would take one below the window's floor
    /// g_min; on a single-sided pair, the side whose potentiation makes the change.
    fn ideal(&mut self, params: &UpdateParams, x: &[f64], d: &[f64], lr: f64) {
        let floor = params.g_min_siemens;
        for i in 0..self.rows {
            for j in 0..self.cols {
                let k = i * self.cols + j;
                let dg = lr * x[i] * d[j];
                let (gp, gm) = (self.plus[k], self.minus[k]);
                let (p, m) = match params.single_sided {
                    Some(_) => (gp + dg.max(0.0), gm + (-dg).max(0.0)),
                    None => (gp + 0.5 * dg, gm - 0.5 * dg),
                };
                // The side below the floor is put exactly on it, the other raised as much.
                let (p, m) = if p < floor && p <= m {
                    (floor, m + (floor - p))
                } else if m < floor {
                    (p + (floor - m), floor)
                } else {
                    (p, m)
                };
                if !self.devices.stuck_plus[k] {
                    self.plus[k] = p;
                }
                if !self.devices.stuck_minus[k] {
                    self.minus[k] = m;
                }
            }
        }
    }

    fn deterministic(
        &mut self,
        params: &UpdateParams,
        x: &[f64],
        d: &[f64],
        lr: f64,
        base: u64,
    ) -> UpdateStats {
        let g = params.pair_step_siemens();
        let cols = self.cols;
        let pair = PairWriter {
            params,
            devices: &self.devices,
        };
        let (count, max) = rows_parallel(
            &mut self.plus,
            &mut self.minus,
            cols,
            base,
            |i, rng, gp, gm| {
                let (mut total, mut max) = (0, 0);
                for j in 0..cols {
                    let dg = lr * x[i] * d[j];
                    let n = (dg.abs() / g).round() as u64;
                    pair.pulses(i * cols + j, &mut gp[j], &mut gm[j], n, dg > 0.0, rng);
                    total += n;
                    max = max.max(n);
                }
                (total, max)
            },
        );
        UpdateStats {
            coincidences: count,
            pulses: count * params.device_pulses_per_coincidence(),
            duration_seconds: max as f64 * params.pulse_width_seconds,
            ..UpdateStats::default()
        }
    }
}

/// Runs `per_row(i, rng, G+ row, G- row)` on every row in parallel, each with the stream of
/// (base, row); returns the sum and the max of the per-row (count, max count).
fn rows_parallel<F>(
    plus: &mut [f64],
    minus: &mut [f64],
    cols: usize,
    base: u64,
    per_row: F,
) -> (u64, u64)
where
    F: Fn(usize, &mut Xoshiro256PlusPlus, &mut [f64], &mut [f64]) -> (u64, u64) + Sync,
{
    plus.par_chunks_mut(cols)
        .zip(minus.par_chunks_mut(cols))
        .enumerate()
        .map(|(i, (gp, gm))| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(base, i as u64 + 1));
            per_row(i, &mut rng, gp, gm)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.max(b.1)))
}

impl UpdateParams {
    /// Device pulses per coincidence: 2 on a bidirectional pair, 1 on a single-sided one.
    pub fn device_pulses_per_coincidence(&self) -> u64 {
        if self.single_sided.is_some() {
            1
        } else {
            2
        }
    }
}

/// Applies pulses to the devices of one pair (read-only view of the responses).
struct PairWriter<'a> {
    params: &'a UpdateParams,
    devices: &'a PairDevices,
}

impl PairWriter<'_> {
    /// `n` pulses of one polarity on pair k (increase: G+ - G- goes up). Each device pulse
    /// draws its own cycle-to-cycle normal when the device has that noise.
    fn pulses(
        &self,
        k: usize,
        gp: &mut f64,
        gm: &mut f64,
        n: u64,
        increase: bool,
        rng: &mut Xoshiro256PlusPlus,
    ) {
        let (p, dv) = (self.params, self.devices);
        let noisy = p.dw_min_std > 0.0;
        let mut xi = || {
            if noisy {
                StandardNormal.sample(rng)
            } else {
                0.0
            }
        };
        for _ in 0..n {
            match (p.single_sided.is_some(), increase) {
                (true, true) => {
                    let z = xi();
                    if !dv.stuck_plus[k] {
                        *gp = p.pulse(&dv.response_plus[k], *gp, true, z);
                    }
                }
                (true, false) => {
                    let z = xi();
                    if !dv.stuck_minus[k] {
                        *gm = p.pulse(&dv.response_minus[k], *gm, true, z);
                    }
                }
                (false, up) => {
                    let (zp, zm) = (xi(), xi());
                    if !dv.stuck_plus[k] {
                        *gp = p.pulse(&dv.response_plus[k], *gp, up, zp);
                    }
                    if !dv.stuck_minus[k] {
                        *gm = p.pulse(&dv.response_minus[k], *gm, !up, zm);
                    }
                }
            }
        }
    }
}

/// BL and the stream scales (A for d, B for x) of one stochastic update, as aihwkit's
/// `calculateBlAB` and `performUpdateManagement` compute them; BL = 0: nothing to write.
pub fn stochastic_scales(
    scheme: Scheme,
    x_max: f64,
    d_max: f64,
    lr: f64,
    g: f64,
) -> (u32, f64, f64) {
    let Scheme::Stochastic {
        bl: max_bl,
        bl_management,
        update_management,
    } = scheme
    else {
        return (0, 0.0, 0.0);
    };
    if lr <= 0.0 || x_max == 0.0 || d_max == 0.0 || max_bl == 0 {
        return (0, 0.0, 0.0);
    }
    let k = lr * x_max * d_max / g;
    let bl = if bl_management {
        (k.ceil() as u32).clamp(1, max_bl)
    } else {
        max_bl
    };
    let mut a = (lr / (g * bl as f64)).sqrt();
    let mut b = a;
    if update_management {
        let d_val = if k > max_bl as f64 {
            d_max * max_bl as f64 / k
        } else {
            d_max
        };
        a *= (x_max / d_val).sqrt();
        b *= (d_val / x_max).sqrt();
    }
    (bl, a, b)
}

/// BL bits, each set with probability p (p >= 1: all set).
pub fn bit_stream(p: f64, bl: u32, rng: &mut Xoshiro256PlusPlus) -> Vec<u64> {
    let mut words = vec![0u64; (bl as usize).div_ceil(64)];
    for s in 0..bl as usize {
        let u: f64 = rng.random();
        if u < p {
            words[s / 64] |= 1 << (s % 64);
        }
    }
    words
}

/// Slots in which both streams fire.
pub fn coincidences(a: &[u64], b: &[u64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x & y).count_ones() as u64)
        .sum()
}

impl PulsedPair {
    fn stochastic(
        &mut self,
        params: &UpdateParams,
        scheme: Scheme,
        x: &[f64],
        d: &[f64],
        lr: f64,
        base: u64,
    ) -> UpdateStats {
        let amax = |v: &[f64]| v.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        let g = params.pair_step_siemens();
        let (bl, a, b) = stochastic_scales(scheme, amax(x), amax(d), lr, g);
        if bl == 0 {
            return UpdateStats::default();
        }
        // The column streams, shared by every row: one stream of their own.
        let mut col_rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(base, 0));
        let d_bits: Vec<Vec<u64>> = d
            .iter()
            .map(|v| bit_stream(a * v.abs(), bl, &mut col_rng))
            .collect();
        let cols = self.cols;
        let pair = PairWriter {
            params,
            devices: &self.devices,
        };
        let (count, _) = rows_parallel(
            &mut self.plus,
            &mut self.minus,
            cols,
            base,
            |i, rng, gp, gm| {
                let x_bits = bit_stream(b * x[i].abs(), bl, rng);
                let mut total = 0;
                for j in 0..cols {
                    let n = coincidences(&x_bits, &d_bits[j]);
                    if n > 0 {
                        let increase = (x[i] > 0.0) == (d[j] > 0.0);
                        pair.pulses(i * cols + j, &mut gp[j], &mut gm[j], n, increase, rng);
                        total += n;
                    }
                }
                (total, 0)
            },
        );
        UpdateStats {
            coincidences: count,
            pulses: count * params.device_pulses_per_coincidence(),
            duration_seconds: bl as f64 * params.pulse_width_seconds,
            bl,
            ..UpdateStats::default()
        }
    }
}
