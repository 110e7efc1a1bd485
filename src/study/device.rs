//! A device on its own (`apcsim device`): N devices programmed to each of a list of targets,
//! drifted and read at a list of times after programming; the statistics per target and time,
//! `device.h5`, the figures sigma vs G and G vs time, and `report.html`. The designer's first
//! look at a device before building a chip of it.

use crate::config::units::{format_quantity, Dimension};
use crate::hardware::params::DeviceParams;
use crate::io::h5::{Array, Attr, H5Error, H5Writer};
use crate::numeric::stats::MeanStd;
use crate::report::{line_chart, Axis, Figure, Report, ReportError, Series};
use std::fmt::Write as _;
use std::path::Path;

/// What to sample: `count` devices per target, read at each time.
#[derive(Clone, Debug, PartialEq)]
pub struct DevicePlan {
    pub targets_siemens: Vec<f64>,
    pub read_times_seconds: Vec<f64>,
    pub count: usize,
    pub seed: u64,
}

/// Why a plan cannot be sampled: the flag and what is wrong with it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct PlanError {
    pub flag: &'static str,
    pub message: String,
}

impl DevicePlan {
    /// Refuses a plan with nothing to sample, a negative or non-finite target, or a read
    /// before programming.
    pub fn validate(&self) -> Result<(), PlanError> {
        let bad = |flag, message: String| Err(PlanError { flag, message });
        if self.count == 0 {
            return bad("--count", "must be at least 1, got 0".into());
        }
        if self.targets_siemens.is_empty() {
            return bad("--targets", "no target given".into());
        }
        if let Some(g) = self
            .targets_siemens
            .iter()
            .find(|g| !(g.is_finite() && **g >= 0.0))
        {
            return bad(
                "--targets",
                format!("a target must be a finite conductance >= 0, got {g}"),
            );
        }
        if self.read_times_seconds.is_empty() {
            return bad("--read-times", "no read time given".into());
        }
        if let Some(t) = self
            .read_times_seconds
            .iter()
            .find(|t| !(t.is_finite() && **t >= 0.0))
        {
            return bad(
                "--read-times",
                format!("{t} s is before programming (read times count from the end of programming, >= 0)"),
            );
        }
        Ok(())
    }
}

/// The devices of a plan: per target, the programmed values, drift exponents and reads.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceResults {
    pub device: String,
    pub plan: DevicePlan,
    /// targets x count (siemens).
    pub programmed: Vec<Vec<f64>>,
    /// targets x count.
    pub nu: Vec<Vec<f64>>,
    /// read times x targets x count (siemens).
    pub conductance: Vec<Vec<Vec<f64>>>,
}

/// Samples `plan` on `device`: target k draws on the streams of array k of the plan's seed.
pub fn sample(device: &DeviceParams, plan: &DevicePlan) -> Result<DeviceResults, PlanError> {
    plan.validate()?;
    let samples: Vec<_> = plan
        .targets_siemens
        .iter()
        .enumerate()
        .map(|(k, &g)| {
            device.sample(
                g,
                plan.count,
                &plan.read_times_seconds,
                (plan.seed, k as u64),
            )
        })
        .collect();
    let conductance = (0..plan.read_times_seconds.len())
        .map(|t| samples.iter().map(|s| s.reads[t].clone()).collect())
        .collect();
    Ok(DeviceResults {
        device: device.name.clone(),
        plan: plan.clone(),
        programmed: samples.iter().map(|s| s.programmed.clone()).collect(),
        nu: samples.iter().map(|s| s.nu.clone()).collect(),
        conductance,
    })
}

/// Mean and standard deviation (0 for one device).
fn moments(values: &[f64]) -> (f64, f64) {
    let m = MeanStd::of(values);
    (m.mean, m.std.unwrap_or(0.0))
}

