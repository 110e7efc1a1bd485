//! Training runs side by side (`apcsim train-table`): the report.json of each `apcsim train`
//! run read back, a markdown table of the four learners' final test accuracies with the
//! hardware's energy and time per training step and their ratios to a digital BP step, and one
//! figure of the test-accuracy learning curves, a panel per device.

use crate::numeric::format::si;
use crate::report::{line_chart, panel_grid, Axis, PlotError, Series};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The learners of a run, as report.json names them: PC and BP on the hardware, digital PC,
/// digital BP.
pub const LEARNERS: [&str; 4] = ["pc_hardware", "bp_hardware", "pc_ideal", "bp_float"];

/// `--set` keys a row's settings leave out: they have columns (or panels) of their own.
const SHOWN_APART: [&str; 3] = ["device.preset", "crossbar.backward", "train.epochs"];

/// Why a run's report cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a report.json of `apcsim train` (naming the key that is missing or wrong).
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
}

/// A learner's mean energy and time per training step, and their ratios to the digital BP
/// step's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepPrice {
    pub joules: f64,
    pub energy_ratio: f64,
    pub seconds: f64,
    pub time_ratio: f64,
}

/// What the table and the figure show of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The report.json read.
    pub source: PathBuf,
    /// `device.preset` and `crossbar.backward` of the run's design.
    pub device: String,
    pub backward: String,
    /// The run's other `--set` overrides, as given (`update.dw_min_std=0`).
    pub settings: Vec<String>,
    /// Per learner of [`LEARNERS`]: test accuracy (a fraction) after every epoch, epoch 0
    /// (before training) first; NaN where report.json has none.
    pub curves: [Vec<f64>; 4],
    /// Per learner of [`LEARNERS`]: the final test accuracy (`None`: not trained).
    pub final_accuracy: [Option<f64>; 4],
    /// PC and BP on the hardware.
    pub price: [Option<StepPrice>; 2],
    /// The digital BP step: (joules, seconds).
    pub digital: Option<(f64, f64)>,
    /// The message of a run that diverged.
    pub diverged: Option<String>,
}

impl RunSummary {
    /// Epochs the run trained (its curves hold one value more).
    pub fn epochs(&self) -> usize {
        self.curves.iter().map(Vec::len).max().unwrap_or(1).max(1) - 1
    }

    /// The run's name besides its device: the backward read and the settings but those in
    /// `common`.
    pub fn label(&self, common: &[&String]) -> String {
        std::iter::once(&self.backward)
            .chain(self.settings.iter().filter(|s| !common.contains(s)))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The run of `path`: an output folder of `apcsim train` or its report.json.
pub fn read_run(path: &Path) -> Result<RunSummary, TableError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| TableError::Io {
        path: file.clone(),
        source,
    })?;
    let input = |message: String| TableError::Input {
        path: file.clone(),
        message,
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| input(format!("not a JSON document: {e}")))?;
    summarise(&v, &file).map_err(input)
}

/// The summary of a parsed report.json; the error names the key that is missing.
fn summarise(v: &Value, source: &Path) -> Result<RunSummary, String> {
    let text = |key: &str| -> Result<String, String> {
        v.pointer(&pointer(key))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{key}: missing (not a report.json of apcsim train)"))
    };
    let number = |key: &str| v.pointer(&pointer(key)).and_then(Value::as_f64);
    let device = text("config.values.device.preset")?;
    let backward = text("config.values.crossbar.backward")?;
    let settings = v
        .pointer("/config/origins")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !SHOWN_APART.contains(&k.as_str()))
                .filter_map(|(_, origin)| origin.as_str()?.strip_prefix("--set "))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut curves: [Vec<f64>; 4] = Default::default();
    for (curve, name) in curves.iter_mut().zip(LEARNERS) {
        let key = format!("epochs.test_accuracy.{name}");
        let values = v
            .pointer(&pointer(&key))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                format!("{key}: missing (report.json of an apcsim that did not keep the curves)")
            })?;
        *curve = values
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect();
    }
    let price = |name: &str| -> Option<StepPrice> {
        Some(StepPrice {
            joules: number(&format!("energy_per_step.{name}.joules"))?,
            energy_ratio: number(&format!("energy_per_step.{name}.ratio_to_digital_bp"))?,
            seconds: number(&format!("time_per_step.{name}.seconds"))?,
            time_ratio: number(&format!("time_per_step.{name}.ratio_to_digital_bp"))?,
        })
    };
    let digital = number("digital_bp_step.joules").zip(number("digital_bp_step.seconds"));
    Ok(RunSummary {
        source: source.to_path_buf(),
        device,
        backward,
        settings,
        curves,
        final_accuracy: LEARNERS.map(|n| number(&format!("final.test_accuracy.{n}"))),
        price: [price(LEARNERS[0]), price(LEARNERS[1])],
        digital,
        diverged: text("diverged.message").ok(),
    })
}

/// The JSON pointer of a dotted key.
fn pointer(key: &str) -> String {
    key.split('.').fold(String::new(), |p, k| p + "/" + k)
}

/// An accuracy in percent with one decimal (a test set of 360 samples moves by 0.28 a sample).
fn percent(a: Option<f64>) -> String {
    a.filter(|a| a.is_finite())
        .map_or("–".into(), |a| format!("{:.1} %", 100.0 * a))
}

