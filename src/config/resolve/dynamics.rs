//! [dynamics]: the time constants of the nodes, the solver and its step, and when a run has
//! settled.

use super::resolver::{opt_sp, sp, Resolver, Result};
use crate::config::circuit::{max_stable_step, Dynamics, SolverKind};
use crate::config::raw::{RawDynamics, RawPeriphery};
use crate::config::units::{format_number, format_quantity, Dimension};
use crate::hardware::params::{DeviceParams, PeripheryParams};
use serde_json::json;
use std::ops::Range;

/// Most steps a fixed-step run may take.
pub const MAX_STEPS: f64 = 1e9;

/// The dynamics, and what sets its step: `dynamics.dt`, or the time constant it is derived
/// from.
pub(super) fn dynamics(
    r: &mut Resolver,
    y: &RawDynamics,
    p: &RawPeriphery,
    device: &DeviceParams,
    periphery: &PeripheryParams,
) -> Result<(Dynamics, Range<usize>)> {
    let tau = time_constants(r, y, p, periphery.error_amp_bandwidth_hertz)?;
    let solver_name = y.solver.get_ref().as_str();
    let solver = SolverKind::from_name(solver_name)
        .ok_or_else(|| r.err(&y.solver.span(), format!("unknown solver {solver_name}")))?;
    let (dt, t_max, dt_span) = step(r, y, solver, &tau)?;
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
    let step_tol = match &y.step_tol {
        Some(v) => r.positive(v, "step_tol")?,
        None => settle_tol / 100.0,
    };
    let settle_window = settle_window(r, y, &tau, t_max)?;
    let dynamics = Dynamics {
        tau_z_seconds: tau.z,
        tau_e_seconds: tau.e,
        solver,
        dt_seconds: dt,
        t_max_seconds: t_max,
        settle_tol,
        steady_tol,
        step_tol,
        settle_window_seconds: settle_window,
        rtol: r.positive(&y.rtol, "rtol")?,
        atol: r.positive(&y.atol, "atol")?,
        noisy: noisy(r, y, solver, device, periphery)?,
    };
    put_dynamics(r, y, &dynamics);
    Ok((dynamics, dt_span))
}

/// The time constants of the value and error nodes, and the values that set them.
struct TimeConstants {
    z: f64,
    z_span: Range<usize>,
    /// 0: algebraic error nodes.
    e: f64,
    /// `dynamics.tau_e`, or the error amplifier's bandwidth it follows.
    e_span: Range<usize>,
    /// How tau_e was set, for messages ("tau_e = 1/(2 pi f_c) = 3.1831ns").
    e_text: String,
    /// How to lengthen tau_e.
    e_fix: &'static str,
}

/// tau_z and tau_e; tau_e follows the error amplifier's bandwidth unless given, and a given
/// one must agree with a given bandwidth.
fn time_constants(
    r: &Resolver,
    y: &RawDynamics,
    p: &RawPeriphery,
    bandwidth: f64,
) -> Result<TimeConstants> {
    let z = r.positive(&y.tau_z, "tau_z")?;
    let tau_from_bandwidth = 1.0 / (2.0 * std::f64::consts::PI * bandwidth);
    let bw_span = p.error_amp_bandwidth.span();
    let Some(t) = &y.tau_e else {
        return Ok(TimeConstants {
            z,
            z_span: y.tau_z.span(),
            e: tau_from_bandwidth,
            e_span: bw_span,
            e_text: format!(
                "tau_e = 1/(2 pi f_c) = {} with f_c = periphery.error_amp_bandwidth = {}",
                format_quantity(tau_from_bandwidth, Dimension::Time),
                format_quantity(bandwidth, Dimension::Frequency)
            ),
            e_fix: "lower periphery.error_amp_bandwidth",
        });
    };
    let e = r.non_negative(t, "tau_e")?;
    r.ensure(
        e == 0.0
            || !r.ctx.user_given(&bw_span)
            || (e - tau_from_bandwidth).abs() <= 1e-3 * tau_from_bandwidth,
        &t.span(),
        || {
            format!(
                "tau_e = {} contradicts periphery.error_amp_bandwidth = {} (which gives tau_e = \
                 1/(2 pi f_c) = {}); give one of them; {}",
                format_quantity(e, Dimension::Time),
                format_quantity(bandwidth, Dimension::Frequency),
                format_quantity(tau_from_bandwidth, Dimension::Time),
                r.cite(&bw_span)
            )
        },
    )?;
    Ok(TimeConstants {
        z,
        z_span: y.tau_z.span(),
        e,
        e_span: t.span(),
        e_text: format!("tau_e = {}", format_quantity(e, Dimension::Time)),
        e_fix: "lengthen dynamics.tau_e",
    })
}

