//! The energy and time per training step in a run's outputs: per step in `train.h5`, the mean
//! per step with its parts and its ratio to a digital BP step in `report.json`, and the
//! terminal's table ([`super::cost`] says what is counted).

use super::cost::{digital_bp_step, StepCost};
use super::session::{Schedule, TrainRecord};
use crate::analog::Component;
use crate::config::Circuit;
use crate::io::h5::{Array, Attr, H5Writer};
use crate::numeric::format::si;
use serde_json::{json, Map, Value};

/// The costs of a run: per learner that keeps them, per step; and the digital BP step's.
pub struct Costs {
    /// (learner, its steps' costs).
    pub hardware: Vec<(&'static str, Vec<StepCost>)>,
    /// Per step: the digital BP step of that mini-batch, (joules, seconds).
    pub digital: Vec<(f64, f64)>,
    pub mac_energy_joules: f64,
    pub mac_time_seconds: f64,
}

/// The mini-batch sizes of the first `steps` steps of `schedule` on `n` samples.
pub fn batch_sizes(n: usize, schedule: &Schedule, steps: usize) -> Vec<usize> {
    let per_epoch = schedule.steps_per_epoch(n);
    (0..steps)
        .map(|k| {
            let i = k % per_epoch;
            (n - i * schedule.batch).min(schedule.batch)
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

impl Costs {
    /// The costs `rec` holds, with the digital BP steps of the mini-batches `sizes`.
    pub fn of(rec: &TrainRecord, circuit: &Circuit, sizes: &[usize]) -> Self {
        let widths = &circuit.architecture.widths;
        let hardware = rec
            .names
            .iter()
            .zip(&rec.steps)
            .filter_map(|(&name, steps)| {
                let c: Option<Vec<StepCost>> = steps.iter().map(|s| s.cost).collect();
                c.filter(|c| !c.is_empty()).map(|c| (name, c))
            })
            .collect();
        Costs {
            hardware,
            digital: sizes
                .iter()
                .map(|&b| digital_bp_step(widths, b, circuit))
                .collect(),
            mac_energy_joules: circuit.periphery.digital_mac_energy_joules,
            mac_time_seconds: circuit.train.digital_mac_time_seconds,
        }
    }

    fn digital_means(&self) -> (f64, f64) {
        (
            mean(self.digital.iter().map(|d| d.0)),
            mean(self.digital.iter().map(|d| d.1)),
        )
    }

    /// `steps/{learner}/...` per step, and `steps/bp_float/energy_joules`, `time_seconds`
    /// (the digital BP step).
    pub fn write_h5(&self, h: &mut H5Writer) {
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
        for (name, steps) in &self.hardware {
            let col = |f: &dyn Fn(&StepCost) -> f64| Array::vector(steps.iter().map(f).collect());
            let group = format!("steps/{name}");
            let by_component = steps.iter().flat_map(|s| s.inference_joules).collect();
            h.dataset(&format!("{group}/energy_joules"), col(&|s| s.joules()))
                .dataset(&format!("{group}/time_seconds"), col(&|s| s.seconds()))
                .dataset(
                    &format!("{group}/inference_joules_by_component"),
                    Array::matrix(steps.len(), Component::COUNT, by_component),
                )
                .dataset(
                    &format!("{group}/inference_seconds"),
                    col(&|s| s.inference_seconds),
                )
                .dataset(&format!("{group}/update_joules"), col(&|s| s.update_joules))
                .dataset(
                    &format!("{group}/refresh_joules"),
                    col(&|s| s.refresh_joules),
                )
                .dataset(
                    &format!("{group}/update_seconds"),
                    col(&|s| s.update_seconds),
                )
                .dataset(
                    &format!("{group}/transient"),
                    col(&|s| if s.measured { 1.0 } else { 0.0 }),
                )
                .attr(&group, "components", Attr::Str(names.join(",")));
        }
        let d = |f: fn(&(f64, f64)) -> f64| Array::vector(self.digital.iter().map(f).collect());
        h.dataset("steps/bp_float/energy_joules", d(|x| x.0))
            .dataset("steps/bp_float/time_seconds", d(|x| x.1));
    }

    /// report.json's `energy_per_step`, `time_per_step` (means over the steps, by part, and
    /// the ratio to the digital BP step) and `digital_bp_step`.
    pub fn json(&self) -> Map<String, Value> {
        let (dj, ds) = self.digital_means();
        let (mut energy, mut time) = (Map::new(), Map::new());
        for (name, steps) in &self.hardware {
            let m = |f: &dyn Fn(&StepCost) -> f64| mean(steps.iter().map(f));
            let mut parts = Map::new();
            for c in Component::ALL {
                parts.insert(
                    c.name().into(),
                    json!(m(&|s| s.inference_joules[c.index()])),
                );
            }
            parts.insert("update_pulses".into(), json!(m(&|s| s.update_joules)));
            parts.insert("refresh".into(), json!(m(&|s| s.refresh_joules)));
            let joules = m(&|s| s.joules());
            let seconds = m(&|s| s.seconds());
            energy.insert(
                name.to_string(),
                json!({"joules": joules, "by_component": parts, "ratio_to_digital_bp": joules / dj}),
            );
            time.insert(
                name.to_string(),
                json!({
                    "seconds": seconds,
                    "inference": m(&|s| s.inference_seconds),
                    "update": m(&|s| s.update_seconds),
                    "ratio_to_digital_bp": seconds / ds,
                }),
            );
        }
        energy.insert(
            "bp_float".into(),
            json!({"joules": dj, "ratio_to_digital_bp": 1.0}),
        );
        time.insert(
            "bp_float".into(),
            json!({"seconds": ds, "ratio_to_digital_bp": 1.0}),
        );
        let mut out = Map::new();
        out.insert("energy_per_step".into(), Value::Object(energy));
        out.insert("time_per_step".into(), Value::Object(time));
        out.insert(
            "digital_bp_step".into(),
            json!({
                "what": "forward, backward and weight-gradient MACs of the mini-batch (bp_float)",
                "mac_energy_joules": self.mac_energy_joules,
                "mac_time_seconds": self.mac_time_seconds,
                "joules": dj,
                "seconds": ds,
            }),
        );
        out
    }

    /// The terminal's table: energy and time per step of every learner that has them, their
    /// largest parts, and the ratios to the digital BP step.
    pub fn summary(&self) -> String {
        let (dj, ds) = self.digital_means();
        let mut s = format!(
            "{:<12} {:>12} {:>10} {:>12} {:>10}  largest parts\n",
            "per step", "energy", "x digital", "time", "x digital"
        );
        for (name, steps) in &self.hardware {
            let m = |f: &dyn Fn(&StepCost) -> f64| mean(steps.iter().map(f));
            let (j, t) = (m(&|s| s.joules()), m(&|s| s.seconds()));
            let mut parts: Vec<(String, f64)> = Component::SUPPLY
                .iter()
                .map(|c| (c.name().to_string(), m(&|s| s.inference_joules[c.index()])))
                .chain([
                    ("update".into(), m(&|s| s.update_joules)),
                    ("refresh".into(), m(&|s| s.refresh_joules)),
                ])
                .collect();
            parts.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = parts
                .iter()
                .take(3)
                .filter(|p| p.1 > 0.0)
                .map(|(n, v)| format!("{n} {}", si(*v, "J")))
                .collect();
            s += &format!(
                "{name:<12} {:>12} {:>10.3} {:>12} {:>10.3}  {}\n",
                si(j, "J"),
                j / dj,
                si(t, "s"),
                t / ds,
                top.join(", ")
            );
        }
        s += &format!(
            "{:<12} {:>12} {:>10.3} {:>12} {:>10.3}  {} and {} per MAC\n",
            "digital BP",
            si(dj, "J"),
            1.0,
            si(ds, "s"),
            1.0,
            si(self.mac_energy_joules, "J"),
            si(self.mac_time_seconds, "s")
        );
        s
    }
}
