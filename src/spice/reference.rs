//! apcsim's side of the comparison: the trajectory the circuit model predicts.
//!
//! Two references, for two questions:
//! - [`analog`]: the analog circuit of `apcsim run` ([`crate::analog`]), every term of
//!   docs/circuit-model.md (error-amplifier bandwidth, offsets, finite gain), integrated with
//!   the design's own scheme and step. Does apcsim's simulator agree with SPICE?
//! - [`gradient_flow`]: with algebraic error nodes (`tau_e = 0`) and no offsets, noise or
//!   rails, the circuit is exactly the gradient flow of [`crate::dynamics`] on the effective
//!   network ([`SpiceDesign::network`], finite TIA gains folded in) in time `t / tau_z`. This
//!   integrates it with the core's own right-hand side ([`GradientFlow`]) by the adaptive
//!   Dop853 of ode_solvers to a tolerance far below the comparison's. Does the netlist implement
//!   the model? [`capability`] says what it can stand for (with `tau_e > 0`, the equilibrium
//!   only).
//!
//! [`equilibrium`] is the flow's steady state, by Dop853 to `max |dz/dt| < 1e-12`: the circuit's
//! equilibrium for any `tau_e` when there are no offsets.

use super::design::SpiceDesign;
use super::trajectory::{cubic_weights, NodeKind, Series, Trajectory};
use super::SpiceError;
use crate::analog::{simulate, Scheme, SimError, SimOptions};
use crate::dynamics::{infer, GradientFlow, InferenceOptions, Solver, Stop, System};
use crate::network::Workspace;
use crate::network::{Batch, Network};
use nalgebra::DMatrix;
use ode_solvers::dop_shared::OutputType;
use ode_solvers::{DVector, Dop853};
use std::cell::RefCell;
use std::cmp::Ordering;

/// The default relative tolerance of apcsim's trajectory (Dop853; the absolute tolerance is
/// 1/100 of it). `tests/spice.rs` checks that tightening it a hundredfold moves the trajectory
/// by less than 1e-7 of the signal range.
pub const RTOL: f64 = 1e-10;

/// Dense-output points per tau_z: the trajectory is sampled this finely and interpolated (cubic,
/// error ~1e-10 of the range) onto the requested times.
pub const DENSE_PER_TAU: f64 = 100.0;

/// What apcsim can compare a design's netlist with.
#[derive(Clone, Debug, PartialEq)]
pub enum Capability {
    /// The gradient flow is the circuit's trajectory: compare trajectories and equilibria.
    Trajectory,
    /// Error nodes with a bandwidth (`tau_e > 0`) change the trajectory but not the equilibria
    /// (docs/circuit-model.md): compare the equilibrium only. The string says why.
    EquilibriumOnly(String),
    /// Nothing apcsim computes here is the circuit's behaviour. The string says why.
    Nothing(String),
}

/// What the gradient flow can stand for in `design`.
pub fn capability(design: &SpiceDesign) -> Capability {
    if !design.offsets.all_zero() {
        return Capability::Nothing(
            "amplifier offsets move the trajectory and the equilibrium off the gradient \
             flow's; compare them with --reference analog (the default)"
                .into(),
        );
    }
    if !design.ideal_tias {
        return Capability::Nothing(format!(
            "the integrators' leak (open-loop gain {:e}) moves the trajectory and the \
             equilibrium off the gradient flow's; compare them with --reference analog (the \
             default), or set periphery.open_loop_gain = inf",
            design.tia_gain
        ));
    }
    if design.analog.poles.is_some() {
        return Capability::EquilibriumOnly(
            "the amplifiers' poles and the lines' RC delay the trajectory but not the \
             equilibrium, so only the equilibrium is compared; --reference analog (the \
             default) compares the trajectory too"
                .into(),
        );
    }
    if design.tau_e_seconds > 0.0 {
        return Capability::EquilibriumOnly(format!(
            "tau_e = {:e} s: the gradient flow has no error-node bandwidth, so only the \
             equilibrium is compared; --reference analog (the default) compares the \
             trajectory too",
            design.tau_e_seconds
        ));
    }
    Capability::Trajectory
}

/// Whether the gradient flow is the circuit's trajectory; if not, why.
pub fn supported(design: &SpiceDesign) -> Result<(), String> {
    match capability(design) {
        Capability::Trajectory => Ok(()),
        Capability::EquilibriumOnly(why) | Capability::Nothing(why) => Err(why),
    }
}

fn batch_of(design: &SpiceDesign) -> Batch<f64> {
    Batch {
        x: DMatrix::from_column_slice(design.x.len(), 1, &design.x),
        y: DMatrix::from_column_slice(design.y.len(), 1, &design.y),
    }
}