/// (dt, t_max, what sets dt): the step (derived from the time constants unless given) fits in t_max, a
/// fixed-step run takes at most [`MAX_STEPS`], and its explicit step is stable on both kinds
/// of node ([`max_stable_step`]).
fn step(
    r: &Resolver,
    y: &RawDynamics,
    solver: SolverKind,
    tau: &TimeConstants,
) -> Result<(f64, f64, Range<usize>)> {
    // A derived step answers to the time constant it was derived from.
    let (dt, dt_span, dt_text) = match &y.dt {
        Some(v) => {
            let dt = r.positive(v, "dt")?;
            (dt, v.span(), format_quantity(dt, Dimension::Time))
        }
        None if solver.exact_error_nodes() => {
            let dt = tau.z / 20.0;
            let text = format!("tau_z / 20 = {}", format_quantity(dt, Dimension::Time));
            (dt, tau.z_span.clone(), text)
        }
        None if tau.e > 0.0 && tau.e / 4.0 < tau.z / 100.0 => {
            let dt = tau.e / 4.0;
            let text = format!("tau_e / 4 = {}", format_quantity(dt, Dimension::Time));
            (dt, tau.e_span.clone(), text)
        }
        None => {
            let dt = tau.z / 100.0;
            let text = format!("tau_z / 100 = {}", format_quantity(dt, Dimension::Time));
            (dt, tau.z_span.clone(), text)
        }
    };
    let t_max = r.positive(&y.t_max, "t_max")?;
    if solver.is_adaptive() {
        return Ok((dt, t_max, dt_span));
    }
    let t_max_span = y.t_max.span();
    let time = |x: f64| format_quantity(x, Dimension::Time);
    r.ensure_relation(dt <= t_max, &dt_span, &t_max_span, || {
        format!("dt ({dt_text}) is longer than t_max ({})", time(t_max))
    })?;
    r.ensure_relation(t_max / dt <= MAX_STEPS, &dt_span, &t_max_span, || {
        format!(
            "t_max / dt = {:.3e} steps, more than {MAX_STEPS:e}; lengthen dt or shorten t_max",
            t_max / dt
        )
    })?;
    let unstable = |tau_name: &str, tau_text: &str, nodes: &str, fix: &str, limit: f64| {
        format!(
            "dt = {dt_text} is more than 2 {tau_name} = {} ({tau_text}): the explicit step of the \
             {nodes} nodes is unstable; shorten dynamics.dt to at most {} or {fix}",
            time(limit),
            time(limit)
        )
    };
    let e_limit = if solver.exact_error_nodes() {
        f64::INFINITY
    } else {
        max_stable_step(tau.e)
    };
    r.ensure_relation(dt <= e_limit, &dt_span, &tau.e_span, || {
        unstable("tau_e", &tau.e_text, "error", tau.e_fix, e_limit)
    })?;
    let z_limit = max_stable_step(tau.z);
    r.ensure_relation(dt <= z_limit, &dt_span, &tau.z_span, || {
        let text = format!("tau_z = {}", time(tau.z));
        unstable("tau_z", &text, "value", "lengthen dynamics.tau_z", z_limit)
    })?;
    Ok((dt, t_max, dt_span))
}

/// The trailing window of a noisy run (10 tau_z unless given), shorter than t_max.
fn settle_window(r: &Resolver, y: &RawDynamics, tau: &TimeConstants, t_max: f64) -> Result<f64> {
    let (window, span, text) = match &y.settle_window {
        Some(v) => {
            let w = r.positive(v, "settle_window")?;
            (w, v.span(), format_quantity(w, Dimension::Time))
        }
        None => {
            let w = 10.0 * tau.z;
            let text = format!("10 tau_z = {}", format_quantity(w, Dimension::Time));
            (w, tau.z_span.clone(), text)
        }
    };
    r.ensure_relation(window < t_max, &span, &y.t_max.span(), || {
        format!(
            "the settle window ({text}) must be shorter than t_max ({})",
            format_quantity(t_max, Dimension::Time)
        )
    })?;
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
        (
            device.read_noise.white_per_root_hertz > 0.0,
            "white read noise",
        ),
        (periphery.ktc_noise, "kT/C noise"),
        (periphery.feedback_noise, "TIA feedback noise"),
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
            ("step_tol", json!(d.step_tol), opt_sp(&y.step_tol)),
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
