//! `apcsim train`'s report.html and its SVG figures: the learning curves of every learner
//! (test accuracy and loss per epoch), the alignment of each learner's applied update with
//! BP's gradient of the weights it held, per layer along training (cosine similarity and norm
//! ratio), the energy per step by component against the digital BP step, and the hardware's
//! conductance histograms before and after training.

use super::cost::StepCost;
use super::cost_report::Costs;
use super::session::TrainRecord;
use crate::analog::Component;
use crate::report::{bar_chart, line_chart, Axis, Figure, Report, ReportError, Series};
use std::path::Path;

/// Bins of a conductance histogram.
const HISTOGRAM_BINS: usize = 24;

/// What the report draws.
pub struct TrainReport<'a> {
    pub design: &'a str,
    pub rec: &'a TrainRecord,
    pub costs: &'a Costs,
    /// (learner, conductances before, after), siemens.
    pub conductances: Vec<(&'static str, Vec<f64>, Vec<f64>)>,
    /// The terminal's summary.
    pub summary: String,
}

impl TrainReport<'_> {
    /// Writes the figures and report.html into `dir`, each file whole or not at all.
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let mut report = Report::new(&format!("apcsim train: {}", self.design));
        report.paragraph(&format!(
            "apcsim {}: design {}, {} steps. Every number is also in train.h5 and report.json; \
             every figure is an SVG file beside this page.",
            env!("CARGO_PKG_VERSION"),
            self.design,
            self.rec.steps.first().map_or(0, |s| s.len())
        ));
        report.heading(2, "Summary");
        report.preformatted(&self.summary);
        report.heading(2, "Figures");
        for figure in self.figures() {
            report.figure(figure);
        }
        report.write(dir)
    }

    /// Every figure, in the report's order.
    pub fn figures(&self) -> Vec<Figure> {
        let mut figs = self.learning_curves();
        for (k, name) in self.rec.names.iter().enumerate() {
            if *name != "bp_float" {
                figs.extend(self.alignment(k));
            }
        }
        figs.push(self.energy());
        for (name, before, after) in &self.conductances {
            figs.push(histogram(name, before, after));
        }
        figs
    }

    fn learning_curves(&self) -> Vec<Figure> {
        let epochs =
            |k: usize| -> Vec<f64> { (0..self.rec.epochs[k].len()).map(|e| e as f64).collect() };
        let series = |f: fn(&super::EpochRecord) -> f64| -> Vec<Series> {
            self.rec
                .names
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    Series::new(*n, epochs(k), self.rec.epochs[k].iter().map(f).collect())
                })
                .collect()
        };
        let x = Axis::linear("epoch");
        vec![
            Figure::new(
                "test_accuracy.svg",
                "Test accuracy after every epoch (epoch 0: before training), every learner.",
                line_chart(
                    "Test accuracy",
                    &x,
                    &Axis::linear("accuracy (%)"),
                    &series(|e| 100.0 * e.test_accuracy),
                ),
            ),
            Figure::new(
                "test_loss.svg",
                "Test loss (BP loss of the forward pass) after every epoch, every learner.",
                line_chart(
                    "Test loss",
                    &x,
                    &Axis::log("loss"),
                    &series(|e| e.test_loss),
                ),
            ),
        ]
    }

    /// Cosine similarity and norm ratio per layer of learner `k`'s update with BP's gradient.
    fn alignment(&self, k: usize) -> Vec<Figure> {
        let name = self.rec.names[k];
        let steps = &self.rec.steps[k];
        let x: Vec<f64> = (0..steps.len()).map(|s| s as f64).collect();
        let layers = steps.first().map_or(0, |s| s.alignment.per_layer.len());
        let per_layer = |f: &dyn Fn(&super::StepReport, usize) -> f64| -> Vec<Series> {
            (0..layers)
                .map(|l| {
                    let y = steps.iter().map(|s| f(s, l)).collect();
                    Series::new(format!("layer {}", l + 1), x.clone(), y)
                })
                .collect()
        };
        let step = Axis::linear("step");
        vec![
            Figure::new(
                format!("cos_sim_{name}.svg"),
                format!(
                    "{name}: cosine similarity of the applied update with BP's gradient of the \
                     weights it held, per layer, every step."
                ),
                line_chart(
                    &format!("{name}: cos sim with BP"),
                    &step,
                    &Axis::linear("cos sim"),
                    &per_layer(&|s, l| s.alignment.per_layer[l]),
                ),
            ),
            Figure::new(
                format!("norm_ratio_{name}.svg"),
                format!(
                    "{name}: norm of the applied update over the norm of BP's gradient, per \
                     layer, every step."
                ),
                line_chart(
                    &format!("{name}: norm ratio to BP"),
                    &step,
                    &Axis::log("norm ratio"),
                    &per_layer(&|s, l| s.alignment.norm_ratio_per_layer[l]),
                ),
            ),
        ]
    }

    /// The mean energy per step by part, every hardware learner beside the digital BP step.
    fn energy(&self) -> Figure {
        let c = self.costs;
        let mut categories: Vec<String> = c.hardware.iter().map(|(n, _)| n.to_string()).collect();
        categories.push("digital BP".into());
        // One value per hardware learner, and none for the digital step.
        let part = |f: &dyn Fn(&StepCost) -> f64| -> Vec<f64> {
            let mut v: Vec<f64> = c.hardware.iter().map(|(_, s)| mean(s, f)).collect();
            v.push(0.0);
            v
        };
        let mut groups: Vec<(String, Vec<f64>)> = Component::SUPPLY
            .iter()
            .map(|comp| {
                let v = part(&|x| x.inference_joules[comp.index()]);
                (comp.name().to_string(), v)
            })
            .collect();
        groups.push(("update pulses".into(), part(&|x| x.update_joules)));
        groups.push(("refresh".into(), part(&|x| x.refresh_joules)));
        let mut digital = vec![0.0; categories.len()];
        digital[categories.len() - 1] =
            c.digital.iter().map(|d| d.0).sum::<f64>() / c.digital.len().max(1) as f64;
        groups.push(("digital MACs".into(), digital));
        groups.retain(|(_, v)| v.iter().any(|&x| x > 0.0));
        Figure::new(
            "energy_per_step.svg",
            "Mean energy of a training step by component: the inference (as apcsim run measures \
             it), the update's pulses and refreshes, and the digital BP step's \
             multiply-accumulates.",
            bar_chart(
                "Energy per training step",
                &Axis::linear("energy (J)"),
                &categories,
                &groups,
                true,
            ),
        )
    }
}

