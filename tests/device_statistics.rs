//! The device presets against IBM aihwkit's own noise models, run from aihwkit's source under
//! torch (`tests/data/aihwkit/`: the numbers, the script and how they were made). 100 000
//! devices per target on both sides, as in aihwkit's data.
//!
//! Tolerances are those of the acceptance, far above the sampling error of 1e5 devices: the
//! standard error of a mean is sigma / 316 (under 0.02% of g_max here), that of a standard
//! deviation 0.22% of it (0.3% for the difference of two samples).

use apcsim::config::{load_device_with, LoadOptions};
use apcsim::hardware::params::DeviceParams;
use apcsim::study::device::{sample, DevicePlan, DeviceResults};
use std::collections::BTreeMap;

mod common;

const COUNT: usize = 100_000;
const TARGETS: [f64; 10] = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0];
const TIMES: [f64; 3] = [20.0, 3600.0, 86400.0];

/// (model, target uS, quantity, time s) -> (mean, std, min) in aihwkit's units (uS, or nu).
type Table = BTreeMap<(String, String, String, String), (f64, f64, f64)>;

fn aihwkit() -> Table {
    let text = std::fs::read_to_string(common::repo_path("tests/data/aihwkit/statistics.csv"))
        .expect("tests/data/aihwkit/statistics.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| f[i].parse::<f64>().unwrap();
            let key = |i: usize| format!("{:.4}", num(i));
            (
                (f[0].to_string(), key(2), f[3].to_string(), key(4)),
                (num(5), num(6), num(7)),
            )
        })
        .collect()
}

fn device(spec: &str, overrides: &[&str]) -> DeviceParams {
    load_device_with(spec, overrides, &LoadOptions::default())
        .unwrap()
        .device
}

fn run(dev: &DeviceParams, g_max_us: f64, times: &[f64]) -> DeviceResults {
    let plan = DevicePlan {
        targets_siemens: TARGETS.iter().map(|r| r * g_max_us * 1e-6).collect(),
        read_times_seconds: times.to_vec(),
        count: COUNT,
        seed: 1,
    };
    sample(dev, &plan).unwrap()
}

fn moments(v: &[f64], scale: f64) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean * scale, var.sqrt() * scale)
}

struct Check<'a> {
    table: &'a Table,
    model: &'a str,
    g_max_us: f64,
    failures: Vec<String>,
}

impl Check<'_> {
    /// Mean within `mean_tol` (of g_max, or relative when `g_max_us` is None) and std within
    /// `std_tol` relative of aihwkit's.
    fn compare(
        &mut self,
        k: usize,
        quantity: &str,
        t: f64,
        ours: (f64, f64),
        tol: (f64, f64, bool),
    ) {
        let target = format!("{:.4}", TARGETS[k] * self.g_max_us);
        let key = (
            self.model.into(),
            target.clone(),
            quantity.into(),
            format!("{t:.4}"),
        );
        let (m, s, _) = self.table[&key];
        let (mean_tol, std_tol, of_g_max) = tol;
        let mean_scale = if of_g_max { self.g_max_us } else { m.abs() };
        if (ours.0 - m).abs() > mean_tol * mean_scale || (ours.1 - s).abs() > std_tol * s {
            self.failures.push(format!(
                "{} {quantity} at {target} uS, t = {t} s: apcsim {:.5} ± {:.5}, aihwkit {m:.5} ± {s:.5}",
                self.model, ours.0, ours.1
            ));
        }
    }
}

/// Compares `preset` (with `overrides`) against aihwkit's `model` at g_max `g_max_us`:
/// programmed values always, drift exponents and reads at 20 s, 1 h and 1 day if `drifts`.
fn against_aihwkit(preset: &str, overrides: &[&str], model: &str, g_max_us: f64, drifts: bool) {
    let table = aihwkit();
    let times: &[f64] = if drifts { &TIMES } else { &[0.0] };
    let r = run(&device(preset, overrides), g_max_us, times);
    let mut c = Check {
        table: &table,
        model,
        g_max_us,
        failures: Vec::new(),
    };
    for k in 0..TARGETS.len() {
        let programmed = moments(&r.programmed[k], 1e6);
        c.compare(k, "programmed", 0.0, programmed, (0.01, 0.03, true));
        if !drifts {
            continue;
        }
        c.compare(k, "nu", 0.0, moments(&r.nu[k], 1.0), (0.05, 0.05, false));
        assert!(r.nu[k].iter().all(|&nu| nu >= 0.0), "{preset}: nu < 0");
        for (i, &t) in TIMES.iter().enumerate() {
            let read = moments(&r.conductance[i][k], 1e6);
            c.compare(k, "conductance", t, read, (0.02, 0.10, true));
        }
    }
    assert!(c.failures.is_empty(), "{}", c.failures.join("\n"));
}

#[test]
fn pcm_matches_aihwkits_pcm_like_noise_model() {
    against_aihwkit("pcm", &[], "pcm", 25.0, true);
}

#[test]
fn pcm_hermes_matches_aihwkits_hermes_noise_model() {
    against_aihwkit("pcm_hermes", &[], "hermes_1", 10.35, true);
}

#[test]
fn rram_programming_noise_matches_aihwkits_reram_fit() {
    // The fit alone: no quantisation, the window from 0 (aihwkit's converter maps onto 0..g_max).
    let exact = ["device.levels=continuous", "device.g_min=0uS"];
    against_aihwkit("rram_hfo2", &exact, "reram_wan2022", 40.0, false);
}
