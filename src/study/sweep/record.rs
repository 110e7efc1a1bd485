//! What a sweep keeps of one point: its place in the plan and the measurements of its run
//! (settling, energy, gradient alignment), as an HDF5 group that round-trips exactly. The
//! per-point files under `DIR/points/` and the groups of `DIR/sweep.h5` are both this layout.

use crate::analog::Component;
use crate::io::h5::{Array, Attr, H5Error, H5Reader, H5Writer};
use crate::measure::report::{GradientComparison, GradientsReport, Measurements};
use crate::measure::RunError;

/// The three gradient comparisons of a run, as named in report.json and in the HDF5 groups.
pub const COMPARISONS: [&str; 3] = GradientsReport::NAMES;

/// How a run's PC update compares with BP.
pub type GradientMetrics = GradientComparison;

/// The measurements of one completed run. Energies are per sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub settled: bool,
    /// Final max|dz/dt| tau_z.
    pub residual: f64,
    pub steps: f64,
    pub evaluations: f64,
    pub t_end_seconds: f64,
    pub window_seconds: f64,
    pub settling_per_sample_seconds: Vec<f64>,
    pub settling_median_seconds: f64,
    pub settling_worst_seconds: f64,
    pub energy_per_sample_joules: f64,
    /// In [`Component::ALL`] order.
    pub energy_by_component_joules: Vec<f64>,
    pub energy_by_layer_joules: Vec<f64>,
    pub energy_delay_product_joule_seconds: f64,
    /// In [`COMPARISONS`] order.
    pub gradients: Vec<GradientMetrics>,
}

/// How a point ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done(Box<Metrics>),
    /// The circuit diverged or ran to a rail: a result about the design, not a failure of
    /// the sweep.
    Diverged(String),
    /// The point could not be run (its data could not be read, the reference did not converge).
    Failed(String),
}

impl Outcome {
    /// "ok", "diverged" or "failed".
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Done(_) => "ok",
            Outcome::Diverged(_) => "diverged",
            Outcome::Failed(_) => "failed",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Done(_) => "",
            Outcome::Diverged(m) | Outcome::Failed(m) => m,
        }
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        match self {
            Outcome::Done(m) => Some(m),
            _ => None,
        }
    }
}

/// One point of a sweep and how it went.
#[derive(Clone, Debug, PartialEq)]
pub struct PointRecord {
    pub index: usize,
    pub seed_index: usize,
    pub seed: u64,
    /// The texts of every key, in plan key order.
    pub values: Vec<String>,
    pub outcome: Outcome,
}

impl Metrics {
    /// The measurements of a completed run of `batch` samples, from its report (the numbers of
    /// report.json; energies per sample).
    pub fn from_report(m: &Measurements, batch: usize) -> Metrics {
        let b = batch as f64;
        let (st, e) = (&m.settling, &m.energy);
        Metrics {
            settled: st.settled,
            residual: st.residual,
            steps: m.dynamics.steps as f64,
            evaluations: m.dynamics.evaluations as f64,
            t_end_seconds: m.dynamics.t_end_seconds,
            window_seconds: st.window_seconds,
            settling_per_sample_seconds: st.per_sample_seconds.clone(),
            settling_median_seconds: st.times.median_seconds,
            settling_worst_seconds: st.times.worst_seconds,
            energy_per_sample_joules: e.per_sample_joules,
            energy_by_component_joules: Component::ALL
                .iter()
                .map(|&c| e.by_component_joules.get(c) / b)
                .collect(),
            energy_by_layer_joules: e.by_layer_joules.iter().map(|x| x / b).collect(),
            energy_delay_product_joule_seconds: e.energy_delay_product_joule_seconds,
            gradients: m.gradients.all().into_iter().cloned().collect(),
        }
    }
}

impl Outcome {
    /// A failed run as an outcome: divergence is a finding, anything else a failure.
    pub fn from_error(e: &RunError) -> Outcome {
        match e {
            RunError::Diverged(_) => Outcome::Diverged(e.to_string()),
            _ => Outcome::Failed(e.to_string()),
        }
    }
}

