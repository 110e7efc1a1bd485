//! The pulsed-update families: the hidden parameters of each device (drawn once) and the
//! response of one device to one pulse (module documentation of [`super`] has the equations).

use super::{UpdateParamError, UpdateParams};
use crate::numeric::seeds::stream_seed;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The state dependence of a device's step (aihwkit's device classes).
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// Exactly dw_min per pulse: no bounds, no spread, no noise.
    Ideal,
    /// `ConstantStepDevice`.
    ConstantStep,
    /// `LinearStepDevice`: the step shrinks by `gamma` (relative) from g_zero to the bound.
    LinearStep {
        gamma_up: f64,
        gamma_down: f64,
        /// Device-to-device std of each gamma.
        gamma_dtod: f64,
        /// Multiplicative cycle-to-cycle noise (else additive on the constant part).
        mult_noise: bool,
    },
    /// `SoftBoundsDevice`: the step shrinks linearly to zero at each device's own bound.
    SoftBounds,
    /// `ExpStepDevice`.
    ExpStep {
        a: f64,
        b: f64,
        a_up: f64,
        a_down: f64,
        gamma_up: f64,
        gamma_down: f64,
    },
    /// `PowStepDevice`.
    PowStep {
        gamma: f64,
        gamma_dtod: f64,
        gamma_up_down: f64,
        gamma_up_down_dtod: f64,
    },
    /// `PiecewiseStepDevice`: node values of the relative step at evenly spaced points of
    /// [b_min, b_max], linearly interpolated.
    PiecewiseStep { up: Vec<f64>, down: Vec<f64> },
}

/// The family names a design file takes, in the order of [`Family::name`].
pub const FAMILY_NAMES: &[&str] = &[
    "ideal",
    "constant_step",
    "linear_step",
    "soft_bounds",
    "exp_step",
    "pow_step",
    "piecewise_step",
];

