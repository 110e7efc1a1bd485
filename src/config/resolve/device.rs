//! [device]: the conductance window, levels, programming error, faults, drift and read noise
//! (the preset's values under the design's).

use super::resolver::{sp, Entry, Resolver, Result};
use crate::config::presets;
use crate::config::raw::{Levels, RawDevice};
use crate::config::units::{format_number, format_quantity, Dimension};
use crate::hardware::params::{DeviceParams, Drift, Flicker, NuFit, ProgrammingError, ReadNoise};
use serde_json::json;

pub(super) fn device(r: &mut Resolver, d: &RawDevice) -> Result<DeviceParams> {
    let (g_min, g_max) = window(r, d)?;
    let levels = levels(r, d)?;
    let programming = programming(r, d)?;
    let stuck_off = r.fraction(&d.stuck_off_fraction, "stuck_off_fraction")?;
    let stuck_on = r.fraction(&d.stuck_on_fraction, "stuck_on_fraction")?;
    r.ensure_relation(
        stuck_off + stuck_on <= 1.0,
        &d.stuck_on_fraction.span(),
        &d.stuck_off_fraction.span(),
        || {
            format!(
                "stuck_off_fraction + stuck_on_fraction = {} exceeds 1",
                format_number(stuck_off + stuck_on)
            )
        },
    )?;
    let drift = drift(r, d)?;
    let white = r.non_negative(&d.read_noise_white, "read_noise_white")?;
    let flicker = flicker(r, d, drift.is_some())?;
    let step_dtod = r.non_negative(&d.programming_step_dtod, "programming_step_dtod")?;
    let devices_per_weight = r.at_least(&d.devices_per_weight, 1, "devices_per_weight")?;
    let devices_per_weight = u32::try_from(devices_per_weight).map_err(|_| {
        r.err(
            &d.devices_per_weight.span(),
            format!("{devices_per_weight} devices per weight is more than 2^32"),
        )
    })?;
    let temperature = r.positive(&d.temperature, "the temperature")?;
    let preset_name = d.preset.get_ref().clone();
    let device = DeviceParams {
        name: if presets::is_path(&preset_name) {
            std::path::Path::new(&preset_name)
                .file_stem()
                .map_or(preset_name.clone(), |s| s.to_string_lossy().into_owned())
        } else {
            preset_name
        },
        g_min_siemens: g_min,
        g_max_siemens: g_max,
        levels,
        programming,
        step_dtod,
        devices_per_weight,
        stuck_off_fraction: stuck_off,
        stuck_on_fraction: stuck_on,
        drift,
        read_noise: ReadNoise {
            thermal: *d.read_noise_thermal.get_ref(),
            white_per_root_hertz: white,
            flicker,
            temperature_kelvin: temperature,
        },
    };
    put_device(r, d, &device);
    Ok(device)
}

/// (g_min, g_max), g_min below g_max.
fn window(r: &Resolver, d: &RawDevice) -> Result<(f64, f64)> {
    let g_min = r.non_negative(&d.g_min, "g_min")?;
    let g_max = r.positive(&d.g_max, "g_max")?;
    r.ensure_relation(g_min < g_max, &d.g_min.span(), &d.g_max.span(), || {
        format!(
            "g_min ({}) must be below g_max ({})",
            format_quantity(g_min, Dimension::Conductance),
            format_quantity(g_max, Dimension::Conductance)
        )
    })?;
    Ok((g_min, g_max))
}

/// The number of levels; `None`: continuous.
fn levels(r: &Resolver, d: &RawDevice) -> Result<Option<u32>> {
    match *d.levels.get_ref() {
        Levels::Continuous => Ok(None),
        Levels::Count(k) => {
            r.ensure(k >= 2, &d.levels.span(), || {
                format!("levels must be at least 2 (or \"continuous\"), found {k}")
            })?;
            let k = u32::try_from(k)
                .map_err(|_| r.err(&d.levels.span(), format!("{k} levels is more than 2^32")))?;
            Ok(Some(k))
        }
    }
}

