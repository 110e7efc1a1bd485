//! One chart of every kind on made-up but plausible apcsim data, and a report that shows them:
//! for looking at the charts (`cargo run --example plot_gallery`) and for the end-to-end render
//! test, which must exercise every chart kind.

use super::{
    bar_chart, heatmap, line_chart, line_chart_with_bands, stacked_area, Axis, Figure, PlotError,
    Report, Series,
};

/// The gallery's charts, each with its file name and caption. Errors: the first chart that
/// could not be drawn.
pub fn gallery_charts() -> Result<Vec<Figure>, PlotError> {
    let mut figures = Vec::new();
    figures.extend(settling_charts());
    figures.push(alignment_chart());
    figures.push(power_chart());
    figures.extend(bar_charts());
    figures.push(width_depth_chart());
    for f in &figures {
        if let Err(e) = &f.svg {
            return Err(e.clone());
        }
    }
    Ok(figures)
}

fn figure(stem: &str, caption: &str, svg: Result<String, PlotError>) -> Figure {
    Figure::new(format!("{stem}.svg"), caption, svg)
}

/// Node voltages settling, and residuals of three solvers on a log axis (with a gap).
fn settling_charts() -> [Figure; 2] {
    let t_us: Vec<f64> = (0..=400).map(|i| i as f64 * 0.0125).collect();
    let settling: Vec<Series> = (1..=4)
        .map(|l| {
            let tau = 0.25 * l as f64;
            let target = 0.9 - 0.15 * l as f64;
            let v = t_us
                .iter()
                .map(|t| target * (1.0 - (-t / tau).exp() * (3.0 * t / tau).cos()))
                .collect();
            Series::new(format!("layer {l}"), t_us.clone(), v)
        })
        .collect();
    let settling = figure(
        "settling",
        "Value-node voltages of a four-layer network relaxing to equilibrium after the input step.",
        line_chart(
            "Inference settling per layer",
            &Axis::linear("time (µs)"),
            &Axis::linear("value node voltage (V)"),
            &settling,
        ),
    );

    let residual = |rate: f64, floor: f64| -> Vec<f64> {
        t_us.iter()
            .map(|t| (2.0 * (-rate * t).exp()).max(floor))
            .collect()
    };
    let mut dopri = residual(9.0, 1e-12);
    // A stretch the solver did not record, to show how gaps look.
    dopri[120..140].iter_mut().for_each(|v| *v = f64::NAN);
    let convergence = figure(
        "convergence",
        "Largest rate of change of any activity; each curve flattens at its solver's error floor. \
         Dopri5 has a stretch without records, drawn as a gap.",
        line_chart(
            "Convergence to equilibrium",
            &Axis::linear("time (µs)"),
            &Axis::log("max |dz/dt| (V/µs)"),
            &[
                Series::new("Euler, dt = 10 ns", t_us.clone(), residual(2.0, 1e-6)),
                Series::new("RK4, dt = 10 ns", t_us.clone(), residual(4.5, 1e-9)),
                Series::new("Dopri5, adaptive", t_us.clone(), dopri),
            ],
        ),
    );
    [settling, convergence]
}

/// Alignment against width, one curve per depth with a band of ± one standard deviation.
fn alignment_chart() -> Figure {
    let widths: Vec<f64> = (4..=12).map(|k| 2f64.powi(k)).collect();
    let mut series = Vec::new();
    let mut bands = Vec::new();
    for depth in [2usize, 8, 32] {
        let d = depth as f64;
        let mean: Vec<f64> = widths
            .iter()
            .map(|w| 1.0 - 0.5 * (d / w).sqrt().min(1.0))
            .collect();
        let std: Vec<f64> = widths
            .iter()
            .map(|w| 0.25 * (d / w).sqrt().min(0.6))
            .collect();
        let lower = mean.iter().zip(&std).map(|(m, s)| m - s).collect();
        let upper = mean
            .iter()
            .zip(&std)
            .map(|(m, s)| (m + s).min(1.0))
            .collect();
        series.push(Series::new(format!("depth {depth}"), widths.clone(), mean));
        bands.push((lower, upper));
    }
    figure(
        "alignment_vs_width",
        "PC–BP gradient alignment against width, mean ± one standard deviation over 10 seeds.",
        line_chart_with_bands(
            "PC–BP gradient alignment (μPC)",
            &Axis::log("width (neurons per layer)"),
            &Axis::linear("cosine similarity"),
            &series,
            &bands,
        ),
    )
}

