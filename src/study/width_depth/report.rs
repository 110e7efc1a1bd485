//! The width x depth study drawn: every figure of [`StudyResults::figures`] as an SVG file, and
//! `report.html`, one self-contained page that carries them inline beside the terminal report.
//! The last stage of the study's data flow: it reads finished results and writes files.
//!
//! The figures: the cos-sim heatmaps (mean and std over seeds) at initialisation and after the
//! last training step, the hardware-against-its-own-BP heatmap of device runs, cos sim and
//! s - 1 against N / L (the latter with the theory), and cos sim along training for the corners
//! of the grid.

use super::{DeviceSetup, Figures, Heatmap, Series, StudyPlan, StudyResults};
use crate::network::Parameterisation;
use crate::report::{self, heatmap, line_chart_with_bands, Axis, Figure, PlotError, Report};
use std::path::Path;

/// Length of the Okabe–Ito palette the line charts cycle through: series i and i + 8 share a
/// colour and the second is dashed, which pairs each depth's theory with its measurement.
const PALETTE: usize = 8;

/// Cells below this make a cos-sim heatmap span -1..1 instead of 0..1.
const ANTI_ALIGNED: f64 = -0.5;

const COS_LABEL: &str = "cos sim (PC, BP)";
const RATIO_LABEL: &str = "N / L (width / depth)";

impl StudyResults {
    /// Writes `study.csv`, `summary.csv`, the SVG figures and `report.html` into `dir`
    /// (created if needed), each file whole or not at all.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        crate::io::write_atomic(&dir.join("study.csv"), self.study_csv().as_bytes())?;
        crate::io::write_atomic(&dir.join("summary.csv"), self.summary_csv().as_bytes())?;
        write_report(self, dir)
    }
}

/// Writes the SVG figures and `report.html` into `dir`, each file whole or not at all, and
/// removes the figures of an earlier report there that this one does not draw. A figure that
/// cannot be drawn is named in the report instead.
pub fn write_report(results: &StudyResults, dir: &Path) -> std::io::Result<()> {
    let plan = &results.plan;
    let mut report = Report::new(&format!(
        "apcsim study width-depth: {}",
        short_name(results)
    ));
    report.paragraph(&format!(
        "apcsim {}: {} widths x {} depths x {} seed{}, Adam steps 0..={}. Raw results (one row \
         per point and step) are in study.csv, means and standard deviations over seeds in \
         summary.csv; every figure is also an SVG file beside this page.",
        env!("CARGO_PKG_VERSION"),
        plan.widths.len(),
        plan.depths.len(),
        plan.seeds,
        if plan.seeds == 1 { "" } else { "s" },
        plan.steps
    ));
    report.heading(2, "Summary");
    report.preformatted(&results.report());
    report.heading(2, "Figures");
    for figure in figures(results) {
        report.figure(figure);
    }
    Ok(report.write(dir)?)
}

/// "μPC, linear, rram_hfo2": what the study ran, for titles.
fn short_name(results: &StudyResults) -> String {
    let plan = &results.plan;
    let param = match plan.parameterisation {
        Parameterisation::Mupc => "μPC",
        Parameterisation::Sp => "SP",
        Parameterisation::Ntp => "NTP",
    };
    format!(
        "{param}{}, {}, {}",
        if plan.skips { " + skips" } else { "" },
        plan.activation,
        plan.device
            .as_ref()
            .map_or_else(|| "ideal".to_string(), DeviceSetup::label)
    )
}

/// The study's figures, in the report's order.
pub fn figures(results: &StudyResults) -> Vec<Figure> {
    let f = results.figures();
    let name = short_name(results);
    let mut out = heatmap_figures(&results.plan, &f, &name);
    out.extend(ratio_figures(&results.plan, &f, &name));
    out.extend(training_figure(&results.plan, &f, &name));
    out
}

