//! Every chart kind against well-formedness (the SVG parses as XML, carries its title and legend)
//! and against odd data (empty, NaN, infinities, single points, all-equal values, values off a
//! log axis), which must give a chart or an error, never a panic.

use super::*;
use proptest::prelude::*;

/// Parses `svg` as XML and returns the text of all its `<text>` and `<title>` elements.
fn texts(svg: &str) -> Vec<String> {
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("viewBox"), Some("0 0 820 500"));
    root.descendants()
        .filter(|n| matches!(n.tag_name().name(), "text" | "title"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

fn assert_shows(svg: &str, wanted: &[&str]) {
    let found = texts(svg);
    for w in wanted {
        assert!(found.iter().any(|t| t == w), "{w:?} not among {found:?}");
    }
}

fn ramp(n: usize, f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
    let y = x.iter().map(|&t| f(t)).collect();
    (x, y)
}

#[test]
fn line_chart_shows_title_axes_and_legend() {
    let (x, a) = ramp(50, |t| 1.0 - (-t).exp());
    let (_, b) = ramp(50, |t| 1.0 - (-t / 2.0).exp());
    let svg = line_chart(
        "Settling of layer 1 & 2",
        &Axis::linear("time (µs)"),
        &Axis::linear("voltage (V)"),
        &[
            Series::new("ideal", x.clone(), a),
            Series::new("hardware <noisy>", x, b),
        ],
    )
    .unwrap();
    assert_shows(
        &svg,
        &[
            "Settling of layer 1 & 2",
            "time (µs)",
            "voltage (V)",
            "ideal",
            "hardware <noisy>",
        ],
    );
}

#[test]
fn bands_are_drawn_and_must_pair_with_series() {
    let (x, m) = ramp(20, |t| t.sin());
    let lower: Vec<f64> = m.iter().map(|v| v - 0.1).collect();
    let upper: Vec<f64> = m.iter().map(|v| v + 0.1).collect();
    let series = [Series::new("mean", x, m)];
    let svg = line_chart_with_bands(
        "Mean ± std",
        &Axis::linear("t (s)"),
        &Axis::linear("v (V)"),
        &series,
        &[(lower.clone(), upper.clone())],
    )
    .unwrap();
    assert!(svg.contains("<polygon"), "the band is a filled polygon");
    assert_shows(&svg, &["Mean ± std", "mean"]);
    let e = line_chart_with_bands(
        "t",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &series,
        &[(lower.clone(), upper.clone()), (lower, upper)],
    );
    assert!(matches!(
        e,
        Err(PlotError::LengthMismatch {
            expected: 1,
            found: 2,
            ..
        })
    ));
}

#[test]
fn log_axes_skip_what_they_cannot_show() {
    let x = vec![0.0, 1.0, 10.0, 100.0, 1000.0];
    let y = vec![1.0, -1.0, 1e-3, 1e-6, f64::NAN];
    let svg = line_chart(
        "log",
        &Axis::log("width"),
        &Axis::log("error"),
        &[Series::new("e", x, y)],
    )
    .unwrap();
    assert_shows(&svg, &["10", "20", "100", "10⁻³", "10⁻⁶"]);
    let none = line_chart(
        "nothing",
        &Axis::linear("x"),
        &Axis::log("y"),
        &[Series::new("e", vec![1.0, 2.0], vec![0.0, -3.0])],
    );
    assert_eq!(
        none,
        Err(PlotError::NoData {
            title: "nothing".into(),
            log: true
        })
    );
}

#[test]
fn single_points_and_flat_lines_still_draw() {
    let one = line_chart(
        "one",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &[Series::new("p", vec![2.0], vec![5.0])],
    )
    .unwrap();
    assert!(one.contains("<circle"), "a lone point is a dot");
    let flat = line_chart(
        "flat",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &[Series::new("c", vec![0.0, 1.0, 2.0], vec![3.0; 3])],
    )
    .unwrap();
    assert_shows(&flat, &["3.0"]);
}

#[test]
fn nothing_to_draw_and_mismatched_lengths_are_errors() {
    let (lin_x, lin_y) = (Axis::linear("x"), Axis::linear("y"));
    assert!(matches!(
        line_chart("e", &lin_x, &lin_y, &[]),
        Err(PlotError::NoData { .. })
    ));
    assert!(matches!(
        line_chart("e", &lin_x, &lin_y, &[Series::new("s", vec![], vec![])]),
        Err(PlotError::NoData { .. })
    ));
    assert!(matches!(
        line_chart("e", &lin_x, &lin_y, &[Series::new("s", vec![1.0], vec![])]),
        Err(PlotError::LengthMismatch { .. })
    ));
    assert!(matches!(
        stacked_area("e", &lin_x, &lin_y, &[1.0], &[("a".into(), vec![])]),
        Err(PlotError::LengthMismatch { .. })
    ));
    assert!(matches!(
        bar_chart("e", &lin_y, &["a".into()], &[], false),
        Err(PlotError::NoData { .. })
    ));
    assert!(matches!(
        heatmap("e", "x", &[], "y", &[], &[], "v", None, true),
        Err(PlotError::NoData { .. })
    ));
    assert!(matches!(
        heatmap(
            "e",
            "x",
            &["a".into()],
            "y",
            &["b".into()],
            &[vec![]],
            "v",
            None,
            true
        ),
        Err(PlotError::LengthMismatch { .. })
    ));
}

#[test]
fn stacked_area_lists_components_top_first() {
    let t: Vec<f64> = (0..40).map(|i| i as f64 * 0.05).collect();
    let parts = vec![
        (
            "amplifiers".to_string(),
            t.iter().map(|v| 2.0 + v).collect(),
        ),
        (
            "crossbars".to_string(),
            t.iter().map(|v| 1.0 + v.sin()).collect(),
        ),
        ("ADC/DAC".to_string(), vec![0.5; t.len()]),
    ];
    let svg = stacked_area(
        "Power by component",
        &Axis::linear("time (µs)"),
        &Axis::linear("power (mW)"),
        &t,
        &parts,
    )
    .unwrap();
    assert_shows(&svg, &["Power by component", "amplifiers", "ADC/DAC"]);
    let order: Vec<String> = texts(&svg)
        .into_iter()
        .filter(|s| parts.iter().any(|(n, _)| n == s))
        .collect();
    assert_eq!(order, ["ADC/DAC", "crossbars", "amplifiers"]);
}

#[test]
fn bar_charts_grouped_stacked_negative_and_log() {
    let cats: Vec<String> = (1..=4).map(|l| format!("layer {l}")).collect();
    let groups = vec![
        ("ideal".to_string(), vec![0.99, 0.97, 0.95, 0.9]),
        ("hardware".to_string(), vec![0.95, -0.2, 0.8, f64::NAN]),
    ];
    for stacked in [false, true] {
        let svg = bar_chart(
            "Cosine similarity",
            &Axis::linear("cos sim"),
            &cats,
            &groups,
            stacked,
        )
        .unwrap();
        assert_shows(
            &svg,
            &[
                "Cosine similarity",
                "layer 1",
                "layer 4",
                "ideal",
                "hardware",
            ],
        );
    }
    let svg = bar_chart("log", &Axis::log("energy (pJ)"), &cats, &groups, true).unwrap();
    assert_shows(&svg, &["energy (pJ)"]);
    // One unnamed group: no legend.
    let plain = bar_chart(
        "p",
        &Axis::linear("y"),
        &cats,
        &[(String::new(), vec![1.0; 4])],
        false,
    );
    assert!(!plain.unwrap().contains("+ "));
}

#[test]
fn long_category_names_turn_and_stay_whole_or_ellipsed() {
    let cats: Vec<String> = (0..12).map(|i| format!("long category name {i}")).collect();
    let svg = bar_chart(
        "long",
        &Axis::linear("y"),
        &cats,
        &[("g".into(), (0..12).map(|i| i as f64).collect())],
        false,
    )
    .unwrap();
    assert!(
        svg.contains("rotate(270"),
        "labels that do not fit side by side are turned"
    );
    assert_shows(&svg, &["long category name 11"]);
    let huge = ["x".repeat(300)];
    let svg = bar_chart(
        "huge",
        &Axis::linear("y"),
        &huge,
        &[("g".into(), vec![1.0])],
        false,
    )
    .unwrap();
    assert!(texts(&svg)
        .iter()
        .any(|t| t.starts_with("xxx") && t.ends_with('…')));
}

#[test]
fn heatmap_colours_annotates_and_greys_missing() {
    let widths: Vec<String> = [16, 32, 64, 128].iter().map(|w| w.to_string()).collect();
    let depths: Vec<String> = [2, 4, 8].iter().map(|d| d.to_string()).collect();
    let values = vec![
        vec![0.9, 0.95, 0.98, 0.99],
        vec![0.7, 0.85, f64::NAN, 0.97],
        vec![0.3, 0.6, 0.8, 0.93],
    ];
    let svg = heatmap(
        "PC–BP alignment",
        "width",
        &widths,
        "depth",
        &depths,
        &values,
        "cosine similarity",
        Some((0.0, 1.0)),
        true,
    )
    .unwrap();
    assert_shows(
        &svg,
        &[
            "PC–BP alignment",
            "width",
            "depth",
            "cosine similarity",
            "128",
            "8",
            "0.95",
            "0.90",
            "NaN",
        ],
    );
    assert!(svg.contains("#C8C8C8"), "the NaN cell is grey");
}

#[test]
fn heatmap_of_only_missing_values_draws_grey() {
    let svg = heatmap(
        "diverged",
        "x",
        &["a".into()],
        "y",
        &["b".into()],
        &[vec![f64::NAN]],
        "v",
        None,
        true,
    )
    .unwrap();
    assert_shows(&svg, &["diverged", "NaN"]);
}

#[test]
fn many_series_fit_the_legend() {
    let series: Vec<Series> = (0..40)
        .map(|i| {
            Series::new(
                format!("series number {i}"),
                vec![0.0, 1.0],
                vec![0.0, i as f64],
            )
        })
        .collect();
    let svg = line_chart("many", &Axis::linear("x"), &Axis::linear("y"), &series).unwrap();
    assert!(texts(&svg)
        .iter()
        .any(|t| t.starts_with('+') && t.ends_with("more")));
}

#[test]
fn control_characters_in_labels_stay_well_formed() {
    let svg = line_chart(
        "bell\u{7}",
        &Axis::linear("x\u{0}"),
        &Axis::linear("y\u{1b}[0m"),
        &[Series::new("s\u{8}", vec![0.0, 1.0], vec![0.0, 1.0])],
    )
    .unwrap();
    assert_shows(&svg, &["bell"]);
}

#[test]
fn long_runs_are_thinned() {
    let (x, y) = ramp(200_000, |t| (t * 3.0).sin());
    let svg = line_chart(
        "long",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &[Series::new("s", x, y)],
    )
    .unwrap();
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
}

/// Values that stress the axes: ordinary numbers mixed with NaN, infinities, zero, negatives,
/// huge and tiny magnitudes.
fn odd_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3..1e3f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(1e300),
        1 => Just(-1e-310),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
        1 => any::<f64>(),
    ]
}

