//! `apcsim sweep` and `apcsim merge`: arguments, the progress bar over points, and Ctrl-C
//! around [`apcsim::study::sweep`].

use crate::args::Overrides;
use crate::exit::Failure;
use apcsim::study::sweep::{self, load_plan, run_sweep, Event, Shard, SweepOptions, SweepSpec};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
#[command(mut_arg("set", |a| a.help(
    "Override a key of every point, e.g. --set run.batch=16 (repeatable, applied before the \
     grid)"
)))]
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
    /// Output folder (default: a new folder sweeps/<design>-<UTC timestamp>/). It is created
    /// if missing; one that is not empty is refused (exit code 2) unless --resume finishes the
    /// sweep it holds or --force starts afresh.
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
    /// Start afresh in an --out folder that is not empty: apcsim's outputs there from an
    /// earlier sweep or merge (plan.json, points.jsonl, points/, sweep.h5, summary.csv,
    /// report.html, *.svg) are removed first; other files stay.
    #[arg(long, requires = "out", conflicts_with = "resume")]
    pub force: bool,
    /// Run only shard K of N (K = 1..N): the points whose index is K-1 modulo N. Merge the
    /// shards' folders with `apcsim merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shard folders (each written by `apcsim sweep --shard K/N`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The merged sweep's folder, created if missing; one that is not empty is refused (exit
    /// code 2) unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Merge into an --out folder that is not empty: apcsim's outputs there from an earlier
    /// sweep or merge are removed first; other files stay.
    #[arg(long)]
    pub force: bool,
}

impl SweepArgs {
    /// The library's specification of the sweep.
    fn spec(&self) -> Result<SweepSpec, Failure> {
        Ok(SweepSpec {
            grids: self.grid.clone(),
            zips: self.zip.clone(),
            seeds: self.seeds as usize,
            common_seeds: self.common_seeds,
            shard: self.shard.as_deref().map(Shard::parse).transpose()?,
            sets: self.overrides.set.clone(),
        })
    }

    /// The folder: --out, or a new one under sweeps/.
    fn folder(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let stem = self
                .file
                .file_stem()
                .map_or("design".into(), |s| s.to_string_lossy().into_owned());
            // A name no folder has yet (claimed for good when the sweep starts).
            let base = format!("{stem}-{}", apcsim::io::outdir::utc_stamp());
            let mut dir = Path::new("sweeps").join(&base);
            let mut n = 1;
            while dir.exists() {
                n += 1;
                dir = Path::new("sweeps").join(format!("{base}-{n}"));
            }
            dir
        })
    }
}

pub fn sweep(args: SweepArgs) -> Result<(), Failure> {
    let spec = args.spec()?;
    if args.resume && args.out.is_none() {
        return Err(Failure::input(
            "--resume needs --out DIR, the folder of the sweep to finish",
        ));
    }
    let dir = args.folder();
    // Before the plan loads, which takes a while on a large grid.
    sweep::check_out_path(&dir).map_err(|e| Failure::from(e).option("--out"))?;
    let loaded = load_plan(&args.file, &spec)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let opts = SweepOptions {
        jobs,
        resume: args.resume,
        force: args.force,
    };
    interrupt_hint(&dir)?;
    let mut progress = Progress::new();
    let start = Instant::now();
    let outcome = run_sweep(&loaded, &dir, &opts, &mut |ev| {
        progress.event(&loaded.plan, ev)
    });
    progress.finish();
    let o = outcome?;
    let own = loaded.jobs.len();
    say!(
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
        sayln!(
            "{} diverged, {} failed: see the status and error columns of summary.csv",
            o.diverged,
            o.failed
        );
    }
    sayln!("wrote {}", dir.display());
    Ok(())
}

/// On Ctrl-C (SIGINT), says how to finish the sweep and exits with
/// [`crate::exit::INTERRUPTED`]. Every point finished so far is whole on disk (see
/// [`apcsim::study::sweep::exec`]), and `--resume` drops what a point being written left.
fn interrupt_hint(dir: &Path) -> Result<(), Failure> {
    let hint = format!(
        "interrupted: rerun the same command with --resume to finish {}",
        dir.display()
    );
    ctrlc::set_handler(move || {
        use std::io::Write;
        // On a new line: a progress bar may be drawn on the current one.
        let _ = writeln!(std::io::stderr().lock(), "\n{hint}");
        std::process::exit(crate::exit::INTERRUPTED.into());
    })
    .map_err(|e| {
        Failure::new(
            crate::exit::Kind::Internal,
            format!("cannot handle Ctrl-C: {e}"),
        )
    })
}

/// A progress line on standard error (batch logs); a closed pipe is not an error.
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

pub fn merge(args: MergeArgs) -> Result<(), Failure> {
    sweep::check_out_path(&args.out).map_err(|e| Failure::from(e).option("--out"))?;
    let o = sweep::merge(&args.dirs, &args.out, args.force)?;
    sayln!(
        "merged {} points from {} folders; wrote {}",
        o.points,
        o.folders,
        args.out.display()
    );
    Ok(())
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
