//! SPICE export and cross-check: the mapped design as an ngspice netlist, and the comparison
//! of ngspice's transient with apcsim's trajectory of the same circuit.
//!
//! Circuit designers trust SPICE; this module lets apcsim show that it simulates the circuit
//! it claims to. The netlist implements docs/circuit-model.md term by term with real
//! resistors for every device and wire segment, op-amp macro-models for the amplifiers and
//! behavioural sources for the activations and multipliers ([`netlist`] documents every
//! element). Then [`check::spice_check`] runs ngspice in batch mode, reads its node voltages
//! ([`ngspice`]), and compares them ([`trajectory`]) with apcsim's: the analog circuit that
//! `apcsim run` integrates, or the gradient flow it reduces to ([`reference`](mod@reference)).
//!
//! - [`design`]: the mapped design reduced to one batch sample (one sample per netlist; pick it
//!   with `--sample`), with the finite-gain factors folded into the effective network.
//! - [`netlist`]: the netlist writer (deterministic: the same design writes the same text);
//!   [`ladder`]: the wire nodes' voltages at rest, its capacitors' initial conditions.
//! - [`ngspice`]: running `ngspice -b` and reading its `wrdata` files and diagnostics.
//! - [`trajectory`]: the comparison interface — times and per-layer node values, f64 — with
//!   the error measures and the settling time.
//! - [`reference`](mod@reference): apcsim's trajectories — the analog circuit (src/analog) and
//!   the gradient flow — at ngspice's output times.
//! - [`check`]: the whole check, its device-count limit and its report.
//!
//! # Reference
//! ngspice User's Manual, version 39 (Vogt, Hendrix, Nenzi, Warning; ngspice.sourceforge.io):
//! the sections cited in [`netlist`] and [`ngspice`].

pub mod check;
pub mod design;
pub mod ladder;
pub mod netlist;
pub mod ngspice;
pub mod reference;
pub mod trajectory;

pub use check::{spice_check, CheckOptions, CheckReport, DEFAULT_MAX_DEVICES};
pub use design::SpiceDesign;
pub use netlist::{write_netlist, Netlist, NetlistOptions, Tolerances};
pub use trajectory::{compare, end_drive, settling_time, NodeKind, Series, Trajectory};

/// Why an export or a check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpiceError {
    /// The design or an option is unusable.
    #[error("{0}")]
    Input(String),
    /// apcsim cannot yet simulate what the design asks for.
    #[error("{0}")]
    Unsupported(String),
    /// Above the device-count limit.
    #[error("{0}")]
    TooLarge(String),
    #[error(
        "ngspice is not installed (no `ngspice` on PATH, nor APCSIM_NGSPICE); on Debian or \
         Ubuntu install the package `{}`: apt-get install ngspice",
        ngspice::NGSPICE_PACKAGE
    )]
    NoNgspice,
    /// ngspice failed or stopped early.
    #[error("ngspice: {0}")]
    Ngspice(String),
    /// ngspice ran longer than allowed and was killed.
    #[error(
        "ngspice did not finish within {seconds} s and was killed (--timeout raises the limit; \
         fewer --points or a smaller design shorten the run)"
    )]
    Timeout { seconds: f64 },
    /// ngspice's data files are not what the netlist asked for.
    #[error("ngspice output: {0}")]
    Output(String),
    /// apcsim's trajectory diverged.
    #[error("{0}")]
    Diverged(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An I/O failure on a file or directory of the check.
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Trajectory(#[from] trajectory::TrajectoryError),
}