/// The cos-sim heatmaps (and their std over seeds) at initialisation and after training, and
/// the hardware's own on a device.
fn heatmap_figures(plan: &StudyPlan, f: &Figures, name: &str) -> Vec<Figure> {
    let seeds = plan.seeds;
    let mut out = Vec::new();
    let mut cos_heatmaps = |h: &Heatmap, tag: &str, when: &str| {
        out.push(Figure {
            file: format!("cos_sim_{tag}.svg"),
            caption: format!(
                "Cosine similarity between PC's weight gradient at the exact equilibrium and BP's, \
                 {when}: mean over {seeds} seed{}, depth L (weight layers) against hidden width \
                 N. {}",
                if seeds == 1 { "" } else { "s" },
                cos_range_note(&h.mean)
            ),
            svg: cos_heatmap(&format!("cos sim PC vs BP {when} ({name})"), h),
        });
        if seeds > 1 {
            out.push(Figure {
                file: format!("cos_sim_std_{tag}.svg"),
                caption: format!(
                    "Standard deviation over {seeds} seeds of the cosine similarity {when}."
                ),
                svg: std_heatmap(
                    &format!("std of cos sim over seeds {when} ({name})"),
                    h,
                    COS_LABEL,
                ),
            });
        }
    };
    cos_heatmaps(&f.cos_sim_t0, "t0", "at initialisation");
    if let Some(h) = &f.cos_sim_final {
        cos_heatmaps(h, "final", &format!("after {} Adam steps", plan.steps));
    }
    if let Some(h) = &f.cos_sim_hw_bp_t0 {
        out.push(Figure {
            file: "cos_sim_hw_bp_t0.svg".into(),
            caption: format!(
                "The hardware's PC gradient against BP through the hardware's own effective \
                 weights and converted inputs, at initialisation (mean over seeds): where this \
                 stays near 1 while the cos sim against the ideal network's BP does not, the \
                 weight errors of the mapping, not PC, cost the alignment. {}",
                cos_range_note(&h.mean)
            ),
            svg: cos_heatmap(
                &format!("cos sim hardware PC vs BP on its own weights, t = 0 ({name})"),
                h,
            ),
        });
    }
    out
}

/// Cos sim and s - 1 (with the theory) at initialisation against N / L.
fn ratio_figures(plan: &StudyPlan, f: &Figures, name: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    out.push(Figure {
        file: "cos_sim_vs_ratio.svg".into(),
        caption: format!(
            "Cosine similarity at initialisation against N / L, one curve per depth: mean over \
             seeds, the band mean ± one standard deviation. Under μPC it should rise towards 1 \
             as the network gets wider than deep ({name})."
        ),
        svg: bands_chart(
            &format!("cos sim PC vs BP at t = 0 against N / L ({name})"),
            &Axis::log(RATIO_LABEL),
            &Axis::linear(COS_LABEL),
            &f.cos_sim_vs_ratio,
            &[],
        ),
    });
    if !f.s_minus_1_vs_ratio.is_empty() {
        let theory = if plan.parameterisation == Parameterisation::Mupc && !plan.skips {
            "the μPC theory (L − 1)/(γ₀² N)"
        } else {
            "the theory E[tr S]/O − 1 of this parameterisation"
        };
        out.push(Figure {
            file: "s_minus_1_vs_ratio.svg".into(),
            caption: format!(
                "The rescaling s − 1 = tr(S)/O − 1 at initialisation against N / L: measured \
                 (solid, mean ± std over seeds{}) and {theory} (dashed, same colour per depth). \
                 PC's gradient is BP's as s − 1 → 0.",
                if plan.device.is_some() {
                    ", S of the mapped hardware network"
                } else {
                    ""
                }
            ),
            svg: bands_chart(
                &format!("s − 1 at t = 0 against N / L, measured and theory ({name})"),
                &Axis::log(RATIO_LABEL),
                &Axis::log("s − 1 = tr(S)/O − 1"),
                &f.s_minus_1_vs_ratio,
                &f.theory_vs_ratio,
            ),
        });
    }
    out
}

/// Cos sim along training for the corners of the grid.
fn training_figure(plan: &StudyPlan, f: &Figures, name: &str) -> Option<Figure> {
    if plan.steps == 0 {
        return None;
    }
    let corners = corners(&plan.widths, &plan.depths);
    let picked: Vec<Series> = corners
        .iter()
        .filter_map(|(w, d)| {
            let label = format!("N = {w}, L = {d}");
            f.training.iter().find(|s| s.label == label).cloned()
        })
        .collect();
    Some(Figure {
        file: "training.svg".into(),
        caption: format!(
            "Cosine similarity between PC's and BP's gradients on the PC-trained weights \
                 along {} Adam steps, for the corners of the grid (mean ± std over seeds); step \
                 t is measured before the t-th update.",
            plan.steps
        ),
        svg: bands_chart(
            &format!("cos sim PC vs BP along training ({name})"),
            &Axis::linear("Adam step"),
            &Axis::linear(COS_LABEL),
            &picked,
            &[],
        ),
    })
}

/// The smallest and largest width, each with the smallest and largest depth, without repeats.
fn corners(widths: &[usize], depths: &[usize]) -> Vec<(usize, usize)> {
    let ends = |v: &[usize]| {
        let mut e: Vec<usize> = v.first().into_iter().chain(v.last()).copied().collect();
        e.dedup();
        e
    };
    let mut out = Vec::new();
    for w in ends(widths) {
        for d in ends(depths) {
            out.push((w, d));
        }
    }
    out
}

fn ticks(values: &[usize]) -> Vec<String> {
    values.iter().map(usize::to_string).collect()
}

fn study_heatmap(
    title: &str,
    h: &Heatmap,
    values: &[Vec<f64>],
    value_label: &str,
    range: Option<(f64, f64)>,
) -> Result<String, PlotError> {
    heatmap(
        title,
        "hidden width N",
        &ticks(&h.widths),
        "depth L (weight layers)",
        &ticks(&h.depths),
        values,
        value_label,
        range,
        true,
    )
}

