//! Drift compensation: a global gain calibration of each layer's arrays at read time, as IBM
//! aihwkit's `GlobalDriftCompensation` does per analog tile.
//!
//! Right after programming, the periphery reads the array with a fixed set of inputs — one row
//! at a time at the unit drive, aihwkit's one-hot read-out tensor `eye(in_size)` — and keeps the
//! summed absolute output as the array's reference. At read time (after the devices drifted)
//! it reads the same inputs again; alpha = reference / current, and every output of the array
//! is multiplied by alpha. Drift that scales every device by the same factor f is removed
//! exactly (alpha = 1 / f = ((t_read + t0) / t0)^nu, aihwkit's drift clock); drift with a per-device exponent is removed on
//! average (alpha = sum |W| / sum |W f_ij|, close to 1 / E(f)), its spread stays.
//!
//! What one calibration is: a layer's forward array (the differential pair holding a_l W, all
//! its tiles) is one array with one alpha, applied at its TIAs as a feedback resistance alpha
//! R_f (the TIA of an output sums the partial currents of every tile of its tile column, so
//! tiles sharing a TIA cannot take different gains). A separate backward array (W^T) is
//! calibrated on its own and scales the backward TIAs; a shared backward read uses the same
//! devices, whose read-out sum is the same in both directions, so its TIAs take the forward
//! alpha. Each read of the calibration sees the device read noise (white and thermal, over
//! the error amplifiers' bandwidth) when the design's noise is on, as aihwkit's calibration
//! forward pass sees its forward noise; each entry of the read-out draws its own noise, on
//! streams of its own.
//!
//! # Reference
//! IBM aihwkit, `src/aihwkit/inference/compensation/drift.py` (`GlobalDriftCompensation`:
//! `readout` = mean |output| of the `eye(in_size)` read-out, `apply` = reference / current) and
//! `src/aihwkit/simulator/tiles/inference.py` (`program_weights` stores the baseline after
//! programming, `drift_weights` sets `alpha`, `post_forward` multiplies the tile's output by
//! it); Joshi et al., "Accurate deep neural network inference using computational phase-change
//! memory", Nature Communications 11, 2473 (2020), §"Global drift compensation".

use super::mapping::{map_network, tiled, DifferentialArray, MappedNetwork, MappingError};
use super::mapping::{ArrayCalibration, LayerCalibration, LayerMapping, TileModel};
pub use super::params::DriftCompensation;
use super::params::{CrossbarParams, DeviceParams, BOLTZMANN};
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The noise of one calibration read of one device (conductance units): variance
/// `(relative G)^2 + thermal_siemens G`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadoutNoise {
    /// Standard deviation of a device's current over the read, as a fraction of it.
    pub relative: f64,
    /// 4 k T B / v_read^2: the thermal current variance 4 k T G B of a device read at v_read,
    /// in siemens^2 per siemens of G.
    pub thermal_siemens: f64,
}

impl ReadoutNoise {
    /// A noiseless read.
    pub const NONE: ReadoutNoise = ReadoutNoise {
        relative: 0.0,
        thermal_siemens: 0.0,
    };

    /// The read noise of `device` read at `v_read_volts` through a bandwidth of
    /// `bandwidth_hertz`: the device's relative white density w^2 integrated over B is w^2 B
    /// (docs/circuit-model.md), the thermal one 4 k T G B.
    pub fn of(device: &DeviceParams, v_read_volts: f64, bandwidth_hertz: f64) -> Self {
        let rn = &device.read_noise;
        let thermal = if rn.thermal {
            4.0 * BOLTZMANN * rn.temperature_kelvin * bandwidth_hertz
                / (v_read_volts * v_read_volts)
        } else {
            0.0
        };
        ReadoutNoise {
            relative: rn.white_per_root_hertz * bandwidth_hertz.sqrt(),
            thermal_siemens: thermal,
        }
    }

    fn variance(&self, g: f64) -> f64 {
        let r = self.relative * g;
        r * r + self.thermal_siemens * g.max(0.0)
    }

    fn is_none(&self) -> bool {
        self.relative == 0.0 && self.thermal_siemens == 0.0
    }
}

/// How a design compensates drift: the mode and the noise of its calibration reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Compensation {
    pub mode: DriftCompensation,
    pub noise: ReadoutNoise,
}

/// Streams of the calibration reads, apart from the devices' (seed, array) streams.
const CALIBRATION_STREAM: u64 = 1 << 41;

