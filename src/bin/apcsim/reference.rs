//! `apcsim reference`: recompute a reference-layout HDF5 file and compare with its own values.

use crate::args::{output_file, positive, Real};
use crate::exit::Failure;
use apcsim::io::reference::read_reference;
use apcsim::study::reference::{
    run_reference, EquilibriumSolver, ReferenceOptions, ReferenceOutcome,
};
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ReferenceArgs {
    /// Input file in the reference layout (weights/W{l}, batch/x, batch/y, root attributes).
    input: PathBuf,
    /// Output file, written in the same layout.
    #[arg(long)]
    out: PathBuf,
    /// Equilibrium solver (default: closed-form for linear networks, dop853 otherwise).
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
    /// Euler step (default: the input's euler@dt, else 0.1).
    #[arg(long, allow_negative_numbers = true)]
    dt: Option<f64>,
    /// Euler steps (default: the input's euler@steps, else 500); with --solver euler or rk4 it
    /// also fixes the equilibrium run's length instead of the steady-state stop.
    #[arg(long)]
    steps: Option<usize>,
    /// Steady-state tolerance on max|dz/dt| for the equilibrium.
    #[arg(long, default_value_t = Real(ReferenceOptions::default().tol), allow_negative_numbers = true)]
    tol: Real,
    /// Relative error tolerance of the adaptive solvers (dopri5, dop853, and newton's Dop853
    /// fallback).
    #[arg(long, default_value_t = Real(ReferenceOptions::default().rtol), allow_negative_numbers = true)]
    rtol: Real,
    /// Absolute error tolerance of the adaptive solvers.
    #[arg(long, default_value_t = Real(ReferenceOptions::default().atol), allow_negative_numbers = true)]
    atol: Real,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SolverArg {
    Auto,
    Euler,
    Rk4,
    Dopri5,
    Dop853,
    ClosedForm,
    Newton,
}

impl ReferenceArgs {
    /// The library's options, every value checked.
    fn options(&self) -> Result<ReferenceOptions, Failure> {
        Ok(ReferenceOptions {
            solver: match self.solver {
                SolverArg::Auto => EquilibriumSolver::Auto,
                SolverArg::Euler => EquilibriumSolver::Euler,
                SolverArg::Rk4 => EquilibriumSolver::Rk4,
                SolverArg::Dopri5 => EquilibriumSolver::Dopri5,
                SolverArg::Dop853 => EquilibriumSolver::Dop853,
                SolverArg::ClosedForm => EquilibriumSolver::ClosedForm,
                SolverArg::Newton => EquilibriumSolver::Newton,
            },
            dt: self.dt.map(|v| positive("--dt", v)).transpose()?,
            steps: self.steps,
            tol: positive("--tol", self.tol.0)?,
            rtol: positive("--rtol", self.rtol.0)?,
            atol: positive("--atol", self.atol.0)?,
            ..ReferenceOptions::default()
        })
    }
}

pub fn reference(args: ReferenceArgs) -> Result<(), Failure> {
    let opts = args.options()?;
    // Before the work: an --out that cannot be a file.
    output_file("--out", &args.out)?;
    let input = read_reference(&args.input).map_err(Failure::input)?;
    let outcome = run_reference(&input, &opts)?;
    print_outcome(&input, &outcome);
    outcome.output.write(&args.out).map_err(Failure::io)?;
    sayln!("wrote {}", args.out.display());
    Ok(())
}

/// The network, the solvers' statistics and how each dataset differs from the input's.
fn print_outcome(input: &apcsim::io::reference::ReferenceInput, outcome: &ReferenceOutcome) {
    let net = &input.network;
    let arch = net.architecture();
    sayln!(
        "{}: {} layers, widths {:?}, {} {}, skips {}, batch {}",
        input.path.display(),
        net.n_layers(),
        arch.widths,
        arch.activation,
        arch.parameterisation,
        arch.skips,
        input.batch.size()
    );
    if !input.euler_from_file {
        sayln!("(no euler group in the input: using dt and steps defaults)");
    }
    sayln!(
        "{:<12} {:<12} {:>9} {:>10} {:>12} {:>9} {:>10}",
        "run",
        "solver",
        "steps",
        "rhs evals",
        "max|dz/dt|",
        "converged",
        "seconds"
    );
    for s in &outcome.solvers {
        sayln!(
            "{:<12} {:<12} {:>9} {:>10} {:>12.3e} {:>9} {:>10.4}",
            s.role,
            s.solver,
            s.steps,
            s.rhs_evals,
            s.max_dzdt,
            s.converged,
            s.seconds
        );
        if let Some(n) = &s.newton {
            sayln!(
                "{:<12} {} Newton iterations, {} {} iterations, {} gradient evaluations, {} \
                 Jacobian-vector products",
                "",
                n.iterations,
                n.krylov_iterations,
                n.krylov,
                n.gradient_evals,
                n.jacobian_products
            );
            if let Some(f) = &n.fallback {
                sayln!("{:<12} {f}", "");
            }
        }
    }
    sayln!("cos sim (PC vs BP, all layers): {:.12}", outcome.cos_sim);
    if outcome.comparisons.is_empty() && outcome.not_compared.is_empty() {
        sayln!("the input holds no computed datasets to compare with");
        return;
    }
    sayln!(
        "{:<34} {:>12} {:>12}",
        "dataset vs input",
        "max abs",
        "max rel"
    );
    for c in &outcome.comparisons {
        let part = c.prefix.map_or(String::new(), |p| {
            format!(
                "  first {} entries (input {}, apcsim {})",
                p.compared, p.input, p.computed
            )
        });
        sayln!(
            "{:<34} {:>12.3e} {:>12.3e}{part}",
            c.dataset,
            c.max_abs,
            c.max_rel
        );
    }
    for n in &outcome.not_compared {
        sayln!("{:<34} not compared: {}", n.dataset, n.reason);
    }
}
