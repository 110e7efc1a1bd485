//! Running a design and what it measured: the simulation driver ([`run()`]: build, integrate,
//! gradient check), the typed run report ([`report`]: report.json, the terminal summary, a
//! sweep's records), and the traces ([`traces`]: traces.h5), written by [`output`].

pub mod output;
pub mod ppa;
pub mod readout;
pub mod report;
pub mod run;
pub mod traces;

pub use output::{write_diverged, write_measurements, REPORT_JSON, TRACES_H5};
pub use report::{LatencyPhases, ModePpa, Outcome, PpaReport, RunReport};
pub use run::{run, sim_options, DivergedRun, RunError, RunResult};