/// The mean of `f` over `steps`.
fn mean(steps: &[StepCost], f: &dyn Fn(&StepCost) -> f64) -> f64 {
    steps.iter().map(f).sum::<f64>() / steps.len().max(1) as f64
}

/// Histogram of `before` and `after` (siemens) on shared bins, in µS.
fn histogram(name: &str, before: &[f64], after: &[f64]) -> Figure {
    let all = before.iter().chain(after).filter(|g| g.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &g| {
        (a.min(g), b.max(g))
    });
    let width = if hi > lo {
        (hi - lo) / HISTOGRAM_BINS as f64
    } else {
        1.0
    };
    let count = |v: &[f64]| {
        let mut c = vec![0.0; HISTOGRAM_BINS];
        for &g in v.iter().filter(|g| g.is_finite()) {
            let i = (((g - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
            c[i] += 1.0;
        }
        c
    };
    let categories: Vec<String> = (0..HISTOGRAM_BINS)
        .map(|i| format!("{:.2}", 1e6 * (lo + (i as f64 + 0.5) * width)))
        .collect();
    Figure::new(
        format!("conductances_{name}.svg"),
        format!(
            "{name}: every device's conductance before and after training (bin centres in µS)."
        ),
        bar_chart(
            &format!("{name}: conductances"),
            &Axis::linear("devices"),
            &categories,
            &[
                ("before".to_string(), count(before)),
                ("after".to_string(), count(after)),
            ],
            false,
        ),
    )
}
