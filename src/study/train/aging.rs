//! Time between training steps on the hardware (`train.step_interval` > 0): the devices'
//! drift and the 1/f noise each read sees, as the device model has them
//! ([`crate::hardware::device`]).
//!
//! The drift clock starts when the arrays are programmed, before step 0; step k reads the
//! arrays at t_k = k dt. Between steps k and k+1 every device's conductance G (what programming
//! and every update so far left) drifts by ((t_{k+1} + t0) / (t_k + t0))^-nu, its own drift
//! exponent nu drawn at programming: with no update in between, a device read at t_k holds
//! G_0 ((t_k + t0) / t0)^-nu, the device model's closed form. Each read at t_k > 0 sees every
//! device with the relative 1/f error sigma(G, t_k) z of the device model
//! ([`crate::hardware::params::DeviceParams::flicker_sigma`]), z drawn once per read from the
//! stream of (seed, array, step), clamped at 0; the error is the read's, not the device's.

use crate::hardware::mapping::DifferentialArray;
use crate::hardware::params::DeviceParams;
use crate::hardware::update::PulsedPair;
use crate::numeric::seeds::stream_seed;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The stream domain of the reads between steps (apart from the updates' streams).
const READ_DOMAIN: u64 = 0x5245_4144_0000_0000;

/// The drift exponents of a pair's devices (row-major, as the pair holds its conductances).
#[derive(Clone, Debug, PartialEq)]
pub struct PairDrift {
    pub nu_plus: Vec<f64>,
    pub nu_minus: Vec<f64>,
}

impl PairDrift {
    /// The exponents the programming of `arr` drew.
    pub fn of(arr: &DifferentialArray) -> Self {
        let row_major = |m: &nalgebra::DMatrix<f64>| {
            let (r, c) = m.shape();
            (0..r * c).map(|k| m[(k / c, k % c)]).collect()
        };
        PairDrift {
            nu_plus: row_major(&arr.plus.nu),
            nu_minus: row_major(&arr.minus.nu),
        }
    }

    /// Drifts `pair` from `t_from` to `t_to` seconds after programming.
    pub fn drift(&self, pair: &mut PulsedPair, device: &DeviceParams, t_from: f64, t_to: f64) {
        let ratio = |nu: f64| device.drift_factor_at(nu, t_to) / device.drift_factor_at(nu, t_from);
        for (g, &nu) in pair.plus.iter_mut().zip(&self.nu_plus) {
            *g *= ratio(nu);
        }
        for (g, &nu) in pair.minus.iter_mut().zip(&self.nu_minus) {
            *g *= ratio(nu);
        }
    }
}

/// `pair` as the read of step `step`, at `t` seconds after programming, sees it: with the
/// accumulated 1/f noise, or `None` when the device has none at `t` (the pair as held).
pub fn noisy_read(
    pair: &PulsedPair,
    device: &DeviceParams,
    t: f64,
    seed: u64,
    step: usize,
) -> Option<PulsedPair> {
    let sigma = |g: f64| device.flicker_sigma(g, t);
    if t <= 0.0
        || pair
            .plus
            .iter()
            .chain(&pair.minus)
            .all(|&g| sigma(g) == 0.0)
    {
        return None;
    }
    let base = stream_seed(stream_seed(seed, READ_DOMAIN), pair.array_id);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(base, step as u64));
    let mut read = pair.clone();
    for g in read.plus.iter_mut().chain(read.minus.iter_mut()) {
        let z: f64 = StandardNormal.sample(&mut rng);
        *g = (*g + g.abs() * sigma(*g) * z).max(0.0);
    }
    Some(read)
}
