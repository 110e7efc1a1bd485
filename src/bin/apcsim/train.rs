//! `apcsim train`: the design's network trained on optdigits (or an HDF5 file's batch) by PC
//! and BP on the design's hardware and by digital PC and digital BP, from the same weights on
//! the same mini-batches, with the test
//! accuracy and loss after every epoch; writes DIR/train.h5 and DIR/report.json.

use crate::args::{OutputFolder, Overrides};
use crate::exit::{Classify, Failure, Kind};
use crate::progress::Progress;
use apcsim::config::Circuit;
use apcsim::config::{self, LoadOptions};
use apcsim::io::outdir;
use apcsim::study::train::checkpoint::{self, CHECKPOINT_FILE};
use apcsim::study::train::cost_report;
use apcsim::study::train::html::TrainReport;
use apcsim::study::train::plan::{self, PlanError};
use apcsim::study::train::{
    outcome, train_from, Learner, Schedule, StepError, Stopped, TrainRecord,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `apcsim train` writes into its folder (what `--force` replaces).
const OUTPUTS: &[&str] = &[
    "train.h5",
    "report.json",
    "report.html",
    CHECKPOINT_FILE,
    apcsim::report::MANIFEST,
];

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("set", |a| a.help(
        "Override a key, e.g. --set train.epochs=5 (repeatable, applied in order)"
    )),
    mut_arg("out", |a| a.help(
        "Output folder (default: a new folder runs/train-<design>-<UTC timestamp>/). It is \
         created if missing; one that is not empty is refused (exit code 2) unless --force"
    )),
    mut_arg("force", |a| a.help(
        "Write into an --out folder that is not empty: train.h5, report.json, report.html and \
         checkpoint.h5 there are replaced; other files stay"
    ))
)]
pub struct TrainArgs {
    /// The circuit description (TOML) whose [train] section sets the schedule.
    file: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    folder: OutputFolder,
    /// Go on from the checkpoint in the --out folder (checkpoint.h5) to the results an
    /// uninterrupted run gives; a design that differs from the checkpoint's is refused.
    #[arg(long, requires = "out", conflicts_with = "force")]
    resume: bool,
}

impl Classify for PlanError {
    fn kind(&self) -> Kind {
        match self {
            PlanError::File(_) | PlanError::Data(_) | PlanError::Design { .. } => Kind::Input,
            PlanError::Network(e) => e.kind(),
        }
    }
}

