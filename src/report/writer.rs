//! The report writer: a [`Report`]'s page and the figure files beside it, written into an
//! output folder. Every command that draws (`apcsim run`, sweeps, the width × depth study)
//! builds a [`Report`] and calls [`Report::write`].
//!
//! Each file is written whole or not at all (a temporary name, then a rename). The folder keeps
//! a list of the figures the last report wrote ([`MANIFEST`]); a new report into the same
//! folder removes the figures of the previous one that it no longer writes, so that no stale
//! figure sits beside a new report. Files the report did not write are never touched.

use super::Report;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The page's file name in the output folder.
pub const REPORT_HTML: &str = "report.html";
/// The list of figure files the folder's report wrote, one name a line after a comment line.
pub const MANIFEST: &str = "report-figures.txt";

/// Why a report could not be written: the file and the I/O error.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct ReportError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl From<ReportError> for std::io::Error {
    fn from(e: ReportError) -> Self {
        std::io::Error::new(e.source.kind(), e.to_string())
    }
}

impl Report {
    /// Writes every figure and `report.html` into `dir` (created if needed), each whole or not
    /// at all, then removes the figures of the folder's previous report that this one does not
    /// write. The manifest names every figure that may be on disk at any moment, so that an
    /// interrupted write is cleaned up by the next.
    ///
    /// ```
    /// use apcsim::report::{line_chart, Axis, Figure, Report, Series};
    ///
    /// let svg = line_chart(
    ///     "Decay",
    ///     &Axis::linear("time (µs)"),
    ///     &Axis::linear("voltage (V)"),
    ///     &[Series::new("z", vec![0.0, 1.0, 2.0], vec![1.0, 0.37, 0.14])],
    /// );
    /// let mut report = Report::new("Example");
    /// report.heading(2, "Figures").figure(Figure::new("decay.svg", "A decay.", svg));
    /// let dir = tempfile::tempdir()?;
    /// report.write(dir.path())?;
    /// assert!(dir.path().join("decay.svg").is_file());
    /// assert!(dir.path().join("report.html").is_file());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let fail = |path: PathBuf| move |source| ReportError { path, source };
        std::fs::create_dir_all(dir).map_err(fail(dir.to_path_buf()))?;
        let previous = read_manifest(dir).map_err(fail(dir.join(MANIFEST)))?;
        let ours: BTreeSet<String> = self.figure_files().map(str::to_string).collect();
        let either: BTreeSet<String> = previous.union(&ours).cloned().collect();
        write_manifest(dir, &either)?;
        for (name, svg) in &self.files {
            let p = dir.join(name);
            crate::io::write_atomic(&p, svg.as_bytes()).map_err(fail(p))?;
        }
        let p = dir.join(REPORT_HTML);
        crate::io::write_atomic(&p, self.to_html().as_bytes()).map_err(fail(p))?;
        write_manifest(dir, &ours)?;
        for stale in previous.difference(&ours) {
            let p = dir.join(stale);
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(p)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether `name` is a figure file a report may have written: a plain SVG file name in the
/// folder itself. Anything else in a manifest is ignored, never removed.
fn is_figure_name(name: &str) -> bool {
    name.ends_with(".svg")
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && Path::new(name).file_name() == Some(name.as_ref())
}

/// The figures the folder's previous report listed (none when there is no manifest).
fn read_manifest(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| is_figure_name(l))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

fn write_manifest(dir: &Path, names: &BTreeSet<String>) -> Result<(), ReportError> {
    let mut text = String::from(
        "# The figures of report.html, written by apcsim; the next report into this folder \
         removes those it does not write again.\n",
    );
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    let p = dir.join(MANIFEST);
    crate::io::write_atomic(&p, text.as_bytes()).map_err(|source| ReportError { path: p, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Figure, PlotError};

    fn svg(title: &str) -> Result<String, PlotError> {
        Ok(format!("<svg><title>{title}</title></svg>"))
    }

    fn report(figures: &[&str]) -> Report {
        let mut r = Report::new("t");
        for f in figures {
            r.figure(Figure::new(*f, "c", svg(f)));
        }
        r
    }

    #[test]
    fn a_report_removes_the_figures_of_the_previous_one_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        report(&["a.svg", "b.svg"]).write(d).unwrap();
        assert!(d.join("a.svg").is_file() && d.join("b.svg").is_file());
        std::fs::write(d.join("mine.svg"), "kept").unwrap();
        report(&["b.svg", "c.svg"]).write(d).unwrap();
        assert!(!d.join("a.svg").exists(), "the old figure is gone");
        for kept in ["b.svg", "c.svg", "mine.svg", REPORT_HTML] {
            assert!(d.join(kept).is_file(), "{kept}");
        }
        let manifest = std::fs::read_to_string(d.join(MANIFEST)).unwrap();
        assert!(manifest.ends_with("\nb.svg\nc.svg\n"), "{manifest}");
    }

    #[test]
    fn only_plain_figure_names_of_a_manifest_are_ever_removed() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("out");
        std::fs::create_dir(&d).unwrap();
        let outside = root.path().join("outside.svg");
        for f in [
            outside.clone(),
            d.join("report.json"),
            d.join(".hidden.svg"),
        ] {
            std::fs::write(f, "kept").unwrap();
        }
        let listed = "# c\n../outside.svg\nreport.json\n.hidden.svg\n/etc/x.svg\n";
        std::fs::write(d.join(MANIFEST), listed).unwrap();
        report(&[]).write(&d).unwrap();
        assert!(outside.is_file());
        assert!(d.join("report.json").is_file() && d.join(".hidden.svg").is_file());
    }

    #[test]
    fn a_figure_that_cannot_be_drawn_is_named_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new("t");
        let failed = Err(PlotError::NoData {
            title: "empty".into(),
            log: false,
        });
        r.figure(Figure::new("empty.svg", "An empty chart", failed));
        r.write(dir.path()).unwrap();
        assert!(!dir.path().join("empty.svg").exists());
        let html = std::fs::read_to_string(dir.path().join(REPORT_HTML)).unwrap();
        assert!(html.contains("An empty chart: not drawn (chart"), "{html}");
    }
}
