//! The HTML reports as a browser shows them: a report with every chart kind is written to a temp
//! dir, headless Chromium takes a screenshot, and the picture must hold a chart's worth of ink in
//! many colours, including the palette's; the reports of a run, a sweep, a study and a training
//! run are laid out at 1280 and 800 px wide and nothing in them may be cut off. And the run's
//! settling figure draws the tolerance its settling time is measured against.
//!
//! Chromium is optional on a developer machine: without it the browser tests print
//! `skipped: ...` and pass. CI sets `APCSIM_REQUIRE_CHROMIUM=1`, which turns a missing browser
//! into a failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// Longest a screenshot may take; a hung browser fails the test instead of stalling CI.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The first Chromium binary on PATH; without one the test is skipped unless CI requires it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    let found = found.ok_or_else(|| "not on PATH".to_string());
    common::tool_available("chromium", "APCSIM_REQUIRE_CHROMIUM", found)
}

/// Runs headless Chromium on `page` in a `width` x `height` window with `args`, its standard
/// output into `stdout`, failing the test if the browser fails or hangs.
fn run_chromium(
    chromium: &Path,
    page: &Path,
    profile: &Path,
    size: (u32, u32),
    args: &[String],
    stdout: Stdio,
) {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed: {status}");
}

/// Takes a `width` x `height` screenshot of `page` into `png`.
fn screenshot(chromium: &Path, page: &Path, png: &Path, profile: &Path, size: (u32, u32)) {
    let args = [format!("--screenshot={}", png.display())];
    run_chromium(chromium, page, profile, size, &args, Stdio::null());
    assert!(png.is_file(), "chromium wrote no screenshot");
}

/// The screenshot as RGB pixels and its size.
fn decode(png: &Path) -> (Vec<[u8; 3]>, u32, u32) {
    let file = std::io::BufReader::new(std::fs::File::open(png).expect("opening the screenshot"));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("reading the PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
    let info = reader.next_frame(&mut buf).expect("decoding the PNG");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (pixels, info.width, info.height)
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 12)
}

#[test]
fn report_with_every_chart_renders_in_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("report.html");
    let report = apcsim::report::gallery_report().expect("every gallery chart draws");
    let html = report.to_html();
    for kind in [
        "<polyline",
        "<polygon",
        "<rect",
        "<figure>",
        "<table>",
        "<pre>",
    ] {
        assert!(html.contains(kind), "the report has no {kind}");
    }
    std::fs::write(&page, html).expect("writing the report");
    let png = dir.path().join("out.png");
    let size = (1200, 2400);
    screenshot(&chromium, &page, &png, &dir.path().join("profile"), size);

    let (pixels, width, height) = decode(&png);
    assert_eq!((width, height), size);
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    for &p in &pixels {
        *counts.entry(p).or_default() += 1;
    }
    let (&background, _) = counts.iter().max_by_key(|(_, n)| **n).expect("pixels");
    let ink = pixels.iter().filter(|&&p| !near(p, background)).count();
    let ink_fraction = ink as f64 / pixels.len() as f64;
    let colours = counts.values().filter(|&&n| n >= 20).count();
    let palette_blue = pixels
        .iter()
        .filter(|&&p| near(p, [0x00, 0x72, 0xB2]))
        .count();
    let palette_vermillion = pixels
        .iter()
        .filter(|&&p| near(p, [0xD5, 0x5E, 0x00]))
        .count();
    eprintln!(
        "screenshot {width}x{height}: background {background:?}, {:.1} % ink, {colours} colours, \
         {palette_blue} blue and {palette_vermillion} vermillion pixels",
        100.0 * ink_fraction
    );
    assert!(
        ink_fraction > 0.04,
        "mostly blank: {:.1} % ink",
        100.0 * ink_fraction
    );
    assert!(colours >= 50, "only {colours} distinct colours");
    assert!(
        palette_blue > 2000,
        "the first series colour barely shows ({palette_blue} px)"
    );
    assert!(
        palette_vermillion > 2000,
        "the second series colour barely shows"
    );
}

