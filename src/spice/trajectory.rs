//! The comparison interface: a trajectory is a list of times and, per layer and node kind, the
//! node values at those times (node units, f64). ngspice's output, apcsim's gradient flow and
//! the analog integrator all become a [`Trajectory`]; [`compare`] measures how two of them
//! differ, [`settling_time`] reads a settling time from one and [`end_drive`] how far from
//! steady its end is.
//!
//! # Measures
//!
//! - **Trajectory error** of a series (one kind of node of one layer): the largest
//!   `|test - reference|` over every node and time, and that divided by the series' *scale*:
//!   its *signal range*, the largest peak-to-peak excursion of a reference node over the
//!   compared times (the largest `|reference|` when nothing moves), but at least
//!   [`RANGE_FLOOR`] times the largest signal range of any series in the comparison.
//! - **Final error**: the same at the last time, divided by the layer's largest final
//!   `|reference|` (the relative error of the end state), but at least [`RANGE_FLOOR`] times the
//!   largest final `|reference|` of any series.
//!
//! The floor keeps a layer whose nodes barely move (or end near zero) from reporting a huge
//! relative error, or NaN, for an absolute error that belongs to the circuit as a whole. Its
//! size: ngspice's own error is ~1e-5 of the circuit's largest swing (the tolerances of
//! [`super::netlist::Tolerances`]), and the layers are coupled, so every layer carries absolute
//! errors of that order whatever its own swing; with the floor at 1e-2 of the largest swing,
//! that error stays at ~1e-3 of any layer's scale (the agreement `spice-check`'s tests accept),
//! and a layer that swings more than 1% of the largest is measured against its own range.
//! - **Settling time**: docs/circuit-model.md, "Settling": a layer's range is the largest
//!   `|z_i(0) - z_i(final)|`; the sample has settled at the first time after which every value
//!   node stays within `settle_tol x range` of its final value. Between output times the
//!   crossing is interpolated linearly.

use nalgebra::DMatrix;
use serde::Serialize;
use std::cmp::Ordering;

/// The smallest scale of a relative error, as a fraction of the largest of the comparison
/// (see the module documentation).
pub const RANGE_FLOOR: f64 = 1e-2;

/// Which node of a layer a series holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A value node `z_l` (hidden layers 1..L-1).
    Value,
    /// An error node `e_l` (layers 1..L).
    Error,
    /// A forward TIA's output `p_l` (layers 1..L); its voltage is `-v_read p`.
    ForwardTia,
    /// A backward TIA's output `q_l` (hidden layers 1..L-1); its voltage is `-v_read q`.
    BackwardTia,
}

