//! `apcsim reference`: recompute every quantity of a reference-layout file from its weights and
//! batch alone — feedforward pass, Euler trajectory, equilibrium, energy, PC and BP gradients,
//! BP loss, alignment — and compare with whatever the file already holds.

use crate::dynamics::{infer, Inference, InferenceError, InferenceOptions, Solver, Stop};
use crate::io::h5::{Array, Attr, H5Error, H5Writer};
use crate::io::reference::{
    check_euler_steps, compare, from_matrix, samples_array, Comparison, Extent, NotCompared,
    ReferenceInput, TrainingSchedule, FORMAT,
};
use crate::network::{alignment, closed_form};
use crate::study::train::{full_batch_descent, StepError};
use nalgebra::DMatrix;
use std::time::Instant;

/// Which solver finds the equilibrium.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EquilibriumSolver {
    /// Closed form for linear networks, Dop853 otherwise.
    Auto,
    Euler,
    Rk4,
    Dopri5,
    Dop853,
    ClosedForm,
    /// Newton-Krylov, falling back to Dop853 (at `rtol`, `atol`) where it fails.
    Newton,
}

/// Options of the reference run.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceOptions {
    pub solver: EquilibriumSolver,
    /// Euler (and fixed-step equilibrium) step; the file's when `None`.
    pub dt: Option<f64>,
    /// Euler steps; the file's when `None`. For a fixed-step equilibrium solver, a given
    /// number of steps replaces the steady-state stop.
    pub steps: Option<usize>,
    /// Steady-state tolerance on max|dz/dt|.
    pub tol: f64,
    /// Relative and absolute error tolerances of the adaptive solvers.
    pub rtol: f64,
    pub atol: f64,
    /// Step budget of a steady-state run.
    pub max_steps: usize,
}

impl Default for ReferenceOptions {
    fn default() -> Self {
        ReferenceOptions {
            solver: EquilibriumSolver::Auto,
            dt: None,
            steps: None,
            tol: 1e-12,
            // An explicit solver near a stable equilibrium runs at its stability limit, where the
            // controller keeps the fastest mode at about the error tolerance; these keep that
            // residue below the default steady-state tolerance of 1e-12.
            rtol: 1e-13,
            atol: 1e-15,
            max_steps: 10_000_000,
        }
    }
}

/// What a solver did, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SolverReport {
    pub role: &'static str,
    pub solver: &'static str,
    pub steps: usize,
    pub rhs_evals: usize,
    pub max_dzdt: f64,
    pub converged: bool,
    pub seconds: f64,
    /// Newton-Krylov's statistics, when it ran.
    pub newton: Option<crate::dynamics::NewtonStats>,
}

/// Everything a reference run produced.
pub struct ReferenceOutcome {
    pub output: H5Writer,
    pub comparisons: Vec<Comparison>,
    /// Datasets of the input a run with other Euler settings than the input's cannot be
    /// compared with, and why.
    pub not_compared: Vec<NotCompared>,
    pub solvers: Vec<SolverReport>,
    /// Overall cosine similarity of PC and BP gradients.
    pub cos_sim: f64,
}

/// Why a reference run failed.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    File(#[from] H5Error),
    /// An option that cannot be used (named as on the command line).
    #[error("{0}")]
    Options(String),
    #[error("{file}: {source}")]
    Inference {
        file: String,
        source: InferenceError,
    },
    /// A step of the `training` group's gradient descent failed.
    #[error("{file}: training {source}")]
    Training { file: String, source: StepError },
}

fn report(role: &'static str, name: &'static str, r: &Inference<f64>, t: Instant) -> SolverReport {
    SolverReport {
        role,
        solver: name,
        steps: r.steps,
        rhs_evals: r.rhs_evals,
        max_dzdt: r.max_dzdt,
        converged: r.converged,
        seconds: t.elapsed().as_secs_f64(),
        newton: r.newton.clone(),
    }
}

/// The Euler run's step and number of steps: the options', else the input's.
#[derive(Clone, Copy, Debug, PartialEq)]
struct EulerSettings {
    dt: f64,
    steps: usize,
}

/// A reference run in progress: the input, the output being written, what the solvers did.
struct Run<'a> {
    input: &'a ReferenceInput,
    out: H5Writer,
    solvers: Vec<SolverReport>,
}

