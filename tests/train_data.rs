//! `apcsim train` on a user's HDF5 data set (`data.source = "dataset:PATH"`): labels or
//! one-hot targets, split by apcsim or by the file; a file that cannot be used is refused with
//! exit 2 naming the file and the dataset.

use apcsim::io::h5::{Array, H5Reader, H5Writer};
use std::path::Path;
use std::process::Output;

mod common;

const FEATURES: usize = 4;
const CLASSES: usize = 3;

/// `n` samples whose class is s mod 3: features marking the class, plus a constant one.
fn samples(n: usize, offset: usize) -> (Array, Vec<usize>) {
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for s in offset..offset + n {
        let c = s % CLASSES;
        let wobble = 0.05 * ((s * 7 % 11) as f64 / 11.0);
        x.extend((0..FEATURES).map(|f| if f == c { 0.8 - wobble } else { 0.1 + wobble }));
        labels.push(c);
    }
    (Array::matrix(n, FEATURES, x), labels)
}

fn label_array(labels: &[usize]) -> Array {
    Array::vector(labels.iter().map(|&c| c as f64).collect())
}

fn one_hot_array(labels: &[usize]) -> Array {
    let data = labels
        .iter()
        .flat_map(|&c| (0..CLASSES).map(move |k| if k == c { 1.0 } else { 0.0 }))
        .collect();
    Array::matrix(labels.len(), CLASSES, data)
}

/// Trains on the data set `h` (written beside the design) with the `[train]` lines `train`.
fn train_on(h: &H5Writer, train: &str, dir: &Path) -> Output {
    h.write(&dir.join("set.h5")).unwrap();
    let design = dir.join("design.toml");
    std::fs::write(
        &design,
        format!(
            "[data]\nsource = \"dataset:set.h5\"\n[network]\nhidden = [8, 8]\n\
             [train]\nepochs = 2\nbatch = 10\n{train}"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    common::apcsim([
        "train".as_ref(),
        design.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .output()
    .unwrap()
}

/// Root `x` and labels `y`: the network takes the file's 4 features and 3 classes, and the
/// split takes train_samples and test_samples of the file's 60.
#[test]
fn a_labelled_data_set_is_split_and_trained() {
    let dir = tempfile::tempdir().unwrap();
    let (x, labels) = samples(60, 0);
    let mut h = H5Writer::new();
    h.dataset("x", x).dataset("y", label_array(&labels));
    let o = train_on(&h, "train_samples = 40\ntest_samples = 15\n", dir.path());
    common::assert_ok(&o);
    let out = dir.path().join("out");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let net = &report["config"]["values"]["network"];
    assert_eq!(net["input"].as_u64(), Some(FEATURES as u64), "{net}");
    assert_eq!(net["output"].as_u64(), Some(CLASSES as u64), "{net}");
    let r = H5Reader::open(&out.join("train.h5")).unwrap();
    // 2 epochs of ceil(40 / 10) steps; accuracies in fifteenths.
    assert_eq!(r.array("steps/bp_float/loss").unwrap().data.len(), 8);
    for a in r.array("epochs/pc_ideal/test_accuracy").unwrap().data {
        assert!((a * 15.0 - (a * 15.0).round()).abs() < 1e-9, "{a}");
    }
}

/// `train` and `test` groups with one-hot targets: the file's own split, every sample of each;
/// train_samples beside it is refused.
#[test]
fn a_split_data_set_with_one_hot_targets_keeps_its_split() {
    let dir = tempfile::tempdir().unwrap();
    let (xt, lt) = samples(30, 0);
    let (xs, ls) = samples(7, 30);
    let mut h = H5Writer::new();
    h.dataset("train/x", xt)
        .dataset("train/y", one_hot_array(&lt))
        .dataset("test/x", xs)
        .dataset("test/y", one_hot_array(&ls));
    common::assert_ok(&train_on(&h, "", dir.path()));
    let r = H5Reader::open(&dir.path().join("out/train.h5")).unwrap();
    assert_eq!(r.array("steps/pc_hardware/loss").unwrap().data.len(), 6);
    for a in r.array("epochs/bp_float/test_accuracy").unwrap().data {
        assert!((a * 7.0 - (a * 7.0).round()).abs() < 1e-9, "{a}");
    }
    let o = train_on(&h, "train_samples = 20\n", dir.path());
    let stderr = common::text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("train_samples") && stderr.contains("split"),
        "{stderr}"
    );
}

/// Files that cannot be used: exit 2, one line naming the file and the dataset.
#[test]
fn unusable_data_set_files_are_refused_naming_file_and_dataset() {
    let (x, labels) = samples(12, 0);
    let mut half = label_array(&labels);
    half.data[3] = 1.5;
    let cases: Vec<(H5Writer, &str, &str)> = vec![
        (
            {
                let mut h = H5Writer::new();
                h.dataset("x", x.clone()).dataset("y", half);
                h
            },
            "y",
            "whole numbers",
        ),
        (
            {
                let mut h = H5Writer::new();
                h.dataset("x", x.clone());
                h
            },
            "y",
            "missing",
        ),
        (
            {
                let mut h = H5Writer::new();
                h.dataset("x", Array::vector(x.data.clone()))
                    .dataset("y", label_array(&labels));
                h
            },
            "x",
            "samples x features",
        ),
        (
            {
                let mut h = H5Writer::new();
                h.dataset("x", x.clone())
                    .dataset("y", label_array(&labels[..10]));
                h
            },
            "y",
            "12 samples",
        ),
        (
            {
                let mut h = H5Writer::new();
                h.dataset("train/x", x.clone())
                    .dataset("train/y", label_array(&labels));
                h
            },
            "test/x",
            "missing",
        ),
    ];
    for (h, dataset, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        let o = train_on(&h, "train_samples = 8\ntest_samples = 4\n", dir.path());
        let stderr = common::text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{dataset}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        for n in ["set.h5", &format!("{dataset}: "), why] {
            assert!(stderr.contains(n), "{dataset}: no {n:?} in {stderr}");
        }
        assert!(!dir.path().join("out").exists());
    }
}
