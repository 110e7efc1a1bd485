//! A sweep's summaries, made from its plan and its finished points alone (so that a plain, a
//! resumed and a merged sweep write the same bytes): `sweep.h5` (every point's group and a
//! column table), `summary.csv` (one row per finished point in plan order), and SVG charts
//! chosen from the axes, embedded in `report.html`.

use super::plan::SweepPlan;
use super::record::{Metrics, PointRecord, COMPARISONS};
use super::{SweepError, SUMMARY_CSV, SWEEP_H5};
use crate::analog::Component;
use crate::io::h5::{Array, Attr, H5Writer};
use crate::numeric::format::si;
use crate::numeric::stats::MeanStd;
use crate::report::{
    bar_chart, heatmap, line_chart, line_chart_with_bands, Axis, CsvTable, Figure, PlotError,
    Report, ReportError, Series,
};
use std::path::Path;

type Getter = Box<dyn Fn(&Metrics) -> f64>;

/// The numeric columns of summary.csv and of `table/` in sweep.h5: (name, value of a point).
pub fn metric_columns() -> Vec<(String, Getter)> {
    let mut c: Vec<(String, Getter)> = vec![
        (
            "settled".into(),
            Box::new(|m: &Metrics| if m.settled { 1.0 } else { 0.0 }),
        ),
        (
            "settling_median_seconds".into(),
            Box::new(|m: &Metrics| m.settling_median_seconds),
        ),
        (
            "settling_worst_seconds".into(),
            Box::new(|m: &Metrics| m.settling_worst_seconds),
        ),
        (
            "energy_per_sample_joules".into(),
            Box::new(|m: &Metrics| m.energy_per_sample_joules),
        ),
    ];
    for comp in Component::ALL {
        let i = comp.index();
        c.push((
            format!("energy_{}_joules", comp.name()),
            Box::new(move |m: &Metrics| {
                m.energy_by_component_joules
                    .get(i)
                    .copied()
                    .unwrap_or(f64::NAN)
            }),
        ));
    }
    c.push((
        "energy_delay_product_joule_seconds".into(),
        Box::new(|m: &Metrics| m.energy_delay_product_joule_seconds),
    ));
    for (what, pick) in [
        (
            "cos_sim",
            (|g| g.cos_sim) as fn(&super::record::GradientMetrics) -> f64,
        ),
        ("norm_ratio", |g| g.norm_ratio),
    ] {
        for (i, name) in [
            "hardware_vs_bp_ideal",
            "hardware_vs_bp_effective",
            "ideal_circuit_vs_bp",
        ]
        .iter()
        .enumerate()
        {
            c.push((
                format!("{what}_{name}"),
                Box::new(move |m: &Metrics| m.gradients.get(i).map_or(f64::NAN, pick)),
            ));
        }
    }
    debug_assert_eq!(COMPARISONS.len(), 3);
    c
}

