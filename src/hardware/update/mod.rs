//! Writing a weight update into devices by programming pulses: the pulsed-update families of a
//! device (how far one pulse moves a conductance, and how that depends on where it is), the
//! device-to-device spread of those responses, the cycle-to-cycle noise of every pulse, and the
//! schemes that turn an intended outer-product update into pulses on a differential pair array.
//!
//! The families and their parameters have the meanings IBM aihwkit gives them, carried from
//! aihwkit's normalised weights into conductances: aihwkit's weight w is the conductance
//! measured from the device's zero point, u = G - g_zero (aihwkit's w = 0; the middle of the
//! window for a device with symmetric bounds), and aihwkit's bounds w_min, w_max are
//! g_min - g_zero and g_max - g_zero. `dw_min` is the mean step of one pulse at the zero point.
//!
//! Per device, drawn once (device-to-device, "dtod", xi ~ N(0, 1) each):
//!
//! ```text
//! b_max = g_zero + (g_max - g_zero)(1 + g_max_dtod xi)     b_min = g_zero + (g_min - g_zero)(1 + g_min_dtod xi)
//! gain  = 1 + dw_min_dtod xi   (exp(dw_min_dtod xi) when log-normal)      r = up_down_dtod xi
//! scale_up   = (min(up_down, 0) + gain + r) dw_min      scale_down = (-max(up_down, 0) + gain - r) dw_min
//! ```
//!
//! (absolute values of the scales; bounds swapped if reversed and kept on their side of
//! g_zero: aihwkit's `enforce_consistency`). Per pulse, with sigma = `dw_min_std` and a fresh
//! xi (cycle-to-cycle), the families move G up (potentiation) or down (depression) by:
//!
//! | family | up | down |
//! |---|---|---|
//! | constant step | scale_up (1 + sigma xi) | scale_down (1 + sigma xi) |
//! | linear step | (scale_up + s_up u)(1 + sigma xi) | (scale_down + s_down u)(1 + sigma xi) |
//! | soft bounds | scale_up (1 - u / (b_max - g_zero))(1 + sigma xi) | scale_down (1 - u / (b_min - g_zero))(1 + sigma xi) |
//! | exponential step | max(1 - A_up e^{gamma_up z}, 0) scale_up (1 + sigma xi) | max(1 - A_down e^{-gamma_down z}, 0) scale_down (1 + sigma xi) |
//! | power step | scale_up ((b_max - G)/(b_max - b_min))^{gamma_up} (1 + sigma xi) | scale_down ((G - b_min)/(b_max - b_min))^{gamma_down} (1 + sigma xi) |
//! | piecewise step | scale_up (interpolated node value) (1 + sigma xi) | scale_down (interpolated node value) (1 + sigma xi) |
//!
//! with s_up = -gamma_up' scale_up / (g_max - g_zero), s_down = -gamma_down' scale_down /
//! (g_min - g_zero), gamma' = |gamma + gamma_dtod xi| (linear step; additive noise
//! `scale (1 + sigma xi) + s u` when `mult_noise` is off), z = 2 a u / (b_max - b_min) + b
//! (exponential step), and the power step's exponents spread as aihwkit's `pow_gamma_dtod`,
//! `pow_up_down`. After every pulse G is clipped to [b_min, b_max]. The `ideal` family moves G
//! by exactly dw_min per pulse, without spread or noise, and without bounds but the window's
//! floor g_min (no device conducts below 0 S), where a depressing pulse leaves it.
//!
//! Sign convention: aihwkit writes W <- W - lr d x^T and calls a pulse of sign(x) sign(d) > 0
//! a *decrease*. apcsim's schemes take the intended change itself, dG = lr x d^T (pass
//! d = -gradient for aihwkit's descent step): a positive x_i d_j potentiates the pair's
//! difference G+ - G-.
//!
//! # Reference
//! - IBM aihwkit, `src/rpucuda/rpu_pulsed_device.cpp` (`PulsedRPUDevice::populate`: the dtod
//!   draws), `rpu_constantstep_device.cpp`, `rpu_linearstep_device.cpp` (`update_once_mult`,
//!   `update_once_add`; soft bounds are its `ls_decrease = 1` case with per-device bound
//!   references), `rpu_expstep_device.cpp`, `rpu_powstep_device.cpp`,
//!   `rpu_piecewisestep_device.cpp` (`update_once`), `rpu_onesided_device.cpp` (refresh
//!   criterion), `rpu_pulsed_meta_parameter.cpp` (`calculateBlAB`, `performUpdateManagement`)
//!   and `sparse_bit_line_maker.cpp` (bit-stream probabilities).
//! - T. Gokmen and Y. Vlasov, "Acceleration of deep neural network training with resistive
//!   cross-point devices: design considerations", Front. Neurosci. 10:333 (2016): the stochastic
//!   pulse-coincidence outer-product update.

pub mod family;
mod refresh;
pub mod scheme;

pub use family::{DeviceResponse, Family};
pub use scheme::{PairDevices, PulsedPair, Scheme, UpdateSetup, UpdateStats};

/// Why a set of update parameters is unusable: the key at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct UpdateParamError {
    pub key: &'static str,
    pub message: String,
}