/// The programming error of the selected mode; the other mode's parameters must be unset.
fn programming(r: &Resolver, d: &RawDevice) -> Result<ProgrammingError> {
    let mode = d.programming.get_ref().as_str();
    let fraction = r.fraction(&d.programming_fraction, "programming_fraction")?;
    let coeffs = coefficients(d);
    let coeffs_span = d.programming_coefficients.span();
    if mode == "polynomial" {
        sigma_polynomial(r, d, &coeffs)?;
    }
    let g_ref = r.positive(&d.programming_g_ref, "programming_g_ref")?;
    r.unused_unless(
        &d.programming_fraction.span(),
        &[fraction],
        mode == "constant",
        "device.programming = \"constant\"",
    )?;
    for (span, value) in [
        (&coeffs_span, coeffs.clone()),
        (&d.programming_g_ref.span(), vec![g_ref]),
    ] {
        r.unused_unless(
            span,
            &value,
            mode == "polynomial",
            "device.programming = \"polynomial\"",
        )?;
    }
    Ok(match mode {
        "constant" => ProgrammingError::Constant {
            fraction_of_g_max: fraction,
        },
        "polynomial" => ProgrammingError::Polynomial {
            coefficients_siemens: coeffs,
            g_ref_siemens: g_ref,
        },
        _ => ProgrammingError::None,
    })
}

fn coefficients(d: &RawDevice) -> Vec<f64> {
    d.programming_coefficients
        .get_ref()
        .iter()
        .map(|c| c.get_ref().0)
        .collect()
}

/// The drift law when `drift` is on; its parameters must be unset otherwise.
fn drift(r: &Resolver, d: &RawDevice) -> Result<Option<Drift>> {
    let on = *d.drift.get_ref();
    let nu_mean = r.non_negative(&d.drift_nu_mean, "drift_nu_mean")?;
    let nu_std = r.non_negative(&d.drift_nu_std, "drift_nu_std")?;
    let t0 = r.positive(&d.drift_t0, "drift_t0")?;
    let t_read = r.non_negative(&d.drift_t_read, "drift_t_read (a time after programming)")?;
    let fit = d.drift_nu_fit.get_ref().as_str();
    for (span, value) in [
        (d.drift_nu_mean.span(), nu_mean),
        (d.drift_nu_std.span(), nu_std),
    ] {
        r.unused_unless(
            &span,
            &[value],
            on && fit == "constant",
            "device.drift = true and drift_nu_fit = \"constant\"",
        )?;
    }
    for (span, value) in [(d.drift_t0.span(), t0), (d.drift_t_read.span(), t_read)] {
        r.unused_unless(&span, &[value], on, "device.drift = true")?;
    }
    let nu = match fit {
        "aihwkit_pcm" => NuFit::AihwkitPcm,
        "aihwkit_hermes" => NuFit::AihwkitHermes,
        _ => NuFit::Constant {
            mean: nu_mean,
            std: nu_std,
        },
    };
    Ok(on.then_some(Drift {
        nu,
        t0_seconds: t0,
        t_read_seconds: t_read,
    }))
}

/// The sigma polynomial: at least one coefficient, each finite, and sigma >= 0 over the window
/// (a fit with negative terms, like aihwkit's, is fine where its sum stays positive).
fn sigma_polynomial(r: &Resolver, d: &RawDevice, coeffs: &[f64]) -> Result<()> {
    let list = d.programming_coefficients.get_ref();
    r.ensure(
        !coeffs.is_empty(),
        &d.programming_coefficients.span(),
        || "the sigma polynomial needs at least one coefficient (c0)".to_string(),
    )?;
    for c in list {
        r.ensure(c.get_ref().0.is_finite(), &c.span(), || {
            format!(
                "a coefficient of the sigma polynomial must be finite, found {}",
                c.get_ref().0
            )
        })?;
    }
    let (g_max, g_ref) = (d.g_max.get_ref().0, d.programming_g_ref.get_ref().0);
    let grid = 1000;
    let low = (0..=grid)
        .map(|k| g_max / g_ref * k as f64 / grid as f64)
        .map(|x| (x, coeffs.iter().rev().fold(0.0, |acc, &c| acc * x + c)))
        .find(|&(_, sigma)| sigma < 0.0);
    r.ensure(low.is_none(), &d.programming_coefficients.span(), || {
        let (x, sigma) = low.unwrap_or_default();
        format!(
            "the sigma polynomial is negative in the window: {} at G = {}",
            format_quantity(sigma, Dimension::Conductance),
            format_quantity(x * g_ref, Dimension::Conductance)
        )
    })
}