pub fn train(args: TrainArgs) -> Result<(), Failure> {
    let circuit = config::load(&args.file, &args.overrides.set, &LoadOptions::default())?;
    let (net, data) =
        plan::prepare(&circuit).map_err(|e| Failure::from(e).context(args.file.display()))?;
    let folder = claim_folder(&args)?;
    let dir = folder.path();
    let schedule = plan::schedule(&circuit);
    let mut learners = plan::learners(&circuit, &net)
        .map_err(|e| Failure::from(e).context(args.file.display()))?;
    // The conductances as programmed (a resumed run's learners are rebuilt before restoring).
    let before: Conductances = learners.iter().map(|l| l.conductances()).collect();
    let design = checkpoint::design_text(&circuit);
    let ckpt_path = dir.join(CHECKPOINT_FILE);
    let (start, seconds_before) = if args.resume {
        resumed(&ckpt_path, &design, &mut learners)?
    } else {
        (TrainRecord::start(&learners, &data), 0.0)
    };
    let total = schedule.steps_per_epoch(data.train.size()) * schedule.epochs;
    let every = circuit.train.checkpoint_every;
    let progress = Progress::new("train");
    let t0 = Instant::now();
    let mut after_step = |rec: &TrainRecord, learners: &[Box<dyn Learner>]| -> Result<(), String> {
        let done = rec.completed_steps();
        progress.update(
            done as f64 / total as f64,
            &format!("step {done}/{total}"),
            false,
        );
        if done == total || (every > 0 && done.is_multiple_of(every)) {
            let seconds = seconds_before + t0.elapsed().as_secs_f64();
            checkpoint::write(&ckpt_path, &design, rec, learners, seconds)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let result = train_from(&mut learners, &data, &schedule, start, &mut after_step);
    let seconds = seconds_before + t0.elapsed().as_secs_f64();
    let (rec, diverged) = match result.map_err(|s| *s) {
        Ok(rec) => {
            progress.finish("trained");
            (rec, None)
        }
        Err(Stopped::Diverged {
            record,
            learner,
            error,
        }) => {
            progress.abandon();
            (record, Some((learner, error)))
        }
        Err(Stopped::Halted { message, .. }) => {
            progress.abandon();
            return Err(Failure::io(message));
        }
    };
    let diverged_ref = diverged.as_ref().map(|(l, e)| (*l, e));
    let summary = write_outputs(
        &circuit,
        (&rec, &learners, before),
        (data.train.size(), &schedule),
        (seconds, diverged_ref),
        dir,
    )?;
    if let Some((learner, e)) = diverged {
        let message = outcome::divergence_message(learner, &e);
        return Err(Failure::new(Failure::from(e).kind, message).context(args.file.display()));
    }
    say!("{summary}");
    sayln!(
        "trained in {seconds:.1} s; wrote {} with report.json and report.html",
        folder.path().join("train.h5").display()
    );
    Ok(())
}

/// Each learner's conductances (`None`: a digital learner).
type Conductances = Vec<Option<Vec<f64>>>;

/// Writes train.h5, report.json and report.html (with its figures) into `dir`, each whole and
/// marked when a step diverged; returns the terminal's summary. `before`: each learner's
/// conductances before training.
fn write_outputs(
    circuit: &Circuit,
    (rec, learners, before): (&TrainRecord, &[Box<dyn Learner>], Conductances),
    (n, schedule): (usize, &Schedule),
    (seconds, diverged): (f64, Option<(&str, &StepError)>),
    dir: &Path,
) -> Result<String, Failure> {
    let steps = rec.steps.first().map_or(0, |s| s.len());
    let sizes = cost_report::batch_sizes(n, schedule, steps);
    let costs = cost_report::Costs::of(rec, circuit, &sizes);
    let mut h5 = plan::train_h5(rec, learners);
    costs.write_h5(&mut h5);
    let mut json = plan::report_json(circuit, rec, learners, seconds);
    if let Some(o) = json.as_object_mut() {
        o.extend(costs.json());
    }
    outcome::mark(&mut h5, &mut json, rec, diverged);
    h5.write(&dir.join("train.h5")).map_err(Failure::io)?;
    let text = serde_json::to_string_pretty(&json).map_err(Failure::io)?;
    apcsim::io::write_atomic(&dir.join("report.json"), text.as_bytes())
        .map_err(|e| Failure::io(format!("{}: {e}", dir.join("report.json").display())))?;
    let summary = format!("{}{}", epochs_table(rec), costs.summary());
    let conductances = learners
        .iter()
        .zip(before)
        .filter_map(|(l, b)| Some((l.name(), b?, l.conductances()?)))
        .collect();
    let html = TrainReport {
        design: &circuit.name,
        rec,
        costs: &costs,
        conductances,
        summary: summary.clone(),
    };
    html.write(dir)
        .map_err(|e| Failure::io(format!("{}: {}", e.path.display(), e.source)))?;
    Ok(summary)
}

/// The folder the run writes: `--out` (claimed as it is with `--resume`, else empty or with
/// `--force`), or a new one under runs/.
fn claim_folder(args: &TrainArgs) -> Result<outdir::OutDir, Failure> {
    match &args.folder.out {
        Some(dir) if args.resume => {
            outdir::claim(dir, OUTPUTS).map_err(|e| Failure::from(e).option("--out"))
        }
        _ => {
            let stem = args
                .file
                .file_stem()
                .map_or("design".into(), |s| s.to_string_lossy().into_owned());
            args.folder.claim("runs", &format!("train-{stem}"), OUTPUTS)
        }
    }
}

/// The learners restored from the checkpoint at `path`, the record to go on from and the
/// seconds already spent; a missing or damaged checkpoint, or one of another design, refused.
fn resumed(
    path: &Path,
    design: &str,
    learners: &mut [Box<dyn Learner>],
) -> Result<(TrainRecord, f64), Failure> {
    let at = |m: String| Failure::input(format!("{}: {m}", path.display()));
    if !path.is_file() {
        return Err(at("no checkpoint to resume from".into()));
    }
    let ckpt = checkpoint::read(path).map_err(Failure::input)?;
    checkpoint::check_design(&ckpt.design, design).map_err(at)?;
    let seconds = ckpt.seconds;
    let rec = checkpoint::restore(ckpt, learners).map_err(at)?;
    Ok((rec, seconds))
}

/// Test accuracy and loss of every rule, one line per epoch.
fn epochs_table(rec: &TrainRecord) -> String {
    let mut head = format!("{:>5}", "epoch");
    for n in &rec.names {
        head += &format!(" {:>14} {:>10}", format!("{n} acc"), "loss");
    }
    let mut out = format!("{head}\n");
    for e in 0..rec.epochs[0].len() {
        let mut line = format!("{e:>5}");
        for k in 0..rec.names.len() {
            let r = rec.epochs[k][e];
            line += &format!(" {:>13.2}% {:>10.4}", 100.0 * r.test_accuracy, r.test_loss);
        }
        out += &format!("{line}\n");
    }
    out
}
