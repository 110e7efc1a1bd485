//! The `apcsim` command line: parse, build, run, map errors to exit codes.
//!
//! Exit codes: 0 success (a reference run that differs from its input still succeeded: the
//! differences are its measurement), 1 internal or I/O failure, 2 unusable input, 3 a run that
//! diverged.

/// `print!` for the terminal report, except that a reader that went away (`apcsim run | head`)
/// is not an error: the report goes on being dropped and the run finishes normally.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::write_stdout_fmt(format_args!($($arg)*))
    };
}

/// `println!` through [`say!`].
macro_rules! sayln {
    () => {
        say!("\n")
    };
    ($($arg:tt)*) => {
        say!("{}\n", format_args!($($arg)*))
    };
}

mod cli_run;

use apcsim::config::{self, LoadOptions};
use apcsim::io::reference::read_reference;
use apcsim::study::reference::{
    run_reference, EquilibriumSolver, ReferenceError, ReferenceOptions,
};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli_spice;
mod cli_study;
mod cli_sweep;

#[derive(Parser, Debug)]
#[command(
    name = "apcsim",
    version,
    about = "Analog predictive-coding crossbar simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: map the design, integrate the analog circuit until it settles, measure
    /// settling time and energy, check the PC update against BP, and write report.json,
    /// traces.h5, plots and report.html. Without FILE, the embedded digits-on-RRAM design.
    Run(cli_run::RunArgs),
    /// Recompute every dataset of a reference-layout HDF5 file (weights and batch in; feedforward
    /// pass, Euler trajectory, equilibrium, energy, PC and BP gradients, alignment out) and print
    /// how each differs from the input's own values.
    Reference(ReferenceArgs),
    /// Print the annotated reference of the circuit description format: every key, its
    /// default, unit and meaning (itself a valid design with every key at its default).
    Schema,
    /// Load a circuit description, apply --set overrides, check it and print the resolved
    /// design. Exit code 2 and one line FILE:LINE:COL: key: message when it is unusable.
    Check(CheckArgs),
    /// Write the mapped design as an ngspice netlist (one batch sample): every device and wire
    /// segment a resistor, op-amp macro-models, behavioural activations, a .tran over t_max.
    ExportSpice(cli_spice::ExportArgs),
    /// Export, run ngspice -b, and compare its node voltages with apcsim's trajectory:
    /// per-layer errors, equilibrium, settling times, wall times. Exit 2 if ngspice is missing
    /// or the design exceeds --max-devices.
    SpiceCheck(cli_spice::CheckArgs),
    /// Run a design over a grid of key values and seeds (every point a full run), in parallel,
    /// point by point into a folder that --resume finishes; summary.csv, sweep.h5, report.html.
    Sweep(cli_sweep::SweepArgs),
    /// Combine the folders of a sharded sweep (`apcsim sweep --shard K/N`) into one, identical
    /// to an unsharded run.
    Merge(cli_sweep::MergeArgs),
    /// Studies over many networks (see `apcsim study --help`).
    #[command(subcommand)]
    Study(cli_study::StudyCommand),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The circuit description (TOML).
    file: PathBuf,
    /// Override a key, e.g. --set device.levels=16 --set dynamics.tau_z=200ns (repeatable,
    /// applied in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print the resolved configuration as JSON (every key, SI units, and where each value
    /// came from) instead of the summary.
    #[arg(long)]
    json: bool,
    /// Also run the gradient check: PC inference (ideal time, Dop853 to max|dz/dt| < 1e-10)
    /// on the effective hardware weights, the update read through the ADC, against BP.
    #[arg(long)]
    gradient: bool,
}

#[derive(clap::Args, Debug)]
struct ReferenceArgs {
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
    #[arg(long, default_value_t = 1e-12, allow_negative_numbers = true)]
    tol: f64,
    /// Relative error tolerance of the adaptive solvers (dopri5, dop853).
    #[arg(long, default_value_t = ReferenceOptions::default().rtol, allow_negative_numbers = true)]
    rtol: f64,
    /// Absolute error tolerance of the adaptive solvers.
    #[arg(long, default_value_t = ReferenceOptions::default().atol, allow_negative_numbers = true)]
    atol: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SolverArg {
    Auto,
    Euler,
    Rk4,
    Dopri5,
    Dop853,
    ClosedForm,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => cli_run::run(args),
        Command::Reference(args) => reference(args),
        Command::Schema => write_stdout(&config::schema_text()),
        Command::Check(args) => check(args),
        Command::ExportSpice(args) => cli_spice::export(args),
        Command::SpiceCheck(args) => cli_spice::check(args),
        Command::Sweep(args) => cli_sweep::sweep(args),
        Command::Merge(args) => cli_sweep::merge(args),
        Command::Study(cmd) => cli_study::run(cmd),
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let circuit = match config::load(&args.file, &args.set, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&circuit.config) {
            Ok(s) => format!("{s}\n"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        let built = match apcsim::study::build::build(&circuit) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                return ExitCode::from(2);
            }
        };
        let mut text = format!(
            "{}: ok\n{}\n{}",
            args.file.display(),
            circuit.summary(),
            apcsim::study::build::mapping_report(&circuit, &built)
        );
        if args.gradient {
            match gradient_report(&circuit, &built) {
                Ok(g) => text.push_str(&g),
                Err(e) => {
                    eprintln!("error: {}: {e}", args.file.display());
                    return ExitCode::from(3);
                }
            }
        }
        text
    };
    write_stdout(&text)
}

