//! The width x depth study's figures and report.html (issue 5, point 4): for a tiny grid every
//! figure the study promises is written, each SVG is well-formed XML with its title, axes and
//! legend, and report.html carries them all inline, self-contained.

use apcsim::study::width_depth::{run, DeviceSetup, StudyPlan};
use std::path::Path;

fn tiny_plan() -> StudyPlan {
    StudyPlan {
        widths: vec![4, 8],
        depths: vec![2, 3],
        seeds: 2,
        steps: 2,
        batch: 4,
        input: 6,
        output: 3,
        ..StudyPlan::default()
    }
}

/// The SVG files in `dir`, sorted.
fn svg_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    names.sort();
    names
}

/// All the text of an SVG document, one string per `<text>` element.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let text: String = n
                .descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect();
            text.trim().to_string()
        })
        .collect()
}

/// Checks `dir`'s report.html against its SVG files: one inline figure per file, each
/// identical to the file and well-formed, nothing fetched from outside, no figure missing.
fn check_report(dir: &Path, files: &[String]) -> String {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(!html.contains("not drawn"), "a figure failed:\n{html}");
    for outside in ["<script", "<link", "src=", "href=", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
    let inline: Vec<&str> = html
        .split("<figure>\n")
        .skip(1)
        .map(|f| &f[..f.find("</svg>").expect("figure without SVG") + "</svg>".len()])
        .collect();
    assert_eq!(inline.len(), files.len(), "{files:?}");
    for file in files {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        let element = svg[svg.find("<svg").unwrap()..].trim_end();
        assert!(inline.contains(&element), "{file} is not inline");
        assert!(!texts(&svg).is_empty(), "{file} has no text");
    }
    html
}

#[test]
fn a_device_study_writes_every_figure_and_a_self_contained_report() {
    let plan = StudyPlan {
        device: Some(DeviceSetup::load("rram_hfo2").unwrap()),
        ..tiny_plan()
    };
    let results = run(&plan, &|_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    results.write(&out).unwrap();
    let files = svg_files(&out);
    assert_eq!(
        files,
        [
            "cos_sim_final.svg",
            "cos_sim_hw_bp_t0.svg",
            "cos_sim_std_final.svg",
            "cos_sim_std_t0.svg",
            "cos_sim_t0.svg",
            "cos_sim_vs_ratio.svg",
            "s_minus_1_vs_ratio.svg",
            "training.svg",
        ]
    );
    let html = check_report(&out, &files);
    assert!(html.contains("rram_hfo2"));
    // The report carries the terminal summary too.
    assert!(html.contains("largest equilibrium residual"));
    // No temporary file of the atomic writes is left behind.
    let leftovers = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);

    let read = |f: &str| texts(&std::fs::read_to_string(out.join(f)).unwrap());
    // Heatmaps: title, both axes with their ticks, the colour bar's label, and every cell
    // annotated with its mean over seeds.
    let heat = read("cos_sim_t0.svg");
    for want in [
        "cos sim PC vs BP at initialisation",
        "hidden width N",
        "depth L (weight layers)",
        "cos sim (PC, BP)",
        "4",
        "8",
        "3",
    ] {
        assert!(heat.iter().any(|t| t.contains(want)), "{want}: {heat:?}");
    }
    let summary = results.summary();
    for r in summary.iter().filter(|r| r.step == 0) {
        let cell = format!("{:.3}", r.cos_sim.mean).replace('-', "−");
        assert!(heat.contains(&cell), "cell {cell} missing: {heat:?}");
    }
    // Curves against N / L: one legend entry per depth; the theory beside the measurement.
    let ratio = read("cos_sim_vs_ratio.svg");
    for want in ["N / L (width / depth)", "L = 2", "L = 3"] {
        assert!(ratio.contains(&want.to_string()), "{want}: {ratio:?}");
    }
    let s = read("s_minus_1_vs_ratio.svg");
    for want in ["L = 2", "L = 3", "L = 2, theory", "L = 3, theory"] {
        assert!(s.contains(&want.to_string()), "{want}: {s:?}");
    }
    let training = read("training.svg");
    assert!(training.contains(&"Adam step".to_string()));
    for want in [
        "N = 4, L = 2",
        "N = 4, L = 3",
        "N = 8, L = 2",
        "N = 8, L = 3",
    ] {
        assert!(training.contains(&want.to_string()), "{want}: {training:?}");
    }
}

#[test]
fn an_untrained_single_seed_ideal_study_draws_only_what_it_has() {
    let plan = StudyPlan {
        seeds: 1,
        steps: 0,
        ..tiny_plan()
    };
    let dir = tempfile::tempdir().unwrap();
    run(&plan, &|_| {}).unwrap().write(dir.path()).unwrap();
    let files = svg_files(dir.path());
    // No spread over one seed, no training, no hardware.
    assert_eq!(
        files,
        [
            "cos_sim_t0.svg",
            "cos_sim_vs_ratio.svg",
            "s_minus_1_vs_ratio.svg"
        ]
    );
    check_report(dir.path(), &files);
}

/// A study written into the folder of an earlier one leaves none of the earlier figures it does
/// not draw itself beside its report (they would read as its own), and no file it did not
/// write is touched.
#[test]
fn a_study_into_an_old_folder_removes_the_old_figures_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    run(&tiny_plan(), &|_| {}).unwrap().write(&out).unwrap();
    assert!(svg_files(&out).contains(&"training.svg".to_string()));
    let mine = ["notes.svg", "notes.txt"];
    for f in mine {
        std::fs::write(out.join(f), "the user's own").unwrap();
    }
    let untrained = StudyPlan {
        seeds: 1,
        steps: 0,
        ..tiny_plan()
    };
    run(&untrained, &|_| {}).unwrap().write(&out).unwrap();
    let drawn = [
        "cos_sim_t0.svg",
        "cos_sim_vs_ratio.svg",
        "s_minus_1_vs_ratio.svg",
    ];
    let mut expect: Vec<&str> = drawn.to_vec();
    expect.push("notes.svg");
    expect.sort();
    assert_eq!(svg_files(&out), expect);
    let files: Vec<String> = drawn.iter().map(|f| f.to_string()).collect();
    check_report(&out, &files);
    for f in mine {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).unwrap(),
            "the user's own"
        );
    }
}
