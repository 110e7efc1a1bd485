//! Adapters to ode_solvers' adaptive Dormand–Prince solvers (Dopri5, Dop853), for accurate
//! deterministic runs. They integrate the whole batch as one system in f64 (an f32 network is
//! promoted: these solvers are for accuracy) and stop through `solout` once max|dz/dt| < tol.
//!
//! ode_solvers keeps every accepted step in its result buffer; the sparse output mode is used
//! because it is the one whose `solout` sees the current state. A run is cut into segments
//! whose buffer stays within [`MAX_STORED_VALUES`], each restarted from the last state of the
//! one before, so that a large batch still gets its whole step budget (the benchmark network,
//! 114688 activities, would otherwise stop after 292 steps).
//!
//! # Reference
//! Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I", §II.5 and §II.10
//! (DOPRI5, DOP853); ode_solvers 0.6 (`Dopri5`, `Dop853`, `System::solout`).

use super::inference::{Inference, InferenceError, Stop};
use crate::network::{Batch, Network, Workspace};
use crate::numeric::Real;
use ode_solvers::dop_shared::{IntegrationError, OutputType, Stats};
use ode_solvers::{DVector, Dop853, Dopri5};
use std::cell::{Cell, RefCell};

/// Upper bound on the f64 values ode_solvers may keep (2^25 values, 256 MiB).
pub const MAX_STORED_VALUES: usize = 1 << 25;

/// ode_solvers tests for stiffness every `n_stiff` steps and aborts when it finds it. Near a
/// stable equilibrium an explicit solver always runs at its stability limit, which that test
/// reports as stiffness although the run is correct, so the test is never run.
const NO_STIFFNESS_TEST: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(super) enum Method {
    Dopri5,
    Dop853,
}

struct Flow<'a> {
    net: &'a Network<f64>,
    x: &'a [f64],
    y: &'a [f64],
    ws: RefCell<Workspace<f64>>,
    // The solvers own their system by value; what it records lives outside it.
    evals: &'a Cell<usize>,
    tol: f64,
    done: &'a RefCell<Option<(f64, DVector<f64>)>>,
}

impl ode_solvers::System<f64, DVector<f64>> for Flow<'_> {
    fn system(&self, _t: f64, z: &DVector<f64>, dz: &mut DVector<f64>) {
        let mut ws = self.ws.borrow_mut();
        self.net
            .activity_gradient(self.x, self.y, z.as_slice(), &mut ws, dz.as_mut_slice());
        dz.neg_mut();
        self.evals.set(self.evals.get() + 1);
    }

    fn solout(&mut self, t: f64, z: &DVector<f64>, dz: &DVector<f64>) -> bool {
        // In sparse output mode `z` is the state just accepted and `dz` = f(t, z).
        let m = crate::network::model::max_abs(dz.as_slice());
        if m < self.tol || !m.is_finite() {
            *self.done.borrow_mut() = Some((t, z.clone()));
            return true;
        }
        false
    }
}

pub(super) fn run<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
    z0: Vec<T>,
    method: Method,
    rtol: f64,
    atol: f64,
    stop: &Stop,
) -> Result<Inference<T>, InferenceError> {
    run_in_segments(
        net,
        batch,
        z0,
        method,
        (rtol, atol),
        stop,
        MAX_STORED_VALUES,
    )
}

/// [`run`] in segments of at most `max_stored` stored values: a segment that ends without
/// meeting the tolerance is restarted from its last state (a fresh initial step), until the
/// tolerance or `stop.max_steps` accepted steps in all.
fn run_in_segments<T: Real>(
    net: &Network<T>,
    batch: &Batch<T>,
    z0: Vec<T>,
    method: Method,
    (rtol, atol): (f64, f64),
    stop: &Stop,
    max_stored: usize,
) -> Result<Inference<T>, InferenceError> {
    let net64 = net.cast::<f64>();
    let batch64 = batch.cast::<f64>();
    let tol = stop.tol.unwrap_or(1e-12);
    let mut z = DVector::from_iterator(z0.len(), z0.iter().map(|v| v.to_f64()));
    let segment = (max_stored / z.len().max(1)).max(1);
    let evals = Cell::new(0);
    let (mut time, mut steps, mut converged) = (0.0, 0, false);
    while !converged && steps < stop.max_steps.max(1) {
        let n_max = (stop.max_steps - steps).clamp(1, segment);
        let done = RefCell::new(None);
        let flow = Flow {
            net: &net64,
            x: batch64.x.as_slice(),
            y: batch64.y.as_slice(),
            ws: RefCell::new(net64.workspace(batch.size())),
            evals: &evals,
            tol,
            done: &done,
        };
        let n_max = u32::try_from(n_max).unwrap_or(u32::MAX);
        let (stats, result) = integrate(method, flow, z.clone(), time, rtol, atol, n_max);
        let done = done.into_inner();
        match stats {
            Ok(st) => steps += st.accepted_steps as usize,
            Err(IntegrationError::MaxNumStepReached { n_step, .. }) => steps += n_step as usize,
            Err(IntegrationError::StepSizeUnderflow { x })
            | Err(IntegrationError::StiffnessDetected { x }) => {
                return Err(InferenceError::Options(format!(
                    "the adaptive solver failed at t = {x:.6e} (step size underflow or \
                     stiffness); try euler or rk4 with a small dt"
                )))
            }
        };
        converged = done.is_some();
        match (done, result) {
            (Some((t, last)), _) | (None, Some((last, t))) => (time, z) = (t, last),
            (None, None) => break,
        }
        if z.iter().any(|v| !v.is_finite()) {
            break;
        }
    }
    let max_dzdt = net64.max_activity_gradient(&batch64, z.as_slice());
    if !max_dzdt.is_finite() || z.iter().any(|v| !v.is_finite()) {
        let (layer, node, sample, value) = net
            .layout(batch.size())
            .locate_non_finite(z.as_slice())
            .unwrap_or((0, 0, 0, f64::NAN));
        return Err(InferenceError::NonFinite {
            layer,
            node,
            sample,
            value,
            time,
        });
    }
    Ok(Inference {
        z: z.iter().map(|&v| T::of_f64(v)).collect(),
        steps,
        rhs_evals: evals.get() + 1,
        max_dzdt,
        converged: converged || max_dzdt < tol,
        time,
        energy_trace: Vec::new(),
        newton: None,
    })
}

