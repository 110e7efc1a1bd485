//! The comparison interface: a trajectory is a list of times and, per layer and node kind, the
//! node values at those times (node units, f64). ngspice's output, apcsim's gradient flow and
//! (later) the analog integrator all become a [`Trajectory`]; [`compare`] measures how two of
//! them differ and [`settling_time`] reads a settling time from one.
//!
//! # Measures
//!
//! - **Trajectory error** of a series (one kind of node of one layer): the largest
//!   `|test - reference|` over every node and time, and that divided by the series' *signal
//!   range*, the largest peak-to-peak excursion of a reference node over the compared times
//!   (the largest `|reference|` when nothing moves).
//! - **Final error**: the same at the last time, divided by the layer's largest final
//!   `|reference|` (the relative error of the end state).
//! - **Settling time**: docs/circuit-model.md, "Settling": a layer's range is the largest
//!   `|z_i(0) - z_i(final)|`; the sample has settled at the first time after which every value
//!   node stays within `settle_tol x range` of its final value. Between output times the
//!   crossing is interpolated linearly.

use nalgebra::DMatrix;
use serde::Serialize;
use std::cmp::Ordering;

/// Which node of a layer a series holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A value node `z_l` (hidden layers 1..L-1).
    Value,
    /// An error node `e_l` (layers 1..L).
    Error,
}

impl NodeKind {
    /// `z` or `e`.
    pub fn symbol(self) -> &'static str {
        match self {
            NodeKind::Value => "z",
            NodeKind::Error => "e",
        }
    }
}

/// The nodes of one kind of one layer over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub kind: NodeKind,
    /// 1-based layer.
    pub layer: usize,
    /// `times x nodes`, node units.
    pub values: DMatrix<f64>,
}

impl Series {
    /// `z1`, `e3`, ...
    pub fn name(&self) -> String {
        format!("{}{}", self.kind.symbol(), self.layer)
    }
}

/// Node values of one sample over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Increasing times (seconds).
    pub times_seconds: Vec<f64>,
    pub series: Vec<Series>,
}

/// Why two trajectories cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrajectoryError {
    #[error("the trajectories have different times ({0})")]
    Times(String),
    #[error("series {name}: {message}")]
    Series { name: String, message: String },
    #[error("the trajectory is empty")]
    Empty,
}

impl Trajectory {
    /// The series of `kind` on `layer`, if present.
    pub fn get(&self, kind: NodeKind, layer: usize) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.kind == kind && s.layer == layer)
    }

    /// Checks shapes: every series has one row per time, times increase and are finite.
    pub fn validate(&self) -> Result<(), TrajectoryError> {
        if self.times_seconds.is_empty() {
            return Err(TrajectoryError::Empty);
        }
        if self
            .times_seconds
            .windows(2)
            .any(|w| w[1].partial_cmp(&w[0]) != Some(Ordering::Greater) || !w[1].is_finite())
            || !self.times_seconds[0].is_finite()
        {
            return Err(TrajectoryError::Times(
                "times must be finite and increasing".into(),
            ));
        }
        for s in &self.series {
            if s.values.nrows() != self.times_seconds.len() {
                return Err(TrajectoryError::Series {
                    name: s.name(),
                    message: format!(
                        "{} rows for {} times",
                        s.values.nrows(),
                        self.times_seconds.len()
                    ),
                });
            }
        }
        Ok(())
    }

    /// This trajectory at other times, by linear interpolation (times outside the recorded
    /// span are an error).
    pub fn resample_linear(&self, times: &[f64]) -> Result<Trajectory, TrajectoryError> {
        self.resample(times, |t, x| {
            let k = t.partition_point(|&v| v <= x).clamp(1, t.len() - 1);
            let (t0, t1) = (t[k - 1], t[k]);
            let w = if t1 > t0 { (x - t0) / (t1 - t0) } else { 0.0 };
            let w = w.clamp(0.0, 1.0);
            (k - 1, [1.0 - w, w, 0.0, 0.0])
        })
    }

    /// This trajectory at other times, by cubic (four-point Lagrange) interpolation: error
    /// O(h^4) for a smooth trajectory recorded every h (linear with fewer than four recorded
    /// times). Times outside the recorded span are an error.
    pub fn resample_cubic(&self, times: &[f64]) -> Result<Trajectory, TrajectoryError> {
        if self.times_seconds.len() < 4 {
            return self.resample_linear(times);
        }
        self.resample(times, cubic_weights)
    }

    /// Resampling with a stencil: for each new time, the first recorded index and the weights
    /// of up to four consecutive recorded rows.
    fn resample(
        &self,
        times: &[f64],
        stencil: impl Fn(&[f64], f64) -> (usize, [f64; 4]),
    ) -> Result<Trajectory, TrajectoryError> {
        self.validate()?;
        let t = &self.times_seconds;
        let (first, last) = (t[0], t[t.len() - 1]);
        let mut at = Vec::with_capacity(times.len());
        for &x in times {
            if !(x >= first && x <= last) {
                return Err(TrajectoryError::Times(format!(
                    "{x:e} s is outside [{first:e}, {last:e}] s"
                )));
            }
            at.push(stencil(t, x));
        }
        let series = self
            .series
            .iter()
            .map(|s| Series {
                kind: s.kind,
                layer: s.layer,
                values: DMatrix::from_fn(times.len(), s.values.ncols(), |r, c| {
                    let (k0, w) = at[r];
                    (0..4)
                        .filter(|&m| w[m] != 0.0 && k0 + m < t.len())
                        .map(|m| w[m] * s.values[(k0 + m, c)])
                        .sum()
                }),
            })
            .collect();
        Ok(Trajectory {
            times_seconds: times.to_vec(),
            series,
        })
    }
}