impl Family {
    pub fn name(&self) -> &'static str {
        match self {
            Family::Ideal => "ideal",
            Family::ConstantStep => "constant_step",
            Family::LinearStep { .. } => "linear_step",
            Family::SoftBounds => "soft_bounds",
            Family::ExpStep { .. } => "exp_step",
            Family::PowStep { .. } => "pow_step",
            Family::PiecewiseStep { .. } => "piecewise_step",
        }
    }

    pub(super) fn validate(&self) -> Result<(), UpdateParamError> {
        let err = |key, message: String| Err(UpdateParamError { key, message });
        match self {
            Family::LinearStep {
                gamma_up,
                gamma_down,
                gamma_dtod,
                ..
            } if !(gamma_up.is_finite() && gamma_down.is_finite() && *gamma_dtod >= 0.0) => {
                return err("gamma_up", "gammas must be finite, gamma_dtod >= 0".into());
            }
            Family::PowStep {
                gamma, gamma_dtod, ..
            } if !(*gamma > 0.0 && *gamma_dtod >= 0.0) => {
                return err("pow_gamma", format!("must be positive, got {gamma}"));
            }
            Family::PiecewiseStep { up, down } => {
                if up.is_empty() || up.len() != down.len() {
                    return err(
                        "piecewise_up",
                        format!(
                            "piecewise_up and piecewise_down need the same number (>= 1) of \
                             nodes, got {} and {}",
                            up.len(),
                            down.len()
                        ),
                    );
                }
                if up.iter().chain(down).any(|v| !(v.is_finite() && *v >= 0.0)) {
                    return err("piecewise_up", "node values must be >= 0".into());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The hidden parameters of one device: its bounds, its mean steps and the shape of its
/// state dependence (slopes of the linear step and soft bounds, exponents of the power step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceResponse {
    pub b_min: f64,
    pub b_max: f64,
    pub scale_up: f64,
    pub scale_down: f64,
    pub shape_up: f64,
    pub shape_down: f64,
}

/// Seeds of the update's streams are derived under this domain, apart from programming's.
pub(super) const UPDATE_DOMAIN: u64 = 0x5550_4454_0000_0000;

impl UpdateParams {
    /// The hidden parameters of `n` devices (row-major), drawn from the stream of
    /// (seed, array_id): six normals per device in a fixed order, so a device's draws do not
    /// depend on the family or on the other devices' values.
    pub fn draw_devices(&self, n: usize, seed: u64, array_id: u64) -> Vec<DeviceResponse> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(
            stream_seed(seed, UPDATE_DOMAIN),
            array_id,
        ));
        (0..n)
            .map(|_| {
                let mut xi = [0.0f64; 6];
                for v in &mut xi {
                    *v = StandardNormal.sample(&mut rng);
                }
                self.device_response(xi)
            })
            .collect()
    }

    /// One device's hidden parameters from its six normals (bounds max, min, gain, asymmetry,
    /// shape up, shape down).
    pub fn device_response(&self, xi: [f64; 6]) -> DeviceResponse {
        let zero = self.g_zero_siemens;
        if self.family == Family::Ideal {
            let dw = self.dw_min_siemens;
            // No upper bound; the floor is the window's (no device conducts below 0 S).
            return DeviceResponse {
                b_min: self.g_min_siemens,
                b_max: f64::INFINITY,
                scale_up: dw,
                scale_down: dw,
                shape_up: 0.0,
                shape_down: 0.0,
            };
        }
        let mut hi = (self.g_max_siemens - zero) * (1.0 + self.g_max_dtod * xi[0]);
        let mut lo = (self.g_min_siemens - zero) * (1.0 + self.g_min_dtod * xi[1]);
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        let (hi, lo) = (hi.abs(), -lo.abs());
        let gain = if self.dw_min_dtod_log_normal {
            (self.dw_min_dtod * xi[2]).exp()
        } else {
            1.0 + self.dw_min_dtod * xi[2]
        };
        let r = self.up_down_dtod * xi[3];
        let scale_up = ((self.up_down.min(0.0) + gain + r) * self.dw_min_siemens).abs();
        let scale_down = ((-self.up_down.max(0.0) + gain - r) * self.dw_min_siemens).abs();
        let slope = |gamma: f64, scale: f64, reference: f64| {
            if reference != 0.0 {
                -gamma * scale / reference
            } else {
                0.0
            }
        };
        let (shape_up, shape_down) = match &self.family {
            Family::LinearStep {
                gamma_up,
                gamma_down,
                gamma_dtod,
                ..
            } => (
                slope(
                    (gamma_up + gamma_dtod * xi[4]).abs(),
                    scale_up,
                    self.g_max_siemens - zero,
                ),
                slope(
                    (gamma_down + gamma_dtod * xi[5]).abs(),
                    scale_down,
                    self.g_min_siemens - zero,
                ),
            ),
            Family::SoftBounds => (slope(1.0, scale_up, hi), slope(1.0, scale_down, lo)),
            Family::PowStep {
                gamma,
                gamma_dtod,
                gamma_up_down,
                gamma_up_down_dtod,
            } => {
                let g = 1.0 + gamma_dtod * xi[4];
                let r = gamma_up_down_dtod * xi[5];
                (
                    ((gamma_up_down.min(0.0) + g + r) * gamma).abs(),
                    ((-gamma_up_down.max(0.0) + g - r) * gamma).abs(),
                )
            }
            _ => (0.0, 0.0),
        };
        DeviceResponse {
            b_min: (zero + lo).max(0.0),
            b_max: zero + hi,
            scale_up,
            scale_down,
            shape_up,
            shape_down,
        }
    }

    /// The conductance after one pulse on a device at `g`: up (potentiation) or down, with
    /// `xi` the pulse's standard normal (cycle-to-cycle noise).
    pub fn pulse(&self, dev: &DeviceResponse, g: f64, up: bool, xi: f64) -> f64 {
        let noise = 1.0 + self.dw_min_std * xi;
        let u = g - self.g_zero_siemens;
        let range = dev.b_max - dev.b_min;
        let (scale, shape) = if up {
            (dev.scale_up, dev.shape_up)
        } else {
            (dev.scale_down, dev.shape_down)
        };
        let step = match &self.family {
            Family::Ideal => {
                return if up {
                    g + scale
                } else {
                    (g - scale).max(dev.b_min)
                }
            }
            Family::ConstantStep => scale * noise,
            Family::LinearStep {
                mult_noise: false, ..
            } => shape * u + scale * noise,
            Family::LinearStep { .. } | Family::SoftBounds => (shape * u + scale) * noise,
            Family::ExpStep {
                a,
                b,
                a_up,
                a_down,
                gamma_up,
                gamma_down,
            } => {
                if range <= 0.0 {
                    return g;
                }
                let z = 2.0 * a * u / range + b;
                let y = if up {
                    1.0 - a_up * (gamma_up * z).exp()
                } else {
                    1.0 - a_down * (-gamma_down * z).exp()
                };
                y.max(0.0) * scale * noise
            }
            Family::PowStep { .. } => {
                if range <= 0.0 {
                    return g;
                }
                let room = if up { dev.b_max - g } else { g - dev.b_min };
                scale * (room / range).max(0.0).powf(shape) * noise
            }
            Family::PiecewiseStep { up: nu, down: nd } => {
                let nodes = if up { nu } else { nd };
                scale * piecewise(nodes, g, dev.b_min, dev.b_max) * noise
            }
        };
        let g = if up { g + step } else { g - step };
        g.clamp(dev.b_min, dev.b_max)
    }
}

/// aihwkit's interpolation of node values over [b_min, b_max].
fn piecewise(nodes: &[f64], g: f64, b_min: f64, b_max: f64) -> f64 {
    let sections = nodes.len() - 1;
    if sections == 0 || b_max <= b_min {
        return nodes[0];
    }
    let scaled = ((g - b_min) / (b_max - b_min) * sections as f64).max(0.0);
    let i = (scaled.floor() as usize).min(sections - 1);
    let t = (scaled - i as f64).min(1.0);
    (1.0 - t) * nodes[i] + t * nodes[i + 1]
}