/// A number as the CSV writes it: the shortest text that reads back as the same double, in
/// scientific notation when it is very small or large.
fn number(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() || (1e-3..1e6).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

impl From<ReportError> for SweepError {
    fn from(e: ReportError) -> Self {
        SweepError::Io {
            path: e.path,
            message: e.source.to_string(),
        }
    }
}

/// summary.csv: one row per finished point in plan order.
pub fn csv(plan: &SweepPlan, records: &[Option<PointRecord>]) -> String {
    let cols = metric_columns();
    let mut head: Vec<String> = vec!["index".into()];
    head.extend(plan.keys());
    head.extend(["seed_index", "seed", "status"].map(String::from));
    head.extend(cols.iter().map(|(n, _)| n.clone()));
    head.push("error".into());
    let mut table = CsvTable::new(&head);
    for r in records.iter().flatten() {
        let mut row: Vec<String> = vec![r.index.to_string()];
        row.extend(r.values.iter().cloned());
        row.push(r.seed_index.to_string());
        row.push(r.seed.to_string());
        row.push(r.outcome.status().into());
        for (_, get) in &cols {
            row.push(
                r.outcome
                    .metrics()
                    .map_or(String::new(), |m| number(get(m))),
            );
        }
        row.push(r.outcome.message().to_string());
        table.row(&row);
    }
    table.finish()
}

/// sweep.h5: the plan's axes, every finished point's group, and `table/`: one vector per column
/// over all points of the plan (NaN where a point is missing or did not finish).
pub fn h5(plan: &SweepPlan, records: &[Option<PointRecord>]) -> H5Writer {
    let mut w = H5Writer::new();
    let keys = plan.keys();
    w.attr("", "apcsim_version", Attr::Str(plan.apcsim_version.clone()));
    w.attr("", "design", Attr::Str(plan.design.clone()));
    w.attr("", "seeds", Attr::I64(plan.seeds as i64));
    w.attr("", "points", Attr::I64(plan.points as i64));
    w.attr(
        "",
        "points_finished",
        Attr::I64(records.iter().flatten().count() as i64),
    );
    w.attr("", "keys", Attr::Str(keys.join(",")));
    if let Some(s) = plan.shard {
        w.attr("", "shard", Attr::Str(s.to_string()));
    }
    write_axes(&mut w, plan);
    for r in records.iter().flatten() {
        r.write(
            &mut w,
            &format!("points/{}", plan.point_name(r.index)),
            &keys,
        );
    }
    write_table(&mut w, plan, records);
    w
}

/// `axes/{a}` (keys, label, ticks, SI values) and `table/axis{a}_value`, with the table's shape.
fn write_axes(w: &mut H5Writer, plan: &SweepPlan) {
    let mut shape: Vec<String> = plan
        .axes
        .iter()
        .map(|a| a.values.len().to_string())
        .collect();
    shape.push(plan.seeds.to_string());
    w.attr(
        "table",
        "shape",
        Attr::Str(format!("[{}]", shape.join(", "))),
    );
    w.attr(
        "table",
        "about",
        Attr::Str(
            "one value per point in plan order; reshape to `shape` (axes, then seeds). NaN: the \
             point is missing or did not finish. status_code: 0 missing, 1 ok, 2 diverged, 3 \
             failed"
                .into(),
        ),
    );
    for (a, axis) in plan.axes.iter().enumerate() {
        let g = format!("axes/{a}");
        w.attr(&g, "keys", Attr::Str(axis.keys.join(",")));
        w.attr(&g, "label", Attr::Str(axis.label.clone()));
        let ticks: Vec<String> = (0..axis.values.len()).map(|v| axis.tick(v)).collect();
        w.attr(
            &g,
            "values",
            Attr::Str(serde_json::to_string(&ticks).unwrap_or_default()),
        );
        if axis.is_numeric() {
            w.dataset(
                &format!("{g}/si_values"),
                Array::vector(axis.numeric.iter().map(|v| v.unwrap_or(f64::NAN)).collect()),
            );
        }
        let per_point: Vec<f64> = (0..plan.points)
            .map(|i| plan.combination(i / plan.seeds)[a] as f64)
            .collect();
        w.dataset(&format!("table/axis{a}_value"), Array::vector(per_point));
    }
}

/// `table/seed`, `table/status_code` and one vector per metric, over all points of the plan.
fn write_table(w: &mut H5Writer, plan: &SweepPlan, records: &[Option<PointRecord>]) {
    let at = |i: usize| records.get(i).and_then(|r| r.as_ref());
    let column = |f: &dyn Fn(Option<&PointRecord>) -> f64| {
        Array::vector((0..plan.points).map(|i| f(at(i))).collect())
    };
    w.dataset(
        "table/seed",
        column(&|r| r.map_or(f64::NAN, |r| r.seed as f64)),
    );
    w.dataset(
        "table/status_code",
        column(&|r| match r.map(|r| r.outcome.status()) {
            None => 0.0,
            Some("ok") => 1.0,
            Some("diverged") => 2.0,
            Some(_) => 3.0,
        }),
    );
    for (name, get) in metric_columns() {
        let v = column(&|r| r.and_then(|r| r.outcome.metrics()).map_or(f64::NAN, &get));
        w.dataset(&format!("table/{name}"), v);
    }
}

/// Writes sweep.h5 and summary.csv, each whole or not at all.
pub fn write_data(
    dir: &Path,
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
) -> Result<(), SweepError> {
    h5(plan, records).write(&dir.join(SWEEP_H5))?;
    let p = dir.join(SUMMARY_CSV);
    crate::io::write_atomic(&p, csv(plan, records).as_bytes())
        .map_err(|source| ReportError { path: p, source })?;
    Ok(())
}

/// Writes sweep.h5, summary.csv, the charts and report.html.
pub fn write_all(
    dir: &Path,
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
) -> Result<(), SweepError> {
    write_data(dir, plan, records)?;
    let report = report(plan, records);
    Ok(report.write(dir)?)
}

/// report.html: what the sweep ran, its charts and a table of its points.
fn report(plan: &SweepPlan, records: &[Option<PointRecord>]) -> Report {
    let mut report = Report::new(&format!("apcsim sweep: {}", plan.design));
    let finished = records.iter().flatten().count();
    report.paragraph(&about(plan, finished));
    if !plan.sets.is_empty() {
        report.paragraph(&format!("Overrides: --set {}", plan.sets.join(" --set ")));
    }
    let figures = figures(plan, records);
    if !figures.is_empty() {
        report.heading(2, "Figures");
    }
    for figure in figures {
        report.figure(figure);
    }
    report.heading(2, "Points");
    const MAX_ROWS: usize = 1000;
    let (head, rows) = points_table(plan, records, MAX_ROWS);
    report.table(&head, &rows);
    if finished > MAX_ROWS {
        report.paragraph(&format!(
            "The first {MAX_ROWS} of {finished} points; summary.csv has them all."
        ));
    }
    report
}

/// The report's first paragraph: the version, the design, the axes and how far the sweep got.
fn about(plan: &SweepPlan, finished: usize) -> String {
    let axes = if plan.axes.is_empty() {
        "none".to_string()
    } else {
        let axis =
            |a: &super::plan::PlanAxis| format!("{} × {}", a.keys.join(" + "), a.values.len());
        plan.axes.iter().map(axis).collect::<Vec<_>>().join(", ")
    };
    let own = plan.own_points().len();
    format!(
        "apcsim {} — design {}; {} axes ({axes}), {} seed{} per grid point: {} points{}, \
         {finished} finished. Every number is in summary.csv and sweep.h5; every run's report \
         in points.jsonl.",
        plan.apcsim_version,
        plan.design,
        plan.axes.len(),
        plan.seeds,
        if plan.seeds == 1 { "" } else { "s" },
        plan.points,
        plan.shard
            .map(|s| format!(" (this folder: shard {s}, {own} points)"))
            .unwrap_or_default(),
    )
}

/// The header and the rows (the first `max_rows` finished points) of the report's table.
fn points_table(
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
    max_rows: usize,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head: Vec<String> = vec!["#".into()];
    head.extend(plan.keys());
    head.extend(
        [
            "seed",
            "status",
            "settling median",
            "settling worst",
            "energy / sample",
            "cos HW–BP (ideal W)",
            "cos HW–BP (eff. W)",
            "cos ideal–BP",
        ]
        .map(String::from),
    );
    let rows = records
        .iter()
        .flatten()
        .take(max_rows)
        .map(|r| {
            let mut row = vec![r.index.to_string()];
            row.extend(r.values.iter().cloned());
            row.push(r.seed.to_string());
            row.push(r.outcome.status().into());
            if let Some(m) = r.outcome.metrics() {
                row.push(si(m.settling_median_seconds, "s"));
                row.push(si(m.settling_worst_seconds, "s"));
                row.push(si(m.energy_per_sample_joules, "J"));
                for g in &m.gradients {
                    row.push(format!("{:.4}", g.cos_sim));
                }
            }
            row
        })
        .collect();
    (head, rows)
}

/// A quantity shown on a chart: how to get it from a point, its name and unit.
struct Quantity {
    name: &'static str,
    unit: &'static str,
    get: fn(&Metrics) -> f64,
}

const SETTLING_MEDIAN: Quantity = Quantity {
    name: "median settling time",
    unit: "s",
    get: |m| m.settling_median_seconds,
};
const SETTLING_WORST: Quantity = Quantity {
    name: "worst settling time",
    unit: "s",
    get: |m| m.settling_worst_seconds,
};
const ENERGY: Quantity = Quantity {
    name: "energy per sample",
    unit: "J",
    get: |m| m.energy_per_sample_joules,
};
const COS: [Quantity; 3] = [
    Quantity {
        name: "HW vs BP (ideal W)",
        unit: "",
        get: |m| m.gradients.first().map_or(f64::NAN, |g| g.cos_sim),
    },
    Quantity {
        name: "HW vs BP (eff. W)",
        unit: "",
        get: |m| m.gradients.get(1).map_or(f64::NAN, |g| g.cos_sim),
    },
    Quantity {
        name: "ideal circuit vs BP",
        unit: "",
        get: |m| m.gradients.get(2).map_or(f64::NAN, |g| g.cos_sim),
    },
];

/// A factor and prefixed unit that bring `values` to a readable range ("ns", "pJ").
fn scale(values: &[f64], unit: &str) -> (f64, String) {
    if unit.is_empty() {
        return (1.0, String::new());
    }
    let top = values
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |a, x| a.max(x.abs()));
    if top == 0.0 {
        return (1.0, unit.to_string());
    }
    const PREFIXES: [(&str, i32); 9] = [
        ("f", -15),
        ("p", -12),
        ("n", -9),
        ("µ", -6),
        ("m", -3),
        ("", 0),
        ("k", 3),
        ("M", 6),
        ("G", 9),
    ];
    let e = ((top.log10() / 3.0).floor() as i32 * 3).clamp(-15, 9);
    let p = PREFIXES
        .iter()
        .find(|(_, x)| *x == e)
        .map_or("", |(p, _)| p);
    (10f64.powi(-e), format!("{p}{unit}"))
}

