//! Sweeps: one design run over a grid of key values and seeds, every point a full
//! [`run`](crate::measure::run::run) (settling, energy, gradient check), written point by point so
//! that a killed sweep resumes where it stopped, sliced into shards for a cluster and merged
//! back.
//!
//! - [`plan`]: the axes (`--grid`, `--zip`), seeds and shard; each point's derived seed; every
//!   point's design loaded and checked before anything runs.
//! - [`exec`]: the folder, the worker threads, resuming.
//! - [`record`]: what is kept of a point, as an HDF5 group.
//! - [`summary`]: sweep.h5, summary.csv, charts and report.html from the finished points.
//! - [`mod@merge`]: shard folders into one.
//!
//! A sweep folder holds:
//!
//! | file | what |
//! |---|---|
//! | `plan.json` | the axes, seeds, shard, apcsim's version and the design's resolved configuration |
//! | `points.jsonl` | one line per finished point (its report), in plan order once the sweep is done |
//! | `points/<i>.h5` | one file per finished point ([`record`]'s layout) |
//! | `sweep.h5` | every point's group under `points/`, and `table/`: one vector per column |
//! | `summary.csv` | one row per finished point in plan order |
//! | `*.svg`, `report.html` | charts chosen from the axes, and the page that shows them |
//!
//! ```no_run
//! use apcsim::study::sweep::{load_plan, run_sweep, SweepOptions, SweepSpec};
//! use std::path::Path;
//!
//! let spec = SweepSpec {
//!     grids: vec!["device.levels=8,16,32".into()],
//!     seeds: 2,
//!     ..SweepSpec::default()
//! };
//! let plan = load_plan(Path::new("circuits/tiny.toml"), &spec)?;
//! let opts = SweepOptions { jobs: 2, resume: false, force: false };
//! let done = run_sweep(&plan, Path::new("sweeps/levels"), &opts, &mut |_| {})?;
//! assert_eq!(done.ran, 6);
//! # Ok::<(), apcsim::study::sweep::SweepError>(())
//! ```

pub mod exec;
pub mod merge;
pub mod plan;
pub mod record;
pub mod summary;

pub use exec::{check_out_path, run_sweep, Event, SweepOptions, SweepOutcome, OUTPUTS};
pub use merge::{merge, MergeOutcome};
pub use plan::{load_plan, LoadedPlan, PointJob, Shard, SweepPlan, SweepSpec};
pub use record::{Metrics, Outcome, PointRecord};

use crate::io::h5::H5Error;
use std::path::PathBuf;

pub const PLAN_FILE: &str = "plan.json";
pub const POINTS_JSONL: &str = "points.jsonl";
pub const POINTS_DIR: &str = "points";
pub const SWEEP_H5: &str = "sweep.h5";
pub const SUMMARY_CSV: &str = "summary.csv";
/// Held (an advisory lock) by the one sweep or merge writing into a folder.
pub use crate::io::outdir::LOCK_FILE;
pub use crate::report::REPORT_HTML;

/// Why a sweep or a merge could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A bad sweep specification: a key, a list of values, the seeds or the shard.
    #[error("{0}")]
    Spec(String),
    /// The design itself (with `--set`) does not load.
    #[error("{message}")]
    Config { message: String },
    /// One point's design does not load: `values` are its key values.
    #[error("sweep point {index} ({values}): {message}")]
    Point {
        index: usize,
        values: String,
        message: String,
    },
    /// The folder holds another sweep, or is not a sweep folder.
    #[error("{0}")]
    Plan(String),
    /// merge: points missing from every folder, or in two.
    #[error("{0}")]
    Points(String),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    H5(#[from] H5Error),
    /// The output folder cannot be claimed.
    #[error(transparent)]
    Folder(#[from] crate::io::outdir::OutDirError),
}

/// What the worker threads share must be shareable (a compile-time check).
#[cfg(test)]
#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PointJob>();
    check::<PointRecord>();
    check::<SweepPlan>();
    check::<LoadedPlan>();
}