/// `prefix/name`, or `name` at the root.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

impl PointRecord {
    /// Writes the record as the group `prefix` ("" for the file's root). `keys` names the
    /// values (plan key order).
    pub fn write(&self, w: &mut H5Writer, prefix: &str, keys: &[String]) {
        w.attr(prefix, "index", Attr::I64(self.index as i64));
        w.attr(prefix, "seed_index", Attr::I64(self.seed_index as i64));
        w.attr(prefix, "seed", Attr::I64(self.seed as i64));
        w.attr(prefix, "status", Attr::Str(self.outcome.status().into()));
        for (k, v) in keys.iter().zip(&self.values) {
            w.attr(prefix, k, Attr::Str(v.clone()));
        }
        let Some(m) = self.outcome.metrics() else {
            w.attr(prefix, "error", Attr::Str(self.outcome.message().into()));
            return;
        };
        let p = |name: &str| join(prefix, name);
        let s = |v: f64| Array::scalar(v);
        let v = |x: &[f64]| Array::vector(x.to_vec());
        w.dataset(&p("settled"), s(if m.settled { 1.0 } else { 0.0 }));
        w.dataset(&p("settling/residual"), s(m.residual));
        w.dataset(
            &p("settling/per_sample_seconds"),
            v(&m.settling_per_sample_seconds),
        );
        w.dataset(&p("settling/median_seconds"), s(m.settling_median_seconds));
        w.dataset(&p("settling/worst_seconds"), s(m.settling_worst_seconds));
        w.dataset(&p("dynamics/steps"), s(m.steps));
        w.dataset(&p("dynamics/evaluations"), s(m.evaluations));
        w.dataset(&p("dynamics/t_end_seconds"), s(m.t_end_seconds));
        w.dataset(&p("dynamics/window_seconds"), s(m.window_seconds));
        w.dataset(
            &p("energy/per_sample_joules"),
            s(m.energy_per_sample_joules),
        );
        w.dataset(
            &p("energy/by_component_per_sample_joules"),
            v(&m.energy_by_component_joules),
        );
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
        w.attr(&p("energy"), "components", Attr::Str(names.join(",")));
        w.dataset(
            &p("energy/by_layer_per_sample_joules"),
            v(&m.energy_by_layer_joules),
        );
        w.dataset(
            &p("energy/energy_delay_product_joule_seconds"),
            s(m.energy_delay_product_joule_seconds),
        );
        for (name, g) in COMPARISONS.iter().zip(&m.gradients) {
            let q = |x: &str| p(&format!("gradients/{name}/{x}"));
            w.dataset(&q("cos_sim"), s(g.cos_sim));
            w.dataset(&q("norm_ratio"), s(g.norm_ratio));
            w.dataset(&q("cos_sim_per_layer"), v(&g.cos_sim_per_layer));
            w.dataset(&q("norm_ratio_per_layer"), v(&g.norm_ratio_per_layer));
        }
    }