/// Axis title of a quantity with its scaled unit.
fn titled(name: &str, unit: &str) -> String {
    if unit.is_empty() {
        "cosine similarity".into()
    } else {
        format!("{name} ({unit})")
    }
}

/// The finite values of `q` of every finished point, grouped by the value of each axis in
/// `along` (the other axes and the seeds pooled): `groups[cell]` for cells in row-major order
/// over `along`.
fn grouped(
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
    along: &[usize],
    q: &Quantity,
) -> Vec<Vec<f64>> {
    let sizes: Vec<usize> = along.iter().map(|&a| plan.axes[a].values.len()).collect();
    let cells: usize = sizes.iter().product();
    let mut out = vec![Vec::new(); cells];
    for r in records.iter().flatten() {
        let Some(m) = r.outcome.metrics() else {
            continue;
        };
        let combo = plan.combination(r.index / plan.seeds);
        let cell = along
            .iter()
            .zip(&sizes)
            .fold(0, |acc, (&a, &n)| acc * n + combo[a]);
        out[cell].push((q.get)(m));
    }
    out
}

/// Whether an axis is drawn to scale on a log axis: positive values spanning a factor of 8 or
/// more (device levels 8..64, resistances 0.1..10 ohm).
fn log_axis(values: &[f64]) -> bool {
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = values.iter().cloned().fold(0.0, f64::max);
    lo > 0.0 && hi / lo >= 8.0
}