impl Run<'_> {
    fn wrap(&self, source: InferenceError) -> ReferenceError {
        ReferenceError::Inference {
            file: self.input.path.display().to_string(),
            source,
        }
    }

    /// Activities `z_1 .. z_{L-1}` (flat layout) as the datasets `{group}/z{l}`.
    fn hidden_activities(&mut self, group: &str, z: &[f64]) {
        let net = &self.input.network;
        let b = self.input.batch.size();
        let lay = net.layout(b);
        for l in 1..net.n_layers() {
            self.out.dataset(
                &format!("{group}/z{l}"),
                samples_array(&z[lay.range(l)], net.widths()[l], b),
            );
        }
    }

    /// The root attributes, the weights and the batch, as in the input.
    fn write_inputs(&mut self) {
        let net = &self.input.network;
        let batch = &self.input.batch;
        let (b, widths, l_out) = (batch.size(), net.widths(), net.n_layers());
        let arch = net.architecture();
        self.out
            .attr("", "format", Attr::Str(FORMAT.into()))
            .attr("", "activation", Attr::Str(arch.activation.name().into()))
            .attr(
                "",
                "parameterisation",
                Attr::Str(arch.parameterisation.name().into()),
            )
            .attr("", "skips", Attr::I64(arch.skips as i64))
            .attr("", "gamma0", Attr::F64(arch.gamma0))
            .attr("", "output_precision", Attr::F64(arch.output_precision))
            .attr(
                "",
                "generator",
                Attr::Str(format!("apcsim {}", env!("CARGO_PKG_VERSION"))),
            )
            .attr(
                "",
                "description",
                Attr::Str(
                    "Weights W[l] have shape (out, in). Every dataset except weights/ and batch/ \
                     was computed by apcsim from the weights and the batch."
                        .into(),
                ),
            );
        for (l, w) in net.weights().iter().enumerate() {
            self.out.dataset(&format!("weights/W{l}"), from_matrix(w));
        }
        self.out
            .dataset("batch/x", samples_array(batch.x.as_slice(), widths[0], b))
            .dataset(
                "batch/y",
                samples_array(batch.y.as_slice(), widths[l_out], b),
            )
            .dataset("scalings", Array::vector(net.scalings().to_vec()));
    }

    /// The feedforward pass.
    fn feedforward(&mut self) {
        let net = &self.input.network;
        let batch = &self.input.batch;
        let (zff, yhat) = net.feedforward(batch.x.as_slice(), batch.size());
        self.hidden_activities("ffwd", &zff);
        let out_width = net.widths()[net.n_layers()];
        self.out
            .dataset("ffwd/yhat", samples_array(&yhat, out_width, batch.size()));
    }

    /// Euler from the feedforward pass, recording F every 10 steps as JPC does.
    fn euler(&mut self, euler: EulerSettings) -> Result<(), ReferenceError> {
        let t0 = Instant::now();
        let mut eo =
            InferenceOptions::new(Solver::Euler { dt: euler.dt }, Stop::steps(euler.steps));
        eo.record_every = Some(10);
        let run = infer(&self.input.network, &self.input.batch, &eo).map_err(|e| self.wrap(e))?;
        self.solvers.push(report("euler", "euler", &run, t0));
        self.hidden_activities("euler", &run.z);
        self.out
            .dataset(
                "euler/energy_every_10_steps",
                Array::vector(run.energy_trace),
            )
            .attr("euler", "dt", Attr::F64(euler.dt))
            .attr("euler", "steps", Attr::I64(euler.steps as i64));
        Ok(())
    }

    /// The equilibrium, by the solver `opts` asks for; returns the activities.
    fn equilibrium(
        &mut self,
        opts: &ReferenceOptions,
        dt: f64,
    ) -> Result<Vec<f64>, ReferenceError> {
        let (net, batch) = (&self.input.network, &self.input.batch);
        let linear = net.activation().is_linear();
        let (solver, stop) = equilibrium_solver(opts, linear, dt);
        let t0 = Instant::now();
        let eq =
            infer(net, batch, &InferenceOptions::new(solver, stop)).map_err(|e| self.wrap(e))?;
        self.solvers
            .push(report("equilibrium", solver.name(), &eq, t0));
        self.hidden_activities("equilibrium", &eq.z);
        let energy = net.energy(batch, &eq.z);
        self.out
            .dataset("equilibrium/energy", Array::scalar(energy))
            .attr("equilibrium", "solver", Attr::Str(solver.name().into()))
            .attr("equilibrium", "steps", Attr::I64(eq.steps as i64))
            .attr("equilibrium", "rhs_evals", Attr::I64(eq.rhs_evals as i64))
            .attr("equilibrium", "max_dzdt", Attr::F64(eq.max_dzdt))
            .attr("equilibrium", "converged", Attr::I64(eq.converged as i64))
            .attr("", "equilibrium_from", Attr::Str(solver.name().into()));
        if linear {
            // The output-space closed form, independent of the activities, as a cross-check.
            if let Ok(f) = closed_form::equilibrium_energy(net, batch) {
                self.out
                    .attr("equilibrium", "energy_closed_form", Attr::F64(f));
            }
        }
        Ok(eq.z)
    }

    /// PC gradients at the equilibrium `z`, BP gradients and loss, and their alignment;
    /// returns the overall cosine similarity.
    fn gradients(&mut self, z: &[f64]) -> f64 {
        let (net, batch) = (&self.input.network, &self.input.batch);
        let pc = net.pc_weight_gradients(batch, z);
        let (loss, bp) = net.bp_gradients(batch);
        for l in 0..net.n_layers() {
            self.out
                .dataset(&format!("grads/pc/W{l}"), from_matrix(&pc[l]))
                .dataset(&format!("grads/bp/W{l}"), from_matrix(&bp[l]));
        }
        let al = alignment(&pc, &bp);
        self.out
            .dataset("loss_bp", Array::scalar(loss))
            .dataset("metrics/cos_sim", Array::scalar(al.overall))
            .dataset(
                "metrics/cos_sim_per_layer",
                Array::vector(al.per_layer.clone()),
            )
            .dataset("metrics/norm_ratio", Array::scalar(al.norm_ratio));
        al.overall
    }

    /// The `training` group's trajectories, PC's equilibria found as `opts` asks (Newton for a
    /// nonlinear network when no solver was named).
    fn training(
        &mut self,
        schedule: TrainingSchedule,
        opts: &ReferenceOptions,
        dt: f64,
    ) -> Result<(), ReferenceError> {
        let (net, batch) = (&self.input.network, &self.input.batch);
        let linear = net.activation().is_linear();
        let mut chosen = opts.clone();
        if opts.solver == EquilibriumSolver::Auto && !linear {
            chosen.solver = EquilibriumSolver::Newton;
        }
        let (solver, stop) = equilibrium_solver(&chosen, linear, dt);
        let t0 = Instant::now();
        let t = full_batch_descent(net, batch, schedule, &InferenceOptions::new(solver, stop))
            .map_err(|source| ReferenceError::Training {
                file: self.input.path.display().to_string(),
                source,
            })?;
        self.solvers.push(SolverReport {
            role: "training",
            solver: solver.name(),
            steps: t.pc_inference_steps.iter().sum(),
            rhs_evals: 0,
            max_dzdt: f64::NAN,
            converged: true,
            seconds: t0.elapsed().as_secs_f64(),
            newton: None,
        });
        for l in 0..net.n_layers() {
            self.out
                .dataset(&format!("training/pc/W{l}"), stacked(&t.pc_weights, l))
                .dataset(&format!("training/bp/W{l}"), stacked(&t.bp_weights, l));
        }
        self.out
            .dataset("training/pc/loss", Array::vector(t.pc_loss))
            .dataset("training/pc/energy", Array::vector(t.pc_energy))
            .dataset("training/pc/cos_sim", Array::vector(t.pc_cos_sim))
            .dataset("training/bp/loss", Array::vector(t.bp_loss))
            .attr("training", "optimizer", Attr::Str("sgd".into()))
            .attr("training", "lr", Attr::F64(schedule.lr))
            .attr("training", "steps", Attr::I64(schedule.steps as i64))
            .attr("training", "equilibrium", Attr::Str(solver.name().into()));
        Ok(())
    }
}