/// Power by component as stacked areas.
fn power_chart() -> Figure {
    let t_power: Vec<f64> = (0..=100).map(|i| i as f64 * 0.05).collect();
    let transient = |peak: f64, tau: f64, base: f64| -> Vec<f64> {
        t_power
            .iter()
            .map(|t| base + peak * (-t / tau).exp())
            .collect()
    };
    figure(
        "power",
        "Power drawn during one inference, split by circuit component.",
        stacked_area(
            "Power by component",
            &Axis::linear("time (µs)"),
            &Axis::linear("power (mW)"),
            &t_power,
            &[
                ("crossbar arrays".to_string(), transient(6.0, 0.6, 1.5)),
                ("error amplifiers".to_string(), transient(3.0, 1.2, 2.0)),
                ("value integrators".to_string(), transient(1.5, 0.8, 1.0)),
                ("ADC / DAC".to_string(), vec![0.8; t_power.len()]),
            ],
        ),
    )
}

/// Grouped bars (alignment per layer) and stacked bars (energy per layer).
fn bar_charts() -> [Figure; 2] {
    let layers: Vec<String> = (1..=6).map(|l| format!("layer {l}")).collect();
    let cosine = figure(
        "cosine_per_layer",
        "Cosine similarity of PC weight updates to backpropagation's, per layer.",
        bar_chart(
            "Weight-update alignment per layer",
            &Axis::linear("cosine similarity to BP"),
            &layers,
            &[
                (
                    "ideal network".to_string(),
                    vec![0.999, 0.997, 0.994, 0.99, 0.985, 0.97],
                ),
                (
                    "hardware (8-level devices)".to_string(),
                    vec![0.97, 0.95, 0.91, 0.86, 0.78, 0.64],
                ),
            ],
            false,
        ),
    );
    let energy = figure(
        "energy_per_layer",
        "Energy of one inference per layer, stacked by component.",
        bar_chart(
            "Energy per layer",
            &Axis::linear("energy (pJ)"),
            &layers,
            &[
                (
                    "crossbar arrays".to_string(),
                    vec![42.0, 38.0, 38.0, 38.0, 38.0, 12.0],
                ),
                (
                    "error amplifiers".to_string(),
                    vec![18.0, 18.0, 18.0, 18.0, 18.0, 6.0],
                ),
                (
                    "value integrators".to_string(),
                    vec![9.0, 9.0, 9.0, 9.0, 9.0, 3.0],
                ),
            ],
            true,
        ),
    );
    [cosine, energy]
}

/// A width × depth heatmap with missing (diverged) cells.
fn width_depth_chart() -> Figure {
    let width_ticks: Vec<String> = [16, 64, 256, 1024, 4096]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let depth_ticks: Vec<String> = [2, 4, 8, 16, 32, 64]
        .iter()
        .map(|d| d.to_string())
        .collect();
    let values: Vec<Vec<f64>> = [2.0f64, 4.0, 8.0, 16.0, 32.0, 64.0]
        .iter()
        .map(|&d| {
            [16.0f64, 64.0, 256.0, 1024.0, 4096.0]
                .iter()
                .map(|&w| {
                    if d >= 32.0 && w <= 16.0 {
                        f64::NAN // diverged
                    } else {
                        1.0 - (d / w).sqrt().min(1.0) * 0.9
                    }
                })
                .collect()
        })
        .collect();
    figure(
        "width_depth",
        "PC–BP gradient alignment over width × depth; grey cells diverged.",
        heatmap(
            "Width × depth: PC–BP alignment",
            "width (neurons per layer)",
            &width_ticks,
            "depth (layers)",
            &depth_ticks,
            &values,
            "cosine similarity",
            Some((0.0, 1.0)),
            true,
        ),
    )
}

/// The gallery as a report: every chart with its caption, a table and a command line.
pub fn gallery_report() -> Result<Report, PlotError> {
    let mut report = Report::new("apcsim chart gallery");
    report
        .paragraph(
            "Every chart kind apcsim draws, on made-up data. Colours follow the Okabe–Ito \
             palette; the heatmap uses viridis.",
        )
        .heading(2, "Run settings")
        .table(
            &["parameter", "value", "unit"],
            &[
                vec!["integrator", "Dopri5", ""],
                vec!["tolerance", "1e-12", "V/µs"],
                vec!["device levels", "8", ""],
                vec!["read noise", "0.5", "%"],
            ],
        )
        .heading(2, "Figures");
    for figure in gallery_charts()? {
        report.figure(figure);
    }
    report
        .heading(2, "Command")
        .preformatted("cargo run --example plot_gallery -- runs/plot_gallery");
    Ok(report)
}