/// The refresh of a single-sided pair (aihwkit's `OneSidedUnitCell`): both devices reset and
/// the difference reprogrammed when one side has climbed past `upper` of its range while the
/// other is past `lower`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Refresh {
    pub upper: f64,
    pub lower: f64,
}

/// A design's update: the devices' response and the scheme that writes with it.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateDesign {
    pub params: UpdateParams,
    pub scheme: Scheme,
}

/// How a device responds to programming pulses (siemens, seconds, joules).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateParams {
    pub family: Family,
    /// Mean bounds of the update (the device's window).
    pub g_min_siemens: f64,
    pub g_max_siemens: f64,
    /// aihwkit's w = 0: where `dw_min` is the mean step.
    pub g_zero_siemens: f64,
    /// Mean step of one pulse at g_zero.
    pub dw_min_siemens: f64,
    /// Device-to-device std of the step, relative to dw_min.
    pub dw_min_dtod: f64,
    /// Draw that spread log-normally (gain = exp(dw_min_dtod xi)).
    pub dw_min_dtod_log_normal: bool,
    /// Cycle-to-cycle std of every pulse, relative to its mean step.
    pub dw_min_std: f64,
    /// Up/down asymmetry: > 0 makes the down steps smaller by (1 - up_down), < 0 the up steps.
    pub up_down: f64,
    /// Device-to-device std of the asymmetry, relative to dw_min.
    pub up_down_dtod: f64,
    /// Device-to-device relative spread of each bound about g_zero.
    pub g_max_dtod: f64,
    pub g_min_dtod: f64,
    /// Duration of one pulse (one slot of the stochastic bit streams).
    pub pulse_width_seconds: f64,
    /// Energy one pulse dissipates in a device.
    pub pulse_energy_joules: f64,
    /// `Some`: single-sided devices (potentiation only) with refresh.
    pub single_sided: Option<Refresh>,
}

impl UpdateParams {
    /// An exact update on a window: the `ideal` family, no spread, no noise, no cost.
    pub fn ideal(g_min_siemens: f64, g_max_siemens: f64, dw_min_siemens: f64) -> Self {
        UpdateParams {
            family: Family::Ideal,
            g_min_siemens,
            g_max_siemens,
            g_zero_siemens: 0.5 * (g_min_siemens + g_max_siemens),
            dw_min_siemens,
            dw_min_dtod: 0.0,
            dw_min_dtod_log_normal: false,
            dw_min_std: 0.0,
            up_down: 0.0,
            up_down_dtod: 0.0,
            g_max_dtod: 0.0,
            g_min_dtod: 0.0,
            pulse_width_seconds: 0.0,
            pulse_energy_joules: 0.0,
            single_sided: None,
        }
    }

    /// Checks ranges and relations; the error names the key.
    pub fn validate(&self) -> Result<(), UpdateParamError> {
        let err = |key, message: String| Err(UpdateParamError { key, message });
        let (lo, hi, zero) = (self.g_min_siemens, self.g_max_siemens, self.g_zero_siemens);
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi) {
            return err(
                "g_max",
                format!("the bounds must satisfy 0 <= g_min < g_max, got [{lo:e}, {hi:e}] S"),
            );
        }
        if !(lo..=hi).contains(&zero) {
            return err(
                "zero_point",
                format!("g_zero = {zero:e} S lies outside the window [{lo:e}, {hi:e}] S"),
            );
        }
        if !(self.dw_min_siemens.is_finite() && self.dw_min_siemens > 0.0) {
            return err(
                "dw_min",
                format!("the step must be positive, got {:e} S", self.dw_min_siemens),
            );
        }
        if self.dw_min_siemens > hi - lo {
            return err(
                "dw_min",
                format!(
                    "the step {:e} S is larger than the conductance window {:e} S",
                    self.dw_min_siemens,
                    hi - lo
                ),
            );
        }
        for (key, v) in [
            ("dw_min_dtod", self.dw_min_dtod),
            ("dw_min_std", self.dw_min_std),
            ("up_down_dtod", self.up_down_dtod),
            ("g_max_dtod", self.g_max_dtod),
            ("g_min_dtod", self.g_min_dtod),
            ("pulse_width", self.pulse_width_seconds),
            ("pulse_energy", self.pulse_energy_joules),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return err(key, format!("must be a finite number >= 0, got {v}"));
            }
        }
        if !(self.up_down.is_finite() && self.up_down.abs() < 1.0) {
            return err(
                "up_down",
                format!("the asymmetry must lie in (-1, 1), got {}", self.up_down),
            );
        }
        if let Some(r) = self.single_sided {
            if !(0.0 <= r.lower && r.lower <= r.upper && r.upper <= 1.0) {
                return err(
                    "refresh_upper",
                    format!(
                        "the refresh thresholds must satisfy 0 <= lower <= upper <= 1, got \
                         lower {} and upper {}",
                        r.lower, r.upper
                    ),
                );
            }
        }
        self.family.validate()
    }

    /// The mean change of the pair's difference G+ - G- per coincidence at the zero point:
    /// dw_min on single-sided pairs (one device potentiated), 2 dw_min on bidirectional pairs
    /// (one device up, the other down). The schemes' weight granularity.
    pub fn pair_step_siemens(&self) -> f64 {
        if self.single_sided.is_some() {
            self.dw_min_siemens
        } else {
            2.0 * self.dw_min_siemens
        }
    }
}
