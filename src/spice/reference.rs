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
use crate::analog::{simulate, SimError, SimOptions};
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

/// The most points the analog run records (its recorder keeps every 2^k-th step so that at
/// most this many remain). At 8192 points over 50 tau_z the spacing is ~tau_z / 160, and
/// cubic interpolation between them errs by ~1e-9 of a tau_z mode's amplitude and ~1e-4 of a
/// tau_e = tau_z / 30 mode's (which starts near zero: the error nodes start at eps).
pub const ANALOG_TRACE_POINTS: usize = 8192;

/// The analog circuit's trajectory (src/analog, `apcsim run`'s integrator) over the design's
/// window, with the design's scheme and step, noise off, and no steady-state stop (it runs the
/// whole window, as ngspice does), recorded at up to [`ANALOG_TRACE_POINTS`] points. The error
/// nodes are the error amplifiers' outputs.
pub fn analog(design: &SpiceDesign) -> Result<Trajectory, SpiceError> {
    let base = design.sim.clone().map_err(SpiceError::Unsupported)?;
    let dt = base.dt_seconds;
    let steps = (design.window_seconds / dt).ceil();
    if !(steps.is_finite() && steps >= 1.0 && steps <= MAX_ANALOG_STEPS as f64) {
        return Err(SpiceError::Input(format!(
            "{steps:e} steps of {dt:e} s over the window: more than {MAX_ANALOG_STEPS}"
        )));
    }
    let steps = steps as usize;
    let opts = SimOptions {
        // floor((steps + 1/2) dt / dt) = steps: the run covers the window.
        t_max_seconds: (steps as f64 + 0.5) * dt,
        steady_tol: 0.0,
        noise: false,
        trace_samples: 1,
        trace_points: ANALOG_TRACE_POINTS,
        energy: None,
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
    Ok(Trajectory {
        times_seconds: tr.time_seconds,
        series,
    })
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