/// Records z and e of `net` at the state `z` into row `row` of `series`.
fn record(
    net: &Network<f64>,
    design: &SpiceDesign,
    z: &[f64],
    ws: &mut Workspace<f64>,
    series: &mut [Series],
    row: usize,
) {
    net.compute_errors(&design.x, &design.y, z, ws);
    let layout = net.layout(1);
    let n_free = design.n_layers() - 1;
    for s in series.iter_mut() {
        let src: &[f64] = match s.kind {
            NodeKind::Value => &z[layout.range(s.layer)],
            NodeKind::Error => &ws.errors()[s.layer - 1],
            // The flow's series are value and error nodes only (see `empty_series`).
            NodeKind::ForwardTia | NodeKind::BackwardTia => continue,
        };
        debug_assert!(s.layer <= n_free + 1);
        s.values.row_mut(row).copy_from_slice(src);
    }
}

fn empty_series(design: &SpiceDesign, rows: usize) -> Vec<Series> {
    let n = design.n_layers();
    let mut out: Vec<Series> = (1..n)
        .map(|l| Series {
            kind: NodeKind::Value,
            layer: l,
            values: DMatrix::zeros(rows, design.widths[l]),
        })
        .collect();
    out.extend((1..=n).map(|l| Series {
        kind: NodeKind::Error,
        layer: l,
        values: DMatrix::zeros(rows, design.widths[l]),
    }));
    out
}

/// The core's gradient flow as an ode_solvers system (time in units of tau_z).
struct Flow<'a>(RefCell<GradientFlow<'a, f64>>);

impl ode_solvers::System<f64, DVector<f64>> for Flow<'_> {
    fn system(&self, t: f64, z: &DVector<f64>, dz: &mut DVector<f64>) {
        self.0.borrow_mut().rhs(t, z.as_slice(), dz.as_mut_slice());
    }
}

/// The gradient-flow trajectory of `design` at `times` (seconds, increasing, >= 0), from the
/// feedforward pass at t = 0, by Dop853 with relative tolerance `rtol` ([`RTOL`] by default).
///
/// Dop853's dense output samples the flow on a uniform grid of [`DENSE_PER_TAU`] points per
/// tau_z; the value nodes at each requested time are the cubic (four-point Lagrange)
/// interpolant of that grid, and the errors are computed from them exactly as the core does.
/// So the cost does not grow with the number of output times.
pub fn gradient_flow(
    design: &SpiceDesign,
    times: &[f64],
    rtol: f64,
) -> Result<Trajectory, SpiceError> {
    supported(design).map_err(SpiceError::Unsupported)?;
    if times
        .windows(2)
        .any(|w| w[1].partial_cmp(&w[0]) != Some(Ordering::Greater))
        || times.iter().any(|t| !(t.is_finite() && *t >= 0.0))
    {
        return Err(SpiceError::Input(
            "output times must be finite, non-negative and increasing".into(),
        ));
    }
    if !(rtol.is_finite() && rtol > 0.0 && rtol < 1.0) {
        return Err(SpiceError::Input(format!(
            "the relative tolerance must be in (0, 1), got {rtol}"
        )));
    }
    let net = &design.network;
    let tau = design.tau_z_seconds;
    let z0: Vec<f64> = design.z0.iter().flatten().copied().collect();
    let dim = z0.len();
    // Time in units of tau_z, as the flow is written; at least 4 grid intervals.
    let span = times.last().map_or(0.0, |t| t / tau);
    let intervals = (span * DENSE_PER_TAU).ceil().max(4.0);
    if intervals * dim as f64 > 1e8 {
        return Err(SpiceError::Input(format!(
            "a window of {span:e} tau_z is too long for the dense output"
        )));
    }
    let intervals = intervals as usize;
    let dx = span / intervals as f64;
    let grid: Vec<DVector<f64>> = if span == 0.0 {
        vec![DVector::from_vec(z0); intervals + 1]
    } else {
        let flow = Flow(RefCell::new(GradientFlow::new(
            net, &design.x, &design.y, 1,
        )));
        // Half a point beyond the window, so that rounding in the accumulated grid cannot
        // drop the last point (only the first `intervals + 1` are used).
        let mut solver = Dop853::from_param(
            flow,
            0.0,
            span + 0.5 * dx,
            dx,
            DVector::from_vec(z0),
            rtol,
            rtol / 100.0,
            0.9,
            0.0,
            0.333,
            6.0,
            span,
            0.0,
            u32::MAX,
            // Near a stable equilibrium an explicit solver runs at its stability limit, which
            // ode_solvers' stiffness test would report; the run is correct, so it is not run.
            u32::MAX,
            OutputType::Dense,
        );
        solver.integrate().map_err(|e| {
            SpiceError::Diverged(format!("the gradient flow could not be integrated: {e:?}"))
        })?;
        solver.y_out().clone()
    };
    // ode_solvers places the grid points at accumulated multiples of dx, so only the first
    // `intervals + 1` are used; the run goes half a point beyond the window, so a short grid
    // means the integration stopped early.
    if grid.len() < intervals + 1 {
        return Err(SpiceError::Diverged(format!(
            "the dense output stopped after {} of {} points",
            grid.len(),
            intervals + 1
        )));
    }
    if grid.iter().any(|z| z.iter().any(|v| !v.is_finite())) {
        return Err(SpiceError::Diverged(
            "the gradient flow diverged within the window".into(),
        ));
    }
    let grid_times: Vec<f64> = (0..=intervals).map(|k| k as f64 * dx).collect();
    let mut ws = net.workspace(1);
    let mut series = empty_series(design, times.len());
    let mut at = vec![0.0; dim];
    for (row, &t) in times.iter().enumerate() {
        let (k0, w) = cubic_weights(&grid_times, (t / tau).min(span));
        for (i, a) in at.iter_mut().enumerate() {
            *a = (0..4).map(|m| w[m] * grid[k0 + m][i]).sum();
        }
        record(net, design, &at, &mut ws, &mut series, row);
    }
    Ok(Trajectory {
        times_seconds: times.to_vec(),
        series,
    })
}