/// The four grid points around `t` (the first index) and their cubic Lagrange weights; `grid`
/// is increasing with at least four points, and `t` is inside it or within rounding of its ends.
pub fn cubic_weights(grid: &[f64], t: f64) -> (usize, [f64; 4]) {
    let n = grid.len();
    let k = grid.partition_point(|&g| g <= t);
    // t lies in [grid[k-1], grid[k]]; use k-2 .. k+1, shifted to stay inside the grid.
    let k0 = k.saturating_sub(2).min(n.saturating_sub(4));
    let nodes: [f64; 4] = std::array::from_fn(|m| grid[k0 + m]);
    let w = std::array::from_fn(|m| {
        (0..4)
            .filter(|&j| j != m)
            .map(|j| (t - nodes[j]) / (nodes[m] - nodes[j]))
            .product()
    });
    (k0, w)
}

/// How one series of a test trajectory differs from the reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesComparison {
    pub kind: NodeKind,
    pub layer: usize,
    pub nodes: usize,
    /// Largest |test - reference| over nodes and times (node units).
    pub max_abs: f64,
    /// `max_abs` over the signal range.
    pub max_rel_range: f64,
    /// The signal range (node units).
    pub range: f64,
    /// Largest |test - reference| at the last time (node units).
    pub final_abs: f64,
    /// `final_abs` over the largest final |reference| of the layer.
    pub final_rel: f64,
    /// Where `max_abs` occurs: time (seconds) and node.
    pub worst_time_seconds: f64,
    pub worst_node: usize,
}

/// Compares `test` with `reference`; both must have the same times.
pub fn compare(
    reference: &Trajectory,
    test: &Trajectory,
) -> Result<Vec<SeriesComparison>, TrajectoryError> {
    reference.validate()?;
    test.validate()?;
    let (tr, tt) = (&reference.times_seconds, &test.times_seconds);
    if tr.len() != tt.len()
        || tr
            .iter()
            .zip(tt)
            .any(|(a, b)| (a - b).abs() > 1e-12 * a.abs().max(b.abs()))
    {
        return Err(TrajectoryError::Times(format!(
            "{} reference and {} test times that do not match",
            tr.len(),
            tt.len()
        )));
    }
    let last = tr.len() - 1;
    let mut out = Vec::new();
    for r in &reference.series {
        let t = test
            .get(r.kind, r.layer)
            .ok_or_else(|| TrajectoryError::Series {
                name: r.name(),
                message: "missing from the test trajectory".into(),
            })?;
        if t.values.ncols() != r.values.ncols() {
            return Err(TrajectoryError::Series {
                name: r.name(),
                message: format!(
                    "{} nodes in the test, {} in the reference",
                    t.values.ncols(),
                    r.values.ncols()
                ),
            });
        }
        let mut range = 0.0f64;
        for c in 0..r.values.ncols() {
            let col = r.values.column(c);
            range = range.max(col.max() - col.min());
        }
        if range == 0.0 {
            range = r.values.amax();
        }
        let (mut max_abs, mut worst) = (0.0f64, (0, 0));
        for k in 0..r.values.nrows() {
            for c in 0..r.values.ncols() {
                let d = (t.values[(k, c)] - r.values[(k, c)]).abs();
                if d.is_nan() || d > max_abs {
                    max_abs = d;
                    worst = (k, c);
                }
            }
        }
        let final_abs = (0..r.values.ncols())
            .map(|c| (t.values[(last, c)] - r.values[(last, c)]).abs())
            .fold(0.0, f64::max);
        let final_scale = r.values.row(last).amax();
        let ratio = |a: f64, s: f64| if s > 0.0 { a / s } else { a };
        out.push(SeriesComparison {
            kind: r.kind,
            layer: r.layer,
            nodes: r.values.ncols(),
            max_abs,
            max_rel_range: ratio(max_abs, range),
            range,
            final_abs,
            final_rel: ratio(final_abs, final_scale),
            worst_time_seconds: tr[worst.0],
            worst_node: worst.1,
        });
    }
    Ok(out)
}

