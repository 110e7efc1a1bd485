//! The files of a run's measurements: report.json and traces.h5, each written whole or not at
//! all (a temporary name, then a rename).

use super::report::RunReport;
use super::run::{DivergedRun, RunError, RunResult};
use super::traces::{diverged_traces_h5, traces_h5};
use crate::config::Circuit;
use crate::io::h5::H5Writer;
use std::path::Path;

/// The report.json of a run.
pub const REPORT_JSON: &str = "report.json";
/// The traces.h5 of a run.
pub const TRACES_H5: &str = "traces.h5";

/// Writes report.json and traces.h5 of a completed run into `dir` (created if needed).
pub fn write_measurements(circuit: &Circuit, res: &RunResult, dir: &Path) -> Result<(), RunError> {
    write(&res.report, &traces_h5(circuit, res), dir)
}

/// Writes report.json (status "diverged", with what diverged) and traces.h5 (the points
/// recorded before the divergence) of a diverged run into `dir` (created if needed).
pub fn write_diverged(circuit: &Circuit, run: &DivergedRun, dir: &Path) -> Result<(), RunError> {
    write(&run.report, &diverged_traces_h5(circuit, run), dir)
}

fn write(report: &RunReport, traces: &H5Writer, dir: &Path) -> Result<(), RunError> {
    let werr = |p: &Path, e: &dyn std::fmt::Display| RunError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, &e))?;
    traces.write(&dir.join(TRACES_H5))?;
    let rp = dir.join(REPORT_JSON);
    crate::io::write_atomic(&rp, report.to_json_pretty().as_bytes()).map_err(|e| werr(&rp, &e))
}
