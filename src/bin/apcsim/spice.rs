//! `apcsim export-spice` and `apcsim spice-check`: their arguments and how they run.

use crate::args::{output_file, Overrides, Real};
use crate::exit::Failure;
use apcsim::config::{self, LoadOptions};
use apcsim::io::outdir;
use apcsim::numeric::stats::median;
use apcsim::spice::{
    check::{ReferenceKind, DEFAULT_TIMEOUT_SECONDS},
    spice_check, write_netlist, CheckOptions, CheckReport, NetlistOptions, SpiceDesign,
    DEFAULT_MAX_DEVICES,
};
use std::path::PathBuf;
use std::time::Duration;

/// What `spice-check` writes into its --keep folder (what `--force` replaces): the netlist and
/// ngspice's data files.
const KEPT: &[&str] = &["apcsim.cir", "apcsim_spice.*.txt"];

/// What both commands share: the design, its overrides, the sample and the output grid.
#[derive(clap::Args, Debug)]
#[command(mut_arg("set", |a| a.help(
    "Override a key, e.g. --set dynamics.tau_e=0 (repeatable, applied in order)"
)))]
pub struct DesignArgs {
    /// The circuit description (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub overrides: Overrides,
    /// The batch sample the netlist holds (one sample per netlist).
    #[arg(long, default_value_t = 0)]
    pub sample: usize,
    /// The `.tran` step (and ngspice's largest step) is dynamics.t_max over this many points.
    #[arg(long, default_value_t = NetlistOptions::default().points)]
    pub points: usize,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub design: DesignArgs,
    /// Where to write the netlist.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub design: DesignArgs,
    /// Refuse designs with more crossbar resistors than this — devices, plus two wire segments
    /// per device with IR drop (exit code 2).
    #[arg(long, default_value_t = DEFAULT_MAX_DEVICES)]
    pub max_devices: usize,
    /// Run ngspice and apcsim this many times each and report median wall times (at least 1).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Keep the netlist and ngspice's data files in this directory (created if missing; a path
    /// that exists as a file, or a directory that is not empty, is refused, exit code 2, unless
    /// --force). Without it they go to a temporary directory, $TMPDIR/apcsim-spice-PID-N,
    /// removed when the check ends, on an error or a timeout too; an interrupt (Ctrl-C) or a
    /// kill leaves it behind.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Keep the files in a --keep directory that is not empty: an earlier check's netlist and
    /// data files there (apcsim.cir, apcsim_spice.*.txt) are removed first; other files stay.
    #[arg(long, requires = "keep")]
    pub force: bool,
    /// Kill an ngspice run that takes longer than this many seconds and exit with code 4
    /// (`inf`: no limit).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = Real(DEFAULT_TIMEOUT_SECONDS),
        allow_negative_numbers = true
    )]
    pub timeout: Real,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// ngspice's RELTOL (default: the netlist's documented tolerances).
    #[arg(long)]
    pub reltol: Option<f64>,
    /// apcsim's side: the analog circuit of `apcsim run` (every term of the circuit model, the
    /// design's scheme and dt), or the gradient flow (Dop853; tau_e = 0 without offsets, the
    /// equilibrium only for tau_e > 0).
    #[arg(long, value_enum, default_value_t = ReferenceArg::Analog)]
    pub reference: ReferenceArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReferenceArg {
    Analog,
    Flow,
}

/// The design with `extra` overrides applied after the command line's.
fn load(args: &DesignArgs, extra: &[&str]) -> Result<SpiceDesign, Failure> {
    if args.points == 0 {
        return Err(Failure::input("--points must be at least 1"));
    }
    let mut set = args.overrides.set.clone();
    set.extend(extra.iter().map(|s| s.to_string()));
    let circuit = config::load(&args.file, &set, &LoadOptions::default())?;
    let built = apcsim::design::build::build(&circuit)
        .map_err(|e| Failure::from(e).context(args.file.display()))?;
    Ok(SpiceDesign::new(&circuit, &built, args.sample)?)
}

fn netlist_options(args: &DesignArgs) -> NetlistOptions {
    NetlistOptions {
        points: args.points,
        ..NetlistOptions::default()
    }
}