/// The settling time of the value nodes of `traj` (seconds), measured against its own final
/// state; `None` when it has no value nodes.
pub fn settling_time(traj: &Trajectory, settle_tol: f64) -> Option<f64> {
    let t = &traj.times_seconds;
    let last = t.len().checked_sub(1)?;
    let mut settle = None::<f64>;
    for s in traj.series.iter().filter(|s| s.kind == NodeKind::Value) {
        let v = &s.values;
        let range = (0..v.ncols())
            .map(|c| (v[(0, c)] - v[(last, c)]).abs())
            .fold(0.0, f64::max);
        let band = settle_tol * range;
        let mut layer_time = t[0];
        for c in 0..v.ncols() {
            let fin = v[(last, c)];
            // The last output time at which the node is outside the band.
            let Some(k) = (0..=last).rev().find(|&k| (v[(k, c)] - fin).abs() > band) else {
                continue;
            };
            let crossing = if k == last {
                t[last]
            } else {
                // Linear interpolation of |v - final| between t_k (outside) and t_{k+1}.
                let (d0, d1) = ((v[(k, c)] - fin).abs(), (v[(k + 1, c)] - fin).abs());
                let w = if d0 > d1 {
                    (d0 - band) / (d0 - d1)
                } else {
                    1.0
                };
                t[k] + w.clamp(0.0, 1.0) * (t[k + 1] - t[k])
            };
            layer_time = layer_time.max(crossing);
        }
        settle = Some(settle.map_or(layer_time, |s: f64| s.max(layer_time)));
    }
    settle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp_traj(times: &[f64], tau: f64, scale: f64) -> Trajectory {
        Trajectory {
            times_seconds: times.to_vec(),
            series: vec![Series {
                kind: NodeKind::Value,
                layer: 1,
                values: DMatrix::from_fn(times.len(), 2, |k, c| {
                    scale * (c as f64 + 1.0) * (-times[k] / tau).exp()
                }),
            }],
        }
    }

    #[test]
    fn settling_time_of_an_exponential_is_tau_ln_of_the_tolerance() {
        // z = exp(-t/tau) to t = 30 tau: settles at tau ln(1/tol) (final ~ 0, range ~ 1).
        let times: Vec<f64> = (0..=30_000).map(|k| k as f64 * 1e-3).collect();
        let traj = exp_traj(&times, 1.0, 1.0);
        let ts = settling_time(&traj, 1e-3).unwrap();
        assert!((ts - 1e3f64.ln()).abs() < 1e-3, "{ts}");
    }

    #[test]
    fn comparison_measures_relative_to_the_range() {
        let times: Vec<f64> = (0..=100).map(|k| k as f64 * 0.1).collect();
        let a = exp_traj(&times, 1.0, 1.0);
        let b = exp_traj(&times, 1.0, 1.0 + 1e-3);
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.len(), 1);
        // Node 1 (scale 2) moves by ~2 and differs by 2e-3 at t = 0.
        assert!((c[0].max_abs - 2e-3).abs() < 1e-12);
        assert!((c[0].max_rel_range - 2e-3 / c[0].range).abs() < 1e-12);
        assert_eq!(c[0].worst_time_seconds, 0.0);
        assert!((c[0].final_rel - 1e-3).abs() < 1e-9);
    }

    #[test]
    fn mismatched_trajectories_are_errors_not_panics() {
        let times: Vec<f64> = (0..10).map(|k| k as f64).collect();
        let a = exp_traj(&times, 1.0, 1.0);
        let b = exp_traj(&times[..5], 1.0, 1.0);
        assert!(compare(&a, &b).is_err());
        let mut c = a.clone();
        c.series[0].values = DMatrix::zeros(3, 2);
        assert!(compare(&a, &c).is_err());
        assert!(a.resample_linear(&[-1.0]).is_err());
        let empty = Trajectory {
            times_seconds: vec![],
            series: vec![],
        };
        assert!(compare(&empty, &empty).is_err());
    }

    #[test]
    fn cubic_resampling_is_exact_on_cubics() {
        let times: Vec<f64> = vec![0.0, 0.5, 1.5, 2.0, 3.5, 4.0];
        let f = |t: f64| 1.0 - 2.0 * t + 0.5 * t * t - 0.25 * t * t * t;
        let traj = Trajectory {
            times_seconds: times.clone(),
            series: vec![Series {
                kind: NodeKind::Value,
                layer: 1,
                values: DMatrix::from_fn(times.len(), 1, |k, _| f(times[k])),
            }],
        };
        let at = [0.0, 0.1, 1.7, 3.9, 4.0];
        let r = traj.resample_cubic(&at).unwrap();
        for (k, &t) in at.iter().enumerate() {
            assert!((r.series[0].values[(k, 0)] - f(t)).abs() < 1e-12, "{t}");
        }
        assert!(traj.resample_cubic(&[4.5]).is_err());
    }

    #[test]
    fn linear_resampling_is_exact_on_lines() {
        let times = vec![0.0, 1.0, 3.0];
        let traj = Trajectory {
            times_seconds: times.clone(),
            series: vec![Series {
                kind: NodeKind::Error,
                layer: 2,
                values: DMatrix::from_fn(3, 1, |k, _| 2.0 * times[k] + 1.0),
            }],
        };
        let r = traj.resample_linear(&[0.5, 2.0, 3.0]).unwrap();
        assert_eq!(r.series[0].values.as_slice(), &[2.0, 5.0, 7.0]);
    }
}
