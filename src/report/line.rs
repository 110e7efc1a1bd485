//! Line charts: curves of y against x, optionally with a shaded band per curve (mean ± std).

use super::frame::{render, AxisSpec, Plot, Side, Swatch};
use super::scale::{Extent, Scale};
use super::style::{is_dashed, series_colour, GUIDE_EVENT, GUIDE_THRESHOLD};
use super::{Axis, Guide, PlotError, Series};
use plotters::style::{Color, RGBColor};

/// A point in drawn coordinates.
type Point = (f64, f64);

/// Runs longer than this many points are thinned before drawing (when x is monotonic): the
/// canvas has well under a thousand pixel columns, so more points only grow the file.
const MAX_RUN_POINTS: usize = 4000;
/// Series with at most this many drawable points get a marker on every point (sweeps, where each
/// point is a separate run and worth seeing).
const MARKER_POINTS: usize = 30;

/// A line chart of `series` with x and y axes as given.
///
/// Points with a coordinate that cannot be drawn (NaN, infinite, or not positive on a log axis)
/// are skipped and the line breaks there; an isolated point is drawn as a dot. Series get the
/// Okabe–Ito colours in order. Errors: [`PlotError::LengthMismatch`] when a series' `x` and `y`
/// differ in length, [`PlotError::NoData`] when no point at all can be drawn.
pub fn line_chart(title: &str, x: &Axis, y: &Axis, series: &[Series]) -> Result<String, PlotError> {
    lines(title, x, y, series, &[], &[])
}

/// [`line_chart`] with a shaded band behind each curve, e.g. mean ± one standard deviation:
/// `bands[i]` is `(lower, upper)` for `series[i]`, each as long as its `x`. `bands` may be empty
/// (no bands); otherwise it has one entry per series. Band points that cannot be drawn break the
/// band like the line.
pub fn line_chart_with_bands(
    title: &str,
    x: &Axis,
    y: &Axis,
    series: &[Series],
    bands: &[(Vec<f64>, Vec<f64>)],
) -> Result<String, PlotError> {
    lines(title, x, y, series, bands, &[])
}

/// [`line_chart`] with reference lines across the plot (a tolerance, the time something
/// happened), each dashed and named in the legend after the series. The axes reach far enough
/// to show every guide; a guide at a value the axis cannot show (NaN, not positive on a log
/// axis) is left out of the plot and marked "(not drawn)" in the legend.
pub fn line_chart_with_guides(
    title: &str,
    x: &Axis,
    y: &Axis,
    series: &[Series],
    guides: &[Guide],
) -> Result<String, PlotError> {
    lines(title, x, y, series, &[], guides)
}

/// Checks that every series, and every band when there are bands, pairs up point by point.
fn check_lengths(
    title: &str,
    series: &[Series],
    bands: &[(Vec<f64>, Vec<f64>)],
) -> Result<(), PlotError> {
    let mismatch = |what, expected, found| PlotError::mismatch(title, what, expected, found);
    for s in series {
        if s.y.len() != s.x.len() {
            let what = format!("y of series \"{}\"", s.name);
            return Err(mismatch(what, s.x.len(), s.y.len()));
        }
    }
    if !bands.is_empty() && bands.len() != series.len() {
        return Err(mismatch("bands".to_string(), series.len(), bands.len()));
    }
    for (s, (lower, upper)) in series.iter().zip(bands) {
        for (which, b) in [("lower", lower), ("upper", upper)] {
            if b.len() != s.x.len() {
                let what = format!("{which} band of series \"{}\"", s.name);
                return Err(mismatch(what, s.x.len(), b.len()));
            }
        }
    }
    Ok(())
}

/// Where a guide is drawn: `Some(drawn value)` on its axis, `None` when the axis cannot show it.
fn guide_at(guide: &Guide, x: &Axis, y: &Axis) -> Option<f64> {
    match guide {
        Guide::Threshold { y: v, .. } => super::scale::drawn(y.log, *v),
        Guide::Event { x: v, .. } => super::scale::drawn(x.log, *v),
    }
}

