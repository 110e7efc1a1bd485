//! [dynamics]: the time constants of the nodes, the solver and its step, and when a run has
//! settled.

use super::resolver::{opt_sp, sp, Resolver, Result};
use crate::config::circuit::{Dynamics, SolverKind};
use crate::config::raw::{RawDynamics, RawPeriphery};
use crate::config::units::{format_number, format_quantity, Dimension};
use crate::hardware::params::{DeviceParams, PeripheryParams};
use serde_json::json;

/// Most steps a fixed-step run may take.
pub const MAX_STEPS: f64 = 1e9;

pub(super) fn dynamics(
    r: &mut Resolver,
    y: &RawDynamics,
    p: &RawPeriphery,
    device: &DeviceParams,
    periphery: &PeripheryParams,
) -> Result<Dynamics> {
    let (tau_z, tau_e) = time_constants(r, y, p, periphery.error_amp_bandwidth_hertz)?;
    let solver_name = y.solver.get_ref().as_str();
    let solver = SolverKind::from_name(solver_name)
        .ok_or_else(|| r.err(&y.solver.span(), format!("unknown solver {solver_name}")))?;
    let (dt, t_max) = step(r, y, solver, tau_z, tau_e)?;
    let settle_tol = y.settle_tol.get_ref().0;
    r.ensure(
        settle_tol > 0.0 && settle_tol < 1.0,
        &y.settle_tol.span(),
        || {
            format!(
                "settle_tol is relative and must lie in (0, 1), found {}",
                format_number(settle_tol)
            )
        },
    )?;
    let steady_tol = match &y.steady_tol {
        Some(v) => r.positive(v, "steady_tol")?,
        None => settle_tol / 100.0,
    };
    let settle_window = settle_window(r, y, tau_z, t_max)?;
    let dynamics = Dynamics {
        tau_z_seconds: tau_z,
        tau_e_seconds: tau_e,
        solver,
        dt_seconds: dt,
        t_max_seconds: t_max,
        settle_tol,
        steady_tol,
        settle_window_seconds: settle_window,
        rtol: r.positive(&y.rtol, "rtol")?,
        atol: r.positive(&y.atol, "atol")?,
        noisy: noisy(r, y, solver, device, periphery)?,
    };
    put_dynamics(r, y, &dynamics);
    Ok(dynamics)
}

/// (tau_z, tau_e); tau_e follows the error amplifier's bandwidth unless given, and a given
/// one must agree with a given bandwidth.
fn time_constants(
    r: &Resolver,
    y: &RawDynamics,
    p: &RawPeriphery,
    bandwidth: f64,
) -> Result<(f64, f64)> {
    let tau_z = r.positive(&y.tau_z, "tau_z")?;
    let tau_from_bandwidth = 1.0 / (2.0 * std::f64::consts::PI * bandwidth);
    let Some(t) = &y.tau_e else {
        return Ok((tau_z, tau_from_bandwidth));
    };
    let x = r.non_negative(t, "tau_e")?;
    let bw_span = p.error_amp_bandwidth.span();
    r.ensure(
        x == 0.0
            || !r.ctx.user_given(&bw_span)
            || (x - tau_from_bandwidth).abs() <= 1e-3 * tau_from_bandwidth,
        &t.span(),
        || {
            format!(
                "tau_e = {} contradicts periphery.error_amp_bandwidth = {} (which gives tau_e = \
                 1/(2 pi f_c) = {}); give one of them",
                format_quantity(x, Dimension::Time),
                format_quantity(bandwidth, Dimension::Frequency),
                format_quantity(tau_from_bandwidth, Dimension::Time)
            )
        },
    )?;
    Ok((tau_z, x))
}

