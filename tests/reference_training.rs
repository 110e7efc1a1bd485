//! The JPC training cases (`tests/data/reference/training/*.h5`; see the README there)
//! reproduced by `apcsim reference`: full-batch gradient descent of PC (the equilibrium
//! recomputed at every step) and of BP from the file's weights, every step of both weight
//! trajectories within 1e-8 relative (max over a step's entries, relative to that step's
//! largest entry), losses, energies and cosine similarities within 1e-9.

use apcsim::io::h5::{Array, H5Reader};
use apcsim::io::reference::read_reference;
use apcsim::study::reference::{run_reference, ReferenceOptions};

mod common;

const CASES: [&str; 2] = ["train_lin_mupc_skips", "train_tanh_mupc_skips"];

fn case_path(name: &str) -> std::path::PathBuf {
    common::repo_path("tests/data/reference/training").join(format!("{name}.h5"))
}

/// Every training file of the repository is one of the cases.
#[test]
fn every_training_file_is_a_case() {
    let found = common::h5_stems(&["tests/data/reference/training"]);
    assert_eq!(found, CASES);
}

/// Per step (the leading axis), max |ours - theirs| / max |theirs|; the largest over the steps.
fn worst_step_relative(ours: &Array, theirs: &Array) -> f64 {
    assert_eq!(ours.shape, theirs.shape);
    let per_step = theirs.data.len() / theirs.shape[0];
    ours.data
        .chunks(per_step)
        .zip(theirs.data.chunks(per_step))
        .map(|(a, b)| {
            let diff = a
                .iter()
                .zip(b)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
            diff / b.iter().map(|v| v.abs()).fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}

fn worst_absolute(ours: &Array, theirs: &Array) -> f64 {
    assert_eq!(ours.shape, theirs.shape);
    ours.data
        .iter()
        .zip(&theirs.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn every_training_case_reproduced() {
    for case in CASES {
        let input = read_reference(&case_path(case)).unwrap();
        let steps = input.training.expect("a training group").steps;
        let out = run_reference(&input, &ReferenceOptions::default()).unwrap();
        let ours = H5Reader::from_bytes(out.output.to_bytes().unwrap()).unwrap();
        let theirs = &input.reader;
        let get = |r: &H5Reader, p: &str| r.array(p).unwrap_or_else(|e| panic!("{case}: {e}"));
        for rule in ["pc", "bp"] {
            for l in 0..input.network.n_layers() {
                let p = format!("training/{rule}/W{l}");
                let (a, b) = (get(&ours, &p), get(theirs, &p));
                assert_eq!(a.shape[0], steps + 1, "{case} {p}");
                let rel = worst_step_relative(&a, &b);
                assert!(rel <= 1e-8, "{case} {p}: relative {rel:e}");
            }
        }
        for p in [
            "training/pc/loss",
            "training/pc/energy",
            "training/pc/cos_sim",
            "training/bp/loss",
        ] {
            let (a, b) = (get(&ours, p), get(theirs, p));
            assert_eq!(a.shape, vec![steps + 1], "{case} {p}");
            let abs = worst_absolute(&a, &b);
            assert!(abs <= 1e-9, "{case} {p}: absolute {abs:e}");
        }
    }
}

/// The command writes the trajectories and prints how each differs from the input's.
#[test]
fn the_command_writes_and_compares_the_training_group() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5");
    let o = common::apcsim([
        "reference".as_ref(),
        case_path(CASES[1]).as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .output()
    .unwrap();
    common::assert_ok(&o);
    let stdout = common::text(&o.stdout);
    assert!(stdout.contains("training/pc/W3"), "{stdout}");
    let r = H5Reader::open(&out).unwrap();
    assert_eq!(r.array("training/bp/W0").unwrap().shape, vec![9, 32, 12]);
}