/// Curves of `qs` against axis `a` (other axes and seeds pooled), mean ± std as bands; bars of
/// the means when the axis is not numeric.
fn along_axis(
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
    a: usize,
    title: &str,
    y_name: &str,
    qs: &[&Quantity],
) -> Result<String, PlotError> {
    let axis = &plan.axes[a];
    let stats: Vec<Vec<(f64, f64)>> = qs
        .iter()
        .map(|q| {
            grouped(plan, records, &[a], q)
                .iter()
                .map(|v| {
                    let s = MeanStd::of_finite(v);
                    (s.mean, s.std.unwrap_or(0.0))
                })
                .collect()
        })
        .collect();
    let all: Vec<f64> = stats.iter().flatten().map(|s| s.0).collect();
    let (k, unit) = scale(&all, qs[0].unit);
    let y = Axis::linear(titled(y_name, &unit));
    if axis.is_numeric() {
        let xs: Vec<f64> = axis.numeric.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        let x = if log_axis(&xs) {
            Axis::log(axis.label.clone())
        } else {
            Axis::linear(axis.label.clone())
        };
        let series: Vec<Series> = qs
            .iter()
            .zip(&stats)
            .map(|(q, s)| Series::new(q.name, xs.clone(), s.iter().map(|p| p.0 * k).collect()))
            .collect();
        let bands: Vec<(Vec<f64>, Vec<f64>)> = stats
            .iter()
            .map(|s| {
                (
                    s.iter().map(|p| (p.0 - p.1) * k).collect(),
                    s.iter().map(|p| (p.0 + p.1) * k).collect(),
                )
            })
            .collect();
        if plan.seeds > 1 || plan.combinations() > axis.values.len() {
            line_chart_with_bands(title, &x, &y, &series, &bands)
        } else {
            line_chart(title, &x, &y, &series)
        }
    } else {
        let cats: Vec<String> = (0..axis.values.len()).map(|v| axis.tick(v)).collect();
        let groups: Vec<(String, Vec<f64>)> = qs
            .iter()
            .zip(&stats)
            .map(|(q, s)| (q.name.to_string(), s.iter().map(|p| p.0 * k).collect()))
            .collect();
        bar_chart(title, &y, &cats, &groups, false)
    }
}

