//! The `apcsim` command line: a thin layer over the library.
//!
//! Each subcommand has a file: its clap arguments, their conversion into the library's typed
//! options (bad values are unusable input, exit code 2), the call, and what it prints. Failures
//! go through the one exit-code policy ([`exit`]), output through the one stdout writer
//! ([`output`]), and every command that writes a folder claims it through
//! [`apcsim::io::outdir`].

#[macro_use]
mod output;
mod args;
mod check;
mod completions;
mod device;
mod exit;
mod progress;
mod reference;
mod run;
mod spice;
mod study;
mod sweep;
mod train;
mod train_table;

use clap::{Parser, Subcommand};
use exit::Failure;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "apcsim",
    version = env!("APCSIM_VERSION"),
    about = "Analog predictive-coding crossbar simulator"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: map the design, integrate the analog circuit until it settles, measure
    /// settling time and energy, check the PC update against BP, and write report.json,
    /// traces.h5, plots and report.html. Without FILE, the embedded digits-on-RRAM design.
    Run(run::RunArgs),
    /// Recompute every dataset of a reference-layout HDF5 file (weights and batch in; feedforward
    /// pass, Euler trajectory, equilibrium, energy, PC and BP gradients, alignment out) and print
    /// how each differs from the input's own values.
    Reference(reference::ReferenceArgs),
    /// Print the annotated reference of the circuit description format: every key, its
    /// default, unit and meaning (itself a valid design with every key at its default).
    Schema,
    /// Load a circuit description, apply --set overrides, check it and print the resolved
    /// design. Exit code 2 and one line FILE:LINE:COL: key: message when it is unusable.
    Check(check::CheckArgs),
    /// Write the mapped design as an ngspice netlist (one batch sample): every device and wire
    /// segment a resistor, op-amp macro-models, behavioural activations, a .tran over t_max.
    ExportSpice(spice::ExportArgs),
    /// Export, run ngspice -b, and compare its node voltages with apcsim's trajectory:
    /// per-layer errors, equilibrium, settling times, wall times. Exit 2 if ngspice is missing
    /// or the design exceeds --max-devices.
    SpiceCheck(spice::CheckArgs),
    /// Run a design over a grid of key values and seeds (every point a full run), in parallel,
    /// point by point into a folder that --resume finishes; summary.csv, sweep.h5, report.html.
    Sweep(sweep::SweepArgs),
    /// Combine the folders of a sharded sweep (`apcsim sweep --shard K/N`) into one, identical
    /// to an unsharded run.
    Merge(sweep::MergeArgs),
    /// A device on its own: N devices programmed to each target, drifted and read at each time
    /// after programming; writes DIR/device.h5 (programmed_siemens, conductance_siemens, nu),
    /// sigma vs G and G vs time as SVG and DIR/report.html, and prints mean ± std per target
    /// and time.
    Device(device::DeviceArgs),
    /// Train the design's network on optdigits (the [train] section: split, mini-batches,
    /// epochs, learning rate) by PC and BP on its hardware (updates written through
    /// [update]) and by digital PC and BP, from the same weights and batches;
    /// test accuracy and loss every epoch; writes DIR/train.h5 and DIR/report.json.
    Train(train::TrainArgs),
    /// Runs of `apcsim train` side by side, from their report.json: a markdown table of the
    /// final test accuracies of the four learners with the hardware's energy and time per
    /// step (x a digital BP step), and the test-accuracy learning curves, a panel per device.
    TrainTable(train_table::TrainTableArgs),
    /// Studies over many networks (see `apcsim study --help`).
    #[command(subcommand)]
    Study(study::StudyCommand),
    /// Print a shell completion script, e.g. `apcsim completions bash >
    /// ~/.local/share/bash-completion/completions/apcsim`.
    Completions(completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    exit::finish(dispatch(cli.command))
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Reference(args) => reference::reference(args),
        Command::Schema => {
            say!("{}", apcsim::config::schema_text());
            Ok(())
        }
        Command::Check(args) => check::check(args),
        Command::ExportSpice(args) => spice::export(args),
        Command::SpiceCheck(args) => spice::check(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Device(args) => device::device(args),
        Command::Study(cmd) => study::run(cmd),
        Command::Train(args) => train::train(args),
        Command::TrainTable(args) => train_table::train_table(args),
        Command::Completions(args) => completions::completions(args),
    }
}