/// The most steps of an analog run over the window.
pub const MAX_ANALOG_STEPS: usize = 50_000_000;

/// What the analog reference's recording aims for: its cubic interpolation onto ngspice's
/// times errs by at most this fraction of the amplitude of any mode of the circuit. A decade
/// below ngspice's own error (~1e-5 of the signal range, [`super::netlist::Tolerances`]).
pub const INTERPOLATION_TOL: f64 = 1e-6;

/// The memory the analog reference's recording may take (bytes, estimated as
/// [`trace_bytes_per_point`] per point); beyond it the recording thins and the bound on its
/// interpolation error, which the report states, grows as the fourth power of the spacing.
pub const MAX_ANALOG_TRACE_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// The memory one recorded point of the analog run takes: every value and error node as f64,
/// plus one allocation for the value nodes, one per error layer and one holding them (~80
/// bytes each with the allocator's overhead). Measured on the tiny design over 100 us: ~500
/// bytes of peak resident memory per point, against 512 estimated.
pub fn trace_bytes_per_point(design: &SpiceDesign) -> f64 {
    let n = design.n_layers();
    let values: usize =
        design.widths[1..].iter().sum::<usize>() + design.widths[1..n].iter().sum::<usize>();
    8.0 * values as f64 + 80.0 * (n + 2) as f64
}

/// The circuit's fastest time constant (seconds), which sets how finely the analog reference
/// is recorded: the error amplifiers' `tau_e` (when positive), or `tau_z / rho`, whichever is
/// smaller (and the amplifiers' fastest pole, when they have poles), where `rho` bounds the spectral radius of the gradient flow's Jacobian (time in
/// units of tau_z) by its infinity norm, the largest absolute row sum (every eigenvalue lies in
/// a Gershgorin disc). The Jacobian is taken by central differences at the initial state, the
/// feedforward pass, where the fast modes are excited; they have decayed by the time the state
/// has moved far from it.
pub fn fastest_time_constant(design: &SpiceDesign) -> f64 {
    let z0: Vec<f64> = design.z0.iter().flatten().copied().collect();
    let dim = z0.len();
    let mut flow = GradientFlow::new(&design.network, &design.x, &design.y, 1);
    // Node values are O(0.1..1): a step of 1e-6 keeps the central difference's truncation
    // (~delta^2) and rounding (~1e-16 / delta) errors below 1e-9 of the entries.
    let delta = 1e-6;
    let mut row_sums = vec![0.0f64; dim];
    let (mut z, mut fp, mut fm) = (z0.clone(), vec![0.0; dim], vec![0.0; dim]);
    for j in 0..dim {
        z[j] = z0[j] + delta;
        flow.rhs(0.0, &z, &mut fp);
        z[j] = z0[j] - delta;
        flow.rhs(0.0, &z, &mut fm);
        z[j] = z0[j];
        for (r, (a, b)) in row_sums.iter_mut().zip(fp.iter().zip(&fm)) {
            *r += ((a - b) / (2.0 * delta)).abs();
        }
    }
    let rho = row_sums.iter().copied().fold(0.0, f64::max);
    let tau_flow = if rho > 0.0 && rho.is_finite() {
        design.tau_z_seconds / rho
    } else {
        design.tau_z_seconds
    };
    // The amplifiers' poles, when they have any.
    let tau_flow = match &design.analog.poles {
        Some(p) if p.fastest_rate() > 0.0 => tau_flow.min(design.tau_z_seconds / p.fastest_rate()),
        _ => tau_flow,
    };
    if design.tau_e_seconds > 0.0 {
        tau_flow.min(design.tau_e_seconds)
    } else {
        tau_flow
    }
}