/// `apcsim export-spice`.
pub fn export(args: ExportArgs) -> Result<(), Failure> {
    let design = load(&args.design, &[])?;
    let netlist = write_netlist(&design, &netlist_options(&args.design));
    output_file("--out", &args.out)?;
    // A temporary name, then a rename: a failed export leaves any previous file whole.
    apcsim::io::write_atomic(&args.out, netlist.text.as_bytes())
        .map_err(|e| Failure::io(format!("cannot write {}: {e}", args.out.display())))?;
    sayln!(
        "wrote {}: {} crossbar devices ({} resistors), {} wire segments; ngspice -b {} writes {}",
        args.out.display(),
        design.devices(),
        netlist.device_resistors,
        netlist.wire_resistors,
        args.out.display(),
        netlist
            .data_files
            .iter()
            .map(|d| d.file.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

impl CheckArgs {
    /// The library's options, every value checked (the netlist's tolerances from `netlist`).
    fn options(&self) -> Result<CheckOptions, Failure> {
        if self.repeat == 0 {
            return Err(Failure::input(
                "--repeat must be at least 1: the check runs ngspice and apcsim that many times",
            ));
        }
        let t = self.timeout.0;
        let timeout = if t == f64::INFINITY {
            None
        } else if t.is_finite() && t > 0.0 {
            // Beyond what a Duration holds (about 5.8e11 years) is no limit, like `inf`.
            Duration::try_from_secs_f64(t).ok()
        } else {
            return Err(Failure::input(format!(
                "--timeout must be a positive number of seconds (or inf), got {t}"
            )));
        };
        let mut netlist = netlist_options(&self.design);
        if let Some(r) = self.reltol {
            if !(r.is_finite() && r > 0.0 && r < 1.0) {
                return Err(Failure::input(format!(
                    "--reltol must be in (0, 1), got {r}"
                )));
            }
            netlist.tolerances.reltol = r;
        }
        Ok(CheckOptions {
            netlist,
            max_devices: self.max_devices,
            repeat: self.repeat,
            work_dir: self.keep.clone(),
            timeout,
            reference: match self.reference {
                ReferenceArg::Analog => ReferenceKind::Analog,
                ReferenceArg::Flow => ReferenceKind::Flow,
            },
            ..CheckOptions::default()
        })
    }
}

/// `apcsim spice-check`.
pub fn check(args: CheckArgs) -> Result<(), Failure> {
    let opts = args.options()?;
    let design = load(&args.design, &[])?;
    // The same design with ideal wires, to measure how much the IR drop moves the equilibrium.
    let ideal_wires = if design.wire_resistance_ohms > 0.0 {
        Some(load(&args.design, &["crossbar.wire_resistance=0"])?)
    } else {
        None
    };
    // Claimed only once everything else is known to be usable.
    let _kept = match &args.keep {
        Some(dir) => Some(
            outdir::claim_fresh(dir, KEPT, args.force)
                .map_err(|e| Failure::from(e).option("--keep"))?,
        ),
        None => None,
    };
    let report = spice_check(&design, ideal_wires.as_ref(), &opts).map_err(|e| match e {
        apcsim::spice::SpiceError::NoNgspice => Failure::from(e),
        e => Failure::from(e).context(args.design.file.display()),
    })?;
    if args.json {
        sayln!("{}", json_report(&report, &opts)?);
    } else {
        say!("{}", report.text());
    }
    Ok(())
}

/// The report as JSON, with the tolerances and the derived figures.
fn json_report(report: &CheckReport, opts: &CheckOptions) -> Result<String, Failure> {
    let mut v = serde_json::to_value(report)?;
    let t = &opts.netlist.tolerances;
    v["speedup"] = serde_json::json!(report.speedup());
    v["tolerances"] = serde_json::json!({
        "reltol": t.reltol,
        "abstol": t.abstol,
        "vntol": t.vntol,
        "chgtol": t.chgtol,
        "trtol": t.trtol,
        "method": t.method,
        "points": opts.netlist.points,
    });
    v["median_wall_ngspice_seconds"] = serde_json::json!(median(&report.wall_ngspice_seconds));
    v["median_wall_apcsim_seconds"] = serde_json::json!(median(&report.wall_apcsim_seconds));
    v["max_trajectory_rel"] = serde_json::json!(report.max_trajectory_rel());
    v["max_equilibrium_rel"] = serde_json::json!(report.max_equilibrium_rel());
    v["settling_rel"] = serde_json::json!(report.settling_rel());
    Ok(serde_json::to_string_pretty(&v)?)
}
