//! Heatmaps: one value per cell of a grid of two named axes, e.g. PC–BP gradient alignment over
//! network width × depth, coloured by viridis with a colour bar.

use super::frame::{render, AxisKind, AxisSpec, ColourBar, Side};
use super::scale::{superscript, Extent, Scale};
use super::style::{font, luminance, mix, ANNOTATION_PX, MISSING};
use super::PlotError;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor, WHITE};

/// Grids wider or taller than this many cells lose the white lines between cells, which would
/// otherwise cover the colours.
const MAX_OUTLINED_CELLS: usize = 40;

/// Viridis at nine evenly spaced stops (R's `viridis(9)`); between stops it is interpolated
/// linearly, which stays within a few levels of the full 256-entry table. (plotters' own
/// `colormaps` feature does not build without `full_palette` in 0.3.7, and has fewer stops.)
const VIRIDIS: [RGBColor; 9] = [
    RGBColor(0x44, 0x01, 0x54),
    RGBColor(0x47, 0x2D, 0x7B),
    RGBColor(0x3B, 0x52, 0x8B),
    RGBColor(0x2C, 0x72, 0x8E),
    RGBColor(0x21, 0x90, 0x8C),
    RGBColor(0x27, 0xAD, 0x81),
    RGBColor(0x5D, 0xC8, 0x63),
    RGBColor(0xAA, 0xDC, 0x32),
    RGBColor(0xFD, 0xE7, 0x25),
];

/// The viridis colour at `t` in [0, 1] (clamped; NaN counts as 0): perceptually uniform and
/// readable with the common colour-vision deficiencies and in greyscale.
///
/// # Reference
/// S. van der Walt and N. Smith, matplotlib's viridis colour map, 2015; J. R. Nuñez et al.,
/// "Optimizing colormaps with consideration for color vision deficiency", PLoS ONE 13 (2018).
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let f = t * (VIRIDIS.len() - 1) as f64;
    let i = (f.floor() as usize).min(VIRIDIS.len() - 2);
    mix(VIRIDIS[i], VIRIDIS[i + 1], f - i as f64)
}

/// A heatmap of `values`, one row per y tick: `values[r][c]` is drawn at column `x_ticks[c]`,
/// row `y_ticks[r]`, with row 0 at the bottom (y grows upwards, like a chart axis).
///
/// Colours run over `range` (values outside it take the end colours), or over the finite values'
/// range when `range` is `None`. NaN cells are grey, and the colour bar then shows a grey "NaN"
/// swatch; infinite values take the end colours. With `annotate`, each cell shows its value
/// when the cell is large enough for the text. Errors: [`PlotError::LengthMismatch`] when the
/// rows are not one per y tick or a row is not one value per x tick, [`PlotError::NoData`] when
/// the grid is empty, [`PlotError::InvalidRange`] for a range that is not finite or runs
/// backwards.
pub fn heatmap(
    title: &str,
    x_label: &str,
    x_ticks: &[String],
    y_label: &str,
    y_ticks: &[String],
    values: &[Vec<f64>],
    value_label: &str,
    range: Option<(f64, f64)>,
    annotate: bool,
) -> Result<String, PlotError> {
    let mismatch = |what, expected, found| PlotError::mismatch(title, what, expected, found);
    if values.len() != y_ticks.len() {
        return Err(mismatch("rows".to_string(), y_ticks.len(), values.len()));
    }
    for (r, row) in values.iter().enumerate() {
        if row.len() != x_ticks.len() {
            return Err(mismatch(format!("row {r}"), x_ticks.len(), row.len()));
        }
    }
    if x_ticks.is_empty() || y_ticks.is_empty() {
        return Err(PlotError::NoData {
            title: title.to_string(),
            log: false,
        });
    }
    let (lo, hi) = colour_range(title, values, range)?;
    let has_missing = values.iter().flatten().any(|v| v.is_nan());

    let x_spec = AxisSpec {
        label: x_label.to_string(),
        kind: AxisKind::Categories(x_ticks.to_vec()),
    };
    let y_spec = AxisSpec {
        label: y_label.to_string(),
        kind: AxisKind::Categories(y_ticks.to_vec()),
    };
    let side = Side::ColourBar(ColourBar {
        label: value_label.to_string(),
        lo,
        hi,
        colour: viridis,
        show_missing: has_missing,
    });
    let outlined = x_ticks.len() <= MAX_OUTLINED_CELLS && y_ticks.len() <= MAX_OUTLINED_CELLS;
    render(title, &x_spec, &y_spec, &side, |plot| {
        let colour_of = |v: f64| {
            if v.is_nan() {
                MISSING
            } else {
                viridis((v - lo) / (hi - lo))
            }
        };
        for (r, row) in values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x, y) = (c as f64, r as f64);
                let (a, b) = ((x - 0.5, y - 0.5), (x + 0.5, y + 0.5));
                plot.rect(a, b, colour_of(v).filled())?;
                if outlined {
                    plot.rect(a, b, WHITE.stroke_width(1))?;
                }
            }
        }
        if !annotate {
            return Ok(());
        }
        let format = cell_format(values);
        let (p0, p1) = (plot.pixel((-0.5, -0.5)), plot.pixel((0.5, 0.5)));
        let (cell_w, cell_h) = ((p1.0 - p0.0).abs() as f64, (p1.1 - p0.1).abs() as f64);
        for (r, row) in values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let Some(text) = format_value(v, format) else {
                    continue;
                };
                let fits = super::style::text_width_px(&text, ANNOTATION_PX, false) + 4.0 <= cell_w
                    && ANNOTATION_PX * 1.3 <= cell_h;
                if !fits {
                    continue;
                }
                let ink = if luminance(colour_of(v)) > 0.36 {
                    RGBColor(0x11, 0x11, 0x11)
                } else {
                    WHITE
                };
                let style = font(ANNOTATION_PX, ink).pos(Pos::new(HPos::Center, VPos::Center));
                plot.text((c as f64, r as f64), text, style)?;
            }
        }
        Ok(())
    })
}