/// The bound on the cubic interpolation error of a trajectory recorded every `h` (at most),
/// as a fraction of the amplitude `a` of a mode `a exp(-t / tau)`: the four-point Lagrange
/// remainder is `f''''(xi) w(t) / 4!` with `|w(t)| = |prod (t - t_i)| <= h^4` on a grid of
/// spacing at most `h` (the maximum, ~1.0 h^4, is on the grid's end intervals; 9/16 h^4 in
/// the middle), and `|f''''| <= a / tau^4`: `(h / tau)^4 / 24`.
pub fn interpolation_bound(h_seconds: f64, tau_seconds: f64) -> f64 {
    (h_seconds / tau_seconds).powi(4) / 24.0
}

/// The analog reference and how it was recorded.
#[derive(Clone, Debug)]
pub struct AnalogReference {
    /// The recorded trajectory (every `stride`-th step and the last).
    pub trajectory: Trajectory,
    /// max|dz/dt| tau_z at the window's end (node units): what `apcsim run` compares with
    /// `dynamics.steady_tol` to call the circuit settled.
    pub end_drive: f64,
    /// Steps between recorded points.
    pub stride: usize,
    /// The largest spacing of the recorded points (seconds).
    pub spacing_seconds: f64,
    /// [`fastest_time_constant`] (seconds).
    pub fastest_tau_seconds: f64,
    /// [`interpolation_bound`] of the recording: the largest error of its cubic interpolation
    /// as a fraction of the amplitude of a mode of the fastest time constant (less for slower
    /// modes).
    pub interpolation_bound: f64,
    /// Whether [`MAX_ANALOG_TRACE_BYTES`] made the recording coarser than
    /// [`INTERPOLATION_TOL`] asks for. (Recording every step is as fine as the run gets: with
    /// a step near the fastest time constant the bound exceeds the tolerance, but the scheme's
    /// own error is then larger still.)
    pub thinned_for_memory: bool,
}