impl NodeKind {
    /// `z`, `e`, `p` or `q`, as docs/circuit-model.md writes them.
    pub fn symbol(self) -> &'static str {
        match self {
            NodeKind::Value => "z",
            NodeKind::Error => "e",
            NodeKind::ForwardTia => "p",
            NodeKind::BackwardTia => "q",
        }
    }

    /// What the node is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            NodeKind::Value => "value node",
            NodeKind::Error => "error amplifier output",
            NodeKind::ForwardTia => "forward TIA output",
            NodeKind::BackwardTia => "backward TIA output",
        }
    }

    /// The sign of the node's voltage relative to `v_read x` its value: the TIAs invert.
    pub fn voltage_sign(self) -> f64 {
        match self {
            NodeKind::Value | NodeKind::Error => 1.0,
            NodeKind::ForwardTia | NodeKind::BackwardTia => -1.0,
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
    /// `max_abs` over `scale`.
    pub max_rel_range: f64,
    /// The signal range (node units).
    pub range: f64,
    /// What `max_rel_range` divides by: `range`, or [`RANGE_FLOOR`] times the largest range of
    /// the comparison when that is larger (node units).
    pub scale: f64,
    /// Largest |test - reference| at the last time (node units).
    pub final_abs: f64,
    /// `final_abs` over `final_scale`.
    pub final_rel: f64,
    /// The largest final |reference| of the layer, or [`RANGE_FLOOR`] times the largest of the
    /// comparison when that is larger (node units).
    pub final_scale: f64,
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
    // The signal range of a series: the largest peak-to-peak excursion of a node, or the
    // largest |value| when nothing moves.
    let range_of = |v: &DMatrix<f64>| {
        let range = (0..v.ncols())
            .map(|c| {
                let col = v.column(c);
                col.max() - col.min()
            })
            .fold(0.0, f64::max);
        if range == 0.0 {
            v.amax()
        } else {
            range
        }
    };
    let range_floor = RANGE_FLOOR
        * reference
            .series
            .iter()
            .map(|s| range_of(&s.values))
            .fold(0.0, f64::max);
    let final_floor = RANGE_FLOOR
        * reference
            .series
            .iter()
            .map(|s| s.values.row(last).amax())
            .fold(0.0, f64::max);
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
        let range = range_of(&r.values);
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
        let scale = range.max(range_floor);
        let final_scale = r.values.row(last).amax().max(final_floor);
        // A scale of zero: every reference node of the comparison is zero throughout, where
        // any difference is infinitely large relative to the signal.
        let ratio = |a: f64, s: f64| {
            if s > 0.0 {
                a / s
            } else if a == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        };
        out.push(SeriesComparison {
            kind: r.kind,
            layer: r.layer,
            nodes: r.values.ncols(),
            max_abs,
            max_rel_range: ratio(max_abs, scale),
            range,
            scale,
            final_abs,
            final_rel: ratio(final_abs, final_scale),
            final_scale,
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

/// How far from steady the end of `traj` is, as `apcsim run` measures it: the largest
/// `|dz/dt| tau_z` over the value nodes (node units), here by the backward difference over the
/// last stretch of at least `min_interval_seconds` (so that a tiny last step, as ngspice takes
/// to land on the window's end, does not amplify its rounding). `None` without value nodes or
/// with a single time.
///
/// The backward difference over an interval `h` of a mode decaying with time constant `tau`
/// errs by about `h / (2 tau)` of the rate, so an interval of the output step is accurate to a
/// few percent for the slowest modes, which are the ones left at the end.
pub fn end_drive(traj: &Trajectory, tau_z_seconds: f64, min_interval_seconds: f64) -> Option<f64> {
    let t = &traj.times_seconds;
    let last = t.len().checked_sub(1)?;
    let t_end = t[last];
    let k = (0..last)
        .rev()
        .find(|&k| t_end - t[k] >= min_interval_seconds)
        .or_else(|| last.checked_sub(1))?;
    let h = t_end - t[k];
    if h.partial_cmp(&0.0) != Some(Ordering::Greater) {
        return None;
    }
    let mut drive = None::<f64>;
    for s in traj.series.iter().filter(|s| s.kind == NodeKind::Value) {
        for c in 0..s.values.ncols() {
            let d = (s.values[(last, c)] - s.values[(k, c)]).abs() / h * tau_z_seconds;
            drive = Some(drive.map_or(d, |m| if d > m || d.is_nan() { d } else { m }));
        }
    }
    drive
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
    fn end_drive_of_an_exponential_is_its_rate() {
        // z = exp(-t/tau) on [0, 10 tau] every 1e-3 tau, with a last step of 1e-9 tau: over the
        // last stretch of at least 1e-2 tau the backward difference is the rate exp(-10) to
        // h / (2 tau) = 0.5%; tau_z = 2 tau doubles it.
        let mut times: Vec<f64> = (0..10_000).map(|k| k as f64 * 1e-3).collect();
        times.push(10.0 - 1e-9);
        times.push(10.0);
        let traj = exp_traj(&times, 1.0, 1.0);
        let d = end_drive(&traj, 2.0, 1e-2).unwrap();
        // Node 1 has scale 2: rate 2 exp(-10), times tau_z = 2.
        let exact = 4.0 * (-10.0f64).exp();
        assert!((d - exact).abs() <= 0.006 * exact, "{d} {exact}");
        assert!(end_drive(&exp_traj(&[0.0], 1.0, 1.0), 1.0, 0.0).is_none());
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