/// What a solver run ends with: its outcome, and the last accepted state with its time.
type Outcome = (Result<Stats, IntegrationError>, Option<(DVector<f64>, f64)>);

/// Runs `method` on `flow` from `y0` at `t0` with at most `n_max` steps.
fn integrate(
    method: Method,
    flow: Flow<'_>,
    y0: DVector<f64>,
    t0: f64,
    rtol: f64,
    atol: f64,
    n_max: u32,
) -> Outcome {
    // The flow decays towards its equilibrium; the end time only bounds a run that never
    // reaches the tolerance (the step budget normally ends it first).
    let t_end = 1e12;
    match method {
        Method::Dopri5 => {
            let mut s = Dopri5::from_param(
                flow,
                t0,
                t_end,
                t_end,
                y0,
                rtol,
                atol,
                0.9,
                0.04,
                0.2,
                10.0,
                t_end,
                0.0,
                n_max,
                NO_STIFFNESS_TEST,
                OutputType::Sparse,
            );
            let st = s.integrate();
            let last = s.y_out().last().cloned();
            (st, last.zip(s.x_out().last().copied()))
        }
        Method::Dop853 => {
            let mut s = Dop853::from_param(
                flow,
                t0,
                t_end,
                t_end,
                y0,
                rtol,
                atol,
                0.9,
                0.0,
                0.333,
                6.0,
                t_end,
                0.0,
                n_max,
                NO_STIFFNESS_TEST,
                OutputType::Sparse,
            );
            let st = s.integrate();
            let last = s.y_out().last().cloned();
            (st, last.zip(s.x_out().last().copied()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Activation, Architecture, Parameterisation};
    use nalgebra::DMatrix;

    /// Segments of three steps reach the same equilibrium as one segment: a run is not cut
    /// short by the stored-values budget.
    #[test]
    fn a_run_longer_than_the_storage_budget_continues_in_segments() {
        let arch = Architecture {
            widths: vec![3, 6, 6, 2],
            activation: Activation::Tanh,
            parameterisation: Parameterisation::Sp,
            skips: false,
            gamma0: 1.0,
            output_precision: 1.0,
        };
        let net = Network::<f64>::init(arch, 3).unwrap();
        let wave = |r, c, f: f64| DMatrix::from_fn(r, c, |i, j| (f * (i + 2 * j) as f64).sin());
        let batch = Batch {
            x: wave(3, 2, 0.9),
            y: wave(2, 2, 1.7),
        };
        let (z0, _) = net.feedforward(batch.x.as_slice(), 2);
        let stop = Stop::steady(1e-10, 100_000);
        let tols = (1e-12, 1e-14);
        let whole = run_in_segments(
            &net,
            &batch,
            z0.clone(),
            Method::Dop853,
            tols,
            &stop,
            1 << 20,
        )
        .unwrap();
        let cut = run_in_segments(
            &net,
            &batch,
            z0.clone(),
            Method::Dop853,
            tols,
            &stop,
            3 * z0.len(),
        )
        .unwrap();
        assert!(whole.converged && whole.steps > 3, "{} steps", whole.steps);
        assert!(
            cut.converged,
            "{} steps, max|dz/dt| {}",
            cut.steps, cut.max_dzdt
        );
        // Both are within tol / (slowest rate) of the equilibrium.
        for (a, b) in whole.z.iter().zip(&cut.z) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
    }
}
