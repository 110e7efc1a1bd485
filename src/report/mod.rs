//! Charts as SVG text and the self-contained HTML report that carries them: the last stage of
//! the data flow, used by `apcsim run` reports, sweeps and the width × depth study.
//!
//! Every chart function takes plain data and returns one SVG document as a `String`: no files,
//! no fonts, no system libraries (plotters' SVG backend only). Odd data never panics: points that
//! cannot be drawn (NaN, infinities, values not positive on a log axis) are skipped and lines
//! break there; a single point or all-equal values get a sensible range around them. Only when
//! nothing at all is left to draw, or the inputs contradict each other (lengths that disagree),
//! is a [`PlotError`] returned.
//!
//! ```
//! use apcsim::report::{line_chart, Axis, Figure, Report, Series};
//!
//! let t_us: Vec<f64> = (0..50).map(|i| i as f64 * 0.1).collect();
//! let v: Vec<f64> = t_us.iter().map(|t| 1.0 - (-t).exp()).collect();
//! let svg = line_chart(
//!     "Value node settling",
//!     &Axis::linear("time (µs)"),
//!     &Axis::linear("voltage (V)"),
//!     &[Series::new("z₁", t_us, v)],
//! );
//! let mut report = Report::new("Settling");
//! report.figure(Figure::new("settling.svg", "Node voltage after the input step.", svg));
//! assert!(report.to_html().contains("<svg"));
//! # Ok::<(), apcsim::report::PlotError>(())
//! ```

mod area;
mod bar;
mod csv_table;
mod frame;
mod gallery;
mod grid;
mod heatmap;
mod html;
mod line;
mod run;
mod run_figures;
mod scale;
mod style;
#[cfg(test)]
mod tests;
mod writer;

pub use area::stacked_area;
pub use bar::bar_chart;
pub use csv_table::CsvTable;
pub use gallery::{gallery_charts, gallery_report};
pub use grid::panel_grid;
pub use heatmap::heatmap;
pub use html::{Figure, Report};
pub use line::{line_chart, line_chart_with_bands, line_chart_with_guides};
pub use run::{run_summary, write_run_report};
pub use run_figures::{run_figures, LayerAlignment};
pub use writer::{ReportError, MANIFEST, REPORT_HTML};

/// A numeric axis of a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    /// The axis title, with the unit: `"time (µs)"`, `"energy (pJ)"`.
    pub label: String,
    /// Logarithmic (base 10). Values that are not positive cannot be drawn on it and are skipped.
    pub log: bool,
}

impl Axis {
    /// A linear axis titled `label`.
    pub fn linear(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: false,
        }
    }

    /// A base-10 logarithmic axis titled `label`.
    pub fn log(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: true,
        }
    }
}

/// One named curve: `y[i]` against `x[i]`. Points are joined in the given order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Series {
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series {
            name: name.into(),
            x,
            y,
        }
    }
}

/// A straight reference line across a line chart, drawn dashed in grey and named in the legend.
#[derive(Clone, Debug, PartialEq)]
pub enum Guide {
    /// A horizontal line at this y value: a threshold, such as a tolerance.
    Threshold { name: String, y: f64 },
    /// A vertical line at this x value: an event, such as the time a run settled.
    Event { name: String, x: f64 },
}

impl Guide {
    /// The name shown in the legend.
    pub fn name(&self) -> &str {
        match self {
            Guide::Threshold { name, .. } | Guide::Event { name, .. } => name,
        }
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Every value was missing, non-finite, or not positive on a log axis.
    #[error("chart \"{title}\": nothing to draw (no finite value{})", if *.log { ", or none positive on the log axis" } else { "" })]
    NoData { title: String, log: bool },
    /// Two inputs that must pair up element by element have different lengths.
    #[error("chart \"{title}\": {what} has {found} values, expected {expected}")]
    LengthMismatch {
        title: String,
        what: String,
        expected: usize,
        found: usize,
    },
    /// A colour range that is not finite or runs backwards.
    #[error("chart \"{title}\": invalid value range {lo}..{hi}")]
    InvalidRange { title: String, lo: f64, hi: f64 },
    /// The drawing backend failed (not expected: it writes to a string).
    #[error("chart \"{title}\": drawing failed: {message}")]
    Render { title: String, message: String },
}

impl PlotError {
    fn mismatch(title: &str, what: String, expected: usize, found: usize) -> Self {
        PlotError::LengthMismatch {
            title: title.to_string(),
            what,
            expected,
            found,
        }
    }
}