/// The accumulated 1/f noise; it reads the drift clock, so it needs drift on.
fn flicker(r: &Resolver, d: &RawDevice, drift: bool) -> Result<Flicker> {
    let fit = match d.read_noise_flicker.get_ref().as_str() {
        "aihwkit_pcm" => Flicker::AihwkitPcm,
        "aihwkit_hermes" => Flicker::AihwkitHermes,
        _ => Flicker::None,
    };
    r.ensure(
        fit == Flicker::None || drift,
        &d.read_noise_flicker.span(),
        || "the accumulated 1/f noise needs device.drift = true (its clock)".to_string(),
    )?;
    Ok(fit)
}

fn put_device(r: &mut Resolver, d: &RawDevice, device: &DeviceParams) {
    let (fraction, coeffs, g_ref) = (
        d.programming_fraction.get_ref().0,
        coefficients(d),
        d.programming_g_ref.get_ref().0,
    );
    r.put_all(
        "device",
        vec![
            ("preset", json!(d.preset.get_ref()), sp(&d.preset)),
            ("g_min_siemens", json!(device.g_min_siemens), sp(&d.g_min)),
            ("g_max_siemens", json!(device.g_max_siemens), sp(&d.g_max)),
            (
                "levels",
                device.levels.map_or(json!("continuous"), |k| json!(k)),
                sp(&d.levels),
            ),
            (
                "programming",
                json!(d.programming.get_ref()),
                sp(&d.programming),
            ),
            (
                "programming_fraction",
                json!(fraction),
                sp(&d.programming_fraction),
            ),
            (
                "programming_coefficients_siemens",
                json!(coeffs),
                sp(&d.programming_coefficients),
            ),
            (
                "programming_g_ref_siemens",
                json!(g_ref),
                sp(&d.programming_g_ref),
            ),
            (
                "stuck_off_fraction",
                json!(device.stuck_off_fraction),
                sp(&d.stuck_off_fraction),
            ),
            (
                "stuck_on_fraction",
                json!(device.stuck_on_fraction),
                sp(&d.stuck_on_fraction),
            ),
            (
                "programming_step_dtod",
                json!(device.step_dtod),
                sp(&d.programming_step_dtod),
            ),
            (
                "devices_per_weight",
                json!(device.devices_per_weight),
                sp(&d.devices_per_weight),
            ),
        ],
    );
    r.put_all("device", drift_and_noise_entries(d, device));
}

/// The resolved drift and read-noise keys of [`put_device`].
fn drift_and_noise_entries<'a>(d: &'a RawDevice, device: &DeviceParams) -> Vec<Entry<'a>> {
    vec![
        ("drift", json!(device.drift.is_some()), sp(&d.drift)),
        (
            "drift_nu_fit",
            json!(d.drift_nu_fit.get_ref()),
            sp(&d.drift_nu_fit),
        ),
        (
            "drift_nu_mean",
            json!(d.drift_nu_mean.get_ref().0),
            sp(&d.drift_nu_mean),
        ),
        (
            "drift_nu_std",
            json!(d.drift_nu_std.get_ref().0),
            sp(&d.drift_nu_std),
        ),
        (
            "drift_t0_seconds",
            json!(d.drift_t0.get_ref().0),
            sp(&d.drift_t0),
        ),
        (
            "drift_t_read_seconds",
            json!(d.drift_t_read.get_ref().0),
            sp(&d.drift_t_read),
        ),
        (
            "read_noise_thermal",
            json!(device.read_noise.thermal),
            sp(&d.read_noise_thermal),
        ),
        (
            "read_noise_white",
            json!(device.read_noise.white_per_root_hertz),
            sp(&d.read_noise_white),
        ),
        (
            "read_noise_flicker",
            json!(d.read_noise_flicker.get_ref()),
            sp(&d.read_noise_flicker),
        ),
        (
            "temperature_kelvin",
            json!(device.read_noise.temperature_kelvin),
            sp(&d.temperature),
        ),
    ]
}
