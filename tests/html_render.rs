//! The HTML report as a browser shows it: a report with every chart kind is written to a temp
//! dir, headless Chromium takes a screenshot, and the picture must hold a chart's worth of ink in
//! many colours, including the palette's.
//!
//! Chromium is optional on a developer machine: without it the test prints `skipped: ...` and
//! passes. CI sets `APCSIM_REQUIRE_CHROMIUM=1`, which turns a missing browser into a failure.

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

/// Takes a `width` x `height` screenshot of `page` into `png`, failing the test if the browser
/// fails or hangs.
fn screenshot(chromium: &Path, page: &Path, png: &Path, profile: &Path, size: (u32, u32)) {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
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
    let report = apcsim::plot::gallery_report().expect("every gallery chart draws");
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
    let design = common::repo_path("circuits/tiny.toml");
    let o = common::apcsim([
        "run",
        design.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .expect("apcsim runs");
    assert!(o.status.success(), "{}", common::text(&o.stderr));
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
