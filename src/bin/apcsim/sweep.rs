//! `apcsim sweep` and `apcsim merge`: arguments, the progress bar over points, and exit codes
//! around [`apcsim::study::sweep`].

use apcsim::study::sweep::{
    self, load_plan, run_sweep, Event, Shard, SweepError, SweepOptions, SweepSpec,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The circuit description (TOML) every point starts from.
    pub file: PathBuf,
    /// An axis: KEY=V1,V2,… (repeatable). The points are the cartesian product of the axes, the
    /// first varying slowest. Values are written as for --set; commas inside [..], {..} or
    /// quotes do not split (network.hidden=[64,64],[128,128]).
    #[arg(long = "grid", value_name = "KEY=V1,V2,…")]
    pub grid: Vec<String>,
    /// A zipped key: KEY=V1,V2,… (repeatable). All --zip lists have the same length and form
    /// one axis (after the --grid axes) whose i-th point takes the i-th value of each.
    #[arg(long = "zip", value_name = "KEY=V1,V2,…")]
    pub zip: Vec<String>,
    /// Seeds per grid point: each is a point of its own, with run.seed derived from the
    /// design's run.seed, the point's key values and the seed's number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// Derive the seeds from run.seed and the seed's number only, so that every grid point
    /// sees the same weights, batch and noise draws (common random numbers).
    #[arg(long)]
    pub common_seeds: bool,
    /// Output folder (default: sweeps/<design>-<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads that compute (default: the cores available). Up to that many points run at
    /// once, each on one thread; with fewer points than threads, a point's batch chunks share
    /// them. Results do not depend on it. At most 1024.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// Finish the sweep in --out: points already finished are kept, the others run. The
    /// command line must describe the same sweep (it is checked against --out/plan.json).
    /// Without a plan in --out, the sweep starts afresh.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard K of N (K = 1..N): the points whose index is K-1 modulo N. Merge the
    /// shards' folders with `apcsim merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Override a key of every point, e.g. --set run.batch=16 (repeatable, applied before the
    /// grid).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shard folders (each written by `apcsim sweep --shard K/N`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The merged sweep's folder.
    #[arg(long)]
    pub out: PathBuf,
}

fn fail(e: &SweepError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code())
}

pub fn sweep(args: SweepArgs) -> ExitCode {
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if args.resume && args.out.is_none() {
        eprintln!("error: --resume needs --out DIR, the folder of the sweep to finish");
        return ExitCode::from(2);
    }
    let spec = SweepSpec {
        grids: args.grid.clone(),
        zips: args.zip.clone(),
        seeds: args.seeds as usize,
        common_seeds: args.common_seeds,
        shard,
        sets: args.set.clone(),
    };
    let dir = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or("design".into(), |s| s.to_string_lossy().into_owned());
        Path::new("sweeps").join(format!("{stem}-{}", crate::run::utc_stamp()))
    });
    // Before the plan loads, which takes a while on a large grid.
    if let Err(e) = sweep::check_out_path(&dir) {
        return fail(&e);
    }
    let loaded = match load_plan(&args.file, &spec) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let opts = SweepOptions {
        jobs,
        resume: args.resume,
    };
    let mut progress = Progress::new();
    let start = Instant::now();
    let outcome = run_sweep(&loaded, &dir, &opts, &mut |ev| {
        progress.event(&loaded.plan, ev)
    });
    progress.finish();
    let o = match outcome {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let own = loaded.jobs.len();
    let mut text = format!(
        "sweep: {own} point{}{} ({} run now, {} resumed) in {:.1} s on {jobs} thread{}\n",
        if own == 1 { "" } else { "s" },
        loaded
            .plan
            .shard
            .map(|s| format!(" (shard {s} of {} points)", loaded.plan.points))
            .unwrap_or_default(),
        o.ran,
        o.resumed,
        start.elapsed().as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    if o.diverged + o.failed > 0 {
        text.push_str(&format!(
            "{} diverged, {} failed: see the status and error columns of summary.csv\n",
            o.diverged, o.failed
        ));
    }
    text.push_str(&format!("wrote {}\n", dir.display()));
    say(&text);
    ExitCode::SUCCESS
}

/// A progress line on standard error (batch logs); a closed pipe is not an error.
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Prints to standard output; a closed pipe (`apcsim sweep … | head`) is not an error.
fn say(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub fn merge(args: MergeArgs) -> ExitCode {
    match sweep::merge(&args.dirs, &args.out) {
        Ok(o) => {
            say(&format!(
                "merged {} points from {} folders; wrote {}\n",
                o.points,
                o.folders,
                args.out.display()
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// A bar over points with an ETA on a terminal; one line per finished point otherwise (batch
/// logs).
struct Progress {
    bar: Option<ProgressBar>,
    done: usize,
    todo: usize,
}

impl Progress {
    fn new() -> Self {
        Progress {
            bar: None,
            done: 0,
            todo: 0,
        }
    }

    fn event(&mut self, plan: &sweep::SweepPlan, ev: Event) {
        match ev {
            Event::Start {
                todo,
                resumed,
                workers,
                threads_per_point,
            } => {
                self.todo = todo;
                let what = format!(
                    "{todo} point{} to run ({resumed} already done), {workers} at a time on \
                     {threads_per_point} thread{} each",
                    if todo == 1 { "" } else { "s" },
                    if threads_per_point == 1 { "" } else { "s" }
                );
                if std::io::stderr().is_terminal() {
                    let bar = ProgressBar::with_draw_target(
                        Some(todo as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{msg} [{bar:30}] {pos}/{len} points ({elapsed}, ETA {eta})",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message("sweep");
                    bar.println(what);
                    self.bar = Some(bar);
                } else {
                    note(&format!("sweep: {what}"));
                }
            }
            Event::Done {
                record,
                wall_seconds,
            } => {
                self.done += 1;
                let keys = plan.keys();
                let mut at: Vec<String> = keys
                    .iter()
                    .zip(&record.values)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                at.push(format!("seed {}", record.seed_index));
                let line = format!(
                    "point {} ({}): {} in {wall_seconds:.1} s",
                    record.index,
                    at.join(", "),
                    record.outcome.status()
                );
                match &self.bar {
                    Some(bar) => {
                        bar.inc(1);
                        if record.outcome.status() != "ok" {
                            bar.println(line);
                        }
                    }
                    None => note(&format!("[{}/{}] {line}", self.done, self.todo)),
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
