//! `apcsim run`: arguments, the output folder and the progress around [`apcsim::measure::run`].

use crate::args::{OutputFolder, Overrides};
use crate::exit::Failure;
use crate::progress::Progress;
use apcsim::analog::sim::chunk_samples;
use apcsim::config::{self, Circuit, LoadOptions};
use apcsim::measure::{self as job, RunError};
use apcsim::numeric::format::si;
use apcsim::report::{run_summary, write_run_report};
use std::path::PathBuf;
use std::sync::Mutex;

/// The design `apcsim run` uses without a file: the digits classifier on RRAM.
pub const DEFAULT_DESIGN: &str = include_str!("../../../circuits/digits_rram.toml");
const DEFAULT_NAME: &str = "digits_rram";

/// What `apcsim run` writes into its folder (what `--force` replaces).
pub const OUTPUTS: &[&str] = &[
    "report.json",
    "report.html",
    "traces.h5",
    apcsim::report::MANIFEST,
    "*.svg",
];

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("out", |a| a.help(
        "Output folder (default: a new folder runs/<design>-<UTC timestamp>/). It is created \
         if missing; one that is not empty is refused (exit code 2) unless --force"
    )),
    mut_arg("force", |a| a.help(
        "Write into an --out folder that is not empty: apcsim's outputs there from an earlier \
         run (report.json, report.html, report-figures.txt, traces.h5, *.svg) are removed \
         first; other files stay"
    ))
)]
pub struct RunArgs {
    /// The circuit description (TOML); without one, the embedded default design
    /// (circuits/digits_rram.toml: a digits classifier on RRAM).
    file: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    folder: OutputFolder,
    /// Seed of every random draw (short for --set run.seed=N).
    #[arg(long)]
    seed: Option<u64>,
}

impl RunArgs {
    /// The design with its overrides, and the name of its default folder.
    fn design(&self) -> Result<(Circuit, String), Failure> {
        let mut sets = self.overrides.set.clone();
        if let Some(s) = self.seed {
            sets.push(format!("run.seed={s}"));
        }
        Ok(match &self.file {
            Some(f) => (
                config::load(f, &sets, &LoadOptions::default())?,
                f.file_stem()
                    .map_or("design".into(), |s| s.to_string_lossy().into_owned()),
            ),
            None => (
                config::load_str(
                    "circuits/digits_rram.toml (embedded)",
                    DEFAULT_DESIGN,
                    &sets,
                    &LoadOptions::default(),
                )?,
                DEFAULT_NAME.to_string(),
            ),
        })
    }
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let (circuit, stem) = args.design()?;
    // Unusable options and output folders are refused before the run.
    job::sim_options(&circuit).map_err(|e| Failure::from(e).context(&circuit.name))?;
    let folder = args.folder.claim("runs", &stem, OUTPUTS)?;
    let progress = RunProgress::new(&circuit);
    let result = job::run(&circuit, &|pass, steps| progress.advance(pass, steps));
    if let Err(RunError::Diverged(run)) = &result {
        // What diverged, and the traces before it, are written before the error is reported.
        apcsim::measure::write_diverged(&circuit, run, folder.path())?;
    }
    let res = result.map_err(|e| Failure::from(e).context(&circuit.name))?;
    progress.finish();
    write_run_report(&circuit, &res, folder.path())?;
    say!("{}", run_summary(&circuit, &res));
    if let Some(f) = &res.gradients.ideal_fallback {
        sayln!("ideal circuit's equilibrium: {f}");
    }
    sayln!("wrote {}", folder.path().display());
    Ok(())
}

/// The progress of a run's integration, in chunk-steps over every pass.
///
/// A run integrates each chunk of the batch until the circuit is steady, at most to t_max
/// (pass 1); a noisy run then integrates again from the start, with noise, to one settling
/// window past the steady time (pass 2). Until pass 1 ends its length is only bounded by t_max,
/// so the work (and the ETA) is an upper bound; once pass 2 starts it is known.
struct RunProgress {
    progress: Progress,
    chunks: f64,
    dt_seconds: f64,
    /// Steps of one chunk to t_max, and of one settling window.
    max_steps: f64,
    window_steps: f64,
    /// Whether the design expects a second, noisy pass.
    noisy: bool,
    /// Chunk-steps done in pass 1 and pass 2, and the pass being run.
    state: Mutex<(f64, f64, usize)>,
}

impl RunProgress {
    fn new(circuit: &Circuit) -> Self {
        let d = &circuit.dynamics;
        RunProgress {
            progress: Progress::new("run"),
            chunks: circuit
                .run
                .batch
                .div_ceil(chunk_samples(circuit.run.batch))
                .max(1) as f64,
            dt_seconds: d.dt_seconds,
            max_steps: (d.t_max_seconds / d.dt_seconds).floor().max(1.0),
            window_steps: (d.settle_window_seconds / d.dt_seconds).round().max(1.0),
            noisy: d.noisy,
            state: Mutex::new((0.0, 0.0, 1)),
        }
    }

    fn advance(&self, pass: usize, steps: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (ref mut one, ref mut two, ref mut current) = *state;
        let new_pass = *current != pass;
        *current = pass;
        if pass == 1 {
            *one += steps as f64;
        } else {
            *two += steps as f64;
        }
        let (fraction, what, bound) = self.measure(*one, *two, pass);
        if new_pass {
            // Recording with noise runs at its own pace.
            self.progress.new_phase(fraction);
        }
        self.progress.update(fraction, &what, bound);
    }

    /// The fraction done, what is being done, and whether the total is only an upper bound.
    fn measure(&self, one: f64, two: f64, pass: usize) -> (f64, String, bool) {
        let per_chunk = |s: f64| s / self.chunks;
        let (total_one, total_two, bound) = if pass == 1 {
            let two = if self.noisy { self.max_steps } else { 0.0 };
            (self.max_steps, two, true)
        } else {
            let steady = per_chunk(one).ceil();
            (
                steady,
                (steady + self.window_steps).min(self.max_steps),
                false,
            )
        };
        let total = (total_one + total_two) * self.chunks;
        let fraction = (one + two) / total;
        let t = |s: f64| si(per_chunk(s) * self.dt_seconds, "s");
        let passes = if self.noisy || pass == 2 { "/2" } else { "" };
        let what = if pass == 1 {
            format!(
                "pass 1{passes} until steady: t = {} of at most {} simulated",
                t(one),
                t(total_one * self.chunks)
            )
        } else {
            format!(
                "pass 2/2 recording with noise: t = {} of {} simulated",
                t(two),
                t(total_two * self.chunks)
            )
        };
        (fraction, what, bound)
    }

    fn finish(&self) {
        self.progress.finish("integrated");
    }
}
