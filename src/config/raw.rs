//! The serde image of a canonical circuit document: every section present, every key with a
//! literal default filled in, every quantity already converted to an SI value (see
//! `document.rs`). Types only; ranges and relations are checked by the resolver, which keeps
//! the spans to say where.
//!
//! The meaning, default and unit of every field are in [`super::schema::KEYS`], the one table
//! that `apcsim schema` renders; a test holds the field names here equal to its keys, so the
//! two cannot drift. Field names are the plain spellings (`g_max`): the values are already SI.

use super::echo::shorten;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// A quantity in SI units. The canonical document holds it as a decimal string (the loader
/// cannot build TOML floats), which this parses back exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Si(pub f64);

impl<'de> Deserialize<'de> for Si {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Si;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Si, E> {
                s.parse()
                    .map(Si)
                    .map_err(|_| E::custom(format!("expected a quantity, found `{}`", shorten(s))))
            }
        }
        d.deserialize_str(V)
    }
}

/// A non-negative integer (widths, counts, bits, seeds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("expected a non-negative integer, found {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A real number; TOML integers are accepted too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Real(pub f64);

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Real;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Real, E> {
                if v.is_nan() {
                    Err(E::custom("expected a number, found nan"))
                } else {
                    Ok(Real(v))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `levels`: an integer (checked >= 2 by the resolver) or "continuous".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Levels {
    Continuous,
    Count(u64),
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Levels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer >= 2 or \"continuous\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Levels, E> {
                if s == "continuous" {
                    Ok(Levels::Continuous)
                } else {
                    Err(E::custom(format!(
                        "expected an integer >= 2 or \"continuous\", found \"{}\"",
                        shorten(s)
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Levels, E> {
                u64::try_from(v).map(Levels::Count).map_err(|_| {
                    E::custom(format!(
                        "expected an integer >= 2 or \"continuous\", found {v}"
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Levels, E> {
                Ok(Levels::Count(v))
            }
        }
        d.deserialize_any(V)
    }
}

type S<T> = Spanned<T>;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDesign {
    pub network: S<RawNetwork>,
    pub device: S<RawDevice>,
    pub crossbar: S<RawCrossbar>,
    pub periphery: S<RawPeriphery>,
    pub dynamics: S<RawDynamics>,
    pub data: S<RawData>,
    pub run: S<RawRun>,
    pub update: S<RawUpdate>,
    pub train: S<RawTrain>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub input: Option<S<Count>>,
    pub hidden: Option<S<Vec<S<Count>>>>,
    pub width: S<Count>,
    pub depth: S<Count>,
    pub output: Option<S<Count>>,
    pub activation: S<String>,
    pub parameterisation: S<String>,
    pub skips: S<bool>,
    pub gamma0: S<Real>,
    pub output_precision: S<Real>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub preset: S<String>,
    pub g_min: S<Si>,
    pub g_max: S<Si>,
    pub levels: S<Levels>,
    pub programming: S<String>,
    pub programming_fraction: S<Real>,
    pub programming_coefficients: S<Vec<S<Si>>>,
    pub programming_g_ref: S<Si>,
    pub programming_step_dtod: S<Real>,
    pub devices_per_weight: S<Count>,
    pub stuck_off_fraction: S<Real>,
    pub stuck_on_fraction: S<Real>,
    pub drift: S<bool>,
    pub drift_nu_fit: S<String>,
    pub drift_nu_mean: S<Real>,
    pub drift_nu_std: S<Real>,
    pub drift_t0: S<Si>,
    pub drift_t_read: S<Si>,
    pub read_noise_thermal: S<bool>,
    pub read_noise_white: S<Real>,
    pub read_noise_flicker: S<String>,
    pub temperature: S<Si>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawCrossbar {
    pub rows: S<Count>,
    pub cols: S<Count>,
    pub v_read: S<Si>,
    pub wire_resistance: S<Si>,
    pub wire_capacitance: S<Si>,
    pub backward: S<String>,
    pub cell: S<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawPeriphery {
    pub technology: S<String>,
    pub amplifier_power: Option<S<Si>>,
    pub error_amp_bandwidth: S<Si>,
    pub offset_sigma: S<Si>,
    pub rail: S<Si>,
    pub open_loop_gain: S<Real>,
    pub amplifier_noise: S<Si>,
    pub amplifier_noise_corner: Option<S<Si>>,
    pub feedback_noise: S<bool>,
    pub gain_bandwidth: Option<S<Si>>,
    pub node_capacitance: S<Si>,
    pub supply: Option<S<Si>>,
    pub ktc_noise: S<bool>,
    pub digital_mac_energy: S<Si>,
    pub drift_compensation: S<String>,
    pub dac_bits: S<Count>,
    pub dac_range: S<Real>,
    pub dac_energy: Option<S<Si>>,
    pub dac_time: Option<S<Si>>,
    pub adc_bits: S<Count>,
    pub adc_range: S<Real>,
    pub adc_energy: Option<S<Si>>,
    pub adc_power: Option<S<Si>>,
    pub adc_time: Option<S<Si>>,
    pub clock: S<Si>,
    pub register_energy: Option<S<Si>>,
    pub error_ranging: S<String>,
    pub readout_band: S<Real>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDynamics {
    pub tau_z: S<Si>,
    pub tau_e: Option<S<Si>>,
    pub solver: S<String>,
    pub dt: Option<S<Si>>,
    pub t_max: S<Si>,
    pub settle_tol: S<Real>,
    pub steady_tol: Option<S<Real>>,
    pub step_tol: Option<S<Real>>,
    pub settle_window: Option<S<Si>>,
    pub rtol: S<Real>,
    pub atol: S<Real>,
    pub noise: S<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    pub source: S<String>,
    pub samples: Option<S<Count>>,
    pub offset: S<Count>,
    pub seed: Option<S<Count>>,
    pub input_std: S<Real>,
    pub target_std: S<Real>,
    pub target_noise: S<Real>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub batch: S<Count>,
    pub seed: S<Count>,
    pub trace_samples: S<Count>,
    pub trace_points: S<Count>,
    pub precision: S<String>,
    pub mode: S<String>,
    pub record_weights: S<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawUpdate {
    pub family: S<String>,
    pub dw_min: S<Si>,
    pub zero_point: S<Real>,
    pub dw_min_dtod: S<Real>,
    pub dw_min_dtod_log_normal: S<bool>,
    pub dw_min_std: S<Real>,
    pub up_down: S<Real>,
    pub up_down_dtod: S<Real>,
    pub g_max_dtod: S<Real>,
    pub g_min_dtod: S<Real>,
    pub gamma_up: S<Real>,
    pub gamma_down: S<Real>,
    pub gamma_dtod: S<Real>,
    pub mult_noise: S<bool>,
    pub exp_a: S<Real>,
    pub exp_b: S<Real>,
    pub exp_a_up: S<Real>,
    pub exp_a_down: S<Real>,
    pub exp_gamma_up: S<Real>,
    pub exp_gamma_down: S<Real>,
    pub pow_gamma: S<Real>,
    pub pow_gamma_dtod: S<Real>,
    pub pow_up_down: S<Real>,
    pub single_sided: S<bool>,
    pub refresh_upper: S<Real>,
    pub refresh_lower: S<Real>,
    pub pulse_width: S<Si>,
    pub pulse_energy: S<Si>,
    pub scheme: S<String>,
    pub bl: S<Count>,
    pub bl_management: S<bool>,
    pub update_management: S<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    pub epochs: S<Count>,
    pub batch: S<Count>,
    pub lr: S<Real>,
    pub train_samples: S<Count>,
    pub test_samples: S<Count>,
    pub shuffle: S<bool>,
    pub inference: S<String>,
    pub transient_every: S<Count>,
    pub digital_mac_time: S<Si>,
    pub checkpoint_every: S<Count>,
    pub lr_scaling: S<String>,
    pub step_interval: S<Si>,
}