/// The gradient check of `apcsim check --gradient`, as text.
fn gradient_report(
    circuit: &apcsim::config::Circuit,
    built: &apcsim::study::build::Built,
) -> Result<String, apcsim::study::hardware::CheckError> {
    use apcsim::dynamics::{InferenceOptions, Solver, Stop};
    let opts = InferenceOptions::new(
        Solver::Dop853 {
            rtol: 1e-11,
            atol: 1e-13,
        },
        Stop::steady(1e-10, 1_000_000),
    );
    let c = apcsim::study::hardware::gradient_check(
        &built.network,
        &built.mapped,
        &built.batch,
        &circuit.periphery.dac,
        &circuit.periphery.adc,
        &opts,
    )?;
    let mut s = format!(
        "gradient check on {} samples (cos sim / norm ratio):\n",
        built.batch.size()
    );
    let row = |name: &str, a: &apcsim::network::Alignment| {
        let per: Vec<String> = a.per_layer.iter().map(|v| format!("{v:.4}")).collect();
        format!(
            "  {name:<34} {:.6} / {:.4}   per layer [{}]\n",
            a.overall,
            a.norm_ratio,
            per.join(", ")
        )
    };
    s.push_str(&row("ideal circuit: PC vs BP", &c.ideal));
    s.push_str(&row("hardware PC vs BP (ideal weights)", &c.vs_bp_ideal));
    s.push_str(&row(
        "hardware PC vs BP (effective weights)",
        &c.vs_bp_effective,
    ));
    Ok(s)
}

/// Writes a command's output; a closed pipe (`apcsim schema | head`) is not an error.
/// Writes to stdout; a reader that went away (a closed pipe) is not an error.
fn to_stdout(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_fmt(args) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// [`say!`]'s writer: any failure but a closed pipe is reported on stderr (the run's files,
/// written before any report, are unaffected).
fn write_stdout_fmt(args: std::fmt::Arguments<'_>) {
    if let Err(e) = to_stdout(args) {
        eprintln!("error: writing the report to stdout: {e}");
    }
}

fn write_stdout(text: &str) -> ExitCode {
    match to_stdout(format_args!("{text}")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the output: {e}");
            ExitCode::from(1)
        }
    }
}

fn reference(args: ReferenceArgs) -> ExitCode {
    for (name, v) in [
        ("--dt", args.dt),
        ("--tol", Some(args.tol)),
        ("--rtol", Some(args.rtol)),
        ("--atol", Some(args.atol)),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                eprintln!("error: {name} must be a finite positive number, got {v}");
                return ExitCode::from(2);
            }
        }
    }
    let input = match read_reference(&args.input) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = apcsim::io::check_writable_file(&args.out) {
        eprintln!("error: --out {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    let opts = ReferenceOptions {
        solver: match args.solver {
            SolverArg::Auto => EquilibriumSolver::Auto,
            SolverArg::Euler => EquilibriumSolver::Euler,
            SolverArg::Rk4 => EquilibriumSolver::Rk4,
            SolverArg::Dopri5 => EquilibriumSolver::Dopri5,
            SolverArg::Dop853 => EquilibriumSolver::Dop853,
            SolverArg::ClosedForm => EquilibriumSolver::ClosedForm,
        },
        dt: args.dt,
        steps: args.steps,
        tol: args.tol,
        rtol: args.rtol,
        atol: args.atol,
        ..ReferenceOptions::default()
    };
    let outcome = match run_reference(&input, &opts) {
        Ok(o) => o,
        Err(ReferenceError::Inference { file, source }) => {
            let code = match source {
                apcsim::dynamics::InferenceError::NonFinite { .. } => 3,
                _ => 2,
            };
            eprintln!("error: {file}: {source}");
            return ExitCode::from(code);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
    }
    sayln!("cos sim (PC vs BP, all layers): {:.12}", outcome.cos_sim);
    if outcome.comparisons.is_empty() && outcome.not_compared.is_empty() {
        sayln!("the input holds no computed datasets to compare with");
    } else {
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
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    }
    if let Err(e) = outcome.output.write(&args.out) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    sayln!("wrote {}", args.out.display());
    ExitCode::SUCCESS
}