/// The report `apcsim run` writes renders: its figures are inline SVG that draw.
#[test]
fn run_report_renders_in_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    apcsim(&["run", &design("tiny.toml"), "--out", out.to_str().unwrap()]);
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html written");
    assert_eq!(html.matches("<figure>").count(), 6, "six figures");
    assert!(!html.contains("not drawn"), "a figure failed to draw");
    let png = dir.path().join("run.png");
    let size = (1200, 2400);
    screenshot(&chromium, &page, &png, &dir.path().join("profile"), size);
    let (pixels, _, _) = decode(&png);
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    for &p in &pixels {
        *counts.entry(p).or_default() += 1;
    }
    let (&background, _) = counts.iter().max_by_key(|(_, n)| **n).expect("pixels");
    let ink = pixels.iter().filter(|&&p| !near(p, background)).count() as f64;
    let blue = pixels
        .iter()
        .filter(|&&p| near(p, [0x00, 0x72, 0xB2]))
        .count();
    eprintln!(
        "run report: {:.1} % ink, {blue} blue pixels",
        100.0 * ink / pixels.len() as f64
    );
    assert!(ink / pixels.len() as f64 > 0.04, "mostly blank");
    assert!(blue > 1000, "the curves barely show ({blue} px)");
}

/// Runs apcsim with `args`; it must succeed.
fn apcsim(args: &[&str]) {
    common::assert_ok(&common::apcsim(args).output().expect("apcsim runs"));
}

