//! [update]: how a weight update is written into the devices (the pulsed-update family of
//! `hardware::update`, its spreads, and the scheme), on the device's conductance window.

use super::resolver::{sp, Resolver, Result};
use crate::config::raw::RawUpdate;
use crate::hardware::params::DeviceParams;
use crate::hardware::update::{Family, Refresh, Scheme, UpdateDesign, UpdateParams};
use serde_json::json;
use std::ops::Range;

pub(super) fn update(
    r: &mut Resolver,
    u: &RawUpdate,
    device: &DeviceParams,
) -> Result<UpdateDesign> {
    let real = |v: &toml::Spanned<crate::config::raw::Real>| v.get_ref().0;
    let family = match u.family.get_ref().as_str() {
        "ideal" => Family::Ideal,
        "constant_step" => Family::ConstantStep,
        "linear_step" => Family::LinearStep {
            gamma_up: real(&u.gamma_up),
            gamma_down: real(&u.gamma_down),
            gamma_dtod: real(&u.gamma_dtod),
            mult_noise: *u.mult_noise.get_ref(),
        },
        "soft_bounds" => Family::SoftBounds,
        "exp_step" => Family::ExpStep {
            a: real(&u.exp_a),
            b: real(&u.exp_b),
            a_up: real(&u.exp_a_up),
            a_down: real(&u.exp_a_down),
            gamma_up: real(&u.exp_gamma_up),
            gamma_down: real(&u.exp_gamma_down),
        },
        "pow_step" => Family::PowStep {
            gamma: real(&u.pow_gamma),
            gamma_dtod: real(&u.pow_gamma_dtod),
            gamma_up_down: real(&u.pow_up_down),
            gamma_up_down_dtod: 0.0,
        },
        other => {
            return Err(r.err(
                &u.family.span(),
                format!("family {other} takes its node values from the library, not a design file"),
            ))
        }
    };
    let zero_point = r.fraction(&u.zero_point, "zero_point")?;
    let (g_min, g_max) = (device.g_min_siemens, device.g_max_siemens);
    let params = UpdateParams {
        family,
        g_min_siemens: g_min,
        g_max_siemens: g_max,
        g_zero_siemens: g_min + zero_point * (g_max - g_min),
        dw_min_siemens: u.dw_min.get_ref().0,
        dw_min_dtod: real(&u.dw_min_dtod),
        dw_min_dtod_log_normal: *u.dw_min_dtod_log_normal.get_ref(),
        dw_min_std: real(&u.dw_min_std),
        up_down: real(&u.up_down),
        up_down_dtod: real(&u.up_down_dtod),
        g_max_dtod: real(&u.g_max_dtod),
        g_min_dtod: real(&u.g_min_dtod),
        pulse_width_seconds: u.pulse_width.get_ref().0,
        pulse_energy_joules: u.pulse_energy.get_ref().0,
        single_sided: u.single_sided.get_ref().then(|| Refresh {
            upper: real(&u.refresh_upper),
            lower: real(&u.refresh_lower),
        }),
    };
    params
        .validate()
        .map_err(|e| r.err(&span_of(u, e.key), e.message))?;
    let scheme = match u.scheme.get_ref().as_str() {
        "ideal" => Scheme::Ideal,
        "deterministic" => Scheme::Deterministic,
        _ => Scheme::Stochastic {
            bl: u32::try_from(r.at_least(&u.bl, 1, "bl")?)
                .map_err(|_| r.err(&u.bl.span(), "bl is more than 2^32"))?,
            bl_management: *u.bl_management.get_ref(),
            update_management: *u.update_management.get_ref(),
        },
    };
    put_update(r, u);
    Ok(UpdateDesign { params, scheme })
}

/// Where the key a validation names was written.
fn span_of(u: &RawUpdate, key: &str) -> Range<usize> {
    match key {
        "zero_point" => u.zero_point.span(),
        "dw_min_dtod" => u.dw_min_dtod.span(),
        "dw_min_std" => u.dw_min_std.span(),
        "up_down" => u.up_down.span(),
        "up_down_dtod" => u.up_down_dtod.span(),
        "g_max_dtod" => u.g_max_dtod.span(),
        "g_min_dtod" => u.g_min_dtod.span(),
        "pulse_width" => u.pulse_width.span(),
        "pulse_energy" => u.pulse_energy.span(),
        "refresh_upper" => u.refresh_upper.span(),
        "gamma_up" => u.gamma_up.span(),
        "pow_gamma" => u.pow_gamma.span(),
        _ => u.dw_min.span(),
    }
}

fn put_update(r: &mut Resolver, u: &RawUpdate) {
    let real = |v: &toml::Spanned<crate::config::raw::Real>| (json!(v.get_ref().0), sp(v));
    let mut entries = vec![
        ("family", json!(u.family.get_ref()), sp(&u.family)),
        ("scheme", json!(u.scheme.get_ref()), sp(&u.scheme)),
        ("dw_min_siemens", json!(u.dw_min.get_ref().0), sp(&u.dw_min)),
        (
            "pulse_width_seconds",
            json!(u.pulse_width.get_ref().0),
            sp(&u.pulse_width),
        ),
        (
            "pulse_energy_joules",
            json!(u.pulse_energy.get_ref().0),
            sp(&u.pulse_energy),
        ),
        ("bl", json!(u.bl.get_ref().0), sp(&u.bl)),
    ];
    for (k, v) in [
        ("dw_min_dtod_log_normal", &u.dw_min_dtod_log_normal),
        ("mult_noise", &u.mult_noise),
        ("single_sided", &u.single_sided),
        ("bl_management", &u.bl_management),
        ("update_management", &u.update_management),
    ] {
        entries.push((k, json!(v.get_ref()), sp(v)));
    }
    for (k, v) in [
        ("zero_point", &u.zero_point),
        ("dw_min_dtod", &u.dw_min_dtod),
        ("dw_min_std", &u.dw_min_std),
        ("up_down", &u.up_down),
        ("up_down_dtod", &u.up_down_dtod),
        ("g_max_dtod", &u.g_max_dtod),
        ("g_min_dtod", &u.g_min_dtod),
        ("gamma_up", &u.gamma_up),
        ("gamma_down", &u.gamma_down),
        ("gamma_dtod", &u.gamma_dtod),
        ("exp_a", &u.exp_a),
        ("exp_b", &u.exp_b),
        ("exp_a_up", &u.exp_a_up),
        ("exp_a_down", &u.exp_a_down),
        ("exp_gamma_up", &u.exp_gamma_up),
        ("exp_gamma_down", &u.exp_gamma_down),
        ("pow_gamma", &u.pow_gamma),
        ("pow_gamma_dtod", &u.pow_gamma_dtod),
        ("pow_up_down", &u.pow_up_down),
        ("refresh_upper", &u.refresh_upper),
        ("refresh_lower", &u.refresh_lower),
    ] {
        let (value, span) = real(v);
        entries.push((k, value, span));
    }
    r.put_all("update", entries);
}
