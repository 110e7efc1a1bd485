//! `apcsim train`: the design's network trained on optdigits (or an HDF5 file's batch) by PC
//! and BP on the design's hardware and by digital PC and digital BP, from the same weights on
//! the same mini-batches, with the test
//! accuracy and loss after every epoch; writes DIR/train.h5 and DIR/report.json.

use crate::args::{OutputFolder, Overrides};
use crate::exit::{Classify, Failure, Kind};
use crate::progress::Progress;
use apcsim::config::{self, LoadOptions};
use apcsim::study::train::plan::{self, PlanError};
use apcsim::study::train::{train as run_training, TrainRecord};
use std::path::PathBuf;
use std::time::Instant;

/// What `apcsim train` writes into its folder (what `--force` replaces).
const OUTPUTS: &[&str] = &["train.h5", "report.json"];

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
        "Write into an --out folder that is not empty: train.h5 and report.json there are \
         replaced; other files stay"
    ))
)]
pub struct TrainArgs {
    /// The circuit description (TOML) whose [train] section sets the schedule.
    file: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    folder: OutputFolder,
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
    let stem = args
        .file
        .file_stem()
        .map_or("design".into(), |s| s.to_string_lossy().into_owned());
    let folder = args
        .folder
        .claim("runs", &format!("train-{stem}"), OUTPUTS)?;
    let schedule = plan::schedule(&circuit);
    let mut learners = plan::learners(&circuit, &net)
        .map_err(|e| Failure::from(e).context(args.file.display()))?;
    let progress = Progress::new("train");
    let t0 = Instant::now();
    let rec = run_training(&mut learners, &data, &schedule, &mut |step, total| {
        progress.update(
            step as f64 / total as f64,
            &format!("step {step}/{total}"),
            false,
        )
    });
    let rec = match rec {
        Ok(r) => r,
        Err(e) => {
            progress.abandon();
            return Err(Failure::from(e).context(args.file.display()));
        }
    };
    progress.finish("trained");
    let seconds = t0.elapsed().as_secs_f64();
    let dir = folder.path();
    plan::train_h5(&rec, &learners)
        .write(&dir.join("train.h5"))
        .map_err(Failure::io)?;
    let json = plan::report_json(&circuit, &rec, &learners, seconds);
    let text = serde_json::to_string_pretty(&json).map_err(Failure::io)?;
    apcsim::io::write_atomic(&dir.join("report.json"), text.as_bytes())
        .map_err(|e| Failure::io(format!("{}: {e}", dir.join("report.json").display())))?;
    print_epochs(&rec);
    sayln!(
        "trained in {seconds:.1} s; wrote {} and report.json",
        dir.join("train.h5").display()
    );
    Ok(())
}

/// Test accuracy and loss of every rule, one line per epoch.
fn print_epochs(rec: &TrainRecord) {
    let mut head = format!("{:>5}", "epoch");
    for n in &rec.names {
        head += &format!(" {:>14} {:>10}", format!("{n} acc"), "loss");
    }
    sayln!("{head}");
    for e in 0..rec.epochs[0].len() {
        let mut line = format!("{e:>5}");
        for k in 0..rec.names.len() {
            let r = rec.epochs[k][e];
            line += &format!(" {:>13.2}% {:>10.4}", 100.0 * r.test_accuracy, r.test_loss);
        }
        sayln!("{line}");
    }
}
