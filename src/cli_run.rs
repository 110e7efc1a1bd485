//! `apcsim run`: arguments, the progress bar and the output folder around
//! [`apcsim::study::run`].

use apcsim::config::{self, LoadOptions};
use apcsim::study::run::{self as job, RunError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The design `apcsim run` uses without a file: the digits classifier on RRAM.
pub const DEFAULT_DESIGN: &str = include_str!("../circuits/digits_rram.toml");
const DEFAULT_NAME: &str = "digits_rram";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The circuit description (TOML); without one, the embedded default design
    /// (circuits/digits_rram.toml: a digits classifier on RRAM).
    file: Option<PathBuf>,
    /// Override a key, e.g. --set device.levels=16 (repeatable, applied in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder (default: runs/<design>-<UTC timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of every random draw (short for --set run.seed=N).
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: RunArgs) -> ExitCode {
    let mut sets = args.set.clone();
    if let Some(s) = args.seed {
        sets.push(format!("run.seed={s}"));
    }
    let (loaded, stem) = match &args.file {
        Some(f) => (
            config::load(f, &sets, &LoadOptions::default()),
            f.file_stem()
                .map_or("design".into(), |s| s.to_string_lossy().into_owned()),
        ),
        None => (
            config::load_str(
                "circuits/digits_rram.toml (embedded)",
                DEFAULT_DESIGN,
                &sets,
                &LoadOptions::default(),
            ),
            DEFAULT_NAME.to_string(),
        ),
    };
    let circuit = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(format!("{stem}-{}", utc_stamp())));

    let chunks = circuit.run.batch.div_ceil(apcsim::analog::sim::CHUNK);
    let bar = Progress::new(
        circuit.dynamics.dt_seconds / chunks as f64,
        circuit.dynamics.t_max_seconds,
    );
    let result = job::run(&circuit, &|pass, steps| bar.advance(pass, steps));
    bar.finish();
    let res = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", circuit.name);
            if let RunError::Diverged(d) = &e {
                if let Err(w) = apcsim::measure::write_diverged(&circuit, d, &dir) {
                    eprintln!("error: {w}");
                }
            }
            return ExitCode::from(match e {
                RunError::Diverged(_) => 3,
                RunError::Write { .. } | RunError::H5(_) => 1,
                _ => 2,
            });
        }
    };
    if let Err(e) = job::write_outputs(&circuit, &res, &dir) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    say!("{}", job::summary(&circuit, &res));
    sayln!("wrote {}", dir.display());
    ExitCode::SUCCESS
}

/// A progress bar over simulated steps that appears only on a terminal and only once a run has
/// taken more than a second.
struct Progress {
    bar: ProgressBar,
    /// Simulated seconds per reported chunk-step (dt / chunks).
    seconds_per_step: f64,
    start: Instant,
    shown: AtomicBool,
    pass: AtomicUsize,
    steps: AtomicUsize,
    lock: Mutex<()>,
}

impl Progress {
    fn new(seconds_per_step: f64, t_max_seconds: f64) -> Self {
        // Position and length in simulated picoseconds.
        let bar = ProgressBar::with_draw_target(
            Some((t_max_seconds * 1e12) as u64),
            ProgressDrawTarget::hidden(),
        );
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            seconds_per_step,
            start: Instant::now(),
            shown: AtomicBool::new(false),
            pass: AtomicUsize::new(1),
            steps: AtomicUsize::new(0),
            lock: Mutex::new(()),
        }
    }

    fn advance(&self, pass: usize, steps: usize) {
        let _guard = self.lock.lock();
        if self.pass.swap(pass, Ordering::Relaxed) != pass {
            self.steps.store(0, Ordering::Relaxed);
        }
        let done = self.steps.fetch_add(steps, Ordering::Relaxed) + steps;
        if !self.shown.load(Ordering::Relaxed) && self.start.elapsed().as_secs_f64() > 1.0 {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        let what = if pass == 1 {
            "until steady"
        } else {
            "recording"
        };
        let t = done as f64 * self.seconds_per_step;
        self.bar.set_position((t * 1e12) as u64);
        self.bar.set_message(format!(
            "pass {pass}/2 ({what}): t = {} simulated",
            job::si(t, "s")
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The current UTC time as YYYYMMDD-HHMMSS.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