/// The legend: named series (marked "(no data)" when nothing of them can be drawn), then the
/// guides.
fn legend(
    series: &[Series],
    curves: &[Vec<Option<Point>>],
    bands: &[Vec<Option<[Point; 2]>>],
    guides: &[(&Guide, Option<f64>)],
) -> Side {
    let mut entries: Vec<(String, Swatch)> = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if s.name.trim().is_empty() {
            continue;
        }
        let empty = curves[i].iter().all(Option::is_none);
        let name = if empty {
            format!("{} (no data)", s.name)
        } else {
            s.name.clone()
        };
        let swatch = Swatch::Line {
            colour: series_colour(i),
            dashed: is_dashed(i),
            // Only a series with a band shows one (an exact curve beside measured ones has none).
            band: bands.get(i).is_some_and(|b| b.iter().any(Option::is_some)),
        };
        entries.push((name, swatch));
    }
    for (guide, at) in guides {
        let name = match at {
            Some(_) => guide.name().to_string(),
            None => format!("{} (not drawn)", guide.name()),
        };
        let swatch = Swatch::Line {
            colour: guide_colour(guide),
            dashed: true,
            band: false,
        };
        entries.push((name, swatch));
    }
    if entries.is_empty() {
        Side::Nothing
    } else {
        Side::Legend(entries)
    }
}

fn guide_colour(guide: &Guide) -> RGBColor {
    match guide {
        Guide::Threshold { .. } => GUIDE_THRESHOLD,
        Guide::Event { .. } => GUIDE_EVENT,
    }
}

/// The drawn points of every series and of every band.
type Drawn = (Vec<Vec<Option<Point>>>, Vec<Vec<Option<[Point; 2]>>>);

fn drawn_curves(x: &Axis, y: &Axis, series: &[Series], bands: &[(Vec<f64>, Vec<f64>)]) -> Drawn {
    let curves = series
        .iter()
        .map(|s| drawn_points(x, y, &s.x, &s.y))
        .collect();
    let band_curves = series
        .iter()
        .zip(bands)
        .map(|(s, (lower, upper))| {
            let lo = drawn_points(x, y, &s.x, lower);
            let hi = drawn_points(x, y, &s.x, upper);
            lo.into_iter()
                .zip(hi)
                .map(|(l, h)| Some([l?, h?]))
                .collect()
        })
        .collect();
    (curves, band_curves)
}

fn lines(
    title: &str,
    x: &Axis,
    y: &Axis,
    series: &[Series],
    bands: &[(Vec<f64>, Vec<f64>)],
    guides: &[Guide],
) -> Result<String, PlotError> {
    check_lengths(title, series, bands)?;
    let (curves, band_curves) = drawn_curves(x, y, series, bands);
    let guides: Vec<(&Guide, Option<f64>)> =
        guides.iter().map(|g| (g, guide_at(g, x, y))).collect();

    let (mut x_extent, mut y_extent) = (Extent::new(), Extent::new());
    let points = curves.iter().flatten().flatten();
    let band_points = band_curves.iter().flatten().flatten().flatten();
    for &(px, py) in points.chain(band_points) {
        x_extent.add(px);
        y_extent.add(py);
    }
    let no_data = || PlotError::NoData {
        title: title.to_string(),
        log: x.log || y.log,
    };
    if x_extent.is_empty() || y_extent.is_empty() {
        return Err(no_data());
    }
    for (guide, at) in &guides {
        match (guide, at) {
            (Guide::Threshold { .. }, Some(v)) => y_extent.add(*v),
            (Guide::Event { .. }, Some(v)) => x_extent.add(*v),
            _ => {}
        }
    }
    let x_scale = Scale::new(x.log, x_extent, 0.0, 0.0).ok_or_else(no_data)?;
    let y_scale = Scale::new(y.log, y_extent, 0.05, 0.05).ok_or_else(no_data)?;
    let side = legend(series, &curves, &band_curves, &guides);
    let (x_range, y_range) = (x_scale.range(), y_scale.range());
    let x_spec = AxisSpec::numeric(x, x_scale);
    let y_spec = AxisSpec::numeric(y, y_scale);
    render(title, &x_spec, &y_spec, &side, |plot| {
        // Bands first, so that every line stays visible on top of every band.
        for (i, band) in band_curves.iter().enumerate() {
            for run in runs(band) {
                let mut outline: Vec<(f64, f64)> = run.iter().map(|b| b[1]).collect();
                outline.extend(run.iter().rev().map(|b| b[0]));
                plot.polygon(outline, series_colour(i).mix(0.18).filled())?;
            }
        }
        for (guide, at) in &guides {
            let Some(v) = *at else { continue };
            let ends = match guide {
                Guide::Threshold { .. } => vec![(x_range.0, v), (x_range.1, v)],
                Guide::Event { .. } => vec![(v, y_range.0), (v, y_range.1)],
            };
            plot.dashed_path(ends, guide_colour(guide).stroke_width(2))?;
        }
        for (i, curve) in curves.iter().enumerate() {
            draw_curve(plot, curve, i)?;
        }
        Ok(())
    })
}