fn design(name: &str) -> String {
    common::repo_path("circuits")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Run in the page once it is laid out: lists, one a line after `CHECKED`, everything cut off:
/// the page wider than the window, a block of the report whose content is wider than the block
/// (cut, or hidden behind a scroll bar), chart text outside its chart or shortened with an
/// ellipsis. The list goes into a `<pre id="cut-off">` that `--dump-dom` prints.
const CUT_OFF_CHECK: &str = r#"
(() => {
  const cut = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    cut.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
  }
  const what = (el) => `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 60)}"`;
  for (const el of document.querySelectorAll('main, main *:not(svg):not(svg *)')) {
    const inline = getComputedStyle(el).display === 'inline';
    if (!inline && el.scrollWidth > el.clientWidth + 1) {
      cut.push(`${what(el)}: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
    }
  }
  for (const svg of document.querySelectorAll('figure svg')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 ||
          r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        cut.push(`${what(t)}: outside its chart`);
      }
      if (t.textContent.includes('\u2026')) cut.push(`${what(t)}: shortened`);
    }
  }
  const out = document.createElement('pre');
  out.id = 'cut-off';
  out.textContent = ['CHECKED', ...cut].join('\n');
  document.body.appendChild(out);
})();
"#;

/// What is cut off in `page` laid out `width` px wide (empty: nothing).
fn cut_off(chromium: &Path, page: &Path, width: u32, scratch: &Path) -> Vec<String> {
    let html = std::fs::read_to_string(page).expect("reading the report");
    let checked = scratch.join(format!("checked-{width}.html"));
    let script = format!("<script>{CUT_OFF_CHECK}</script>\n</body>");
    std::fs::write(&checked, html.replacen("</body>", &script, 1)).expect("writing the page");
    let dom = scratch.join(format!("dom-{width}.html"));
    let file = std::fs::File::create(&dom).expect("creating the DOM dump");
    let args = ["--dump-dom".to_string()];
    let profile = scratch.join("profile");
    run_chromium(
        chromium,
        &checked,
        &profile,
        (width, 1000),
        &args,
        file.into(),
    );
    let dom = std::fs::read_to_string(&dom).expect("reading the DOM dump");
    let start = dom
        .find("<pre id=\"cut-off\">")
        .unwrap_or_else(|| panic!("the check did not run in {}", page.display()));
    let text = &dom[start + "<pre id=\"cut-off\">".len()..];
    let text = &text[..text.find("</pre>").expect("the check's list ends")];
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("CHECKED"));
    lines
        .map(|l| {
            let l = l.replace("&lt;", "<").replace("&gt;", ">");
            l.replace("&quot;", "\"").replace("&amp;", "&")
        })
        .collect()
}

/// The reports of a run (a long design summary), a sweep over one axis (line charts with
/// legends), a sweep over two (the widest table), a study (text tables) and a training run
/// (bar charts of many categories) fit a 1280 px and an 800 px wide window: no block, table,
/// caption or chart label is cut off.
#[test]
fn reports_fit_1280_and_800_px_wide_windows() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let tiny = design("tiny.toml");
    apcsim(&["run", &tiny, "--out", &out("run")]);
    let levels = "device.levels=8,16,32";
    apcsim(&[
        "sweep",
        &tiny,
        "--grid",
        levels,
        "--seeds",
        "2",
        "--out",
        &out("sweep1"),
    ]);
    let wires = "crossbar.wire_resistance=0ohm,1ohm";
    let two = ["--grid", "device.levels=8,16", "--grid", wires];
    apcsim(&[&["sweep", &tiny][..], &two, &["--out", &out("sweep2")]].concat());
    let grid = [
        "--widths", "8,16", "--depths", "2,4", "--seeds", "2", "--steps", "3",
    ];
    apcsim(
        &[
            &["study", "width-depth"][..],
            &grid,
            &["--out", &out("study")],
        ]
        .concat(),
    );
    common::assert_ok(&common::train_small(
        &common::SHORT_TRAIN,
        &dir.path().join("train"),
    ));
    let mut problems = Vec::new();
    for report in ["run", "sweep1", "sweep2", "study", "train"] {
        let page = dir.path().join(report).join("report.html");
        for width in [1280, 800] {
            for p in cut_off(&chromium, &page, width, dir.path()) {
                problems.push(format!("{report} at {width} px: {p}"));
            }
        }
    }
    assert!(problems.is_empty(), "cut off:\n{}", problems.join("\n"));
}

/// The (x, y) pixel points of every polyline drawn in `colour` in an SVG document.
fn polylines(svg: &str, colour: &str) -> Vec<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(colour))
        .map(|n| {
            let points = n.attribute("points").unwrap_or("");
            points
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().expect("x"), y.parse().expect("y"))
                })
                .collect()
        })
        .collect()
}

/// The settling figure draws the readout band the settling time is measured against (half an
/// LSB of each read-out quantity's converter) and marks the readout settling time first (then
/// the time settle_tol was met): on a noise-free run, whose trace is the trajectory the settling
/// is judged on, every curve stays on or below the band after the first mark and one was above
/// it before.
#[test]
fn the_settling_figure_draws_the_band_settling_is_measured_against() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("quiet");
    apcsim(&["run", &design("tiny.toml"), "--out", out.to_str().unwrap()]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["dynamics"]["noisy"], false, "the run is noise-free");
    assert_eq!(report["settling"]["settled"], true);
    let svg = std::fs::read_to_string(out.join("convergence.svg")).expect("the settling figure");
    // The guides' colours (src/report/style.rs); the legend's swatches lie right of the plot.
    let tolerance = polylines(&svg, "#666666");
    let (mut lowest, mut tolerance_y, mut plot_right) = (f64::INFINITY, f64::NAN, 0.0f64);
    for dash in &tolerance {
        let x0 = dash.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        if x0 < lowest {
            (lowest, tolerance_y) = (x0, dash[0].1);
        }
    }
    for dash in tolerance.iter().filter(|d| d[0].1 == tolerance_y) {
        plot_right = dash.iter().map(|p| p.0).fold(plot_right, f64::max);
    }
    assert!(tolerance_y.is_finite(), "no tolerance line drawn");
    let marks: Vec<f64> = polylines(&svg, "#222222")
        .iter()
        .filter(|d| d.len() == 2 && d[0].0 == d[1].0)
        .map(|d| d[0].0)
        .collect();
    let settled_x = *marks.first().expect("no settling time marked");
    let mut distinct = marks.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        2,
        "the readout and settle_tol marks: {marks:?}"
    );
    let mut before_above = false;
    // phi(z_1), phi(z_2), e_1, e_2, e_3 of tiny (src/report/style.rs's palette).
    for layer in ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7"] {
        let points: Vec<(f64, f64)> = polylines(&svg, layer)
            .into_iter()
            .flatten()
            .filter(|p| p.0 <= plot_right)
            .collect();
        assert!(
            points.len() > 100,
            "layer curve {layer}: {} points",
            points.len()
        );
        for &(x, y) in &points {
            // Pixel y grows downwards: on or below the line is y >= the line's y.
            assert!(
                x <= settled_x || y >= tolerance_y,
                "layer curve {layer} above the tolerance at x = {x} after settling at {settled_x}"
            );
        }
        before_above |= points
            .iter()
            .any(|&(x, y)| x < settled_x && y < tolerance_y);
    }
    assert!(
        before_above,
        "no curve is outside the tolerance before settling"
    );
}