/// Why the results could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    H5(#[from] H5Error),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl DeviceResults {
    /// The table printed per target and time: mean and std of programmed, nu and each read.
    pub fn table(&self) -> String {
        let us = |x: f64| x * 1e6;
        let mut out = format!(
            "{}: {} devices per target, seed {}\n{:>10}  {:>19}  {:>17}",
            self.device, self.plan.count, self.plan.seed, "target uS", "programmed uS", "nu"
        );
        for t in &self.plan.read_times_seconds {
            let _ = write!(
                out,
                "  {:>19}",
                format!("G at {} uS", format_quantity(*t, Dimension::Time))
            );
        }
        out.push('\n');
        for (k, g) in self.plan.targets_siemens.iter().enumerate() {
            let (pm, ps) = moments(&self.programmed[k]);
            let (nm, ns) = moments(&self.nu[k]);
            let _ = write!(
                out,
                "{:>10.4}  {:>9.4} ± {:<7.4}  {:>7.4} ± {:<7.4}",
                us(*g),
                us(pm),
                us(ps),
                nm,
                ns
            );
            for reads in &self.conductance {
                let (m, s) = moments(&reads[k]);
                let _ = write!(out, "  {:>9.4} ± {:<7.4}", us(m), us(s));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out
    }

    /// `dir/device.h5`, the figures and `dir/report.html`, each whole or absent.
    pub fn write(&self, dir: &Path) -> Result<(), WriteError> {
        self.h5().write(&dir.join("device.h5"))?;
        self.report().write(dir)?;
        Ok(())
    }

    fn h5(&self) -> H5Writer {
        let (nt, n) = (self.plan.targets_siemens.len(), self.plan.count);
        let flat = |m: &[Vec<f64>]| m.iter().flatten().copied().collect::<Vec<f64>>();
        let mut w = H5Writer::new();
        w.dataset(
            "programmed_siemens",
            Array::matrix(nt, n, flat(&self.programmed)),
        )
        .dataset("nu", Array::matrix(nt, n, flat(&self.nu)))
        .dataset(
            "conductance_siemens",
            Array {
                shape: vec![self.conductance.len(), nt, n],
                data: self.conductance.iter().flat_map(|m| flat(m)).collect(),
            },
        )
        .attr(
            "",
            "targets_siemens",
            Attr::F64s(self.plan.targets_siemens.clone()),
        )
        .attr(
            "",
            "read_times_seconds",
            Attr::F64s(self.plan.read_times_seconds.clone()),
        )
        .attr("", "device", Attr::Str(self.device.clone()))
        .attr("", "seed", Attr::I64(self.plan.seed as i64));
        w
    }

    fn report(&self) -> Report {
        let targets_us: Vec<f64> = self.plan.targets_siemens.iter().map(|g| g * 1e6).collect();
        let sigma = |values: &[Vec<f64>]| values.iter().map(|v| moments(v).1 * 1e6).collect();
        let mut series = vec![Series::new(
            "programmed",
            targets_us.clone(),
            sigma(&self.programmed),
        )];
        for (t, reads) in self.plan.read_times_seconds.iter().zip(&self.conductance) {
            let name = format!("read at {}", format_quantity(*t, Dimension::Time));
            series.push(Series::new(name, targets_us.clone(), sigma(reads)));
        }
        let sigma_svg = line_chart(
            "Spread vs conductance",
            &Axis::linear("target G (µS)"),
            &Axis::linear("sigma (µS)"),
            &series,
        );
        // Reads at t = 0 cannot sit on a log axis; a linear one then.
        let times = &self.plan.read_times_seconds;
        let time_axis = if times.iter().all(|t| *t > 0.0) {
            Axis::log("time after programming (s)")
        } else {
            Axis::linear("time after programming (s)")
        };
        let over_time: Vec<Series> = targets_us
            .iter()
            .enumerate()
            .map(|(k, g)| {
                let mean = self
                    .conductance
                    .iter()
                    .map(|r| moments(&r[k]).0 * 1e6)
                    .collect();
                Series::new(format!("{g:.3} µS"), times.clone(), mean)
            })
            .collect();
        let time_svg = line_chart(
            "Mean conductance vs time",
            &time_axis,
            &Axis::linear("mean G (µS)"),
            &over_time,
        );
        let mut report = Report::new(&format!("apcsim device: {}", self.device));
        report
            .paragraph(&format!(
                "{} devices per target, seed {}: programmed, drifted and read at each time \
                 after programming (drift and the 1/f noise accumulated since programming).",
                self.plan.count, self.plan.seed
            ))
            .preformatted(&self.table())
            .figure(Figure::new(
                "sigma_vs_g.svg",
                "Standard deviation vs target conductance.",
                sigma_svg,
            ))
            .figure(Figure::new(
                "g_vs_time.svg",
                "Mean conductance vs time after programming.",
                time_svg,
            ));
        report
    }
}