/// The colour range: `range` checked, or the finite values' extent (0..1 when there are none),
/// widened when it is a single value.
fn colour_range(
    title: &str,
    values: &[Vec<f64>],
    range: Option<(f64, f64)>,
) -> Result<(f64, f64), PlotError> {
    let mut extent = Extent::new();
    match range {
        Some((lo, hi)) => {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(PlotError::InvalidRange {
                    title: title.to_string(),
                    lo,
                    hi,
                });
            }
            extent.add(lo);
            extent.add(hi);
        }
        None => {
            values
                .iter()
                .flatten()
                .filter_map(|&v| super::scale::drawn(false, v))
                .for_each(|v| extent.add(v));
            if extent.is_empty() {
                extent.add(0.0);
                extent.add(1.0);
            }
        }
    }
    // The extent holds a value by now, so the fallback is never taken.
    Ok(Scale::new(false, extent, 0.0, 0.0).map_or((0.0, 1.0), |s| s.range()))
}

/// How cell values are written: with a fixed number of decimals (so that a column of cells
/// lines up and compares at a glance), or as `m×10ⁿ` when they are very large or very small.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CellFormat {
    Decimals(usize),
    Scientific,
}

/// The fewest decimals that write every finite value exactly, but no more than three significant
/// digits of the largest one needs (`0.90, 0.95`; `12.3`; `0.971`).
fn cell_format(values: &[Vec<f64>]) -> CellFormat {
    let finite: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let largest = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return CellFormat::Decimals(0);
    }
    if !(1e-3..1e4).contains(&largest) {
        return CellFormat::Scientific;
    }
    let most = (2 - largest.log10().floor() as i32).max(0) as usize;
    let exact = |d: usize| {
        let f = 10f64.powi(d as i32);
        finite
            .iter()
            .all(|v| ((v * f).round() - v * f).abs() < 1e-6)
    };
    CellFormat::Decimals((0..most).find(|&d| exact(d)).unwrap_or(most))
}

/// A cell's value as `format` says; `None` for NaN, whose grey says enough.
fn format_value(v: f64, format: CellFormat) -> Option<String> {
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        return Some(if v > 0.0 { "∞" } else { "−∞" }.to_string());
    }
    let text = match format {
        _ if v == 0.0 => "0".to_string(),
        CellFormat::Decimals(d) => format!("{v:.d$}"),
        CellFormat::Scientific => {
            let e = v.abs().log10().floor() as i32;
            let m = v / 10f64.powi(e);
            format!("{m:.1}×10{}", superscript(e))
        }
    };
    Some(match text.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c.is_ascii_digit() && c != '0') => format!("−{rest}"),
        Some(rest) => rest.to_string(),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_values_read_short_and_line_up() {
        let f = |rows: &[&[f64]]| cell_format(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>());
        assert_eq!(f(&[&[0.9, 0.95, f64::NAN]]), CellFormat::Decimals(2));
        assert_eq!(f(&[&[0.97123, 0.5]]), CellFormat::Decimals(3));
        assert_eq!(f(&[&[12.345, 3.0]]), CellFormat::Decimals(1));
        assert_eq!(f(&[&[1234.6, 2.0]]), CellFormat::Decimals(0));
        assert_eq!(f(&[&[4.2e-5]]), CellFormat::Scientific);
        assert_eq!(
            format_value(0.9, CellFormat::Decimals(2)).as_deref(),
            Some("0.90")
        );
        assert_eq!(
            format_value(-0.001, CellFormat::Decimals(2)).as_deref(),
            Some("0.00")
        );
        assert_eq!(
            format_value(-0.5, CellFormat::Decimals(1)).as_deref(),
            Some("−0.5")
        );
        assert_eq!(
            format_value(-4.2e-5, CellFormat::Scientific).as_deref(),
            Some("−4.2×10⁻⁵")
        );
        assert_eq!(
            format_value(f64::NEG_INFINITY, CellFormat::Scientific).as_deref(),
            Some("−∞")
        );
        assert_eq!(format_value(f64::NAN, CellFormat::Decimals(0)), None);
    }

    #[test]
    fn colour_ranges() {
        let v = vec![vec![1.0, f64::NAN], vec![f64::INFINITY, 3.0]];
        assert_eq!(colour_range("t", &v, None), Ok((1.0, 3.0)));
        assert_eq!(colour_range("t", &v, Some((0.0, 1.0))), Ok((0.0, 1.0)));
        assert_eq!(colour_range("t", &[vec![f64::NAN]], None), Ok((0.0, 1.0)));
        assert_eq!(colour_range("t", &[vec![2.0]], None), Ok((1.8, 2.2)));
        assert!(colour_range("t", &v, Some((1.0, 0.0))).is_err());
        assert!(colour_range("t", &v, Some((0.0, f64::NAN))).is_err());
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(0.5), VIRIDIS[4]);
        assert_eq!(viridis(7.0), VIRIDIS[8]);
        assert_eq!(viridis(f64::NAN), VIRIDIS[0]);
        // Lightness rises monotonically, so the order of values reads in greyscale too.
        let l: Vec<f64> = (0..=20)
            .map(|i| luminance(viridis(i as f64 / 20.0)))
            .collect();
        assert!(l.windows(2).all(|w| w[1] > w[0]), "{l:?}");
    }
}
