//! `apcsim study …`: the command-line face of [`apcsim::study::width_depth`]. Parses and checks
//! the arguments into a [`StudyPlan`], runs it under a progress bar, writes the CSV files, the
//! SVG figures and report.html, and prints the summary tables. Exit codes as `main.rs` says: 2 for unusable arguments (before any
//! point runs), 3 for a run that diverged, 1 for I/O and internal failures.

use apcsim::network::{Activation, Parameterisation};
use apcsim::study::width_depth::{self, DeviceSetup, StudyPlan, DEFAULT_STEPS};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// The width x depth study of Innocenti et al. 2026 (Figure 1): cosine similarity between
    /// PC gradients at the exact equilibrium and BP gradients, at initialisation and along
    /// Adam training, for every width x depth x seed; writes DIR/study.csv, DIR/summary.csv,
    /// SVG figures and DIR/report.html, and prints mean ± std heatmaps.
    WidthDepth(WidthDepthArgs),
}

#[derive(clap::Args, Debug)]
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
    /// Output folder.
    #[arg(long, default_value = "width-depth")]
    out: PathBuf,
}

impl WidthDepthArgs {
    /// The plan these arguments describe (the device resolved, nothing checked yet).
    fn plan(&self) -> Result<StudyPlan, String> {
        let device = match &self.device {
            None => None,
            Some(spec) => Some(DeviceSetup::load(spec).map_err(|e| {
                // A preset name is read as the one-line text `--device`, which the error
                // already names; a design file's error names the file.
                let e = e.to_string();
                if e.starts_with("--device") {
                    e
                } else {
                    format!("--device: {e}")
                }
            })?),
        };
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

pub fn run(cmd: StudyCommand) -> ExitCode {
    match cmd {
        StudyCommand::WidthDepth(args) => width_depth_cmd(&args),
    }
}

fn width_depth_cmd(args: &WidthDepthArgs) -> ExitCode {
    let plan = match args.plan().and_then(|p| {
        p.validate().map_err(|e| e.to_string())?;
        Ok(p)
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
    let results = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            let code = if e.is_plan() {
                2
            } else if e.is_numerical() {
                3
            } else {
                1
            };
            return ExitCode::from(code);
        }
    };
    if let Err(e) = results.write(&args.out) {
        eprintln!("error: writing {}: {e}", args.out.display());
        return ExitCode::from(1);
    }
    let text = format!(
        "{}\n{} points in {:.1} s; wrote study.csv, summary.csv, the SVG figures and {}\n",
        results.report(),
        n_points,
        t0.elapsed().as_secs_f64(),
        args.out.join("report.html").display()
    );
    super::write_stdout(&text)
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
        assert!(e.starts_with("--device:"), "{e}");
    }
}