fn check(r: Result<String, PlotError>) -> Result<(), TestCaseError> {
    match r {
        Ok(svg) => {
            let doc = roxmltree::Document::parse(&svg);
            prop_assert!(doc.is_ok(), "{:?}", doc.err());
        }
        Err(e) => prop_assert!(
            matches!(e, PlotError::NoData { .. }),
            "only NoData is expected for well-shaped input, got {e}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn odd_data_never_panics(
        columns in proptest::collection::vec((odd_value(), odd_value(), odd_value()), 0..12),
        log_x in any::<bool>(),
        log_y in any::<bool>(),
        stacked in any::<bool>(),
        annotate in any::<bool>(),
    ) {
        let x: Vec<f64> = columns.iter().map(|c| c.0).collect();
        let a: Vec<f64> = columns.iter().map(|c| c.1).collect();
        let b: Vec<f64> = columns.iter().map(|c| c.2).collect();
        let (xa, ya) = (Axis { label: "x".into(), log: log_x }, Axis { label: "y".into(), log: log_y });
        let series = [Series::new("a", x.clone(), a.clone()), Series::new("b", x.clone(), b.clone())];
        check(line_chart("l", &xa, &ya, &series))?;
        check(line_chart_with_bands("l", &xa, &ya, &series, &[(a.clone(), b.clone()), (b.clone(), a.clone())]))?;
        let parts = [("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
        check(stacked_area("s", &xa, &ya, &x, &parts))?;
        let cats: Vec<String> = (0..x.len()).map(|i| format!("c{i}")).collect();
        check(bar_chart("b", &ya, &cats, &parts, stacked))?;
        let rows = [a.clone(), b.clone()];
        let range = (x.len() >= 2 && x[0].is_finite() && x[1].is_finite() && x[0] <= x[1])
            .then(|| (x[0], x[1]));
        let h = heatmap("h", "x", &cats, "y", &["r0".into(), "r1".into()], &rows, "v", range, annotate);
        check(h)?;
    }
}

#[test]
fn guides_are_named_drawn_dashed_and_in_range() {
    let (x, y) = ramp(50, |t| (-t).exp());
    let guides = [
        Guide::Threshold {
            name: "tolerance".into(),
            y: 1e-4,
        },
        Guide::Event {
            name: "settled".into(),
            x: 3.0,
        },
        Guide::Threshold {
            name: "zero".into(),
            y: 0.0,
        },
    ];
    let svg = line_chart_with_guides(
        "guides",
        &Axis::linear("t (µs)"),
        &Axis::log("distance"),
        &[Series::new("layer 1", x, y)],
        &guides,
    )
    .unwrap();
    // The curve reaches down to exp(-4.9) ~ 7e-3 only: the axis is stretched to the threshold.
    assert_shows(
        &svg,
        &[
            "layer 1",
            "tolerance",
            "settled",
            "zero (not drawn)",
            "10⁻⁴",
        ],
    );
    let dashes = |colour: &str| svg.matches(&format!("stroke=\"{colour}\"")).count();
    // Dashes across the plot, plus the legend swatch's two.
    assert!(dashes("#666666") > 10, "{}", dashes("#666666"));
    assert!(dashes("#222222") > 10, "{}", dashes("#222222"));
    let only_guides = line_chart_with_guides(
        "guides only",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &[],
        &guides[..1],
    );
    assert!(matches!(only_guides, Err(PlotError::NoData { .. })));
}

#[test]
fn long_legend_names_wrap_instead_of_being_cut() {
    let name = "hardware vs BP (effective W), the converted inputs";
    let svg = line_chart(
        "legend",
        &Axis::linear("x"),
        &Axis::linear("y"),
        &[Series::new(name, vec![0.0, 1.0], vec![0.0, 1.0])],
    )
    .unwrap();
    let found = texts(&svg);
    assert!(found.iter().all(|t| !t.contains('…')), "{found:?}");
    let words: Vec<&str> = found
        .iter()
        .skip_while(|t| !t.starts_with("hardware"))
        .flat_map(|t| t.split(' '))
        .collect();
    assert_eq!(words.join(" "), name, "{found:?}");
}
