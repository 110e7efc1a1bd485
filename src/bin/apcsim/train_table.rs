//! `apcsim train-table`: runs of `apcsim train` side by side, from their report.json: a
//! markdown table of final test accuracies and costs per step (printed, and written as
//! DIR/train_table.md) and the test-accuracy learning curves, a panel per device
//! (DIR/test_accuracy.svg).

use crate::args::OutputFolder;
use crate::exit::{Classify, Failure, Kind};
use apcsim::study::train::table::{self, TableError};
use std::path::PathBuf;

/// The table's file.
const TABLE_FILE: &str = "train_table.md";
/// The figure's file.
const FIGURE_FILE: &str = "test_accuracy.svg";
/// What `apcsim train-table` writes into its folder (what `--force` replaces).
const OUTPUTS: &[&str] = &[TABLE_FILE, FIGURE_FILE];

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("out", |a| a.help(
        "Output folder (default: a new folder runs/train-table-<UTC timestamp>/). It is \
         created if missing; one that is not empty is refused (exit code 2) unless --force"
    )),
    mut_arg("force", |a| a.help(
        "Write into an --out folder that is not empty: train_table.md and test_accuracy.svg \
         there are replaced; other files stay"
    ))
)]
pub struct TrainTableArgs {
    /// Output folders of `apcsim train` (or their report.json files): a row each, in order.
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<PathBuf>,
    #[command(flatten)]
    folder: OutputFolder,
}

impl Classify for TableError {
    fn kind(&self) -> Kind {
        match self {
            TableError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                Kind::Io
            }
            _ => Kind::Input,
        }
    }
}

pub fn train_table(args: TrainTableArgs) -> Result<(), Failure> {
    let runs = args
        .runs
        .iter()
        .map(|p| table::read_run(p))
        .collect::<Result<Vec<_>, _>>()?;
    let svg = table::learning_curves(&runs).map_err(Failure::io)?;
    let text = table::markdown(&runs);
    let folder = args.folder.claim("runs", "train-table", OUTPUTS)?;
    for (file, bytes) in [(TABLE_FILE, text.as_bytes()), (FIGURE_FILE, svg.as_bytes())] {
        let path = folder.path().join(file);
        apcsim::io::write_atomic(&path, bytes)
            .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
    }
    say!("{text}");
    sayln!(
        "wrote {} and {}",
        folder.path().join(TABLE_FILE).display(),
        folder.path().join(FIGURE_FILE).display()
    );
    Ok(())
}
