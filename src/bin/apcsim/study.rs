//! `apcsim study …`: the command-line face of [`apcsim::study::width_depth`]. Parses and checks
//! the arguments into a [`StudyPlan`] (unusable ones are refused before any point runs), runs it
//! under a progress bar, writes the CSV files, the SVG figures and report.html, and prints the
//! summary tables.

use crate::args::OutputFolder;
use crate::exit::Failure;
use apcsim::config::Origin;
use apcsim::hardware::drift_compensation::DriftCompensation;
use apcsim::network::{Activation, Parameterisation};
use apcsim::study::width_depth::{self, DeviceSetup, StudyPlan, DEFAULT_STEPS};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// What `study width-depth` writes into its folder (what `--force` replaces).
const OUTPUTS: &[&str] = &[
    "study.csv",
    "summary.csv",
    "report.html",
    apcsim::report::MANIFEST,
    "*.svg",
];

#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// The width x depth study of Innocenti et al. 2026 (Figure 1): cosine similarity between
    /// PC gradients at the exact equilibrium and BP gradients, at initialisation and along
    /// Adam training, for every width x depth x seed; writes DIR/study.csv, DIR/summary.csv,
    /// SVG figures and DIR/report.html, and prints mean ± std heatmaps.
    WidthDepth(WidthDepthArgs),
}

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("out", |a| a.help(
        "Output folder (default: a new folder studies/width-depth-<UTC timestamp>/). It is \
         created if missing; one that is not empty is refused (exit code 2) unless --force"
    )),
    mut_arg("force", |a| a.help(
        "Write into an --out folder that is not empty: apcsim's outputs there from an earlier \
         study (study.csv, summary.csv, report.html, *.svg) are removed first; other files \
         stay"
    ))
)]
pub struct WidthDepthArgs {
    /// Parameterisation: mupc, sp or ntp.
    #[arg(long, default_value = "mupc")]
    param: Parameterisation,
    /// Residual connections on layers 2..L-1.
    #[arg(long)]
    skips: bool,
    /// Activation of the hidden layers (linear, tanh, sigmoid, relu, hard_tanh, silu); the
    /// nonlinear ones find the equilibrium with Dop853, which is much slower.
    #[arg(long, default_value = "linear")]
    activation: Activation,
    /// Hidden widths N.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256,1024")]
    widths: Vec<usize>,
    /// Depths L (weight layers, at least 2).
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16")]
    depths: Vec<usize>,
    /// Seeds per (N, L).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Adam steps after initialisation (rows for steps 0..=T).
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    steps: usize,
    /// Adam's base learning rate (divided by sqrt(N), or sqrt(N L) with skips, except under sp).
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    lr: f64,
    /// Output scaling gamma0 (divides a_L).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    gamma0: f64,
    /// A device preset name (ideal, rram_hfo2, pcm, pcm_hermes, ecram), a preset file, or a
    /// design file whose [device], [crossbar] and [periphery] are used.
    #[arg(long, value_name = "FILE_OR_PRESET")]
    device: Option<String>,
    /// Drift compensation after every mapping on the device: none or global (a gain per
    /// array calibrated at read time, as aihwkit's GlobalDriftCompensation); default: what
    /// the --device design says (none for a preset).
    #[arg(long, requires = "device", value_name = "MODE",
          value_parser = clap::builder::PossibleValuesParser::new(DriftCompensation::NAMES))]
    drift_compensation: Option<String>,
    /// Samples B of the batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Input width D.
    #[arg(long, default_value_t = 64)]
    input: usize,
    /// Output width O.
    #[arg(long, default_value_t = 10)]
    output: usize,
    /// Base seed of every point's derived seeds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    folder: OutputFolder,
}

impl WidthDepthArgs {
    /// The plan these arguments describe (the device resolved, nothing checked yet).
    fn plan(&self) -> Result<StudyPlan, Failure> {
        let device = match &self.device {
            None => None,
            Some(spec) => Some(DeviceSetup::load(spec).map_err(|e| {
                // A preset name is read as the one-line text `--device`, which the error
                // already names (its origin); a design file's error names the file.
                let named = matches!(&e.location.origin, Origin::File(f) | Origin::Default { file: f } if f == "--device");
                let f = Failure::from(e);
                if named {
                    f
                } else {
                    f.context("--device")
                }
            })?),
        };
        let device = device.map(|mut d| {
            if let Some(mode) = self
                .drift_compensation
                .as_deref()
                .and_then(DriftCompensation::from_name)
            {
                d.compensation.mode = mode;
            }
            d
        });
        Ok(StudyPlan {
            parameterisation: self.param,
            skips: self.skips,
            activation: self.activation,
            widths: self.widths.clone(),
            depths: self.depths.clone(),
            seeds: self.seeds,
            steps: self.steps,
            lr: self.lr,
            gamma0: self.gamma0,
            input: self.input,
            output: self.output,
            batch: self.batch,
            base_seed: self.seed,
            device,
            ..StudyPlan::default()
        })
    }
}

pub fn run(cmd: StudyCommand) -> Result<(), Failure> {
    match cmd {
        StudyCommand::WidthDepth(args) => width_depth_cmd(&args),
    }
}

fn width_depth_cmd(args: &WidthDepthArgs) -> Result<(), Failure> {
    let plan = args.plan()?;
    plan.validate()?;
    let folder = args.folder.claim("studies", "width-depth", OUTPUTS)?;
    let n_points = plan.points().len() as u64;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(n_points), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} points  {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style);
    }
    let t0 = Instant::now();
    let result = width_depth::run(&plan, &|_| bar.inc(1));
    bar.finish_and_clear();
    let results = result?;
    let dir = folder.path();
    results
        .write(dir)
        .map_err(|e| Failure::io(format!("writing {}: {e}", dir.display())))?;
    say!(
        "{}\n{} points in {:.1} s; wrote study.csv, summary.csv, the SVG figures and {}\n",
        results.report(),
        n_points,
        t0.elapsed().as_secs_f64(),
        dir.join("report.html").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Top {
        #[command(subcommand)]
        cmd: StudyCommand,
    }

    fn parse(args: &[&str]) -> Result<WidthDepthArgs, clap::Error> {
        let mut full = vec!["study", "width-depth"];
        full.extend_from_slice(args);
        Top::try_parse_from(full).map(|t| match t.cmd {
            StudyCommand::WidthDepth(a) => a,
        })
    }

    #[test]
    fn defaults_are_the_papers_grid() {
        let p = parse(&[]).unwrap().plan().unwrap();
        assert_eq!(p, StudyPlan::default());
    }

    #[test]
    fn lists_and_names_parse() {
        let a = parse(&[
            "--param",
            "sp",
            "--skips",
            "--activation",
            "tanh",
            "--widths",
            "8,32",
            "--depths",
            "3",
            "--device",
            "rram_hfo2",
        ])
        .unwrap();
        let p = a.plan().unwrap();
        assert_eq!(p.parameterisation, Parameterisation::Sp);
        assert!(p.skips);
        assert_eq!(p.activation, Activation::Tanh);
        assert_eq!(p.widths, vec![8, 32]);
        assert_eq!(p.depths, vec![3]);
        assert_eq!(p.device.unwrap().device.levels, Some(16));
    }

    #[test]
    fn bad_values_are_rejected_with_their_name() {
        for bad in [
            &["--param", "mup2"][..],
            &["--widths", "16,x"],
            &["--activation", "tanhh"],
            &["--seeds", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let e = parse(&["--device", "rram"]).unwrap().plan().unwrap_err();
        assert!(e.message.starts_with("--device:"), "{}", e.message);
    }
}
