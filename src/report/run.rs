//! `apcsim run`'s outputs: the measurements ([`crate::measure`]: report.json, traces.h5), then
//! the run's figures and its report.html.

use super::{run_figures, LayerAlignment, Report};
use crate::config::Circuit;
use crate::measure::{RunError, RunResult};
use std::path::Path;

/// The compact terminal summary of a completed run.
pub fn run_summary(circuit: &Circuit, res: &RunResult) -> String {
    res.report
        .summary(circuit.dynamics.t_max_seconds, circuit.dynamics.steady_tol)
}

/// Writes report.json, traces.h5, the SVG figures and report.html into `dir` (created if
/// needed); every file is written whole or not at all.
pub fn write_run_report(circuit: &Circuit, res: &RunResult, dir: &Path) -> Result<(), RunError> {
    crate::measure::write_measurements(circuit, res, dir)?;
    let mut report = Report::new(&format!("apcsim run: {}", circuit.name));
    report.paragraph(&format!(
        "apcsim {} — design {}, {} samples. Every figure is also in report.json; the traces \
         are in traces.h5.",
        env!("CARGO_PKG_VERSION"),
        circuit.name,
        res.sim.batch
    ));
    report.heading(2, "Summary");
    report.preformatted(&run_summary(circuit, res));
    if let Some(m) = res.report.measurements() {
        report.heading(2, "Power, performance and area");
        report.paragraph(&format!(
            "Per inference, {} periphery, {} cells. {}.",
            m.ppa.technology,
            m.ppa.cell,
            crate::measure::ppa::CONVENTION
        ));
        let rows: Vec<Vec<String>> = m.ppa.rows(true).into_iter().map(Vec::from).collect();
        report.table(&crate::measure::PpaReport::COLUMNS, &rows);
    }
    report.heading(2, "Design");
    report.preformatted(&circuit.summary());
    report.heading(2, "Figures");
    let g = &res.gradients;
    let alignment = LayerAlignment {
        ideal_circuit: &g.ideal_vs_bp.alignment.per_layer,
        hardware_vs_bp_ideal: &g.hardware_vs_bp_ideal.alignment.per_layer,
        hardware_vs_bp_effective: &g.hardware_vs_bp_effective.alignment.per_layer,
    };
    for figure in run_figures(circuit, &res.sim, &res.readout_bands, alignment) {
        report.figure(figure);
    }
    report.write(dir).map_err(|e| RunError::Write {
        path: e.path.display().to_string(),
        message: e.source.to_string(),
    })
}