/// (dt, t_max): the step (derived from the time constants unless given) fits in t_max, and a
/// fixed-step run takes at most [`MAX_STEPS`].
fn step(
    r: &Resolver,
    y: &RawDynamics,
    solver: SolverKind,
    tau_z: f64,
    tau_e: f64,
) -> Result<(f64, f64)> {
    let dt = match &y.dt {
        Some(v) => r.positive(v, "dt")?,
        None if tau_e > 0.0 => (tau_e / 4.0).min(tau_z / 100.0),
        None => tau_z / 100.0,
    };
    let t_max = r.positive(&y.t_max, "t_max")?;
    if solver.is_adaptive() {
        return Ok((dt, t_max));
    }
    let t_max_span = y.t_max.span();
    let dt_span = y.dt.as_ref().map(|v| v.span());
    let blame = dt_span
        .as_ref()
        .map_or(&t_max_span, |s| r.blame(s, &t_max_span));
    r.ensure(dt <= t_max, blame, || {
        format!(
            "dt ({}) is longer than t_max ({})",
            format_quantity(dt, Dimension::Time),
            format_quantity(t_max, Dimension::Time)
        )
    })?;
    r.ensure(t_max / dt <= MAX_STEPS, blame, || {
        format!(
            "t_max / dt = {:.3e} steps, more than {MAX_STEPS:e}; lengthen dt or shorten t_max",
            t_max / dt
        )
    })?;
    Ok((dt, t_max))
}

/// The trailing window of a noisy run (10 tau_z unless given), shorter than t_max.
fn settle_window(r: &Resolver, y: &RawDynamics, tau_z: f64, t_max: f64) -> Result<f64> {
    let window = match &y.settle_window {
        Some(v) => r.positive(v, "settle_window")?,
        None => 10.0 * tau_z,
    };
    let t_max_span = y.t_max.span();
    let window_span = y.settle_window.as_ref().map(|v| v.span());
    r.ensure(
        window < t_max,
        window_span
            .as_ref()
            .map_or(&t_max_span, |s| r.blame(s, &t_max_span)),
        || {
            format!(
                "the settle window ({}) must be shorter than t_max ({})",
                format_quantity(window, Dimension::Time),
                format_quantity(t_max, Dimension::Time)
            )
        },
    )?;
    Ok(window)
}

/// Whether the run integrates noise: `noise` on and some source present; the solver must
/// handle it.
fn noisy(
    r: &Resolver,
    y: &RawDynamics,
    solver: SolverKind,
    device: &DeviceParams,
    periphery: &PeripheryParams,
) -> Result<bool> {
    let sources: Vec<&str> = [
        (device.read_noise.thermal, "thermal read noise"),
        (device.read_noise.relative > 0.0, "relative read noise"),
        (periphery.ktc_noise, "kT/C noise"),
        (
            periphery.amplifier_noise_volts_per_root_hertz > 0.0,
            "amplifier noise",
        ),
    ]
    .into_iter()
    .filter_map(|(on, what)| on.then_some(what))
    .collect();
    let noisy = *y.noise.get_ref() && !sources.is_empty();
    r.ensure(!noisy || solver.handles_noise(), &y.solver.span(), || {
        format!(
            "{} cannot integrate noise ({} on); use euler or heun, or set dynamics.noise = false",
            solver.name(),
            sources.join(", ")
        )
    })?;
    Ok(noisy)
}

fn put_dynamics(r: &mut Resolver, y: &RawDynamics, d: &Dynamics) {
    r.put_all(
        "dynamics",
        vec![
            ("tau_z_seconds", json!(d.tau_z_seconds), sp(&y.tau_z)),
            ("tau_e_seconds", json!(d.tau_e_seconds), opt_sp(&y.tau_e)),
            ("solver", json!(d.solver.name()), sp(&y.solver)),
            ("dt_seconds", json!(d.dt_seconds), opt_sp(&y.dt)),
            ("t_max_seconds", json!(d.t_max_seconds), sp(&y.t_max)),
            ("settle_tol", json!(d.settle_tol), sp(&y.settle_tol)),
            ("steady_tol", json!(d.steady_tol), opt_sp(&y.steady_tol)),
            (
                "settle_window_seconds",
                json!(d.settle_window_seconds),
                opt_sp(&y.settle_window),
            ),
            ("rtol", json!(d.rtol), sp(&y.rtol)),
            ("atol", json!(d.atol), sp(&y.atol)),
            ("noise", json!(y.noise.get_ref()), sp(&y.noise)),
        ],
    );
}
