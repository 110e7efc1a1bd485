//! `apcsim run`'s figures and page. The run itself moved to [`crate::measure`] (the driver,
//! the typed report, traces.h5); its items are re-exported here while other code moves to
//! them.

pub use crate::measure::report::{bp_step_macs, circuit_macs};
pub use crate::measure::run::{
    run, sim_options, Comparison, DivergedRun, GradientCheck, RunError, RunResult,
};
pub use crate::numeric::format::si;

use crate::analog::energy::component_total;
use crate::analog::Component;
use crate::config::Circuit;
use crate::plot::{bar_chart, line_chart, stacked_area, Axis, HtmlReport, PlotError, Series};
use std::path::Path;

/// The compact terminal summary of a completed run.
pub fn summary(circuit: &Circuit, res: &RunResult) -> String {
    res.report
        .summary(circuit.dynamics.t_max_seconds, circuit.dynamics.steady_tol)
}

/// Writes report.json, traces.h5, the SVG figures and report.html into `dir` (created if
/// needed); every file is written whole or not at all.
pub fn write_outputs(circuit: &Circuit, res: &RunResult, dir: &Path) -> Result<(), RunError> {
    let werr = |p: &Path, e: &dyn std::fmt::Display| RunError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    crate::measure::write_measurements(circuit, res, dir)?;
    let figures = figures(circuit, res);
    let mut html = HtmlReport::new(&format!("apcsim run: {}", circuit.name));
    html.paragraph(&format!(
        "apcsim {} — design {}, {} samples. Every figure is also in report.json; the traces \
         are in traces.h5.",
        env!("CARGO_PKG_VERSION"),
        circuit.name,
        res.sim.batch
    ));
    html.heading(2, "Summary");
    html.preformatted(&summary(circuit, res));
    html.heading(2, "Design");
    html.preformatted(&circuit.summary());
    html.heading(2, "Figures");
    for (file, caption, svg) in &figures {
        match svg {
            Ok(svg) => {
                let p = dir.join(file);
                crate::io::write_atomic(&p, svg.as_bytes()).map_err(|e| werr(&p, &e))?;
                html.figure(caption, svg);
            }
            Err(e) => {
                html.paragraph(&format!("{caption}: not drawn ({e})."));
            }
        }
    }
    let hp = dir.join("report.html");
    crate::io::write_atomic(&hp, html.to_html().as_bytes()).map_err(|e| werr(&hp, &e))?;
    Ok(())
}

type Figure = (String, String, Result<String, PlotError>);

/// The run's figures: (file name, caption, SVG).
fn figures(circuit: &Circuit, res: &RunResult) -> Vec<Figure> {
    let mut out: Vec<Figure> = Vec::new();
    let t = &res.sim.traces;
    let w = &circuit.architecture.widths;
    let l_out = w.len() - 1;
    let us: Vec<f64> = t.time_seconds.iter().map(|s| s * 1e6).collect();
    let time_axis = Axis::linear("time (µs)");
    let k = t.samples.len();
    if k > 0 && !us.is_empty() {
        // Distance of each layer from its final value, for the first traced sample.
        let lay = res.built.network.layout(res.sim.batch);
        let series: Vec<Series> = (1..l_out)
            .map(|l| {
                let n = w[l];
                let zf = &res.sim.final_z[lay.range(l)][..n];
                let range = t.z[l - 1][..n]
                    .iter()
                    .zip(zf)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                let y = (0..us.len())
                    .map(|p| {
                        let z = &t.z[l - 1][p * k * n..p * k * n + n];
                        let d = z
                            .iter()
                            .zip(zf)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f64::max);
                        if range > 0.0 {
                            d / range
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                Series::new(format!("layer {l}"), us.clone(), y)
            })
            .collect();
        out.push((
            "convergence.svg".into(),
            format!(
                "Largest distance of a layer's value nodes from their final values, relative to \
                 the layer's range (sample {}); settled below settle_tol = {}.",
                t.samples[0], circuit.dynamics.settle_tol
            ),
            line_chart(
                "Settling: max |z − z_final| / range",
                &time_axis,
                &Axis::log("relative distance"),
                &series,
            ),
        ));
        for l in 1..l_out {
            let n = w[l];
            let shown = n.min(4);
            let series: Vec<Series> = (0..shown)
                .map(|i| {
                    let y = (0..us.len())
                        .map(|p| t.z[l - 1][p * k * n + i] * circuit.crossbar.v_read_volts * 1e3)
                        .collect();
                    Series::new(format!("node {i}"), us.clone(), y)
                })
                .collect();
            out.push((
                format!("settling_layer_{l}.svg"),
                format!(
                    "Value-node voltages of layer {l} (the first {shown} nodes, sample {}).",
                    t.samples[0]
                ),
                line_chart(
                    &format!("Layer {l}: value nodes"),
                    &time_axis,
                    &Axis::linear("voltage (mV)"),
                    &series,
                ),
            ));
        }
    }
    if !t.power_watts.is_empty() {
        let comps: Vec<(String, Vec<f64>)> = Component::ALL
            .iter()
            .filter(|c| t.power_watts.iter().any(|p| p[c.index()] > 0.0))
            .map(|c| {
                (
                    c.name().replace('_', " "),
                    t.power_watts.iter().map(|p| p[c.index()] * 1e3).collect(),
                )
            })
            .collect();
        out.push((
            "power.svg".into(),
            format!(
                "Power drawn by the whole batch ({} circuits) over time, by component.",
                res.sim.batch
            ),
            stacked_area(
                "Power by component",
                &time_axis,
                &Axis::linear("power (mW)"),
                &us,
                &comps,
            ),
        ));
    }
    if let Some(energy) = res.sim.energy.as_ref() {
        let b = res.sim.batch as f64;
        let cats: Vec<String> = (1..=l_out).map(|l| format!("layer {l}")).collect();
        let groups: Vec<(String, Vec<f64>)> = Component::ALL
            .iter()
            .filter(|c| component_total(energy, **c) > 0.0)
            .map(|c| {
                (
                    c.name().replace('_', " "),
                    energy.iter().map(|l| l[c.index()] / b * 1e9).collect(),
                )
            })
            .collect();
        out.push((
            "energy.svg".into(),
            format!(
                "Energy per sample over the inference window ({}), by layer and component.",
                si(res.sim.window_seconds, "s")
            ),
            bar_chart(
                "Energy per sample",
                &Axis::linear("energy (nJ)"),
                &cats,
                &groups,
                true,
            ),
        ));
    }
    let g = &res.gradients;
    let cats: Vec<String> = (1..=l_out).map(|l| format!("W{}", l - 1)).collect();
    out.push((
        "alignment.svg".into(),
        "Cosine similarity of the PC update to BP per layer: the ideal circuit (theory), and \
         the hardware against BP on the ideal and on the effective weights."
            .into(),
        bar_chart(
            "Gradient alignment per layer",
            &Axis::linear("cosine similarity"),
            &cats,
            &[
                (
                    "ideal circuit".into(),
                    g.ideal_vs_bp.alignment.per_layer.clone(),
                ),
                (
                    "hardware vs BP (ideal W)".into(),
                    g.hardware_vs_bp_ideal.alignment.per_layer.clone(),
                ),
                (
                    "hardware vs BP (effective W)".into(),
                    g.hardware_vs_bp_effective.alignment.per_layer.clone(),
                ),
            ],
            false,
        ),
    ));
    out
}