/// A ratio to three significant digits.
fn ratio(r: f64) -> String {
    match r.abs() {
        r if !r.is_finite() => "–".into(),
        r if r >= 100.0 => format!("{r:.0}"),
        r if r >= 10.0 => format!("{r:.1}"),
        r if r >= 1.0 => format!("{r:.2}"),
        r => format!("{r:.3}"),
    }
}

/// The markdown table of `runs`, a row each in their order, and beneath it the digital BP
/// step and every divergence.
pub fn markdown(runs: &[RunSummary]) -> String {
    let mut s = String::from(
        "| device | backward | settings | epochs | PC hardware | BP hardware | PC digital | \
         BP digital | PC energy / step (x digital BP) | BP energy / step (x digital BP) | \
         PC time / step (x digital BP) | BP time / step (x digital BP) |\n",
    );
    s += &format!("|{}\n", " --- |".repeat(12));
    for r in runs {
        let energy = |p: &Option<StepPrice>| {
            p.map_or("–".into(), |p| {
                format!("{} ({}x)", si(p.joules, "J"), ratio(p.energy_ratio))
            })
        };
        let time = |p: &Option<StepPrice>| {
            p.map_or("–".into(), |p| {
                format!("{} ({}x)", si(p.seconds, "s"), ratio(p.time_ratio))
            })
        };
        let epochs = match r.diverged {
            Some(_) => format!("{} (diverged)", r.epochs()),
            None => r.epochs().to_string(),
        };
        let accuracies: Vec<String> = r.final_accuracy.iter().map(|&a| percent(a)).collect();
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.device,
            r.backward,
            r.settings.join(", "),
            epochs,
            accuracies.join(" | "),
            energy(&r.price[0]),
            energy(&r.price[1]),
            time(&r.price[0]),
            time(&r.price[1]),
        );
    }
    let mut digital: Vec<String> = runs
        .iter()
        .filter_map(|r| r.digital)
        .map(|(j, t)| format!("{} and {}", si(j, "J"), si(t, "s")))
        .collect();
    digital.dedup();
    if !digital.is_empty() {
        s += &format!(
            "\nDigital BP step (forward, backward and weight-gradient MACs of a mini-batch): {} \
             per step.\n",
            digital.join("; ")
        );
    }
    for r in runs.iter().filter(|r| r.diverged.is_some()) {
        let message = r.diverged.as_deref().unwrap_or_default();
        s += &format!("\n{}: diverged: {message}\n", r.source.display());
    }
    s
}

/// Palette slots of the runs of a panel: every colour but black, which the digital learners
/// take.
const RUN_SLOTS: [usize; 7] = [0, 1, 2, 3, 4, 5, 7];
/// Series per round of the palette (8 colours): a series `PALETTE` later has the same colour,
/// dashed; two rounds later, solid again.
const PALETTE: usize = 8;
/// Black, solid (digital BP) and dashed (digital PC).
const DIGITAL_BP: usize = 2 * PALETTE + 6;
const DIGITAL_PC: usize = 3 * PALETTE + 6;

/// The test-accuracy learning curves of `runs`, a panel per device (in the order the devices
/// first appear): every run's PC on the hardware solid and BP on the hardware dashed in the
/// run's colour, digital BP solid and digital PC dashed in black (the first run's of the panel).
/// A legend names a run by its backward read and the settings not every run shares.
pub fn learning_curves(runs: &[RunSummary]) -> Result<String, PlotError> {
    let mut devices: Vec<&str> = Vec::new();
    for r in runs {
        if !devices.contains(&r.device.as_str()) {
            devices.push(&r.device);
        }
    }
    // Settings every run shares are left out of the legends.
    let common: Vec<&String> = runs.first().map_or(Vec::new(), |first| {
        let everywhere = |s: &&String| runs.iter().all(|r| r.settings.contains(s));
        first.settings.iter().filter(everywhere).collect()
    });
    let panels: Vec<Result<String, PlotError>> = devices
        .iter()
        .map(|d| {
            let of: Vec<&RunSummary> = runs.iter().filter(|r| r.device == *d).collect();
            device_panel(d, &of, &common)
        })
        .collect();
    panel_grid("Test accuracy along training", &panels, 2)
}

fn device_panel(
    device: &str,
    runs: &[&RunSummary],
    common: &[&String],
) -> Result<String, PlotError> {
    let curve = |name: String, acc: &[f64]| {
        let x = (0..acc.len()).map(|e| e as f64).collect();
        Series::new(name, x, acc.iter().map(|a| 100.0 * a).collect())
    };
    // Unused slots hold empty, unnamed series (no line, no legend entry).
    let mut series = vec![Series::new("", Vec::new(), Vec::new()); DIGITAL_PC + 1];
    for (k, r) in runs.iter().enumerate() {
        let slot = RUN_SLOTS[k % RUN_SLOTS.len()] + PALETTE * 4 * (k / RUN_SLOTS.len());
        series.resize(series.len().max(slot + PALETTE + 1), series[0].clone());
        let label = r.label(common);
        series[slot] = curve(format!("PC hardware, {label}"), &r.curves[0]);
        series[slot + PALETTE] = curve(format!("BP hardware, {label}"), &r.curves[1]);
    }
    if let Some(first) = runs.first() {
        series[DIGITAL_BP] = curve("BP digital".into(), &first.curves[3]);
        series[DIGITAL_PC] = curve("PC digital".into(), &first.curves[2]);
    }
    line_chart(
        &format!("{device}: test accuracy"),
        &Axis::linear("epoch"),
        &Axis::linear("test accuracy (%)"),
        &series,
    )
}