/// Colour range of a cos-sim heatmap: 0..1, so that studies compare colour for colour and the
/// colours resolve the range where PC and BP are close; -1..1 when a cell is clearly
/// anti-aligned, which 0..1 would hide.
fn cos_range(values: &[Vec<f64>]) -> (f64, f64) {
    let lowest = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    if lowest < ANTI_ALIGNED {
        (-1.0, 1.0)
    } else {
        (0.0, 1.0)
    }
}

/// What a reader needs to know about the colours of a cos-sim heatmap.
fn cos_range_note(values: &[Vec<f64>]) -> &'static str {
    if cos_range(values).0 < 0.0 {
        "Colours span −1..1."
    } else if values.iter().flatten().any(|&v| v < 0.0) {
        "Colours span 0..1; the few cells below 0 take the colour of 0 and show their sign."
    } else {
        "Colours span 0..1."
    }
}

fn cos_heatmap(title: &str, h: &Heatmap) -> Result<String, PlotError> {
    study_heatmap(title, h, &h.mean, COS_LABEL, Some(cos_range(&h.mean)))
}

/// The heatmap of `h`'s standard deviations, coloured from 0 to the largest.
fn std_heatmap(title: &str, h: &Heatmap, quantity: &str) -> Result<String, PlotError> {
    let values: Vec<Vec<f64>> = h
        .std
        .iter()
        .map(|row| row.iter().map(|s| s.unwrap_or(f64::NAN)).collect())
        .collect();
    let largest = values.iter().flatten().copied().fold(0.0, f64::max);
    let range = (largest > 0.0).then_some((0.0, largest));
    study_heatmap(title, h, &values, &format!("std of {quantity}"), range)
}

/// Mean ± std of a series, NaN where there is no std (the band breaks there).
fn band(s: &Series) -> (Vec<f64>, Vec<f64>) {
    let sd = |i: usize| s.std.get(i).copied().flatten().unwrap_or(f64::NAN);
    (0..s.mean.len())
        .map(|i| (s.mean[i] - sd(i), s.mean[i] + sd(i)))
        .unzip()
}

/// Line chart of `measured` (mean ± std bands) and, when given, exact curves drawn dashed in the
/// colour of the measured curve whose label they extend (`"L = 4"` and `"L = 4, theory"`).
fn bands_chart(
    title: &str,
    x: &Axis,
    y: &Axis,
    measured: &[Series],
    exact: &[Series],
) -> Result<String, PlotError> {
    let as_plot = |s: &Series| report::Series::new(s.label.clone(), s.x.clone(), s.mean.clone());
    let mut series: Vec<report::Series> = measured.iter().map(as_plot).collect();
    let mut bands: Vec<(Vec<f64>, Vec<f64>)> = measured.iter().map(band).collect();
    let no_band = |s: &Series| (vec![f64::NAN; s.x.len()], vec![f64::NAN; s.x.len()]);
    let filler = || {
        (
            report::Series::new("", Vec::new(), Vec::new()),
            (Vec::new(), Vec::new()),
        )
    };
    // The exact curve that extends each measured series' label, if any.
    let partners: Vec<Option<&Series>> = measured
        .iter()
        .map(|m| {
            exact.iter().find(|e| {
                e.label
                    .strip_prefix(m.label.as_str())
                    .is_some_and(|rest| rest.starts_with(", "))
            })
        })
        .collect();
    let paired = partners.iter().flatten().count() == exact.len();
    if !exact.is_empty() && measured.len() <= PALETTE && paired {
        // Measured series and unnamed, empty fillers take the palette's first round, so that
        // the exact curve of measured series i lands at i + PALETTE: its colour, dashed.
        while series.len() < PALETTE {
            let (s, b) = filler();
            series.push(s);
            bands.push(b);
        }
        for partner in &partners {
            let (s, b) = partner.map_or_else(filler, |e| (as_plot(e), no_band(e)));
            series.push(s);
            bands.push(b);
        }
    } else {
        series.extend(exact.iter().map(as_plot));
        bands.extend(exact.iter().map(no_band));
    }
    line_chart_with_bands(title, x, y, &series, &bands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_do_not_repeat() {
        assert_eq!(corners(&[8], &[3]), vec![(8, 3)]);
        assert_eq!(
            corners(&[8, 16, 32], &[2, 4]),
            vec![(8, 2), (8, 4), (32, 2), (32, 4)]
        );
    }

    #[test]
    fn cos_heatmaps_span_0_to_1_unless_clearly_anti_aligned() {
        assert_eq!(cos_range(&[vec![0.2, -0.3]]), (0.0, 1.0));
        assert_eq!(cos_range(&[vec![0.2, -0.7]]), (-1.0, 1.0));
        assert!(cos_range_note(&[vec![0.2, -0.3]]).contains("below 0"));
    }
}
