//! Bar charts over named categories, grouped side by side or stacked: energy per layer by
//! component, cosine similarity per layer for the ideal network against the hardware.

use super::frame::{render, AxisKind, AxisSpec, Side, Swatch};
use super::scale::{drawn, Extent, Scale};
use super::style::{fill_colour, AXIS_LINE};
use super::{Axis, PlotError};
use plotters::style::Color;

/// Fraction of a category's slot that its bars fill.
const GROUP_WIDTH: f64 = 0.8;
/// Width of a stacked bar, as a fraction of the slot.
const STACK_WIDTH: f64 = 0.6;

/// One bar per category and group, grouped side by side (`stacked == false`) or stacked
/// (`stacked == true`). `groups[g].1[c]` is group `g`'s value in category `categories[c]`.
///
/// Bars start at 0 on a linear axis (negative values go down; stacked, positive and negative
/// parts stack away from 0 separately) and at the bottom of the axis on a log axis (where values
/// that are not positive are left out). NaN and infinite values are left out. A single unnamed
/// group gets no legend. Errors: [`PlotError::LengthMismatch`] when a group's values are not one
/// per category, [`PlotError::NoData`] when no bar can be drawn.
pub fn bar_chart(
    title: &str,
    y: &Axis,
    categories: &[String],
    groups: &[(String, Vec<f64>)],
    stacked: bool,
) -> Result<String, PlotError> {
    for (name, values) in groups {
        if values.len() != categories.len() {
            let what = format!("group \"{name}\"");
            return Err(PlotError::mismatch(
                title,
                what,
                categories.len(),
                values.len(),
            ));
        }
    }
    // Each bar as (group, category, from, to) in data values; `from` None means the axis bottom.
    let mut bars: Vec<(usize, usize, Option<f64>, f64)> = Vec::new();
    for c in 0..categories.len() {
        let (mut up, mut down) = (0.0, 0.0);
        for (g, (_, values)) in groups.iter().enumerate() {
            let v = values[c];
            if drawn(y.log, v).is_none() {
                continue;
            }
            let (from, to) = if !stacked {
                ((!y.log).then_some(0.0), v)
            } else if v >= 0.0 {
                let from = up;
                up += v;
                ((!y.log || from > 0.0).then_some(from), up)
            } else {
                let from = down;
                down += v;
                (Some(from), down)
            };
            bars.push((g, c, from, to));
        }
    }

    let mut extent = Extent::new();
    for &(_, _, from, to) in &bars {
        extent.add(drawn(y.log, to).unwrap_or(f64::NAN));
        if let Some(f) = from {
            extent.add(drawn(y.log, f).unwrap_or(f64::NAN));
        }
    }
    let no_data = || PlotError::NoData {
        title: title.to_string(),
        log: y.log,
    };
    if categories.is_empty() || groups.is_empty() || bars.is_empty() {
        return Err(no_data());
    }
    // Pad only away from the bars' base, so bars stand on the axis (linear) or leave room for
    // the smallest bar to show (log).
    let (pad_low, pad_high) = if y.log {
        (0.1, 0.05)
    } else {
        let (lo, hi) = bars
            .iter()
            .fold((0.0f64, 0.0f64), |(lo, hi), b| (lo.min(b.3), hi.max(b.3)));
        (
            (if lo < 0.0 { 0.05 } else { 0.0 }),
            (if hi > 0.0 { 0.05 } else { 0.0 }),
        )
    };
    let y_scale = Scale::new(y.log, extent, pad_low, pad_high).ok_or_else(no_data)?;
    let (floor, ceiling) = y_scale.range();
    let crosses_zero = !y.log && floor < 0.0 && ceiling > 0.0;

    let single_unnamed = groups.len() == 1 && groups[0].0.trim().is_empty();
    let side = if single_unnamed {
        Side::Nothing
    } else {
        Side::Legend(
            groups
                .iter()
                .enumerate()
                .map(|(g, (name, _))| (name.clone(), Swatch::Patch(fill_colour(g))))
                .collect(),
        )
    };
    let x_spec = AxisSpec {
        label: String::new(),
        kind: AxisKind::Categories(categories.to_vec()),
    };
    let y_spec = AxisSpec::numeric(y, y_scale);
    let n = groups.len() as f64;
    render(title, &x_spec, &y_spec, &side, |plot| {
        for &(g, c, from, to) in &bars {
            let (left, right) = if stacked {
                (c as f64 - STACK_WIDTH / 2.0, c as f64 + STACK_WIDTH / 2.0)
            } else {
                let w = GROUP_WIDTH / n;
                let left = c as f64 - GROUP_WIDTH / 2.0 + g as f64 * w;
                // A hairline gap between neighbouring bars of a group.
                (left + 0.04 * w, left + 0.96 * w)
            };
            let base = from.and_then(|f| drawn(y.log, f)).unwrap_or(floor);
            let top = drawn(y.log, to).unwrap_or(floor);
            plot.rect((left, base), (right, top), fill_colour(g).filled())?;
        }
        if crosses_zero {
            let (x_lo, x_hi) = (-0.5, categories.len() as f64 - 0.5);
            plot.path(vec![(x_lo, 0.0), (x_hi, 0.0)], AXIS_LINE.stroke_width(1))?;
        }
        Ok(())
    })
}