/// Drawn coordinates of the points `(xs[i], ys[i])`, `None` where either cannot be drawn.
fn drawn_points(x: &Axis, y: &Axis, xs: &[f64], ys: &[f64]) -> Vec<Option<(f64, f64)>> {
    let (xd, yd) = (
        |v| super::scale::drawn(x.log, v),
        |v| super::scale::drawn(y.log, v),
    );
    xs.iter()
        .zip(ys)
        .map(|(&a, &b)| Some((xd(a)?, yd(b)?)))
        .collect()
}

/// The maximal stretches of consecutive drawable points.
fn runs<T: Copy>(points: &[Option<T>]) -> Vec<Vec<T>> {
    points
        .split(Option::is_none)
        .filter(|r| !r.is_empty())
        .map(|r| r.iter().flatten().copied().collect())
        .collect()
}

fn draw_curve(
    plot: &mut Plot<'_, '_>,
    curve: &[Option<(f64, f64)>],
    index: usize,
) -> Result<(), PlotError> {
    let colour = series_colour(index);
    let stroke = colour.stroke_width(2);
    let drawable = curve.iter().flatten().count();
    for run in runs(curve) {
        if run.len() == 1 {
            plot.circle(run[0], 3, colour.filled())?;
            continue;
        }
        let run = thin(run, MAX_RUN_POINTS);
        if is_dashed(index) {
            plot.dashed_path(run.clone(), stroke)?;
        } else {
            plot.path(run.clone(), stroke)?;
        }
        if drawable <= MARKER_POINTS {
            for &p in &run {
                plot.circle(p, 3, colour.filled())?;
            }
        }
    }
    Ok(())
}

/// Keeps the shape of a long run with x monotonic using at most about `max` points: x is cut into
/// `max / 4` buckets and each keeps its first, lowest, highest and last point, in order, so peaks
/// and the envelope survive. Runs that are short, or whose x goes back and forth (a trajectory),
/// are kept whole.
fn thin(run: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    let increasing = run.windows(2).all(|w| w[1].0 >= w[0].0);
    let decreasing = run.windows(2).all(|w| w[1].0 <= w[0].0);
    if run.len() <= max || !(increasing || decreasing) {
        return run;
    }
    let buckets = (max / 4).max(1);
    let (x0, x1) = (run[0].0, run[run.len() - 1].0);
    let width = (x1 - x0) / buckets as f64;
    if !(width.is_finite() && width != 0.0) {
        return run;
    }
    let bucket_of = |x: f64| (((x - x0) / width) as usize).min(buckets - 1);
    let mut out = Vec::with_capacity(max + 4);
    let mut start = 0;
    while start < run.len() {
        let b = bucket_of(run[start].0);
        let mut end = start + 1;
        while end < run.len() && bucket_of(run[end].0) == b {
            end += 1;
        }
        let slice = &run[start..end];
        let by_y = |a: &&(f64, f64), c: &&(f64, f64)| a.1.total_cmp(&c.1);
        let lowest = slice.iter().enumerate().min_by(|a, c| by_y(&a.1, &c.1));
        let highest = slice.iter().enumerate().max_by(|a, c| by_y(&a.1, &c.1));
        let mut keep = vec![0, slice.len() - 1];
        keep.extend(lowest.map(|(i, _)| i));
        keep.extend(highest.map(|(i, _)| i));
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.into_iter().map(|i| slice[i]));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_extremes_and_ends() {
        let run: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (i as f64, if i == 54_321 { 9.0 } else { (i as f64).sin() }))
            .collect();
        let thinned = thin(run.clone(), 4000);
        assert!(thinned.len() <= 4000 + 4, "{}", thinned.len());
        assert_eq!(thinned.first(), run.first());
        assert_eq!(thinned.last(), run.last());
        assert!(thinned.contains(&(54_321.0, 9.0)));
        // A trajectory that turns back is kept whole.
        let back: Vec<(f64, f64)> = (0..5000).map(|i| (((i % 100) as f64), i as f64)).collect();
        assert_eq!(thin(back.clone(), 4000), back);
    }

    #[test]
    fn runs_split_at_gaps() {
        let r = runs(&[Some(1), None, None, Some(2), Some(3), None]);
        assert_eq!(r, vec![vec![1], vec![2, 3]]);
    }
}
