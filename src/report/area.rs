//! Stacked area charts: parts that add up to a total over x, e.g. power over time split by
//! circuit component.

use super::frame::{render, AxisSpec, Side, Swatch};
use super::scale::{drawn, Extent, Scale};
use super::style::fill_colour;
use super::{Axis, PlotError};
use plotters::style::Color;

/// Components stacked bottom to top in the given order over the shared `x_values`; the legend
/// lists them top to bottom, as they appear.
///
/// The areas show non-negative shares, so a negative value is drawn as 0. A column (one x) whose
/// x cannot be drawn, or where any component is NaN or infinite, is left out and the areas break
/// there. Columns are drawn in order of x. On a log y axis the lowest area starts at the bottom
/// of the axis. Errors: [`PlotError::LengthMismatch`] when a component is not as long as
/// `x_values`, [`PlotError::NoData`] when no column can be drawn.
pub fn stacked_area(
    title: &str,
    x: &Axis,
    y: &Axis,
    x_values: &[f64],
    components: &[(String, Vec<f64>)],
) -> Result<String, PlotError> {
    for (name, values) in components {
        if values.len() != x_values.len() {
            let what = format!("component \"{name}\"");
            return Err(PlotError::mismatch(
                title,
                what,
                x_values.len(),
                values.len(),
            ));
        }
    }
    // Columns in order of x; a column that cannot be drawn is kept as a gap marker (None).
    let mut order: Vec<usize> = (0..x_values.len()).collect();
    order.sort_by(|&a, &b| x_values[a].total_cmp(&x_values[b]));
    let columns: Vec<Option<(f64, Vec<f64>)>> = order
        .iter()
        .map(|&i| {
            let xd = drawn(x.log, x_values[i])?;
            let mut total = 0.0;
            let mut tops = Vec::with_capacity(components.len());
            for (_, values) in components {
                let v = values[i];
                if !v.is_finite() {
                    return None;
                }
                total += v.max(0.0);
                tops.push(total);
            }
            Some((xd, tops))
        })
        .collect();

    let (mut x_extent, mut y_extent) = (Extent::new(), Extent::new());
    for (xd, tops) in columns.iter().flatten() {
        x_extent.add(*xd);
        for &t in tops {
            y_extent.add(drawn(y.log, t).unwrap_or(f64::NAN));
        }
        if !y.log {
            y_extent.add(0.0);
        }
    }
    let no_data = || PlotError::NoData {
        title: title.to_string(),
        log: x.log || y.log,
    };
    if components.is_empty() {
        return Err(no_data());
    }
    let x_scale = Scale::new(x.log, x_extent, 0.0, 0.0).ok_or_else(no_data)?;
    let pad_low = if y.log { 0.05 } else { 0.0 };
    let y_scale = Scale::new(y.log, y_extent, pad_low, 0.05).ok_or_else(no_data)?;
    let floor = y_scale.range().0;
    let level = |v: f64| drawn(y.log, v).unwrap_or(floor).max(floor);

    let legend = components
        .iter()
        .enumerate()
        .rev()
        .map(|(i, (name, _))| (name.clone(), Swatch::Patch(fill_colour(i))))
        .collect();
    let x_spec = AxisSpec::numeric(x, x_scale);
    let y_spec = AxisSpec::numeric(y, y_scale);
    let runs: Vec<Vec<&(f64, Vec<f64>)>> = columns
        .split(Option::is_none)
        .filter(|r| !r.is_empty())
        .map(|r| r.iter().flatten().collect())
        .collect();
    render(title, &x_spec, &y_spec, &Side::Legend(legend), |plot| {
        for run in &runs {
            for k in 0..components.len() {
                let colour = fill_colour(k);
                let top = |(xd, tops): &&(f64, Vec<f64>)| (*xd, level(tops[k]));
                let bottom = |(xd, tops): &&(f64, Vec<f64>)| {
                    (*xd, if k == 0 { floor } else { level(tops[k - 1]) })
                };
                if run.len() == 1 {
                    // A lone column has no width: show it as a thick vertical stroke.
                    let line = vec![bottom(&run[0]), top(&run[0])];
                    plot.path(line, colour.stroke_width(4))?;
                    continue;
                }
                let mut outline: Vec<(f64, f64)> = run.iter().map(top).collect();
                outline.extend(run.iter().rev().map(bottom));
                plot.polygon(outline, colour.mix(0.85).filled())?;
                plot.path(run.iter().map(top).collect(), colour.stroke_width(1))?;
            }
        }
        Ok(())
    })
}