    /// Reads the record written by [`PointRecord::write`] at `prefix`.
    pub fn read(r: &H5Reader, prefix: &str, keys: &[String]) -> Result<PointRecord, H5Error> {
        let bad = |object: &str, message: &str| H5Error {
            file: r.path().to_path_buf(),
            object: join(prefix, object),
            message: message.to_string(),
        };
        let int = |name: &str| -> Result<i64, H5Error> {
            r.attr(prefix, name)?
                .and_then(|a| a.as_i64())
                .filter(|v| *v >= 0)
                .ok_or_else(|| bad(&format!("@{name}"), "missing or not a count"))
        };
        let text = |name: &str| -> Result<String, H5Error> {
            r.attr(prefix, name)?
                .and_then(|a| a.as_str().map(str::to_string))
                .ok_or_else(|| bad(&format!("@{name}"), "missing or not a string"))
        };
        let index = int("index")? as usize;
        let seed_index = int("seed_index")? as usize;
        let seed = int("seed")? as u64;
        let values = keys
            .iter()
            .map(|k| text(k))
            .collect::<Result<Vec<_>, _>>()?;
        let status = text("status")?;
        let outcome = match status.as_str() {
            "ok" => {
                let arr = |name: &str| r.array(&join(prefix, name)).map(|a| a.data);
                let one = |name: &str| -> Result<f64, H5Error> {
                    arr(name)?
                        .first()
                        .copied()
                        .ok_or_else(|| bad(name, "empty"))
                };
                let mut gradients = Vec::new();
                for name in COMPARISONS {
                    let q = |x: &str| format!("gradients/{name}/{x}");
                    gradients.push(GradientMetrics {
                        cos_sim: one(&q("cos_sim"))?,
                        norm_ratio: one(&q("norm_ratio"))?,
                        cos_sim_per_layer: arr(&q("cos_sim_per_layer"))?,
                        norm_ratio_per_layer: arr(&q("norm_ratio_per_layer"))?,
                    });
                }
                Outcome::Done(Box::new(Metrics {
                    settled: one("settled")? != 0.0,
                    residual: one("settling/residual")?,
                    steps: one("dynamics/steps")?,
                    evaluations: one("dynamics/evaluations")?,
                    t_end_seconds: one("dynamics/t_end_seconds")?,
                    window_seconds: one("dynamics/window_seconds")?,
                    settling_per_sample_seconds: arr("settling/per_sample_seconds")?,
                    settling_median_seconds: one("settling/median_seconds")?,
                    settling_worst_seconds: one("settling/worst_seconds")?,
                    energy_per_sample_joules: one("energy/per_sample_joules")?,
                    energy_by_component_joules: arr("energy/by_component_per_sample_joules")?,
                    energy_by_layer_joules: arr("energy/by_layer_per_sample_joules")?,
                    energy_delay_product_joule_seconds: one(
                        "energy/energy_delay_product_joule_seconds",
                    )?,
                    gradients,
                }))
            }
            "diverged" => Outcome::Diverged(text("error")?),
            "failed" => Outcome::Failed(text("error")?),
            other => return Err(bad("@status", &format!("unknown status `{other}`"))),
        };
        Ok(PointRecord {
            index,
            seed_index,
            seed,
            values,
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> PointRecord {
        PointRecord {
            index: 17,
            seed_index: 1,
            seed: (1 << 53) - 3,
            values: vec!["8".into(), "[3, 3]".into()],
            outcome,
        }
    }

    #[test]
    fn records_round_trip_exactly() {
        let keys = vec!["device.levels".to_string(), "network.hidden".to_string()];
        let g = |x: f64| GradientMetrics {
            cos_sim: x,
            norm_ratio: f64::NAN,
            cos_sim_per_layer: vec![x, 0.1 + 0.2],
            norm_ratio_per_layer: vec![1e-300, -0.0],
        };
        let m = Metrics {
            settled: true,
            residual: 1e-9,
            steps: 8734.0,
            evaluations: 17468.0,
            t_end_seconds: 6.9e-6,
            window_seconds: 5.91e-6,
            settling_per_sample_seconds: vec![5.84e-6, 5.91e-6],
            settling_median_seconds: 5.875e-6,
            settling_worst_seconds: 5.91e-6,
            energy_per_sample_joules: 3.37e-7,
            energy_by_component_joules: (0..Component::COUNT).map(|i| i as f64 * 1e-9).collect(),
            energy_by_layer_joules: vec![1.0, 2.0, 3.0],
            energy_delay_product_joule_seconds: 1.99e-12,
            gradients: vec![g(0.94), g(0.98), g(0.998)],
        };
        for outcome in [
            Outcome::Done(Box::new(m)),
            Outcome::Diverged("layer 2 node 1".into()),
            Outcome::Failed("no data".into()),
        ] {
            let rec = record(outcome);
            let mut w = H5Writer::new();
            rec.write(&mut w, "points/17", &keys);
            let r = H5Reader::from_bytes(w.to_bytes().unwrap()).unwrap();
            let back = PointRecord::read(&r, "points/17", &keys).unwrap();
            // NaN != NaN: compare the bits through the debug text.
            assert_eq!(format!("{back:?}"), format!("{rec:?}"));
        }
    }
}