/// Energy per sample by component against axis `a`: stacked bars of the means.
fn components_along(
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
    a: usize,
) -> Result<String, PlotError> {
    let axis = &plan.axes[a];
    let cats: Vec<String> = (0..axis.values.len()).map(|v| axis.tick(v)).collect();
    let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
    // Stacked: the supply's components (the device Joule heat is a part of the drivers').
    for comp in Component::SUPPLY {
        let i = comp.index();
        let mut means = vec![f64::NAN; cats.len()];
        let mut sums = vec![(0.0, 0usize); cats.len()];
        for r in records.iter().flatten() {
            if let Some(m) = r.outcome.metrics() {
                let v = plan.combination(r.index / plan.seeds)[a];
                if let Some(e) = m
                    .energy_by_component_joules
                    .get(i)
                    .filter(|e| e.is_finite())
                {
                    sums[v].0 += e;
                    sums[v].1 += 1;
                }
            }
        }
        for (m, (s, n)) in means.iter_mut().zip(&sums) {
            if *n > 0 {
                *m = s / *n as f64;
            }
        }
        if means.iter().any(|m| *m > 0.0) {
            groups.push((comp.name().replace('_', " "), means));
        }
    }
    let all: Vec<f64> = groups.iter().flat_map(|g| g.1.clone()).collect();
    let (k, unit) = scale(&all, "J");
    for g in &mut groups {
        g.1.iter_mut().for_each(|v| *v *= k);
    }
    bar_chart(
        "Energy per sample by component",
        &Axis::linear(format!("energy per sample ({unit})")),
        &cats,
        &groups,
        true,
    )
}

/// A heatmap of the mean of `q` over the first two axes (axis 0 across, axis 1 up).
fn map_of(
    plan: &SweepPlan,
    records: &[Option<PointRecord>],
    q: &Quantity,
    title: &str,
) -> Result<String, PlotError> {
    let (a0, a1) = (&plan.axes[0], &plan.axes[1]);
    let cells = grouped(plan, records, &[1, 0], q);
    let means: Vec<f64> = cells.iter().map(|v| MeanStd::of_finite(v).mean).collect();
    let (k, unit) = scale(&means, q.unit);
    let values: Vec<Vec<f64>> = means
        .chunks(a0.values.len())
        .map(|row| row.iter().map(|v| v * k).collect())
        .collect();
    let x_ticks: Vec<String> = (0..a0.values.len()).map(|v| a0.tick(v)).collect();
    let y_ticks: Vec<String> = (0..a1.values.len()).map(|v| a1.tick(v)).collect();
    let label = titled(q.name, &unit);
    let annotate = x_ticks.len() * y_ticks.len() <= 64;
    heatmap(
        title, &a0.label, &x_ticks, &a1.label, &y_ticks, &values, &label, None, annotate,
    )
}

