//! `apcsim reference`: recompute every quantity of a reference-layout file from its weights and
//! batch alone — feedforward pass, Euler trajectory, equilibrium, energy, PC and BP gradients,
//! BP loss, alignment — and compare with whatever the file already holds.

use crate::dynamics::{infer, Inference, InferenceError, InferenceOptions, Solver, Stop};
use crate::io::h5::{Array, Attr, H5Error, H5Writer};
use crate::io::reference::{
    compare, from_matrix, samples_array, Comparison, ReferenceInput, FORMAT,
};
use crate::network::{alignment, closed_form, Network};
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
}

/// Everything a reference run produced.
pub struct ReferenceOutcome {
    pub output: H5Writer,
    pub comparisons: Vec<Comparison>,
    pub solvers: Vec<SolverReport>,
    /// Overall cosine similarity of PC and BP gradients.
    pub cos_sim: f64,
}

/// Why a reference run failed.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    File(#[from] H5Error),
    #[error("{file}: {source}")]
    Inference {
        file: String,
        source: InferenceError,
    },
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
    }
}

/// Runs every computation of the reference layout on `input`.
pub fn run_reference(
    input: &ReferenceInput,
    opts: &ReferenceOptions,
) -> Result<ReferenceOutcome, ReferenceError> {
    let net: &Network<f64> = &input.network;
    let batch = &input.batch;
    let b = batch.size();
    let lay = net.layout(b);
    let widths = net.widths().to_vec();
    let l_out = net.n_layers();
    let file = input.path.display().to_string();
    let wrap = |e: InferenceError| ReferenceError::Inference {
        file: file.clone(),
        source: e,
    };
    let mut out = H5Writer::new();
    let arch = net.architecture();
    out.attr("", "format", Attr::Str(FORMAT.into()))
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
                "Weights W[l] have shape (out, in). Every dataset except weights/ and batch/ was \
                 computed by apcsim from the weights and the batch."
                    .into(),
            ),
        );
    for (l, w) in net.weights().iter().enumerate() {
        out.dataset(&format!("weights/W{l}"), from_matrix(w));
    }
    out.dataset("batch/x", samples_array(batch.x.as_slice(), widths[0], b));
    out.dataset(
        "batch/y",
        samples_array(batch.y.as_slice(), widths[l_out], b),
    );
    out.dataset("scalings", Array::vector(net.scalings().to_vec()));

    // Feedforward pass.
    let (zff, yhat) = net.feedforward(batch.x.as_slice(), b);
    for l in 1..l_out {
        out.dataset(
            &format!("ffwd/z{l}"),
            samples_array(&zff[lay.range(l)], widths[l], b),
        );
    }
    out.dataset("ffwd/yhat", samples_array(&yhat, widths[l_out], b));

    // Euler with the file's step, recording F every 10 steps as JPC does.
    let mut solvers = Vec::new();
    let dt = opts.dt.unwrap_or(input.euler_dt);
    let steps = opts.steps.unwrap_or(input.euler_steps);
    let t0 = Instant::now();
    let mut eo = InferenceOptions::new(Solver::Euler { dt }, Stop::steps(steps));
    eo.record_every = Some(10);
    let euler = infer(net, batch, &eo).map_err(wrap)?;
    solvers.push(report("euler", "euler", &euler, t0));
    for l in 1..l_out {
        out.dataset(
            &format!("euler/z{l}"),
            samples_array(&euler.z[lay.range(l)], widths[l], b),
        );
    }
    out.dataset(
        "euler/energy_every_10_steps",
        Array::vector(euler.energy_trace.clone()),
    );
    out.attr("euler", "dt", Attr::F64(dt))
        .attr("euler", "steps", Attr::I64(steps as i64));

    // Equilibrium.
    let linear = net.activation().is_linear();
    let steady = Stop::steady(opts.tol, opts.max_steps);
    let fixed = opts.steps.map(Stop::steps).unwrap_or(steady);
    let (solver, stop) = match opts.solver {
        EquilibriumSolver::Auto if linear => (Solver::ClosedForm, steady),
        EquilibriumSolver::Auto | EquilibriumSolver::Dop853 => (
            Solver::Dop853 {
                rtol: opts.rtol,
                atol: opts.atol,
            },
            steady,
        ),
        EquilibriumSolver::Dopri5 => (
            Solver::Dopri5 {
                rtol: opts.rtol,
                atol: opts.atol,
            },
            steady,
        ),
        EquilibriumSolver::Euler => (Solver::Euler { dt }, fixed),
        EquilibriumSolver::Rk4 => (Solver::Rk4 { dt }, fixed),
        EquilibriumSolver::ClosedForm => (Solver::ClosedForm, steady),
    };
    let t0 = Instant::now();
    let eq = infer(net, batch, &InferenceOptions::new(solver, stop)).map_err(wrap)?;
    solvers.push(report("equilibrium", solver.name(), &eq, t0));
    for l in 1..l_out {
        out.dataset(
            &format!("equilibrium/z{l}"),
            samples_array(&eq.z[lay.range(l)], widths[l], b),
        );
    }
    let energy = net.energy(batch, &eq.z);
    out.dataset("equilibrium/energy", Array::scalar(energy));
    out.attr("equilibrium", "solver", Attr::Str(solver.name().into()))
        .attr("equilibrium", "steps", Attr::I64(eq.steps as i64))
        .attr("equilibrium", "rhs_evals", Attr::I64(eq.rhs_evals as i64))
        .attr("equilibrium", "max_dzdt", Attr::F64(eq.max_dzdt))
        .attr("equilibrium", "converged", Attr::I64(eq.converged as i64));
    out.attr("", "equilibrium_from", Attr::Str(solver.name().into()));
    if linear {
        // The output-space closed form, independent of the activities, as a cross-check.
        if let Ok(f) = closed_form::equilibrium_energy(net, batch) {
            out.attr("equilibrium", "energy_closed_form", Attr::F64(f));
        }
    }

    // Gradients.
    let pc = net.pc_weight_gradients(batch, &eq.z);
    let (loss, bp) = net.bp_gradients(batch);
    for l in 0..l_out {
        out.dataset(&format!("grads/pc/W{l}"), from_matrix(&pc[l]));
        out.dataset(&format!("grads/bp/W{l}"), from_matrix(&bp[l]));
    }
    out.dataset("loss_bp", Array::scalar(loss));
    let al = alignment(&pc, &bp);
    out.dataset("metrics/cos_sim", Array::scalar(al.overall));
    out.dataset(
        "metrics/cos_sim_per_layer",
        Array::vector(al.per_layer.clone()),
    );
    out.dataset("metrics/norm_ratio", Array::scalar(al.norm_ratio));

    // Compare with what the input holds.
    let mut comparisons = Vec::new();
    let mut paths: Vec<String> = vec!["scalings".into()];
    for g in ["ffwd", "euler", "equilibrium"] {
        for l in 1..l_out {
            paths.push(format!("{g}/z{l}"));
        }
    }
    paths.push("ffwd/yhat".into());
    paths.push("euler/energy_every_10_steps".into());
    paths.push("equilibrium/energy".into());
    for g in ["pc", "bp"] {
        for l in 0..l_out {
            paths.push(format!("grads/{g}/W{l}"));
        }
    }
    paths.extend(["loss_bp", "metrics/cos_sim", "metrics/cos_sim_per_layer"].map(String::from));
    for p in &paths {
        let Some(mine) = out.array(p) else { continue };
        if let Some(c) = compare(&input.reader, p, mine) {
            comparisons.push(c?);
        }
    }
    Ok(ReferenceOutcome {
        output: out,
        comparisons,
        solvers,
        cos_sim: al.overall,
    })
}