/// Layer `l`'s weights along a trajectory as one `(steps + 1, out, in)` array.
fn stacked(trajectory: &[Vec<DMatrix<f64>>], l: usize) -> Array {
    let (rows, cols) = trajectory[0][l].shape();
    let mut data = Vec::with_capacity(trajectory.len() * rows * cols);
    for weights in trajectory {
        data.extend(from_matrix(&weights[l]).data);
    }
    Array {
        shape: vec![trajectory.len(), rows, cols],
        data,
    }
}

/// The equilibrium's solver and stop: the steady-state stop, unless a fixed-step solver was
/// given a number of steps.
fn equilibrium_solver(opts: &ReferenceOptions, linear: bool, dt: f64) -> (Solver, Stop) {
    let steady = Stop::steady(opts.tol, opts.max_steps);
    let fixed = opts.steps.map(Stop::steps).unwrap_or(steady);
    let adaptive = |dop853: bool| {
        let (rtol, atol) = (opts.rtol, opts.atol);
        if dop853 {
            Solver::Dop853 { rtol, atol }
        } else {
            Solver::Dopri5 { rtol, atol }
        }
    };
    match opts.solver {
        EquilibriumSolver::Auto if linear => (Solver::ClosedForm, steady),
        EquilibriumSolver::Auto | EquilibriumSolver::Dop853 => (adaptive(true), steady),
        EquilibriumSolver::Dopri5 => (adaptive(false), steady),
        EquilibriumSolver::Euler => (Solver::Euler { dt }, fixed),
        EquilibriumSolver::Rk4 => (Solver::Rk4 { dt }, fixed),
        EquilibriumSolver::ClosedForm => (Solver::ClosedForm, steady),
        EquilibriumSolver::Newton => (
            Solver::Newton {
                max_iterations: crate::dynamics::NEWTON_MAX_ITERATIONS,
                rtol: opts.rtol,
                atol: opts.atol,
            },
            steady,
        ),
    }
}