/// The charts of a sweep, chosen from its axes: curves against a single axis (mean ± std over
/// seeds as bands), heatmaps over two, one chart per axis (the others pooled) beyond that.
pub fn figures(plan: &SweepPlan, records: &[Option<PointRecord>]) -> Vec<Figure> {
    match plan.axes.len() {
        0 => Vec::new(),
        2 => maps(plan, records),
        n => (0..n)
            .flat_map(|a| charts_along(plan, records, a))
            .collect(),
    }
}

/// "s" after a count other than one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The heatmaps of a sweep over two axes.
fn maps(plan: &SweepPlan, records: &[Option<PointRecord>]) -> Vec<Figure> {
    let cells = format!(
        "Each cell is the mean over {} seed{} of the grid point.",
        plan.seeds,
        plural(plan.seeds)
    );
    let maps: [(&str, &Quantity, &str); 5] = [
        ("settling_median", &SETTLING_MEDIAN, "Median settling time"),
        ("energy_per_sample", &ENERGY, "Energy per sample"),
        (
            "cos_sim_hardware_vs_bp_ideal",
            &COS[0],
            "Cos sim: hardware PC vs BP (ideal W)",
        ),
        (
            "cos_sim_hardware_vs_bp_effective",
            &COS[1],
            "Cos sim: hardware PC vs BP (effective W)",
        ),
        (
            "cos_sim_ideal_circuit_vs_bp",
            &COS[2],
            "Cos sim: ideal circuit vs BP",
        ),
    ];
    let (x, y) = (&plan.axes[0].label, &plan.axes[1].label);
    maps.into_iter()
        .map(|(file, q, title)| {
            Figure::new(
                format!("map_{file}.svg"),
                format!("{title} over {x} and {y}. {cells}"),
                map_of(plan, records, q, title),
            )
        })
        .collect()
}

/// What a chart against axis `a` pools and how it shows the spread, for its caption.
fn spread(plan: &SweepPlan, a: usize) -> String {
    if plan.seeds == 1 && plan.axes.len() == 1 {
        return String::new();
    }
    let others = if plan.axes.len() > 1 {
        " and the other axes"
    } else {
        ""
    };
    let over = format!(" over {} seed{}{others}", plan.seeds, plural(plan.seeds));
    if plan.axes[a].is_numeric() {
        format!("; mean ± standard deviation{over}")
    } else {
        format!("; means{over}")
    }
}

/// The charts against axis `a` of a sweep over one axis or more than two (the other axes and
/// the seeds pooled).
fn charts_along(plan: &SweepPlan, records: &[Option<PointRecord>], a: usize) -> Vec<Figure> {
    let n = plan.axes.len();
    let label = &plan.axes[a].label;
    let spread = spread(plan, a);
    let suffix = if n == 1 {
        String::new()
    } else {
        format!("_axis{a}")
    };
    let pooled = if n > 1 {
        " over seeds and the other axes"
    } else {
        " over seeds"
    };
    let along = |title: &str, y_name: &str, qs: &[&Quantity]| {
        along_axis(plan, records, a, title, y_name, qs)
    };
    vec![
        Figure::new(
            format!("settling{suffix}.svg"),
            format!("Median and worst settling time of the batch against {label}{spread}."),
            along(
                "Settling time",
                "settling time",
                &[&SETTLING_MEDIAN, &SETTLING_WORST],
            ),
        ),
        Figure::new(
            format!("energy{suffix}.svg"),
            format!("Energy per sample against {label}{spread}."),
            along("Energy per sample", "energy per sample", &[&ENERGY]),
        ),
        Figure::new(
            format!("energy_components{suffix}.svg"),
            format!("Energy per sample by component against {label} (means{pooled})."),
            components_along(plan, records, a),
        ),
        Figure::new(
            format!("alignment{suffix}.svg"),
            format!(
                "Cosine similarity of the PC update to BP against {label}{spread}: the hardware \
                 (HW) against BP on the ideal and on the effective weights, and the ideal circuit."
            ),
            along(
                "Gradient alignment",
                "cosine similarity",
                &[&COS[0], &COS[1], &COS[2]],
            ),
        ),
    ]
}