/// Summed |E+ - E- + noise| over every entry: the read-out of one row at a time (rows of the
/// `rows x cols` array driven at the unit input, every column read). `e_*` are the effective
/// conductances of the tiles, `g_*` the devices' own, which set the noise.
fn readout(
    (e_plus, e_minus): (&DMatrix<f64>, &DMatrix<f64>),
    (g_plus, g_minus): (&DMatrix<f64>, &DMatrix<f64>),
    noise: &ReadoutNoise,
    seed: u64,
) -> f64 {
    let diff = e_plus - e_minus;
    if noise.is_none() {
        return diff.iter().map(|d| d.abs()).sum();
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut sum = 0.0;
    for ((d, gp), gm) in diff.iter().zip(g_plus.iter()).zip(g_minus.iter()) {
        let z: f64 = StandardNormal.sample(&mut rng);
        let sigma = (noise.variance(*gp) + noise.variance(*gm)).sqrt();
        sum += (d + sigma * z).abs();
    }
    sum
}

/// Calibrates one differential array of `crossbar` tiles: the read-out of its programmed
/// conductances (the reference) and of what is read at the read time. `array_id` is the
/// mapping's id of the array's plus devices.
pub fn calibrate(
    pair: &DifferentialArray,
    crossbar: &CrossbarParams,
    model: TileModel<'_>,
    noise: &ReadoutNoise,
    (seed, array_id): (u64, u64),
) -> Result<ArrayCalibration, String> {
    let eff = |g: &DMatrix<f64>| tiled(g, crossbar.rows, crossbar.cols, model);
    let stream = |k: u64| {
        stream_seed(
            stream_seed(seed, CALIBRATION_STREAM),
            array_id.wrapping_mul(2).wrapping_add(k),
        )
    };
    let (p, m) = (&pair.plus, &pair.minus);
    let reference = readout(
        (&eff(&p.programmed)?, &eff(&m.programmed)?),
        (&p.programmed, &m.programmed),
        noise,
        stream(0),
    );
    let current = readout(
        (&eff(&p.read)?, &eff(&m.read)?),
        (&p.read, &m.read),
        noise,
        stream(1),
    );
    let alpha = reference / current;
    Ok(ArrayCalibration {
        reference_siemens: reference,
        current_siemens: current,
        alpha: if alpha.is_finite() && alpha > 0.0 {
            alpha
        } else {
            1.0
        },
    })
}

/// Calibrates layer `m` (index `idx` of the mapping) and applies the gains: its effective
/// weights and its TIAs' feedback resistances are multiplied by alpha.
fn compensate_layer(
    m: &mut LayerMapping,
    idx: usize,
    crossbar: &CrossbarParams,
    model: TileModel<'_>,
    noise: &ReadoutNoise,
    seed: u64,
) -> Result<(), MappingError> {
    let tile_err = |message: String| MappingError::Tile {
        layer: m.layer,
        message,
    };
    // The mapping's array ids: 4 per layer, forward +/- then backward +/-.
    let id = 4 * idx as u64;
    let forward = calibrate(&m.forward, crossbar, model, noise, (seed, id)).map_err(tile_err)?;
    m.w_forward *= forward.alpha;
    m.feedback_resistance_ohms *= forward.alpha;
    let backward = match &m.backward {
        Some(b) => Some(calibrate(b, crossbar, model, noise, (seed, id + 2)).map_err(tile_err)?),
        None => None,
    };
    let alpha_b = backward.map_or(forward.alpha, |b| b.alpha);
    match backward {
        Some(_) => m.w_backward *= alpha_b,
        None => m.w_backward = m.w_forward.clone(),
    }
    m.backward_feedback_resistance_ohms *= alpha_b;
    m.drift_calibration = Some(LayerCalibration { forward, backward });
    Ok(())
}

/// Calibrates every layer of `mapped` (programmed with `seed`) and applies the gains.
pub fn compensate(
    mapped: &mut MappedNetwork,
    crossbar: &CrossbarParams,
    model: TileModel<'_>,
    noise: &ReadoutNoise,
    seed: u64,
) -> Result<(), MappingError> {
    for (idx, m) in mapped.layers.iter_mut().enumerate() {
        compensate_layer(m, idx, crossbar, model, noise, seed)?;
    }
    Ok(())
}

/// [`map_network`], then the drift compensation of `compensation` (none: the mapping as it is).
pub fn map_compensated(
    net: &crate::network::Network<f64>,
    device: &DeviceParams,
    crossbar: &CrossbarParams,
    compensation: &Compensation,
    seed: u64,
    model: TileModel<'_>,
) -> Result<MappedNetwork, MappingError> {
    let mut mapped = map_network(net, device, crossbar, seed, model)?;
    if compensation.mode == DriftCompensation::Global {
        compensate(&mut mapped, crossbar, model, &compensation.noise, seed)?;
    }
    Ok(mapped)
}