/// The datasets of the layout that apcsim computes and compares with the input's.
fn compared_paths(n_layers: usize) -> Vec<String> {
    let mut paths: Vec<String> = vec!["scalings".into()];
    for g in ["ffwd", "euler", "equilibrium"] {
        paths.extend((1..n_layers).map(|l| format!("{g}/z{l}")));
    }
    paths.extend(
        [
            "ffwd/yhat",
            "euler/energy_every_10_steps",
            "equilibrium/energy",
        ]
        .map(String::from),
    );
    for g in ["pc", "bp"] {
        paths.extend((0..n_layers).map(|l| format!("grads/{g}/W{l}")));
    }
    paths.extend(["loss_bp", "metrics/cos_sim", "metrics/cos_sim_per_layer"].map(String::from));
    for g in ["pc", "bp"] {
        paths.extend((0..n_layers).map(|l| format!("training/{g}/W{l}")));
        paths.push(format!("training/{g}/loss"));
    }
    paths.extend(["training/pc/energy", "training/pc/cos_sim"].map(String::from));
    paths
}

/// Why the input's `path` cannot be compared with a run of `ours` Euler settings when the
/// input's are `theirs`, or how much of it can.
fn euler_comparability(
    path: &str,
    ours: EulerSettings,
    theirs: EulerSettings,
) -> Result<Extent, String> {
    let EulerSettings { dt, steps } = theirs;
    if !path.starts_with("euler/") || ours == theirs {
        return Ok(Extent::Whole);
    }
    if path == "euler/energy_every_10_steps" {
        if ours.dt == dt {
            return Ok(Extent::CommonPrefix);
        }
        return Err(format!(
            "the input's energies are at steps of dt = {dt}, this run's at dt = {}",
            ours.dt
        ));
    }
    Err(format!(
        "the input's is the state after {steps} steps of dt = {dt}, this run's after {} steps \
         of dt = {}",
        ours.steps, ours.dt
    ))
}

/// Compares the output with every dataset the input holds of the same name, as far as a run
/// with `euler` settings (perhaps not the input's) allows.
fn compare_with_input(
    input: &ReferenceInput,
    out: &H5Writer,
    euler: EulerSettings,
) -> Result<(Vec<Comparison>, Vec<NotCompared>), H5Error> {
    let theirs = EulerSettings {
        dt: input.euler_dt,
        steps: input.euler_steps,
    };
    let mut comparisons = Vec::new();
    let mut not_compared = Vec::new();
    for p in compared_paths(input.network.n_layers()) {
        let Some(mine) = out.array(&p) else { continue };
        match euler_comparability(&p, euler, theirs) {
            Ok(extent) => {
                if let Some(c) = compare(&input.reader, &p, mine, extent) {
                    comparisons.push(c?);
                }
            }
            Err(reason) if input.reader.has_dataset(&p)? => {
                not_compared.push(NotCompared { dataset: p, reason })
            }
            Err(_) => {}
        }
    }
    Ok((comparisons, not_compared))
}

/// Runs every computation of the reference layout on `input`.
pub fn run_reference(
    input: &ReferenceInput,
    opts: &ReferenceOptions,
) -> Result<ReferenceOutcome, ReferenceError> {
    let euler = EulerSettings {
        dt: opts.dt.unwrap_or(input.euler_dt),
        steps: opts.steps.unwrap_or(input.euler_steps),
    };
    if let Some(steps) = opts.steps {
        check_euler_steps(steps as u64, &input.network, input.batch.size())
            .map_err(|m| ReferenceError::Options(format!("--steps: {m}")))?;
    }
    let mut run = Run {
        input,
        out: H5Writer::new(),
        solvers: Vec::new(),
    };
    run.write_inputs();
    run.feedforward();
    run.euler(euler)?;
    let z = run.equilibrium(opts, euler.dt)?;
    let cos_sim = run.gradients(&z);
    if let Some(schedule) = input.training {
        run.training(schedule, opts, euler.dt)?;
    }
    let (comparisons, not_compared) = compare_with_input(input, &run.out, euler)?;
    Ok(ReferenceOutcome {
        output: run.out,
        comparisons,
        not_compared,
        solvers: run.solvers,
        cos_sim,
    })
}