/// The analog circuit's trajectory (src/analog, `apcsim run`'s integrator) over the design's
/// window, with the design's scheme and step, noise off, and no steady-state stop (it runs the
/// whole window, as ngspice does). The error nodes are the error amplifiers' outputs.
///
/// The run records every `stride`-th step, the stride chosen from the window and the circuit's
/// [`fastest_time_constant`] `tau`: the largest power of two for which the spacing `h = stride
/// dt` keeps [`interpolation_bound`] `(h / tau)^4 / 24` within [`INTERPOLATION_TOL`], i.e.
/// `h <= 0.070 tau` (every step when `dt` is coarser than that), unless the recording would
/// then exceed [`MAX_ANALOG_TRACE_BYTES`], when the stride doubles until it fits and the bound
/// grows with it (the report says so). A fixed number of points would not do: on a window of a
/// thousand tau_z, 8192 points are 4 tau_e apart on the tiny design, and the interpolation alone
/// made a 1.8% trajectory error out of a 7.5e-4 one.
pub fn analog(design: &SpiceDesign) -> Result<AnalogReference, SpiceError> {
    let base = design.sim.clone().map_err(SpiceError::Unsupported)?;
    let dt = base.dt_seconds;
    let steps = (design.window_seconds / dt).ceil();
    if !(steps.is_finite() && steps >= 1.0 && steps <= MAX_ANALOG_STEPS as f64) {
        return Err(SpiceError::Input(format!(
            "{steps:e} steps of {dt:e} s over the window: more than {MAX_ANALOG_STEPS}"
        )));
    }
    let steps = steps as usize;
    let tau = fastest_time_constant(design);
    let h_max = tau * (24.0 * INTERPOLATION_TOL).powf(0.25);
    let mut stride = 1usize;
    while (2 * stride) as f64 * dt <= h_max && 2 * stride <= steps {
        stride *= 2;
    }
    // The recorder thins by halves whenever its buffer fills: with room for every
    // `stride`-th step and two more, it ends at this stride (or a finer one).
    let points = |s: usize| steps.div_ceil(s) + 2;
    let max_points = (MAX_ANALOG_TRACE_BYTES / trace_bytes_per_point(design)).max(16.0) as usize;
    let mut thinned_for_memory = false;
    while points(stride) > max_points {
        stride *= 2;
        thinned_for_memory = true;
    }
    let opts = SimOptions {
        // floor((steps + 1/2) dt / dt) = steps: the run covers the window.
        t_max_seconds: (steps as f64 + 0.5) * dt,
        steady_tol: 0.0,
        noise: false,
        trace_samples: 1,
        trace_points: points(stride),
        energy: None,
        readout: None,
        // Every step of dt: the recording stride above counts steps.
        scheme: match base.scheme {
            Scheme::Exponential(_) => Scheme::Exponential(None),
            s => s,
        },
        ..base
    };
    let sim = simulate(&design.analog, &design.x, &design.y, 1, &opts, &|_, _| {}).map_err(
        |e| match e {
            SimError::Rail { .. } => {
                SpiceError::Unsupported(format!("{e}; the netlist does not model the rails"))
            }
            SimError::Options(m) => SpiceError::Input(m),
            other => SpiceError::Diverged(other.to_string()),
        },
    )?;
    let end_drive = sim.residual;
    let tr = sim.traces;
    let points = tr.time_seconds.len();
    let n = design.n_layers();
    let lengths_ok = tr.z.len() == n - 1
        && tr.e.len() == n
        && (1..n).all(|l| tr.z[l - 1].len() == points * design.widths[l])
        && (1..=n).all(|l| tr.e[l - 1].len() == points * design.widths[l]);
    if !lengths_ok || points < 2 {
        return Err(SpiceError::Input(
            "the analog run's traces do not have one row per recorded point".into(),
        ));
    }
    let mut series = Vec::with_capacity(2 * n);
    for l in 1..n {
        series.push(Series {
            kind: NodeKind::Value,
            layer: l,
            values: DMatrix::from_row_slice(points, design.widths[l], &tr.z[l - 1]),
        });
    }
    for l in 1..=n {
        series.push(Series {
            kind: NodeKind::Error,
            layer: l,
            values: DMatrix::from_row_slice(points, design.widths[l], &tr.e[l - 1]),
        });
    }
    let spacing_seconds = tr
        .time_seconds
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0, f64::max);
    Ok(AnalogReference {
        trajectory: Trajectory {
            times_seconds: tr.time_seconds,
            series,
        },
        end_drive,
        stride: (spacing_seconds / dt).round().max(1.0) as usize,
        spacing_seconds,
        fastest_tau_seconds: tau,
        interpolation_bound: interpolation_bound(spacing_seconds, tau),
        thinned_for_memory,
    })
}

/// max|dz/dt| tau_z of the gradient flow at the last time of `traj` (node units): how far from
/// steady its end is, as `apcsim run` measures it.
pub fn flow_end_drive(design: &SpiceDesign, traj: &Trajectory) -> Option<f64> {
    let last = traj.times_seconds.len().checked_sub(1)?;
    let mut z = Vec::new();
    for l in 1..design.n_layers() {
        z.extend(
            traj.get(NodeKind::Value, l)?
                .values
                .row(last)
                .iter()
                .copied(),
        );
    }
    let mut flow = GradientFlow::new(&design.network, &design.x, &design.y, 1);
    let mut dz = vec![0.0; z.len()];
    flow.rhs(0.0, &z, &mut dz);
    Some(dz.iter().map(|v| v.abs()).fold(0.0, f64::max))
}

/// The steady state of the gradient flow (one row per series), by Dop853 to
/// `max |dz/dt| < 1e-12`.
pub fn equilibrium(design: &SpiceDesign) -> Result<Vec<Series>, SpiceError> {
    if let Capability::Nothing(why) = capability(design) {
        return Err(SpiceError::Unsupported(why));
    }
    let opts = InferenceOptions::new(
        Solver::Dop853 {
            rtol: 1e-12,
            atol: 1e-14,
        },
        Stop::steady(1e-12, 10_000_000),
    );
    let inf = infer(&design.network, &batch_of(design), &opts)
        .map_err(|e| SpiceError::Diverged(format!("the equilibrium: {e}")))?;
    let mut ws = design.network.workspace(1);
    let mut series = empty_series(design, 1);
    record(&design.network, design, &inf.z, &mut ws, &mut series, 0);
    Ok(series)
}
